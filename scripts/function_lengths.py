"""Functions and modules of funcmlp over the length limits: a function is at most 60 lines (from its ``def``
line to its last line, signature and docstring included), a module at most 300 lines.

    python scripts/function_lengths.py [ROOT]

Prints one line per function or module over its limit (``path:line name lines``) and exits 1 when there is
any; ROOT defaults to the ``funcmlp`` package beside this script.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import NamedTuple

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 300
PACKAGE = Path(__file__).resolve().parent.parent / "funcmlp"


class Overlong(NamedTuple):
    """One function or module over its limit: ``name`` is ``"<module>"`` for a whole module."""

    path: Path
    line: int
    name: str
    lines: int


def function_lengths(source: str) -> list[tuple[int, str, int]]:
    """(def line, qualified name, lines) of every function and method in ``source``, nested ones included.

    The length is ``end_lineno - lineno + 1`` of the ``def`` node: signature, docstring and body, without
    its decorators.
    """
    found: list[tuple[int, str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                found.append((child.lineno, name, child.end_lineno - child.lineno + 1))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def overlong(
    root: Path = PACKAGE, *, max_function: int = MAX_FUNCTION_LINES, max_module: int = MAX_MODULE_LINES
) -> list[Overlong]:
    """Every function longer than ``max_function`` lines and module longer than ``max_module`` under ``root``.

    Returns:
      the offenders sorted by path and line; paths are relative to ``root``'s parent.
    """
    found = []
    for path in sorted(Path(root).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(Path(root).parent)
        n_lines = len(source.splitlines())
        if n_lines > max_module:
            found.append(Overlong(rel, 1, "<module>", n_lines))
        for line, name, n in function_lengths(source):
            if n > max_function:
                found.append(Overlong(rel, line, name, n))
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else PACKAGE
    found = overlong(root)
    for item in found:
        print(f"{item.path}:{item.line} {item.name} {item.lines} lines")
    print(
        f"{len(found)} over the limits ({MAX_FUNCTION_LINES} lines a function, {MAX_MODULE_LINES} a module)",
        file=sys.stderr,
    )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
