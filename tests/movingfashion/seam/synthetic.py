"""A synthetic SEAM feature bank with known structure, for the SEAM tests (and the DDP worker)."""

from __future__ import annotations

import torch

from movingfashion.seam.features import FeatureBank


def synthetic_bank(
    n_products: int,
    videos_per_product: int = 1,
    pool: int = 12,
    channels: int = 8,
    size: int = 2,
    noise: float = 0.6,
    distractor_rate: float = 0.3,
    seed: int = 0,
    classes: int = 3,
    return_distractors: bool = False,
):
    """A bank of random feature maps with known structure.

    Each product has a prototype map; its shop map is the prototype plus a little noise, each
    tracklet frame the prototype plus ``noise`` or, with probability ``distractor_rate``, a wrong
    detection (one background map shared by all videos, plus noise) whose confidence is drawn a
    little higher on average.
    """
    g = torch.Generator().manual_seed(seed)
    proto = torch.randn(n_products, channels, size, size, generator=g)
    shop = proto + 0.1 * torch.randn(proto.shape, generator=g)
    v = n_products * videos_per_product
    owner = torch.arange(n_products).repeat_interleave(videos_per_product)
    frames = proto[owner][:, None] + noise * torch.randn(v, pool, channels, size, size, generator=g)
    distract = torch.rand(v, pool, generator=g) < distractor_rate
    background = torch.randn(channels, size, size, generator=g)  # wrong detections look alike
    frames[distract] = background + noise * torch.randn(
        int(distract.sum()), channels, size, size, generator=g
    )
    conf = (0.5 + 0.2 * torch.rand(v, pool, generator=g) + 0.25 * distract.float()).clamp(max=1)
    idx = torch.arange(pool).repeat(v, 1) * 3
    ids = [f"p{i:05d}" for i in range(n_products)]
    parts = ["regular" if i % 3 else "hard" for i in range(n_products)]
    bank = FeatureBank(
        product_ids=[ids[o] for o in owner.tolist()],
        videos=[f"videos/v{i}.mp4" for i in range(v)],
        partitions=[parts[o] for o in owner.tolist()],
        classes=[1 + o % classes for o in owner.tolist()],
        fmaps=frames.half(),
        frames=idx,
        positions=idx.float() / (3 * pool),
        conf=conf,
        gallery_ids=ids,
        shop_fmaps=shop.half(),
        targets=owner.clone(),
        shop_paths=[
            f"imgs/{i}.{'jpg' if p == 'regular' else 'png'}" for i, p in zip(ids, parts, strict=True)
        ],
        tracklet_sources=["ground_truth"] * v,
    )
    return (bank, distract) if return_distractors else bank
