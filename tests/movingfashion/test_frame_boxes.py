"""FrameBoxes / FrameScores read like the dicts they replace, exactly, in a fraction of the memory."""

from __future__ import annotations

import math
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movingfashion.dataset import VideoRecord
from movingfashion.frame_boxes import FrameBoxes, FrameScores
from movingfashion.training_copy import boxes_fingerprint

coord = st.one_of(st.integers(-(2**31), 2**31), st.floats(allow_nan=False, allow_infinity=False, width=64))
box_dicts = st.dictionaries(st.integers(0, 2**31 - 1), st.lists(coord, min_size=4, max_size=4), max_size=40)


@settings(max_examples=200, deadline=None)
@given(boxes=box_dicts, probes=st.lists(st.integers(-5, 2**31 + 5), max_size=12))
def test_reads_like_the_dict(boxes: dict[int, list[float]], probes: list[int]) -> None:
    fb = FrameBoxes.of(boxes)
    want = {f: [float(v) for v in b] for f, b in sorted(boxes.items())}
    assert list(fb) == sorted(boxes) and len(fb) == len(boxes)
    assert dict(fb.items()) == want and list(fb.items()) == list(want.items())
    assert fb == want and fb == boxes and fb == FrameBoxes.of(want)
    for f in [*probes, *list(boxes)[:5]]:
        assert (f in fb) == (f in boxes)
        assert fb.get(f) == want.get(f)
    rows = fb.rows(probes)
    assert rows.dtype == np.float32 and rows.shape == (len(probes), 4)
    for f, row in zip(probes, rows, strict=True):
        if f in want:
            assert row.tolist() == np.asarray(want[f], np.float32).tolist()
        else:
            assert np.isnan(row).all()
    # every value is kept exactly: the fingerprint a cache or training copy records is unchanged
    assert boxes_fingerprint(fb) == boxes_fingerprint(boxes)
    assert pickle.loads(pickle.dumps(fb)) == fb


def test_not_equal_when_a_value_or_frame_differs() -> None:
    fb = FrameBoxes.of({1: [0, 0, 5, 5], 4: [1, 1, 6, 6]})
    assert fb != {1: [0, 0, 5, 5]}
    assert fb != {1: [0, 0, 5, 5], 4: [1, 1, 6, 7]}
    assert fb != FrameBoxes.of({1: [0, 0, 5, 5], 5: [1, 1, 6, 6]})
    assert "x" not in fb and True not in fb and 1.0 not in fb
    with pytest.raises(KeyError):
        fb[2]
    with pytest.raises(ValueError, match="4 values"):
        FrameBoxes.of({1: [0, 0, 5]})


def test_scores() -> None:
    fs = FrameScores.of({3: 0.25, 1: 1})
    assert list(fs.items()) == [(1, 1.0), (3, 0.25)] and fs[3] == 0.25 and fs.get(2, math.nan) != fs.get(2, 0)
    assert not FrameScores.empty() and FrameScores.of(None) == {}


def test_video_record_keeps_any_mapping_compact(tmp_path: Path) -> None:
    rec = VideoRecord("v.mp4", tmp_path / "v.mp4", {2: [0, 0, 4, 4]}, {2: 0.5})
    assert isinstance(rec.boxes, FrameBoxes) and isinstance(rec.confidences, FrameScores)
    rec.boxes = {5: [1, 1, 3, 3]}  # what SEAM's query choice assigns
    assert isinstance(rec.boxes, FrameBoxes) and list(rec.boxes) == [5]
    before = boxes_fingerprint(rec.boxes)
    rec.set_boxes({5: [1, 1, 2, 3]})  # pruned by the dataset's checks: the source is remembered
    assert isinstance(rec.boxes, FrameBoxes) and rec.pruned == {boxes_fingerprint(rec.boxes): before}
    assert isinstance(pickle.loads(pickle.dumps(rec)).boxes, FrameBoxes)


def _retained(make) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        kept = make()
        size = tracemalloc.get_traced_memory()[0]
        del kept
        return size
    finally:
        tracemalloc.stop()


def test_a_box_costs_tens_of_bytes_not_hundreds() -> None:
    """The archive's ~5.85M boxes: ~2 GB per process as dicts of lists, ~230 MB as tables."""
    n = 20_000
    rng = np.random.default_rng(0)
    raw = {int(f): [float(v) for v in rng.uniform(0, 500, 4)] for f in range(n)}
    as_table = _retained(lambda: FrameBoxes.of(raw))
    as_dict = _retained(lambda: {f: [float(v) for v in b] for f, b in raw.items()})
    assert as_table / n <= 48 < as_dict / n
