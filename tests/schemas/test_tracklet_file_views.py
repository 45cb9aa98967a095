"""The light views of a tracklet file (one home, :mod:`schemas.dataset`) read what the full
:class:`VideoTracklets` reads of the fields they hold, each with its strictness: the head and
the queue's summary ignore unknown keys, the dataset's scores view refuses them as the full model
does (and words its errors as ``VideoTracklets``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.dataset import (
    TrackletFileHead,
    TrackletFileScores,
    TrackletFileSummary,
    VideoTracklets,
)

VIDEO = "videos/p_0.mp4"


def _doc(**over: Any) -> dict[str, Any]:
    trk = {"video": VIDEO, "boxes": {"3": [1, 2, 30, 40]}, "scores": {"3": 0.9}, "class_id": 1}
    doc = {
        "product_id": "p",
        "video": VIDEO,
        "frames": 12,
        "width": 64,
        "height": 48,
        "tracklets": [trk, {**trk, "scores": {"3": 0.2}}],
        "ground_truth": 1,
        "detector": "d",
        "needs_review": True,
        "review_reason": "low score",
        "signals": {"margin": 0.1},
    }
    return {**doc, **over}


def test_each_view_reads_what_the_full_model_reads():
    data = json.dumps(_doc())
    full = VideoTracklets.model_validate_json(data)
    head = TrackletFileHead.model_validate_json(data)
    assert (head.product_id, head.video) == (full.product_id, full.video)
    summary = TrackletFileSummary.model_validate_json(data)
    assert summary == TrackletFileSummary.of(full)
    assert (summary.frames, summary.width, summary.height, summary.ground_truth) == (12, 64, 48, 1)
    assert summary.needs_review and summary.review_reason == "low score"
    assert [t.video for t in summary.tracklets] == [VIDEO, VIDEO]
    scores = TrackletFileScores.model_validate_json(data)
    assert [t.scores for t in scores.tracklets] == [{"3": 0.9}, {"3": 0.2}]
    assert scores.signals == full.signals and scores.detector == "d"
    assert isinstance(full, TrackletFileHead)  # the full model shares the header


def test_the_light_views_ignore_unknown_keys_the_strict_one_refuses_them():
    data = json.dumps(_doc(comment="hand-made"))
    assert TrackletFileHead.model_validate_json(data).product_id == "p"
    assert TrackletFileSummary.model_validate_json(data).product_id == "p"
    for model in (TrackletFileScores, VideoTracklets):
        with pytest.raises(ValidationError, match="VideoTracklets") as exc:
            model.model_validate_json(data)
        assert exc.value.errors()[0]["loc"] == ("comment",)


@pytest.mark.parametrize("model", [TrackletFileSummary, TrackletFileScores, VideoTracklets])
def test_a_ground_truth_past_the_tracklets_is_refused_alike(model):
    with pytest.raises(ValidationError, match="index 2 but the file has 2 tracklets"):
        model.model_validate_json(json.dumps(_doc(ground_truth=2)))


def test_the_light_views_leave_boxes_unread():
    """A tracklet's boxes are not read by the light views (the full model refuses these)."""
    doc = _doc()
    doc["tracklets"][0]["boxes"] = {"07": "not a box"}
    data = json.dumps(doc)
    with pytest.raises(ValidationError):
        VideoTracklets.model_validate_json(data)
    assert TrackletFileSummary.model_validate_json(data).ground_truth == 1
    assert TrackletFileScores.model_validate_json(data).tracklets[1].scores == {"3": 0.2}


def test_the_full_model_keeps_its_field_order():
    """Files are written in this order: sharing the header must not move a field."""
    assert list(VideoTracklets.model_fields) == [
        "product_id",
        "video",
        "frames",
        "width",
        "height",
        "tracklets",
        "ground_truth",
        "detector",
        "matcher",
        "needs_review",
        "review_reason",
        "signals",
    ]
