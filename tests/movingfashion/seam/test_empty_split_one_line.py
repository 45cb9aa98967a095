"""``mf evaluate`` on a dataset whose test split lists no product printed two stderr lines: the
dataset's warning ("the dataset is empty ... indexing it raises IndexError"), then the error.
Now the one error, naming the split file and what to do."""

from __future__ import annotations

import logging
import shutil

import pytest

from movingfashion.seam.features import build_bank
from schemas.errors import DataFormatError
from tests.movingfashion.seam.test_features import _tiny_encoder


@pytest.mark.parametrize("cached", [False, True])
def test_an_empty_split_is_one_error_naming_the_file(tiny_dataset, tmp_path, caplog, cached):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "test.json").write_text("{}")
    cache = tmp_path / "features" if cached else None
    with caplog.at_level(logging.WARNING), pytest.raises(DataFormatError) as exc:
        build_bank(root, "test", _tiny_encoder(), crop_size=32, pool=4, cache_dir=cache)
    assert exc.value.where == str(root / "test.json") and "lists no product" in str(exc.value)
    assert "mf publish" in exc.value.hint
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
