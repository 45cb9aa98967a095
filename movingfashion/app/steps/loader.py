"""Demo step ``loader``: read the published dataset with ``MovingFashionDataset`` (T = 10)."""

from __future__ import annotations

import time
from typing import Any

import torch

from movingfashion.batching import PKSampler, collate_clips
from movingfashion.dataset import MovingFashionDataset


def _shape(t: Any) -> list[int] | str:
    return list(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def step(ctx: Any) -> dict[str, Any]:
    """Load train and test with T=10, iterate a 2-worker DataLoader over a few batches.

    Sets ``ctx.extras["loader"]`` to the train dataset; returns clips/s and item shapes.
    """
    if ctx.dataset is None or not (ctx.dataset / "train.json").is_file():
        return {"status": "skipped: no published dataset (ctx.dataset)"}
    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    batches = 2 if ctx.quick else 4
    for split in ("train", "test"):
        if not (ctx.dataset / f"{split}.json").is_file():
            continue
        ds = MovingFashionDataset(
            ctx.dataset, split, frames=10, seed=ctx.seed, crop_size=112, shop_size=112, on_bad="skip"
        )
        if len(ds) == 0:
            out[split] = {"products": 0}
            continue
        if split == "train" and len(set(ds.product_ids)) >= 4:
            sampler = PKSampler(ds, p=4, k=2, seed=ctx.seed)
            loader = torch.utils.data.DataLoader(
                ds, batch_size=8, sampler=sampler, num_workers=2, collate_fn=collate_clips, timeout=300
            )
        else:
            loader = torch.utils.data.DataLoader(
                ds, batch_size=8, num_workers=2, collate_fn=collate_clips, timeout=300
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
        out[split] = {
            "products": len(ds),
            "skipped": len(ds.skipped),
            "clips": clips,
            "clips_per_s": round(clips / dt, 1) if dt else None,
            "frames_shape": _shape(first["frames"]),
            "shop_shape": _shape(first["shop"]),
        }
        if split == "train":
            ctx.extras["loader"] = ds
    out["note"] = "clips/s include DataLoader worker start-up (2 workers)"
    return out
