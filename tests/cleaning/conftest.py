"""Fixtures of the cleaning tests: copies of the cleaned small world (``cleaned_world``, shared
with other packages, is in tests/world_fixtures.py) and the re-post world cleaned once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.world_fixtures import CleanedWorld, copy_cleaning_cache


@pytest.fixture()
def catalog_copy(cleaned_world: CleanedWorld, tmp_path: Path) -> Path:
    """A copy of the cleaned catalog (and its result cache) to change in one test."""
    from schemas.catalog import Catalog

    dst = tmp_path / "catalog.sqlite"
    with Catalog(cleaned_world.catalog_path) as cat:
        cat._db.execute(f"VACUUM INTO '{dst}'")
    copy_cleaning_cache(cleaned_world, dst)
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
