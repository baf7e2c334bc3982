"""Training time with the registered derivative (``funcmlp.engine.fastpath``) of this tree against another
version of that module, in one process.

    python scripts/registered_derivative_timing.py --baseline OLD_FASTPATH.py

Each cell is compiled twice, once with each module (the engine looks ``fastpath`` up when it traces, and
each version trains with its own optimizer object, so each has its own compiled program); then the two
programs run alternately, ``--repeats`` times each. The table shows each version's fastest run and the
median of the ratios of the runs made back to back, which a busy machine disturbs least. The cells train
with the registered derivative on a CPU (``funcmlp.engine.plan``): the 2-4-3 lecture network
(``funcmlp.train``, full batch, relu + softmax), a 2-8-1 tanh network with a sigmoid head, and a 1024-model
``funcmlp.sweep`` of the 2-4-3 network. The last rows compare the optimised XLA programs of
``jax.value_and_grad`` of the registered loss (one model, and vmapped over 64 as a sweep's group is),
instruction by instruction.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax
import tyro

import funcmlp
from funcmlp import activations, heads
from funcmlp.engine import core, fastpath


@dataclasses.dataclass(frozen=True)
class Options:
    baseline: Path
    """The fastpath.py to compare with (e.g. the committed one, copied out of the tree)."""
    repeats: int = 15
    """Timed runs of each version per cell, alternating."""
    train_steps: int = 20_000
    sweep_steps: int = 60


def load(path: Path):
    """The module of the fastpath.py at ``path``."""
    spec = importlib.util.spec_from_file_location("fastpath_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cells(opt: Options):
    """name -> make(optimizer) -> a function that trains the cell and returns its losses."""
    x, y = funcmlp.data.spiral(jax.random.key(0))
    y2 = (y > 0).astype(y.dtype)
    p4 = funcmlp.init_params(jax.random.key(1), (2, 4, 3))
    p8 = funcmlp.init_params(jax.random.key(1), (2, 8, 1), scheme="glorot")

    def train_243(sgd):
        kw = dict(optimizer=sgd(1.0), steps=opt.train_steps)
        return lambda: funcmlp.train(p4, x, y, **kw).losses

    def train_281(sgd):
        kw = dict(optimizer=sgd(1.0), steps=opt.train_steps, activation="tanh", head="sigmoid")
        return lambda: funcmlp.train(p8, x, y2, **kw).losses

    def sweep_1024(sgd):
        kw = dict(sizes=(2, 4, 3), seeds=1024, learning_rates=[1.0], steps=opt.sweep_steps, optimizer=sgd)
        return lambda: funcmlp.sweep(jax.random.key(1), x, y, **kw).groups[0].losses

    return {"2-4-3 train": train_243, "2-8-1 tanh sigmoid train": train_281, "2-4-3 sweep x1024": sweep_1024}


def compiled(modules: dict, make) -> dict:
    """One compiled program per module version (each traced while the engine calls that module)."""
    out = {}
    for name, module in modules.items():
        core.fastpath = module

        def sgd(lr):  # a new factory per version: a new optimizer object, so a new compiled program
            return optax.sgd(lr)

        fn = make(sgd)
        jax.block_until_ready(fn())
        out[name] = fn
    core.fastpath = fastpath
    return out


def alternate(fns: dict, repeats: int) -> dict[str, list[float]]:
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t0)
    return times


def program(module, head: str, sizes, act: str, sums: str, models: int) -> str:
    """The optimised program of value_and_grad of the registered loss w.r.t. the params, sample weights and
    L2 weight (vmapped over ``models`` models when more than one), its instruction lines with names and
    source locations taken out."""
    x, y = funcmlp.data.spiral(jax.random.key(0))
    hd = heads.get(head)
    y = (y > 0).astype(y.dtype) if head == "sigmoid" else y
    t = hd.targets(y, sizes[-1], jnp.float32) if head != "linear" else x[:, :1]
    params = jax.vmap(lambda k: funcmlp.init_params(k, sizes))(jax.random.split(jax.random.key(1), models))
    a, w, l2 = activations.get(act), jnp.ones(x.shape[0]), jnp.float32(0.1)

    def f(p, w, l2):
        return module.loss(p, x, t, w, l2, act=a, head=hd, sums=sums)

    step = jax.value_and_grad(f, (0, 1, 2))
    if models > 1:
        step = jax.vmap(step, (0, None, None))
    else:
        params = jax.tree.map(lambda v: v[0], params)
    text = jax.jit(step).lower(params, w, l2).compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    lines = [line for line in text.splitlines() if re.match(r"\s*(ROOT )?%\S+ = ", line)]
    return "\n".join(re.sub(r"%[\w.\-]+", "%", line) for line in lines)


# (head, sizes, activation, sums, models) of the compared programs
PROGRAMS = (
    ("softmax", (2, 4, 3), "relu", "dot", 1),
    ("sigmoid", (2, 8, 1), "tanh", "reduce", 1),
    ("linear", (2, 5, 6, 1), "sigmoid", "dot", 1),
    ("softmax", (2, 4, 3), "leaky_relu", "reduce", 64),
)


def main(opt: Options) -> None:
    modules = {"baseline": load(opt.baseline), "tree": fastpath}
    print(f"{'cell':28s} {'baseline min s':>15s} {'tree min s':>11s} {'tree/baseline':>14s}")
    for name, make in cells(opt).items():
        times = alternate(compiled(modules, make), opt.repeats)
        ratio = statistics.median(t / b for t, b in zip(times["tree"], times["baseline"], strict=True))
        base, tree = min(times["baseline"]), min(times["tree"])
        print(f"{name:28s} {base:15.4f} {tree:11.4f} {ratio:14.3f} (min/min {tree / base:.3f})")
    for case in PROGRAMS:
        text = {k: program(m, *case) for k, m in modules.items()}
        same = "the same" if text["baseline"] == text["tree"] else "DIFFERENT"
        label = f"{'-'.join(map(str, case[1]))} {case[0]} {case[2]} sums={case[3]} x{case[4]}"
        n = text["tree"].count("\n") + 1
        print(f"optimised value_and_grad, {label}: {same} programs ({n} instructions)")


if __name__ == "__main__":
    main(tyro.cli(Options))
