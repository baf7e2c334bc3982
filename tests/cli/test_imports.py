"""The command line is a shell over the library: its modules import each other without a circle (imports
inside functions included), and the library never imports the command line."""

import ast
from pathlib import Path

import funcmlp

PACKAGE = Path(funcmlp.__file__).parent


def is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Every ``funcmlp...`` module a file imports, anywhere in it (module level or inside a function):
    ``from a import b`` imports module ``a.b`` when there is one, else ``a``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("funcmlp"):
            for a in node.names:
                name = f"{node.module}.{a.name}"
                found.add(name if is_module(name) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("funcmlp")}
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph(folder: Path) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in folder.rglob("*.py")}
    return {m: {i for i in imports(p) if i in modules and i != m} for m, p in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports, or None (depth-first search)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cli_modules_import_each_other_without_a_circle():
    edges = graph(PACKAGE / "cli")
    assert "funcmlp.cli.train" in edges and "funcmlp.cli.train" in edges["funcmlp.cli.sweep"]
    assert cycle(edges) is None, cycle(edges)


def test_the_cycle_finder_finds_a_circle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_library_never_imports_the_command_line():
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        assert not any(i.startswith("funcmlp.cli") for i in imports(path)), path
