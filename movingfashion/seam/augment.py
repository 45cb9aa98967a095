"""Phase-2 augmentations (:class:`~movingfashion.seam.config.AugmentConfig`): pixel changes of the
training crops, and which cached frames (positions, videos) a training tracklet is made of.

Every draw comes from a generator the caller seeds, so a run repeats exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from movingfashion.seam.config import AugmentConfig


@dataclass
class PixelDraw:
    """What :func:`augment_crops` did to each crop: shrunk to half size, mirrored, the noise added."""

    halved: torch.Tensor  # [N] bool
    flipped: torch.Tensor  # [N] bool
    noise: torch.Tensor  # [N, 3, S, S] (zeros when pixel_noise is 0)


def half_resolution(crops: torch.Tensor) -> torch.Tensor:
    """Crops [N, C, H, W] shrunk to half their size and scaled back (bilinear, the detail is lost)."""
    h, w = crops.shape[-2:]
    small = F.interpolate(crops, size=(max(h // 2, 1), max(w // 2, 1)), mode="bilinear", align_corners=False)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


def augment_crops(
    crops: torch.Tensor, cfg: AugmentConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, PixelDraw]:
    """Crops [N, 3, S, S] (float, 0..1) with the pixel augmentations of ``cfg``, in this order:
    half resolution (each crop with probability ``half_resolution``), left-right flip (``flip``),
    Gaussian noise (std ``pixel_noise``); clipped to 0..1. Returns the crops and the draw."""
    n = crops.shape[0]
    out = crops.float().clone()
    halved = torch.from_numpy(rng.random(n) < cfg.half_resolution)
    flipped = torch.from_numpy(rng.random(n) < cfg.flip)
    if bool(halved.any()):
        out[halved] = half_resolution(out[halved])
    if bool(flipped.any()):
        out[flipped] = out[flipped].flip(-1)
    noise = torch.zeros_like(out)
    if cfg.pixel_noise > 0:
        noise = torch.from_numpy(rng.standard_normal(out.shape).astype(np.float32)) * cfg.pixel_noise
        out = out + noise
    return out.clamp_(0.0, 1.0), PixelDraw(halved, flipped, noise)


def rrs_pool_indices(
    pool: int, frames: int, *, train: bool, rng: np.random.Generator | None = None
) -> list[int]:
    """``frames`` indices into a pool of ``pool`` cached frames by Restricted Random Sampling."""
    from movingfashion.sampling import get_sampler

    return get_sampler("rrs")(list(range(pool)), frames, train=train, generator=rng)


def frame_slots(pool: int, frames: int, cfg: AugmentConfig, rng: np.random.Generator) -> list[int]:
    """``frames`` indices into a pool of ``pool`` cached frames for one training tracklet: by
    Restricted Random Sampling, or anywhere in the pool (sorted, distinct when the pool holds
    enough) with ``random_positions``."""
    if not cfg.random_positions:
        return rrs_pool_indices(pool, frames, train=True, rng=rng)
    picks = rng.choice(pool, size=frames, replace=frames > pool)
    return sorted(int(i) for i in picks)


def frame_videos(
    rows: list[int], targets: torch.Tensor, frames: int, cfg: AugmentConfig, rng: np.random.Generator
) -> torch.Tensor:
    """[len(rows), frames] bank rows to take each frame from: the tracklet's own row, or with
    ``mix_videos`` a random row of the same product (``targets`` [V]: each row's product) per frame."""
    own = torch.as_tensor(rows, dtype=torch.long)[:, None].repeat(1, frames)
    if not cfg.mix_videos:
        return own
    by_product: dict[int, np.ndarray] = {}
    tg = targets.numpy()
    out = own.clone()
    for i, r in enumerate(rows):
        t = int(tg[r])
        if t not in by_product:
            by_product[t] = np.flatnonzero(tg == t)
        same = by_product[t]
        if len(same) > 1:
            out[i] = torch.from_numpy(same[rng.integers(len(same), size=frames)])
    return out
