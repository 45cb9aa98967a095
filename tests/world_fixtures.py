"""Session-scoped synthetic worlds shared by every test package (see movingfashion.world).

``small_world`` is generated once per pytest session (about 7 s on one core); under
pytest-xdist the workers of one run share each world (the first to need it renders it in the
run's temporary folder, the others wait for it and reuse it). Set ``MF_WORLD_CACHE=<dir>`` to
reuse the worlds between runs: a world is rebuilt only when its parameters or the generator
version change. Tests only read these worlds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from movingfashion.world.truth import WorldTruth

#: Parameters of the shared small world (covers all 13 classes, non-clothing, each duplicate
#: kind, both split-screen layouts, a wrong shop association and a product without video).
SMALL_WORLD = {"products": 24, "seed": 0, "quick": True}


@contextlib.contextmanager
def _locked(folder: Path, name: str):
    """Holds the lock of world ``name`` in ``folder`` (other worlds build meanwhile)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(tmp_path_factory: pytest.TempPathFactory, name: str, builder) -> Path:
    """Builds world ``name`` with ``builder(target)`` once: per session, per xdist run (in the
    run's temporary folder, shared by its workers) or per ``MF_WORLD_CACHE``; ``builder`` reuses
    a target that already holds the same world (``generate_world`` does)."""
    cache = os.environ.get("MF_WORLD_CACHE")
    if cache or os.environ.get("PYTEST_XDIST_WORKER"):
        from movingfashion.world.config import GENERATOR_VERSION

        # a worker's temporary folder is <run's folder>/<worker>: the parent is the run's
        root = Path(cache) if cache else tmp_path_factory.getbasetemp().parent / "worlds"
        target = root / f"{name}-v{GENERATOR_VERSION}"
        with _locked(root, target.name):
            builder(target)
        return target
    target = tmp_path_factory.mktemp(name)
    builder(target)
    return target


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a small synthetic world folder (world.json, media/, gt/, df2/)."""
    from movingfashion.world.generate import generate_world

    def build(target: Path) -> None:
        generate_world(
            target, SMALL_WORLD["products"], SMALL_WORLD["seed"], quick=SMALL_WORLD["quick"], workers=1
        )

    name = "world-{products}-{seed}-{quick}".format(**SMALL_WORLD)
    return _build(tmp_path_factory, name, build)


#: Parameters of the re-post world: every RepostVariant kind planted twice, six retakes (hard
#: negatives); a seed no other test, default or benchmark uses.
REPOST_WORLD = {"products": 20, "seed": 47, "quick": True, "repost_variants": 2, "retakes": 6}


@pytest.fixture(scope="session")
def repost_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a small world with re-post variants and retakes planted (about 30 s on one core)."""
    from movingfashion.world.config import WorldConfig
    from movingfashion.world.generate import generate_world

    p = REPOST_WORLD
    cfg = WorldConfig(repost_variants=p["repost_variants"], retakes=p["retakes"])

    def build(target: Path) -> None:
        generate_world(target, p["products"], p["seed"], quick=p["quick"], config=cfg, workers=1)

    return _build(
        tmp_path_factory, "reposts-{products}-{seed}-{repost_variants}-{retakes}".format(**p), build
    )


@pytest.fixture(scope="session")
def world_truth(small_world: Path):
    """The ``movingfashion.world.truth.WorldTruth`` of ``small_world``."""
    from movingfashion.world.truth import load_world

    return load_world(small_world)


@dataclass
class CleanedWorld:
    world: Path
    truth: WorldTruth
    catalog_path: Path
    root: Path
    report: dict[str, Any]


def clean_seeded_world(world: Path, truth: WorldTruth, work: Path) -> CleanedWorld:
    """``world`` seeded into a catalog in ``work`` as a collector would have stored it, after one
    `mf clean` and splits."""
    from cleaning.pipeline import clean
    from cleaning.splits import rebuild_splits
    from movingfashion.world.seed import seed_catalog_from_world
    from schemas.catalog import Catalog

    cat_path, root = work / "catalog.sqlite", work / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(world, cat, root, truth)
        report = clean(cat, root)
        rebuild_splits(cat)
    return CleanedWorld(world, truth, cat_path, root, report)


