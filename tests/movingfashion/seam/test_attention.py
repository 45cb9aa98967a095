"""The attention must earn its place: trained on noisy tracklets, g gives corrupted frames less weight."""

from __future__ import annotations

import pytest
import torch

from movingfashion.seam.checkpoint import build_model
from movingfashion.seam.config import ModelConfig
from movingfashion.seam.evaluate import attention_noise, sample_indices, seam_scores
from movingfashion.seam.train import train_phase2
from tests.movingfashion.seam.conftest import TINY, tiny_train_config
from tests.movingfashion.seam.synthetic import synthetic_bank


def _noisy_bank(n: int, seed: int):
    """A bank whose tracklets carry wrong detections on ~30% of the frames; the truth of which
    frames are wrong is recorded like the noisy world's (code 1 = corrupted, 0 = clean)."""
    bank, wrong = synthetic_bank(n, pool=16, channels=8, seed=seed, return_distractors=True)
    bank.noise = wrong.to(torch.int8)
    bank.noise_names = ["other_garment"]
    return bank


#: How g's agreement scale is trained. "prior": started at 3 at the old learning rate of g (how
#: checkpoints of version 3 were made; it stays at 3). "learned" (the default: from 0 at
#: context_lr) with the balanced pair loss: on this bank, where the wrong detections of every
#: video are one shared map, the official weighted loss (negatives 1.0, positives 0.3) drives the
#: learned scale negative (measured -13, AUC 0.14); with the balanced loss it learns +4.6.
SETUPS = {
    "prior": dict(model=ModelConfig(variant="full", dim=32, nlb_inter=16, context_init=3.0), context_lr=0.05),
    "learned": dict(pair_loss="balanced"),
}


@pytest.mark.parametrize("setup", sorted(SETUPS))
def test_trained_attention_down_weights_corrupted_frames_and_uniform_weights_do_not(tmp_path, setup):
    train, held_out = _noisy_bank(64, seed=11), _noisy_bank(48, seed=12)
    cfg = tiny_train_config("full", epochs=10, multi_frame_after=1, **SETUPS[setup])
    torch.manual_seed(0)
    train_phase2(train, build_model(TINY, cfg.model), TINY, cfg, tmp_path)
    from movingfashion.seam.checkpoint import load_checkpoint

    model, _ = load_checkpoint(tmp_path / "last.pt", device="cpu")
    sel = sample_indices(held_out, 10)
    _, weights = seam_scores(model, held_out, sel, torch.device("cpu"))
    codes = held_out.noise[torch.arange(len(held_out))[:, None], sel]
    assert bool((codes > 0).any()) and bool((codes == 0).any())
    rec = attention_noise(weights, codes, held_out.noise_names)
    assert rec["auc"] >= 0.7, rec
    assert rec["mean_corrupted"] < rec["mean_clean"]
    # the check can fail: uniform weights (attention replaced by the average) are blind to the noise
    uniform = attention_noise(torch.full_like(weights, 0.1), codes, held_out.noise_names)
    assert uniform["auc"] < 0.7
    scale = float(model.head.context.scale.detach())
    # the prior barely moves at g's learning rate; the learned scale rose from 0
    assert abs(scale - 3.0) < 0.01 if setup == "prior" else scale > 1.0
