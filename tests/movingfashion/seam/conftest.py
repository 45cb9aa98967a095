"""Tiny SEAM models and synthetic feature banks shared by the seam tests."""

from __future__ import annotations

import pytest
import torch

from movingfashion.seam.checkpoint import build_model, head_arch
from movingfashion.seam.config import ModelConfig, TrainConfig
from tests.movingfashion.seam.synthetic import synthetic_bank


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread for these tiny models (OpenMP spinning on a shared 2-core box is slow)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = head_arch(8, 16, 32, 32)


def tiny_config(variant: str = "full") -> ModelConfig:
    return ModelConfig(variant=variant, dim=32, nlb_inter=16)


def tiny_model(variant: str = "full", seed: int = 0):
    torch.manual_seed(seed)
    return build_model(TINY, tiny_config(variant))


def tiny_train_config(variant: str = "full", **kw) -> TrainConfig:
    base = dict(
        model=tiny_config(variant),
        epochs=8,
        batch_size=16,
        frames=8,
        lr=0.05,
        finetune_lr=0.02,
        single_frame_weight=0.5,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def train_bank():
    return synthetic_bank(64, pool=16, channels=8, seed=1)


@pytest.fixture(scope="module")
def test_bank():
    return synthetic_bank(64, pool=21, channels=8, seed=2)
