"""``pick_device``: CUDA when present, else the CPU; a device the machine lacks is one clear error."""

from __future__ import annotations

import pytest
import torch

from movingfashion.models.checkpoints import pick_device
from schemas.errors import ConfigError


def test_the_default_is_cuda_when_present_else_the_cpu():
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize(
    ("device", "words"), [("gpu", "unknown device 'gpu'"), ("cuda:99", "not on this machine")]
)
def test_a_device_torch_or_the_machine_lacks_is_named(device, words):
    with pytest.raises(ConfigError, match=words):
        pick_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_without_cuda_is_named():
    with pytest.raises(ConfigError, match="'cuda' is not on this machine"):
        pick_device("cuda")


def test_detector_weights_given_as_a_matcher_are_named_as_such():
    """--matcher detector.pt: a valid torch file weights_only refuses, once called corrupt."""
    from movingfashion.models import load_matcher
    from movingfashion.models.detectors.ultralytics_backend import default_detector_path
    from schemas.errors import ModelError

    with pytest.raises(ModelError, match="this is YOLO detector weights") as err:
        load_matcher(default_detector_path(), device="cpu")
    assert "corrupt" not in str(err.value) and "pass it as --weights FILE" in str(err.value)
    assert err.value.where == str(default_detector_path())


def test_detector_weights_given_as_a_seam_checkpoint_are_sent_to_the_right_options():
    """mf evaluate --checkpoint detector.pt: detector weights go to mf-tracklets --weights, SEAM
    checkpoints to --checkpoint (never "--matcher takes a SEAM checkpoint")."""
    from movingfashion.models.detectors.ultralytics_backend import default_detector_path
    from movingfashion.seam.checkpoint import read_checkpoint
    from schemas.errors import ModelError

    with pytest.raises(ModelError, match="this is YOLO detector weights") as err:
        read_checkpoint(default_detector_path())
    hint = err.value.hint
    assert "mf-tracklets build" in hint and "SEAM checkpoints to --checkpoint" in hint
    assert "--matcher takes a SEAM" not in hint
