"""Demo step: a short phase-2 run on the demo's dataset, then the evaluation table.

Starts from the embedded default matcher (``movingfashion/models/weights/matcher.pt``); when that file
is missing, runs phase 1 first (the world's DeepFashion2-format set, or pairs made from the
dataset's train split). Trains the three variants (``full``, ``no_nlb``, ``no_nlb_g``) for a
fixed number of steps each, evaluates every method with the paper's protocol and writes the
report (tables + plots) to ``WORK/seam/report``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from movingfashion.seam.config import EvalConfig, ModelConfig, TrainConfig

#: Training steps per variant (the demo must stay short on 2 CPU cores).
DEMO_STEPS = {"quick": 6, "full": 30}


def _matcher(ctx: Any, runs: Path, log) -> tuple[str | None, str]:
    from movingfashion.models import default_matcher_path

    if default_matcher_path().is_file():
        return None, "embedded default"
    from movingfashion.seam.phase1 import df2_from_dataset, run_phase1

    world_df2 = Path(ctx.world) / "df2" if ctx.world else None
    data = (
        world_df2
        if world_df2 is not None and (world_df2 / "train" / "annos").is_dir()
        else df2_from_dataset(ctx.dataset, runs / "df2")
    )
    res = run_phase1(data, runs / "phase1", steps=40 if ctx.quick else 200, seed=ctx.seed, log=log)
    return res["matcher"], f"phase 1 on {data}"


def step(ctx: Any) -> dict[str, Any]:
    """Train the SEAM variants briefly on ``ctx.dataset`` and print the evaluation table."""
    import torch

    from movingfashion.seam.evaluate import METHOD_NAMES, run_evaluate, summary_table
    from movingfashion.seam.report import write_report
    from movingfashion.seam.train import run_phase2
    from schemas.official import read_official

    if ctx.dataset is None or not (Path(ctx.dataset) / "train.json").is_file():
        return {"status": "skipped: no published dataset with tracklets from the earlier steps"}
    torch.set_num_threads(2)
    runs = Path(ctx.work) / "seam"
    lines: list[str] = []
    matcher, origin = _matcher(ctx, runs, lines.append)
    n_train = sum(len(e.video_paths) for e in read_official(Path(ctx.dataset) / "train.json").values())
    batch = max(2, min(8, n_train))
    steps = DEMO_STEPS["quick" if ctx.quick else "full"]
    epochs = max(1, math.ceil(steps / max(1, n_train // batch)))
    checkpoints = []
    for variant in ("full", "no_nlb", "no_nlb_g"):
        out = runs / variant
        cfg = TrainConfig(
            model=ModelConfig(variant=variant),
            epochs=epochs,
            batch_size=batch,
            seed=ctx.seed,
            lr=0.05,
            finetune_lr=0.005,
            pool_frames=12 if ctx.quick else 20,
        )
        run_phase2(
            ctx.dataset, out, cfg, resume=True, matcher=matcher, cache_dir=runs / "features", log=lines.append
        )
        checkpoints.append(out / "last.pt")
    frames = [5, 10] if ctx.quick else [5, 10, 20]
    res = run_evaluate(
        ctx.dataset, checkpoints, EvalConfig(frames=frames, seed=ctx.seed), out_dir=runs / "eval"
    )
    rep = write_report(runs / "eval" / "results.json", runs / "report")
    table = summary_table(res)
    t = str(res["protocol"]["main_frames"])
    ctx.extras["seam_results"] = str(runs / "eval" / "results.json")
    return {
        "matcher": origin,
        "train_videos": n_train,
        "epochs": epochs,
        "batch": batch,
        "test_queries": res["protocol"]["queries"],
        "gallery": res["protocol"]["gallery"],
        "chance_top1": round(res["chance"]["top1"], 3),
        "top1": {METHOD_NAMES[k]: round(v[t]["all"]["top1"], 3) for k, v in res["methods"].items()},
        "table": "\n" + table,
        "report": str(Path(rep["out"]) / "report.md"),
    }
