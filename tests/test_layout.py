"""The package's layout limits: every function <= 60 lines and every module <= 300 lines
(``scripts/function_lengths.py``)."""

import importlib.util
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("function_lengths", ROOT / "scripts" / "function_lengths.py")
function_lengths = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(function_lengths)


def test_function_lengths_counts_def_to_last_line_nested_and_methods():
    source = textwrap.dedent(
        '''
        @decorator
        def f(a,
              b):
            """Doc."""

            def inner():
                return 1
            return a


        class C:
            def method(self):
                pass
        '''
    )
    assert function_lengths.function_lengths(source) == [(3, "f", 7), (7, "f.inner", 2), (13, "C.method", 2)]


def test_overlong_reports_functions_and_modules_over_the_limits(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "ok.py").write_text("def f():\n" + "    x = 1\n" * 2)
    (pkg / "long.py").write_text("def f():\n" + "    x = 1\n" * 3 + "\n" * 2)
    found = function_lengths.overlong(pkg, max_function=3, max_module=5)
    assert [(str(o.path), o.line, o.name, o.lines) for o in found] == [
        ("pkg/long.py", 1, "<module>", 6),
        ("pkg/long.py", 1, "f", 4),
    ]


def test_every_function_and_module_is_within_the_limits():
    found = function_lengths.overlong(ROOT / "funcmlp")
    lines = [f"{o.path}:{o.line} {o.name} {o.lines} lines" for o in found]
    assert not found, (
        f"over {function_lengths.MAX_FUNCTION_LINES} lines a function or "
        f"{function_lengths.MAX_MODULE_LINES} a module:\n" + "\n".join(lines)
    )
