"""A command's human report reaches a stdout whose encoding lacks some of its characters (an
ASCII pipe, an embedded interpreter) as escapes, not as a crash after all the work."""

from __future__ import annotations

import os
import subprocess
import sys

_EMIT = """
from schemas.cli_support import emit
emit({"x": 1}, False, lambda r: "mAP 0.512 \\u00b1 0.010 on caf\\u00e9")
emit({"x": "\\u00b1"}, True)
"""


def test_a_report_with_characters_stdout_cannot_encode_is_escaped_not_a_crash() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = subprocess.run([sys.executable, "-c", _EMIT], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out = done.stdout.decode("ascii")
    assert "mAP 0.512 \\xb1 0.010 on caf\\xe9" in out
    assert '"x": "\\u00b1"' in out  # JSON was ASCII already


def test_a_utf8_stdout_gets_the_characters_themselves() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-c", _EMIT], capture_output=True, env=env, timeout=120, check=True
    )
    assert "mAP 0.512 \u00b1 0.010 on caf\u00e9" in done.stdout.decode("utf-8")
