"""Progress as plain lines, for a stderr that is not a terminal (a CI log, a file, a pipe).

A tqdm bar there is either hidden (minutes of silence) or a stream of carriage returns.
:class:`LineProgress` takes the bar's calls the commands make (``update``, ``total``, ``n``,
``set_postfix``, ``write``, ``refresh``, ``close``) and prints one line every
:data:`EVERY_S` seconds while the work goes on, from a timer, so a slow item is not silence
either: ``videos: 12/40 (30%), 1m05s, about 2m31s left [failed=0]``. A run shorter than that
prints nothing (its result says it all); one that printed says once at the end how it ended.
The step inside the item under way (a long video's frames, a re-encode: :mod:`schemas.activity`)
follows the counts: ``[failed=0; 8% of videos/1_0.mp4 (1200/15000 frames)]``.
``$MF_PROGRESS_EVERY_S`` changes the period (``0`` or ``inf``: no lines; anything else that is
not seconds >= 0 is a :class:`~schemas.errors.ConfigError` naming it).
"""

from __future__ import annotations

import contextlib
import math
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from schemas.activity import current as _current_activity
from schemas.config import env_seconds

#: seconds between two progress lines (``$MF_PROGRESS_EVERY_S``)
EVERY_S = 10.0
EVERY_ENV = "MF_PROGRESS_EVERY_S"


def every_s() -> float:
    """The period from ``$MF_PROGRESS_EVERY_S`` (seconds >= 0; ``0`` or ``inf``: no lines), else
    :data:`EVERY_S`; anything else (not a number, negative, NaN) is a :class:`ConfigError`."""
    value = env_seconds(
        EVERY_ENV, EVERY_S, f"unset it (a line every {EVERY_S:g} s) or give seconds, 0 or inf for no lines"
    )
    return value if math.isfinite(value) else 0.0


def current_activity() -> str:
    """The step inside the current item (:mod:`schemas.activity`), or ''."""
    return _current_activity() or ""


def clock(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineProgress:
    """A tqdm-like counter that prints a plain line every ``period`` seconds (see the module)."""

    def __init__(
        self, *, desc: str, total: int | None = None, unit: str = "it", file: TextIO | None = None,
        period: float | None = None,
    ) -> None:  # fmt: skip
        self.desc, self.total, self.unit = desc, total, unit
        self.n = 0
        self.postfix = ""
        self._file = file
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._said = False
        self._closed = threading.Event()
        self._period = every_s() if period is None else period
        self._timer: threading.Thread | None = None
        if self._period > 0:
            self._timer = threading.Thread(target=self._tick, name="mf-progress-lines", daemon=True)
            self._timer.start()

    # -- the bar's calls ------------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        with self._lock:
            self.n += n

    def refresh(self) -> None:
        """Nothing to draw: the next line shows the new state."""

    def set_postfix(
        self, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **kw: Any
    ) -> None:
        items = {**(ordered_dict or {}), **kw}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def write(self, s: str, file: TextIO | None = None, end: str = "\n") -> None:
        out = file or self._out()
        out.write(s + end)
        out.flush()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()  # a line it was printing comes before the last one, never after
        if self._said:  # it printed progress: say how it ended
            self._say(final=True)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lines ------------------------------------------------------------------------------
    def line(self, *, final: bool = False) -> str:
        """The line that describes the state now."""
        with self._lock:
            n, total = self.n, self.total
        elapsed = time.monotonic() - self._start
        if total:
            count = f"{n}/{total}"
        else:  # no total yet: "0 videos" before the first would read as an empty run
            count = f"{n} {self.unit}s" if n or final else "starting"
        parts = [f"{self.desc}: {count}"]
        if total:
            parts[0] += f" ({100 * n / total:.0f}%)"
        if final:
            parts.append(f"ended after {clock(elapsed)}")
        else:
            parts.append(clock(elapsed))
            if total and 0 < n < total:
                parts.append(f"about {clock(elapsed / n * (total - n))} left")
        text = ", ".join(parts)
        postfix = "; ".join(p for p in (self.postfix, "" if final else current_activity()) if p)
        return f"{text} [{postfix}]" if postfix else text

    def _out(self) -> TextIO:
        return self._file if self._file is not None else sys.stderr

    def _say(self, *, final: bool = False) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed stderr: not worth a failure
            self.write(self.line(final=final))
        self._said = True

    def _tick(self) -> None:
        while not self._closed.wait(self._period):
            self._say()
