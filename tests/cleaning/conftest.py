"""Fixtures of the cleaning tests: copies of the cleaned small world (``cleaned_world``, shared
with other packages, is in tests/world_fixtures.py), the re-post world cleaned once, and the
dedup world tests' steps (``dedup_world``, ``world_dedup``)."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.world_fixtures import CleanedWorld, _build, _locked, clean_seeded_world, copy_cleaning_cache


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


#: The dedup world tests' worlds by name: (products, seed, re-post knobs), all quick. One world
#: holds every re-post knob: the tests of each kind (fills, one bar, rotated, mirrored and turned,
#: reframed) and the test of all kinds together check it against its truth (was one world per
#: kind's test, 5 worlds generated and fingerprinted per run: about 60 s of the suite). A knob
#: changes the random draws of the knobs after it, so this world holds other re-posts than a world
#: with one kind's knob (seed 47: two re-posts were weak here, see test_dedup_mixed.py). Seed 53
#: is a seed not tuned on (its short trim re-post, missed until alignments of equal hash score were
#: ranked by their frames' distance, was found by running it, not by tuning on it); 47 passes too.
DEDUP_WORLDS: dict[str, tuple[int, int, dict[str, int]]] = {
    "mixed": (
        20,
        53,
        {
            "filled_reposts": 2,
            "one_bar_reposts": 3,
            "rotated_reposts": 1,
            "mirrored_rotated_reposts": 1,
            "reframed_reposts": 1,
            "retakes": 2,
        },
    ),
}


@pytest.fixture(scope="session")
def dedup_world(tmp_path_factory: pytest.TempPathFactory):
    """``dedup_world(name) -> Path``: world ``name`` of :data:`DEDUP_WORLDS`, generated once per
    run (under pytest-xdist, once for both workers; its tests all ask for the same world)."""
    from movingfashion.world.config import WorldConfig
    from movingfashion.world.generate import generate_world

    built: dict[str, Path] = {}  # without xdist, _build makes a new folder at each call

    def world(name: str) -> Path:
        if name in built:
            return built[name]
        products, seed, knobs = DEDUP_WORLDS[name]

        def build(target: Path) -> None:
            generate_world(target, products, seed, quick=True, config=WorldConfig(**knobs), workers=1)

        tag = "-".join(f"{k.split('_')[0]}{v}" for k, v in knobs.items())
        built[name] = _build(tmp_path_factory, f"dedup-{name}-{products}-{seed}-{tag}", build)
        return built[name]

    return world


class WorldDedup:
    """A world's truth, its videos fingerprinted with one dedup config (``records``), and, each
    computed when first asked for: what ``find_video_duplicates`` makes of them with that config
    (``result``), its per-kind scores (``scores``) and the exhaustive ``video_pair_evidence``
    (``evidence``, for ``score_margin``)."""

    def __init__(self, truth: Any, records: list, cfg: Any, shared: Any) -> None:
        self.truth, self.records, self._cfg, self._shared = truth, records, cfg, shared

    @functools.cached_property
    def result(self) -> Any:
        from cleaning.dedup import find_video_duplicates

        return self._shared("result", lambda: find_video_duplicates(self.records, self._cfg))

    @functools.cached_property
    def scores(self) -> dict[str, dict[str, Any]]:
        from movingfashion.world.dedup_eval import kind_scores

        return kind_scores(self.truth, self.result)

    @functools.cached_property
    def evidence(self) -> list:
        from cleaning.dedup import video_pair_evidence

        return self._shared("evidence", lambda: video_pair_evidence(self.records, self._cfg, exhaustive=True))


@pytest.fixture(scope="session")
def world_dedup(tmp_path_factory: pytest.TempPathFactory):
    """``world_dedup(world, cfg=None) -> WorldDedup``: the steps every dedup world test takes
    (``load_world`` -> ``world_records`` -> ``find_video_duplicates`` -> ``kind_scores``, and the
    exhaustive evidence of ``score_margin``), each done once per (world, config) and run, and only
    when a test asks for it: under pytest-xdist the first worker to need records, result or
    evidence stores them in the run's temporary folder (never between runs: a changed fingerprint
    is fingerprinted again) and the other reads them."""
    from cleaning.config import DedupConfig
    from movingfashion.world.dedup_eval import world_records
    from movingfashion.world.truth import load_world

    done: dict[tuple[str, str], WorldDedup] = {}
    shared_dir = (
        tmp_path_factory.getbasetemp().parent / "dedup-records"
        if os.environ.get("PYTEST_XDIST_WORKER")
        else None
    )

    def sharing(world: Path, cfg: DedupConfig):
        """``shared(what, compute)``: ``compute()``, or what another worker stored of it."""
        stem = hashlib.sha256(f"{world.resolve()}\n{cfg.model_dump_json()}".encode()).hexdigest()[:16]

        def shared(what: str, compute):
            if shared_dir is None:
                return compute()
            key = f"{stem}-{what}"
            path = shared_dir / f"{key}.pickle"
            with _locked(shared_dir, key):
                if path.is_file():
                    return pickle.loads(path.read_bytes())
                got = compute()
                tmp = path.with_suffix(".part")
                tmp.write_bytes(pickle.dumps(got))
                tmp.replace(path)
                return got

        return shared

    def run(world: Path, cfg: DedupConfig | None = None) -> WorldDedup:
        cfg = cfg or DedupConfig()
        key = (str(Path(world).resolve()), cfg.model_dump_json())
        if key not in done:
            truth = load_world(world)
            shared = sharing(Path(world), cfg)
            recs = shared("records", lambda: world_records(Path(world), truth, cfg))
            done[key] = WorldDedup(truth, recs, cfg, shared)
        return done[key]

    return run
