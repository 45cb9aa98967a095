"""Both layouts read alike: the real archive's (``imgs/``, ``.png`` Hard shop images, ``source`` 0 =
Hard / 1 = Regular) and this project's older one (``shop/<id>.jpg``, ``source`` 2 for Hard), by the
loader, by SEAM's feature bank (its Regular / Hard breakdown) and by ``mf verify``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from movingfashion.archive.verify import verify_dataset
from movingfashion.dataset import MovingFashionDataset
from movingfashion.media.images import read_image, write_image
from tests.movingfashion.helpers import ARCHIVE_SPEC as SPEC
from tests.movingfashion.helpers import box_of


@pytest.fixture(scope="module")
def legacy_dir(archive_dir, tmp_path_factory) -> Path:
    """The same products in the older layout: ``shop/<id>.jpg`` and ``source`` 2 for Hard."""
    root = tmp_path_factory.mktemp("legacy") / "ds"
    shutil.copytree(archive_dir, root)
    for split in ("train", "test"):
        data = json.loads((root / f"{split}.json").read_text())
        for pid, e in data.items():
            old = root / e["img_path"]
            e["img_path"] = f"shop/{pid}.jpg"
            write_image(root / e["img_path"], read_image(old))
            old.unlink()
            if e["source"] == 0:
                e["source"] = 2
        (root / f"{split}.json").write_text(json.dumps(data))
    shutil.rmtree(root / "imgs")
    return root


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_loader_reads_an_archive_shaped_folder(archive_dir, split):
    ds = MovingFashionDataset(archive_dir, split, frames=4, crop_size=32, shop_size=32, videos="all")
    want = {pid: (src, n) for pid, (s, src, n) in SPEC.items() if s == split}
    assert sorted(set(ds.product_ids)) == sorted(want)
    for i in range(len(ds)):
        item = ds[i]
        source, _ = want[item["product_id"]]
        assert item["partition"] == ("regular" if source == 1 else "hard")
        assert item["shop"].shape == (3, 32, 32) and item["frames"].shape == (4, 3, 32, 32)
        assert item["boxes"].tolist() == [box_of(int(f)) for f in item["frame_indices"]]
    assert {rec.product_id: len(rec.videos) for rec in ds.products} == {p: n for p, (_, n) in want.items()}
    assert {rec.product_id: rec.shop_path.suffix for rec in ds.products} == {
        p: ".jpg" if src == 1 else ".png" for p, (src, _) in want.items()
    }


def test_both_layouts_give_the_same_items(archive_dir, legacy_dir):
    for split in ("train", "test"):
        kw = {"frames": 3, "crop_size": 24, "shop_size": 24, "videos": "all", "seed": 0}
        a, b = MovingFashionDataset(archive_dir, split, **kw), MovingFashionDataset(legacy_dir, split, **kw)
        assert a.product_ids == b.product_ids and len(a) == len(b)
        for i in range(len(a)):
            x, y = a[i], b[i]
            assert (x["product_id"], x["partition"], x["video_path"]) == (
                y["product_id"],
                y["partition"],
                y["video_path"],
            )
            assert torch.equal(x["frames"], y["frames"]) and torch.equal(x["boxes"], y["boxes"])


def test_seam_bank_breaks_down_regular_and_hard_in_both_layouts(archive_dir, legacy_dir):
    from movingfashion.seam.features import build_bank
    from movingfashion.seam.protocol import query_groups

    encoder = torch.nn.Conv2d(3, 4, 8, stride=8)
    banks = [build_bank(root, "test", encoder, crop_size=32, pool=3) for root in (archive_dir, legacy_dir)]
    for bank in banks:
        assert dict(zip(bank.product_ids, bank.partitions, strict=True)) == {"r2": "regular", "h2": "hard"}
        groups = query_groups(bank.partitions, bank.classes)
        assert int(groups["regular"].sum()) == 1 and int(groups["hard"].sum()) == 1
    assert banks[0].shop_paths == ["imgs/h2.png", "imgs/r2.jpg"]
    assert banks[1].shop_paths == ["shop/h2.jpg", "shop/r2.jpg"]


def test_verify_names_what_the_older_layout_breaks(archive_dir, legacy_dir):
    assert verify_dataset(archive_dir).ok
    report = verify_dataset(legacy_dir)
    broken = {c.name for c in report.checks if c.breaks}
    assert broken == {"source_codes", "prefixes", "shop_suffix"}
    assert {(b.product, b.field) for b in report.check("source_codes").breaks} == {
        ("h1", "source"),
        ("h2", "source"),
    }
    assert len(report.check("prefixes").breaks) == 4
    assert all("mf publish" in b.fix for b in report.breaks)
