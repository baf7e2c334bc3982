"""Every bad input of docs/errors.md, through the public entry points: a ValueError or TypeError raised by
funcmlp itself (not from inside JAX or numpy), whose message names the argument, what was expected and what
came. The CLI turns the same mistakes into one line on stderr and exit code 2."""

import json
import re
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import checks
from funcmlp.cli.app import main
from funcmlp.io import checkpoint

KEY = jax.random.key(0)
N = 6
P3 = funcmlp.init_params(KEY, (2, 4, 3))  # softmax, K = 3
P1 = funcmlp.init_params(KEY, (2, 4, 1))  # sigmoid
P2 = funcmlp.init_params(KEY, (2, 4, 2))  # linear, 2 targets
X = np.linspace(-1, 1, 2 * N, dtype=np.float32).reshape(N, 2)
Y = {"softmax": np.arange(N) % 3, "sigmoid": np.arange(N) % 2, "linear": np.ones((N, 2), np.float32)}
PARAMS = {"softmax": P3, "sigmoid": P1, "linear": P2}
SGD = optax.sgd(0.1)
ADAM = optax.adam(0.1)
VE, TE = ValueError, TypeError  # the exception column of the tables below


def assert_clear(excinfo, pattern: str) -> None:
    """Raised by funcmlp's own code, message '<argument>: ...' matching ``pattern``."""
    err = excinfo.value
    origin = traceback.extract_tb(err.__traceback__)[-1].filename
    assert f"{Path(funcmlp.__file__).parent}" in origin, f"raised from {origin}: {err}"
    assert re.match(r"^[-\w\[\]'.]+: \S", str(err)), str(err)
    assert re.search(pattern, str(err)), str(err)
    assert "\n" not in str(err)


# --- x: (id, x, exception, message) ------------------------------------------------------------------

BAD_X = [
    ("1-D", X[:, 0], VE, r"^x: expected a 2-D array \(n, 2\), got shape \(6,\)"),
    ("3-D", X[None], VE, r"^x: expected a 2-D array \(n, 2\), got shape \(1, 6, 2\)"),
    ("strings", np.full((N, 2), "a"), TE, r"^x: expected a numeric .* got dtype <U1"),
    ("objects", np.array([[1.0, None]] * N), TE, r"^x: expected a numeric .* got dtype object"),
    ("complex", X.astype(np.complex64), TE, r"^x: expected a numeric .* got dtype complex64"),
    ("bool", X > 0, TE, r"^x: expected a numeric .* got dtype bool"),
    ("width", np.zeros((N, 3), np.float32), VE, r"^x: expected 2 features .* got shape \(6, 3\)"),
    ("empty", np.zeros((0, 2), np.float32), VE, r"^x: expected at least one sample, got shape \(0, 2\)"),
    ("nan", np.where(X > 0.5, np.nan, X), VE, r"^x: expected finite values, got 3 NaN or inf"),
    ("inf", np.where(X < -0.9, -np.inf, X), VE, r"^x: expected finite values, got 1 NaN or inf"),
    ("overflows-float32", X.astype(np.float64) * 1e300, VE, r"^x: expected values within the float32"),
    ("overflows-int32", np.full((N, 2), 2**40), VE, r"^x: expected integers that fit int32"),
]

X_ENTRIES = {
    "forward": lambda x: funcmlp.forward(P3, x),
    "predict": lambda x: funcmlp.predict(P3, x),
    "loss": lambda x: funcmlp.loss(P3, x, Y["softmax"]),
    "accuracy": lambda x: funcmlp.accuracy(P3, x, Y["softmax"]),
    "train": lambda x: funcmlp.train(P3, x, Y["softmax"], optimizer=SGD, steps=1),
}


@pytest.mark.parametrize("entry", X_ENTRIES)
@pytest.mark.parametrize(("x", "exc", "pattern"), [c[1:] for c in BAD_X], ids=[c[0] for c in BAD_X])
def test_bad_x(entry, x, exc, pattern):
    with pytest.raises(exc) as info:
        X_ENTRIES[entry](x)
    assert_clear(info, pattern)


# --- y for each head: (id, head, y, exception, message) -------------------------------------------------

