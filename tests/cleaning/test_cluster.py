"""``mf clean`` and ``mf crop-cache`` on a real two-node Ray cluster on loopback: work runs on both
nodes and the results equal a local run's. The nodes are ``ray start --block`` processes in their
own sessions (one CPU and a custom resource each), stopped at the end even when the test fails
(fixture ``two_nodes`` in tests/ray_fixtures.py)."""

from __future__ import annotations

import json

import pytest

from schemas.catalog import Catalog
from tests.ray_fixtures import catalog_rows, mf, tree_bytes


@pytest.mark.slow
def test_two_nodes_on_loopback_share_the_work_and_match_local(two_nodes, cleaned_world, gt_dataset, tmp_path):
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
    local, ray = catalog_rows(cleaned_world.catalog_path), catalog_rows(cat_path)
    assert ray["assets"] == local["assets"]
    # the same on actors: one worker per node (one CPU each), the crop cache equal to a local one
    out_local, out_ray = tmp_path / "cache-local", tmp_path / "cache-ray"
    common = ["crop-cache", str(gt_dataset), "--pool", "4", "--crop-size", "64", "--json"]
    res = mf(*common, "--out", str(out_ray), "--executor", "ray", "--ray-address", two_nodes)
    assert res.returncode == 0, res.stderr
    nodes = json.loads(res.stdout)["executor"]["nodes"]
    assert len(nodes) == 2 and all(n > 0 for n in nodes.values()), nodes
    assert mf(*common, "--out", str(out_local)).returncode == 0
    assert tree_bytes(out_ray) == tree_bytes(out_local)
