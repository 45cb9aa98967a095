"""Acceptance: on an unseen world with planted wrong pairs of every kind (a wrong shop image, a
carousel holding other items' product shots, a split-screen still half showing another item),
`mf clean` flags them with precision and recall >= 0.9, with the embedded matcher by default and
with `--matcher`; `--no-association` makes `mf stats --truth` say the check did not run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleaning.cli import clean as clean_cmd
from movingfashion.app.stats import stats as stats_cmd
from movingfashion.world.config import WorldConfig
from schemas.catalog import Catalog
from schemas.items import Status

#: products, seed: a world no test, default, benchmark or weights build uses
UNSEEN = (30, 91919)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(world, catalog, root): the unseen world seeded into a fresh catalog (not cleaned yet).
    Beside the catalog: the result cache of one `mf clean --no-association` of a copy, so that
    each test's clean decodes and fingerprints nothing again and scores the associations alone
    (the cache holds no association score: each test's first clean computes them all)."""
    from movingfashion.world.generate import generate_world
    from movingfashion.world.seed import seed_catalog_from_world

    work = tmp_path_factory.mktemp("assoc")
    cfg = WorldConfig(wrong_shop_fraction=0.05, wrong_carousels=2, wrong_split_screens=2)
    truth = generate_world(work / "world", *UNSEEN, quick=True, config=cfg, workers=1)
    kinds = sorted({p.wrong_shop_kind for p in truth.products if p.wrong_shop})
    assert kinds == ["carousel", "shop", "split_screen"]
    with Catalog(work / "catalog.sqlite") as cat:
        seed_catalog_from_world(work / "world", cat, work / "root", truth)
    warm = work / "warm" / "catalog.sqlite"
    warm.parent.mkdir()
    shutil.copyfile(work / "catalog.sqlite", warm)
    res = CliRunner().invoke(
        clean_cmd, ["--catalog", str(warm), "--root", str(work / "root"), "--no-association", "--json"]
    )
    assert res.exit_code == 0, res.output
    shutil.copyfile(warm.with_name(CACHE), work / CACHE)
    return work / "world", work / "catalog.sqlite", work / "root"


#: the result cache's name beside a catalog named catalog.sqlite (cleaning.steps.cache.cache_path)
CACHE = "catalog.cleaning-cache.json"


def _fresh(planted, tmp_path) -> Path:
    """A copy of the planted catalog, with the cache of the decode and dedup results beside it."""
    world, cat_path, root = planted
    dst = tmp_path / "catalog.sqlite"
    shutil.copyfile(cat_path, dst)
    shutil.copyfile(cat_path.with_name(CACHE), dst.with_name(CACHE))
    return dst


def _stats(cat_path: Path, root: Path, world: Path) -> dict:
    res = CliRunner().invoke(
        stats_cmd, ["--catalog", str(cat_path), "--root", str(root), "--world", str(world), "--json"]
    )
    assert res.exit_code == 0, res.output
    return json.loads(res.output)["truth"]["wrong_association"]


@pytest.mark.slow
@pytest.mark.parametrize("with_matcher", [False, True], ids=["embedded-default", "--matcher"])
def test_planted_wrong_pairs_are_flagged(planted, tmp_path, with_matcher, capsys):
    from movingfashion.models import default_matcher_path

    world, _, root = planted
    cat_path = _fresh(planted, tmp_path)
    args = ["--catalog", str(cat_path), "--root", str(root), "--json"]
    if with_matcher:
        args += ["--matcher", str(default_matcher_path())]
    res = CliRunner().invoke(clean_cmd, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["steps"]["associations"] == "done"
    assert report["association_cached"] == 0 < report["association_pairs"]  # scored in this run
    a = _stats(cat_path, root, world)
    with capsys.disabled():
        print(f"\n[association {'--matcher' if with_matcher else 'default'}] {a}")
    assert a["status"] == "run" and a["actual"] >= 4
    assert set(a["recall_by_kind"]) == {"shop", "carousel", "split_screen"}
    assert a["precision"] >= 0.9 and a["recall"] >= 0.9, a
    with Catalog(cat_path) as cat:
        for r in cat.items():
            if (r.reason or "").startswith("association:"):
                assert r.status == Status.NEEDS_REVIEW and ("score" in r.reason or " vs " in r.reason)
        # a rerun scores nothing again: every pair comes from the cache
    res = CliRunner().invoke(clean_cmd, args)
    assert res.exit_code == 0, res.output
    again = json.loads(res.output)
    assert again["association_cached"] == again["association_pairs"] > 0


@pytest.mark.slow
def test_switched_off_check_is_reported_as_not_run(planted, tmp_path):
    world, _, root = planted
    cat_path = _fresh(planted, tmp_path)
    args = ["--catalog", str(cat_path), "--root", str(root), "--no-association", "--json"]
    res = CliRunner().invoke(clean_cmd, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["steps"]["associations"].startswith("skipped: switched off")
    a = _stats(cat_path, root, world)
    assert a["status"] == "not run" and a["actual"] >= 4
    bad = CliRunner().invoke(clean_cmd, [*args, "--matcher", __file__])
    assert bad.exit_code == 2 and "--no-association" in bad.output
