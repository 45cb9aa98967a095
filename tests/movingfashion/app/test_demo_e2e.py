"""``mf demo --quick`` end to end, every real stage, as a user runs it (a subprocess): one JSON
document on stdout with ``--json``; rerun in the same folder, it prints the text report with
the SEAM table once. The world step reuses the session's small world (same
parameters as ``--quick``); the clean step finds the session's cleaning results of that world's
files beside its catalog (``copy_cleaning_cache``: results by SHA-256, made by the same code in
this run), so it decodes and scores nothing again and decides as a first clean does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from movingfashion.app.context import QUICK_PRODUCTS
from tests.world_fixtures import SMALL_WORLD, copy_cleaning_cache

STAGES = ["world", "collect", "clean", "tracklets", "publish", "loader", "seam"]


def _demo(work, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "movingfashion", "demo", "--quick", "--out", str(work), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_quick_demo_runs_every_stage(small_world, world_truth, cleaned_world, tmp_path):
    assert (SMALL_WORLD["products"], SMALL_WORLD["seed"], SMALL_WORLD["quick"]) == (QUICK_PRODUCTS, 0, True)
    (tmp_path / "world").symlink_to(small_world, target_is_directory=True)
    copy_cleaning_cache(cleaned_world, tmp_path / "catalog.sqlite")  # the session's results
    res = _demo(tmp_path, "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)  # stdout is exactly one JSON document
    assert doc["ok"] and list(doc["stages"]) == STAGES
    st = doc["stages"]
    assert all(st[name]["status"] == "ok" for name in STAGES), st
    assert st["world"]["reused"] and st["world"]["products"] == len(world_truth.products)
    assert st["collect"]["failed"] == 0
    clean = st["clean"]
    assert clean["duplicate_precision"] >= 0.98 and clean["duplicate_recall"] >= 0.95
    assert clean["split_screen_f1"] >= 0.95 and clean["leakage"] == 0
    trk = st["tracklets"]
    assert trk["processed"] == trk["videos"] == trk["qa_videos"] > 10 and trk["failed"] == 0
    assert trk["mean_iou"] >= 0.7 and trk["pass_rate_50pct"] >= 0.85
    assert trk["flag_rate"] is not None and 0 <= trk["flag_rate"] <= 1
    # publish after the tracklets: nothing that needs review (or was rejected) is in the splits
    pub = st["publish"]
    assert pub["association_status"] == "run" and 0 <= pub["association_precision"] <= 1
    # the check's own flags alone catch no more than the check and the carousel picker together
    check_recall = pub["association_check_recall"]
    assert "association_check_precision" in pub and (
        check_recall is None or check_recall <= pub["association_recall"]
    )
    assert pub["association_recall"] is not None and pub["held_back"] >= 1
    from schemas.catalog import Catalog
    from schemas.items import Status
    from schemas.official import read_official

    ds = tmp_path / "dataset"
    published = set(read_official(ds / "train.json")) | set(read_official(ds / "test.json"))
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        rows = [r for s in (Status.NEEDS_REVIEW, Status.REJECTED) for r in cat.items(status=s)]
        assert sum(pub["held_back_by_reason"].values()) == pub["held_back"] == len(rows)
    held = {r.product_id or r.item.source_id for r in rows}
    assert published and not (published & held)
    # the report names the review page that queues every item held back for review
    import shlex

    from annotations.review.queue import build_queue

    args = dict(zip(*[iter(shlex.split(pub["review_command"])[2:])] * 2, strict=True))
    assert args.keys() == {"--dataset", "--catalog", "--root"} and args["--dataset"] == str(ds)
    with Catalog(args["--catalog"]) as cat:
        queue = build_queue(ds, 0.0, catalog=cat, collection=args["--root"])
        waiting = {r.product_id or r.item.source_id for r in cat.items(status=Status.NEEDS_REVIEW)}
    assert {it.product_id for it in queue.items if it.held_back} == waiting
    assert all(it.video_src for it in queue.items)
    assert st["loader"]["splits"]["train"]["frames_shape"][1:] == [10, 3, 112, 112]
    seam = st["seam"]
    assert seam["gallery"] == pub["test"] <= seam["test_queries"] and len(seam["top1"]) == 7
    assert "SEAM + salient" in seam["top1"]
    assert (
        all(0 <= v <= 1 for v in seam["top1"].values())
        and [ln.split("  ")[0] for ln in seam["table"].splitlines()].count("SEAM") == 1
    )
    for name in STAGES:  # progress: a header per stage, on stderr
        assert f"] {name} (expected" in res.stderr
    assert "about" in res.stderr and "left in all" in res.stderr

    again = _demo(tmp_path)  # the same folder: the world is reused, the text report printed once
    assert again.returncode == 0, again.stderr[-3000:]
    out = again.stdout
    assert out.count("MovingFashion demo report") == 1 and out.count("[seam table]") == 1
    assert sum(line.startswith("Max Confidence ") for line in out.splitlines()) == 1
    assert "{" not in out and "\\n" not in out  # no JSON dump, no escaped table
    assert "reused: True" in out and "[seam] ok" in out
    assert "[publish] ok" in out and "held_back:" in out and "association_precision:" in out
