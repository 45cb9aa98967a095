"""``benchmarks/bench_split_checks.py``: its old way is the per-box rule (the one-pass checks never
run) and finds the same things as the new way, in every one of its measures."""

from __future__ import annotations

import pytest

from movingfashion.archive import verify
from schemas import official_checks
from schemas.official import read_official

from .conftest import load_script


@pytest.fixture(scope="module")
def bsc():
    return load_script("bench_split_checks")


def test_the_old_way_checks_box_by_box(bsc, tmp_path, monkeypatch):
    root = bsc.make_dataset(tmp_path / "ds", 100, 5)  # and 20 test tracklets
    splits = {s: read_official(root / f"{s}.json") for s in ("train", "test")}
    calls: list[object] = []
    real = official_checks.box_problem
    monkeypatch.setattr(official_checks, "box_problem", lambda b: calls.append(b) or real(b))
    with bsc.old_way():
        old = official_checks.split_findings(splits, tests={"test"})
    assert len(calls) == 120 * 5 and len(old) == 1
    calls.clear()
    assert official_checks.split_findings(splits, tests={"test"}) == old
    assert len(calls) == 5  # the one tracklet with a bad box (one in 97 of them)
    with bsc.old_way():
        assert verify._tracklet_fits({"0": [0, 0, 1, 1]}, verify.VideoFacts(5, 9, 9)) is False


def test_the_dataset_is_of_the_archive_layout_but_for_its_bad_boxes(bsc, tmp_path):
    root = bsc.make_dataset(tmp_path / "ds", 300, 10)
    splits = {s: read_official(root / f"{s}.json") for s in ("train", "test")}
    found = official_checks.split_findings(splits, tests={"test"})
    assert found and {f.check for f in found} == {"tracklets"}
    assert len(found) == 320 // bsc.BAD_EVERY


@pytest.mark.parametrize("what", ["split_findings", "schema validate", "verify tracklets"])
def test_both_ways_find_the_same(bsc, tmp_path, what):
    root = bsc.make_dataset(tmp_path / "ds", 200, 12)
    old = bsc.run_child(root, what, "old")
    new = bsc.run_child(root, what, "new")
    assert old["digest"] == new["digest"] and old["findings"] == new["findings"] == 2
    assert old["cpu"] > 0 and new["cpu"] > 0
