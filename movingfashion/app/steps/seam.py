"""Demo step ``seam``: a short phase-2 run on the demo's dataset, then the evaluation table.

Starts from the embedded default matcher (``movingfashion/models/weights/matcher.pt``); when that
file is missing, runs phase 1 first (the world's DeepFashion2-format set, or pairs made from the
dataset's train split). Trains the three variants (``full``, ``no_nlb``, ``no_nlb_g``) for a
fixed number of steps each (the conv stacks of f~ and f stay as pretrained, so their outputs are
computed once), evaluates every method with the paper's protocol and writes the report (tables +
plots) to ``WORK/seam/report``. The full demo evaluates on a second world made for testing
(``TEST_PRODUCTS`` products, every one in its test split: a gallery of more than 100 shop
images); ``--quick`` (a smoke test) on the demo dataset's own test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movingfashion.app.context import DemoContext, Section, StepSkipped

#: Training steps per variant (the demo must stay short on 2 CPU cores).
TRAIN_STEPS = {"quick": 6, "full": 240}
VARIANTS = ("full", "no_nlb", "no_nlb_g")
#: Products of the full demo's test world (quick clips; ~78% become test products with a video).
TEST_PRODUCTS = 140
#: Seed offset of the test world (no product in common with the demo world).
TEST_WORLD_SEED = 7001


@dataclass
class SeamSection(Section):
    matcher: str
    train_videos: int
    epochs: int
    batch: int
    test_queries: int
    gallery: int
    chance_top1: float
    test_set: str = ""
    top1: dict[str, float] = field(default_factory=dict)
    report: str = ""
    table: str = ""

    def blocks(self) -> list[tuple[str, str]]:
        return [("table", self.table)] if self.table else []

    def summary(self) -> str:
        return f"{self.test_queries} test queries, {best_top1(self.top1, self.chance_top1)}"


def best_top1(top1: dict[str, float], chance: float) -> str:
    """The best top-1 in words: every method tied at it, "all tie" when they all do, and whether
    it is no better than chance."""
    if not top1:
        return f"no method evaluated, chance {chance:.3f}"
    best = max(top1.values())
    names = [name for name, v in top1.items() if v == best]
    who = f"all {len(names)} methods tie" if len(names) == len(top1) > 1 else ", ".join(names)
    at_chance = " (no better than chance)" if best <= chance else ""
    return f"best top-1 {best:.3f} ({who}){at_chance}, chance {chance:.3f}"


def expected_seconds(ctx: DemoContext) -> float:
    """Feature banks, three short trainings and the evaluation: 5 s for 24 products with --quick;
    without, ~0.2 s per product plus the test world (~0.45 s per product to render and read):
    95 s for 150 products and a test world of 140 (measured 2026-12-07)."""
    return 2.0 + ctx.products * 0.15 if ctx.quick else 15.0 + ctx.products * 0.2 + TEST_PRODUCTS * 0.45


def test_set(ctx: DemoContext, runs: Path) -> Path:
    """The dataset the demo evaluates on: a second world's (full demo) or the demo's own."""
    assert ctx.dataset is not None
    if ctx.quick:
        return ctx.dataset
    from movingfashion.world.generate import generate_world
    from movingfashion.world.gt_dataset import export_gt_dataset

    world, data = runs / "test-world", runs / "test-set"
    ctx.progress.info(f"test world: {TEST_PRODUCTS} products (seed {ctx.seed + TEST_WORLD_SEED}) in {world}")
    with ctx.progress.counter("rendering the test world", unit="products") as bar:
        generate_world(world, TEST_PRODUCTS, ctx.seed + TEST_WORLD_SEED, quick=True, progress=bar.set)
    if not (data / "manifest.json").is_file():
        export_gt_dataset(world, data, seed=ctx.seed, test_fraction=1.0)
    return data


def _matcher(ctx: DemoContext, runs: Path) -> tuple[str | None, str]:
    from movingfashion.deepfashion2 import has_split
    from movingfashion.models import default_matcher_path

    if default_matcher_path().is_file():
        return None, "embedded default"
    from movingfashion.seam.phase1 import df2_from_dataset, run_phase1

    assert ctx.dataset is not None
    world_df2 = ctx.world / "df2" if ctx.world else None
    data = (
        world_df2
        if world_df2 is not None and has_split(world_df2, "train")
        else df2_from_dataset(ctx.dataset, runs / "df2", on_bad="skip")  # the demo's policy: the build's
    )
    ctx.progress.info(f"no embedded matcher: phase 1 on {data}")
    res = run_phase1(
        data, runs / "phase1", steps=40 if ctx.quick else 200, seed=ctx.seed, progress=ctx.progress.iterate
    )
    return res["matcher"], f"phase 1 on {data}"


def run(ctx: DemoContext) -> SeamSection:
    """Train the SEAM variants briefly on ``ctx.dataset``, evaluate them with the baselines and
    write the report; sets ``ctx.seam_results``."""
    from movingfashion.seam.config import EvalConfig, ModelConfig, TrainConfig
    from movingfashion.seam.evaluate import METHOD_NAMES, run_evaluate, summary_table
    from movingfashion.seam.report import write_report
    from schemas.official import read_official_on_bad

    if ctx.dataset is None or not (ctx.dataset / "train.json").is_file():
        raise StepSkipped("no published dataset with tracklets from the earlier steps")
    runs = ctx.work / "seam"
    matcher, origin = _matcher(ctx, runs)
    # a product the build held out (its entry refused) is held out here too, as the loader does
    train, _ = read_official_on_bad(ctx.dataset / "train.json", "skip")
    n_train = sum(len(e.video_paths) for e in train.values())
    batch = max(2, min(8, n_train))
    steps = TRAIN_STEPS["quick" if ctx.quick else "full"]
    epochs = max(1, math.ceil(steps / max(1, n_train // batch)))
    checkpoints = []
    for i, variant in enumerate(VARIANTS, 1):
        ctx.progress.info(
            f"training {variant} ({i}/{len(VARIANTS)}): {epochs} epochs on {n_train} videos, batch {batch}"
        )
        out = runs / variant
        cfg = TrainConfig(
            model=ModelConfig(variant=variant),
            epochs=epochs,
            batch_size=batch,
            seed=ctx.seed,
            lr=0.04,
            finetune_lr=0.004,
            weight_decay=5e-4,
            train_trunk=False,
            multi_frame_after=1 if epochs > 3 else 0,
            pool_frames=12 if ctx.quick else 20,
        )
        _train_resuming(ctx, out, cfg, matcher, runs / "features")
        checkpoints.append(out / "last.pt")
    frames = [5, 10] if ctx.quick else [5, 10, 20]
    evaluate_on = test_set(ctx, runs)
    ctx.progress.info(
        f"evaluating {len(checkpoints)} checkpoints and the baselines at T = {frames} on {evaluate_on}"
    )
    res = run_evaluate(
        evaluate_on,
        checkpoints,
        # the demo's gallery (~100 shop images) is one pool of everything: asked for as such
        EvalConfig(frames=frames, seed=ctx.seed, pools=1),
        out_dir=runs / "eval",
        progress=ctx.progress.iterate,
        cache_dir=runs / "features",
    )
    rep = write_report(runs / "eval" / "results.json", runs / "report")
    t = str(res["protocol"]["main_frames"])
    ctx.seam_results = runs / "eval" / "results.json"
    return SeamSection(
        matcher=origin,
        train_videos=n_train,
        epochs=epochs,
        batch=batch,
        test_queries=res["protocol"]["queries"],
        gallery=res["protocol"]["gallery"],
        chance_top1=round(res["chance"]["top1"], 3),
        test_set=str(evaluate_on),
        top1={METHOD_NAMES[k]: round(v[t]["all"]["top1"], 3) for k, v in res["methods"].items()},
        report=str(Path(rep["out"]) / "report.md"),
        table=summary_table(res),
    )


def _train_resuming(ctx: DemoContext, out: Path, cfg: Any, matcher: Any, cache_dir: Path) -> None:
    """Phase 2 into the demo's own run folder, resuming a killed run; a run left there by other
    settings or another dataset (an earlier ``--quick``, a changed world) cannot be resumed
    (:func:`~movingfashion.seam.train.check_resume`) and is trained again from epoch 0."""
    from movingfashion.seam.train import run_phase2
    from schemas.errors import ConfigError

    def train() -> None:
        run_phase2(
            ctx.dataset,
            out,
            cfg,
            resume=True,
            matcher=matcher,
            cache_dir=cache_dir,
            progress=ctx.progress.iterate,
        )

    try:
        train()
    except ConfigError as exc:
        if not (out / "last.pt").is_file():
            raise
        ctx.progress.info(f"{exc.render()}: training it again from epoch 0")
        (out / "last.pt").unlink()
        train()
