"""A rebuild never discards a person's work silently: a tracklet file holding a CVAT import, a
review pick or an accept made since its build is kept when its video is due to be built again
(other weights or settings, ``force``), counted (``kept_human``) and named; the split files keep
its ground truth. ``discard_corrections`` builds it again; a kept file whose video changed is
flagged for review."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from annotations.builder import VIDEO_CHANGED_REASON, build_dataset_tracklets
from annotations.cli import _kept_human_line
from annotations.config import BuildConfig
from annotations.exchange import export_dataset
from annotations.exchange.importer import import_cvat
from annotations.review import record_decision
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from tests.annotations.test_reruns import GARMENT, OTHER, FakeBuilder, two_product_dataset

VIDEO = "videos/pa_0.mp4"


@pytest.fixture
def ds(tmp_path) -> Path:
    """Two products with a video each (not decoded: the fake builder reads no frame)."""
    return two_product_dataset(tmp_path / "ds")


def _shifted_export(root: Path, out: Path, dx: float) -> Path:
    """pa_0's CVAT export with every box moved ``dx`` px right (a person's correction)."""
    export_dataset(root, "cvat", out, videos=["pa_0"])
    xml = next(out.rglob("*.xml"))
    text = xml.read_text()
    for key in ("xtl", "xbr"):
        text = re.sub(rf'({key}=")([0-9.]+)"', lambda m: f'{m.group(1)}{float(m.group(2)) + dx:.2f}"', text)
    xml.write_text(text)
    return xml


def _train_box(root: Path, pid: str = "pa") -> list[float]:
    return json.loads((root / "train.json").read_text())[pid]["tracklets"][0]["0"]


def _gt_box(root: Path) -> list[float]:
    vt = read_video_tracklets(tracklet_file(root, VIDEO))
    return vt.ground_truth_tracklet().boxes[0]


class OtherWeights(FakeBuilder):
    """A builder with other detector weights (``det2``)."""

    def __init__(self) -> None:
        super().__init__()
        self.detector.version = "det2"

    def process(self, dataset: Path, job, timings):
        vt, n, nd = super().process(dataset, job, timings)
        return vt.model_copy(update={"detector": "det2"}), n, nd


def _imported(root: Path, tmp_path: Path) -> list[float]:
    build_dataset_tracklets(root, builder=FakeBuilder())
    import_cvat(root, _shifted_export(root, tmp_path / "cvat", 3.0))
    corrected = [GARMENT["imgs/a.jpg"][0] + 3, 10.0, GARMENT["imgs/a.jpg"][2] + 3, 90.0]
    assert _gt_box(root) == corrected and _train_box(root) == corrected
    return corrected


def test_an_imported_correction_survives_a_rebuild_with_other_settings_or_weights(ds, tmp_path):
    corrected = _imported(ds, tmp_path)
    for builder in (FakeBuilder(BuildConfig(stride=4)), OtherWeights()):
        rep = build_dataset_tracklets(ds, builder=builder)
        assert rep.processed == 1 and builder.built == [("pb", "imgs/b.jpg")]  # pb only
        assert rep.kept_human == 1 and rep.kept_human_videos[0]["video"] == "pa_0"
        assert rep.kept_human_videos[0]["holds"] == "import"
        assert _gt_box(ds) == corrected and _train_box(ds) == corrected
    # --force alone keeps it too
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(), force=True)
    assert rep.kept_human == 1 and rep.kept_human_videos[0]["due"] == "--force"
    assert _train_box(ds) == corrected


def test_discard_corrections_builds_the_corrected_video_again(ds, tmp_path):
    _imported(ds, tmp_path)
    rep = build_dataset_tracklets(ds, builder=OtherWeights(), discard_corrections=True)
    assert rep.processed == 2 and rep.kept_human == 0 and rep.rebuilt == {"other weights": 2}
    assert _gt_box(ds) == GARMENT["imgs/a.jpg"] and _train_box(ds) == GARMENT["imgs/a.jpg"]
    vt = read_video_tracklets(tracklet_file(ds, VIDEO))
    assert vt.detector == "det2" and {t.mode for t in vt.tracklets} == {"training"}


def test_a_review_pick_survives_a_rebuild(ds):
    from annotations.review.decisions import _set_ground_truth

    build_dataset_tracklets(ds, builder=FakeBuilder())
    _set_ground_truth(ds, VIDEO, 1, "pa")  # what a review pick runs: the other garment
    rep = build_dataset_tracklets(ds, builder=OtherWeights())
    assert rep.kept_human_videos == [{"video": "pa_0", "holds": "review pick", "due": "other weights"}]
    assert read_video_tracklets(tracklet_file(ds, VIDEO)).ground_truth == 1
    assert _train_box(ds) == OTHER
    rep = build_dataset_tracklets(ds, builder=OtherWeights(), discard_corrections=True)
    assert rep.processed == 1 and _train_box(ds) == GARMENT["imgs/a.jpg"]


def test_an_accept_since_the_build_keeps_the_file_and_one_before_it_does_not(ds):
    build_dataset_tracklets(ds, builder=FakeBuilder())
    time.sleep(0.01)
    record_decision(ds, "pa_0", "pa", "accept")
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=2)))
    assert rep.kept_human_videos == [
        {"video": "pa_0", "holds": "review accept", "due": "build settings changed (stride)"}
    ]
    # built again on purpose: the accept was of the tracklets before, not of these
    build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=2)), discard_corrections=True)
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=3)))
    assert rep.kept_human == 0 and rep.processed == 2


def test_a_kept_file_whose_video_changed_is_flagged_for_review(ds, tmp_path):
    corrected = _imported(ds, tmp_path)
    (ds / VIDEO).write_bytes(b"video z" * 100)  # replaced: the corrected boxes may not fit it
    rep = build_dataset_tracklets(ds, builder=FakeBuilder())
    assert rep.kept_human_videos == [{"video": "pa_0", "holds": "import", "due": "video file changed"}]
    vt = read_video_tracklets(tracklet_file(ds, VIDEO))
    assert vt.needs_review and vt.review_reason == VIDEO_CHANGED_REASON and _train_box(ds) == corrected
    assert {"video": "pa_0", "reason": VIDEO_CHANGED_REASON} in rep.needs_review
    # a rerun keeps the flag; the explicit option builds it from the new video
    assert build_dataset_tracklets(ds, builder=FakeBuilder()).needs_review == rep.needs_review
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(), discard_corrections=True)
    assert rep.processed == 1 and rep.rebuilt == {"video file changed": 1}
    assert not read_video_tracklets(tracklet_file(ds, VIDEO)).needs_review


def test_the_summary_names_the_kept_files_and_the_option_that_builds_them():
    kept = [{"video": f"v{i}", "holds": "import", "due": "other weights"} for i in range(7)]
    line = _kept_human_line({"kept_human": 7, "kept_human_videos": kept})
    assert line.count("\n") == 1 and "kept 7 tracklet files" in line and "v0 (import)" in line
    assert "and 2 more" in line and "--discard-corrections" in line
    assert _kept_human_line({"kept_human": 0, "kept_human_videos": []}) == ""


def test_what_counts_as_a_persons_work_in_a_tracklet_file():
    """An import into a video without a file (no detector built it) counts; a file another tool
    wrote from a synthetic world's truth (its tracklet 0 the ground truth) does not."""
    from annotations.builder import human_work
    from schemas.dataset import Tracklet, VideoTracklets

    def vt(detector: str | None, gt: int, *modes: str) -> VideoTracklets:
        ts = [Tracklet(video=VIDEO, boxes={0: [1.0, 1.0, 9.0, 9.0]}, mode=m) for m in modes]
        return VideoTracklets(
            product_id="pa", video=VIDEO, frames=1, width=20, height=20, tracklets=ts,
            ground_truth=gt, detector=detector,
        )  # fmt: skip

    assert human_work(vt(None, 0, "ground-truth"), None) == "import"
    assert human_work(vt("det1", 0, "training", "manual"), None) == "import"
    assert human_work(vt("det1", 1, "training", "inference"), None) == "review pick"
    assert human_work(vt("world-ground-truth", 0, "ground-truth", "inference"), None) is None
    assert human_work(vt("det1", 0, "training"), {"ground_truth": "other", "pending": True}) is None
    assert human_work(vt("det1", 0, "training"), {"ground_truth": "other"}) == "edited"
