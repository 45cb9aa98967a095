"""Fixtures shared by the tracklet tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from movingfashion.archive.describe import refresh
from schemas.dataset import VideoTracklets
from tests.annotations.review.review_dataset import make_review_dataset


@pytest.fixture
def published(gt_dataset, tmp_path) -> tuple[Path, dict]:
    """The review dataset (its catalog beside it), described again so it verifies clean before
    each test; returns the folder and what :func:`make_review_dataset` knows of it."""
    ds = tmp_path / "dataset"
    facts = make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")
    refresh(ds)
    return ds, facts


@pytest.fixture
def full_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the full validations of a tracklet file (every tracklet, box and score)."""
    calls: list[int] = []
    original = VideoTracklets.model_validate_json

    def counting(cls: type[VideoTracklets], data: str | bytes, **kw: object) -> VideoTracklets:
        calls.append(1)
        return original(data, **kw)

    monkeypatch.setattr(VideoTracklets, "model_validate_json", classmethod(counting))
    return calls
