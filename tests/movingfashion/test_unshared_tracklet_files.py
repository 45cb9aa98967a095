"""The dataset reads a product's ``<stem>@<product>.json`` only for a video several products list
(over all the split files, the builder's and ``mf verify``'s rule); a leftover ``@`` file of a
video one product lists now does not win over the video's ``<stem>.json``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from movingfashion.dataset import MovingFashionDataset

KW = {"frames": 4, "crop_size": 32}


def _copy(tiny_dataset, tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    return root


def _product_file(root: Path, stem: str, score: float) -> dict[int, float]:
    """Write ``tracklets/<stem>.json``: 101's file of its video with every score ``score``."""
    data = json.loads((root / "tracklets" / "101_0.json").read_text())
    data["tracklets"][0]["scores"] = {k: score for k in data["tracklets"][0]["scores"]}
    (root / "tracklets" / f"{stem}.json").write_text(json.dumps(data))
    return {int(k): score for k in data["tracklets"][0]["scores"]}


def _confidences(root: Path, split: str = "train") -> dict[int, float]:
    ds = MovingFashionDataset(root, split, **KW)
    return ds.products[ds.product_ids.index("101")].videos[0].confidences


def test_a_stale_product_file_does_not_win_over_the_videos_file(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    plain = json.loads((root / "tracklets" / "101_0.json").read_text())["tracklets"][0]["scores"]
    _product_file(root, "101_0@101", 0.125)  # left from when another product listed the video too
    assert _confidences(root) == {int(k): v for k, v in plain.items()} != {}
    (root / "tracklets" / "101_0.json").unlink()
    assert _confidences(root) == {}  # the leftover is nobody's file: nothing read


def test_a_video_shared_across_split_files_reads_its_products_file(tiny_dataset, tmp_path):
    """A test product listing 101's video too makes it shared: each product's ``@`` file."""
    root = _copy(tiny_dataset, tmp_path)
    test = json.loads((root / "test.json").read_text())
    test["t9"] = {**test["102"], "video_paths": ["videos/101_0.mp4"], "tracklets": []}
    (root / "test.json").write_text(json.dumps(test))
    own = _product_file(root, "101_0@101", 0.25)
    assert _confidences(root) == own
