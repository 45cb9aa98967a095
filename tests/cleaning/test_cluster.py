"""``mf clean`` and ``mf crop-cache`` on a real two-node Ray cluster on loopback: work runs on both
nodes and the results equal a local run's (the catalog rows but row ids and timestamps, the result
cache, the recovered shop images, the published dataset, the crop cache). The nodes are ``ray
start --block`` processes in their own sessions (one CPU and a custom resource each), stopped at
the end even when the test fails (fixture ``two_nodes`` in tests/ray_fixtures.py). This is the one
clean of the world on Ray: every equivalence with the local clean is checked on its output."""

from __future__ import annotations

import json

import pytest

from cleaning.publish import publish
from movingfashion.archive.describe import SOURCE_DATE_EPOCH
from schemas.catalog import Catalog
from tests.damage import assert_same_tree
from tests.ray_fixtures import catalog_rows, mf, tree_bytes


def _results(cache: dict) -> dict:
    """A result cache without the files' modification times: its ``file:<path>`` stat records
    (size, mtime in ns, SHA-256) say when this run's copy of a file was written, which two runs
    on two copies of the collection never share; size and SHA-256 must still agree."""
    out = json.loads(json.dumps(cache))
    for key, value in out["entries"].items():
        if isinstance(key, str) and key.startswith("file:"):
            size, _mtime, sha = value["stat"]
            value["stat"] = [size, sha]
    return out


def assert_clean_equals_local(cleaned_world, cat_path, root, tmp_path, monkeypatch) -> None:
    """The catalog, result cache, files and published dataset of a clean equal the local clean's."""
    local, ray = catalog_rows(cleaned_world.catalog_path), catalog_rows(cat_path)
    for table in ("items", "assets", "meta"):
        assert ray[table] == local[table], table
    assert [e for e in ray["events"] if e[0] == "clean"] == [e for e in local["events"] if e[0] == "clean"]
    cache = "catalog.cleaning-cache.json"
    assert _results(json.loads(cat_path.with_name(cache).read_text())) == _results(
        json.loads(cleaned_world.catalog_path.with_name(cache).read_text())
    )
    assert_same_tree(tree_bytes(root), tree_bytes(cleaned_world.root))  # recovered shop images included
    outs = {}
    # the two catalogs were cleaned at different times (the local one when the session began):
    # a publish dates the data by its rows' last change, so across midnight the two dated their
    # README.md, croissant.json and manifest.json a day apart (the CI failure of 2026-12-08);
    # both are dated alike, as a reproducible build is (SOURCE_DATE_EPOCH)
    monkeypatch.setenv(SOURCE_DATE_EPOCH, "1733011200")
    for name, path, r in (("local", cleaned_world.catalog_path, cleaned_world.root), ("ray", cat_path, root)):
        copy, outs[name] = tmp_path / f"publish-{name}.sqlite", tmp_path / f"published-{name}"
        with Catalog(path) as cat:
            cat._db.execute(f"VACUUM INTO '{copy}'")  # publish from a copy: the world's catalog is shared
        with Catalog(copy) as cat:
            publish(cat, r, outs[name])
    assert_same_tree(tree_bytes(outs["ray"]), tree_bytes(outs["local"]), "published")


@pytest.mark.slow
def test_two_nodes_on_loopback_share_the_work_and_match_local(
    two_nodes, cleaned_world, gt_dataset, local_crop_cache, tmp_path, monkeypatch
):
    from cleaning.splits import rebuild_splits
    from movingfashion.world.seed import seed_catalog_from_world

    cat_path, root = tmp_path / "catalog.sqlite", tmp_path / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(cleaned_world.world, cat, root, cleaned_world.truth)
    res = mf(
        "clean",
        "--catalog",
        str(cat_path),
        "--root",
        str(root),
        "--executor",
        "ray",
        "--ray-address",
        two_nodes,
        "--json",
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    nodes = report.pop("executor")["nodes"]
    assert len(nodes) == 2 and all(n > 0 for n in nodes.values()), nodes  # both nodes worked
    assert report == json.loads(json.dumps(cleaned_world.report, default=str))  # as --json prints it
    with Catalog(cat_path) as cat:
        rebuild_splits(cat)  # as the local reference was
    assert_clean_equals_local(cleaned_world, cat_path, root, tmp_path, monkeypatch)
    # the same on actors: one worker per node (one CPU each), the crop cache equal to a local one
    out_local, counts, _ = local_crop_cache
    out_ray = tmp_path / "cache-ray"
    res = mf(
        "crop-cache",
        "--dataset",
        str(gt_dataset),
        "--pool",
        "4",
        "--crop-size",
        "64",
        "--json",
        "--out",
        str(out_ray),
        "--executor",
        "ray",
        "--ray-address",
        two_nodes,
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    nodes = got["executor"]["nodes"]
    assert len(nodes) == 2 and all(n > 0 for n in nodes.values()), nodes
    assert (got["built"], got["already_cached"]) == (counts["built"], counts["already_cached"])
    assert_same_tree(tree_bytes(out_ray), tree_bytes(out_local), "crop cache")
