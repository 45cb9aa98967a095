"""Fuzzed crop-cache metas and training-copy indexes (files the toolkit writes, damaged on disk
or by hand): an entry that does not read is passed over with a warning and its video decoded
live, or reported by the checks; never an OverflowError (``Infinity`` as a frame, an offset past
int64, a frame past int32) or a RecursionError (JSON nested too deeply) out of the loader."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from movingfashion.crop_cache_build import _cache_built
from movingfashion.dataset import MovingFashionDataset, build_crop_cache
from movingfashion.training_copy import TrainingCopy, build_training_copy, copy_entry
from schemas.errors import ConfigError
from tests.fuzz_json import damage, encode, mutate, randoms

KW = {"seed": 3, "crop_size": 32, "frames": 6, "dtype": torch.uint8}
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DEEP = "[" * 100_000


@pytest.fixture(scope="module")
def built(tiny_dataset, tmp_path_factory):
    """A crop cache of frames (a pool of 4 a video) and a training copy of the tiny dataset."""
    root = tmp_path_factory.mktemp("fuzz_cache")
    frame = MovingFashionDataset(tiny_dataset, "train", crop="frame", frame_size=40, **KW)
    assert build_crop_cache(frame, root / "cc", pool=4)["failed"] == 0
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    assert build_training_copy(live, root / "copy")["failed"] == 0
    return root


@pytest.fixture
def cache(built, tiny_dataset, tmp_path):
    """(dataset on its own copy of the crop cache, its first video, that video's meta file)."""
    shutil.copytree(built / "cc", tmp_path / "cc")
    ds = MovingFashionDataset(
        tiny_dataset, "train", crop="frame", frame_size=40, crop_cache=tmp_path / "cc", **KW
    )
    video = ds.products[0].videos[0]
    return ds, video, ds._cache_files(video)[1]


@pytest.fixture
def copy(built, tiny_dataset, tmp_path):
    """(dataset, its first video, that video's training-copy index, the copy's folder)."""
    shutil.copytree(built / "copy", tmp_path / "copy")
    ds = MovingFashionDataset(tiny_dataset, "train", **KW)
    video = ds.products[0].videos[0]
    return ds, video, copy_entry(tmp_path / "copy", video.rel_path, None)[1], tmp_path / "copy"


_BASES: dict[str, dict] = {}


def _base(path) -> dict:
    """The file as the toolkit wrote it (read once: each example overwrites it)."""
    if str(path) not in _BASES:
        _BASES[str(path)] = json.loads(path.read_text())
    return _BASES[str(path)]


def _edit(path, field, value) -> str:
    doc = json.loads(path.read_text())
    doc[field] = value
    return json.dumps(doc)


@pytest.mark.parametrize(
    "text",
    [
        lambda p: _edit(p, "frames", [0, float("inf")]),  # was: OverflowError (int(Infinity))
        lambda p: _edit(p, "orig_size", [float("inf"), 40]),  # was: OverflowError
        lambda p: _edit(
            p, "frames", [*json.loads(p.read_text())["frames"][:-1], 2**40]
        ),  # was: OverflowError (int32)
        lambda p: DEEP,  # was: RecursionError
    ],
    ids=["inf-frame", "inf-size", "frame-past-int32", "deep"],
)
def test_a_damaged_crop_cache_meta_decodes_live_with_a_warning(cache, caplog, text):
    ds, video, meta = cache
    meta.write_text(text(meta))
    arr = ds._cache_files(video)[0]
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        assert ds._cached(video) is None
    assert str(meta) in caplog.text
    assert _cache_built(arr, meta, video, ds.cache_params(), 4) is False  # mf crop-cache builds it again


@pytest.mark.parametrize(
    "text",
    [
        lambda p: _edit(p, "frames", [0, float("inf")]),  # was: OverflowError (int(Infinity))
        lambda p: _edit(p, "offsets", [0, 2**64]),  # was: OverflowError (past int64)
        lambda p: _edit(p, "orig_size", [float("inf"), 40]),  # was: OverflowError
        lambda p: DEEP,  # was: RecursionError
    ],
    ids=["inf-frame", "offset-past-int64", "inf-size", "deep"],
)
def test_a_damaged_training_copy_index_is_passed_over_by_name(copy, caplog, text):
    ds, video, index, folder = copy
    index.write_text(text(index))
    tc = TrainingCopy(folder, ds.cache_params())
    with caplog.at_level(logging.WARNING):
        assert tc.entry(video) is None
    assert f"unreadable index {index.name}" in caplog.text


@settings(FUZZ)
@given(rng=randoms)
def test_a_mutated_crop_cache_meta_is_used_or_passed_over(cache, rng):
    ds, video, meta = cache
    data = encode(mutate(rng, _base(meta)))
    meta.write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    ds._cache_meta.clear()
    ds._cache_unused.clear()
    try:
        ds._cached(video)
    except ConfigError as exc:  # its params are not the dataset's: rebuild it, says the error
        assert str(meta) in str(exc)
    _cache_built(ds._cache_files(video)[0], meta, video, ds.cache_params(), 4)


@settings(FUZZ)
@given(rng=randoms)
def test_a_mutated_training_copy_index_is_used_or_passed_over(copy, rng):
    ds, video, index, folder = copy
    data = encode(mutate(rng, _base(index)))
    index.write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    for use in (lambda tc: tc.check([(video, None)]), lambda tc: tc.entry(video)):
        try:
            use(TrainingCopy(folder, ds.cache_params()))
        except ConfigError as exc:  # its params are not the dataset's: rebuild it, says the error
            assert str(index) in str(exc)
