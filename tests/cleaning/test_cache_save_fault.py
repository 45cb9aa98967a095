"""A full disk that stops ``mf clean`` in a step stops the result cache's save at the end too:
that second error took the first one's place, so the run named the cache file, not the file the
disk first refused. The first error is raised; the cache's own failure is a warning."""

from __future__ import annotations

import logging

import pytest

from cleaning import pipeline
from cleaning.config import CleaningConfig
from cleaning.steps import cache as cache_module
from cleaning.steps.base import Step
from schemas.catalog import Catalog
from schemas.errors import LocalFault


def test_the_file_that_first_failed_is_named_not_the_cache(tmp_path, monkeypatch, caplog):
    first = tmp_path / "root" / "recovered.jpg"

    class FillsTheDisk(Step):
        name = "fills_the_disk"

        def run(self, state, ctx):
            ctx.cache.put("ab" * 32, "probe", {"ok": True})  # a result the final save writes
            raise LocalFault("disk_full", str(first), "No space left on device")

    def save_on_a_full_disk(path, *args, **kw):
        raise LocalFault("disk_full", str(path), "No space left on device")

    monkeypatch.setattr(pipeline, "check_steps", lambda cfg: [FillsTheDisk])
    monkeypatch.setattr(cache_module, "atomic_write_json", save_on_a_full_disk)
    (tmp_path / "root").mkdir()
    with (
        Catalog(tmp_path / "c.sqlite") as cat,
        caplog.at_level(logging.WARNING),
        pytest.raises(LocalFault) as exc,
    ):
        pipeline.clean(cat, tmp_path / "root", CleaningConfig(), executor=object())
    assert exc.value.where == str(first)
    assert "cleaning-cache.json" in caplog.text  # the cache's failure is not lost either
