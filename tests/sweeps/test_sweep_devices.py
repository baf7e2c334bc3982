"""The sweep across several devices and several processes, each in fresh interpreters (device counts are
fixed when JAX starts). The one-device numbers both tests compare with are computed once, in this process."""

import inspect
import json
import os
import socket
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import funcmlp
from funcmlp import data

# tests/conftest.py compiles every test program at this level; the child processes do too.
OPT_LEVEL = "--xla_backend_optimization_level=0"


def run(problem, seeds=4, lrs=(0.01, 0.1), **extra):
    x, y = problem["x"], problem["y"]
    return funcmlp.sweep(
        jax.random.key(1),
        x,
        y,
        sizes=(2, 4, 3),
        seeds=seeds,
        learning_rates=list(lrs),
        steps=30,
        optimizer=optax.adam,
        dtype=jnp.float64,
        evaluate={"val": (x[::2], y[::2])},
        **extra,
    )


def run3(problem, **extra):
    # a 3-axis grid (learning rate x b1 x l2) x 4 seeds, each seed on its own bootstrap of the data
    xs, ys = problem["xs"], problem["ys"]
    hp = {"learning_rate": [0.01, 0.1], "b1": [0.9, 0.5]}
    return funcmlp.sweep(
        jax.random.key(1),
        xs,
        ys,
        sizes=(2, 4, 3),
        seeds=4,
        hyperparams=hp,
        l2=[0.0, 1e-3],
        steps=20,
        optimizer=optax.adam,
        dtype=jnp.float64,
        evaluate={"val": (xs[:, ::2], ys[:, ::2])},
        **extra,
    )


def compared(group):
    """The arrays of a group that a run on other devices must reproduce: params, losses, diverged_at,
    metrics and optimizer state (GroupResult's fields after sizes and activation)."""
    return jax.tree.leaves(tuple(group)[2:])


# the children run the very same run, run3 and compared
COMMON = (
    """
import json, sys
import jax, jax.numpy as jnp, numpy as np, optax
jax.config.update("jax_enable_x64", True)
import funcmlp
"""
    + inspect.getsource(run)
    + inspect.getsource(run3)
    + inspect.getsource(compared)
)


FOUR_DEVICES = """
from funcmlp.sweeps import programs
from funcmlp.sweeps.mesh import to_host
assert len(jax.devices()) == 4, jax.devices()
problem = dict(np.load(sys.argv[2]))
calls = []
traced = programs.train_steps
programs.train_steps = lambda *a, **kw: calls.append((a, kw)) or traced(*a, **kw)
four = run(problem)
programs.train_steps = traced
(g4,) = four.groups
leaves4 = jax.tree.leaves((g4.params, g4.losses, g4.metrics))
held = [sorted(str(s.index) for s in a.addressable_shards) for a in leaves4]
shapes = [[s.data.shape for s in a.addressable_shards] for a in jax.tree.leaves(g4.params)]
(args, kw), = calls
hlo = traced.lower(*args, **kw).compile().as_text()
p4 = run(problem, seeds=3, lrs=[0.01, 0.1, 1.0])  # 9 models on 4 devices: padded to 12
(q4,) = run3(problem).groups
# every group's arrays, to compare with the one-device run in the test's process
arrays = {
    f"{name}_{k}": to_host(a)
    for name, g in (("run", g4), ("padded", p4.groups[0]), ("grid3", q4))
    for k, a in enumerate(compared(g))
}
np.savez(sys.argv[1], **arrays)
collectives = ("all-gather", "all-reduce", "all-to-all", "collective-permute")
print(json.dumps({
    "grid3_shape": list(q4.losses.shape),
    "grid3_devices": len(q4.losses.sharding.device_set),
    "devices": [len(a.sharding.device_set) for a in jax.tree.leaves((g4.params, g4.losses))],
    "distinct_blocks": [len(set(h)) for h in held],
    "param_shard_shapes": [sorted(set(s)) for s in shapes],
    "param_shapes": [list(a.shape) for a in jax.tree.leaves(g4.params)],
    "loop": "while" in hlo,
    "collectives": [op for op in collectives if op in hlo],
    "padded_shape": list(p4.groups[0].losses.shape),
}))
"""

