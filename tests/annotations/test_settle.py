"""The end-of-build pass: flags decided over the whole dataset, the catalog following them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from annotations.config import ReviewConfig
from annotations.settle import settle_flags
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.catalog import Catalog
from schemas.dataset import Tracklet, VideoTracklets
from schemas.items import SourceItem, Status

#: det_mean of video i (product p<i>): half of them below the absolute threshold 0.3587
DET_MEAN = [0.1, 0.25, 0.3, 0.31, 0.32, 0.33, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


@dataclass
class Job:
    video_path: str
    product_id: str

    @property
    def stem(self) -> str:
        return Path(self.video_path).stem


def _job(i: int) -> Job:
    return Job(f"videos/p{i}_0.mp4", f"p{i}")


def _build(root: Path, ids: list[int]) -> list[Job]:
    """What the builder leaves for these videos: files flagged on their own signals."""
    jobs = [_job(i) for i in ids]
    for i, job in zip(ids, jobs, strict=True):
        _write(root, job, DET_MEAN[i])
    return jobs


def _flagged(root: Path, jobs: list[Job]) -> list[str]:
    return [
        j.product_id for j in jobs if read_video_tracklets(tracklet_file(root, j.video_path)).needs_review
    ]


def test_the_relative_rule_flags_the_datasets_lowest_videos_only(tmp_path):
    jobs = _build(tmp_path, list(range(12)))
    assert _flagged(tmp_path, jobs) == ["p0", "p1", "p2", "p3", "p4", "p5"]  # the absolute threshold
    out = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set(range(12)))
    # det_mean's 12% quantile over the 12 videos is 0.266: stricter than 0.3587, above the floor 0.2
    assert out.thresholds == {"det_mean <": pytest.approx(0.266)}
    assert [jobs[i].product_id for i, _ in out.flagged] == ["p0", "p1"] == _flagged(tmp_path, jobs)
    # 4 unflagged, and the 2 still flagged now name the threshold they fell below
    assert out.changed == 6 and "det_mean 0.25 < 0.266" in out.flagged[1][1]
    again = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    assert again.changed == 0 and again.flagged == out.flagged  # settled: a rerun changes nothing
    # the floor: below 0.2 a video is flagged however few the dataset flags; an absolute rule
    # (max_share None) is the threshold alone
    rule = ReviewConfig().rules[1]
    assert rule.resolved([0.05] * 9 + [0.9]).threshold == 0.2
    assert rule.model_copy(update={"max_share": None, "floor": None}).resolved(DET_MEAN).threshold == 0.3587
    # a dataset below share_min_videos keeps the absolute threshold
    few_jobs = _build(tmp_path / "few", list(range(6)))
    few = settle_flags(tmp_path / "few", few_jobs, ReviewConfig(), fresh=set())
    assert few.thresholds == {"det_mean <": 0.3587} and len(few.flagged) == 6


def test_videos_publish_held_back_still_count_for_the_threshold(tmp_path):
    """After `mf publish` holds p0 and p1 back, their files stay: a rebuild of the published
    videos resolves over them too, so the threshold does not creep up and flag p2..p5."""
    jobs = _build(tmp_path, list(range(12)))
    settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set(range(12)))
    again = settle_flags(tmp_path, jobs[2:], ReviewConfig(), fresh=set())
    assert again.thresholds == {"det_mean <": pytest.approx(0.266)} and again.flagged == []
    # a file that cannot be read is left out of the population, with the rest settled
    (tmp_path / "tracklets" / "junk.json").write_text("{not json")
    assert settle_flags(tmp_path, jobs[2:], ReviewConfig(), fresh=set()).flagged == []


def test_the_catalog_follows_flags_decided_again_as_videos_are_added(tmp_path):
    ds, cat_path = tmp_path / "ds", tmp_path / "cat.db"
    with Catalog(cat_path) as cat:
        for i in range(12):
            cat.upsert_items(
                [SourceItem(source="netaporter", source_id=f"p{i}", url=f"http://x/p{i}")],
                status=Status.ACCEPTED,
                product_id=f"p{i}",
            )
    first = _build(ds, [0, 2, 3, 6, 7, 8])  # 6 videos: the absolute threshold decides
    with Catalog(cat_path) as cat:
        out = settle_flags(ds, first, ReviewConfig(), fresh=set(range(6)), cat=cat)
        assert out.marked == 3 and {cat.get_item("netaporter", p).status for p in ("p0", "p2", "p3")} == {
            Status.NEEDS_REVIEW
        }
        cat.set_item_state("netaporter", "p3", status=Status.REJECTED, reason="review: reject")  # a reviewer
        cat.set_item_state("netaporter", "p6", status=Status.NEEDS_REVIEW, reason="association: score 0.1")
    jobs = first + _build(ds, [1, 4, 5, 9, 10, 11])  # 12 videos: det_mean below 0.266 only
    with Catalog(cat_path) as cat:
        out = settle_flags(ds, jobs, ReviewConfig(), fresh=set(range(6, 12)), cat=cat)
        status = {f"p{i}": cat.get_item("netaporter", f"p{i}").status for i in range(12)}
        events = [e["message"] for e in cat.events() if "flag withdrawn" in e["message"]]
    assert sorted(_flagged(ds, jobs)) == ["p0", "p1"]
    assert out.marked == 1 and out.withdrawn == 1  # p1 marked (new); p2 back to accepted
    assert status["p0"] == status["p1"] == Status.NEEDS_REVIEW
    assert status["p2"] == Status.ACCEPTED and len(events) == 1 and "p2_0 no longer flagged" in events[0]
    assert status["p3"] == Status.REJECTED  # a reviewer's decision stays
    assert status["p6"] == Status.NEEDS_REVIEW  # another stage's reason stays
    # fresh videos flagged only on their own signals were never marked
    assert status["p4"] == status["p5"] == Status.ACCEPTED


def test_files_without_a_rules_signal_are_counted_so_a_user_knows_to_rebuild_them(tmp_path):
    """Files written before a rule's signal existed (here: no extent_outer) cannot be flagged by
    that rule: the pass says how many, per signal, instead of silently flagging fewer."""
    jobs = _build(tmp_path, list(range(12)))  # signals of an older build: no extent_outer
    newer = [j for j in jobs if j.product_id in ("p7", "p8")]
    for j in newer:
        vt = read_video_tracklets(tracklet_file(tmp_path, j.video_path))
        write_video_tracklets(
            tmp_path, vt.model_copy(update={"signals": {**vt.signals, "extent_outer": 0.9}})
        )
    out = settle_flags(tmp_path, jobs, ReviewConfig(), fresh=set())
    assert out.missing == {"extent_outer": 10}
    # the two newer files have it, and its rule flags them
    assert {"p7", "p8"} <= set(_flagged(tmp_path, jobs))
    rules = [r for r in ReviewConfig().rules if r.signal != "extent_outer"]
    assert settle_flags(tmp_path, jobs, ReviewConfig(rules=rules), fresh=set()).missing == {}


def test_a_file_whose_signals_lack_a_fixed_one_is_left_out_with_a_warning_naming_it(tmp_path, caplog):
    """A held-back product's file (no job builds it again) whose signals lack pivot_shop once made
    every build end in a KeyError traceback."""
    import logging

    jobs = _build(tmp_path, [7, 8, 9])
    held = VideoTracklets(
        product_id="held",
        video="videos/held_0.mp4",
        frames=10,
        width=32,
        height=32,
        tracklets=[Tracklet(video="videos/held_0.mp4", boxes={0: [1, 1, 9, 9]}, mode="training")],
        ground_truth=0,
        signals={"members": 2.0, "coverage_detected": 1.0},
    )
    write_video_tracklets(tmp_path, held)
    with caplog.at_level(logging.WARNING, logger="annotations.settle"):
        out = settle_flags(tmp_path, jobs, ReviewConfig(min_frames=30), fresh=set())
    assert f"{tmp_path / 'tracklets' / 'held_0.json'} left out: its signals lack pivot_shop" in caplog.text
    assert out.missing["pivot_shop"] == 1
    assert [jobs[i].product_id for i, _ in out.flagged] == ["p7", "p8", "p9"]  # 20 detections < 30
    assert read_video_tracklets(tracklet_file(tmp_path, held.video)) == held  # left as it was


def test_an_older_files_ground_truth_picked_by_a_person_keeps_its_flag(tmp_path):
    """A file without a build record: its signals count 20 detections, its ground truth (a pick)
    has 3: the signals are not the ground truth's, so its flag is not decided from them."""
    jobs = _build(tmp_path, [7, 8])
    p = tracklet_file(tmp_path, jobs[0].video_path)
    vt = read_video_tracklets(p)
    v = vt.video
    built = Tracklet(
        video=v, boxes=dict.fromkeys(range(20), [1, 1, 9, 9]), scores=dict.fromkeys(range(20), 0.9)
    )
    picked = Tracklet(
        video=v, boxes=dict.fromkeys(range(3), [2, 2, 8, 8]), scores=dict.fromkeys(range(3), 0.8)
    )
    write_video_tracklets(tmp_path, vt.model_copy(update={"tracklets": [built, picked], "ground_truth": 1}))
    out = settle_flags(tmp_path, jobs, ReviewConfig(min_frames=30), fresh=set())
    # p8's 20 detections are its ground truth's: flagged; p7's 20 are another tracklet's
    assert [jobs[i].product_id for i, _ in out.flagged] == ["p8"]
    assert not read_video_tracklets(p).needs_review  # not "too few frames (20 detections ...)"
    assert out.decided_by_person == ["p7_0"] and out.changed == 1


