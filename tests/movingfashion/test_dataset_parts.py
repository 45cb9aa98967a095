"""``movingfashion.dataset`` is made of modules with one job each (records, split rows, tracklet
files, video checks, crop cache, ...): its API is still imported from it, and what its parts say
is said under its logger's name, so one logging setting covers the whole dataset."""

from __future__ import annotations

import logging
import shutil

import movingfashion.dataset as dataset_module
from movingfashion.dataset import MovingFashionDataset

#: the names ``movingfashion.dataset`` defined before it was split (its public API)
API = [
    "CACHE_DECODE_CHUNK",
    "CACHE_METAS",
    "EMPTY_TRACKLET_HINT",
    "IS_FOLDER",
    "ITEM_DTYPES",
    "LARGE_FRAME_PIXELS",
    "SHOP_CACHE_SIZE",
    "BrokenVideo",
    "MovingFashionDataset",
    "ProductRecord",
    "RicherVideo",
    "Size",
    "VideoRecord",
    "array_problem",
    "build_crop_cache",
    "cache_entry",
    "clip_dataset_repr",
    "clip_tensor",
    "crop_window",
    "describe_skips",
    "entry_problem",
    "entry_product",
    "integer_index",
    "log",
    "other_split_files",
    "parse_classes",
    "read_richer_file",
    "skipped_lines",
]


def test_the_api_is_imported_from_the_dataset_module():
    assert [n for n in API if not hasattr(dataset_module, n)] == []
    assert sorted(dataset_module.__all__) == sorted(API)


def test_quieting_the_dataset_logger_quiets_its_parts(tiny_dataset, tmp_path, caplog):
    """A broken tracklet file (read by ``richer_files``) and a crop cache without the split's
    entries (checked by ``crop_cache``) warn under ``movingfashion.dataset``: raising that logger's
    level (what ``mf train`` does while it checks the split) silences both, as before the split."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "tracklets" / "101_0.json").write_text("{")
    cache = tmp_path / "cc"
    cache.mkdir()  # built for none of the videos
    kw = {"frames": 4, "crop_size": 32, "seed": 0}
    with caplog.at_level(logging.WARNING):
        MovingFashionDataset(root, "train", crop_cache=cache, **kw)
    said = {
        (r.name, "VideoTracklets" in r.getMessage(), "crop cache" in r.getMessage()) for r in caplog.records
    }
    assert said == {("movingfashion.dataset", True, False), ("movingfashion.dataset", False, True)}
    caplog.clear()
    level = dataset_module.log.level
    dataset_module.log.setLevel(logging.ERROR)
    try:
        with caplog.at_level(logging.WARNING):
            MovingFashionDataset(root, "train", crop_cache=cache, **kw)
    finally:
        dataset_module.log.setLevel(level)
    assert not caplog.records
