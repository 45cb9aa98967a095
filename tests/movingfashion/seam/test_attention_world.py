"""The attention on a noisy world generated in the test: phase 2 as `mf train` runs it, then the
attention weights of held-out videos scored against the world's per-frame corruption truth."""

from __future__ import annotations

import pytest
import torch

from movingfashion.seam.checkpoint import load_checkpoint
from movingfashion.seam.config import ModelConfig, TrainConfig
from movingfashion.seam.evaluate import attention_noise, sample_indices, seam_scores
from movingfashion.seam.features import build_bank, encoder_tag
from movingfashion.seam.train import run_phase2
from schemas.official import read_official

FRAMES = 8  # T of the attention check
POOL = 12  # tracklet frames cached per video


def _config(context_init: float, context_lr: float) -> TrainConfig:
    """Tiny phase 2 on the frozen features: the official loss and schedule, 12 epochs of ~2 steps.
    NLB and g's per-frame Linear train at lr 0.001: at the official 0.04 the Linear fits a nuisance
    of the 19 training videos (how strongly the crop's feature maps fire) that inverts on held-out
    videos and drowns the agreement term (measured over 3 seeds: held-out AUC 0.38-0.53 with the
    scale fixed at 3, 0.53-0.74 learned)."""
    return TrainConfig(
        model=ModelConfig(variant="full", context_init=context_init),
        epochs=12,
        batch_size=8,
        frames=FRAMES,
        lr=0.001,
        finetune_lr=0.004,
        context_lr=context_lr,
        train_trunk=False,
        pool_frames=POOL,
        seed=0,
    )


@pytest.fixture(scope="module")
def trained(noisy_dataset, tmp_path_factory):
    """SEAM trained twice on the noisy world's train split: the agreement scale learned from 0,
    and held at the old prior 3; plus the held-out (test split) bank with its corruption truth."""
    root = tmp_path_factory.mktemp("seam-noisy")
    cache = root / "features"
    runs = {}
    for name, init, lr in [("learned", 0.0, 40.0), ("prior", 3.0, 0.0)]:
        res = run_phase2(noisy_dataset, root / name, _config(init, lr), cache_dir=cache)
        runs[name] = (load_checkpoint(res["checkpoint"], device="cpu")[0], res)
    model = runs["learned"][0]
    held_out = build_bank(
        noisy_dataset,
        "test",
        model.encoder,
        crop_size=96,
        pool=POOL,
        cache_dir=cache,
        encoder_tag=encoder_tag(model),
    )
    return runs, held_out


def _attention(model, bank):
    """Attention weights [V, T] of the held-out queries and the truth codes of their frames."""
    sel = sample_indices(bank, FRAMES)
    _, weights = seam_scores(model, bank, sel, torch.device("cpu"))
    codes = bank.noise[torch.arange(len(bank))[:, None], sel]
    return weights, codes


def test_trained_attention_down_weights_the_corrupted_frames_of_held_out_videos(trained, noisy_dataset):
    runs, held_out = trained
    model, res = runs["learned"]
    # held out: no product of the test split was trained on
    train_ids = set(read_official(noisy_dataset / "train.json"))
    assert res["train_videos"] >= 10 and len(held_out) >= 5
    assert train_ids and set(held_out.product_ids).isdisjoint(train_ids)
    weights, codes = _attention(model, held_out)
    known = codes >= 0
    assert int((codes[known] > 0).sum()) >= 10 and int((codes[known] == 0).sum()) >= 10
    rec = attention_noise(weights, codes, held_out.noise_names)
    assert rec["auc"] >= 0.7, rec
    assert rec["mean_corrupted"] < rec["mean_clean"], rec
    # the same evaluation with the attention replaced by uniform weights fails the bound
    uniform = attention_noise(torch.full_like(weights, 1.0 / FRAMES), codes, held_out.noise_names)
    assert uniform["auc"] < 0.7


def test_the_agreement_gain_is_learned_from_uniform_weights_and_matches_the_prior(trained):
    runs, held_out = trained
    (learned, res), (prior, _) = runs["learned"], runs["prior"]
    # the scale started at 0 (with g's Linear at 0: uniform weights) and training raised it
    assert res["history"][0]["lr_factor"] > 0 and float(learned.head.context.scale.detach()) > 1.0
    assert float(prior.head.context.scale.detach()) == 3.0  # context_lr 0 holds the prior
    auc = {k: attention_noise(*_attention(runs[k][0], held_out), held_out.noise_names)["auc"] for k in runs}
    assert auc["learned"] >= auc["prior"] - 0.05, auc
