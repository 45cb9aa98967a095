"""``mf verify``'s tracklets check vouches for a whole tracklet in one pass (``_tracklet_fits``:
frame keys canonical and in the video, boxes inside the frame) and goes key by key and box by box
only when that cannot vouch: the same breaks, in the same order and words, as the per-box loop
alone, and the one-pass check never vouches for a tracklet the loop would name."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movingfashion.archive import verify
from movingfashion.archive.verify import VideoFacts, _Audit, _box_inside, _tracklet_fits
from schemas import official_checks
from schemas.official import is_frame_key

BIG = 2**53


@contextlib.contextmanager
def per_box_only() -> Iterator[None]:
    """The tracklets check as it was: every frame key and box through the loop."""
    never = lambda *a, **k: False  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        for module in (verify, official_checks):
            mp.setattr(module, "archive_boxes_valid", never)
        mp.setattr(verify, "_tracklet_fits", never)
        yield


def _tracklet(n: int, start: int = 0, w: int = 640, h: int = 480) -> dict[str, list[int | float]]:
    out: dict[str, list[int | float]] = {}
    for f in range(start, start + n):
        x1, y1 = (f * 7) % (w // 2), (f * 11) % (h // 2)
        box = [x1, y1, x1 + 10 + f % 50, y1 + 20.5 + f % 30]
        out[str(f)] = box
    return out


# (tracklet, facts of its video: frames, width, height, or None for a video that does not decode)
CASES: dict[str, tuple[dict[str, Any], tuple[int, int, int] | None]] = {
    "valid": (_tracklet(300), (400, 640, 480)),
    "valid, last frame": (_tracklet(300, start=100), (400, 640, 480)),
    "valid, boxes touching the frame's edges": (
        {"0": [0, 0, 640, 480], "9": [-0.0, 1, 1, 480.0]},
        (10, 640, 480),
    ),
    "key past the video": (_tracklet(300, start=101), (400, 640, 480)),
    "key of more digits than frames": (_tracklet(5) | {"10000": [1, 1, 2, 2]}, (400, 640, 480)),
    "keys with leading zeros": (_tracklet(20) | {"007": [1, 1, 2, 2], "00": [1, 1, 2, 2]}, (400, 640, 480)),
    "keys that are not numbers": (_tracklet(20) | {"x": [1, 1, 2, 2], "-1": [1, 1, 2, 2]}, (400, 640, 480)),
    "zero width": (_tracklet(50) | {"17": [10, 10, 10, 20]}, (400, 640, 480)),
    "zero height": (_tracklet(50) | {"17": [10, 10, 20, 10.0]}, (400, 640, 480)),
    "left of the picture": (_tracklet(50) | {"17": [-1, 10, 20, 30]}, (400, 640, 480)),
    "past the right edge": (_tracklet(50) | {"17": [10, 10, 640.5, 30]}, (400, 640, 480)),
    "past the bottom edge": (_tracklet(50) | {"17": [10, 10, 20, 481]}, (400, 640, 480)),
    "drawn before the rotation": ({str(f): [300, 10, 400, 50] for f in range(40)}, (400, 360, 640)),
    "square frame, out of it": ({str(f): [300, 10, 700, 50] for f in range(40)}, (400, 640, 640)),
    "not numbers": (_tracklet(50) | {"3": [1, True, 5, 5], "4": "0 0 5 5", "5": [1, 2, 3]}, (400, 640, 480)),
    "valid, past 2**53 (left to the loop)": (
        _tracklet(50) | {"3": [BIG, 0, BIG + 2, 5]},
        (400, BIG * 4, 480),
    ),
    "a video of no frames": (_tracklet(5), (0, 640, 480)),
    "a video that does not decode, valid": (_tracklet(100), None),
    "a video that does not decode, zero width": (_tracklet(100) | {"5": [3, 3, 3, 9]}, None),
    "a video that does not decode, -0.0": (_tracklet(100) | {"5": [-0.0, 3, 0, 9]}, None),
    "empty": ({}, (400, 640, 480)),
}

CLEAN = {
    "valid",
    "valid, last frame",
    "valid, boxes touching the frame's edges",
    "a video that does not decode, valid",
    "empty",
    "valid, past 2**53 (left to the loop)",
}


def _audit(root: Path, cases: dict[str, tuple[dict[str, Any], tuple[int, int, int] | None]]) -> _Audit:
    """An audit of a split file of one product per case (and one of all of them), facts given."""
    root.mkdir()
    names = list(cases)
    data = {
        f"p{i}": {"video_paths": [f"videos/p{i}_0.mp4"], "img_path": f"imgs/p{i}.jpg", "source": 1}
        | {"tracklets": [cases[name][0]]}
        for i, name in enumerate(names)
    }
    data["all"] = {
        "video_paths": [f"videos/p{i}_0.mp4" for i in range(len(names))],
        "img_path": "imgs/all.jpg",
        "source": 1,
        "tracklets": [cases[name][0] for name in names],
    }
    (root / "train.json").write_text(json.dumps(data))
    audit = _Audit(root, False, 1, None)
    audit.load()
    for i, name in enumerate(names):
        if cases[name][1] is not None:
            audit.facts[f"videos/p{i}_0.mp4"] = VideoFacts(*cases[name][1])
    return audit


def _breaks(audit: _Audit) -> list[Any]:
    audit.tracklets()
    return [(r.name, r.checked, [str(b) for b in r.breaks]) for r in audit.results.values()]


def _both(tmp_path: Path, cases) -> tuple[list[Any], list[Any]]:
    fast = _breaks(_audit(tmp_path / "fast", cases))
    with per_box_only():
        slow = _breaks(_audit(tmp_path / "slow", cases))
    return fast, slow


@pytest.mark.parametrize("case", list(CASES))
def test_each_case_breaks_alike_both_ways(tmp_path, case):
    fast, slow = _both(tmp_path, {case: CASES[case]})
    assert fast == slow
    breaks = {name: b for name, _, b in fast}["tracklets"]
    assert bool(breaks) == (case not in CLEAN)


def test_all_cases_together_break_alike_both_ways(tmp_path):
    fast, slow = _both(tmp_path, CASES)
    assert fast == slow
    assert any("before the video's rotation" in b for _, _, bs in fast for b in bs)


def test_a_valid_tracklet_checks_no_key_or_box_alone(tmp_path, monkeypatch):
    audit = _audit(tmp_path / "ds", {"valid": CASES["valid"]})
    calls: list[Any] = []
    monkeypatch.setattr(verify, "is_frame_key", lambda k: calls.append(k) or is_frame_key(k))
    monkeypatch.setattr(verify, "box_problem", lambda b: calls.append(b) or official_checks.box_problem(b))
    assert all(not bs for _, _, bs in _breaks(audit))
    assert calls == []


keys = st.integers(0, 30).map(str) | st.sampled_from(
    ["07", "00", "", "x", "-1", "+1", "1.0", "\u0663", "1" * 40]
)
coord = st.integers(-1, 20) | st.sampled_from([0.0, -0.0, 2.5, 16.0, BIG, 1e300, True, None])
step = st.integers(-1, 4) | st.sampled_from([0.0, -0.0, 0.5])
box = st.tuples(coord, coord, step, step).map(
    lambda t: (
        [t[0], t[1], t[0] + t[2], t[1] + t[3]] if all(type(v) in (int, float) for v in t[:2]) else list(t)
    )
)
start, size = st.integers(0, 10) | st.sampled_from([0.0, -0.0, 2.5]), st.integers(1, 3) | st.just(0.5)
good = st.tuples(start, start, size, size).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])
# good keys and boxes with at most one other key or box among them: the one-pass check vouches, or
# must not
tracklet = st.tuples(
    st.dictionaries(st.integers(0, 30).map(str), good, max_size=6),
    st.none() | st.tuples(keys, box) | st.tuples(st.integers(0, 30).map(str), box),
).map(lambda t: t[0] if t[1] is None else {**t[0], t[1][0]: t[1][1]})
dim = st.integers(14, 24) | st.integers(10, 24) | st.sampled_from([BIG + 1, 14.0])
facts = st.builds(
    VideoFacts, st.integers(31, 40) | st.integers(0, 40) | st.just(10**40) | st.just(31.0), dim, dim
)


@settings(max_examples=400, deadline=None)
@given(trk=tracklet, facts=facts)
def test_the_one_pass_check_vouches_only_for_a_tracklet_the_loop_passes(trk, facts):
    if not _tracklet_fits(trk, facts):
        return
    for key, b in trk.items():
        assert is_frame_key(key) and len(key) <= len(str(facts.frames)) and int(key) < facts.frames
        assert _box_inside(b, facts.width, facts.height)


@settings(max_examples=150, deadline=None)
@given(
    tracklets=st.lists(tracklet, min_size=1, max_size=3),
    facts=st.lists(st.none() | facts, min_size=3, max_size=3),
)
def test_any_tracklets_break_alike_both_ways(tmp_path_factory, tracklets, facts):
    cases = {
        str(i): (trk, None if f is None else (f.frames, f.width, f.height))
        for i, (trk, f) in enumerate(zip(tracklets, facts, strict=False))
    }
    fast, slow = _both(tmp_path_factory.mktemp("fuzz"), cases)
    assert fast == slow


@pytest.mark.parametrize("key", ["1234567890", "0001234567890", "9" * 30])
def test_a_frame_key_of_too_many_digits_is_named_out_of_the_video_not_a_leading_zero(tmp_path, key):
    audit = _audit(tmp_path / "ds", {"long": (_tracklet(5) | {key: [1, 1, 2, 2]}, (400, 640, 480))})
    breaks = {name: b for name, _, b in _breaks(audit)}["tracklets"]
    assert breaks and all("not in 0..399" in b and "leading zeros" not in b for b in breaks)
    shown = key if len(key) <= 24 else key[:24] + "..."  # a long key is cut in the message
    assert all(f"(first: {shown})" in b for b in breaks)
