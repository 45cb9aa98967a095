"""Crop-cache and training-copy entry names: one per (video, product), so ``X.mp4`` and ``X.mov``,
or ``a/b.mp4`` and ``a__b.mp4``, never share an entry; an entry holding another video is never
served; entries named the old way (extension dropped, '/' -> '__') are named once and rebuilt."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry
from movingfashion.training_copy import TOLERANCE, build_training_copy, copy_entry
from tests.movingfashion.test_crop_cache_entries import _items_equal

KW = {"seed": 5, "crop_size": 32, "frames": 6, "train": False}
VIDEOS = ("101_0", "102_0", "102_1", "ab_C_0")


def _same_size(a, b):
    """Pad the smaller mp4 with a trailing 'free' box so both files have the same byte size."""
    small = a if a.stat().st_size < b.stat().st_size else b
    pad = abs(a.stat().st_size - b.stat().st_size)
    assert pad >= 8
    with open(small, "ab") as fh:
        fh.write(pad.to_bytes(4, "big") + b"free" + bytes(pad - 8))
    assert a.stat().st_size == b.stat().st_size


@pytest.fixture
def colliding_dataset(tiny_dataset, tmp_path):
    """Product 102 lists ``videos/102_0.mp4`` and ``videos/102_0.mov`` (its second video renamed),
    both of one byte size, and product ab_C moves to ``videos/sub/ab.mp4`` beside 101 at
    ``videos/sub__ab.mp4``: names that collided while entries dropped the extension and turned
    '/' into '__'."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    shutil.rmtree(root / "tracklets")
    train = json.loads((root / "train.json").read_text())
    (root / "videos" / "102_1.mp4").rename(root / "videos" / "102_0.mov")
    _same_size(root / "videos" / "102_0.mp4", root / "videos" / "102_0.mov")
    train["102"]["video_paths"][1] = "videos/102_0.mov"
    (root / "videos" / "sub").mkdir()
    (root / "videos" / "ab_C_0.mp4").rename(root / "videos" / "sub" / "ab.mp4")
    (root / "videos" / "101_0.mp4").rename(root / "videos" / "sub__ab.mp4")
    train["ab_C"]["video_paths"] = ["videos/sub/ab.mp4"]
    train["101"]["video_paths"] = ["videos/sub__ab.mp4"]
    (root / "train.json").write_text(json.dumps(train))
    return root


def test_entry_names_are_one_per_video_and_product():
    pairs = [
        ("videos/X.mp4", None),
        ("videos/X.mov", None),
        ("a/b.mp4", None),
        ("a__b.mp4", None),
        ("a%2Fb.mp4", None),
        ("v@1.mp4", None),
        ("v", "1.mp4"),
        ("videos/X.mp4", "p"),
        ("videos/X.mp4", "p/q"),
        ("videos/X.mp4", "p%2Fq"),
    ]
    names = {cache_entry(Path("c"), rel, pid)[0].name for rel, pid in pairs}
    assert len(names) == len(pairs)
    assert cache_entry(Path("c"), "videos/101_0.mp4")[0].name == "videos%2F101_0.mp4.npy"
    assert {copy_entry("c", rel, pid)[0].name for rel, pid in pairs} == {
        n.replace(".npy", ".jpgs") for n in names
    }
    long = "videos/" + "x" * 300 + ".mp4"  # cut, with a hash of the whole name
    assert len(cache_entry(Path("c"), long)[1].name.encode()) <= 255
    assert cache_entry(Path("c"), long)[1] != cache_entry(Path("c"), long[:-4] + ".mov")[1]


def test_videos_whose_old_entry_names_collided_each_read_their_own_entry(colliding_dataset, tmp_path):
    kw = {**KW, "videos": "all"}
    live = MovingFashionDataset(colliding_dataset, "train", **kw)
    assert build_crop_cache(live, tmp_path / "cc", pool=None) == {
        "built": 4,
        "already_cached": 0,
        "failed": 0,
    }
    assert len(list((tmp_path / "cc").glob("*.npy"))) == 4
    cached = MovingFashionDataset(colliding_dataset, "train", crop_cache=tmp_path / "cc", **kw)
    cached._cut = None  # every item from its own entry: decoding would fail
    for k in range(len(live)):
        assert _items_equal(cached[k], live[k]), live[k]["video_path"]
    for rel in ("videos/102_0.mp4", "videos/102_0.mov", "videos/sub/ab.mp4", "videos/sub__ab.mp4"):
        assert json.loads(cache_entry(tmp_path / "cc", rel)[1].read_text())["video"] == rel
    assert build_crop_cache(live, tmp_path / "cc", pool=None)["already_cached"] == 4


def test_an_entry_holding_another_video_is_not_served(tiny_dataset, tmp_path, caplog):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache, pool=None)
    a, b = cache_entry(cache, "videos/102_0.mp4"), cache_entry(cache, "videos/102_1.mp4")
    for src, dst in zip(b, a, strict=True):  # 102_0's entry now holds 102_1's crops
        dst.write_bytes(src.read_bytes())
    cached = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **{**KW, "videos": "all"})
    ref = MovingFashionDataset(tiny_dataset, "train", **{**KW, "videos": "all"})
    k = next(k for k in range(len(ref)) if ref[k]["video_path"] == "videos/102_0.mp4")
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        assert _items_equal(cached[k], ref[k])
    assert any("holds video 'videos/102_1.mp4'" in r.getMessage() for r in caplog.records)


