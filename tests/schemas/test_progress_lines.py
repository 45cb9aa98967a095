"""Progress in a log (stderr not a terminal): plain lines every period, from a timer so a slow
item is not silence, no carriage returns, nothing on stdout, nothing at all for a short run, a
last line once it printed; on a terminal that reports 0 columns the bar keeps 80."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

from schemas.cli_support import progress_bar
from schemas.progress_lines import LineProgress, clock

ROOT = Path(__file__).resolve().parents[2]


def test_lines_come_from_a_timer_even_while_an_item_takes_long():
    out = io.StringIO()
    bar = LineProgress(desc="videos", total=4, unit="video", file=out, period=0.5)
    bar.update(1)
    bar.set_postfix(failed=0, review=1)
    # one slow item: no update, still lines (as many periods as the timer takes to print two)
    deadline = time.monotonic() + 60
    while len(out.getvalue().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    bar.update(3)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and "\r" not in out.getvalue()
    assert (
        lines[0].startswith("videos: 1/4 (25%), ")
        and "left" in lines[0]
        and "[failed=0, review=1]" in lines[0]
    )
    assert lines[-1].startswith("videos: 4/4 (100%), ended after ")


def test_a_short_run_prints_nothing():
    out = io.StringIO()
    bar = LineProgress(desc="videos", total=2, file=out, period=5.0)
    bar.update(2)
    bar.close()
    bar.close()
    assert out.getvalue() == ""


def test_an_unknown_total_counts_items():
    bar = LineProgress(desc="collect tiktok", unit="item", file=io.StringIO(), period=0)
    assert bar.line().startswith("collect tiktok: starting, ")  # not "0 items" before the first
    bar.update(5)
    assert bar.line().startswith("collect tiktok: 5 items, ")
    assert clock(42) == "42s" and clock(185) == "3m05s" and clock(3720) == "1h02m"


def test_a_command_in_a_log_shows_it_is_alive_on_stderr_only():
    """Piped stderr, as in CI: lines on stderr with the period, stdout keeps only the result."""
    code = (
        "import time\n"
        "from schemas.cli_support import progress\n"
        "for _ in progress(range(3), desc='rendering products', unit='product'):\n"
        "    time.sleep(0.4)\n"
        "print('result')\n"
    )
    env = {"MF_PROGRESS_EVERY_S": "0.3", "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 0 and res.stdout == "result\n"
    lines = res.stderr.splitlines()
    assert lines and all(line.startswith("rendering products: ") for line in lines) and "\r" not in res.stderr
    assert lines[-1].startswith("rendering products: 3/3 (100%), ended after")


def test_a_terminal_of_zero_columns_gets_a_bar_of_80(monkeypatch):
    import shutil

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(
        shutil, "get_terminal_size", lambda fallback=(80, 24): __import__("os").terminal_size((0, 0))
    )
    bar = progress_bar(desc="videos", total=3, disable=False)
    try:
        assert bar.ncols == 80 and bar.nrows == 24
    finally:
        bar.close()


def test_no_timer_line_comes_after_the_last_one(monkeypatch):
    """A tick under way when the bar closes prints before the "ended after" line, never after."""
    out = io.StringIO()
    bar = LineProgress(desc="videos", total=2, unit="video", file=out, period=0.01)
    real = bar.line
    ticking = threading.Event()

    def slow_line(*, final: bool = False) -> str:
        if not final:
            ticking.set()
            time.sleep(0.3)  # the tick is still printing when close() is called
        return real(final=final)

    monkeypatch.setattr(bar, "line", slow_line)
    assert ticking.wait(60)
    bar.close()
    time.sleep(0.5)
    lines = out.getvalue().splitlines()
    assert "ended after" in lines[-1] and sum("ended after" in x for x in lines) == 1, lines
