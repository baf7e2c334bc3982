"""A params pytree in a file without pickle: a JSON skeleton of its nested dicts, lists and tuples, and its
arrays by index (``save_sweep`` stores a model of your own this way, ``funcmlp.models``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def count(tree: Any) -> int:
    """The number of leaves a ``skeleton`` describes (0 for None)."""
    if tree is None:
        return 0
    ((kind, value),) = tree.items()
    if kind == "leaf":
        return 1
    return sum(count(v) for v in (value.values() if kind == "dict" else value))


def skeleton(
    tree: Any, leaves: list[Any], where: str, check_leaf: Callable[[Any, str], Any] = lambda a, _: a
) -> Any:
    """A JSON description of a params pytree of nested dicts (string keys), lists and tuples, its arrays
    appended to ``leaves`` and named by their index: ``{"dict": {k: ...}}``, ``{"list": [...]}``,
    ``{"tuple": [...]}``, ``{"leaf": i}``."""
    if isinstance(tree, dict):
        if not all(isinstance(k, str) for k in tree):
            raise TypeError(f"{where}: expected string keys to store, got {sorted(map(repr, tree))}")
        return {
            "dict": {
                k: skeleton(v, leaves, check_leaf=check_leaf, where=f"{where}[{k!r}]")
                for k, v in tree.items()
            }
        }
    if isinstance(tree, (list, tuple)) and type(tree) in (list, tuple):
        kind = "list" if isinstance(tree, list) else "tuple"
        return {
            kind: [
                skeleton(v, leaves, check_leaf=check_leaf, where=f"{where}[{i}]") for i, v in enumerate(tree)
            ]
        }
    if hasattr(tree, "shape") and hasattr(tree, "dtype"):
        leaves.append(check_leaf(tree, where))
        return {"leaf": len(leaves) - 1}
    raise TypeError(
        f"{where}: expected nested dicts, lists and tuples of arrays to store, got {type(tree).__name__}"
    )


def rebuild(tree: Any, leaves: list[Any]) -> Any:
    """The pytree ``skeleton`` described, with ``leaves`` in its places."""
    ((kind, value),) = tree.items()
    if kind == "dict":
        return {k: rebuild(v, leaves) for k, v in value.items()}
    if kind in ("list", "tuple"):
        items = [rebuild(v, leaves) for v in value]
        return items if kind == "list" else tuple(items)
    return leaves[int(value)]
