"""The one-pass box check of the split-file rules (``archive_boxes_valid``) agrees with the
per-box rule it stands in for (``box_problem``): the same findings (check, where, product, field,
problem, fix, order) on valid splits and on every kind of bad box, and it never vouches for a box
that ``box_problem`` (or verify's frame bound) would name."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import official_checks
from schemas.official import parse_official
from schemas.official_checks import archive_boxes_valid, box_problem, split_findings, tracklet_findings
from tests.movingfashion.helpers import big_tracklet, split_entry

BIG = 2**53


@contextlib.contextmanager
def per_box_only() -> Iterator[None]:
    """The checks as they were: every box through :func:`box_problem`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(official_checks, "archive_boxes_valid", lambda *a, **k: False)
        yield


def _both(fn, *args, **kwargs) -> tuple[Any, Any]:
    fast = fn(*args, **kwargs)
    with per_box_only():
        slow = fn(*args, **kwargs)
    return fast, slow


def _as_dicts(findings) -> str:
    return json.dumps([f.as_dict() for f in findings])


def test_a_valid_split_finds_nothing_both_ways_and_checks_no_box_alone(monkeypatch):
    data = {
        f"p{i}": split_entry([big_tracklet(start=i), big_tracklet(30, start=i + 9)], pid=f"p{i}")
        for i in range(3)
    }
    data["q"] = split_entry(
        [{}, {"0": [0, 0, 1, 1], "1": [-0.0, -0.0, 0.5, 0.5]}, {"0": [BIG - 1, 0, BIG, 1]}], pid="q"
    )
    splits = {"train": parse_official(data)}
    calls: list[Any] = []
    real = official_checks.box_problem
    monkeypatch.setattr(official_checks, "box_problem", lambda b: calls.append(b) or real(b))
    assert split_findings(splits) == []
    assert calls == [[BIG - 1, 0, BIG, 1]]  # past 2**53: left to the per-box rule
    calls.clear()
    with per_box_only():
        assert split_findings(splits) == []
    assert len(calls) == 3 * 430 + 3


