"""Your own data: read a CSV, Parquet or ``.npz`` file, preprocess it, split it into train / validation /
test.

A table holds one sample per row: the feature columns, then the label column. A CSV is read by pandas:
quoted fields, a comma, semicolon, tab or pipe separator, UTF-8 or Latin-1 text; a header row is allowed
(it is recognised by a field that is not a number above numbers) and gives the column names. Labels may be
integers or words ("setosa"); either way they become class indices 0 .. K-1 in sorted order, and the
original labels are kept in ``classes`` so predictions can be reported in the file's own terms. A row
without a label is dropped and counted.

Feature columns of numbers are read as numbers, columns of text are one-hot encoded; a gap (an empty cell,
or NA) in a number column is filled with the training rows' median and marked in a missing-indicator
column (``missing="drop"`` drops such rows instead); ``drop=`` leaves columns out (an identifier column is
refused until it is dropped). All of it is learned on the training rows only (``preprocess``) and kept
with a saved model, so points to predict (``read_points``, ``funcmlp predict``) are read in the file's own
form, their columns matched by name in any order.

An ``.npz`` file holds an array ``x`` (n, d) and an array ``y`` (n,).

Standardisation uses the training split's statistics only,  x' = (x - mu) / sigma,  with sigma = 1 for a
constant column, so no information leaks from the validation or test points.

Real-valued targets (regression) are read by ``load_targets``, which keeps the label column as numbers (n, 1)
float32; ``continuous_labels`` says when labels read as classes look like such numbers.

Reading a file is ``tables``'s, its cells ``cells``'s, its label column ``labels``'s, real-valued targets
``targets``'s, the preprocessing ``preprocess``'s, points to predict ``features``'s, and splitting and
standardising ``splits``'s; this module offers all of their names.
"""

from funcmlp.io.describe import describe, reworks, summary
from funcmlp.io.features import Features, Points, load_features, read_features, read_points
from funcmlp.io.labels import load
from funcmlp.io.preprocess import Preprocessing, encode, fit, transform
from funcmlp.io.splits import Prepared, Split, Standardizer, prepare, split, standardizer
from funcmlp.io.tables import Dataset, check_path, parse_label, read_frame
from funcmlp.io.targets import continuous_labels, load_targets

__all__ = [
    "Dataset",
    "Features",
    "Points",
    "Prepared",
    "Preprocessing",
    "Split",
    "Standardizer",
    "check_path",
    "continuous_labels",
    "describe",
    "encode",
    "fit",
    "load",
    "load_features",
    "load_targets",
    "parse_label",
    "prepare",
    "read_features",
    "read_frame",
    "read_points",
    "reworks",
    "split",
    "standardizer",
    "summary",
    "transform",
]
