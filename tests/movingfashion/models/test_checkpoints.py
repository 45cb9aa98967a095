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
    ("device", "words"),
    [
        ("gpu", "unknown device 'gpu'"),
        ("cuda:99", "not on this machine"),
        # torch knows these, the toolkit does not run on them (a traceback deep in the detector)
        ("mps", "unknown device 'mps'"),
        ("meta", "unknown device 'meta'"),
        ("cpu:7", "unknown device 'cpu:7'"),
    ],
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


@pytest.mark.parametrize("which", ["matcher", "roi_matcher"])
def test_a_matcher_is_known_by_its_weights_not_by_the_tag_it_carries(tmp_path, which):
    """A checkpoint re-saved with other weights under its old ``tag`` (load the dict, replace the
    state, save) was served the scores cached for the old weights by mf clean's association
    check and counted as done by the builder (audit_stale D3)."""
    from movingfashion.models import load_matcher
    from movingfashion.models.checkpoints import save_torch_file
    from movingfashion.models.matchrcnn import default_matcher_path
    from movingfashion.models.roi import default_roi_matcher_path, load_roi_matcher

    load, path = (
        (load_matcher, default_matcher_path())
        if which == "matcher"
        else (load_roi_matcher, default_roi_matcher_path())
    )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    original = load(path).tag
    assert original == ckpt["tag"]  # written by write_tagged_checkpoint: its tag is its content's
    g = torch.Generator().manual_seed(0)
    state = dict(ckpt["state_dict"])
    k = next(k for k, v in state.items() if v.is_floating_point() and v.ndim >= 2)
    state[k] = state[k] + 0.1 * torch.randn(state[k].shape, generator=g).to(state[k].dtype)
    save_torch_file({**ckpt, "state_dict": state}, tmp_path / "other.pt")
    assert load(tmp_path / "other.pt").tag != original
    save_torch_file({k2: v for k2, v in ckpt.items() if k2 != "tag"}, tmp_path / "untagged.pt")
    assert load(tmp_path / "untagged.pt").tag == original  # the same weights, however saved


def test_the_detector_config_refuses_a_device_name_when_the_file_is_read(tmp_path):
    """`detector.device: mps` passed `mf config show` and crashed `mf-tracklets build`; a bad name
    is now refused with the file and the field. Whether the machine has the device is still
    pick_device's to say when it is used."""
    from annotations.config import BuildConfig
    from schemas.config import load_config

    cfg = tmp_path / "build.yaml"
    for bad in ("mps", "meta", "cpu:7", "bananas", "cuda:x"):
        cfg.write_text(f"detector:\n  device: '{bad}'\n")
        with pytest.raises(
            ConfigError, match=f"field 'detector.device': unknown device '{bad}': use cpu, cuda"
        ):
            load_config(BuildConfig, cfg)
    for good in ("cpu", "cpu:0", "cuda", "cuda:3", ""):
        cfg.write_text(f"detector:\n  device: '{good}'\n")
        assert load_config(BuildConfig, cfg).detector.device == good


def test_device_option_and_mf_device_choose_the_device_of_every_model_command(monkeypatch, capsys):
    """``--device`` on mf train / evaluate / train-detector / pretrain-matcher / mf-tracklets build
    (audit_gpu G2: only a config key of the build could choose one); ``$MF_DEVICE`` is its default."""
    from annotations.cli import build, pretrain_matcher, train_detector
    from movingfashion.models.checkpoints import DEVICE_ENV
    from movingfashion.seam.cli import evaluate, train
    from schemas.cli_support import run_main

    monkeypatch.delenv(DEVICE_ENV, raising=False)
    for cmd in (train, evaluate, build, train_detector, pretrain_matcher):
        assert any(p.name == "device" for p in cmd.params), cmd.name
        with pytest.raises(SystemExit) as ei:
            run_main(cmd, ["--device", "mps"])
        err = capsys.readouterr().err
        assert ei.value.code == 2 and "--device: unknown device 'mps'" in err, (cmd.name, err)
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert pick_device(None) == torch.device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv(DEVICE_ENV, "cuda:3")
        with pytest.raises(ConfigError) as ei:
            pick_device(None)
        assert ei.value.where == DEVICE_ENV


def test_device_is_this_processs_and_not_exported_to_workers(monkeypatch):
    """``--device cuda:1`` went into ``$MF_DEVICE``, which Ray workers inherit, where their one
    GPU is ``cuda:0`` (audit_new3 N12): the choice stays in this process."""
    import os

    from movingfashion.models import checkpoints

    monkeypatch.delenv(checkpoints.DEVICE_ENV, raising=False)
    monkeypatch.setattr(checkpoints, "_default_device", None)
    checkpoints.set_default_device("cpu")
    assert checkpoints.pick_device(None) == torch.device("cpu")
    assert checkpoints.DEVICE_ENV not in os.environ


def test_device_auto_takes_cuda_when_present_else_the_cpu(monkeypatch, capsys):
    """``--device auto`` (what other tools and ``MF_DECODE_DEVICE`` call it) was refused as an
    unknown device; it is the default made explicit, for --device, $MF_DEVICE and detector.device."""
    from movingfashion.models import checkpoints
    from movingfashion.models.checkpoints import check_device_name
    from movingfashion.seam.cli import train
    from schemas.cli_support import run_main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")
    monkeypatch.setenv(checkpoints.DEVICE_ENV, "auto")
    monkeypatch.setattr(checkpoints, "_default_device", None)
    assert pick_device(None) == torch.device("cuda")
    assert check_device_name("auto") == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        run_main(train, ["--device", "auto", "--phase", "1"])  # refused later: no --out
    err = capsys.readouterr().err
    assert "unknown device" not in err and "--out" in err
    assert pick_device(None) == torch.device("cpu")