def _accepted_p0(cat_path: Path, df2_class: int | None = None) -> None:
    """Catalog ``cat_path`` with product p0 accepted (published), as the builder meets it."""
    with Catalog(cat_path) as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id="p0", url="http://x/p0")],
            status=Status.ACCEPTED,
            product_id="p0",
        )
        if df2_class is not None:
            cat.set_item_state("netaporter", "p0", df2_class=df2_class)


def _write(root: Path, job: Job, det_mean: float, box: tuple[int, ...] = (1, 1, 9, 9)) -> None:
    """The builder's file of ``job``'s video, flagged on its own signals (``det_mean``); ``box``:
    its ground-truth tracklet's one box."""
    signals = {"members": 20.0, "coverage_detected": 1.0, "pivot_shop": 0.9, "class_missed": 0.0}
    signals["det_mean"] = det_mean
    reason = ReviewConfig().reason(signals)
    trk = Tracklet(video=job.video_path, boxes={0: list(box)}, mode="training")
    vt = VideoTracklets(
        product_id=job.product_id,
        video=job.video_path,
        frames=10,
        width=32,
        height=32,
        tracklets=[trk],
        ground_truth=0,
        needs_review=reason is not None,
        review_reason=reason,
        signals=signals,
    )
    write_video_tracklets(root, vt)


