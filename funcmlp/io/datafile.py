"""Your own data: read a CSV or ``.npz`` file, standardise it, split it into train / validation / test.

A CSV holds one sample per line: the feature columns x_1 .. x_d, then the label column. A header row is
allowed (it is recognised by a field that is not a number) and gives the feature names. Labels may be
integers or words ("setosa"); either way they become class indices 0 .. K-1 in sorted order, and the
original labels are kept in ``classes`` so predictions can be reported in the file's own terms.

Points to predict (``read_features``, ``funcmlp predict``) are matched to a trained model's features by the
header row's names, in any order, with at most one other column (the label, wherever it stands); a file
without a header row is read by position.

An ``.npz`` file holds an array ``x`` (n, d) and an array ``y`` (n,).

Standardisation uses the training split's statistics only,  x' = (x - mu) / sigma,  with sigma = 1 for a
constant column, so no information leaks from the validation or test points.

Real-valued targets (regression) are read by ``load_targets``, which keeps the label column as numbers (n, 1)
float32; ``continuous_labels`` says when labels read as classes look like such numbers.

Reading a table into a ``Dataset`` is ``tables``'s, real-valued targets ``targets``'s, matching points to
predict to a model's features ``features``'s, and splitting and standardising ``splits``'s; this module
offers all of their names.
"""

from funcmlp.io.features import Features, load_features, read_features
from funcmlp.io.splits import Prepared, Split, Standardizer, prepare, split, standardizer
from funcmlp.io.tables import Dataset, check_path, load, parse_label, read_table
from funcmlp.io.targets import continuous_labels, load_targets

__all__ = [
    "Dataset",
    "Features",
    "Prepared",
    "Split",
    "Standardizer",
    "check_path",
    "continuous_labels",
    "load",
    "load_features",
    "load_targets",
    "parse_label",
    "prepare",
    "read_features",
    "read_table",
    "split",
    "standardizer",
]
