"""Tracklet files with NaN, Infinity or out-of-range numbers are refused by every reader, and the
loader's light view refuses what the full model refuses (but the documented difference)."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.dataset import (
    TrackletFileFlags,
    TrackletFileScores,
    TrackletFileSummary,
    VideoTracklets,
    check_ground_truth,
)


def _file() -> dict:
    def tracklet(lo: int) -> dict:
        frames = [str(f) for f in range(lo, lo + 4)]
        return {
            "video": "videos/v_0.mp4",
            "boxes": {f: [1.0, 2.0, 30.0, 40.0] for f in frames},
            "scores": {f: 0.5 for f in frames},
            "match_scores": {f: 0.25 for f in frames},
            "class_id": 1,
            "pivot_frame": lo,
            "shop_score": 0.5,
            "mode": "inference",
        }

    return {
        "product_id": "p",
        "video": "videos/v_0.mp4",
        "frames": 10,
        "width": 64,
        "height": 48,
        "tracklets": [tracklet(0), tracklet(3)],
        "ground_truth": 1,
        "signals": {"members": 4.0, "det_mean": 0.5},
    }


def _accepts(model, raw: str) -> bool:
    try:
        vt = model.model_validate_json(raw)
    except ValidationError:
        return False
    if model is TrackletFileScores and vt.ground_truth is not None:
        try:
            check_ground_truth(vt.tracklets[vt.ground_truth])
        except ValidationError:
            return False
    return True


BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400"]
PLACES = [
    ('"scores": {"3": 0.5', '"scores": {"3": X'),
    ('"match_scores": {"3": 0.25', '"match_scores": {"3": X'),
    ('"shop_score": 0.5', '"shop_score": X'),
    ('"members": 4.0', '"members": X'),
]


@pytest.mark.parametrize("literal", BAD_NUMBERS)
@pytest.mark.parametrize("place", PLACES, ids=["scores", "match_scores", "shop_score", "signals"])
def test_non_finite_numbers_are_refused_by_every_view(place, literal):
    old, new = place
    raw = json.dumps(_file())
    assert old in raw
    raw = raw.replace(old, new.replace("X", literal), 1)
    models = [VideoTracklets, TrackletFileScores]
    if "members" in old:
        models.append(TrackletFileFlags)
    for model in models:
        assert not _accepts(model, raw), (model.__name__, raw)


@pytest.mark.parametrize("score", [-0.1, 1.5])
def test_a_detector_score_is_in_0_1(score):
    data = _file()
    data["tracklets"][1]["scores"]["3"] = score
    for model in (VideoTracklets, TrackletFileScores):
        assert not _accepts(model, json.dumps(data))


def test_the_builder_s_numbers_still_read():
    raw = json.dumps(_file())
    for model in (VideoTracklets, TrackletFileScores, TrackletFileSummary, TrackletFileFlags):
        assert _accepts(model, raw)


def test_the_light_view_refuses_the_audit_s_broken_ground_truth():
    for field, value in [("video", None), ("pivot_frame", "07"), ("class_id", ""), ("mode", {})]:
        data = _file()
        data["tracklets"][1][field] = value
        assert not _accepts(TrackletFileScores, json.dumps(data)), field
    data = _file()
    data["tracklets"][1]["match_scores"]["07"] = 0.1
    assert not _accepts(TrackletFileScores, json.dumps(data))


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([0.5, 1.5, -1.0, float("nan"), float("inf"), 1e300]),
    st.sampled_from(["", "07", "-1", "videos/v_0.mp4", "videos/other.mp4", "../x.mp4", "3"]),
    st.just({}),
    st.just([]),
    st.just({"07": 0.5}),
    st.just({"3": [1, 2]}),
)
_TOP = ["product_id", "video", "frames", "width", "height", "ground_truth", "signals", "surprise"]
_INNER = [
    "video",
    "boxes",
    "scores",
    "match_scores",
    "class_id",
    "pivot_frame",
    "shop_score",
    "mode",
    "noise",
    "surprise",
]
_MUTATION = st.tuples(
    st.one_of(
        st.tuples(st.just(None), st.sampled_from(_TOP)), st.tuples(st.integers(0, 1), st.sampled_from(_INNER))
    ),
    _VALUES,
)


def _unchecked(where: int | None, key: str, ground_truth: int | None) -> bool:
    """What :class:`TrackletFileScores` documents it leaves unchecked: every tracklet's boxes and
    unknown keys, and a tracklet other than the ground truth's frame keys."""
    if where is None:
        return False
    return key in ("boxes", "surprise") or (
        where != ground_truth and key in ("scores", "match_scores", "noise")
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(_MUTATION, min_size=1, max_size=2))
def test_the_light_view_accepts_no_file_the_full_model_refuses(mutations):
    data = copy.deepcopy(_file())
    for (where, key), value in mutations:
        (data if where is None else data["tracklets"][where])[key] = value
    raw = json.dumps(data)
    gt = data.get("ground_truth")
    if any(_unchecked(where, key, gt if isinstance(gt, int) else None) for (where, key), _ in mutations):
        return
    if _accepts(TrackletFileScores, raw):
        assert _accepts(VideoTracklets, raw), raw
