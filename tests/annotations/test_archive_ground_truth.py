"""A build on the real archive's files keeps the tracklets its split files already hold.

The official MovingFashion ``train.json``/``test.json`` carry the authors' ground-truth tracklets
and no ``tracklets/`` folder. Building tracklets there (for the inference tracklets the queries
need) must not replace those with the detector's choice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from annotations.builder import build_dataset_tracklets
from annotations.cli import _detector_choice_line
from annotations.config import BuildConfig, ReviewConfig
from annotations.review.queue import SPLIT_DETECTOR_REASON, SPLIT_TRUTH_REASON, build_queue
from annotations.tracklet_files import (
    SPLIT_ORIGIN,
    read_video_tracklets,
    split_tracklet_digest,
    tracklet_file,
)
from schemas.errors import DataFormatError
from tests.annotations.test_reruns import GARMENT, FakeBuilder, two_product_dataset
from tests.mf_cli import run_tracklets

#: the authors' tracklet of pa's video: other boxes than the builder's, ints as the archive writes them
ARCHIVE = {"0": [12, 11, 48, 88], "2": [13, 11, 49, 88], "4": [14, 12, 50, 89]}


def _archive(root: Path) -> Path:
    two_product_dataset(root)
    data = json.loads((root / "train.json").read_text())
    data["pa"]["tracklets"] = [ARCHIVE]
    data["pa"]["note"] = {"kept": [1, 2.5]}
    (root / "train.json").write_text(json.dumps(data))
    return root


def test_a_build_keeps_the_split_files_own_ground_truth_beside_the_detectors(tmp_path):
    ds = _archive(tmp_path / "ds")
    before = json.loads((ds / "train.json").read_text())
    rep = build_dataset_tracklets(ds, builder=FakeBuilder())
    assert rep.processed == 2
    assert rep.kept_split_ground_truth == ["pa_0"]
    after = json.loads((ds / "train.json").read_text())
    assert after["pa"] == before["pa"]  # the archive's boxes, ints and extra keys unchanged
    # a video without a tracklet in the split file takes the builder's
    assert after["pb"]["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]
    vt = read_video_tracklets(tracklet_file(ds, "videos/pa_0.mp4"))
    assert vt.official() == ARCHIVE
    assert len(vt.tracklets) == 3  # the detector's two tracklets stay, for queries and review


def test_the_kept_ground_truth_survives_force_and_goes_only_with_discard_corrections(tmp_path):
    ds = _archive(tmp_path / "ds")
    build_dataset_tracklets(ds, builder=FakeBuilder())
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(), force=True)
    assert [k["video"] for k in rep.kept_human_videos] == ["pa_0"]
    assert json.loads((ds / "train.json").read_text())["pa"]["tracklets"] == [ARCHIVE]
    build_dataset_tracklets(ds, builder=FakeBuilder(), force=True, discard_corrections=True)
    assert json.loads((ds / "train.json").read_text())["pa"]["tracklets"][0]["0"] == GARMENT["imgs/a.jpg"]


class _StopsAtSecond(FakeBuilder):
    """Builds the first video, then the run is stopped (Ctrl-C) at the second."""

    def process(self, dataset: Path, job, timings):
        if self.built:
            raise KeyboardInterrupt
        return super().process(dataset, job, timings)


def test_a_build_stopped_midway_keeps_the_ground_truth_of_the_videos_it_built(tmp_path):
    ds = _archive(tmp_path / "ds")
    with pytest.raises(KeyboardInterrupt):  # the stop still stops the run
        build_dataset_tracklets(ds, builder=_StopsAtSecond())
    assert tracklet_file(ds, "videos/pa_0.mp4").is_file()  # built before the stop
    build_dataset_tracklets(ds, builder=FakeBuilder())  # the rerun builds the rest
    # the archive's tracklet of the video built before the stop is still the ground truth
    assert json.loads((ds / "train.json").read_text())["pa"]["tracklets"] == [ARCHIVE]
    assert read_video_tracklets(tracklet_file(ds, "videos/pa_0.mp4")).official() == ARCHIVE


class _LooksAtFirst(FakeBuilder):
    """Records, while the second video builds, what the first one's file on disk holds: what a
    build killed outright (SIGKILL, the OOM killer) at that moment would leave the rerun."""

    on_disk: dict | None = None

    def process(self, dataset: Path, job, timings):
        if self.built:
            self.on_disk = read_video_tracklets(tracklet_file(dataset, "videos/pa_0.mp4")).official()
        return super().process(dataset, job, timings)


def test_a_video_built_anew_carries_the_ground_truth_from_its_first_write(tmp_path):
    ds = _archive(tmp_path / "ds")
    builder = _LooksAtFirst()
    rep = build_dataset_tracklets(ds, builder=builder)
    assert builder.on_disk == ARCHIVE  # not the detector's: a kill then loses nothing
    assert rep.kept_split_ground_truth == ["pa_0"]


#: a review config under which every tracklet the fake builder chooses is flagged (shop score 0.9)
DOUBTFUL = BuildConfig(review=ReviewConfig(min_shop_score=0.95))


def test_the_kept_ground_truth_is_flagged_by_agreement_not_by_the_detectors_signals(tmp_path):
    ds = _archive(tmp_path / "ds")
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(DOUBTFUL))
    # pa: the archive's boxes and the detector's agree (IoU ~0.9): not flagged, though the
    # detector's own tracklet is; pb (no split-file tracklet) keeps the detector's flag
    assert [e["video"] for e in rep.needs_review] == ["pb_0"]
    assert rep.split_truth_agreement["pa_0"] > 0.85 and rep.split_truth_min_iou == 0.5
    vt = read_video_tracklets(tracklet_file(ds, "videos/pa_0.mp4"))
    assert not vt.needs_review and vt.review_reason is None
    assert vt.signals["pivot_shop"] == 0.9  # the detector's signals stay, describing its choice


def test_a_kept_ground_truth_the_detector_disagrees_with_is_flagged(tmp_path):
    ds = _archive(tmp_path / "ds")
    far = {"0": [150, 20, 190, 90], "2": [150, 20, 190, 90], "4": [12, 11, 48, 88]}  # 1 of 3 frames agrees
    edit = json.loads((ds / "train.json").read_text())
    edit["pa"]["tracklets"] = [far]
    (ds / "train.json").write_text(json.dumps(edit))
    rep = build_dataset_tracklets(ds, builder=FakeBuilder())
    (flag,) = rep.needs_review
    assert (
        flag["video"] == "pa_0"
        and "split file's ground truth: the detector's tracklet disagrees" in flag["reason"]
    )
    assert "over the 3 frames both box" in flag["reason"]
    assert 0.25 < rep.split_truth_agreement["pa_0"] < 0.35
    assert json.loads((ds / "train.json").read_text())["pa"]["tracklets"] == [far]  # still kept
    # the threshold is the review config's: 0 never flags the archive's ground truth
    ds2 = _archive(tmp_path / "ds2")
    (ds2 / "train.json").write_text(json.dumps(edit))
    never = BuildConfig(review=ReviewConfig(split_truth_min_iou=0))
    assert build_dataset_tracklets(ds2, builder=FakeBuilder(never)).needs_review == []


class _OtherWeights(FakeBuilder):
    """Other weights: the tracklet chosen sits 4 px lower than :class:`FakeBuilder`'s."""

    def __init__(self) -> None:
        super().__init__()
        self.detector.version = "det2"

    def process(self, dataset: Path, job, timings):
        vt, n, nd = super().process(dataset, job, timings)
        lower = {f: [x1, y1 + 4, x2, y2 + 4] for f, (x1, y1, x2, y2) in vt.tracklets[0].boxes.items()}
        chosen = vt.tracklets[0].model_copy(update={"boxes": lower})
        return vt.model_copy(update={"tracklets": [chosen, *vt.tracklets[1:]], "detector": "det2"}), n, nd


