"""A split a command cannot use is said in one line: the error, naming the split file and what
to do. ``mf crop-cache``/``mf training-copy`` on a split listing no product printed the dataset's
"the dataset is empty" warning, then wrote nothing and exited 0; ``mf evaluate`` (``build_bank``)
on a split whose every row is skipped printed the dataset's "skipped ..." warning, then the error
saying it again; ``mf crop-cache``/``mf training-copy`` on a split whose every row is skipped
printed the dataset's warning, then the summary listing the skips (exit 1). A split with some
rows skipped still warns, once."""

from __future__ import annotations

import logging
import shutil

import pytest

from movingfashion.seam.features import build_bank
from schemas.errors import DataFormatError
from tests.mf_cli import run_mf
from tests.movingfashion.seam.test_features import _tiny_encoder


@pytest.mark.parametrize("command", ["crop-cache", "training-copy"])
def test_writing_an_empty_split_is_one_error_naming_the_file(tiny_dataset, tmp_path, capsys, command):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "train.json").write_text("{}")
    out = tmp_path / "out"
    code, _, err = run_mf([command, "--dataset", str(root), "--crop-size", "32", "--out", str(out)], capsys)
    assert code == 2, err
    assert err.splitlines() == [
        f"error: {root / 'train.json'}: the train split lists no product "
        "(pass a dataset whose train split has products (mf publish, mf splits))"
    ]
    assert not out.exists()


@pytest.mark.parametrize("command", ["crop-cache", "training-copy"])
@pytest.mark.parametrize("crop", ["tracklet", "frame"])
def test_writing_a_split_whose_every_row_is_skipped_is_one_error(
    tiny_dataset, tmp_path, capsys, caplog, command, crop
):
    """Before: the dataset's "skipped ..." warning, then the summary listing each skip, exit 1."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    shutil.rmtree(root / "videos")
    out = tmp_path / "out"
    args = [command, "--dataset", str(root), "--crop", crop, "--crop-size", "32", "--frame-size", "32"]
    with caplog.at_level(logging.WARNING):
        code, said, err = run_mf([*args, "--out", str(out)], capsys)
    assert (code, said) == (2, ""), said
    assert _warnings(caplog) == []  # the dataset's "skipped ..." warning: the error says it
    (line,) = err.splitlines()
    assert line.startswith(f"error: {root / 'train.json'}: no usable videos in the train split: skipped "), (
        line
    )
    hint = "mf verify names every break" if crop == "frame" else f"mf-tracklets build --dataset {root}"
    assert line.endswith(f"{hint})") and "(first: " in line, line
    assert not out.exists()


def _bank(root):
    return build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4, on_bad="skip")


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_split_whose_every_row_is_skipped_is_one_error_with_the_counts(tiny_dataset, tmp_path, caplog):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    shutil.rmtree(root / "videos")
    with caplog.at_level(logging.WARNING), pytest.raises(DataFormatError) as exc:
        _bank(root)
    assert exc.value.where == str(root / "test.json")
    assert "no usable videos in the test split: skipped 1 product (first: " in str(exc.value), exc.value
    assert "mf-tracklets build" in exc.value.hint
    assert _warnings(caplog) == []


def test_a_split_with_some_rows_skipped_still_warns_once(tiny_dataset, tmp_path, caplog):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "videos" / "102_1.mp4").unlink()
    with caplog.at_level(logging.WARNING):
        bank = _bank(root)
    assert len(bank.skipped) == 1
    [said] = _warnings(caplog)
    assert "skipped 1 video of a product that still loads" in said, said
