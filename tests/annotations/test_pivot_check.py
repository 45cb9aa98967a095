"""The RoI path's second opinion on the pivot (``pivot_second``): the crop kept while the frames
stream is the pivot's, its score is the crop matcher's score computed afresh from the decoded
frame, the candidates kept are the best-ranking ones whatever the batching, and a cached build
(frames decoded again, no detection) gives the same signal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotations.builder import TrackletBuilder, load_splits, video_jobs
from annotations.config import BuildConfig
from annotations.pivot_check import PivotCandidates, offer_stored
from annotations.tracking import candidate_bonus, pivot_ranking, training_tracking
from movingfashion.media.video_source import VideoSource, prefetch_batches
from movingfashion.models import crops_from_frames
from movingfashion.models.detectors import build_detector
from movingfashion.models.roi import load_roi_matcher

TIMINGS = ("decode_wait", "detect", "embed", "track")


def _builder(**kw) -> TrackletBuilder:
    return TrackletBuilder(
        build_detector("ultralytics"), load_roi_matcher(None, device="cpu"), BuildConfig(stride=3, **kw)
    )


def test_pivot_second_is_the_crop_matchers_score_of_the_pivot(gt_dataset):
    b = _builder()
    jobs = video_jobs(load_splits(gt_dataset))[:3]
    for job in jobs:
        vt, _, _ = b.process(gt_dataset, job, dict.fromkeys(TIMINGS, 0.0))
        assert vt.ground_truth == 0
        # the truth, computed afresh: the pivot's frame decoded again, its box cut and embedded
        src = VideoSource(gt_dataset / job.video_path)
        try:
            dets, idx = b.detect_video(src, dict.fromkeys(TIMINGS, 0.0))
            gt = training_tracking(
                dets,
                b.matcher.m,
                b.shop_embedding(gt_dataset / job.img_path),
                b.config.tracker,
                item_class=job.item_class,
            )
            frame = src.get_batch([int(dets.frames[gt.pivot])])[0]
        finally:
            src.close()
        emb = b.crop_embedder()
        crop = crops_from_frames([frame], [dets.boxes[gt.pivot]], b.crop_embed_size)
        with torch.no_grad():
            want = float(
                emb.m.score_matrix(b.crop_shop_embedding(gt_dataset / job.img_path)[None], emb.embed(crop))[
                    0, 0
                ]
            )
        assert abs(vt.signals["pivot_second"] - want) < 1e-3
    # off: no signal
    off = _builder(pivot_check=0)
    vt, _, _ = off.process(gt_dataset, jobs[0], dict.fromkeys(TIMINGS, 0.0))
    assert "pivot_second" not in vt.signals and vt.signals


@pytest.mark.parametrize(("det_weight", "cover"), [(0.0, 0.0), (0.5, 0.0), (0.0, 1.0)])
def test_candidates_are_the_best_ranked_whatever_the_batching(gt_dataset, det_weight, cover):
    b = _builder(tracker={"pivot_det_weight": det_weight, "cover_penalty": cover})
    job = video_jobs(load_splits(gt_dataset))[1]
    shop = b.shop_embedding(gt_dataset / job.img_path)
    src = VideoSource(gt_dataset / job.video_path)
    try:
        dets, idx = b.detect_video(src, dict.fromkeys(TIMINGS, 0.0))
        kept = {}
        for batch in (1, 4, 16):
            keep = PivotCandidates(b.matcher.m, shop, job.item_class, b.config.tracker, 5, 32)
            offer_stored(keep, prefetch_batches(src, idx, batch), dets)
            kept[batch] = keep.indices()
            assert keep.seen == len(dets)
    finally:
        src.close()
    with torch.no_grad():
        s = b.matcher.m.score_matrix(shop[None], dets.embeddings)[0].numpy()
    t = b.config.tracker
    bonus = candidate_bonus(dets.classes, job.item_class, t, dets.frames, dets.boxes, dets.scores)
    rank = pivot_ranking(s, bonus, t.shop_threshold, dets.scores, t.pivot_det_weight)
    best = [int(i) for i in np.argsort(-rank, kind="stable")[:5] if np.isfinite(rank[i])]
    assert kept[1] == kept[4] == kept[16] == best
    # the kept crop is the detection's own
    src = VideoSource(gt_dataset / job.video_path)
    try:
        f = int(dets.frames[best[0]])
        want = crops_from_frames(src.get_batch([f]), [dets.boxes[best[0]]], 32)[0]
    finally:
        src.close()
    keep = PivotCandidates(b.matcher.m, shop, job.item_class, b.config.tracker, 5, 32)
    src = VideoSource(gt_dataset / job.video_path)
    try:
        offer_stored(keep, prefetch_batches(src, idx, 8), dets)
    finally:
        src.close()
    assert torch.allclose(keep.crop(best[0]), want) and keep.crop(-1) is None