def _shared_clean(
    tmp_path_factory: pytest.TempPathFactory, name: str, world: Path, truth: WorldTruth
) -> CleanedWorld:
    """:func:`clean_seeded_world` of ``world`` once per xdist run: the first worker to need it
    cleans it in the run's temporary folder (its report pickled beside it), and every worker
    works on its own copy (tests write to the catalog and the collected files: a publish records
    its release in the catalog, a test recovers a file), made with the files' modification times,
    so the copy's result cache still vouches for every file. Without xdist: cleaned in place."""
    import pickle

    own = tmp_path_factory.mktemp(name)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return clean_seeded_world(world, truth, own)
    root = tmp_path_factory.getbasetemp().parent / "worlds"  # the run's, not MF_WORLD_CACHE's
    shared = root / name
    with _locked(root, name):
        if not (shared / "report.pickle").is_file():  # none yet, or a worker died building it
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            built = clean_seeded_world(world, truth, shared)
            (shared / "report.pickle.part").write_bytes(pickle.dumps(built.report))
            (shared / "report.pickle.part").rename(shared / "report.pickle")
    work = own / "w"
    shutil.copytree(shared, work, symlinks=True)
    report = pickle.loads((work / "report.pickle").read_bytes())
    return CleanedWorld(world, truth, work / "catalog.sqlite", work / "collected", report)


@pytest.fixture(scope="session")
def cleaned_world(small_world: Path, world_truth: WorldTruth, tmp_path_factory) -> CleanedWorld:
    """The small world as a collector would have stored it, after one `mf clean` and splits
    (cleaned once per xdist run; each worker has its own copy to write to)."""
    return _shared_clean(tmp_path_factory, "cleaned", small_world, world_truth)


def copy_cleaning_cache(cleaned: CleanedWorld, catalog: Path) -> Path:
    """Copies the cleaning result cache of ``cleaned`` beside ``catalog`` (results by file SHA-256,
    see ``cleaning.steps.cache``): a `mf clean` of a catalog seeded from the same world then makes
    the same decisions as a first run, without decoding and scoring every file again. ``catalog``
    need not exist yet; it has the name of ``cleaned``'s (so the cache's name is the same)."""
    from cleaning.steps.cache import cache_path
    from schemas.catalog import Catalog

    assert catalog.name == cleaned.catalog_path.name, catalog
    with Catalog(cleaned.catalog_path) as src:
        cache = cache_path(src)
    return Path(shutil.copyfile(cache, catalog.with_name(cache.name)))


@pytest.fixture(scope="session")
def gt_dataset(small_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An official-format dataset exported from the small world's ground truth."""
    from movingfashion.world.gt_dataset import export_gt_dataset

    out = tmp_path_factory.mktemp("gt-dataset")
    return export_gt_dataset(small_world, out, seed=0)


@pytest.fixture(scope="session")
def world_server(small_world: Path):
    """A running ``WorldServer`` over ``small_world`` (no faults); ``.base_url`` is its address."""
    from movingfashion.world.server import WorldServer

    server = WorldServer(small_world).start()
    try:
        yield server
    finally:
        server.stop()


#: Parameters of the noisy world: the "hard" preset (tracklet noise of real footage on 35% of each
#: clip's frames, recorded per frame); a seed no other test, default or benchmark uses.
NOISY_WORLD = {"products": 36, "seed": 61, "quick": True, "preset": "hard"}


@pytest.fixture(scope="session")
def noisy_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a small world made with ``--preset hard`` (about 20 s on 2 idle cores)."""
    from movingfashion.world.config import preset_config
    from movingfashion.world.generate import generate_world

    p = NOISY_WORLD

    def build(target: Path) -> None:
        generate_world(target, p["products"], p["seed"], quick=p["quick"], config=preset_config(p["preset"]))

    return _build(tmp_path_factory, "noisy-{products}-{seed}-{preset}".format(**p), build)


@pytest.fixture(scope="session")
def noisy_dataset(noisy_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The noisy world's dataset as the training tracking procedure would publish it: the tracker's
    boxes (corrupted frames included) as tracklets, 30% of the products in the test split."""
    from movingfashion.world.gt_dataset import export_gt_dataset

    out = tmp_path_factory.mktemp("noisy-dataset")
    return export_gt_dataset(noisy_world, out, seed=0, tracklets="tracked", test_fraction=0.3)


def other_world(world: Path, out: Path) -> Path:
    """A copy of ``world``'s world.json in ``out`` that knows none of its items: every product
    and video id renamed (an ``x`` added)."""
    import json

    data = json.loads((world / "world.json").read_text())
    for p in data["products"]:
        p["product_id"] += "x"
        p["videos"] = [v + "x" for v in p["videos"]]
    for v in data["videos"]:
        v["video_id"] += "x"
        v["product_id"] += "x"
        v["duplicate_of"] = v["duplicate_of"] and v["duplicate_of"] + "x"
    out.mkdir()
    (out / "world.json").write_text(json.dumps(data))
    return out
