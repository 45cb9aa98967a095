"""``python -m`` runs every command line as its console script does (a job script where the
scripts are not on PATH): it used to import ``annotations.cli`` / ``collectors.cli`` and exit 0
having done nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "module", ["movingfashion", "annotations", "annotations.cli", "collectors", "collectors.cli"]
)
def test_python_m_shows_the_commands_help(module):
    r = _run(module, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout and "Commands:" in r.stdout


def test_python_m_runs_the_command_and_its_exit_rule(tmp_path):
    missing = tmp_path / "no-such-dataset"
    r = _run("annotations.cli", "build", "--dataset", str(missing))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert str(missing) in r.stderr
