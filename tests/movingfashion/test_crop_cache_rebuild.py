"""What a crop-cache rerun builds again: every entry when the pool changes (so a cache built
without a pool gives exactly the live items), and any entry the loader would refuse (a cut or
empty array, a damaged meta); the loader names such an entry once and decodes its video live.
A worker's unexpected error names the video."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry
from tests.damage import assert_same_tree

KW = {"seed": 7, "crop_size": 48, "frames": 6, "dtype": torch.uint8}
VIDEO = "videos/101_0.mp4"  # product 101: 60 frames, boxes on frames 5..54


def _same_items(a: MovingFashionDataset, b: MovingFashionDataset, epochs: int = 3) -> bool:
    for epoch in range(epochs):
        a.set_epoch(epoch)
        b.set_epoch(epoch)
        for i in range(len(a)):
            x, y = a[i], b[i]
            if x["frame_indices"].tolist() != y["frame_indices"].tolist():
                return False
            if not (torch.equal(x["frames"], y["frames"]) and torch.equal(x["boxes"], y["boxes"])):
                return False
    return True


def test_a_rerun_with_another_pool_builds_every_entry_again(tiny_dataset, tmp_path):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    assert build_crop_cache(live, cache, pool=8) == {"built": 4, "already_cached": 0, "failed": 0}
    assert len(json.loads(cache_entry(cache, VIDEO)[1].read_text())["frames"]) == 8
    # no pool (the default, as for mf crop-cache): every boxed frame, exactly the live items
    assert build_crop_cache(live, cache) == {"built": 4, "already_cached": 0, "failed": 0}
    assert json.loads(cache_entry(cache, VIDEO)[1].read_text())["frames"] == list(range(5, 55))
    cached = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    cached._cut = None  # every item from the cache: decoding would fail
    assert _same_items(live, cached)
    assert build_crop_cache(live, cache, pool=None)["already_cached"] == 4
    assert build_crop_cache(live, cache, pool=16)["built"] == 4  # and from one pool to another
    assert build_crop_cache(live, cache, pool=8)["built"] == 4


def test_an_entry_from_before_the_pool_was_recorded_is_kept_when_its_frames_fit(tiny_dataset, tmp_path):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache, pool=8)
    for rec in live.products:
        for v in rec.videos:
            meta_path = cache_entry(cache, v.rel_path)[1]
            meta = json.loads(meta_path.read_text())
            del meta["pool"]
            meta_path.write_text(json.dumps(meta))
    assert build_crop_cache(live, cache, pool=8)["already_cached"] == 4  # its frames are pool 8's
    assert build_crop_cache(live, cache, pool=None)["built"] == 4


def _damage(cache, how: str) -> None:
    arr, meta_path = cache_entry(cache, VIDEO)
    if how == "cut":  # disk full, an interrupted rsync
        arr.write_bytes(arr.read_bytes()[: arr.stat().st_size // 2])
    elif how == "empty":
        arr.write_bytes(b"")
    else:  # the meta still reads, one value damaged
        meta = json.loads(meta_path.read_text())
        if how == "frame":
            meta["frames"][0] = 95  # past the tracklet (and the video)
        else:
            meta["boxes"][2] = "x"
        meta_path.write_text(json.dumps(meta))


DAMAGE = ["cut", "empty", "frame", "box"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_entry_is_named_once_and_its_video_decoded_live(tiny_dataset, tmp_path, caplog, how):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache)
    _damage(cache, how)
    cached = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        assert _same_items(live, cached, epochs=6)
    named = [r.getMessage() for r in caplog.records if "101_0" in r.getMessage()]
    assert len(named) == 1 and "decoding videos/101_0.mp4 live" in named[0], named


@pytest.mark.parametrize("how", DAMAGE)
def test_a_rerun_builds_a_damaged_entry_again(tiny_dataset, tmp_path, caplog, how):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache)
    good = {p.name: p.read_bytes() for p in cache.iterdir()}
    _damage(cache, how)
    assert build_crop_cache(live, cache) == {"built": 1, "already_cached": 3, "failed": 0}
    assert_same_tree({p.name: p.read_bytes() for p in cache.iterdir()}, good)
    cached = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    cached._cut = None
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        assert _same_items(live, cached, epochs=1)
    assert not caplog.records


def test_an_array_with_bytes_after_its_frames_is_built_again(tiny_dataset, tmp_path):
    cache = tmp_path / "cc"
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    build_crop_cache(live, cache)
    arr = cache_entry(cache, VIDEO)[0]
    arr.write_bytes(arr.read_bytes() + b"\0" * 7)
    assert build_crop_cache(live, cache)["built"] == 1


class Faulty(MovingFashionDataset):
    """Caching one video raises an error the build does not expect (a bug, a file gone)."""

    def _check_video(self, rec, video, *args):
        if video.rel_path == VIDEO:
            raise FileNotFoundError(2, "No such file or directory", video.rel_path)
        return super()._check_video(rec, video, *args)


def test_an_unexpected_error_while_caching_names_the_video(tiny_dataset, tmp_path):
    ds = Faulty(tiny_dataset, "train", on_bad="skip", **KW)
    with pytest.raises(FileNotFoundError) as exc:
        build_crop_cache(ds, tmp_path / "cc")
    notes = " ".join(getattr(exc.value, "__notes__", []))
    assert VIDEO in notes and "product 101" in notes and str(tiny_dataset / VIDEO) in notes


def test_an_older_toolkits_entry_without_the_videos_digest_is_built_again(tiny_dataset, tmp_path):
    """An entry known by the video's size alone (an older toolkit's) is read, but a rerun writes
    it again with the digest that tells a same-size replacement apart."""
    from movingfashion.training_copy import build_training_copy, copy_entry

    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    cache, copy = tmp_path / "cc", tmp_path / "copy"
    build_crop_cache(live, cache)
    build_training_copy(live, copy)
    for meta_path in (cache_entry(cache, VIDEO)[1], copy_entry(copy, VIDEO)[1]):
        meta = json.loads(meta_path.read_text())
        del meta["video_sample"]
        meta_path.write_text(json.dumps(meta))
    old = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    old._cut = None  # read from the older entry (decoding would fail)
    assert _same_items(live, old, epochs=1)
    assert build_crop_cache(live, cache) == {"built": 1, "already_cached": 3, "failed": 0}
    counts = build_training_copy(live, copy)
    assert (counts["built"], counts["already_copied"]) == (1, 3)
    for meta_path in (cache_entry(cache, VIDEO)[1], copy_entry(copy, VIDEO)[1]):
        assert "video_sample" in json.loads(meta_path.read_text())
    assert build_crop_cache(live, cache)["already_cached"] == 4
