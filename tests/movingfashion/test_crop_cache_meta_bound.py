"""A dataset on a crop cache keeps at most ``CACHE_METAS`` checked entries (frames, boxes and
frame size only), the least recently used dropped and read again when next used: before, every
entry's whole meta JSON stayed for the life of the process (~82 kB a video, in each worker)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import movingfashion.crop_cache as crop_cache_module
from movingfashion.dataset import MovingFashionDataset, build_crop_cache

KW = {"seed": 3, "crop_size": 32, "frames": 6, "dtype": torch.uint8, "train": True, "videos": "all"}


def _items(ds: MovingFashionDataset, epochs: int = 2) -> list[dict]:
    out = []
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        out.extend(ds[i] for i in range(len(ds)))
    return out


def _same(a: dict, b: dict) -> bool:
    return (
        a["product_id"] == b["product_id"]
        and a["video_path"] == b["video_path"]
        and a["orig_size"] == b["orig_size"]
        and a["frame_indices"].tolist() == b["frame_indices"].tolist()
        and torch.equal(a["frames"], b["frames"])
        and torch.equal(a["boxes"].isnan(), b["boxes"].isnan())
        and torch.equal(a["boxes"].nan_to_num(), b["boxes"].nan_to_num())
        and a["boxes"].dtype == b["boxes"].dtype == torch.float32
    )


@pytest.mark.parametrize("crop", ["tracklet", "frame"])
def test_cached_entries_stay_at_the_cap_and_items_match_an_uncapped_read(
    tiny_dataset, tmp_path, monkeypatch, caplog, crop
):
    kw = {**KW, "crop": crop, **({"frame_size": 40} if crop == "frame" else {})}
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **kw)
    assert build_crop_cache(live, cache, pool=None)["failed"] == 0
    assert len(live) > 2

    uncapped = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **kw)
    uncapped._cut = None  # every item from the cache: decoding would fail
    want = _items(uncapped)
    assert len(uncapped._cache_meta) == len(live)

    monkeypatch.setattr(crop_cache_module, "CACHE_METAS", 2)
    capped = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **kw)
    capped._cut = None
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        got = _items(capped)  # every entry touched, each several times, evicted and read again
    assert len(capped._cache_meta) == 2
    assert len(got) == len(want) and all(_same(a, b) for a, b in zip(got, want, strict=True))
    assert not caplog.records  # a re-read entry is checked again, silently
    if crop == "frame":  # frames without a box: NaN boxes, as before
        assert any(bool(item["boxes"].isnan().any()) for item in got)


def test_a_cached_entry_holds_only_compact_arrays(tiny_dataset, tmp_path):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache, pool=None)
    ds = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    ds.plan(0)
    (meta,) = ds._cache_meta.values()
    assert meta.frames.dtype == np.int32 and meta.boxes.dtype == np.float32
    assert meta.boxes.shape == (len(meta.frames), 4) and len(meta.orig_size) == 2


def test_an_unusable_entry_is_named_once_however_often_it_is_evicted(
    tiny_dataset, tmp_path, monkeypatch, caplog
):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache, pool=None)
    meta_file = sorted(cache.glob("*.json"))[0]
    meta_file.write_text("{not json")
    monkeypatch.setattr(crop_cache_module, "CACHE_METAS", 1)
    ds = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        for epoch in range(3):
            ds.set_epoch(epoch)
            for i in range(len(ds)):
                ds.plan(i)
    named = [r for r in caplog.records if meta_file.name in r.getMessage()]
    assert len(named) == 1, [r.getMessage() for r in caplog.records]
