"""Dataset JSON paths that leave the dataset folder are refused at validation, by `mf schema
validate`, the loader and the tracklet builder, naming file, product and field; nothing is opened."""

from __future__ import annotations

import contextlib
import functools
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from annotations.builder import load_splits
from movingfashion.app.cli import cli
from movingfashion.dataset import MovingFashionDataset, build_crop_cache
from movingfashion.executors import LocalExecutor
from schemas.cli_support import run_main
from schemas.paths import PathEscapeError
from tests.damage import assert_same_tree, tree_bytes

ESCAPES = [
    ("img_path", "../secret.jpg"),
    ("img_path", "/etc/passwd"),
    ("video_paths", "../../../../etc/passwd"),
    ("video_paths", "./videos/101_0.mp4"),
    ("video_paths", "videos\\..\\..\\x.mp4"),
    ("video_paths", "videos/a\x00.mp4"),
]


def _poisoned(tiny_dataset: Path, tmp_path: Path, field: str, value: str) -> Path:
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    shutil.copyfile(ds / "imgs/101.jpg", tmp_path / "secret.jpg")  # a real file the path could reach
    data = json.loads((ds / "train.json").read_text())
    if field == "img_path":
        data["101"]["img_path"] = value
    else:
        data["101"]["video_paths"][0] = value
    (ds / "train.json").write_text(json.dumps(data))
    return ds


def _check(err: PathEscapeError, ds: Path, field: str, value: str) -> None:
    text = str(err)
    assert text.startswith(f"{ds / 'train.json'}: product '101': field '{field}")
    assert err.value == value and repr(value) in text and err.exit_code == 2


@pytest.mark.parametrize(("field", "value"), ESCAPES)
def test_the_loader_refuses_paths_leaving_the_dataset(tiny_dataset, tmp_path, monkeypatch, field, value):
    ds = _poisoned(tiny_dataset, tmp_path, field, value)
    touched = []
    real_is_file = Path.is_file
    monkeypatch.setattr(Path, "is_file", lambda p: touched.append(str(p)) or real_is_file(p))
    with pytest.raises(PathEscapeError) as err:
        MovingFashionDataset(ds, "train")
    _check(err.value, ds, field, value)
    assert not [t for t in touched if "secret" in t or "passwd" in t]


@pytest.mark.parametrize(("field", "value"), ESCAPES[:3])
def test_the_tracklet_builder_refuses_them(tiny_dataset, tmp_path, field, value):
    ds = _poisoned(tiny_dataset, tmp_path, field, value)
    with pytest.raises(PathEscapeError) as err:
        load_splits(ds)
    _check(err.value, ds, field, value)


@pytest.mark.parametrize(("field", "value"), ESCAPES)
def test_mf_schema_validate_exits_2_naming_file_product_and_field(
    tiny_dataset, tmp_path, capsys, field, value
):
    ds = _poisoned(tiny_dataset, tmp_path, field, value)
    with pytest.raises(SystemExit) as ex:
        run_main(cli, ["schema", "validate", str(ds / "test.json"), str(ds / "train.json")])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(ds / "train.json") in err, err
    assert "product '101'" in err and f"field '{field}" in err and repr(value) in err


class Elsewhere(LocalExecutor):
    """A cluster whose workers run in another working directory, each on its own (pickled) copy
    of the worker state: what Ray workers whose node was started in another folder see."""

    remote = True

    def __init__(self, cwd: Path) -> None:
        super().__init__()
        self.cwd = cwd

    def _there(self, call, *args):
        with contextlib.chdir(self.cwd):
            return call(*args)

    def pool(self, fn, *, setup=None, **kwargs):
        sent = pickle.dumps(setup)
        state = self._there(lambda: pickle.loads(sent)())
        return super().pool(functools.partial(self._there, fn, state), **kwargs)


def test_workers_elsewhere_read_a_dataset_opened_with_relative_paths(tiny_dataset, tmp_path, monkeypatch):
    """``mf crop-cache --dataset ds --executor ray``: the dataset sent to the workers reads its
    files from the folder it was opened in, not from each worker's own cwd."""
    from movingfashion.training_copy import build_training_copy

    kw = {"seed": 3, "crop_size": 32, "frames": 4}
    shutil.copytree(tiny_dataset, tmp_path / "ds")
    (tmp_path / "node").mkdir()
    monkeypatch.chdir(tmp_path)
    ds = MovingFashionDataset("ds", "train", **kw)
    counts = build_crop_cache(ds, "remote", executor=Elsewhere(tmp_path / "node"))
    assert counts == {"built": 4, "already_cached": 0, "failed": 0}
    assert ds.root == Path("ds") and ds.split_path == Path("ds/train.json")  # the caller's: as opened
    build_crop_cache(MovingFashionDataset("ds", "train", **kw), "local")
    assert_same_tree(tree_bytes(tmp_path / "remote"), tree_bytes(tmp_path / "local"))

    build_training_copy(ds, "copy")
    for opened in ({"crop_cache": "local"}, {"training_copy": "copy"}, {}):
        here = MovingFashionDataset("ds", "train", **kw, **opened)
        worker = pickle.loads(pickle.dumps(here))
        with contextlib.chdir(tmp_path / "node"):
            worker.anchor_paths(tmp_path)
            got = worker[0]
        assert got["frame_indices"].tolist() == here[0]["frame_indices"].tolist()
        assert torch.equal(got["shop"], here[0]["shop"])


def test_a_dataset_opened_with_a_relative_root_survives_a_chdir(tiny_dataset, tmp_path, monkeypatch):
    """A notebook's ``%cd`` or a launcher's chdir after opening must not turn every item into
    "video file not found": the relative root, crop cache and training copy are read from the
    folder the dataset was opened in."""
    from movingfashion.training_copy import build_training_copy

    kw = {"seed": 3, "crop_size": 32, "frames": 4}
    shutil.copytree(tiny_dataset, tmp_path / "ds")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    build_crop_cache(MovingFashionDataset("ds", "train", **kw), "cache")
    build_training_copy(MovingFashionDataset("ds", "train", **kw), "copy")
    for opened in ({}, {"crop_cache": "cache"}, {"training_copy": "copy"}):
        ds = MovingFashionDataset("ds", "train", **kw, **opened)
        want = ds[0]
        monkeypatch.chdir(tmp_path / "elsewhere")
        got = ds[0]
        assert got["frame_indices"].tolist() == want["frame_indices"].tolist()
        assert torch.equal(got["shop"], want["shop"]) and torch.equal(got["frames"], want["frames"])
        monkeypatch.chdir(tmp_path)
