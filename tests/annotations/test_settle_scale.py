"""The end-of-build pass reads each tracklet file light, one at a time: 15K files must not all be
validated and held at once (it runs under the dataset lock at the end of every build)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from annotations.config import ReviewConfig
from annotations.settle import settle_flags
from annotations.tracklet_files import (
    ground_truth_digest,
    read_video_tracklets,
    tracklet_file,
    write_build_record,
    write_video_tracklets,
)
from schemas.dataset import Tracklet, VideoTracklets
from tests.annotations.test_settle import DET_MEAN, Job
from tests.damage import assert_same_tree


def _vt(i: int) -> VideoTracklets:
    v = f"videos/p{i}_0.mp4"
    frames = range(0, 20, 2)
    gt = Tracklet(
        video=v,
        boxes={f: [1.5, 1.0, 9.25, 9.0 + f] for f in frames},
        scores=dict.fromkeys(frames, 0.875),
        match_scores=dict.fromkeys(frames, 0.5),
        class_id=3,
        mode="training",
    )
    other = Tracklet(video=v, boxes={1: [2, 2, 8, 8]}, scores={1: 0.25})
    signals = {"members": 10.0, "coverage_detected": 1.0, "pivot_shop": 0.9, "det_mean": DET_MEAN[i]}
    return VideoTracklets(
        product_id=f"p{i}",
        video=v,
        frames=20,
        width=32,
        height=32,
        tracklets=[other, gt],
        ground_truth=1,
        signals=signals,
    )


def _build(root: Path, n: int = 12) -> list[Job]:
    """What the builder leaves: tracklet files (none flagged yet) and build records."""
    jobs = []
    for i in range(n):
        vt = _vt(i)
        p = write_video_tracklets(root, vt)
        write_build_record(p, {"ground_truth": ground_truth_digest(vt)})
        jobs.append(Job(vt.video, vt.product_id))
    return jobs


def test_a_settle_that_changes_nothing_validates_no_file_in_full(tmp_path, full_reads):
    jobs = _build(tmp_path)
    full_reads.clear()  # the builder's writes check what they write
    first = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set(range(12)))
    assert first.changed == 2 and [jobs[i].product_id for i, _ in first.flagged] == ["p0", "p1"]
    # only the two files whose flag changed were read in full (and checked once more as written)
    assert len(full_reads) == 2 * 2
    before = {p.name: p.read_bytes() for p in (tmp_path / "tracklets").glob("*.json")}
    full_reads.clear()
    again = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    assert again.changed == 0 and again.flagged == first.flagged and again.decided_by_person == []
    assert full_reads == []  # was 12: every file of the dataset validated and held at once
    assert_same_tree({p.name: p.read_bytes() for p in (tmp_path / "tracklets").glob("*.json")}, before)


def test_a_rewritten_file_is_the_file_with_only_its_flag_changed(tmp_path):
    jobs = _build(tmp_path)
    settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    got = read_video_tracklets(tracklet_file(tmp_path, jobs[1].video_path))
    assert got.needs_review and "det_mean" in (got.review_reason or "")
    assert got.model_copy(update={"needs_review": False, "review_reason": None}) == _vt(1)


def test_ground_truths_read_light_are_judged_as_the_full_read_judges_them(tmp_path):
    """A ground truth written by hand (defaults left out: its dump is not the builder's) whose
    recorded digest is its own still has its flag decided; one a person picked since does not."""
    jobs = _build(tmp_path)
    hand = tracklet_file(tmp_path, jobs[0].video_path)
    data = json.loads(hand.read_text())
    for key in ("match_scores", "pivot_frame", "shop_score", "class_id"):
        data["tracklets"][1].pop(key, None)
    hand.write_text(json.dumps(data))
    write_build_record(hand, {"ground_truth": ground_truth_digest(read_video_tracklets(hand))})
    picked = tracklet_file(tmp_path, jobs[1].video_path)
    vt = read_video_tracklets(picked)
    write_video_tracklets(tmp_path, vt.model_copy(update={"ground_truth": 0}))
    out = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    assert out.decided_by_person == ["p1_0"]
    assert read_video_tracklets(hand).needs_review  # decided: det_mean 0.1
    assert not read_video_tracklets(picked).needs_review  # left as the person left it


def test_a_file_that_does_not_read_is_left_out_with_the_full_reads_words(tmp_path, caplog):
    jobs = _build(tmp_path)
    bad = tracklet_file(tmp_path, jobs[0].video_path)
    data = json.loads(bad.read_text())
    data["tracklets"][1]["boxes"]["07"] = [1, 1, 5, 5]  # the ground truth's frame written "07"
    bad.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="annotations.settle"):
        out = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    assert f"{bad} left out" in caplog.text and "key '07'" in caplog.text and "write '7'" in caplog.text
    assert 0 not in [i for i, _ in out.flagged] and json.loads(bad.read_text()) == data  # untouched