def test_a_product_with_two_flagged_videos_stays_held_until_both_are_accepted(tmp_path):
    """Both videos of p0 flagged: the item's reason names each, and the accept of the one marked
    last does not release it (before, the reason named that one only, and its accept let the next
    publish have p0 with the other video's tracklet unreviewed). A rebuild that no longer flags
    one video leaves the item held by the other."""
    from schemas.review import record_decision

    ds, cat_path = tmp_path / "ds", tmp_path / "cat.db"
    _accepted_p0(cat_path, df2_class=1)
    jobs = [Job("videos/p0_0.mp4", "p0"), Job("videos/p0_1.mp4", "p0")]
    _write(ds, jobs[0], 0.1)
    _write(ds, jobs[1], 0.2)
    with Catalog(cat_path) as cat:
        out = settle_flags(ds, jobs, ReviewConfig(), fresh={0, 1}, cat=cat)
        assert out.marked == 2
        row = cat.get_item("netaporter", "p0")
        assert row.status == Status.NEEDS_REVIEW
        assert (
            "p0_0: low confidence: det_mean 0.1" in row.reason
            and "p0_1: low confidence: det_mean 0.2" in row.reason
        )
        record_decision(cat, video="videos/p0_1.mp4", product_id="p0", kind="accept")
        assert cat.get_item("netaporter", "p0").status == Status.NEEDS_REVIEW  # p0_0 unreviewed
    _write(ds, jobs[0], 0.9)  # rebuilt: p0_0 no longer flagged
    with Catalog(cat_path) as cat:
        out = settle_flags(ds, jobs[:1], ReviewConfig(), fresh={0}, cat=cat)
        row = cat.get_item("netaporter", "p0")
        # p0_1 still flagged, and accepted under the hold that named it: released
        assert (row.status, row.reason, out.withdrawn) == (Status.ACCEPTED, None, 1)


