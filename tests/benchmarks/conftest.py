"""The benchmark scripts of ``benchmarks/``, loaded as modules (they are not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str):
    """``benchmarks/<name>.py`` as a fresh module (its sibling ``real_clips`` importable)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_script_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass of the script looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_thread_change(monkeypatch):
    """The scripts' ``main`` sets torch's thread count for their process: not for the test's."""
    import torch

    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
