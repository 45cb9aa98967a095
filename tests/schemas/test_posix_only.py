"""On a system that is not POSIX the toolkit refuses to import with one message saying what to do
(not ``No module named 'fcntl'`` from deep inside), checked by faking ``os.name`` in a child."""

from __future__ import annotations

import subprocess
import sys

import pytest

# torch and ctypes read os.name for their own platform code: imported first, as they work on Windows
_FAKE_WINDOWS = """
import ctypes, os, torch
os.name = "nt"
try:
    import {module}
except ImportError as exc:
    print("ImportError:", exc)
else:
    print("imported")
"""


@pytest.mark.parametrize("module", ["schemas", "movingfashion.dataset", "collectors.cli"])
def test_a_non_posix_system_is_refused_with_what_to_do(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FAKE_WINDOWS.format(module=module)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.startswith("ImportError: the MovingFashion toolkit needs a POSIX system"), out
    assert "WSL2" in out


def test_posix_imports() -> None:
    import schemas

    assert schemas.DF2_CLASSES