PROCESS = """
pid, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
problem = dict(np.load(sys.argv[4]))
jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=pid, initialization_timeout=60)
assert jax.process_count() == 2 and len(jax.devices()) == 4 and len(jax.local_devices()) == 2
result = run(problem)
(g,) = result.groups
(g3,) = run3(problem).groups
from funcmlp.sweeps.mesh import to_host
arrays = {
    "grid3_losses": to_host(g3.losses),
    "grid3_w0": to_host(g3.params[0]["w"]),
    "losses": to_host(g.losses),
    "w0": to_host(g.params[0]["w"]),
    "val_accuracy": to_host(g.metrics["val_accuracy"]),
}
local = sorted({d.id for a in jax.tree.leaves(g.params) for d in (s.device for s in a.addressable_shards)})
report = {"table": result.table(), "local_devices": local}
report["global_devices"] = len(g.losses.sharding.device_set)
with open(out, "w") as f:
    json.dump({**report, **{k: v.tolist() for k, v in arrays.items()}}, f)
jax.distributed.shutdown()
"""


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    """The data of both grids, built once: a 60-point spiral in float64 and 4 bootstrap resamples of it (one
    per seed), as numpy arrays and as the .npz file the children read them from."""
    with jax.enable_x64(True):
        x, y = data.spiral(jax.random.key(0), 20)
        x = x.astype(jnp.float64)
        xs, ys = data.bootstrap(jax.random.key(4), x, y, 4)
    path = tmp_path_factory.mktemp("problem") / "problem.npz"
    np.savez(path, x=x, y=y, xs=xs, ys=ys)
    return path, dict(np.load(path))


@pytest.fixture(scope="module")
def one_device(problem):
    """The one-device, one-process groups of the grids the children train: run(), the padded run() of 3
    seeds x 3 learning rates, and run3()."""
    _, arrays = problem
    with jax.enable_x64(True):
        device = jax.devices()[:1]
        (g,) = run(arrays, devices=device).groups
        (padded,) = run(arrays, seeds=3, lrs=[0.01, 0.1, 1.0], devices=device).groups
        (g3,) = run3(arrays, devices=device).groups
    return {"run": g, "padded": padded, "grid3": g3}


def run_child(code, *args, env=None, timeout=240):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(COMMON + code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_four_devices_give_the_one_device_numbers_and_keep_their_blocks(problem, one_device, tmp_path):
    # the children compile as the tests do (tests/conftest.py's optimisation level), on 4 host devices
    env = {"XLA_FLAGS": f"{OPT_LEVEL} --xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    out = tmp_path / "four.npz"
    report = json.loads(run_child(FOUR_DEVICES, out, problem[0], env=env).stdout.strip().splitlines()[-1])
    want = {f"{name}_{k}": a for name, g in one_device.items() for k, a in enumerate(compared(g))}
    with np.load(out) as arrays:  # every group's arrays: the same numbers on 4 devices as on 1
        assert sorted(arrays) == sorted(want)
        for k, b in want.items():
            np.testing.assert_allclose(arrays[k], np.asarray(b), rtol=1e-6, atol=1e-12, err_msg=k)
    assert set(report["devices"]) == {4}  # every result array lives on all 4 devices ...
    assert set(report["distinct_blocks"]) == {4}  # ... each holding its own block, not a copy
    for shard_shapes, shape in zip(report["param_shard_shapes"], report["param_shapes"], strict=True):
        (block,) = shard_shapes
        assert np.prod(block) * 4 == np.prod(shape)
    assert report["loop"] and report["collectives"] == []
    assert report["padded_shape"] == [3, 3, 30]
    # the 3-axis grid with per-seed data: the same numbers on 4 devices as on 1, spread over all 4
    assert report["grid3_shape"] == [2, 2, 2, 4, 20] and report["grid3_devices"] == 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_give_the_single_process_numbers(problem, one_device, tmp_path, x64):
    port = free_port()
    code = textwrap.dedent(COMMON + PROCESS)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": OPT_LEVEL}  # no host device count of ours
    outs = [tmp_path / f"process{i}.json" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(i), str(port), str(outs[i]), str(problem[0])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err[-3000:]
    g, g3 = one_device["run"], one_device["grid3"]
    reports = [json.loads(o.read_text()) for o in outs]
    held = [set(r["local_devices"]) for r in reports]
    assert [len(h) for h in held] == [2, 2] and not held[0] & held[1]  # each process trained its own half
    for r in reports:
        assert r["global_devices"] == 4
        np.testing.assert_allclose(r["losses"], g.losses, rtol=1e-6)
        np.testing.assert_allclose(r["w0"], g.params[0]["w"], rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(r["val_accuracy"], g.metrics["val_accuracy"], rtol=1e-6)
        assert [row["diverged_at"] for row in r["table"]] == [None] * 8
        np.testing.assert_allclose(r["grid3_losses"], g3.losses, rtol=1e-6)
        np.testing.assert_allclose(r["grid3_w0"], g3.params[0]["w"], rtol=1e-6, atol=1e-12)