def test_a_rebuild_that_drops_one_of_two_flags_keeps_the_item_held_by_the_other(tmp_path):
    ds, cat_path = tmp_path / "ds", tmp_path / "cat.db"
    _accepted_p0(cat_path)
    jobs = [Job("videos/p0_0.mp4", "p0"), Job("videos/p0_1.mp4", "p0")]
    _write(ds, jobs[0], 0.1)
    _write(ds, jobs[1], 0.2)
    with Catalog(cat_path) as cat:
        settle_flags(ds, jobs, ReviewConfig(), fresh={0, 1}, cat=cat)
    _write(ds, jobs[1], 0.9)  # rebuilt: p0_1 no longer flagged
    with Catalog(cat_path) as cat:
        out = settle_flags(ds, jobs[1:], ReviewConfig(), fresh={0}, cat=cat)
        row = cat.get_item("netaporter", "p0")
    assert out.withdrawn == 1 and row.status == Status.NEEDS_REVIEW
    assert row.reason.startswith("tracklets: p0_0: low confidence: det_mean 0.1") and "p0_1" not in row.reason


def test_a_rebuild_flagging_a_video_again_is_not_released_by_the_accept_of_its_old_tracklet(tmp_path):
    """A reviewer accepted p0_0's flagged tracklet; ``--force`` rebuilds the video, with another
    ground truth flagged for the same reason: the item is held again, and a later decision that
    restates it (a class change) does not let the old accept release it (before, accepts were
    matched by video and reason only); an accept of the new tracklet does. A rebuild giving the
    very tracklet accepted is released by that accept."""
    from schemas.review import record_decision

    ds, cat_path, video = tmp_path / "ds", tmp_path / "cat.db", "videos/p0_0.mp4"
    _accepted_p0(cat_path, df2_class=1)
    jobs = [Job(video, "p0")]

    def state(cat):
        row = cat.get_item("netaporter", "p0")
        return row.status, row.reason, row.df2_class

    _write(ds, jobs[0], 0.1)
    with Catalog(cat_path) as cat:
        assert settle_flags(ds, jobs, ReviewConfig(), fresh={0}, cat=cat).marked == 1
        flag = state(cat)[1]
        assert flag.startswith("tracklets: p0_0: low confidence")
        record_decision(cat, video=video, product_id="p0", kind="accept")
        assert state(cat) == (Status.ACCEPTED, None, 1)
    _write(ds, jobs[0], 0.1, box=(2, 2, 8, 8))  # rebuilt: another tracklet, the same reason
    with Catalog(cat_path) as cat:
        assert settle_flags(ds, jobs, ReviewConfig(), fresh={0}, cat=cat).marked == 1
        assert state(cat) == (Status.NEEDS_REVIEW, flag, 1)
        record_decision(cat, video=video, product_id="p0", kind="class", df2_class=4)
        assert state(cat) == (Status.NEEDS_REVIEW, flag, 4)  # the old tracklet's accept counts not
        cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)  # nor for a writer
        assert state(cat) == (Status.NEEDS_REVIEW, flag, 4)
        record_decision(cat, video=video, product_id="p0", kind="accept")  # of the new tracklet
        assert state(cat) == (Status.ACCEPTED, None, 4)
    _write(ds, jobs[0], 0.1, box=(2, 2, 8, 8))  # rebuilt again: the very tracklet accepted
    with Catalog(cat_path) as cat:
        settle_flags(ds, jobs, ReviewConfig(), fresh={0}, cat=cat)
        record_decision(cat, video=video, product_id="p0", kind="class", df2_class=5)
        assert state(cat) == (Status.ACCEPTED, None, 5)
