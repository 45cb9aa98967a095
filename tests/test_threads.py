"""No library code changes torch's global thread count.

``torch.set_num_threads`` is process-wide: a library function calling it silently changes the
speed of everything else in the caller's process. Only entry points may set it once, from an
option: the ``mf`` commands (functions decorated as click commands) and the demo orchestrator
in ``movingfashion/app``. Every other module is read with ``ast``. One function is allowed by
name, :data:`RESTORERS`: it never picks a count, it puts back the one a third-party library
changed (ultralytics' CPU predictor and trainer set ``min(8, cores - 1)``). One more is an entry
point by construction, :data:`OPTION_CALLBACKS`: the callback of the commands' ``--threads``
option, which click calls only while it parses a command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("schemas", "movingfashion", "collectors", "cleaning", "annotations")
ENTRY_POINTS = ("movingfashion/app",)
RESTORERS = {("movingfashion/models/detectors/ultralytics_backend.py", "keeping_torch_threads")}
OPTION_CALLBACKS = {("movingfashion/executors/options.py", "_set_threads")}


def _is_click_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in fn.decorator_list:
        call = dec.func if isinstance(dec, ast.Call) else dec
        name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
        if name in ("command", "group"):
            return True
    return False


def thread_calls(path: Path, restorers: frozenset[str] = frozenset()) -> list[int]:
    """Lines calling ``*.set_num_threads`` / ``*.set_num_interop_threads`` outside entry points
    and outside the functions named in ``restorers``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed: set[int] = set()
    for node in ast.walk(tree):
        fn = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        entry = fn and (_is_click_command(node) or node.name in restorers)
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
    assert thread_calls(f, frozenset({"f"})) == []


def _restorers(path: Path) -> frozenset[str]:
    rel = path.relative_to(ROOT).as_posix()
    return frozenset(name for where, name in RESTORERS | OPTION_CALLBACKS if where == rel)


def test_the_allowed_restorer_exists_and_only_restores():
    """The one allowed function must still exist (a renamed one would leave the rule open) and
    behave as its name says: the count it finds is the count it leaves."""
    import torch

    from movingfashion.models.detectors.ultralytics_backend import keeping_torch_threads

    for where, name in RESTORERS | OPTION_CALLBACKS:
        assert f"def {name}(" in (ROOT / where).read_text()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        with keeping_torch_threads():
            torch.set_num_threads(1)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_no_library_module_sets_torch_threads():
    assert len(library_files()) > 50
    bad = [
        f"{p.relative_to(ROOT)}:{line}" for p in library_files() for line in thread_calls(p, _restorers(p))
    ]
    assert not bad, (
        "library code changes torch's global thread count (take a `threads` argument, or let the "
        "entry point set it once):\n" + "\n".join(bad)
    )
