"""``mf clean`` on Ray: association scores as computed locally (a pair that kills its worker fails
its item only), and a driver killed mid-run that resumes from what it recorded. (The full equivalence of a Ray clean with a local one, catalog rows,
cache, files and published dataset, is checked on the two-node cluster: tests/cleaning/test_cluster.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cleaning.associations import _pairs, check_associations, run_association_check
from cleaning.pipeline import clean
from cleaning.splits import rebuild_splits
from movingfashion.executors import make_executor
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from tests.ray_fixtures import catalog_rows


class LengthScorer:
    """A picklable stand-in matcher: scores a pair from its file sizes (deterministic, cheap)."""

    def score(self, video_path: str, shop_path: str) -> float:
        from pathlib import Path

        return (Path(video_path).stat().st_size + 7 * Path(shop_path).stat().st_size) % 1000 / 1000


class PoisonScorer(LengthScorer):
    """Scoring one video kills the worker process (a decoder segfault, an out-of-memory kill)."""

    def __init__(self, victim: str) -> None:
        self.victim = victim

    def score(self, video_path: str, shop_path: str) -> float:
        if os.path.abspath(video_path) == self.victim:
            os._exit(1)
        return super().score(video_path, shop_path)


def test_a_pair_that_kills_its_worker_fails_its_item_and_the_others_are_scored(
    ray_session, catalog_copy, cleaned_world, tmp_path
):
    from cleaning.config import CleaningConfig
    from cleaning.steps.associations import AssociationsStep
    from cleaning.steps.base import StepContext
    from cleaning.steps.cache import ResultCache, cache_path
    from cleaning.steps.state import CleaningState, item_key
    from movingfashion.executors.ray_backend import RayExecutor

    other = tmp_path / "other.sqlite"
    with Catalog(catalog_copy) as cat:
        cat._db.execute(f"VACUUM INTO '{other}'")
        victim = next(p for p in _pairs(cat, cleaned_world.root, False) if p.accepted)
        local = run_association_check(cat, cleaned_world.root, LengthScorer(), 0.5)
    key = (victim.source, victim.source_id)
    scorer = PoisonScorer(os.path.abspath(victim.video))
    with Catalog(other) as cat, RayExecutor(workers=1, max_retries=0) as ex:
        before = cat.get_item(*key)
        res = run_association_check(cat, cleaned_world.root, scorer, 0.5, executor=ex)
        assert [(f.source, f.source_id, f.video, f.shop) for f in res.failed] == [
            (*key, str(victim.video), str(victim.shop))
        ]
        assert victim.video.name in res.failed[0].error and victim.shop.name in res.failed[0].error
        assert "lost its worker" in res.failed[0].error
        assert res.scores == {k: v for k, v in local.scores.items() if k != key}  # the others scored
        assert cat.get_item(*key) == before  # left as it was
        # the step records it as its item's failure (listed by mf clean, exit 1)
        cfg = CleaningConfig()
        ctx = StepContext(cat, cleaned_world.root, cfg, ResultCache(cache_path(cat), cfg), ex, scorer)
        state = CleaningState.from_catalog(cat)
        AssociationsStep().run(state, ctx)
    [failure] = state.failures()
    assert (failure.item, failure.step) == (
        item_key(*key),
        "associations",
    ) and "lost its worker" in failure.error


def test_association_scores_on_ray_equal_local(ray_session, catalog_copy, cleaned_world, tmp_path):
    other = tmp_path / "other.sqlite"
    with Catalog(catalog_copy) as cat:
        cat._db.execute(f"VACUUM INTO '{other}'")
    with Catalog(catalog_copy) as cat:
        local = check_associations(cat, cleaned_world.root, LengthScorer(), 0.5)
    with Catalog(other) as cat, make_executor("ray", workers=2) as ex:
        ray = check_associations(cat, cleaned_world.root, LengthScorer(), 0.5, ex)
        assert sum(ex.nodes.values()) > 0
    assert ray == local and local  # some pairs flagged, the same ones
    rows_local, rows_ray = catalog_rows(catalog_copy), catalog_rows(other)
    assert rows_ray["items"] == rows_local["items"]


@pytest.mark.slow
def test_a_killed_driver_resumes_from_what_it_recorded(
    ray_session_address, cleaned_world, tmp_path, monkeypatch
):
    """SIGKILL ``mf clean --executor ray`` (a driver joining the session's Ray, which outlives it)
    once its cache holds results; the rerun decodes only what was not recorded and ends where an
    uninterrupted run ends."""
    import cleaning.steps.probe
    from movingfashion.world.seed import seed_catalog_from_world
    from tests.ray_fixtures import CLUSTER_ENV, ROOT

    cat_path, root = tmp_path / "catalog.sqlite", tmp_path / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(cleaned_world.world, cat, root, cleaned_world.truth)
    (tmp_path / "clean.yaml").write_text("checkpoint_s: 0\n")  # record every result at once
    cache = tmp_path / "catalog.cleaning-cache.json"
    code = "from movingfashion.app.cli import main; main()"
    args = [
        "clean",
        "--catalog",
        str(cat_path),
        "--root",
        str(root),
        "--config",
        str(tmp_path / "clean.yaml"),
    ]
    # its own process group: the kill reaches the driver only, not the Ray it joined
    driver = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            *args,
            "--executor",
            "ray",
            "--ray-address",
            ray_session_address,
            "--json",
        ],
        cwd=ROOT,
        env=CLUSTER_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    videos = {sha256_file(p) for p in root.rglob("*.mp4")}

    def video_probes() -> set[str]:
        """The videos whose probe the cache holds (images are probed too, and often first)."""
        try:
            entries = json.loads(cache.read_text())["entries"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return set()
        return {k for k, v in entries.items() if "probe" in v} & videos

    try:
        deadline = time.time() + 600
        while not video_probes():
            assert driver.poll() is None and time.time() < deadline, (
                "the run ended before it recorded a video's probe"
            )
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    recorded = {k for k, v in json.loads(cache.read_text())["entries"].items() if "probe" in v}
    probed = []
    real = cleaning.steps.probe.probe_video
    monkeypatch.setattr(cleaning.steps.probe, "probe_video", lambda p, c: probed.append(p) or real(p, c))
    with Catalog(cat_path) as cat:
        report = clean(cat, root)
        rebuild_splits(cat)
    assert videos & recorded  # the killed run had recorded some video probes...
    assert len(probed) == len(videos - recorded)  # ...and the rerun probed only the others
    assert report == cleaned_world.report
    assert catalog_rows(cat_path)["items"] == catalog_rows(cleaned_world.catalog_path)["items"]


def test_a_file_a_ray_worker_cannot_see_fails_its_item_naming_the_node(
    ray_session, catalog_copy, cleaned_world
):
    """The root is not shared with the workers' node: each item fails naming the file, the node
    (its address, as ``mf crop-cache`` and ``mf-tracklets build`` name it) and what to do."""
    from movingfashion.executors.ray_backend import RayExecutor
    from tests.cleaning.test_probe_unseen_files import away

    class BlindRay(RayExecutor):
        """Ray workers that look for every file under a folder that does not exist."""

        def _map(self, fn, tasks):
            yield from super()._map(fn, [away(t) for t in tasks])

    catalog_copy.with_name("catalog.cleaning-cache.json").unlink()  # every file is hashed again, on a worker
    ip = ray_session.util.get_node_ip_address()
    with Catalog(catalog_copy) as cat, BlindRay(workers=1) as ex:
        report = clean(cat, cleaned_world.root, executor=ex)
    failed = report["failed"]
    assert failed, report
    for f in failed:
        assert f"a worker of the executor on node {ip} (" in f["error"], f
        assert ", which is here" in f["error"] and "shared by every node at the same path" in f["error"], f