def test_a_detector_choice_merged_earlier_is_not_kept_once_its_file_is_gone(tmp_path):
    ds = _archive(tmp_path / "ds")
    build_dataset_tracklets(ds, builder=FakeBuilder())  # pb's split-file tracklet: the detector's
    origin = json.loads((ds / SPLIT_ORIGIN).read_text())["detector"]
    assert list(origin["train.json"]) == ["pb"]  # named as the detector's; pa's is the archive's
    shutil.rmtree(ds / "tracklets")  # a user starts over, with other weights
    rep = build_dataset_tracklets(ds, builder=_OtherWeights())
    assert rep.kept_split_ground_truth == ["pa_0"] and rep.split_detector_choice == ["pb_0"]
    vt = read_video_tracklets(tracklet_file(ds, "videos/pb_0.mp4"))
    assert (vt.ground_truth, len(vt.tracklets)) == (0, 2)  # the new detector's choice, no old one kept
    split = json.loads((ds / "train.json").read_text())
    assert split["pa"]["tracklets"] == [ARCHIVE] and split["pb"]["tracklets"] == [vt.official()]
    assert split["pb"]["tracklets"][0]["0"] == [60.0, 24.0, 120.0, 84.0]


def test_a_split_file_tracklet_a_person_edited_since_is_kept(tmp_path):
    ds = _archive(tmp_path / "ds")
    build_dataset_tracklets(ds, builder=FakeBuilder())
    data = json.loads((ds / "train.json").read_text())
    mine = {"0": [61, 21, 119, 79], "1": [62, 21, 119, 79]}
    data["pb"]["tracklets"] = [mine]  # edited by hand: no longer what the build wrote
    (ds / "train.json").write_text(json.dumps(data))
    shutil.rmtree(ds / "tracklets")
    rep = build_dataset_tracklets(ds, builder=_OtherWeights())
    assert rep.kept_split_ground_truth == ["pa_0", "pb_0"] and rep.split_detector_choice == []
    assert json.loads((ds / "train.json").read_text())["pb"]["tracklets"] == [mine]


