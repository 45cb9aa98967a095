"""What a long step is doing inside the item it is on, for the progress display.

A progress bar counts items (videos, products); one item can take minutes (a 10-minute video
detected frame by frame, a re-encode), and the bar would sit still. The library reports the
work inside an item here, and the bars of :mod:`schemas.cli_support` and
:class:`~schemas.progress_lines.LineProgress` show it after their own counts::

    with activity("videos/513266_0.mp4", total=15000, unit="frames") as advance:
        for done in ...:
            advance(done)

shows ``8% of videos/513266_0.mp4 (1200/15000 frames)`` while it runs and nothing after. The
state is one per process (worker processes report to nobody); library code that runs without a
bar pays a lock and a string per call.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

_lock = threading.Lock()
#: the steps under way, by token, in the order they last moved (threads may run one each)
_steps: dict[object, str] = {}
_listeners: list[Callable[[], None]] = []


def current() -> str | None:
    """The text of the step that moved last, ``(+N more)`` when others are under way; or None."""
    with _lock:
        if not _steps:
            return None
        text = next(reversed(_steps.values()))
        return f"{text} (+{len(_steps) - 1} more)" if len(_steps) > 1 else text


def _set(token: object, text: str | None) -> None:
    """Set (None: end) the text of one step and tell the listeners (the bars redraw)."""
    with _lock:
        if text is None:
            if _steps.pop(token, None) is None:
                return
        else:
            if _steps.get(token) == text:
                return
            _steps.pop(token, None)  # re-inserted: the last one that moved is shown
            _steps[token] = text
        listeners = list(_listeners)
    for fn in listeners:
        with contextlib.suppress(Exception):  # a display must never break the work
            fn()


def listen(fn: Callable[[], None]) -> Callable[[], None]:
    """Call ``fn()`` whenever the text changes; returns the function that stops it."""
    with _lock:
        _listeners.append(fn)

    def stop() -> None:
        with _lock, contextlib.suppress(ValueError):
            _listeners.remove(fn)

    return stop


def describe(label: str, done: int, total: int | None, unit: str) -> str:
    """``p% of label (done/total unit)``: the share first, so a narrow terminal that cuts the line
    cuts the detail, never the number; ``label: done unit`` without a total."""
    if total:
        return f"{100 * min(done, total) // total}% of {label} ({done}/{total} {unit})"
    return f"{label}: {done} {unit}"


@contextlib.contextmanager
def activity(
    label: str, *, total: int | None = None, unit: str = "frames"
) -> Iterator[Callable[[int], None]]:
    """Report a step inside one item; yields ``advance(done)`` (callable from any thread); the
    step ends with the block. Steps of several threads at once show as the one that moved last."""
    token = object()
    guard = threading.Lock()  # an advance never lands after the step ended
    ended = False

    def advance(done: int) -> None:
        with guard:
            if not ended:  # a thread still reporting after the block is not shown
                _set(token, describe(label, int(done), total, unit))

    _set(token, describe(label, 0, total, unit))
    try:
        yield advance
    finally:
        with guard:
            ended = True
            _set(token, None)
