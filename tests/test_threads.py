"""No library code changes torch's global thread count.

``torch.set_num_threads`` is process-wide: a library function calling it silently changes the
speed of everything else in the caller's process. Only entry points may set it once, from an
option: the ``mf`` commands (functions decorated as click commands) and the demo orchestrator
in ``movingfashion/app``. Every other module is read with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("schemas", "movingfashion", "collectors", "cleaning", "annotations")
ENTRY_POINTS = ("movingfashion/app",)


def _is_click_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in fn.decorator_list:
        call = dec.func if isinstance(dec, ast.Call) else dec
        name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
        if name in ("command", "group"):
            return True
    return False


def thread_calls(path: Path) -> list[int]:
    """Lines calling ``*.set_num_threads`` / ``*.set_num_interop_threads`` outside entry points."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed: set[int] = set()
    for node in ast.walk(tree):
        entry = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_click_command(node)
        main_block = (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and getattr(node.test.left, "id", "") == "__name__"
        )
        if entry or main_block:
            allowed |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in ("set_num_threads", "set_num_interop_threads") and node.lineno not in allowed:
                bad.append(node.lineno)
    return bad


def library_files() -> list[Path]:
    return sorted(
        p
        for pkg in LIBRARY
        for p in (ROOT / pkg).rglob("*.py")
        if not any(p.relative_to(ROOT).as_posix().startswith(e + "/") for e in ENTRY_POINTS)
    )


def test_the_scan_finds_a_call(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "import click, torch\n"
        "def f():\n    torch.set_num_threads(1)\n"
        "@click.command()\ndef cmd():\n    torch.set_num_threads(2)\n"
        "if __name__ == '__main__':\n    torch.set_num_threads(3)\n"
    )
    assert thread_calls(f) == [3]


def test_no_library_module_sets_torch_threads():
    assert len(library_files()) > 50
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in library_files() for line in thread_calls(p)]
    assert not bad, (
        "library code changes torch's global thread count (take a `threads` argument, or let the "
        "entry point set it once):\n" + "\n".join(bad)
    )
