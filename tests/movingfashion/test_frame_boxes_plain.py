"""FrameBoxes / FrameScores built in one numpy pass (a dict of int frames to plain numbers, what a
split file gives) equal what the value-by-value path builds, or that path decides."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movingfashion.frame_boxes import FrameBoxes, FrameScores

number = (
    st.integers(-(2**64), 2**64)
    | st.floats(width=64)
    | st.sampled_from([True, None, "1.5", 2**53 + 1, -(2**53) - 1, np.float32(0.1), np.int64(7)])
)
frame = st.integers(0, 2**31) | st.sampled_from(["7", np.int64(3), 2**70])


def _built(cls: type, table: Any, plain: bool) -> Any:
    """``cls.of(table)``'s arrays, or the exception it raised; ``plain=False``: value by value."""
    with pytest.MonkeyPatch.context() as mp:
        if not plain:
            mp.setattr(cls, "_of_plain", classmethod(lambda c, t: None))
        try:
            t = cls.of(table)
        except Exception as exc:  # noqa: BLE001 - compared between the two paths
            return type(exc), str(exc)
    assert not t.frames.flags.writeable and not t._values.flags.writeable
    return t.frames.dtype, t.frames.tolist(), t._values.dtype, t._values.shape, t._values.tobytes()


@settings(max_examples=300, deadline=None)
@given(table=st.dictionaries(frame, st.lists(number, min_size=3, max_size=5) | number, max_size=8))
def test_boxes_built_alike_both_ways(table):
    assert _built(FrameBoxes, table, plain=True) == _built(FrameBoxes, table, plain=False)


@settings(max_examples=300, deadline=None)
@given(table=st.dictionaries(frame, number | st.lists(number, max_size=2), max_size=8))
def test_scores_built_alike_both_ways(table):
    assert _built(FrameScores, table, plain=True) == _built(FrameScores, table, plain=False)


def test_a_split_files_boxes_take_the_one_pass_path():
    rng = np.random.default_rng(0)
    table = {int(f): rng.uniform(0, 500, 4).round(2).tolist() for f in rng.permutation(400)}
    table[3] = [1, 2, 30, 40]
    fast = FrameBoxes._of_plain(table)
    assert fast is not None and fast == FrameBoxes.of(table) and list(fast) == list(range(400))
    assert _built(FrameBoxes, table, plain=True) == _built(FrameBoxes, table, plain=False)


def _keyed(table: dict[str, Any]) -> Any:
    """``FrameBoxes.of_frame_keys(table)``'s arrays, or the exception it raised."""
    try:
        t = FrameBoxes.of_frame_keys(table)
    except Exception as exc:  # noqa: BLE001 - compared with the int-keyed path
        return type(exc), str(exc)
    assert not t.frames.flags.writeable and not t._values.flags.writeable
    return t.frames.dtype, t.frames.tolist(), t._values.dtype, t._values.shape, t._values.tobytes()


@settings(max_examples=300, deadline=None)
@given(
    table=st.dictionaries(
        st.integers(0, 10**7).map(str), st.lists(number, min_size=3, max_size=5) | number, max_size=8
    )
)
def test_a_split_files_tracklet_with_frame_key_strings_builds_what_its_int_keyed_dict_builds(table):
    """The dataset builds each video's boxes from the split file's tracklet (frame key strings)
    without the dict of int keys it made first: the same table, or the same error."""
    assert _keyed(table) == _built(FrameBoxes, {int(k): v for k, v in table.items()}, plain=False)
