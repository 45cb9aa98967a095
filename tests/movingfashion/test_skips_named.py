"""Under ``on_bad="skip"`` the loader's warning and ``mf training-copy`` say what a skip left out:
a product, or a video of a product that still loads by its other videos (before, both read
"skipped N bad rows" / "skipped <product>: ..." as if the product were gone)."""

from __future__ import annotations

import json
import logging

from movingfashion.dataset import MovingFashionDataset
from tests.mf_cli import run_mf
from tests.movingfashion.helpers import edit_split, make_archive


def _archive(tmp_path):
    root = make_archive(tmp_path / "mf")

    def bad(data: dict) -> None:
        data["r1"]["tracklets"][0] = {}  # r1 keeps its second video
        data["h1"]["img_path"] = "imgs/gone.png"  # h1 has nothing left

    edit_split(root, "train", bad)
    return root


def test_the_warning_counts_products_and_videos_apart(tmp_path, caplog):
    root = _archive(tmp_path)
    with caplog.at_level(logging.WARNING, logger="movingfashion"):
        ds = MovingFashionDataset(root, "train", frames=4, crop="tracklet", on_bad="skip")
    assert [rec.product_id for rec in ds.products] == ["r1"]
    assert ds.skip_counts() == {"products": 1, "videos": 1}
    said = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(said) == 1 and "skipped 1 product, 1 video of a product that still loads (" in said[0], said
    assert "bad rows" not in said[0]
    subjects = {pid: ds.skip_subject(pid, why) for pid, why in ds.skipped}
    assert subjects == {"r1": "part of product 'r1' (it still loads)", "h1": "product 'h1'"}


def test_training_copy_says_the_product_still_loads(tmp_path, capsys):
    root = _archive(tmp_path)
    args = ["training-copy", "--dataset", str(root), "--crop-size", "32", "--out", str(tmp_path / "c")]
    code, out, _ = run_mf(args, capsys)
    assert code == 1
    assert "skipped 1 product, 1 video of a product that still loads;" in out, out
    assert "skipped part of product 'r1' (it still loads): " in out and "videos/r1_0.mp4" in out, out
    assert "skipped product 'h1': " in out, out
    code, out, _ = run_mf([*args, "--json"], capsys)
    result = json.loads(out)
    assert result["skipped_counts"] == {"products": 1, "videos": 1}
    assert {s["item"]: s["left_out"] for s in result["skipped"]} == {
        "r1": "part of product 'r1' (it still loads)",
        "h1": "product 'h1'",
    }


class _CountedList(list):
    """A list that counts the passes made over it."""

    passes = 0

    def __iter__(self):
        self.passes += 1
        return super().__iter__()


def test_naming_skips_one_by_one_reads_the_products_once(tmp_path):
    ds = MovingFashionDataset(_archive(tmp_path), "train", frames=4, crop="tracklet", on_bad="skip")
    ds.products = counted = _CountedList(ds.products)
    names = [ds.skip_subject(pid, why) for pid, why in ds.skipped * 50]  # 100 skips named
    assert set(names) == {"part of product 'r1' (it still loads)", "product 'h1'"}
    assert counted.passes == 1  # an index of the loaded ids, not one pass per skip
    ds.products = _CountedList([])  # replaced (as check() replaces it): the index follows
    assert ds.skip_subject("r1", ds.skipped[0][1]) == "product 'r1'"
