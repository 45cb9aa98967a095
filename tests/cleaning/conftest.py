"""Fixtures of the cleaning tests: copies of the cleaned small world (``cleaned_world``, shared
with other packages, is in tests/world_fixtures.py) and the re-post world cleaned once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.world_fixtures import CleanedWorld, clean_seeded_world, copy_cleaning_cache


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
    from movingfashion.world.truth import load_world

    return clean_seeded_world(
        repost_world, load_world(repost_world), tmp_path_factory.mktemp("cleaned-reposts")
    )


@pytest.fixture()
def root_copy(cleaned_world, tmp_path) -> Path:
    """A copy of the cleaned small world's collected files, for a test that changes them."""
    dst = tmp_path / "collected"
    shutil.copytree(cleaned_world.root, dst)
    return dst
