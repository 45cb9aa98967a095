"""Log lines and warnings a command shows on stderr cannot drive the user's terminal: a site's
text carried into a log record or a warning (a title, a reason phrase, a video's metadata) has
its control characters shown as ``\\xNN`` escapes, as the command's own output does.

Each case runs the real entry point in a child process (a test runner's own log handlers would
hide the command's), with the function its command calls first wrapped to log a record (with an
exception's text) and to warn, then to go on as before."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EVIL = "Silk\x1b]52;c;cHduZWQ=\x07\rall fine"
SHOWN = "Silk\\x1b]52;c;cHduZWQ=\\x07\\x0dall fine"

DRIVER = """
import importlib, logging, sys, warnings
EVIL = {evil!r}
module = importlib.import_module({module!r})
original = getattr(module, {name!r})

def wrapped(*args, **kw):
    log = logging.getLogger({logger!r})
    log.warning("title %s", EVIL)
    try:
        raise ValueError(EVIL)
    except ValueError:
        log.exception("reason")
    warnings.warn("metadata " + EVIL, UserWarning, stacklevel=1)
    return original(*args, **kw)

setattr(module, {name!r}, wrapped)
sys.argv = {argv!r}
from {entry} import main
main()
"""


def _run(tmp_path: Path, *, module: str, name: str, logger: str, entry: str, argv: list[str]) -> str:
    """The child's stderr (as bytes decoded, nothing translated) after its command ended."""
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(DRIVER).format(
            evil=EVIL, module=module, name=name, logger=logger, entry=entry, argv=argv
        )
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, env=env, cwd=tmp_path, timeout=120, check=False
    )
    return done.stderr.decode("utf-8", "replace")


def _assert_escaped(err: str) -> None:
    assert "\x1b" not in err and "\x07" not in err and "\r" not in err, repr(err)
    assert f"title {SHOWN}" in err  # the log record
    assert f"ValueError: {SHOWN}" in err  # its exception's text
    assert f"UserWarning: metadata {SHOWN}" in err  # the warning


@pytest.mark.parametrize("prog", ["mf-collect", "mf collect"])
def test_mf_collect_log_lines_and_warnings_are_escaped(tmp_path, prog):
    """mf-collect's own log format (``LEVEL logger: message``) is kept, its text escaped."""
    argv = [*prog.split(), "netaporter", "1234567", "--root", str(tmp_path / "d"), "--dry-run"]
    if prog == "mf-collect":
        argv = ["mf-collect", *argv[1:]]
    entry = "collectors.cli" if prog == "mf-collect" else "movingfashion.app.cli"
    err = _run(
        tmp_path,
        module="collectors.config",
        name="load_collect_config",
        logger="collectors.netaporter",
        entry=entry,
        argv=argv,
    )
    _assert_escaped(err)
    assert f"WARNING collectors.netaporter: title {SHOWN}" in err  # wording and format as before


def test_mf_log_lines_and_warnings_are_escaped(tmp_path):
    """A command with no handler of its own: Python's last-resort line (the bare message)."""
    argv = ["mf", "config", "reference", "--out", str(tmp_path / "config.md")]
    err = _run(
        tmp_path,
        module="movingfashion.app.config_reference",
        name="render_reference",
        logger="movingfashion.app",
        entry="movingfashion.app.cli",
        argv=argv,
    )
    _assert_escaped(err)
    assert (tmp_path / "config.md").is_file(), err  # the command went on and did its work
