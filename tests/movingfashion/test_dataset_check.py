"""``dataset.check(deep=True)`` decodes every frame the sampler may ask for and so finds videos
damaged inside, which open (and pass the fast check) but fail when a clip is decoded: raised
with the product and file named, or dropped and listed under ``on_bad="skip"``."""

from __future__ import annotations

import shutil

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset
from schemas.errors import MediaError
from tests.movingfashion.helpers import read_code

KW = {"seed": 1, "crop_size": 32, "frames": 6, "train": False, "dtype": torch.uint8}


def _damage(video):
    """Zero 2000 bytes in the middle of the file: it still opens, its later frames do not decode."""
    data = bytearray(video.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 2000] = bytes(2000)
    video.write_bytes(bytes(data))


@pytest.fixture
def damaged(tiny_dataset, tmp_path):
    """``tiny_dataset`` with 101's only video and 102's second video damaged inside."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    for name in ("101_0", "102_1"):
        _damage(root / "videos" / f"{name}.mp4")
    return root


def test_a_healthy_dataset_passes_the_deep_check_unchanged(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", videos="all", **KW)
    before = [ds.plan(i)[2] for i in range(len(ds))]
    assert ds.check(deep=True) == [] and len(ds) == 4
    assert [ds.plan(i)[2] for i in range(len(ds))] == before


def test_the_deep_check_raises_naming_the_video_that_does_not_decode(damaged):
    ds = MovingFashionDataset(damaged, "train", **KW)
    assert ds.check() == []  # the fast check only opens the videos: these open
    with pytest.raises(MediaError, match=r"product '101'.*101_0\.mp4") as exc:
        ds.check(deep=True)
    assert "on_bad='skip'" in str(exc.value)
    with pytest.raises(MediaError, match="101_0.mp4"):  # what training would hit
        ds[ds.product_ids.index("101")]


def test_the_deep_check_drops_videos_that_do_not_decode_under_skip(damaged):
    ds = MovingFashionDataset(damaged, "train", on_bad="skip", videos="all", **KW)
    assert len(ds) == 4
    skipped = ds.check(deep=True)
    assert {pid for pid, _ in skipped} == {"101", "102"}
    assert any("101_0.mp4" in why for _, why in skipped) and any("102_1.mp4" in why for _, why in skipped)
    # 101 had no other video: gone; 102 keeps its healthy first video
    assert len(ds) == 2 and ds.product_ids == ["102", "ab_C"]
    assert [v.rel_path for v in ds.products[0].videos] == ["videos/102_0.mp4"]
    for i in range(len(ds)):  # every item left loads, from its own video, with no stand-in
        item = ds[i]
        assert "skipped" not in item and item["video_path"] in ("videos/102_0.mp4", "videos/ab_C_0.mp4")
    whole = MovingFashionDataset(damaged, "train", on_bad="skip", crop="frame", frame_size=(96, 128), **KW)
    whole.check(deep=True)
    item = whole[0]
    assert [read_code(f) for f in item["frames"].permute(0, 2, 3, 1).numpy()] == item[
        "frame_indices"
    ].tolist()
