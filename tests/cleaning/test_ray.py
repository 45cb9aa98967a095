"""``mf clean`` on Ray gives what it gives locally: the same catalog rows (timestamps aside), the
same result cache, the same recovered shop images and the same published dataset."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cleaning.associations import check_associations
from cleaning.pipeline import clean
from cleaning.publish import publish
from cleaning.splits import rebuild_splits
from movingfashion.executors import make_executor
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from tests.ray_fixtures import catalog_rows, tree_bytes


class LengthScorer:
    """A picklable stand-in matcher: scores a pair from its file sizes (deterministic, cheap)."""

    def score(self, video_path: str, shop_path: str) -> float:
        from pathlib import Path

        return (Path(video_path).stat().st_size + 7 * Path(shop_path).stat().st_size) % 1000 / 1000


def test_clean_and_publish_on_ray_equal_local(ray_session, cleaned_world, tmp_path):
    from movingfashion.world.seed import seed_catalog_from_world

    cat_path, root = tmp_path / "catalog.sqlite", tmp_path / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(cleaned_world.world, cat, root, cleaned_world.truth)
        with make_executor("ray") as ex:
            report = clean(cat, root, executor=ex)
            assert sum(ex.nodes.values()) > 0  # the per-file work did run on the cluster
        rebuild_splits(cat)
    assert report == cleaned_world.report
    local, ray = catalog_rows(cleaned_world.catalog_path), catalog_rows(cat_path)
    for table in ("items", "assets", "meta"):
        assert ray[table] == local[table], table
    assert [e for e in ray["events"] if e[0] == "clean"] == [e for e in local["events"] if e[0] == "clean"]
    cache = "catalog.cleaning-cache.json"
    assert json.loads((tmp_path / cache).read_text()) == json.loads(
        cleaned_world.catalog_path.with_name(cache).read_text()
    )
    assert tree_bytes(root) == tree_bytes(cleaned_world.root)  # recovered shop images included
    outs = {}
    for name, path, r in (("local", cleaned_world.catalog_path, cleaned_world.root), ("ray", cat_path, root)):
        copy, outs[name] = tmp_path / f"publish-{name}.sqlite", tmp_path / f"published-{name}"
        with Catalog(path) as cat:
            cat._db.execute(f"VACUUM INTO '{copy}'")  # publish from a copy: the world's catalog is shared
        with Catalog(copy) as cat:
            publish(cat, r, outs[name])
    assert tree_bytes(outs["ray"]) == tree_bytes(outs["local"])


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
def test_a_killed_driver_resumes_from_what_it_recorded(cleaned_world, tmp_path, monkeypatch):
    """SIGKILL ``mf clean --executor ray`` once its cache holds results; the rerun decodes only
    what was not recorded and ends where an uninterrupted run ends."""
    import cleaning.steps.probe
    from movingfashion.world.seed import seed_catalog_from_world
    from tests.ray_fixtures import ROOT

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
    # its own process group: the local Ray it starts goes down with it
    driver = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--executor", "ray", "--json"],
        cwd=ROOT,
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
