"""Progress of the demo on stderr: stage headers, counters with an ETA, a heartbeat, overall ETA.

On a terminal, counters are tqdm bars; otherwise (a log file, CI) they print a line every
``interval_s`` seconds, so no stage is ever silent for long. The overall ETA comes from the
expected cost of every stage left, scaled by how fast the finished stages ran against their
own expectation (a slower machine is noticed after the first stage).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")


def human_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Counter:
    """Done/total of one long loop: a tqdm bar on a terminal, else a line every ``interval_s``."""

    def __init__(self, owner: StageProgress, desc: str, total: int | None, unit: str) -> None:
        self.owner, self.desc, self.total, self.unit = owner, desc, total, unit
        self.done = 0
        self.t0 = owner.clock()
        self._last_line = self.t0
        self._bar = None
        if owner.stream is not None and owner.bars:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=f"   {desc}", unit=unit, file=owner.stream, dynamic_ncols=True, leave=False
            )

    def set(self, done: int, total: int | None = None) -> None:
        """Move to ``done`` of ``total`` (a callback's absolute count)."""
        self.update(done - self.done, total)

    def update(self, n: int = 1, total: int | None = None) -> None:
        if total is not None:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
        self.done += n
        self.owner.touch()
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.owner.clock()
        if now - self._last_line >= self.owner.interval_s:
            self._last_line = now
            self.owner.info(self.line(now))

    def line(self, now: float) -> str:
        """``tracklets: 40/113 videos (35%), 15 s, about 27 s left``."""
        spent = now - self.t0
        if not self.total:
            return f"{self.desc}: {self.done} {self.unit}, {human_seconds(spent)}"
        left = spent * (self.total - self.done) / self.done if self.done else None
        eta = f", about {human_seconds(left)} left" if left is not None else ""
        return (
            f"{self.desc}: {self.done}/{self.total} {self.unit} ({100 * self.done // self.total}%), "
            f"{human_seconds(spent)}{eta}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Counter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StageProgress:
    """What the demo prints while it runs (never on stdout: that is the report's).

    ``stream=None`` prints nothing (tests, library use). ``bars``: tqdm bars (default: when the
    stream is a terminal). ``heartbeat_s``: a line when a stage printed nothing for that long.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        bars: bool | None = None,
        interval_s: float = 10.0,
        heartbeat_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.bars = bool(stream is not None and stream.isatty()) if bars is None else bars
        self.interval_s, self.heartbeat_s, self.clock = interval_s, heartbeat_s, clock
        self.plan: list[tuple[str, float]] = []
        self.actual: dict[str, float] = {}
        self.stage: str | None = None
        self._stage_t0 = 0.0
        self._last_output = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @classmethod
    def to_stderr(cls) -> StageProgress:
        return cls(sys.stderr)

    # -- output ------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        if self.stream is None:
            return
        with self._lock:
            if self.bars:
                from tqdm import tqdm

                tqdm.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)
            self._last_output = self.clock()

    def info(self, text: str) -> None:
        """An indented line under the current stage header."""
        self.write(f"   {text}")

    def touch(self) -> None:
        """Something visible happened (a bar moved): no heartbeat needed."""
        self._last_output = self.clock()

    # -- the ETA -------------------------------------------------------------------------------
    def speed(self) -> float:
        """Actual over expected seconds of the finished stages (1.0 before any finished)."""
        exp = sum(e for name, e in self.plan if name in self.actual)
        act = sum(self.actual.values())
        return min(5.0, max(0.2, act / exp)) if exp > 1 and act > 0 else 1.0

    def seconds_left(self) -> float:
        """Expected seconds of the stages not finished yet, at the measured speed (the running
        stage counts what is left of its expectation). A running stage already past its
        expectation is at least that much slower, so the stages after it are scaled by that too:
        otherwise the figure stood still while it overran."""
        speed = self.speed()
        running = dict(self.plan).get(self.stage or "", 0.0)
        spent = self.clock() - self._stage_t0 if self.stage is not None else 0.0
        if running > 1 and spent > running * speed:
            speed = min(5.0, spent / running)
        left = 0.0
        for name, expected in self.plan:
            if name in self.actual:
                continue
            if name == self.stage:
                left += max(0.0, expected * speed - spent)
            else:
                left += expected * speed
        return left

    # -- stages --------------------------------------------------------------------------------
    def begin(self, plan: list[tuple[str, float]]) -> None:
        """Announce the stages and their expected seconds; start the heartbeat."""
        self.plan = list(plan)
        total = sum(e for _, e in self.plan)
        self.write(
            f"MovingFashion demo: {len(self.plan)} stages ({', '.join(n for n, _ in self.plan)}), "
            f"about {human_seconds(total)} expected"
        )
        if self.stream is not None and self.heartbeat_s > 0:
            self._stop.clear()
            self._beat = threading.Thread(target=self._heartbeat, name="demo-heartbeat", daemon=True)
            self._beat.start()

    def start(self, name: str) -> None:
        names = [n for n, _ in self.plan]
        i = names.index(name) + 1 if name in names else len(names)
        expected = dict(self.plan).get(name, 0.0) * self.speed()
        self.stage, self._stage_t0 = name, self.clock()
        self.write(
            f"== [{i}/{len(names)}] {name} (expected {human_seconds(expected)}; "
            f"about {human_seconds(self.seconds_left())} left in all)"
        )

    def finish(self, name: str, seconds: float, summary: str) -> None:
        self.actual[name] = seconds
        self.stage = None
        self.write(f"   done in {human_seconds(seconds)}" + (f": {summary}" if summary else ""))

    def end(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
            self._beat = None

    def beat(self) -> bool:
        """Print a "still working" line when the running stage was silent for ``heartbeat_s``."""
        stage = self.stage
        if stage is None or self.clock() - self._last_output < self.heartbeat_s:
            return False
        spent = self.clock() - self._stage_t0
        self.info(
            f"{stage}: still working, {human_seconds(spent)} so far "
            f"(about {human_seconds(self.seconds_left())} left in all)"
        )
        return True

    def _heartbeat(self) -> None:
        while not self._stop.wait(min(5.0, self.heartbeat_s)):
            self.beat()

    # -- adapters for the library's progress hooks -------------------------------------------
    def counter(self, desc: str, total: int | None = None, unit: str = "it") -> Counter:
        return Counter(self, desc, total, unit)

    def iterate(
        self, iterable: Iterable[T], *, desc: str = "", total: int | None = None, unit: str = "it", **_: Any
    ) -> Iterator[T]:
        """A ``progress(iterable, desc=, total=, unit=)`` hook (the seam functions take one)."""
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        with self.counter(desc, total, unit) as c:
            for item in iterable:
                yield item
                c.update()
