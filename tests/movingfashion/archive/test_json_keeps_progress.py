"""``--json`` keeps stdout for the JSON alone; the progress lines still go to stderr (the README:
every long command shows progress), as ``mf-collect`` always did (was: silenced for ``mf verify``,
``mf publish``, ``mf clean`` and ``mf-tracklets build``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_verify_json_still_shows_progress_on_stderr(archive_dir):
    env = {**os.environ, "MF_PROGRESS_EVERY_S": "0.001"}
    res = subprocess.run(
        [sys.executable, "-m", "movingfashion", "verify", "--dataset", str(archive_dir), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"]  # stdout: the JSON alone
    lines = res.stderr.splitlines()
    assert any(line.startswith("decode videos: ") for line in lines), res.stderr