def test_an_unreadable_origin_record_is_refused_by_name(tmp_path):
    ds = _archive(tmp_path / "ds")
    build_dataset_tracklets(ds, builder=FakeBuilder())
    shutil.rmtree(ds / "tracklets")
    (ds / SPLIT_ORIGIN).write_text("{not json")
    with pytest.raises(DataFormatError, match="split-file tracklets a build wrote") as err:
        build_dataset_tracklets(ds, builder=FakeBuilder())
    assert err.value.where == str(ds / SPLIT_ORIGIN)


def test_review_tells_an_earlier_detector_choice_from_the_archives_ground_truth(tmp_path, capsys):
    ds = _archive(tmp_path / "ds")
    build_dataset_tracklets(ds, builder=FakeBuilder())
    shutil.rmtree(ds / "tracklets")
    reasons = {it.stem: it.reason for it in build_queue(ds, sample_rate=1.0).items}
    assert reasons == {"pa_0": SPLIT_TRUTH_REASON, "pb_0": SPLIT_DETECTOR_REASON}
    code, out, err = run_tracklets(["review", "--dataset", str(ds), "--json"], capsys)
    assert code == 0, err
    assert {r["video"]: r["reason"] for r in json.loads(out)["needs_review"]} == reasons


def test_the_origin_digest_does_not_depend_on_key_order_or_how_a_number_is_written():
    a = {"1": [1, 2, 3, 4], "0": [0.0, 1, 2, 3.5]}
    assert split_tracklet_digest(a) == split_tracklet_digest(
        {"0": [0, 1.0, 2.0, 3.5], "1": [1.0, 2.0, 3.0, 4.0]}
    )
    assert split_tracklet_digest(a) != split_tracklet_digest({"0": [0.0, 1, 2, 3.5]})
    assert split_tracklet_digest(a) != split_tracklet_digest({"1": [1, 2, 3, 4], "0": [0.0, 1, 2, 3.25]})


def test_the_build_summary_names_the_earlier_detector_choices(tmp_path, capsys):
    ds = _archive(tmp_path / "ds")
    build_dataset_tracklets(ds, builder=FakeBuilder())
    shutil.rmtree(ds / "tracklets")
    rep = build_dataset_tracklets(ds, builder=_OtherWeights())
    line = _detector_choice_line(rep.as_dict())
    assert "built 1 videos as any other whose split-file tracklet an earlier build wrote" in line
    assert line.endswith(": pb_0")


def test_the_kept_ground_truth_is_not_counted_as_a_persons_choice(tmp_path):
    ds = _archive(tmp_path / "ds")
    for _ in range(2):  # the build that keeps it and a rerun
        rep = build_dataset_tracklets(ds, builder=FakeBuilder())
        assert (rep.decided_by_person, rep.split_truth_files) == (0, 1)


class _FindsNothing(FakeBuilder):
    """A detector that finds no tracklet (weights that never saw such videos)."""

    def process(self, dataset: Path, job, timings):
        vt, n, _ = super().process(dataset, job, timings)
        none = vt.model_copy(
            update={
                "tracklets": [],
                "ground_truth": None,
                "needs_review": True,
                "review_reason": "none",
                "signals": {},
            }
        )
        return none, n, 0


def test_the_archives_ground_truth_kept_where_the_detector_found_nothing_is_never_named_the_detectors(
    tmp_path,
):
    ds = _archive(tmp_path / "ds")
    rep = build_dataset_tracklets(ds, builder=_FindsNothing())
    assert rep.kept_split_ground_truth == ["pa_0"] and rep.split_truth_agreement == {"pa_0": None}
    vt = read_video_tracklets(tracklet_file(ds, "videos/pa_0.mp4"))
    assert (vt.ground_truth, vt.tracklets[0].mode, vt.needs_review) == (0, "ground-truth", False)
    assert not (ds / SPLIT_ORIGIN).exists()  # nothing the detector chose went into the split files
    shutil.rmtree(ds / "tracklets")
    rep = build_dataset_tracklets(ds, builder=_OtherWeights())
    assert rep.kept_split_ground_truth == ["pa_0"] and rep.split_detector_choice == []
    assert json.loads((ds / "train.json").read_text())["pa"]["tracklets"] == [ARCHIVE]
