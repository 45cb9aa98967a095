"""``mf evaluate`` refuses checkpoints it cannot use together, naming the file: one without a crop
encoder (trained on precomputed features), two of one variant, one on another frozen encoder."""

from __future__ import annotations

import pytest
import torch

from movingfashion.models.matchrcnn import SingleFrameMatcher
from movingfashion.seam.checkpoint import model_from_matcher, save_checkpoint
from movingfashion.seam.config import EvalConfig, ModelConfig
from movingfashion.seam.evaluate import run_evaluate
from schemas.errors import ConfigError
from tests.movingfashion.seam.conftest import TINY, tiny_model


def _seam_file(path, variant: str = "full", seed: int = 0):
    torch.manual_seed(seed)
    model, arch = model_from_matcher(SingleFrameMatcher(crop_size=32), ModelConfig(variant=variant))
    save_checkpoint(path, model, arch, epoch=1)
    return path


def test_a_checkpoint_without_a_crop_encoder_is_named(tmp_path):
    head = tmp_path / "head.pt"
    save_checkpoint(head, tiny_model("full"), TINY, epoch=1)
    with pytest.raises(ConfigError) as exc:
        run_evaluate(tmp_path, [head], EvalConfig())
    assert "no crop encoder" in str(exc.value) and str(head) in str(exc.value)


def test_two_checkpoints_of_one_variant_name_both_files(tmp_path):
    a, b = _seam_file(tmp_path / "a.pt"), _seam_file(tmp_path / "b.pt")
    with pytest.raises(ConfigError) as exc:
        run_evaluate(tmp_path, [a, b], EvalConfig())
    assert "variant 'full'" in str(exc.value) and str(a) in str(exc.value) and str(b) in str(exc.value)


def test_a_checkpoint_on_another_frozen_encoder_is_named(tmp_path):
    a = _seam_file(tmp_path / "a.pt", "full", seed=0)
    b = _seam_file(tmp_path / "b.pt", "no_nlb", seed=1)
    with pytest.raises(ConfigError) as exc:
        run_evaluate(tmp_path, [a, b], EvalConfig())
    assert (
        "another frozen encoder" in str(exc.value) and str(b) in str(exc.value) and str(a) in str(exc.value)
    )
