"""What a video without tracklet boxes tells the user to do names only what the caller accepts:
the library ``crop='frame'``, ``mf crop-cache`` / ``mf training-copy`` their ``--crop frame``,
``mf train`` / ``mf evaluate`` (no ``--crop`` option) ``mf-tracklets build --dataset DIR`` with
the real folder (before: every caller said ``--crop frame``, evaluate a placeholder ROOT)."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from movingfashion.dataset import MovingFashionDataset
from tests.mf_cli import run_mf


@pytest.fixture
def no_tracklets(tiny_dataset, tmp_path):
    """``tiny_dataset`` as mf publish writes it before mf-tracklets build: empty tracklets."""
    root = tmp_path / "dataset"
    shutil.copytree(tiny_dataset, root)
    shutil.rmtree(root / "tracklets")
    for split in ("train", "test"):
        data = json.loads((root / f"{split}.json").read_text())
        for e in data.values():
            e["tracklets"] = [{} for _ in e["video_paths"]]
        (root / f"{split}.json").write_text(json.dumps(data))
    return root


def _no_crop_option(text: str) -> bool:
    return "--crop" not in text.replace("--crop-size", "")


def test_the_library_names_its_own_argument(no_tracklets):
    ds = MovingFashionDataset(no_tracklets, "train", on_bad="skip", shop_size=None)
    assert len(ds) == 0 and ds.skipped
    for _, why in ds.skipped:
        assert "empty tracklet" in why and "crop='frame'" in why and _no_crop_option(why), why


@pytest.mark.parametrize("command", ["crop-cache", "training-copy"])
def test_crop_cache_and_training_copy_name_their_crop_option(no_tracklets, tmp_path, capsys, command):
    code, out, _ = run_mf(
        [
            command,
            "--dataset",
            str(no_tracklets),
            "--crop-size",
            "32",
            "--out",
            str(tmp_path / "o"),
            "--json",
        ],
        capsys,
    )
    said = json.loads(out)  # every row skipped: the one error, with the first skip's reason
    assert code == 2 and "no usable videos in the train split" in said["error"], said
    assert "--crop frame" in said["error"] and "crop='frame'" not in said["error"], said


def test_mf_train_names_only_mf_tracklets_build_with_the_folder(no_tracklets, tmp_path, capsys):
    code, _, err = run_mf(["train", "--dataset", str(no_tracklets), "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "empty tracklet" in err, err
    assert f"run mf-tracklets build --dataset {no_tracklets} first" in err, err
    assert _no_crop_option(err) and "crop='frame'" not in err, err


def test_mf_evaluate_names_only_mf_tracklets_build_with_the_folder(no_tracklets, tmp_path, capsys, caplog):
    from movingfashion.models import SingleFrameMatcher
    from movingfashion.seam.checkpoint import model_from_matcher, save_checkpoint
    from movingfashion.seam.config import ModelConfig

    model, arch = model_from_matcher(SingleFrameMatcher(), ModelConfig())
    ckpt = tmp_path / "last.pt"
    save_checkpoint(ckpt, model, arch, epoch=1)
    code, _, err = run_mf(
        ["evaluate", "--dataset", str(no_tracklets), "--checkpoint", str(ckpt), "--out", str(tmp_path / "e")],
        capsys,
    )
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and "empty tracklet" in last, err
    # every row skipped: the error alone (the dataset's "skipped 1 product ..." warning came first)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "skipped 1 product (first: " in last, last
    assert f"run mf-tracklets build --dataset {no_tracklets} first" in last, last
    assert f"mf-tracklets build --dataset {no_tracklets})" in last and "ROOT" not in last, last
    assert _no_crop_option(last) and "crop='frame'" not in last, last
