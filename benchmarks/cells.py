"""The cells of the benchmark matrix (``benchmarks.matrix``): one training problem each, with its data and
initial parameters drawn from fixed keys, so that every implementation trains from the same start."""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp

import funcmlp
from funcmlp import data as datasets


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training problem of the matrix.

    Attributes:
      name: the row's name.
      sizes: layer widths (d_0, ..., d_L).
      data: ``"spiral"`` (the 300-point lecture spiral; needs d_0 = 2, d_L = 3) or ``"synthetic"``
        (x ~ N(0, 1) of shape (n, d_0), labels uniform in [0, d_L)).
      n: number of samples.
      lr: SGD learning rate.
      steps: optimizer steps per timed run; quick_steps: in the quick mode.
      batch_size: None for full batch; with a batch size, steps must be whole epochs of the plain loop
        (multiples of n // batch_size).
      models: 1 for ``funcmlp.train``; more for ``funcmlp.sweep`` (seeds = models, one learning rate).
      torch_steps: steps per timed PyTorch run (an eager loop is slower on small nets); None: ``steps``.
      optimizer: the optax factory's name (``optax.<optimizer>(lr)``), ``"sgd"`` or ``"adam"``.
      devices: how many JAX devices a sweep spreads its models over (None: all).
      kind: ``"mlp"`` (the built-in MLP, the fields above), or ``"custom model"`` / ``"config axis"``: the
        cells of ``benchmarks.models`` whose names begin so (their own data, grid and plain-JAX loop; ``models``
        is their model count, ``sizes`` the widths shown).
    """

    name: str
    sizes: tuple[int, ...]
    data: str
    n: int
    lr: float
    steps: int
    quick_steps: int
    batch_size: int | None = None
    models: int = 1
    torch_steps: int | None = None
    optimizer: str = "sgd"
    devices: int | None = None
    kind: str = "mlp"

    def __post_init__(self):
        if self.batch_size is not None:
            epoch = self.n // self.batch_size
            for k in (self.steps, self.quick_steps, self.torch_steps or epoch):
                if k % epoch:
                    raise ValueError(f"{self.name}: steps {k} are not whole epochs of {epoch} batches")

    def steps_for(self, quick: bool) -> int:
        return self.quick_steps if quick else self.steps


# Step counts: each timed run takes about 0.2-1 s on the project's machine (2 Xeon cores) when it is
# quiet, and up to 2.5x longer under load.
CELLS: tuple[Cell, ...] = (
    Cell("2-4-3 train", (2, 4, 3), "spiral", 300, 1.0, 40_000, 20, torch_steps=2_000),
    Cell("2-4-3 sweep x1024", (2, 4, 3), "spiral", 300, 1.0, 60, 3, models=1024),
    Cell("2-4-3 sweep x16384", (2, 4, 3), "spiral", 300, 1.0, 4, 2, models=16384),
    Cell("2-64-64-3 full batch", (2, 64, 64, 3), "spiral", 300, 0.1, 2_000, 20, torch_steps=1_000),
    Cell("784-512-512-10 batch 128", (784, 512, 512, 10), "synthetic", 2048, 0.01, 96, 16, batch_size=128),
    Cell("784-512-512-10 full batch", (784, 512, 512, 10), "synthetic", 2048, 0.01, 6, 2),
    Cell(
        "20-32-2 batch 32", (20, 32, 2), "synthetic", 5000, 0.1, 15_600, 156, batch_size=32, torch_steps=1_560
    ),
    # model counts that are not a multiple of the CPU group of 64 (funcmlp.engine.plan.groups), on one
    # device so that the whole count is grouped; both take the registered derivative (a sweep on the CPU
    # does up to plan.SWEEP_WIDE units; 2-16-3 took autodiff before, 2-4-3 is narrow)
    *(
        Cell(f"{name} {opt} x{m}", sizes, "spiral", 300, lr, steps, 3, models=m, optimizer=opt, devices=1)
        for m, steps in ((72, 300), (100, 200), (1000, 24))
        for name, sizes, opt, lr in (("2-16-3", (2, 16, 3), "sgd", 0.5), ("2-4-3", (2, 4, 3), "adam", 0.01))
    ),
    # a model of your own (funcmlp.Model) and a config axis (values reaching the loss and the activation),
    # on one device as plain JAX's one vmap
    *(
        Cell(name, sizes, "spiral", 300, lr, 1000, 3, models=m, devices=1, kind=kind)
        for name, sizes, lr, m, kind in (
            ("residual own x48", (2, 32, 32, 3), 0.1, 48, "custom model"),
            ("2-16-3 focal x slope x72", (2, 16, 3), 0.3, 72, "config axis"),
        )
    ),
)


def cell(name: str) -> Cell:
    """The cell of ``CELLS`` called ``name``."""
    for c in CELLS:
        if c.name == name:
            return c
    raise ValueError(f"cell: expected one of {[c.name for c in CELLS]}, got {name!r}")


def make_data(c: Cell) -> tuple[jax.Array, jax.Array]:
    """(x float32 (n, d_0), y int32 (n,)) of a cell, always drawn from the same keys."""
    if c.data == "spiral":
        return datasets.spiral(jax.random.key(0), c.n // 3)
    kx, ky = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (c.n, c.sizes[0]), jnp.float32)
    return x, jax.random.randint(ky, (c.n,), 0, c.sizes[-1], jnp.int32)


# Seeds of the initial parameters (for a sweep: of funcmlp.sweep's key) and of the mini-batch shuffles.
INIT_SEED, BATCH_SEED = 1, 2


@partial(jax.jit, static_argnames=("sizes", "models"))
def _stacked_init(key, *, sizes, models):
    """The initial parameters of ``funcmlp.sweep``'s models: init_params(split(key, models)[j])."""
    return jax.vmap(lambda k: funcmlp.init_params(k, sizes))(jax.random.split(key, models))


def initial_params(c: Cell):
    """One model's parameters (``funcmlp.init_params``), or the stack of the sweep's ``models`` models."""
    if c.models == 1:
        return funcmlp.init_params(jax.random.key(INIT_SEED), c.sizes)
    return _stacked_init(jax.random.key(INIT_SEED), sizes=c.sizes, models=c.models)
