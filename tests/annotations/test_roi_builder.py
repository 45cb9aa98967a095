"""The builder on the RoI matching path (``embed_source: roi``) with the embedded detector and RoI
matcher: tracklets checked against the small world's true item boxes, the matcher named in the
tracklet files (a change of path rebuilds), and no embedding work outside the detector."""

from __future__ import annotations

import json
import shutil

import pytest

from annotations.builder import TrackletBuilder, build_dataset_tracklets, load_splits, video_jobs
from annotations.config import BuildConfig
from annotations.qa import qa_report, reference_boxes
from annotations.tracklet_files import load_results
from movingfashion.models import load_matcher
from movingfashion.models.detectors import build_detector
from movingfashion.models.roi import load_roi_matcher
from schemas.errors import ConfigError

PRODUCTS = 6


def test_roi_builder_against_the_world_truth(gt_dataset, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds, ignore=shutil.ignore_patterns("tracklets"))
    train = json.loads((ds / "train.json").read_text())
    (ds / "train.json").write_text(json.dumps(dict(list(train.items())[:PRODUCTS])))
    (ds / "test.json").write_text("{}")
    cfg = BuildConfig(stride=3, embed_source="roi")
    rep = build_dataset_tracklets(ds, config=cfg)
    assert rep.failed == [] and rep.processed == rep.videos >= PRODUCTS
    qa = qa_report(load_results(ds), reference_boxes(ds, gt_dataset))
    assert qa.videos == rep.videos and not qa.missing
    # most videos' ground-truth tracklets hold the item (>= 50% of its frames at IoU >= 0.5)
    assert qa.pass_rate >= 0.8, qa.as_dict()
    assert qa.mean_iou >= 0.6, qa.as_dict()
    # pooling + the head is a small share of the run (the detector's forward is most of it)
    assert rep.timings["crop"] == 0 and 0 < rep.timings["embed"] < 0.2 * rep.timings["detect"]
    roi_tag = load_roi_matcher(None, device="cpu").tag
    assert {vt.matcher for vt in load_results(ds)} == {rep.matcher} == {roi_tag}
    # a rerun on the same path skips; on the crop path the matcher's name differs: every video is redone
    assert build_dataset_tracklets(ds, config=cfg).skipped == rep.videos
    det = build_detector("ultralytics")
    jobs = video_jobs(load_splits(ds))
    crop = TrackletBuilder(det, load_matcher(None, device="cpu"), BuildConfig(stride=3))
    roi = TrackletBuilder(det, load_roi_matcher(None, device="cpu"), cfg)
    assert crop.matcher_tag != roi_tag
    assert [roi.is_done(ds, j) for j in jobs] == [True] * len(jobs)
    assert [crop.is_done(ds, j) for j in jobs] == [False] * len(jobs)


def test_matcher_kind_must_fit_the_path():
    det = build_detector("ultralytics")
    with pytest.raises(ConfigError, match="needs an RoI matcher"):
        TrackletBuilder(det, load_matcher(None, device="cpu"), BuildConfig(embed_source="roi"))
    with pytest.raises(ConfigError, match="needs the crop matcher"):
        TrackletBuilder(det, load_roi_matcher(None, device="cpu"), BuildConfig(embed_source="crops"))
    # auto: the matcher given decides
    auto = BuildConfig(embed_source="auto")
    assert TrackletBuilder(det, load_roi_matcher(None, device="cpu"), auto).embed_source == "roi"
    assert TrackletBuilder(det, load_matcher(None, device="cpu"), auto).embed_source == "crops"
    assert BuildConfig().embed_source == "auto"


