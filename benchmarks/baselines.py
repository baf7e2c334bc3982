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

The three JAX runs are ``benchmarks.plain``'s loops on a loss written out by hand here, and the PyTorch loop
is ``torch_losses``, which the benchmark matrix also runs on its cells (any depth, mini-batches).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import plain

Run = Callable[[int], float]


def installed(name: str) -> bool:
    """Whether the module ``name`` (a peer library of the extra ``bench``) can be imported."""
    return importlib.util.find_spec(name) is not None


def _numpy_params(params) -> list[np.ndarray]:
    return [np.array(a, np.float32) for layer in params for a in (layer["w"], layer["b"])]


def numpy_loop(params, x, y, lr: float) -> Run:
    x, y = np.asarray(x, np.float32), np.asarray(y)
    n = x.shape[0]
    rows = np.arange(n)

    def run(steps: int) -> float:
        w1, b1, w2, b2 = _numpy_params(params)
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
    if not installed("sklearn"):
        return None
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = np.asarray(x, np.float32), np.asarray(y)
    hidden = params[0]["w"].shape[1]

    def run(steps: int) -> float:
        clf = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            activation="relu",
            solver="sgd",
            alpha=0.0,
            batch_size=x.shape[0],
            learning_rate="constant",
            learning_rate_init=lr,
            momentum=0.0,
            nesterovs_momentum=False,
            max_iter=steps,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=steps + 1,
            random_state=0,
        )
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
    step = jax.jit(lambda carry: plain.sgd_step(_jax_loss, opt)(carry, (x, y)))

    def run(steps: int) -> float:
        carry = (params, opt.init(params))
        for _ in range(steps):
            carry, loss = step(carry)
        return float(loss)

    return run


def jax_scan(params, x, y, lr: float) -> Run:
    train = partial(plain.plain_train, lr=lr, loss_fn=_jax_loss)
    return lambda steps: float(train(params, x, y, steps=steps)[1][-1])


def jax_vmap_scan(stacked_params, x, y, lr: float) -> Run:
    """``stacked_params``: params with a leading model axis; returns the mean final loss over models."""
    train = partial(plain.plain_train, lr=lr, loss_fn=_jax_loss, models=True)
    return lambda steps: float(train(stacked_params, x, y, steps=steps)[1][:, -1].mean())


def torch_losses(params, x, y, lr: float, batch_size: int | None = None) -> Callable[[int], np.ndarray]:
    """PyTorch eager: ``nn.Linear`` layers from ``params`` with ReLU, ``optim.SGD``, cross-entropy; a fresh
    ``randperm`` per epoch for mini-batches (last partial batch dropped). ``run(steps)`` returns the loss of
    every step."""
    import torch

    xt = torch.from_numpy(np.asarray(x, np.float32))
    yt = torch.from_numpy(np.asarray(y, np.int64))
    n, bs = xt.shape[0], batch_size
    per_epoch = 1 if bs is None else n // bs

    def run(steps: int) -> np.ndarray:
        layers: list[torch.nn.Module] = []
        for i, layer in enumerate(params):
            lin = torch.nn.Linear(*layer["w"].shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(layer["w"], np.float32).T))
                lin.bias.copy_(torch.from_numpy(np.array(layer["b"], np.float32)))
            layers += [lin, torch.nn.ReLU()] if i < len(params) - 1 else [lin]
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.SGD(net.parameters(), lr=lr)
        gen, perm, out = torch.Generator().manual_seed(0), None, []
        for t in range(steps):
            xb, yb = xt, yt
            if bs is not None:
                if t % per_epoch == 0:
                    perm = torch.randperm(n, generator=gen)
                idx = perm[(t % per_epoch) * bs : (t % per_epoch + 1) * bs]
                xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            out.append(loss.detach())
        return torch.stack(out).numpy()

    return run


def torch_loop(params, x, y, lr: float) -> Run | None:
    if not installed("torch"):
        return None
    run = torch_losses(params, x, y, lr)
    return lambda steps: float(run(steps)[-1])


def equinox_loop(params, x, y, lr: float) -> Run | None:
    if not installed("equinox"):
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
    if not installed("flax"):
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
