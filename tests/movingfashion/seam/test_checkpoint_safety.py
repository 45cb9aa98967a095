"""SEAM / AsymNet checkpoints and the feature-bank cache are read with ``weights_only=True``:
the project's own files load, a crafted pickle is refused without running its code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from movingfashion.seam.asymnet import checkpoint_kind, load_asymnet
from movingfashion.seam.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from schemas.errors import ModelError
from tests.mf_cli import run_mf
from tests.movingfashion.seam.conftest import TINY, tiny_model


class _Opens:
    """Unpickling this calls ``open(marker, "w")``: the file appears when code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _crafted(path: Path, kind: str = "seam") -> Path:
    marker = path.with_suffix(".RAN")
    torch.save({"kind": kind, "version": 3, "payload": _Opens(marker)}, path)
    return marker


def test_a_seam_checkpoint_with_optimizer_and_history_round_trips(tmp_path):
    model = tiny_model("full")
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    sum(p.square().sum() for p in model.parameters()).backward()
    opt.step()
    save_checkpoint(
        tmp_path / "last.pt",
        model,
        TINY,
        epoch=3,
        optimizer=opt,
        train_config={"lr": 0.01, "frames": [8], "flag": True, "none": None},
        train_data={"products": ["a", "b"], "count": 2, "dataset": "/d"},
        extra={"history": [{"epoch": 1, "loss": 0.5}], "schedule": {"phase": [1, 2]}},
    )
    again, ckpt = load_checkpoint(tmp_path / "last.pt", device="cpu")
    assert ckpt["epoch"] == 3 and ckpt["optimizer"]["state"] and ckpt["extra"]["history"][0]["loss"] == 0.5
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("kind", ["seam", "asymnet"])
def test_a_crafted_checkpoint_is_refused_without_running_code(tmp_path, kind):
    path = tmp_path / "evil.pt"
    marker = _crafted(path, kind)
    assert checkpoint_kind(path) is None
    with pytest.raises(ModelError, match="refused unread") as err:
        (read_checkpoint if kind == "seam" else load_asymnet)(path)
    assert str(path) in str(err.value) and "(io.open)" in str(err.value)
    assert not marker.exists()


def test_mf_evaluate_refuses_a_crafted_checkpoint_before_any_code_runs(tiny_dataset, tmp_path, capsys):
    path = tmp_path / "evil.pt"
    marker = _crafted(path, "x")
    code, _, err = run_mf(
        ["evaluate", "--dataset", str(tiny_dataset), "--checkpoint", str(path), "--out", str(tmp_path / "e")],
        capsys,
    )
    assert code == 2 and str(path) in err and "Traceback" not in err
    assert not marker.exists()


def test_the_feature_cache_is_reused_and_a_crafted_cache_file_never_runs(tiny_dataset, tmp_path):
    from movingfashion.seam.features import build_bank

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(4))
    kw = {"crop_size": 32, "pool": 4, "cache_dir": tmp_path / "cache"}
    first = build_bank(root, "test", encoder, **kw)
    (cache,) = (tmp_path / "cache").glob("*.pt")
    stamp = cache.stat().st_mtime_ns
    assert torch.equal(build_bank(root, "test", encoder, **kw).fmaps, first.fmaps)
    assert cache.stat().st_mtime_ns == stamp  # read back (weights_only suffices), not rebuilt
    marker = _crafted(cache)
    again = build_bank(root, "test", encoder, **kw)
    assert not marker.exists() and torch.equal(again.fmaps, first.fmaps)


@pytest.mark.parametrize("recorded", [True, False])
def test_a_loaded_model_keeps_the_pretrained_batch_norm_frozen(tmp_path, recorded):
    """``.train()`` on a loaded model leaves the batch norm that arrived trained frozen, as on the
    model built from the matcher: train-mode descriptors equal eval-mode ones. ``recorded=False``:
    a checkpoint written before the set was recorded (found from the trained statistics)."""
    from movingfashion.models.matchrcnn import EmbeddingHead, MatchHead
    from movingfashion.seam.model import SeamModel
    from tests.movingfashion.seam.conftest import tiny_config

    torch.manual_seed(0)
    f = EmbeddingHead(TINY["in_channels"], TINY["mid"], TINY["hidden"], TINY["dim"])
    f.bn.running_mean.uniform_()
    f.bn.num_batches_tracked.fill_(100)
    built = SeamModel(None, f, MatchHead(TINY["dim"]), tiny_config("full"))
    assert built.pretrained_bn_names() == ["f.bn", "head.extractor.bn"]
    save_checkpoint(tmp_path / "last.pt", built, TINY, epoch=1)
    if not recorded:
        ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
        del ckpt["pretrained_bn"]
        torch.save(ckpt, tmp_path / "last.pt")
    model, _ = load_checkpoint(tmp_path / "last.pt", device="cpu")
    assert model.pretrained_bn_names() == ["f.bn", "head.extractor.bn"]
    fmaps = torch.randn(3, 4, TINY["in_channels"], 3, 3)
    with torch.no_grad():
        evaluated = model.eval().head.encode_tracklet(fmaps)[0]
        trained = model.train().head.encode_tracklet(fmaps)[0]
    assert torch.allclose(trained, evaluated, atol=1e-6)
