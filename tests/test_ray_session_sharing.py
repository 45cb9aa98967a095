"""``ray_session`` (tests/ray_fixtures.py): one Ray for consecutive tests that ask for it, across
modules, stopped before a test that does not; restarted after a module that left CPUs taken. The
inner run uses a stand-in ``ray`` that records its starts and stops (the real one takes 5-19 s
each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: what the fixtures use of ``ray``; ``taken``: CPUs a test leaves taken, free again at a start
RAY_STUB = """\
import os
import types

_up = False
taken = 0


def _log(what):
    with open(os.environ["RAY_LOG"], "a") as fh:
        fh.write(what + "\\n")


def init(**kwargs):
    global _up, taken
    assert not _up, "ray.init twice"
    _up, taken = True, 0
    _log("init")


def shutdown():
    global _up
    if _up:
        _log("shutdown")
    _up = False


def is_initialized():
    return _up


def cluster_resources():
    return {"CPU": 2.0}


def available_resources():
    return {"CPU": 2.0 - taken}


def get_runtime_context():
    return types.SimpleNamespace(gcs_address="127.0.0.1:6379")
"""

CONFTEST = """\
import sys
import types

import pytest

sys.modules["movingfashion.executors.ray_backend"] = types.SimpleNamespace(STARTUP_TIMEOUT_S=600.0)
pytest_plugins = ["tests.ray_fixtures"]

import tests.ray_fixtures  # noqa: E402

tests.ray_fixtures.FREED_WAIT_S = 0.5  # a taken CPU is not waited on for 20 s


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    # a test without Ray between two of its module's that use it (another order than the
    # fixtures' own)
    between = [it for it in items if it.name == "test_between"]
    rest = [it for it in items if it.name != "test_between"]
    at = next(i for i, it in enumerate(rest) if it.name == "test_d_first") + 1
    items[:] = rest[:at] + between + rest[at:]
"""

NO_RAY = """\
import ray
from movingfashion.executors import ray_backend


def test_plain():
    assert not ray.is_initialized() and ray_backend.STARTUP_TIMEOUT_S == 600.0
"""

MODULE_A = """\
import ray
from movingfashion.executors import ray_backend


def test_a_first(ray_session):
    assert ray_backend.STARTUP_TIMEOUT_S == 240.0


def test_a_leaves_a_cpu_taken(ray_session):
    ray.taken = 1
"""

MODULE_B = """\
def test_b_first(ray_session):
    pass


def test_b_address(ray_session_address):
    assert ray_session_address == "127.0.0.1:6379"
"""

MODULE_C = """\
def test_c(ray_session):
    pass
"""

MODULE_D = """\
import ray
from movingfashion.executors import ray_backend


def test_d_first(ray_session):
    pass


def test_between():
    assert not ray.is_initialized() and ray_backend.STARTUP_TIMEOUT_S == 600.0


def test_d_last(ray_session):
    pass
"""


def test_one_ray_serves_consecutive_tests_and_a_module_that_left_cpus_taken_restarts_it(tmp_path):
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "ray.py").write_text(RAY_STUB)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in [("plain", NO_RAY), ("a", MODULE_A), ("b", MODULE_B), ("c", MODULE_C), ("d", MODULE_D)]:
        (tmp_path / f"test_{name}.py").write_text(text)
    log = tmp_path / "ray.log"
    path = os.pathsep.join([str(stub), str(ROOT), os.environ.get("PYTHONPATH", "")])
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", "-v"]
        + ["-p", "no:randomly", "-p", "no:xdist", "--assert=plain", "-W", "default", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path, "RAY_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "9 passed" in out, out[-3000:]
    # a's Ray: restarted for b (a left a CPU taken); b's kept for c and d's first test, stopped
    # before test_between; a new one for d's last test
    assert log.read_text().split() == ["init", "shutdown", "init", "shutdown", "init", "shutdown"], out
    assert out.count("CPUs still taken") == 1, out[-3000:]
    assert "1 of 2 CPUs still taken when test_a.py's tests ended; Ray restarted for the next module" in out
