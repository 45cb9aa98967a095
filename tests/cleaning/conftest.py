"""Fixtures of the cleaning tests: the shared small world, seeded into a catalog and cleaned once."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from movingfashion.world.truth import WorldTruth


@dataclass
class CleanedWorld:
    world: Path
    truth: WorldTruth
    catalog_path: Path
    root: Path
    report: dict[str, Any]


@pytest.fixture(scope="session")
def cleaned_world(small_world: Path, world_truth: WorldTruth, tmp_path_factory) -> CleanedWorld:
    """The small world as a collector would have stored it, after one `mf clean` and splits."""
    from cleaning.pipeline import clean
    from cleaning.splits import rebuild_splits
    from movingfashion.world.seed import seed_catalog_from_world
    from schemas.catalog import Catalog

    work = tmp_path_factory.mktemp("cleaned")
    cat_path, root = work / "catalog.sqlite", work / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(small_world, cat, root, world_truth)
        report = clean(cat, root)
        rebuild_splits(cat)
    return CleanedWorld(small_world, world_truth, cat_path, root, report)


@pytest.fixture()
def catalog_copy(cleaned_world: CleanedWorld, tmp_path: Path) -> Path:
    """A copy of the cleaned catalog (and its result cache) to change in one test."""
    from schemas.catalog import Catalog

    dst = tmp_path / "catalog.sqlite"
    with Catalog(cleaned_world.catalog_path) as cat:
        cat._db.execute(f"VACUUM INTO '{dst}'")
    shutil.copyfile(
        cleaned_world.catalog_path.with_name("catalog.cleaning-cache.json"),
        tmp_path / "catalog.cleaning-cache.json",
    )
    return dst


@pytest.fixture(scope="session")
def cleaned_repost_world(repost_world: Path, tmp_path_factory) -> CleanedWorld:
    """The re-post world (re-posts and retakes planted) seeded into a catalog and cleaned once:
    retakes carry their original's shop image, so publish makes products with several videos."""
    from cleaning.pipeline import clean
    from cleaning.splits import rebuild_splits
    from movingfashion.world.seed import seed_catalog_from_world
    from movingfashion.world.truth import load_world
    from schemas.catalog import Catalog

    truth = load_world(repost_world)
    work = tmp_path_factory.mktemp("cleaned-reposts")
    cat_path, root = work / "catalog.sqlite", work / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(repost_world, cat, root, truth)
        report = clean(cat, root)
        rebuild_splits(cat)
    return CleanedWorld(repost_world, truth, cat_path, root, report)