YS = Y["softmax"]
BAD_Y = [
    ("len-mismatch", "softmax", YS[:4], VE, r"^y: expected labels of shape \(6,\) .* got \(4,\)"),
    ("2-D-labels", "softmax", YS[:, None], VE, r"^y: expected labels of shape \(6,\).*\(6, 1\)"),
    ("non-integer", "softmax", YS + 0.5, TE, r"^y: expected integer class labels, .* 0\.5"),
    ("string-labels", "softmax", YS.astype(str), TE, r"^y: expected integer .* dtype <U"),
    ("negative", "softmax", YS - 1, VE, r"^y: expected labels in \[0, 3\) .* from -1 to 1"),
    (">=K", "softmax", YS + 1, VE, r"^y: expected labels in \[0, 3\) .* from 1 to 3"),
    ("nan-label", "softmax", np.where(YS == 0, np.nan, 1.0), VE, r"^y: expected finite labels"),
    ("sigmoid-2", "sigmoid", YS, VE, r"^y: expected labels in \{0, 1\} .* from 0 to 2"),
    ("sigmoid-neg", "sigmoid", -Y["sigmoid"], VE, r"^y: expected labels in \{0, 1\} .* from -1 to 0"),
    ("linear-1-D", "linear", np.ones(N, np.float32), VE, r"^y: expected targets of shape \(6, 2\) .*\(6,\)"),
    ("linear-width", "linear", np.ones((N, 3)), VE, r"^y: expected targets of shape \(6, 2\) .*\(6, 3\)"),
    ("linear-nan", "linear", np.full((N, 2), np.nan), VE, r"^y: expected finite values, got 12 NaN"),
    ("linear-inf", "linear", np.full((N, 2), np.inf), VE, r"^y: expected finite values, got 12 NaN"),
    ("linear-complex", "linear", np.ones((N, 2), complex), TE, r"^y: expected real targets, got dtype"),
]

Y_ENTRIES = {
    "loss": lambda p, y, head: funcmlp.loss(p, X, y, head=head),
    "accuracy": lambda p, y, head: funcmlp.accuracy(p, X, y, head=head),
    "train": lambda p, y, head: funcmlp.train(p, X, y, optimizer=SGD, steps=1, head=head),
}


@pytest.mark.parametrize("entry", Y_ENTRIES)
@pytest.mark.parametrize(("head", "y", "exc", "pattern"), [c[1:] for c in BAD_Y], ids=[c[0] for c in BAD_Y])
def test_bad_y(entry, head, y, exc, pattern):
    if entry == "accuracy" and head == "linear":
        pattern, exc = r"^head: accuracy needs a classification head .* got 'linear'", ValueError
    with pytest.raises(exc) as info:
        Y_ENTRIES[entry](PARAMS[head], y, head)
    assert_clear(info, pattern)


@pytest.mark.parametrize("entry", Y_ENTRIES)
def test_sigmoid_head_needs_one_output_unit(entry):
    with pytest.raises(ValueError) as info:
        Y_ENTRIES[entry](P3, Y["sigmoid"], "sigmoid")
    assert_clear(info, r"^params: head 'sigmoid' expects one output unit \(sizes\[-1\] = 1\), got 3")


# --- params --------------------------------------------------------------------------------------------

_other = funcmlp.init_params(KEY, (5, 3))


def _layer0(w, b=None):
    """Params of one layer; ``b`` is zeros of w's width unless given."""
    return [{"w": w, "b": jnp.zeros(w.shape[-1]) if b is None else b}]


W0 = r"^params\[0\]\['w'\]"
BAD_PARAMS = [
    ("not-chaining", [P3[0], _other[0]], VE, r"^params\[1\]: layers do not chain: expected w with 4 rows"),
    ("empty-list", [], TE, r"^params: expected a non-empty list of layers .* got list"),
    ("a-dict", P3[0], TE, r"^params: expected a non-empty list .* got dict"),
    ("wrong-keys", [{"W": P3[0]["w"], "b": P3[0]["b"]}], VE, r"^params\[0\]: expected a dict with keys"),
    ("bias-shape", _layer0(P3[0]["w"], jnp.zeros(5)), VE, r"^params\[0\]: expected w .* got w \(2, 4\)"),
    ("w-1-D", _layer0(jnp.zeros(2)), VE, r"^params\[0\]: expected w of shape"),
    ("int-weights", _layer0(np.ones((2, 3), int), np.ones(3, int)), TE, rf"{W0}: expected a floating"),
    ("nan-weights", _layer0(jnp.full((2, 3), jnp.nan)), VE, rf"{W0}: expected finite values, got 6"),
]