def test_a_cache_with_entries_named_the_old_way_is_named_once_then_rebuilt(tiny_dataset, tmp_path, caplog):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache, pool=None)
    for v in VIDEOS:  # as a build before names kept the extension
        for new, suffix in zip(cache_entry(cache, f"videos/{v}.mp4"), (".npy", ".json"), strict=True):
            if suffix == ".json":
                meta = json.loads(new.read_text())
                del meta["naming"], meta["source_boxes"]
                new.write_text(json.dumps(meta))
            new.rename(cache / f"videos__{v}{suffix}")
    cached = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        assert all(_items_equal(cached[k], live[k]) for k in range(len(live)))
    old = [r.getMessage() for r in caplog.records if "named the old way" in r.getMessage()]
    assert len(old) == 1 and "mf crop-cache" in old[0]
    assert build_crop_cache(live, cache, pool=None) == {"built": 4, "already_cached": 0, "failed": 0}
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        p.name for v in VIDEOS for p in cache_entry(cache, f"videos/{v}.mp4")
    )


def test_training_copies_of_videos_whose_old_names_collided_are_each_their_own(colliding_dataset, tmp_path):
    kw = {**KW, "videos": "all", "dtype": torch.uint8}
    live = MovingFashionDataset(colliding_dataset, "train", **kw)
    counts = build_training_copy(live, tmp_path / "copy")
    assert (counts["built"], counts["already_copied"]) == (4, 0)
    fast = MovingFashionDataset(colliding_dataset, "train", training_copy=tmp_path / "copy", **kw)
    fast._cut = None  # every item from its own copy: decoding would fail
    for k in range(len(live)):
        a, b = live[k], fast[k]
        assert a["video_path"] == b["video_path"]
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        assert torch.equal(a["boxes"], b["boxes"])
        assert float((a["frames"].float() - b["frames"].float()).abs().mean()) <= TOLERANCE["mean_abs_error"]
    for rel in ("videos/102_0.mp4", "videos/102_0.mov", "videos/sub/ab.mp4", "videos/sub__ab.mp4"):
        assert json.loads(copy_entry(tmp_path / "copy", rel)[1].read_text())["video"] == rel
    assert build_training_copy(live, tmp_path / "copy")["already_copied"] == 4


def test_a_copy_holding_another_video_is_not_used(tiny_dataset, tmp_path, caplog):
    kw = {**KW, "videos": "all", "dtype": torch.uint8}
    live = MovingFashionDataset(tiny_dataset, "train", **kw)
    build_training_copy(live, tmp_path / "copy")
    a, b = (
        copy_entry(tmp_path / "copy", "videos/102_0.mp4"),
        copy_entry(tmp_path / "copy", "videos/102_1.mp4"),
    )
    for src, dst in zip(b, a, strict=True):  # 102_0's entry now holds 102_1's crops
        dst.write_bytes(src.read_bytes())
    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=tmp_path / "copy", **kw)
    k = next(k for k in range(len(live)) if live[k]["video_path"] == "videos/102_0.mp4")
    with caplog.at_level(logging.WARNING, logger="movingfashion.training_copy"):
        assert _items_equal(fast[k], live[k])  # decoded live
    assert any("holds video 'videos/102_1.mp4'" in r.getMessage() for r in caplog.records)
    assert build_training_copy(live, tmp_path / "copy")["built"] == 1


def test_a_training_copy_named_the_old_way_is_named_then_rebuilt(tiny_dataset, tmp_path, caplog):
    kw = {**KW, "videos": "all", "dtype": torch.uint8}
    out = tmp_path / "copy"
    live = MovingFashionDataset(tiny_dataset, "train", **kw)
    build_training_copy(live, out)
    for v in VIDEOS:  # as a copy written before names kept the extension
        data, index = copy_entry(out, f"videos/{v}.mp4")
        meta = json.loads(index.read_text())
        del meta["naming"]
        index.write_text(json.dumps(meta))
        data.rename(out / f"videos__{v}.jpgs")
        index.rename(out / f"videos__{v}.json")
    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=out, **kw)
    with caplog.at_level(logging.WARNING, logger="movingfashion.training_copy"):
        assert all(_items_equal(fast[k], live[k]) for k in range(len(live)))  # decoded live
    old = [r.getMessage() for r in caplog.records if "named the old way" in r.getMessage()]
    assert len(old) == 4 and all("mf training-copy" in m for m in old)
    assert build_training_copy(live, out)["built"] == 4
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for v in VIDEOS for p in copy_entry(out, f"videos/{v}.mp4")
    )


def test_an_old_name_longer_than_a_file_system_takes_is_no_entry(tmp_path):
    """A shared video of two products with long ids (up to 128 characters each) has an old-way
    name past 255 bytes; the current name is cut short with a hash, the old one never was, so no
    entry was ever written under it: asking for it is None, not ENAMETOOLONG (a traceback of
    mf training-copy and mf crop-cache before)."""
    from movingfashion.training_copy import legacy_stem, remove_legacy

    rel, other = f"videos/{'a' * 125}_0.mp4", "b" * 125
    assert len(legacy_stem(rel, other).encode()) > 255
    (tmp_path / "kept.json").write_text("{}")
    remove_legacy(tmp_path, rel, other, (".jpgs", ".json"))  # raised OSError [Errno 36]
    from movingfashion.training_copy import legacy_entry

    assert legacy_entry(tmp_path, rel, other, ".json") is None
    assert [p.name for p in tmp_path.iterdir()] == ["kept.json"]
    short = legacy_stem("videos/p_0.mp4", "q")
    (tmp_path / f"{short}.json").write_text("{}")
    assert legacy_entry(tmp_path, "videos/p_0.mp4", "q", ".json") == tmp_path / f"{short}.json"
