"""Demo step: tracklets on the published demo dataset with the embedded weights, contact
sheets, and the acceptance figures against the synthetic world's truth."""

from __future__ import annotations

from typing import Any

import torch

from annotations.builder import build_dataset_tracklets
from annotations.config import BuildConfig


def step(ctx: Any) -> dict[str, Any]:
    """Build tracklets on ``ctx.dataset`` (stride 2: ~45 s for the 60-product world on 2 cores) and
    report QA figures against ``ctx.world`` (note: the embedded weights were trained on the
    60-product seed-0 world, so there the figures are not held-out ones)."""
    if ctx.dataset is None:
        return {"status": "skipped: no dataset (the clean/publish step did not run)"}
    torch.set_num_threads(min(2, torch.get_num_threads()))
    cfg = BuildConfig(stride=2)
    rep = build_dataset_tracklets(ctx.dataset, config=cfg, catalog=ctx.catalog, sheets=True)
    out: dict[str, Any] = {
        "videos": rep.videos,
        "processed": rep.processed,
        "skipped_done": rep.skipped,
        "failed": len(rep.failed),
        "needs_review": len(rep.needs_review),
        "frames_detected": rep.frames_detected,
        "frames_per_second": round(rep.fps, 1),
        "sheets": str(ctx.dataset / "tracklets" / "sheets"),
        "detector": rep.detector,
        "matcher": rep.matcher,
    }
    if ctx.world is not None:
        from annotations.qa import load_results, qa_report
        from movingfashion.world.truth_boxes import truth_boxes_for_dataset

        qa = qa_report(load_results(ctx.dataset), truth_boxes_for_dataset(ctx.dataset, ctx.world))
        out.update(
            {
                "qa_videos": qa.videos,
                "mean_iou": round(qa.mean_iou, 3),
                "pass_rate_50pct": round(qa.pass_rate, 3),
                "query_mean_iou": round(qa.query_mean_iou, 3),
            }
        )
    ctx.extras["tracklets"] = out
    return out