# a box of each kind the archive never holds (all read by the reader), with its why
BAD = {
    "zero width": ([10, 40, 10, 80], "zero width"),
    "zero height": ([10, 40, 30, 40], "zero height"),
    "zero width, int and float": ([10, 40, 10.0, 80], "zero width"),
    "zero height, float and int": ([10, 40.0, 30, 40], "zero height"),
    "zero width and height": ([3, 3, 3, 3], "zero width"),
    "negative x1": ([-4, 40, 10, 80], "left of or above the picture"),
    "negative y1": ([4, -0.5, 10, 80], "left of or above the picture"),
    "negative x1, zero width": ([-4, 40, -4, 80], "left of or above the picture"),
    "zero width at -0.0": ([-0.0, 1, 0, 9], "zero width"),
    "zero width past 2**53": ([BIG, 0, BIG, 9], "zero width"),
    "zero width at 1e300": ([1e300, 0, 1e300, 9], "zero width"),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_a_bad_box_is_found_alike_both_ways(kind):
    box, why = BAD[kind]
    assert box_problem(box) == why
    trk = big_tracklet(start=5)
    trk["317"] = box
    data = {
        "ok": split_entry([big_tracklet()], pid="ok"),
        "P42": split_entry([big_tracklet(20), trk], pid="P42"),
    }
    fast, slow = _both(split_findings, {"train.json": parse_official(data)})
    assert _as_dicts(fast) == _as_dicts(slow)
    (f,) = fast
    assert (f.check, f.where, f.product, f.field) == ("tracklets", "train.json", "P42", "tracklets[1]")
    assert f.problem.startswith("1 boxes not ") and f"317: {box!r} ({why})" in f.problem


def test_bad_boxes_mixed_across_tracklets_products_and_splits_are_found_alike_both_ways():
    kinds = list(BAD.values())
    splits: dict[str, Any] = {}
    n = 0
    for where in ("train", "test"):
        data = {}
        for p in range(4):
            trks = []
            for _ in range(3):
                trk = big_tracklet(60, start=n)
                for j in range(n % 4):  # 0 to 3 bad boxes, of kinds in turn
                    trk[str(n + 7 * j)] = list(kinds[(n + j) % len(kinds)][0])
                trks.append(trk)
                n += 1
            data[f"{where}{p}"] = split_entry(trks, pid=f"{where}{p}", source=p % 2)
        splits[where] = parse_official(data)
    fast, slow = _both(split_findings, splits)
    assert _as_dicts(fast) == _as_dicts(slow)
    assert sum(f.check == "tracklets" for f in fast) == sum(1 for i in range(n) if i % 4)


# raw JSON as verify reads it (no reader in front): what the reader refuses reaches the rule too
RAW = {
    "bool": [0, True, 30, 30],
    "string": [0, "2", 30, 30],
    "null": [0, None, 30, 30],
    "nan": [0, float("nan"), 30, 30],
    "infinity": [0, 0, float("inf"), 30],
    "too large for a float": [0, 0, 10**400, 30],
    "x2 < x1": [50, 0, 10, 30],
    "x2 < x1 past 2**53": [BIG + 1, 0, BIG, 30],
    "3 numbers": [0, 0, 30],
    "an object": {"a": 1},
    "a tuple": (0, 0, 30, 30),
    "numpy numbers": [np.float64(0), np.float32(1), 30, 30],
    "numpy int": [np.int64(0), 1, 30, 30],
}


@pytest.mark.parametrize("kind", list(RAW))
def test_any_box_of_a_raw_tracklet_is_judged_alike_both_ways(kind):
    trk = big_tracklet(50)
    trk["17"] = RAW[kind]
    fast, slow = _both(tracklet_findings, "P", 2, trk)
    assert fast == slow
    assert bool(fast) == (box_problem(RAW[kind]) is not None)


value = (
    st.integers(-(2**64), 2**64)
    | st.floats(width=64)
    | st.sampled_from(
        [
            0,
            0.0,
            -0.0,
            1,
            1.0,
            True,
            False,
            None,
            "1",
            BIG,
            BIG + 1,
            -BIG - 1,
            10**400,
            np.float32(1.5),
            np.int64(3),
        ]
    )
)
small = st.integers(-3, 12) | st.sampled_from([0.0, -0.0, 2.5, 10.0, 12.0, 12.5])
coord = st.integers(-1, 10) | st.sampled_from([0.0, -0.0, 2.5, BIG, 1e300])
step = st.integers(-1, 3) | st.sampled_from([0.0, -0.0, 0.5])
near = st.tuples(coord, coord, step, step).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])
box = st.lists(value, min_size=3, max_size=5) | st.lists(small, min_size=4, max_size=4) | near
start, size = st.integers(0, 10) | st.sampled_from([0.0, -0.0, 2.5]), st.integers(1, 3) | st.just(0.5)
good = st.tuples(start, start, size, size).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])
# good boxes with at most one other box among them: the one-pass check vouches, or must not
boxes = st.tuples(st.lists(good, max_size=6), st.none() | box, st.integers(0, 6)).map(
    lambda t: t[0] if t[1] is None else [*t[0][: t[2]], t[1], *t[0][t[2] :]]
)
dim = st.integers(12, 16) | st.integers(0, 15) | st.sampled_from([BIG, True, 14.0])
frame = st.none() | st.tuples(dim, dim)


@settings(max_examples=400, deadline=None)
@given(boxes=boxes, size=frame)
def test_the_one_pass_check_vouches_only_for_what_box_problem_passes(boxes, size):
    w, h = size if size is not None else (None, None)
    if not archive_boxes_valid(boxes, w, h):
        return
    assert all(box_problem(b) is None for b in boxes)
    if size is not None:
        assert all(b[2] <= w and b[3] <= h for b in boxes)


@settings(max_examples=300, deadline=None)
@given(tracklets=st.lists(boxes.map(lambda bs: {str(7 * i): b for i, b in enumerate(bs)}), max_size=3))
def test_any_tracklets_give_the_same_findings_both_ways(tracklets):
    for i, trk in enumerate(tracklets):
        fast, slow = _both(tracklet_findings, "p", i, trk)
        assert fast == slow
