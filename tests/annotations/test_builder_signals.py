"""The stored flag signals are a function of the tracklet file as written: detections that differ
below the stored precision (a Ray worker replaced mid-build, another thread count) store the same
signals, so two builds whose boxes agree agree on every flag."""

from __future__ import annotations

import dataclasses

import numpy as np

from annotations.builder import TrackletBuilder, load_splits, video_jobs
from annotations.config import BuildConfig
from movingfashion.media.video_source import VideoSource
from movingfashion.models import load_matcher
from movingfashion.models.detectors import build_detector


def _nudged(dets, decimals: int, sign: float):
    """The detections moved inside their rounding bucket: each box coordinate to its stored value
    plus ``sign`` times a fifth of the bucket, each score likewise at 4 decimals."""
    box_step = 10.0**-decimals
    boxes = np.round(dets.boxes.astype(np.float64), decimals) + sign * box_step / 5
    scores = np.round(dets.scores.astype(np.float64), 4) + sign * 1e-4 / 5
    return dataclasses.replace(dets, boxes=boxes.astype(np.float64), scores=scores)


def test_detections_that_differ_below_the_stored_precision_store_the_same_signals(gt_dataset):
    cfg = BuildConfig(stride=3)
    builder = TrackletBuilder(build_detector("ultralytics"), load_matcher(None, device="cpu"), cfg)
    compared = 0
    for job in video_jobs(load_splits(gt_dataset))[:4]:
        src = VideoSource(gt_dataset / job.video_path)
        try:
            dets, idx = builder.detect_video(
                src, dict.fromkeys(("decode_wait", "detect", "embed", "crop"), 0.0)
            )
            shop = builder.crop_shop_embedding(gt_dataset / job.img_path)
            low = builder.track(job, src, _nudged(dets, cfg.decimals, -1.0), idx, shop)
            high = builder.track(job, src, _nudged(dets, cfg.decimals, +1.0), idx, shop)
        finally:
            src.close()
        # the files agree on every box and score ...
        assert [t.boxes for t in low.tracklets] == [t.boxes for t in high.tracklets]
        assert [t.scores for t in low.tracklets] == [t.scores for t in high.tracklets]
        # ... so they agree on the signals and the flag
        assert low.signals == high.signals, job.video_path
        assert (low.needs_review, low.review_reason) == (high.needs_review, high.review_reason)
        compared += bool(low.signals)
    assert compared >= 2  # ground-truth tracklets were found, so signals were compared