def test_a_video_whose_shop_image_matches_nothing_on_the_roi_path_falls_back_to_crops(
    gt_dataset, tmp_path, monkeypatch
):
    """roi_fallback: where no detection matches the RoI shop descriptor, the video's detections are
    embedded again on the crop path (no second detection); its file names both matchers, and a
    rerun counts it as done. Without the fallback the video has no ground-truth tracklet."""
    import torch

    from movingfashion.media.video_source import VideoSource

    det = build_detector("ultralytics")
    job = video_jobs(load_splits(gt_dataset))[0]
    # a shop descriptor unlike any detection's: nothing reaches shop_threshold on the RoI path
    monkeypatch.setattr(
        TrackletBuilder, "shop_embedding", lambda self, p: torch.full((self.embed_dim,), -50.0)
    )
    off = TrackletBuilder(
        det, load_roi_matcher(None, device="cpu"), BuildConfig(stride=3, roi_fallback=False)
    )
    vt, _, _ = off.process(gt_dataset, job, dict.fromkeys(("decode_wait", "detect", "embed", "track"), 0.0))
    assert vt.ground_truth is None and vt.matcher == off.matcher_tag and off.fallback_tag is None
    calls = []
    real = TrackletBuilder.crop_embeddings

    def spy(self, src, dets, sampled):
        calls.append(len(dets))
        return real(self, src, dets, sampled)

    monkeypatch.setattr(TrackletBuilder, "crop_embeddings", spy)
    on = TrackletBuilder(det, load_roi_matcher(None, device="cpu"), BuildConfig(stride=3))
    timings = dict.fromkeys(("decode_wait", "detect", "embed", "track"), 0.0)
    vt, _, n_dets = on.process(gt_dataset, job, timings)
    assert calls == [n_dets] and n_dets > 0
    assert vt.ground_truth == 0 and vt.tracklets[0].shop_score >= on.config.tracker.shop_threshold
    crop_tag = load_matcher(None, device="cpu").tag
    assert vt.matcher == on.fallback_tag == f"{on.matcher_tag}>{crop_tag}"
    # the crop path's own build of this video gives the same ground-truth tracklet
    crop = TrackletBuilder(det, load_matcher(None, device="cpu"), BuildConfig(stride=3, embed_source="crops"))
    src = VideoSource(gt_dataset / job.video_path)
    try:
        dets, idx = crop.detect_video(src, dict(timings, crop=0.0))
        ref = crop.track(job, src, dets, idx, crop.crop_shop_embedding(gt_dataset / job.img_path))
    finally:
        src.close()
    assert vt.tracklets[0].boxes == ref.tracklets[0].boxes
    # a rerun counts the video as done
    from annotations.tracklet_files import write_video_tracklets

    write_video_tracklets(tmp_path, vt)
    assert on.is_done(tmp_path, job) and not off.is_done(tmp_path, job)


def test_shop_images_skip_the_detect_head_and_the_tracklet_files_stay_the_same(
    gt_dataset, tmp_path, monkeypatch
):
    """The shop image of each video goes through the detector's backbone only (``feature_pass``:
    no Detect head, no NMS): the head runs on the sampled frames and on nothing else, and the
    tracklet files (boxes, scores, signals with the pivot's second opinion, review flags) are byte
    for byte those written when the shop image went through the whole detection."""
    from annotations.tracklet_files import write_video_tracklets
    from movingfashion.models.detectors.base import Detector
    from movingfashion.models.detectors.ultralytics_backend import UltralyticsDetector
    from tests.damage import tree_bytes, tree_difference

    det = build_detector("ultralytics")
    jobs = video_jobs(load_splits(gt_dataset))[:4]
    head_frames: list[int] = []
    hook = (
        det.network().model[-1].register_forward_pre_hook(lambda m, args: head_frames.append(len(args[0][0])))
    )

    def build(out):
        head_frames.clear()
        b = TrackletBuilder(det, load_roi_matcher(None, device="cpu"), BuildConfig(stride=3))
        timings = dict.fromkeys(("decode_wait", "detect", "embed", "track"), 0.0)
        sampled = 0
        try:
            for job in jobs:
                vt, n_frames, _ = b.process(gt_dataset, job, timings)
                write_video_tracklets(out, vt, shared=job.shared)
                sampled += n_frames
        finally:
            b.roi.close()
        files = {k: v for k, v in tree_bytes(out).items() if k.startswith("tracklets/")}
        return files, sum(head_frames), sampled

    try:
        files, head, sampled = build(tmp_path / "backbone")
        assert head == sampled > 0  # the shop images never reach the head
        with monkeypatch.context() as mp:  # the shop image's whole detection forward, as before
            mp.setattr(UltralyticsDetector, "feature_pass", Detector.feature_pass)
            before, head_before, _ = build(tmp_path / "detect")
    finally:
        hook.remove()
    assert head_before == sampled + len(jobs)
    assert len(files) == len(jobs) and any(b'"pivot_second"' in v for v in files.values())
    assert files == before, tree_difference(files, before)
