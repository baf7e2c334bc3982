"""Reliability of every public entry point, whatever the input (issue 13).

The promise: a call either returns a finite, sane result (NaN only where documented: the losses of a
``TrainResult`` or of a sweep group from ``diverged_at`` on), or raises a ValueError / TypeError from
funcmlp's own code (the last traceback frame, with JAX's traceback filtering off, is in a file under
funcmlp/, not in jax/, numpy/, optax/ or the standard library) whose message starts with the argument's
name: ``<argument>: expected ..., got ...``. On the command line: exit code 2, exactly one stderr line
starting ``funcmlp: error: ``, no traceback, and no run directory left behind.

``assert_clean`` classifies each call as a "finite result", a "clear error" or an "escape" (anything else,
including a non-finite or not sane result, and a silently accepted input that should have been refused); a
valid input refused with a clear error is counted apart as "refused". Tests that found an escape stay,
marked ``xfail(strict=True, reason="escape: ...")``, to be fixed one by one. The module prints a summary of
the outcomes when it finishes (also written to ``<pytest basetemp>/reliability-summary.txt``).

Only the public API is used (``funcmlp.<name>``, ``funcmlp.data``, ``funcmlp.datafile``, ``funcmlp.runs``,
``funcmlp.perceptron``, ``funcmlp.cli.main``, ``python -m funcmlp``), so the tests survive the modules
moving into subpackages.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import re
import subprocess
import sys
import traceback
import zipfile
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import funcmlp
import funcmlp.cli

PACKAGE = Path(funcmlp.__file__).resolve().parent
# "<argument>: ..." where the argument is a name, an option or an item of one: x, params[0]['w'], --data,
# DIR, opt_state_like, and two names for a pair ("val, test: ...").
_NAME = r"(?:--?)?[A-Za-z_][\w-]*(?:\[[^\]]*\])*"
ARGUMENT = re.compile(rf"^{_NAME}(?:, {_NAME})*: \S")

KEY = jax.random.key(0)
X, Y = funcmlp.data.spiral(KEY, 4)  # (12, 2) float32, (12,) int32: one shape for every compiled call
N = X.shape[0]
P = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
P1 = funcmlp.init_params(jax.random.key(1), (2, 4, 1))
SGD = optax.sgd(0.1)
ADAM = optax.adam(0.1)
STEPS = 2
# A factory with traced hyperparameters: every run with it shares one compiled program per step count.
HUGE_LR = {"optimizer": optax.sgd, "hyperparams": {"learning_rate": 1e30}}
HELPERS = ("spiral", "xor", "blobs", "moons", "circles")
SETTINGS = {"deadline": None, "derandomize": True, "database": None}
SETTINGS["suppress_health_check"] = [HealthCheck.too_slow]
FIND = {**SETTINGS, "phases": [Phase.explicit, Phase.generate]}  # escapes: stop at the first, no shrinking


# -- classifying outcomes ---------------------------------------------------------------------------------


class Outcome(NamedTuple):
    kind: str  # "finite" (a finite, sane result), "error" (a clear error) or "escape"
    detail: str
    value: Any = None


COUNTS: collections.Counter[str] = collections.Counter()
ESCAPES: list[str] = []
OUTCOMES: list[str] = []  # every input tried: "<test>: <kind>: <detail>"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _frame(exc: BaseException) -> traceback.FrameSummary:
    return traceback.extract_tb(exc.__traceback__)[-1]


def _in_package(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(PACKAGE)


def _escaped(exc: BaseException) -> str:
    frame = _frame(exc)
    return f"{type(exc).__name__} raised at {frame.filename}:{frame.lineno}: {_short(exc)}"


def _floating(leaf: Any) -> bool:
    return isinstance(leaf, float) or (hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating))


def _leaves(tree: Any, where: str) -> list[str]:
    """The float leaves of ``tree`` that hold NaN or inf, by path."""
    return [
        where + jax.tree_util.keystr(path)
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
        if _floating(leaf) and not np.all(np.isfinite(np.asarray(leaf, np.float64)))
    ]


def _losses(losses: Any, diverged_at: Any, where: str) -> list[str]:
    """Losses must be finite before ``diverged_at``; from it on they may be NaN (documented)."""
    values = np.asarray(losses, np.float64)
    d = np.asarray(diverged_at)[..., None]
    documented = (d >= 0) & (np.arange(values.shape[-1]) >= d)
    return [] if np.all(np.isfinite(values) | documented) else [f"{where} before diverged_at"]


def non_finite(value: Any) -> list[str]:
    """Where a result holds NaN or inf that the documentation does not allow."""
    if isinstance(value, funcmlp.TrainResult):
        return (
            _leaves(value.params, "params")
            + _leaves(value.opt_state, "opt_state")
            + _losses(value.losses, value.diverged_at, "losses")
        )
    if isinstance(value, funcmlp.SweepResult):
        out = []
        for i, g in enumerate(value.groups):
            out += _leaves(g.params, f"groups[{i}].params") + _leaves(g.metrics, f"groups[{i}].metrics")
            out += _losses(g.losses, g.diverged_at, f"groups[{i}].losses")
        return out
    return _leaves(value, "result")


def classify(fn, *, sane=None) -> Outcome:
    """Call ``fn`` and say what came out. ``sane(value)`` returns None or what is wrong with a result."""
    try:
        value = fn()
    except (ValueError, TypeError) as e:
        message = str(e)
        if _in_package(_frame(e).filename) and ARGUMENT.match(message) and "\n" not in message:
            return Outcome("error", f"{type(e).__name__}: {_short(message)}")
        return Outcome("escape", _escaped(e))
    except Exception as e:
        return Outcome("escape", _escaped(e))
    bad = non_finite(value)
    if bad:
        return Outcome("escape", f"non-finite output in {', '.join(bad)}", value)
    problem = sane(value) if sane is not None else None
    if problem:
        return Outcome("escape", f"not sane: {problem}", value)
    return Outcome("finite", type(value).__name__, value)


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]


def record(outcome: Outcome, expect: str) -> Outcome:
    """Count an outcome; ``expect`` "error" turns a result into an escape (an input accepted silently)."""
    if expect == "error" and outcome.kind == "finite":
        outcome = Outcome("escape", f"accepted silently, expected a clear error ({outcome.detail})")
    kind = "refused" if expect == "finite" and outcome.kind == "error" else outcome.kind
    COUNTS[kind] += 1
    OUTCOMES.append(f"{_current_test()}: {kind}: {outcome.detail}")
    if kind == "escape":
        ESCAPES.append(f"{_current_test()}: {outcome.detail}")
    assert outcome.kind != "escape", outcome.detail
    assert kind != "refused", f"a valid input was refused: {outcome.detail}"
    return outcome


def assert_clean(fn, expect: str = "any", sane=None) -> Outcome:
    """``fn()`` gives a finite, sane result or a clear error (``expect``: "any", "finite" or "error")."""
    return record(classify(fn, sane=sane), expect)


def escape(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"escape: {reason}")


def case(test_id: str, call, expect="any", sane=None, *, escapes: str | None = None, refused: str = ""):
    marks = [escape(escapes)] if escapes else []
    if refused:
        marks.append(pytest.mark.xfail(strict=True, reason=f"refused: {refused}"))
    return pytest.param(call, expect, sane, id=test_id, marks=marks)


@pytest.fixture(scope="module", autouse=True)
def _outcome_summary(request, tmp_path_factory):
    """Traceback filtering off (the raising frame is the real one), then a summary of the outcomes."""
    previous = jax.config.jax_traceback_filtering
    jax.config.update("jax_traceback_filtering", "off")
    yield
    jax.config.update("jax_traceback_filtering", previous)
    line = (
        f"reliability: {sum(COUNTS.values())} inputs tried: {COUNTS['error']} clear errors, "
        f"{COUNTS['finite']} finite results, {COUNTS['escape']} escapes "
        f"(in {len({e.split(': ', 1)[0] for e in ESCAPES})} tests), {COUNTS['refused']} valid inputs refused"
    )
    path = tmp_path_factory.getbasetemp() / "reliability-summary.txt"
    path.write_text("\n".join([line, "", "escapes:", *ESCAPES, "", "every input:", *OUTCOMES]) + "\n")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"\n{line} (escapes listed in {path})")


@contextlib.contextmanager
def enabled_x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def float64_enabled():
    """float64 for one test, then the previous setting back."""
    with enabled_x64():
        yield


# -- sanity of results ------------------------------------------------------------------------------------


def cast(params, dtype):
    return jax.tree.map(lambda a: a.astype(dtype), params)


def _dtypes(tree) -> set[str]:
    return {jnp.dtype(leaf.dtype).name for leaf in jax.tree.leaves(tree)}


def _canonical(a) -> str:
    return jnp.dtype(jax.dtypes.canonicalize_dtype(a.dtype)).name


def like_params(params):
    """The result has the layers, shapes and dtypes of ``params`` (gradients, trained parameters)."""
    want = [{k: (np.shape(v), _canonical(v)) for k, v in layer.items()} for layer in params]

    def check(result):
        grads = result.params if isinstance(result, funcmlp.TrainResult) else result
        got = [{k: (np.shape(v), jnp.dtype(v.dtype).name) for k, v in layer.items()} for layer in grads]
        return None if got == want else f"expected layers {want}, got {got}"

    return check


def shaped(*shape):
    def check(result):
        return None if np.shape(result) == shape else f"expected shape {shape}, got {np.shape(result)}"

    return check


def in_dtype(name):
    def check(params):
        return None if _dtypes(params) == {name} else f"expected {name} params, got {sorted(_dtypes(params))}"

    return check


def dataset(n):
    def check(result):
        x, y = result
        if np.shape(x) != (n, 2) or np.shape(y) != (n,):
            return f"expected x ({n}, 2) and y ({n},), got {np.shape(x)} and {np.shape(y)}"
        return None

    return check


def train(params=P, x=X, y=Y, **kw):
    return funcmlp.train(params, x, y, **({"optimizer": SGD, "steps": STEPS} | kw))


def nan_state(optimizer, fill=np.nan):
    state = optimizer.init(P)
    return jax.tree.map(
        lambda a: jnp.full_like(a, fill) if jnp.issubdtype(a.dtype, jnp.floating) else a, state
    )


# -- files every test can read ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    f = SimpleNamespace(root=root, folder=root / "folder", folder_npz=root / "folder.npz")
    f.folder.mkdir()
    f.folder_npz.mkdir()
    buf = io.BytesIO()
    np.savez(buf, x=np.asarray(X), y=np.asarray(Y))
    f.good = root / "good.npz"
    f.good.write_bytes(buf.getvalue())
    f.truncated = root / "truncated.npz"  # a damaged .npz: half a zip file
    f.truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    f.text = root / "text.npz"  # not a zip file at all
    f.text.write_text("not a zip file\n")
    f.nan = root / "nan.npz"
    np.savez(f.nan, x=np.array([[np.nan, 1.0], [0.0, 1.0]]), y=np.array([0, 1]))
    f.objects = root / "objects.npz"
    np.savez(f.objects, x=np.array([[1.0, None], [0.0, 1.0]], dtype=object), y=np.array([0, 1]))
    f.not_arrays = root / "not-arrays.npz"  # a zip whose members are not .npy arrays
    with zipfile.ZipFile(f.not_arrays, "w") as z:
        z.writestr("x.npy", b"junk")
        z.writestr("y.npy", b"junk")
    f.adam = root / "adam.safetensors"
    funcmlp.save_state(f.adam, P, ADAM.init(P), 7)
    f.run = root / "run"  # a trained model that `funcmlp predict` can apply
    f.run.mkdir()
    funcmlp.runs.save_model(f.run, P)
    history = {"step": [0, 1, 2], "train_loss": [1.2, 1.1, 1.0], "train_accuracy": [0.3, 0.4, 0.5]}
    for name, damage in (
        ("cut", lambda text: text[: text.rindex(",")]),
        ("word", lambda t: t + "3,abc,0.5\n"),
    ):
        run = root / f"{name}-run"
        run.mkdir()
        funcmlp.runs.write_json(run / "config.json", {"steps": 2})
        funcmlp.runs.write_history(run / "metrics.csv", history)
        (run / "metrics.csv").write_text(damage((run / "metrics.csv").read_text()))
        setattr(f, f"{name}_run", run)
    return f


def run_library_case(call, expect, sane, files):
    assert_clean(lambda: call(files), expect=expect, sane=sane)


# -- dtypes: params and data in float16, bfloat16, float32, float64 ---------------------------------------

MIXED = [P[0], cast([P[1]], "bfloat16")[0]]
NUMPY_F64 = [{k: np.asarray(v, np.float64) for k, v in layer.items()} for layer in P]

DTYPE_CASES = [
    case(
        "train-float16-params-float32-x",
        lambda f: train(cast(P, "float16")),
        sane=like_params(cast(P, "float16")),
    ),
    case(
        "train-bfloat16-params-float32-x",
        lambda f: train(cast(P, "bfloat16")),
        sane=like_params(cast(P, "bfloat16")),
    ),
    case("train-float32-params-float16-x", lambda f: train(x=X.astype("float16")), sane=like_params(P)),
    case("train-float32-params-bfloat16-x", lambda f: train(x=X.astype("bfloat16")), sane=like_params(P)),
    case(
        "train-float32-params-float64-x-without-x64",
        lambda f: train(x=np.asarray(X, np.float64)),
        sane=like_params(P),
    ),
    case("train-float16-params-x-beyond-float16", lambda f: train(cast(P, "float16"), x=X * 1e5), "error"),
    case("train-params-in-two-dtypes", lambda f: train(MIXED), "error"),
    case("train-float64-numpy-params-without-x64", lambda f: train(NUMPY_F64), "error"),
    case("forward-params-in-two-dtypes", lambda f: funcmlp.forward(MIXED, X), sane=shaped(N, 3)),
    case(
        "forward-float64-numpy-params-without-x64", lambda f: funcmlp.forward(NUMPY_F64, X), sane=shaped(N, 3)
    ),
    case(
        "backprop-float16-params-float32-x",
        lambda f: funcmlp.backprop(cast(P, "float16"), X, Y),
        sane=like_params(cast(P, "float16")),
    ),
    case(
        "backprop-bfloat16-params-float32-x",
        lambda f: funcmlp.backprop(cast(P, "bfloat16"), X, Y),
        sane=like_params(cast(P, "bfloat16")),
    ),
    case(
        "init_params-float64-without-x64",
        lambda f: funcmlp.init_params(KEY, (2, 4, 3), dtype=jnp.float64),
        sane=in_dtype("float64"),
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), DTYPE_CASES)
def test_dtype_mixes(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


X64_CASES = [
    case(
        "train-float64-params",
        lambda: train(cast(P, jnp.float64)),
        sane=lambda r: in_dtype("float64")(r.params),
    ),
    case("train-float32-params-float64-x", lambda: train(x=np.asarray(X, np.float64)), sane=like_params(P)),
    case("train-float16-params-float64-x", lambda: train(cast(P, "float16"), x=np.asarray(X, np.float64))),
    case(
        "train-float16-params-float64-x-beyond-float16", lambda: train(cast(P, "float16"), x=X * 1e5), "error"
    ),
    case("train-float64-labels", lambda: train(y=np.asarray(Y, np.float64)), sane=like_params(P)),
    case(
        "forward-float64-params-float32-x",
        lambda: funcmlp.forward(cast(P, jnp.float64), X),
        sane=shaped(N, 3),
    ),
    case(
        "backprop-float32-params-float64-x",
        lambda: funcmlp.backprop(P, np.asarray(X, np.float64), Y),
        sane=like_params(P),
    ),
    case(
        "sweep-float64",
        lambda: funcmlp.sweep(
            KEY, X, Y, sizes=(2, 4, 3), seeds=2, learning_rates=[0.1], steps=1, dtype=jnp.float64
        ),
        sane=lambda r: in_dtype("float64")(r.groups[0].params),
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), X64_CASES)
def test_dtype_mixes_with_x64(call, expect, sane, float64_enabled):
    assert jax.config.jax_enable_x64
    assert_clean(call, expect=expect, sane=sane)


DTYPES = ["float16", "bfloat16", "float32"]
X_DTYPES = ["float16", "bfloat16", "float32", "float64", "int32", "uint8"]
ENTRIES = {
    "forward": (lambda p, x, y: funcmlp.forward(p, x), shaped(N, 3)),
    "predict": (lambda p, x, y: funcmlp.predict(p, x), shaped(N)),
    "loss": (lambda p, x, y: funcmlp.loss(p, x, y), shaped()),
    "accuracy": (lambda p, x, y: funcmlp.accuracy(p, x, y), shaped()),
}


def x_as(dtype: str):
    """X in ``dtype``: a numpy array, or a JAX array for bfloat16 (which numpy does not name)."""
    return X.astype(dtype) if dtype == "bfloat16" else np.asarray(X).astype(dtype)


@settings(max_examples=20, **SETTINGS)
@given(
    entry=st.sampled_from(sorted(ENTRIES)),
    p_dtype=st.sampled_from(DTYPES),
    x_dtype=st.sampled_from(X_DTYPES),
    y_dtype=st.sampled_from(["int32", "uint8", "int64", "float32"]),
)
def test_dtype_mix_property(entry, p_dtype, x_dtype, y_dtype):
    fn, sane = ENTRIES[entry]
    x, y = x_as(x_dtype), np.asarray(Y, y_dtype)
    assert_clean(lambda: fn(cast(P, p_dtype), x, y), sane=sane)


@settings(max_examples=8, **SETTINGS)
@given(p_dtype=st.sampled_from(DTYPES), x_dtype=st.sampled_from(X_DTYPES))
def test_train_dtype_mix_property(p_dtype, x_dtype):
    x, params = x_as(x_dtype), cast(P, p_dtype)
    assert_clean(lambda: train(params, x=x), sane=like_params(params))


# -- params in other containers, arrays of the wrong rank ------------------------------------------------

ORDERED = [OrderedDict(layer) for layer in P]
EXTRA = [dict(layer, extra=jnp.zeros(1)) for layer in P]
LISTS = [{"w": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "b": [0.0, 0.0, 0.0]}]

CONTAINER_CASES = [
    case(
        "train-tuple-of-layers",
        lambda f: train(tuple(P)),
    ),
    case(
        "train-OrderedDict-layers",
        lambda f: train(ORDERED),
    ),
    case("forward-tuple-of-layers", lambda f: funcmlp.forward(tuple(P), X), sane=shaped(N, 3)),
    case("loss-OrderedDict-layers", lambda f: funcmlp.loss(ORDERED, X, Y), sane=shaped()),
    case("backprop-OrderedDict-layers", lambda f: funcmlp.backprop(ORDERED, X, Y), sane=like_params(P)),
    case("save-tuple-of-layers", lambda f: funcmlp.save(f.root / "tuple.safetensors", tuple(P))),
    case(
        "forward-nested-lists",
        lambda f: funcmlp.forward(LISTS, X),
    ),
    *[
        case(f"{name}-extra-key", call, "error")
        for name, call in {
            "train": lambda f: train(EXTRA),
            "forward": lambda f: funcmlp.forward(EXTRA, X),
            "loss": lambda f: funcmlp.loss(EXTRA, X, Y),
            "backprop": lambda f: funcmlp.backprop(EXTRA, X, Y),
            "save": lambda f: funcmlp.save(f.root / "extra.safetensors", EXTRA),
        }.items()
    ],
    case("forward-w-3-D", lambda f: funcmlp.forward([{"w": P[0]["w"][None], "b": P[0]["b"]}], X), "error"),
    case("forward-b-2-D", lambda f: funcmlp.forward([{"w": P[0]["w"], "b": P[0]["b"][None]}], X), "error"),
    case("train-scalar-layer", lambda f: train([{"w": 1.0, "b": 0.0}]), "error"),
    case("forward-x-3-D", lambda f: funcmlp.forward(P, X[None]), "error"),
    case("backprop-x-1-D", lambda f: funcmlp.backprop(P, X[:, 0], Y), "error"),
    case("train-x-0-D", lambda f: train(x=1.0), "error"),
    case("train-y-2-D", lambda f: train(y=Y[:, None]), "error"),
    case("loss-y-0-D", lambda f: funcmlp.loss(P, X, 1), "error"),
]


@pytest.mark.parametrize(("call", "expect", "sane"), CONTAINER_CASES)
def test_params_containers_and_ranks(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


# -- data helpers and datafile.split: keys, noise, fractions ---------------------------------------------


def helper(name):
    return getattr(funcmlp.data, name)


def noise_kw(name, value):
    return {"spread" if name == "blobs" else "noise": value}


DATA_CASES = [
    *[case(f"{h}-int-key", lambda f, h=h: helper(h)(3, 4), "error") for h in HELPERS],
    *[
        case(
            f"{h}-batched-key",
            lambda f, h=h: helper(h)(jax.random.split(KEY, 2), 4),
            "error",
        )
        for h in HELPERS
    ],
    *[
        case(
            f"{h}-{label}-noise",
            lambda f, h=h, v=value: helper(h)(KEY, 4, **noise_kw(h, v)),
        )
        for h in HELPERS
        for label, value in (("nan", float("nan")), ("inf", float("inf")))
    ],
    case(
        "circles-nan-factor",
        lambda f: funcmlp.data.circles(KEY, 4, factor=float("nan")),
    ),
    case("spiral-legacy-key", lambda f: funcmlp.data.spiral(jax.random.PRNGKey(0), 4), sane=dataset(12)),
    case(
        "spiral-numpy-noise", lambda f: funcmlp.data.spiral(KEY, 4, noise=np.float64(0.3)), sane=dataset(12)
    ),
    case(
        "split-int-key",
        lambda f: funcmlp.datafile.split(3, X, Y),
        "error",
    ),
    case(
        "split-batched-key",
        lambda f: funcmlp.datafile.split(jax.random.split(KEY, 2), X, Y),
        "error",
    ),
    case(
        "split-y-shorter-than-x",
        lambda f: funcmlp.datafile.split(KEY, X, Y[:5]),
        "error",
    ),
    case(
        "split-val-numpy-float64", lambda f: funcmlp.datafile.split(KEY, X, Y, val=np.float64(0.2)), "finite"
    ),
    case(
        "split-test-numpy-float64",
        lambda f: funcmlp.datafile.split(KEY, X, Y, test=np.float64(0.25)),
        "finite",
    ),
    case(
        "split-test-numpy-float32",
        lambda f: funcmlp.datafile.split(KEY, X, Y, test=np.float32(0.25)),
        "finite",
    ),
    case(
        "prepare-val-numpy-float64",
        lambda f: funcmlp.datafile.prepare(f.good, KEY, val=np.float64(0.2)),
        "finite",
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), DATA_CASES)
def test_data_helpers_and_split(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


def key_like(kind: str, seed: int):
    return {
        "typed": lambda: jax.random.key(seed),
        "legacy": lambda: jax.random.PRNGKey(seed),
        "int": lambda: seed,
        "none": lambda: None,
        "float-array": lambda: jnp.full((2,), float(seed)),
        "uint32-wrong-shape": lambda: jnp.zeros((3,), jnp.uint32),
        "batched": lambda: jax.random.split(jax.random.key(seed), 2),
    }[kind]()


@settings(max_examples=15, **SETTINGS)
@given(
    name=st.sampled_from(HELPERS),
    kind=st.sampled_from(["typed", "legacy"]),
    seed=st.integers(0, 2**31 - 1),
    noise=st.one_of(
        st.floats(0, 10), st.floats(0, 10).map(np.float64), st.floats(0, 10, width=32).map(np.float32)
    ),
)
def test_data_helpers_with_valid_keys_and_noise(name, kind, seed, noise):
    n = {"xor": 16}.get(name, 12 if name == "spiral" else 8)
    assert_clean(lambda: helper(name)(key_like(kind, seed), 4, **noise_kw(name, noise)), "finite", dataset(n))


@settings(max_examples=10, **FIND)
@given(name=st.sampled_from(HELPERS), noise=st.floats(1e30, 1e300))
def test_data_helpers_with_huge_finite_noise(name, noise):
    assert_clean(lambda: helper(name)(KEY, 4, **noise_kw(name, noise)))


FRACTIONS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.floats(0, 0.4).map(np.float64),
    st.floats(-1, 2).map(np.float64),
    st.integers(-1, 1).map(np.int64),
    st.floats(0, 0.375, width=32).map(np.float32),
)


@settings(max_examples=40, **SETTINGS)
@given(val=FRACTIONS, test=FRACTIONS)
def test_split_fractions_never_escape(val, test):
    def sane(s):
        return (
            None if sum(len(part) for part in s[1::2]) == N else f"parts of {[len(p) for p in s[1::2]]} rows"
        )

    assert_clean(lambda: funcmlp.datafile.split(KEY, X, Y, val=val, test=test), sane=sane)


@settings(max_examples=20, **SETTINGS)
@given(
    kind=st.sampled_from(["typed", "legacy", "int", "none", "float-array", "uint32-wrong-shape", "batched"]),
    seed=st.integers(0, 2**31 - 1),
    entry=st.sampled_from(["init_params", "train"]),
)
def test_keys_of_init_params_and_train(kind, seed, entry):
    key = key_like(kind, seed)
    calls = {
        "init_params": lambda: funcmlp.init_params(key, (2, 4, 3)),
        "train": lambda: train(batch_size=4, batch_key=key),
    }
    assert_clean(calls[entry], "finite" if kind in ("typed", "legacy") else "error")


# -- files: .npz holding NaN, damaged, object arrays, directories -----------------------------------------

FILE_CASES = [
    case("load-npz-with-nan", lambda f: funcmlp.datafile.load(f.nan), "error"),
    case("load-npz-not-a-zip", lambda f: funcmlp.datafile.load(f.text), "error"),
    case("load-npz-object-arrays", lambda f: funcmlp.datafile.load(f.objects), "error"),
    case("load-folder-named-npz", lambda f: funcmlp.datafile.load(f.folder_npz), "error"),
    case(
        "load-npz-truncated",
        lambda f: funcmlp.datafile.load(f.truncated),
        "error",
    ),
    case(
        "load-npz-members-not-arrays",
        lambda f: funcmlp.datafile.load(f.not_arrays),
        "error",
    ),
    case(
        "load-folder",
        lambda f: funcmlp.datafile.load(f.folder),
        "error",
    ),
    case(
        "load-path-not-str",
        lambda f: funcmlp.datafile.load(3),
        "error",
    ),
    case(
        "read_features-npz-with-nan",
        lambda f: funcmlp.datafile.read_features(f.nan, 2),
        "error",
    ),
    case(
        "read_features-npz-truncated",
        lambda f: funcmlp.datafile.read_features(f.truncated, 2),
        "error",
    ),
    case(
        "read_features-npz-not-a-zip",
        lambda f: funcmlp.datafile.read_features(f.text, 2),
        "error",
    ),
    case(
        "read_features-npz-object-arrays",
        lambda f: funcmlp.datafile.read_features(f.objects, 2),
        "error",
    ),
    case(
        "read_features-folder",
        lambda f: funcmlp.datafile.read_features(f.folder, 2),
        "error",
    ),
    case(
        "read_features-folder-named-npz",
        lambda f: funcmlp.datafile.read_features(f.folder_npz, 2),
        "error",
    ),
    case(
        "runs-show-metrics-csv-cut-mid-row",
        lambda f: funcmlp.runs.show(f.cut_run),
        "error",
    ),
    case(
        "runs-show-metrics-csv-with-a-word",
        lambda f: funcmlp.runs.show(f.word_run),
        "error",
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), FILE_CASES)
def test_data_files(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


# -- backprop, the perceptron, predict --------------------------------------------------------------------

XB, YB = funcmlp.data.blobs(KEY, 4)
YPM = 2 * YB - 1  # perceptron labels in {-1, +1}

MODEL_CASES = [
    case(
        "backprop-l2-inf",
        lambda f: funcmlp.backprop(P, X, Y, l2=float("inf")),
        "error",
    ),
    case("backprop-l2-nan", lambda f: funcmlp.backprop(P, X, Y, l2=float("nan")), "error"),
    case(
        "backprop-l2-None",
        lambda f: funcmlp.backprop(P, X, Y, l2=None),
        "error",
    ),
    case(
        "loss-l2-beyond-float32",
        lambda f: funcmlp.loss(P, X, Y, l2=1e39),
        "error",
    ),
    case(
        "perceptron-fit-lr-inf",
        lambda f: funcmlp.perceptron.fit(XB, YPM, epochs=2, lr=float("inf")),
        "error",
    ),
    case(
        "perceptron-fit-lr-beyond-float32",
        lambda f: funcmlp.perceptron.fit(XB, YPM, epochs=2, lr=1e39),
        "error",
    ),
    case(
        "perceptron-fit-lr-nan", lambda f: funcmlp.perceptron.fit(XB, YPM, epochs=2, lr=float("nan")), "error"
    ),
    case("perceptron-fit-labels-0-1", lambda f: funcmlp.perceptron.fit(XB, YB, epochs=2), "error"),
    case(
        "perceptron-predict-w-of-wrong-length",
        lambda f: funcmlp.perceptron.predict(jnp.zeros(3), 0.0, XB),
        "error",
    ),
    case(
        "perceptron-predict-b-a-vector",
        lambda f: funcmlp.perceptron.predict(jnp.zeros(2), jnp.zeros(2), XB),
        "error",
    ),
    case(
        "perceptron-predict-nan-w",
        lambda f: funcmlp.perceptron.predict(jnp.full(2, jnp.nan), 0.0, XB),
        "error",
    ),
    case(
        "perceptron-predict-x-1-D",
        lambda f: funcmlp.perceptron.predict(jnp.ones(2), 0.0, XB[0]),
        "error",
    ),
    case(
        "predict-sigmoid-head-on-3-outputs",
        lambda f: funcmlp.predict(P, X, head="sigmoid"),
        "error",
    ),
    case(
        "accuracy-sigmoid-head-on-3-outputs", lambda f: funcmlp.accuracy(P, X, Y % 2, head="sigmoid"), "error"
    ),
    case(
        "predict-sigmoid-head-on-1-output", lambda f: funcmlp.predict(P1, X, head="sigmoid"), sane=shaped(N)
    ),
    case("predict-linear-head", lambda f: funcmlp.predict(P, X, head="linear"), sane=shaped(N, 3)),
]


@pytest.mark.parametrize(("call", "expect", "sane"), MODEL_CASES)
def test_backprop_perceptron_predict(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


@settings(max_examples=10, **FIND)
@given(
    entry=st.sampled_from(["loss", "backprop"]),
    l2=st.one_of(st.floats(0, 10), st.floats(1e30, 1e308), st.just(float("inf")), st.just(float("nan"))),
)
def test_l2_values(entry, l2):
    call = {"loss": funcmlp.loss, "backprop": funcmlp.backprop}[entry]
    assert_clean(lambda: call(P, X, Y, l2=l2))


@settings(max_examples=12, **FIND)
@given(entry=st.sampled_from(["forward", "loss"]), scale=st.floats(1.0, 3e38))
def test_input_magnitude(entry, scale):
    x = np.asarray(X) * np.float32(scale)  # |X| <= 1: finite float32 inputs
    call = {"forward": lambda: funcmlp.forward(P, x), "loss": lambda: funcmlp.loss(P, x, Y)}[entry]
    assert_clean(call)


# -- the divergence rule at its edges; resumed non-finite optimizer states ----------------------------------


def diverged(at):
    def check(r):
        return None if int(r.diverged_at) == at else f"expected diverged_at {at}, got {int(r.diverged_at)}"

    return check


X_INF_LOSS = np.full((N, 2), 3e38, np.float32)  # finite inputs whose logits overflow at step 0

DIVERGENCE_CASES = [
    case(
        "train-one-step-update-overflows",
        lambda f: train(x=X * 1e18, steps=1, **HUGE_LR),
    ),
    case(
        "train-two-steps-update-overflows", lambda f: train(x=X * 1e18, steps=2, **HUGE_LR), sane=diverged(0)
    ),
    case(
        "train-one-step-loss-inf-at-step-0",
        lambda f: train(x=X_INF_LOSS, steps=1, **HUGE_LR),
        sane=diverged(0),
    ),
    case(
        "train-resumed-nan-adam-state",
        lambda f: train(optimizer=ADAM, opt_state=nan_state(ADAM)),
        "error",
    ),
    case(
        "train-resumed-inf-adam-state-one-step",
        lambda f: train(optimizer=ADAM, opt_state=nan_state(ADAM, np.inf), steps=1),
        "error",
    ),
    case(
        "sweep-one-step-update-overflows",
        lambda f: funcmlp.sweep(
            KEY, X * 1e18, Y, sizes=(2, 4, 3), seeds=2, learning_rates=[0.1, 1e30], steps=1
        ),
    ),
    case(
        "sweep-three-steps-diverges-documented",
        lambda f: funcmlp.sweep(
            KEY,
            X,
            Y,
            sizes=(2, 4, 3),
            seeds=2,
            learning_rates=[0.1, 1e30],
            steps=3,
            activation=["relu", "relu"],
        ),
        "finite",
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), DIVERGENCE_CASES)
def test_divergence_edges(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


STEP_CASES = [
    case("train-start-step-near-2**31", lambda f: train(start_step=2**31 - 5, steps=10)),
    case(
        "train-start-step-near-2**31-mini-batches",
        lambda f: train(start_step=2**31 - 5, steps=10, batch_size=4, batch_key=KEY),
    ),
    case("train-start-step-below-the-limit", lambda f: train(start_step=2**31 - 11, steps=10), "finite"),
]


@pytest.mark.parametrize(("call", "expect", "sane"), STEP_CASES)
def test_step_counters(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


@settings(max_examples=10, **FIND)
@given(start=st.integers(2**31 - 30, 2**31 + 5), batch=st.sampled_from([None, 4]))
def test_step_counter_property(start, batch):
    assert_clean(lambda: train(start_step=start, steps=10, batch_size=batch, batch_key=KEY))


# -- sweep arguments ----------------------------------------------------------------------------------------


def sweep(**kw):
    return funcmlp.sweep(
        KEY, X, Y, **({"sizes": (2, 4, 3), "seeds": 2, "learning_rates": [0.1], "steps": 1} | kw)
    )


DEVICE = jax.devices()[0]

SWEEP_CASES = [
    case("sweep-activation-list-with-None", lambda f: sweep(activation=["relu", None]), "error"),
    case("sweep-no-devices", lambda f: sweep(devices=[]), "error"),
    case(
        "sweep-device-listed-twice",
        lambda f: sweep(devices=[DEVICE, DEVICE]),
        "error",
    ),
    case(
        "sweep-one-device-not-a-list",
        lambda f: sweep(devices=DEVICE),
        "error",
    ),
    case(
        "sweep-device-name",
        lambda f: sweep(devices=["cpu"]),
        "error",
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), SWEEP_CASES)
def test_sweep_arguments(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


# -- checkpoints --------------------------------------------------------------------------------------------

# Same number of leaves (9), shapes and dtypes as Adam's state, another optimizer: momentum and RMS scaling.
OTHER = optax.chain(
    optax.scale_by_schedule(optax.constant_schedule(0.1)), optax.trace(0.9), optax.scale_by_rms()
)


def save_and_load(path, params):
    funcmlp.save(path, params)
    return funcmlp.load(path)[0]


CHECKPOINT_CASES = [
    *[
        case(
            f"{name}-to-a-folder",
            call,
            "error",
        )
        for name, call in {
            "save": lambda f: funcmlp.save(f.folder, P),
            "save_state": lambda f: funcmlp.save_state(f.folder, P, SGD.init(P), 1),
            "load": lambda f: funcmlp.load(f.folder),
            "load_state": lambda f: funcmlp.load_state(f.folder, SGD.init(P)),
            "read_metadata": lambda f: funcmlp.read_metadata(f.folder),
        }.items()
    ],
    *[
        case(f"{name}-path-not-str", call, "error")
        for name, call in {
            "save-int": lambda f: funcmlp.save(3, P),
            "save-None": lambda f: funcmlp.save(None, P),
            "load-int": lambda f: funcmlp.load(3),
            "load_state-None": lambda f: funcmlp.load_state(None, SGD.init(P)),
        }.items()
    ],
    case(
        "load-missing-file",
        lambda f: funcmlp.load(f.root / "missing.safetensors"),
        "error",
    ),
    case(
        "load_state-template-of-another-optimizer-same-leaves",
        lambda f: funcmlp.load_state(f.adam, OTHER.init(P)),
        "error",
    ),
    case(
        "load_state-template-of-an-optimizer-with-fewer-leaves",
        lambda f: funcmlp.load_state(f.adam, SGD.init(P)),
        "error",
    ),
    case(
        "load_state-template-of-the-same-optimizer",
        lambda f: funcmlp.load_state(f.adam, ADAM.init(P)),
        "finite",
    ),
    case(
        "save_state-leaf-not-an-array",
        lambda f: funcmlp.save_state(f.root / "s.safetensors", P, {"note": "text"}, 1),
        "error",
    ),
    case(
        "save-then-load-bfloat16",
        lambda f: save_and_load(f.root / "bf16.safetensors", cast(P, "bfloat16")),
        "finite",
        sane=in_dtype("bfloat16"),
    ),
]


@pytest.mark.parametrize(("call", "expect", "sane"), CHECKPOINT_CASES)
def test_checkpoints(call, expect, sane, files):
    run_library_case(call, expect, sane, files)


# -- the command line ----------------------------------------------------------------------------------------

QUICK = ["--steps", "1", "--seeds", "1", "--n-per-class", "4", "--quiet"]


def cli_outcome(argv, capsys, out: Path | None) -> Outcome:
    """``funcmlp.cli.main(argv)`` in this process: exit 2 with one "funcmlp: error: " line and no run
    directory is a clear error, exit 0 a result, anything else (an exception, a traceback) an escape."""
    try:
        code = funcmlp.cli.main(argv)
    except (Exception, SystemExit) as e:
        capsys.readouterr()
        return Outcome("escape", f"a traceback: {_escaped(e)}")
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    if code == 0:
        return Outcome("finite", "exit 0")
    if out is not None and out.exists():
        return Outcome("escape", f"exit {code} but {out} was left behind")
    if code == 2 and len(lines) == 1 and lines[0].startswith("funcmlp: error: ") and "Traceback" not in err:
        return Outcome("error", lines[0])
    return Outcome("escape", f"exit {code}, stderr {_short(err)!r}")


CLI_CASES = [
    case("train-data-folder-named-npz", lambda f: ["train", "--data", str(f.folder_npz)], "error"),
    case("train-data-npz-not-a-zip", lambda f: ["train", "--data", str(f.text)], "error"),
    case(
        "train-data-folder",
        lambda f: ["train", "--data", str(f.folder)],
        "error",
    ),
    case(
        "train-data-npz-truncated",
        lambda f: ["train", "--data", str(f.truncated)],
        "error",
    ),
    case("predict-data-npz-with-nan", lambda f: ["predict", str(f.run), "--data", str(f.nan)], "error"),
    case(
        "predict-data-folder",
        lambda f: ["predict", str(f.run), "--data", str(f.folder)],
        "error",
    ),
    case(
        "predict-data-npz-truncated",
        lambda f: ["predict", str(f.run), "--data", str(f.truncated)],
        "error",
    ),
    case(
        "show-metrics-csv-cut-mid-row",
        lambda f: ["show", str(f.cut_run)],
        "error",
    ),
    case(
        "train-val-without-data",
        lambda f: ["train", "--val", "0.5"],
        "error",
    ),
    case(
        "train-test-without-data",
        lambda f: ["train", "--test", "0.5"],
        "error",
    ),
]


@pytest.mark.parametrize(("argv", "expect", "sane"), CLI_CASES)
def test_command_line(argv, expect, sane, files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FUNCMLP_NO_CACHE", "1")
    monkeypatch.chdir(tmp_path)  # a run directory made by mistake lands here
    args = argv(files)
    out = tmp_path / "run" if args[0] == "train" else None
    if out is not None:
        args += [*QUICK, "--out", str(out)]
    record(cli_outcome(args, capsys, out), expect)


def subprocess_outcome(args, out: Path) -> Outcome:
    env = {**os.environ, "FUNCMLP_NO_CACHE": "1", "JAX_TRACEBACK_FILTERING": "off", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-m", "funcmlp", *args, "--out", str(out)], capture_output=True, text=True, env=env
    )
    lines = proc.stderr.strip().splitlines()
    if "Traceback" in proc.stderr:
        return Outcome(
            "escape", f"exit {proc.returncode} with a traceback: {_short(lines[-1] if lines else '')}"
        )
    if (
        proc.returncode == 2
        and len(lines) == 1
        and lines[0].startswith("funcmlp: error: ")
        and not out.exists()
    ):
        return Outcome("error", lines[0])
    return Outcome(
        "escape", f"exit {proc.returncode}, stderr {_short(proc.stderr)!r}, out exists {out.exists()}"
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("folder_npz", id="folder-named-npz"),
        pytest.param("folder", id="folder"),
    ],
)
def test_console_entry_point(data, files, tmp_path):
    out = tmp_path / "run"
    record(subprocess_outcome(["train", "--data", str(getattr(files, data)), "--quiet"], out), "error")