PARAM_ENTRIES = {
    "forward": lambda p: funcmlp.forward(p, X),
    "predict": lambda p: funcmlp.predict(p, X),
    "loss": lambda p: funcmlp.loss(p, X, Y["softmax"] % 3 * 0),
    "accuracy": lambda p: funcmlp.accuracy(p, X, Y["softmax"] * 0),
    "train": lambda p: funcmlp.train(p, X, Y["softmax"] * 0, optimizer=SGD, steps=1),
    "save": lambda p: funcmlp.save("unused.safetensors", p),
}


# saving non-finite params is allowed: a diverged run's parameters can still be inspected
PARAM_CASES = [
    (e, *c) for e in PARAM_ENTRIES for c in BAD_PARAMS if not (e == "save" and c[0] == "nan-weights")
]


@pytest.mark.parametrize(
    ("entry", "params", "exc", "pattern"),
    [(c[0], *c[2:]) for c in PARAM_CASES],
    ids=[f"{c[1]}-{c[0]}" for c in PARAM_CASES],
)
def test_bad_params(entry, params, exc, pattern, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc) as info:
        PARAM_ENTRIES[entry](params)
    assert_clear(info, pattern)
    assert not list(tmp_path.iterdir())  # nothing written


# --- names, sizes, init --------------------------------------------------------------------------------


def _forward(**kw):
    return lambda: funcmlp.forward(P3, X, **kw)


def _predict(**kw):
    return lambda: funcmlp.predict(P3, X, **kw)


def _loss(**kw):
    return lambda: funcmlp.loss(P3, X, Y["softmax"], **kw)


def _train(**kw):
    args = {"optimizer": SGD, "steps": 1} | kw
    return lambda: funcmlp.train(P3, X, Y["softmax"], **args)


def _init(sizes=(2, 3), key=KEY, **kw):
    return lambda: funcmlp.init_params(key, sizes, **kw)


def _jit_forward(x_shape):
    return lambda: jax.jit(lambda x: funcmlp.forward(P3, x))(np.zeros(x_shape, np.float32))


ACTS = "step, linear, sigmoid, tanh, relu, leaky_relu"
HEADS = "softmax, sigmoid, linear"
WIDTHS = "expected positive integer widths, got"
JAX_KEY = r"expected a jax.random.key\(seed\), got"
NON_NEGATIVE = "expected a finite non-negative number, got"
BAD_CALLS = [
    (
        "activation-forward",
        _forward(activation="gelu"),
        VE,
        rf"^activation: expected one of {ACTS} .* got 'gelu'",
    ),
    ("activation-loss", _loss(activation="Relu"), VE, r"^activation: .* got 'Relu'"),
    ("activation-train", _train(activation=None), VE, r"^activation: .* got None"),
    (
        "activation-leaky-slope",
        _predict(activation="leaky_relu:x"),
        VE,
        r"^activation: .*'leaky_relu:SLOPE'.* got 'leaky_relu:x'",
    ),
    ("head-loss", _loss(head="hinge"), VE, rf"^head: expected one of {HEADS} .*got 'hinge'"),
    ("head-predict", _predict(head="Softmax"), VE, rf"^head: expected one of {HEADS} .*got 'Softmax'"),
    ("head-train", _train(head="mse"), VE, r"^head: expected one of .* got 'mse'"),
    (
        "head-accuracy-linear",
        lambda: funcmlp.accuracy(P2, X, Y["linear"], head="linear"),
        VE,
        r"^head: accuracy needs a classification head",
    ),
    ("scheme", _init(scheme="xavier"), VE, r"^scheme: expected one of he, glorot, normal, got 'xavier'"),
    ("sizes-one-entry", _init((2,)), VE, r"^sizes: expected at least two widths .* got \(2,\)"),
    ("sizes-empty", _init(()), VE, r"^sizes: expected at least two widths .* got \(\)"),
    ("sizes-zero", _init((2, 0, 3)), VE, rf"^sizes: {WIDTHS} \(2, 0, 3\)"),
    ("sizes-negative", _init((2, -4, 3)), VE, rf"^sizes: {WIDTHS} \(2, -4, 3\)"),
    ("sizes-float", _init((2, 4.5)), VE, rf"^sizes: {WIDTHS} \(2, 4\.5\)"),
    ("sizes-string", _init("243"), TE, r"^sizes: expected a sequence of layer widths .* got '243'"),
    ("sizes-int", _init(3), TE, r"^sizes: expected a sequence .* got 3"),
    ("key-int", _init(key=0), TE, rf"^key: {JAX_KEY} int 0"),
    ("key-none", _init(key=None), TE, rf"^key: {JAX_KEY} NoneType"),
    ("key-batch", _init(key=jax.random.split(KEY)), VE, r"^key: expected a single key .* shape \(2,\)"),
    ("dtype-int", _init(dtype=jnp.int32), TE, r"^dtype: expected a floating dtype .* got int32"),
    ("dtype-name", _init(dtype="fp32"), TE, r"^dtype: expected a floating dtype .* got 'fp32'"),
    ("l2-loss-negative", _loss(l2=-0.1), VE, rf"^l2: {NON_NEGATIVE} -0\.1"),
    ("l2-loss-nan", _loss(l2=float("nan")), VE, rf"^l2: {NON_NEGATIVE} nan"),
    ("l2-loss-string", _loss(l2="0.1"), TE, r"^l2: expected a real number, got '0\.1'"),
    ("jit-traced-x-width", _jit_forward((3, 5)), VE, r"^x: expected 2 features .* got shape \(3, 5\)"),
]

