"""A crop-cache entry's meta is a JSON file a user can edit: its warnings and errors echoed a
field's whole value (``it holds video '...'``, ``crop cache built with {...}``), megabytes on
stderr for a hand-edited meta. They now quote values cut short (``schemas.errors.short_repr``)."""

from __future__ import annotations

import json
import logging
import types

import pytest

from movingfashion.dataset import MovingFashionDataset, cache_entry, entry_problem
from movingfashion.training_copy import stale_problem
from schemas.errors import ConfigError

HUGE = "x" * 100_000


def _dataset_with_meta(tiny_dataset, tmp_path, meta_of):
    (tmp_path / "cc").mkdir()
    ds = MovingFashionDataset(tiny_dataset, "train", crop_size=32, frames=4, crop_cache=tmp_path / "cc")
    video = ds.products[0].videos[0]
    meta = cache_entry(tmp_path / "cc", video.rel_path)[1]
    meta.write_text(json.dumps(meta_of(ds)))
    return ds, video


def test_a_long_video_field_is_cut_short_in_the_warning(tiny_dataset, tmp_path, caplog):
    ds, video = _dataset_with_meta(
        tiny_dataset, tmp_path, lambda ds: {"params": ds.cache_params(), "video": HUGE}
    )
    with caplog.at_level(logging.WARNING):
        assert ds._read_cached(video) is None
    [warning] = [r.getMessage() for r in caplog.records if "crop cache entry not used" in r.getMessage()]
    assert "it holds video 'xxx" in warning and len(warning) < 600, len(warning)


def test_long_params_are_cut_short_in_the_error(tiny_dataset, tmp_path):
    ds, video = _dataset_with_meta(tiny_dataset, tmp_path, lambda ds: {"params": {"crop": HUGE}})
    with pytest.raises(ConfigError, match="crop cache built with") as exc:
        ds._read_cached(video)
    assert len(str(exc.value)) < 600, len(str(exc.value))


def test_the_training_copy_check_quotes_a_long_video_cut_short():
    video = types.SimpleNamespace(rel_path="videos/1_0.mp4", product_id="1")
    assert len(stale_problem({"video": HUGE}, video) or "") < 200
    assert len(entry_problem({"video": HUGE}, video) or "") < 200
