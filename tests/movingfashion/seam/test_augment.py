"""Phase-2 augmentations: each repeats under a seed and changes the inputs as it says."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from movingfashion.seam.augment import augment_crops, frame_slots, frame_videos, half_resolution
from movingfashion.seam.config import AugmentConfig
from movingfashion.seam.train import train_phase2
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config
from tests.movingfashion.seam.synthetic import synthetic_bank


def _crops(n: int = 64, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 0.6 + 0.2


def _same(a, b) -> bool:
    return torch.equal(a[0], b[0]) and all(
        torch.equal(getattr(a[1], k), getattr(b[1], k)) for k in ("halved", "flipped", "noise")
    )


def test_pixel_augmentations_repeat_under_a_seed_and_differ_across_seeds():
    crops = _crops()
    cfg = AugmentConfig(pixel_noise=0.05, half_resolution=0.5, flip=0.5)
    a = augment_crops(crops, cfg, np.random.default_rng(3))
    assert _same(a, augment_crops(crops, cfg, np.random.default_rng(3)))
    assert not _same(a, augment_crops(crops, cfg, np.random.default_rng(4)))
    # off by default: the crops pass unchanged
    off = augment_crops(crops, AugmentConfig(), np.random.default_rng(3))
    assert torch.equal(off[0], crops) and not off[1].flipped.any() and not off[1].halved.any()


def test_flips_mirror_exactly_the_drawn_crops():
    crops = _crops(200)
    out, draw = augment_crops(crops, AugmentConfig(flip=0.5), np.random.default_rng(0))
    f = draw.flipped
    assert 60 < int(f.sum()) < 140  # about half of 200
    assert torch.equal(out[f], crops[f].flip(-1)) and torch.equal(out[~f], crops[~f])
    assert not torch.equal(out[f], crops[f])


def test_half_resolution_removes_the_finest_detail_of_the_drawn_crops():
    size = 16
    checker = ((torch.arange(size)[:, None] + torch.arange(size)[None, :]) % 2).float()
    crops = (0.25 + 0.5 * checker).expand(40, 3, size, size).clone()  # a one-pixel checkerboard
    out, draw = augment_crops(crops, AugmentConfig(half_resolution=0.5), np.random.default_rng(1))
    h = draw.halved
    assert 0 < int(h.sum()) < 40
    assert torch.allclose(out[h], half_resolution(crops[h])) and torch.equal(out[~h], crops[~h])
    # the pattern (pixel-to-pixel contrast 0.5) is gone, the mean brightness stays
    contrast = (out[h][..., 1:] - out[h][..., :-1]).abs().mean()
    assert float(contrast) < 0.05 and abs(float(out[h].mean()) - float(crops[h].mean())) < 0.01


def test_pixel_noise_has_the_configured_spread_and_is_what_was_added():
    crops = _crops(32, 24)
    sigma = 0.05
    out, draw = augment_crops(crops, AugmentConfig(pixel_noise=sigma), np.random.default_rng(2))
    diff = out - crops
    assert torch.allclose(diff, draw.noise, atol=1e-6)  # away from 0 and 1 nothing is clipped
    assert abs(float(diff.std()) - sigma) < 0.1 * sigma and abs(float(diff.mean())) < 0.01


def test_random_positions_leave_the_chunks_and_repeat_under_a_seed():
    pool, frames = 30, 10
    rrs, rnd = AugmentConfig(), AugmentConfig(random_positions=True)
    chunk = pool // frames
    one_per_chunk = lambda s: [i // chunk for i in s] == list(range(frames))  # noqa: E731
    rng = np.random.default_rng(5)
    draws = [frame_slots(pool, frames, rrs, rng) for _ in range(50)]
    assert all(one_per_chunk(s) for s in draws)  # Restricted Random Sampling: one frame per chunk
    draws = [frame_slots(pool, frames, rnd, np.random.default_rng(k)) for k in range(50)]
    assert all(s == sorted(set(s)) and len(s) == frames and min(s) >= 0 and max(s) < pool for s in draws)
    assert sum(not one_per_chunk(s) for s in draws) > 40  # anywhere in the pool
    assert draws[7] == frame_slots(pool, frames, rnd, np.random.default_rng(7))


def test_mixed_videos_take_each_frame_from_a_video_of_the_same_product():
    bank = synthetic_bank(6, videos_per_product=3, pool=4)
    rows = [0, 4, 8, 15]
    own = frame_videos(rows, bank.targets, 10, AugmentConfig(), np.random.default_rng(0))
    assert own.tolist() == [[r] * 10 for r in rows]
    cfg = AugmentConfig(mix_videos=True)
    mixed = frame_videos(rows, bank.targets, 10, cfg, np.random.default_rng(0))
    assert torch.equal(mixed, frame_videos(rows, bank.targets, 10, cfg, np.random.default_rng(0)))
    for r, row in zip(rows, mixed.tolist(), strict=True):
        assert {int(bank.targets[v]) for v in row} == {int(bank.targets[r])}
        assert len(set(row)) > 1  # 10 frames over the product's 3 videos
    # a product with one video keeps it
    single = synthetic_bank(4, videos_per_product=1, pool=4)
    assert frame_videos([2], single.targets, 5, cfg, np.random.default_rng(0)).tolist() == [[2] * 5]


def test_training_with_the_frame_augmentations_repeats_and_differs_from_without(tmp_path):
    bank = synthetic_bank(16, videos_per_product=2, pool=12, channels=8, seed=3)

    def run(name: str, **aug) -> dict[str, torch.Tensor]:
        cfg = tiny_train_config("no_nlb", epochs=2, augment=AugmentConfig(**aug))
        train_phase2(bank, tiny_model("no_nlb"), TINY, cfg, tmp_path / name)
        return torch.load(tmp_path / name / "last.pt", weights_only=False)["model"]

    a = run("a", random_positions=True, mix_videos=True)
    b = run("b", random_positions=True, mix_videos=True)
    plain = run("plain")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], plain[k]) for k in a if a[k].is_floating_point())


def test_the_training_bank_carries_the_pixel_augmentations(gt_dataset, tmp_path):
    from movingfashion.seam.features import build_bank

    encoder = nn.Conv2d(3, 3, 1)  # the identity: the bank holds the crops themselves
    with torch.no_grad():
        encoder.weight.copy_(torch.eye(3)[:, :, None, None])
        encoder.bias.zero_()
    kw = dict(crop_size=16, pool=3, cache_dir=tmp_path, select_query=False)
    plain = build_bank(gt_dataset, "test", encoder, **kw)
    flipped = build_bank(gt_dataset, "test", encoder, augment=AugmentConfig(flip=1.0), **kw)
    assert torch.equal(flipped.fmaps, plain.fmaps.flip(-1)) and torch.equal(
        flipped.shop_fmaps, plain.shop_fmaps
    )
    noisy = [
        build_bank(gt_dataset, "test", encoder, augment=AugmentConfig(pixel_noise=0.05), augment_seed=s, **kw)
        for s in (0, 0, 1)
    ]
    assert torch.equal(noisy[0].fmaps, noisy[1].fmaps) and not torch.equal(noisy[0].fmaps, noisy[2].fmaps)
    assert not torch.equal(noisy[0].fmaps, plain.fmaps)
