"""The executor maps per-file work over tasks: results in order, one failure stays one failure."""

from __future__ import annotations

from cleaning.steps.executor import LocalExecutor
from schemas.errors import MediaError


def _work(x: int) -> int:
    if x == 3:
        raise MediaError("cannot decode", where=f"video{x}.mp4")
    if x == 5:
        raise ValueError("bad frame count")
    return x * x


def test_local_map_keeps_the_order_and_turns_errors_into_outcomes():
    out = LocalExecutor().map(_work, list(range(7)), desc="test")
    assert [o.value for o in out if o.ok] == [0, 1, 4, 16, 36]
    assert [o.ok for o in out] == [True, True, True, False, True, False, True]
    assert out[3].error == "video3.mp4: cannot decode"  # the toolkit's errors as they render
    assert out[5].error == "ValueError: bad frame count"  # others name their type


def test_an_empty_task_list_gives_no_outcome():
    assert LocalExecutor(show_progress=True).map(_work, [], desc="test") == []
