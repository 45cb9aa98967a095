"""Demo progress: ETA from expected stage costs scaled by the measured speed, counters that
print lines when no terminal is attached, a heartbeat for silent stages."""

from __future__ import annotations

import io

from movingfashion.app.progress import StageProgress, human_seconds


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _progress(clock: Clock, **kw) -> tuple[StageProgress, io.StringIO]:
    stream = io.StringIO()
    return StageProgress(stream, bars=False, clock=clock, heartbeat_s=0, **kw), stream


def test_human_seconds():
    assert [human_seconds(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 05 s", "1 h 02 min"]


def test_eta_scales_with_the_measured_speed():
    clock = Clock()
    p, out = _progress(clock)
    p.begin([("a", 10.0), ("b", 20.0), ("c", 30.0)])
    assert p.seconds_left() == 60.0
    p.start("a")
    clock.t = 4.0
    assert p.seconds_left() == 56.0  # 6 s of a's expectation left, then b and c
    clock.t = 20.0
    p.finish("a", 20.0, "")  # twice as slow as expected: the rest is expected twice as long
    assert p.speed() == 2.0 and p.seconds_left() == 100.0
    p.start("b")
    assert "== [2/3] b (expected 40 s; about 1 min 40 s left in all)" in out.getvalue()


def test_a_stage_past_its_expectation_slows_the_estimate_of_the_stages_after_it():
    clock = Clock()
    p, _ = _progress(clock)
    p.begin([("a", 10.0), ("b", 20.0), ("c", 30.0)])
    p.start("a")
    clock.t = 8.0
    assert p.seconds_left() == 52.0  # within its expectation: 2 s of a, then b and c
    clock.t = 30.0  # three times what a was expected to take, still running
    assert p.seconds_left() == 150.0  # b and c at a's speed so far, not a frozen 50 s
    clock.t = 100.0
    assert p.seconds_left() == 250.0  # capped at five times slower


def test_counter_prints_lines_with_eta_without_a_terminal():
    clock = Clock()
    p, out = _progress(clock, interval_s=10.0)
    with p.counter("tracklets", total=100, unit="videos") as c:
        clock.t = 5.0
        c.update(10)  # less than interval_s since the start: quiet
        assert out.getvalue() == ""
        clock.t = 12.0
        c.update(10)
    assert out.getvalue().strip() == "tracklets: 20/100 videos (20%), 12 s, about 48 s left"


def test_counter_set_follows_absolute_callbacks():
    clock = Clock()
    p, out = _progress(clock, interval_s=1.0)
    c = p.counter("rendering", unit="products")
    clock.t = 2.0
    c.set(3, 12)
    assert c.done == 3 and c.total == 12 and "rendering: 3/12 products (25%)" in out.getvalue()


def test_heartbeat_only_after_silence():
    clock = Clock()
    stream = io.StringIO()
    p = StageProgress(stream, bars=False, clock=clock, heartbeat_s=30.0)
    p.plan = [("seam", 100.0)]
    p.start("seam")
    clock.t = 20.0
    assert not p.beat()
    clock.t = 31.0
    assert p.beat() and "seam: still working, 31 s so far (about 1 min 09 s left in all)" in stream.getvalue()
    assert not p.beat()  # the line itself counts as output


def test_iterate_is_a_progress_hook():
    clock = Clock()
    p, _ = _progress(clock)
    assert list(p.iterate(range(5), desc="epoch 1/1", unit="step")) == [0, 1, 2, 3, 4]


def test_silent_without_a_stream():
    p = StageProgress()
    p.begin([("a", 1.0)])
    p.start("a")
    p.info("nothing")
    with p.counter("x", total=2) as c:
        c.update(2)
    p.finish("a", 1.0, "done")
    p.end()
    assert p.actual == {"a": 1.0}
