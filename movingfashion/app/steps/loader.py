"""Demo step ``loader``: read the published dataset with ``MovingFashionDataset`` (T = 10)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from movingfashion.app.context import DemoContext, Section, StepSkipped

FRAMES, WORKERS = 10, 2


@dataclass
class SplitLoad:
    products: int
    skipped: int = 0
    clips: int = 0
    clips_per_s: float | None = None
    frames_shape: list[int] = field(default_factory=list)
    shop_shape: list[int] = field(default_factory=list)


@dataclass
class LoaderSection(Section):
    splits: dict[str, SplitLoad] = field(default_factory=dict)
    note: str = f"clips/s include DataLoader worker start-up ({WORKERS} workers)"

    def summary(self) -> str:
        return ", ".join(f"{k}: {v.clips} clips at {v.clips_per_s} clips/s" for k, v in self.splits.items())


def expected_seconds(ctx: DemoContext) -> float:
    """Two workers' start-up and a few batches: 1-2 s (2026-12-07)."""
    return 3.0


def _shape(t: Any) -> list[int]:
    return list(t.shape)


def run(ctx: DemoContext) -> LoaderSection:
    """Load train and test with T=10 and iterate a 2-worker DataLoader over a few batches (PK
    sampling on train); sets ``ctx.train_set``; reports clips/s and item shapes."""
    import torch

    from movingfashion.batching import PKSampler, collate_clips
    from movingfashion.dataset import MovingFashionDataset

    if ctx.dataset is None or not (ctx.dataset / "train.json").is_file():
        raise StepSkipped("no published dataset (ctx.dataset)")
    section = LoaderSection()
    batches = 2 if ctx.quick else 4
    for split in ("train", "test"):
        if not (ctx.dataset / f"{split}.json").is_file():
            continue
        ds = MovingFashionDataset(
            ctx.dataset, split, frames=FRAMES, seed=ctx.seed, crop_size=112, shop_size=112, on_bad="skip"
        )
        if len(ds) == 0:
            section.splits[split] = SplitLoad(products=0)
            continue
        sampler = (
            PKSampler(ds, p=4, k=2, seed=ctx.seed)
            if split == "train" and len(set(ds.product_ids)) >= 4
            else None
        )
        loader = torch.utils.data.DataLoader(
            ds, batch_size=8, sampler=sampler, num_workers=WORKERS, collate_fn=collate_clips, timeout=300
        )
        clips = 0
        t0 = time.perf_counter()
        first = None
        for i, batch in enumerate(loader):
            first = first or batch
            clips += len(batch["product_id"])
            if i + 1 >= batches:
                break
        dt = time.perf_counter() - t0
        section.splits[split] = SplitLoad(
            products=len(ds),
            skipped=len(ds.skipped),
            clips=clips,
            clips_per_s=round(clips / dt, 1) if dt else None,
            frames_shape=_shape(first["frames"]) if first else [],
            shop_shape=_shape(first["shop"]) if first else [],
        )
        if split == "train":
            ctx.train_set = ds
    return section