POSITIVE = "expected a positive integer, got"
BAD_TRAIN = [
    ("steps-0", _train(steps=0), VE, rf"^steps: {POSITIVE} 0"),
    ("steps-negative", _train(steps=-3), VE, rf"^steps: {POSITIVE} -3"),
    ("steps-float", _train(steps=2.5), VE, rf"^steps: {POSITIVE} 2\.5"),
    ("steps-bool", _train(steps=True), VE, rf"^steps: {POSITIVE} True"),
    (
        "optimizer-name",
        _train(optimizer="sgd"),
        TE,
        r"^optimizer: expected an optax GradientTransformation .* got str",
    ),
    ("optimizer-factory", _train(optimizer=optax.sgd), TE, r"^optimizer: expected an optax .* got function"),
    ("batch-size-0", _train(batch_size=0, batch_key=KEY), VE, rf"^batch_size: {POSITIVE} 0"),
    ("batch-size-negative", _train(batch_size=-2, batch_key=KEY), VE, rf"^batch_size: {POSITIVE} -2"),
    (
        "batch-size-above-n",
        _train(batch_size=N + 1, batch_key=KEY),
        VE,
        r"^batch_size: expected at most n = 6 .* got 7",
    ),
    (
        "batch-without-key",
        _train(batch_size=2),
        VE,
        r"^batch_key: expected a jax.random.key to shuffle mini-batches, got None",
    ),
    ("key-int", _train(batch_size=2, batch_key=3), TE, rf"^batch_key: {JAX_KEY} int 3"),
    (
        "key-wrong-array",
        _train(batch_size=2, batch_key=jnp.zeros(3)),
        TE,
        r"^batch_key: expected .* got an array of dtype float32 and shape \(3,\)",
    ),
    ("key-moved", _train(batch_size=2, key=KEY), TE, r"^train: key= moved; pass batch_key="),
    (
        "start-step-negative",
        _train(start_step=-1),
        VE,
        r"^start_step: expected a non-negative integer, got -1",
    ),
    ("chunk-size-0", _train(chunk_size=0), VE, rf"^chunk_size: {POSITIVE} 0"),
    ("l2-negative", _train(l2=-1.0), VE, rf"^l2: {NON_NEGATIVE} -1\.0"),
    ("l2-inf", _train(l2=float("inf")), VE, rf"^l2: {NON_NEGATIVE} inf"),
    ("l2-string", _train(l2="x"), TE, r"^l2: expected a real number, got 'x'"),
    ("callback-not-callable", _train(callback=3), TE, r"^callback: expected None or a function .* got 3"),
    (
        "opt-state-other-optimizer",
        _train(optimizer=ADAM, opt_state=SGD.init(P3)),
        VE,
        r"^opt_state: expected the state of this optimizer .* 9 arrays\), "
        r"got a differently structured state with 0",
    ),
    (
        "opt-state-other-params",
        _train(optimizer=ADAM, opt_state=ADAM.init(P1)),
        VE,
        r"^opt_state: leaf 3 expected shape \(3,\) and dtype float32, got shape \(1,\)",
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [c[1:] for c in BAD_CALLS + BAD_TRAIN],
    ids=[c[0] for c in BAD_CALLS + BAD_TRAIN],
)
def test_bad_argument(call, exc, pattern):
    with pytest.raises(exc) as info:
        call()
    assert_clear(info, pattern)


# --- sweep helpers: seeds and learning-rate lists --------------------------------------------------------


def _seeds(n):
    return lambda: checks.check_positive_int(n, "seeds")


def _lrs(learning_rates):
    return lambda: checks.check_learning_rates(learning_rates)


BAD_SWEEP = [
    ("seeds-0", _seeds(0), VE, rf"^seeds: {POSITIVE} 0"),
    ("seeds-negative", _seeds(-2), VE, rf"^seeds: {POSITIVE} -2"),
    ("lrs-empty", _lrs([]), VE, r"^learning_rates: expected at least one learning rate, got an empty list"),
    ("lrs-negative", _lrs([0.1, -0.5]), VE, rf"^learning_rates\[1\]: {NON_NEGATIVE} -0\.5"),
    ("lrs-nan", _lrs([float("nan")]), VE, r"^learning_rates\[0\]: expected a finite .* got nan"),
    ("lrs-inf", _lrs(np.array([1.0, np.inf])), VE, r"^learning_rates\[1\]: expected a finite .* got inf"),
    ("lrs-scalar", _lrs(0.1), TE, r"^learning_rates: expected a non-empty list of numbers .* got 0\.1"),
    ("lrs-string", _lrs("0.1"), TE, r"^learning_rates: expected a non-empty list .* got '0\.1'"),
    ("lrs-nested", _lrs([[0.1]]), TE, r"^learning_rates: expected a non-empty list"),
    ("lrs-word", _lrs([0.1, "fast"]), TE, r"^learning_rates\[1\]: expected a real number, got 'fast'"),
]


@pytest.mark.parametrize(
    ("call", "exc", "pattern"), [c[1:] for c in BAD_SWEEP], ids=[c[0] for c in BAD_SWEEP]
)
def test_bad_sweep_argument(call, exc, pattern):
    with pytest.raises(exc) as info:
        call()
    assert_clear(info, pattern)


def test_good_learning_rates_pass_through():
    assert checks.check_learning_rates(np.array([0.0, 0.5, 2])) == (0.0, 0.5, 2.0)


# --- save / load -----------------------------------------------------------------------------------------


def _forged(path, arrays, sizes, **meta):
    """A well-formed funcmlp checkpoint (valid checksum) whose contents are chosen by the test."""
    from safetensors.numpy import save_file

    metadata = {"format": "funcmlp", "format_version": "1", "funcmlp_version": "0", "kind": "params"}
    metadata |= {
        "sizes": json.dumps(sizes),
        "activation": "null",
        "head": "null",
        "config": "{}",
        "views": "{}",
    }
    metadata |= meta
    metadata["sha256"] = checkpoint.digest(arrays, metadata)
    save_file(arrays, str(path), metadata=metadata)
    return path


def _layer(d_in, d_out, dtype=np.float32):
    return np.ones((d_in, d_out), dtype), np.zeros(d_out, dtype)


def _arrays(*layers):
    return {f"layer_{i}.{k}": a for i, (w, b) in enumerate(layers) for k, a in (("w", w), ("b", b))}


def _forge(sizes, *layers, extra=None, **meta):
    """Writes a forged checkpoint of these layers ((d_in, d_out[, dtype]) each) that records ``sizes``."""
    return lambda p: _forged(p, _arrays(*(_layer(*shape) for shape in layers)) | (extra or {}), sizes, **meta)


def _write(data: bytes):
    return lambda p: p.write_bytes(data)


BAD_FILES = [
    ("empty", _write(b""), r"^path: .* is not a funcmlp checkpoint \(empty or truncated to 0 bytes\)"),
    (
        "random-bytes",
        _write(np.random.default_rng(0).bytes(300)),
        r"^path: .* is not a readable safetensors checkpoint",
    ),
    (
        "foreign-safetensors",
        _forge([2, 3], (2, 3), format="other"),
        r"^path: .* is a safetensors file but not a funcmlp checkpoint",
    ),
    (
        "newer-format",
        _forge([2, 3], (2, 3), format_version="2"),
        r"^path: .* has format version 2; this funcmlp .* reads up to 1",
    ),
    (
        "not-chaining",
        _forge([2, 4, 3], (2, 4), (5, 3)),
        r"^checkpoint\[1\]: layers do not chain: expected w with 4 rows .* got shape \(5, 3\)",
    ),
    (
        "sizes-disagree",
        _forge([2, 5], (2, 4)),
        r"^checkpoint: expected arrays of the recorded sizes \[2, 5\], got sizes \[2, 4\]",
    ),
    ("missing-layer", _forge([2, 4, 3], (2, 4)), r"^checkpoint: missing array 'layer_1.w'"),
    (
        "int-arrays",
        _forge([2, 4], (2, 4, np.int32)),
        r"^checkpoint\[0\]\['w'\]: expected a floating-point array, got dtype int32",
    ),
    (
        "stray-array",
        _forge([2, 4], (2, 4), extra={"extra": np.zeros(1)}),
        r"^checkpoint: expected only layer arrays, got unexpected \['extra'\]",
    ),
    ("damaged-sizes", _forge("[2, 4", (2, 4)), r"^path: .* has damaged funcmlp metadata \(sizes"),
]


@pytest.mark.parametrize(("make", "pattern"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_load_refuses_bad_file(make, pattern, tmp_path):
    make(tmp_path / "c.safetensors")
    with pytest.raises(ValueError) as info:
        funcmlp.load(tmp_path / "c.safetensors")
    assert_clear(info, pattern)


def _save(**kw):
    return lambda p: funcmlp.save(p, P3, **kw)


JSON_VALUES = "expected a dict of JSON values, got"
BAD_SAVES = [
    (
        "config-not-json",
        _save(config={"f": object()}),
        TE,
        rf"^config: {JSON_VALUES} one that JSON cannot encode",
    ),
    ("config-not-dict", _save(config=[1, 2]), TE, rf"^config: {JSON_VALUES} list"),
    ("activation-name", _save(activation="gelu"), VE, r"^activation: expected one of .* got 'gelu'"),
    ("head-name", _save(head="hinge"), VE, r"^head: expected one of .* got 'hinge'"),
    (
        "step-negative",
        lambda p: funcmlp.save_state(p, P3, SGD.init(P3), -1),
        VE,
        r"^step: expected a non-negative integer, got -1",
    ),
    (
        "no-folder",
        lambda p: funcmlp.save(p.parent / "missing" / "c.safetensors", P3),
        FileNotFoundError,
        r"^path: expected an existing folder to save into, got '.*missing'",
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "pattern"), [c[1:] for c in BAD_SAVES], ids=[c[0] for c in BAD_SAVES]
)
def test_save_refuses_bad_argument(call, exc, pattern, tmp_path):
    with pytest.raises(exc) as info:
        call(tmp_path / "c.safetensors")
    assert_clear(info, pattern)
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left behind


def test_load_state_refuses_params_only_file_and_wrong_optimizer(tmp_path):
    funcmlp.save(tmp_path / "p.safetensors", P3)
    with pytest.raises(ValueError) as info:
        funcmlp.load_state(tmp_path / "p.safetensors", SGD.init(P3))
    assert_clear(info, r"^path: .* holds parameters only \(written by save\); resuming needs save_state")
    adam = optax.adam(0.1)
    funcmlp.save_state(tmp_path / "s.safetensors", P3, adam.init(P3), 5)
    with pytest.raises(ValueError) as info:
        funcmlp.load_state(tmp_path / "s.safetensors", SGD.init(P3))
    assert_clear(info, r"^opt_state_like: expected a state with 9 leaves \(as saved\), got 0")
    with pytest.raises(ValueError) as info:
        funcmlp.load_state(
            tmp_path / "s.safetensors",
            jax.tree.map(lambda a: a.astype(jnp.float16) if a.dtype == jnp.float32 else a, adam.init(P3)),
        )
    assert_clear(info, r"^opt_state_like: leaf 1 expected shape \(4,\) and dtype float32 .* dtype float16")


# --- CLI: one line on stderr, exit code 2 ----------------------------------------------------------------

BAD_CLI = [
    ("steps-0", ["--steps", "0"], r"--steps: expected a positive integer, got 0"),
    ("steps-word", ["--steps", "many"], r"Error parsing --steps: .*'many'"),
    ("hidden-0", ["--hidden", "4", "0"], r"--hidden: expected positive layer widths, got 4 0"),
    ("lr-nan", ["--lr", "nan"], r"--lr: expected a finite non-negative number, got nan"),
    ("lr-negative", ["--lr", "-0.5"], r"--lr: expected a finite non-negative number, got -0\.5"),
    ("l2-negative", ["--l2", "-1"], r"--l2: expected a finite non-negative number, got -1\.0"),
    ("batch-size-0", ["--batch-size", "0"], r"--batch-size: expected a positive integer, got 0"),
    (
        "batch-size-above-n",
        ["--batch-size", "301"],
        r"--batch-size: expected at most 300 \(the training set's size\), got 301",
    ),
    ("n-per-class-0", ["--n-per-class", "0"], r"--n-per-class: expected a positive integer, got 0"),
    ("noise-negative", ["--noise", "-0.1"], r"--noise: expected a finite non-negative number, got -0\.1"),
    ("seed-negative", ["--seed", "-1"], r"--seed: expected an integer in \[0, 2\*\*32\), got -1"),
    ("activation", ["--activation", "gelu"], r"--activation: expected one of .* got 'gelu'"),
    ("dataset", ["--dataset", "mnist"], r"invalid choice 'mnist' for argument '--dataset'"),
    ("optimizer", ["--optimizer", "lbfgs"], r"invalid choice 'lbfgs' for argument '--optimizer'"),
    ("unknown-flag", ["--epochs", "3"], r"unknown option --epochs for 'funcmlp train'"),
]


def _no_training(*args, **kwargs):
    raise AssertionError("training started despite bad input")


@pytest.mark.parametrize(("argv", "pattern"), [c[1:] for c in BAD_CLI], ids=[c[0] for c in BAD_CLI])
def test_cli_bad_option_is_one_line_and_exit_2(argv, pattern, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(funcmlp, "train", _no_training)
    monkeypatch.setattr(funcmlp, "sweep", _no_training)
    out = tmp_path / "run"
    assert main(["train", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert re.match(rf"^funcmlp: error: .*{pattern}", err.strip()), err
    assert not out.exists()  # failed before the run directory was made


def test_cli_unknown_command_is_one_line_and_exit_2(capsys):
    assert main(["fit"]) == 2
    assert capsys.readouterr().err.strip() == (
        "funcmlp: error: unknown command 'fit'; (commands: train, sweep, show, predict)"
    )


def test_cli_unwritable_out_fails_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(funcmlp, "train", _no_training)
    monkeypatch.setattr(funcmlp, "sweep", _no_training)
    (tmp_path / "a-file").write_text("")
    assert main(["train", "--out", str(tmp_path / "a-file" / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(
        r"funcmlp: error: --out: expected a writable directory, got '.*a-file/run' \(.+\)", err
    ), err


def test_cli_divergence_writes_metrics_then_exits_1(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--lr", "1e30", "--steps", "5", "--n-per-class", "10", "--out", str(out)]) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert isinstance(metrics["diverged_at"], int) and 0 <= metrics["diverged_at"] < 5
    assert metrics["final_loss"] is None
    err = capsys.readouterr().err.strip().splitlines()
    step = metrics["diverged_at"]
    assert err == [f"funcmlp: error: the loss became non-finite at step {step}; see {out / 'metrics.json'}"]
    params, _ = funcmlp.load(out / "params.safetensors")  # the last finite parameters were saved
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(params))


def test_docs_list_every_refused_argument():
    doc = (Path(__file__).parents[1] / "docs" / "errors.md").read_text()
    cases = BAD_X + BAD_Y + BAD_PARAMS + BAD_CALLS + BAD_TRAIN + BAD_SWEEP + BAD_FILES + BAD_SAVES
    for case in cases:
        prefix = re.match(r"\^(\S+?:) ", case[-1]).group(1).replace("\\", "")
        assert f"`{prefix} " in doc, f"{case[0]}: {prefix} is not in docs/errors.md"
    for _, argv, _ in BAD_CLI:
        assert f"| `{argv[0]} " in doc, argv  # a row for each option
