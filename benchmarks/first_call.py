"""First calls: the compile-and-first-run time of ``funcmlp.train`` and of plain JAX, each in a fresh process.

A fresh Python process has no compiled program in memory (and JAX's persistent compilation cache is turned
off for it), so its first call compiles. Each run builds the cell's data and parameters (not timed), then
times a first and a second (warm) call of one of

* ``funcmlp``: ``funcmlp.train`` (factory form, as the matrix's train cell);
* ``engine``: the engine's two-program form, ``engine.run_fast`` jitted, with ``engine.run`` compiled and
  called only where ``run_fast`` says its result is not clean (``funcmlp.engine.runner``): what ``train``
  compiles when it calls the engine that way;
* ``plain``: ``benchmarks.plain.plain_train`` (``jit(lax.scan)`` of value_and_grad + optax).

compile = first call - warm call. The processes of the three alternate (A B C A B C ...), and the median
of ``repeats`` processes is kept.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WHO = ("funcmlp", "engine", "plain")

_SCRIPT = """
import json, sys, time
from functools import partial
import jax, jax.numpy as jnp, optax
import funcmlp
from funcmlp import engine, training
from benchmarks.cells import BATCH_SEED, cell, initial_params, make_data
from benchmarks.plain import plain_train

who, name, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = cell(name)
x, y = make_data(c)
params = initial_params(c)
key = jax.random.key(BATCH_SEED)
hp = {"learning_rate": c.lr}
factory = getattr(optax, c.optimizer)

if who == "funcmlp":
    def call():
        return funcmlp.train(params, x, y, optimizer=factory, hyperparams=hp, steps=steps,
                             batch_size=c.batch_size, batch_key=key)
elif who == "engine":
    @partial(jax.jit, static_argnames=("spec", "length", "fast"))
    def program(state, data, start, *, spec, length, fast):
        data = data._replace(y=spec.objective.targets(data.y, c.sizes[-1], data.x.dtype))
        go = engine.run_fast if fast else engine.run
        return go(state, data, start, spec=spec, length=length)

    def call():
        objective = training.make_objective("relu", "softmax", c.sizes, batch_size=c.batch_size)
        spec = engine.Spec(objective, factory, c.batch_size)
        traced = {k: jnp.float32(v) for k, v in hp.items()}
        state = engine.init_state(params, spec, key, 0, x.shape[0], traced)
        data = engine.Data(x, y, key, None, jnp.int32(steps))
        kw = dict(spec=spec, length=steps)
        new, losses, clean = program(state, data, jnp.int32(0), fast=True, **kw)
        if not bool(clean):
            new, losses = program(state, data, jnp.int32(0), fast=False, **kw)
        return new.params, losses
else:
    def call():
        return plain_train(params, x, y, key, lr=c.lr, steps=steps, batch_size=c.batch_size,
                           optimizer=c.optimizer)

times = []
for _ in range(2):
    t0 = time.perf_counter()
    jax.block_until_ready(call())
    times.append(time.perf_counter() - t0)
print(json.dumps({"first": times[0], "warm": times[1]}))
"""


def fresh(who: str, cell: str, steps: int) -> dict:
    """{"first", "warm"} seconds of ``who``'s first two calls of ``steps`` steps on ``cell`` in a new Python
    process."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["FUNCMLP_NO_CACHE"] = "1"
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, who, cell, str(steps)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"first call of {who} on {cell!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(cell: str = "2-4-3 train", repeats: int = 3, steps: int = 2000) -> dict:
    """Median first-call, warm-call and compile (first - warm) seconds of each of ``WHO`` on ``cell`` (its
    first ``steps`` steps: few, so that the run's own time adds little noise), each in a fresh process; a
    JSON-ready dict with ``{who}_first_call_s``, ``{who}_compile_s`` and the ratios ``compile_ratio``
    (funcmlp / plain) and ``engine_compile_ratio`` (engine / plain)."""
    runs: dict[str, list[dict]] = {w: [] for w in WHO}
    for _ in range(repeats):
        for w in WHO:
            runs[w].append(fresh(w, cell, steps))
    out: dict = {"cell": cell, "steps": steps, "repeats": repeats}
    for w in WHO:
        out[f"{w}_first_call_s"] = statistics.median(r["first"] for r in runs[w])
        out[f"{w}_warm_s"] = statistics.median(r["warm"] for r in runs[w])
        out[f"{w}_compile_s"] = statistics.median(r["first"] - r["warm"] for r in runs[w])
    out["compile_ratio"] = out["funcmlp_compile_s"] / out["plain_compile_s"]
    out["engine_compile_ratio"] = out["engine_compile_s"] / out["plain_compile_s"]
    return out
