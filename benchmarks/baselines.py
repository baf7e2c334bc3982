"""What a user would otherwise run: the lecture's net trained by full-batch gradient descent, written plainly.

Every baseline trains ``sizes = (d_0, h, K)`` with ReLU and softmax cross-entropy on (x, y) by
w_new = w_old - alpha dJ/dw, starting from the given params, and is returned as ``run(steps)`` (run it,
return the final loss as a float), so ``benchmarks.bench`` times it the same way for all:

* ``numpy_loop``: the backward pass by hand in numpy (the CS231n case study);
* ``sklearn_mlp``: scikit-learn's ``MLPClassifier`` (sgd, one batch of all samples, momentum 0, alpha 0);
* ``jax_python_loop``: JAX + optax, a jitted step called from a Python loop;
* ``jax_scan``: JAX + optax, the whole loop in ``jit(lax.scan)``;
* ``jax_vmap_scan``: ``jit(vmap(scan))`` over a stack of models (the naive batched run);
* ``torch_loop``, ``equinox_loop``, ``flax_loop``: the same loop in PyTorch (eager), Equinox and Flax NNX
  (a jitted step in a Python loop); ``None`` where the library is not installed (extra ``bench``).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

Run = Callable[[int], float]


def _plain(params) -> list[np.ndarray]:
    return [np.array(a, np.float32) for layer in params for a in (layer["w"], layer["b"])]


def numpy_loop(params, x, y, lr: float) -> Run:
    x, y = np.asarray(x, np.float32), np.asarray(y)
    n = x.shape[0]
    rows = np.arange(n)

    def run(steps: int) -> float:
        w1, b1, w2, b2 = _plain(params)
        for _ in range(steps):
            h = np.maximum(0, x @ w1 + b1)  # hidden layer, ReLU
            scores = h @ w2 + b2
            scores -= scores.max(axis=1, keepdims=True)
            p = np.exp(scores)
            p /= p.sum(axis=1, keepdims=True)  # softmax
            loss = -np.log(p[rows, y]).mean()
            dscores = p
            dscores[rows, y] -= 1
            dscores /= n  # dJ/dz^2
            dw2, db2 = h.T @ dscores, dscores.sum(axis=0)
            dh = dscores @ w2.T
            dh[h <= 0] = 0  # back through the ReLU
            dw1, db1 = x.T @ dh, dh.sum(axis=0)
            w1 -= lr * dw1
            b1 -= lr * db1
            w2 -= lr * dw2
            b2 -= lr * db2
        return float(loss)

    return run


def sklearn_mlp(params, x, y, lr: float) -> Run | None:
    if importlib.util.find_spec("sklearn") is None:
        return None
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = np.asarray(x, np.float32), np.asarray(y)
    hidden = params[0]["w"].shape[1]

    def run(steps: int) -> float:
        clf = MLPClassifier(
            hidden_layer_sizes=(hidden,), activation="relu", solver="sgd", alpha=0.0, batch_size=x.shape[0],
            learning_rate="constant", learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False,
            max_iter=steps, shuffle=False, tol=0.0, n_iter_no_change=steps + 1, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x, y)  # one epoch = one full-batch step
        return float(clf.loss_)

    return run


def _jax_loss(params, x, y):
    h = jax.nn.relu(x @ params[0]["w"] + params[0]["b"])
    logits = h @ params[1]["w"] + params[1]["b"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def jax_python_loop(params, x, y, lr: float) -> Run:
    opt = optax.sgd(lr)

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(_jax_loss)(p, x, y)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def run(steps: int) -> float:
        p, s = params, opt.init(params)
        for _ in range(steps):
            p, s, loss = step(p, s)
        return float(loss)

    return run


def _scan(params, x, y, opt, steps):
    def step(carry, _):
        p, s = carry
        loss, g = jax.value_and_grad(_jax_loss)(p, x, y)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), loss

    return jax.lax.scan(step, (params, opt.init(params)), length=steps)[1]


def jax_scan(params, x, y, lr: float) -> Run:
    fn, opt = jax.jit(_scan, static_argnames=("opt", "steps")), optax.sgd(lr)
    return lambda steps: float(fn(params, x, y, opt, steps)[-1])


def jax_vmap_scan(stacked_params, x, y, lr: float) -> Run:
    """``stacked_params``: params with a leading model axis; returns the mean final loss over models."""
    fn = jax.jit(jax.vmap(_scan, in_axes=(0, None, None, None, None)), static_argnames=("opt", "steps"))
    opt = optax.sgd(lr)
    return lambda steps: float(fn(stacked_params, x, y, opt, steps)[:, -1].mean())


def torch_loop(params, x, y, lr: float) -> Run | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    xt, yt = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.int64))

    def run(steps: int) -> float:
        w = [torch.tensor(a, requires_grad=True) for a in _plain(params)]
        opt = torch.optim.SGD(w, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            logits = torch.relu(xt @ w[0] + w[1]) @ w[2] + w[3]
            loss = torch.nn.functional.cross_entropy(logits, yt)
            loss.backward()
            opt.step()
        return float(loss)

    return run


def equinox_loop(params, x, y, lr: float) -> Run | None:
    if importlib.util.find_spec("equinox") is None:
        return None
    import equinox as eqx

    d0, hidden, k = params[0]["w"].shape[0], params[0]["w"].shape[1], params[1]["w"].shape[1]
    model = eqx.nn.MLP(d0, k, hidden, depth=1, activation=jax.nn.relu, key=jax.random.key(0))
    opt = optax.sgd(lr)

    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(jax.vmap(m)(x), y).mean()

    @eqx.filter_jit
    def step(m, s):
        loss, g = eqx.filter_value_and_grad(loss_fn)(m)
        u, s = opt.update(g, s, m)
        return eqx.apply_updates(m, u), s, loss

    def run(steps: int) -> float:
        m, s = model, opt.init(eqx.filter(model, eqx.is_array))
        for _ in range(steps):
            m, s, loss = step(m, s)
        return float(loss)

    return run


def flax_loop(params, x, y, lr: float) -> Run | None:
    if importlib.util.find_spec("flax") is None:
        return None
    from flax import nnx

    d0, hidden, k = params[0]["w"].shape[0], params[0]["w"].shape[1], params[1]["w"].shape[1]

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(d0, hidden, rngs=rngs)
            self.out = nnx.Linear(hidden, k, rngs=rngs)

        def __call__(self, inputs):
            return self.out(jax.nn.relu(self.hidden(inputs)))

    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

    @nnx.jit
    def step(model, optimizer):
        loss, g = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, g)
        return loss

    model = Net(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(lr), wrt=nnx.Param)

    def run(steps: int) -> float:  # goes on from the previous call's state: built once, compiled once
        for _ in range(steps):
            loss = step(model, optimizer)
        return float(loss)

    return run


def stack(params_list) -> list:
    """Params of several models stacked along a new leading axis (for ``jax_vmap_scan``)."""
    return jax.tree.map(lambda *a: jnp.stack(a), *params_list)
