"""Fixtures shared by the tracklet tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from movingfashion.archive.describe import refresh
from tests.annotations.review.review_dataset import make_review_dataset


@pytest.fixture
def published(gt_dataset, tmp_path) -> tuple[Path, dict]:
    """The review dataset (its catalog beside it), described again so it verifies clean before
    each test; returns the folder and what :func:`make_review_dataset` knows of it."""
    ds = tmp_path / "dataset"
    facts = make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")
    refresh(ds)
    return ds, facts
