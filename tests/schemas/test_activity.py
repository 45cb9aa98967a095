"""The step inside the item under way (a long video's frames, a re-encode) shows in the bars."""

from __future__ import annotations

import io
import sys
import threading

from schemas import activity, cli_support
from schemas.cli_support import progress_bar
from schemas.progress_lines import LineProgress


def test_a_step_shows_its_count_while_it_runs_and_nothing_after():
    assert activity.current() is None
    with activity.activity("videos/1_0.mp4", total=200, unit="frames encoded") as advance:
        assert activity.current() == "0% of videos/1_0.mp4 (0/200 frames encoded)"
        advance(50)
        assert activity.current() == "25% of videos/1_0.mp4 (50/200 frames encoded)"
    assert activity.current() is None
    advance(60)  # a thread reporting after the step ended is not shown
    assert activity.current() is None
    with activity.activity("x.mp4", unit="frames") as advance:
        advance(7)
        assert activity.current() == "x.mp4: 7 frames"  # no total: a count


def test_steps_of_several_threads_show_the_one_that_moved_last():
    seen: list[str | None] = []
    stop = activity.listen(lambda: seen.append(activity.current()))
    try:
        with activity.activity("a", total=10) as a, activity.activity("b", total=10) as b:
            a(3)
            assert activity.current() == "30% of a (3/10 frames) (+1 more)"
            t = threading.Thread(target=b, args=(4,))
            t.start()
            t.join()
            assert activity.current() == "40% of b (4/10 frames) (+1 more)"
        # "a" ended first's order does not matter: once both ended nothing is left over
        assert activity.current() is None
    finally:
        stop()
    assert seen[-1] is None and "30% of a (3/10 frames) (+1 more)" in seen
    n = len(seen)
    with activity.activity("c"):
        pass
    assert len(seen) == n  # a listener that stopped hears nothing


def test_plain_progress_lines_show_the_step_after_the_counts():
    out = io.StringIO()
    bar = LineProgress(desc="publish", total=13, unit="product", file=out, period=0)
    bar.update(4)
    bar.set_postfix(failed=0)
    with activity.activity("videos/513266_0.mp4", total=15000, unit="frames encoded") as advance:
        advance(1200)
        line = bar.line()
    assert line.startswith("publish: 4/13 (31%), ")
    assert line.endswith("[failed=0; 8% of videos/513266_0.mp4 (1200/15000 frames encoded)]")
    assert bar.line().endswith("[failed=0]")  # the step ended
    bar.close()


def test_a_terminal_bar_redraws_with_the_step(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    monkeypatch.setattr(cli_support, "ACTIVITY_REDRAW_S", 0.0)
    bar = progress_bar(desc="videos", total=2, unit="video", disable=False)
    try:
        with activity.activity("long.mp4", total=25000, unit="frames detected") as advance:
            advance(12500)  # no update() of the bar: the step alone redraws it
            assert "50% of long.mp4 (12500/25000 frames detected)" in out.getvalue()
            assert "long.mp4" in str(bar)
        assert "long.mp4" not in str(bar)
        assert out.getvalue().rstrip().endswith("?video/s]")  # redrawn without it at once
    finally:
        bar.close()
    n = len(out.getvalue())
    with activity.activity("after.mp4", total=3):
        pass
    assert len(out.getvalue()) == n  # a closed bar does not draw again
