"""``benchmarks/bench_read_split.py``: its old way is the per-box reader (the one-pass checks
never run) and reads the same split, dataset and listings as the new way."""

from __future__ import annotations

import pytest

from schemas import official

from .conftest import load_script


@pytest.fixture(scope="module")
def brs():
    return load_script("bench_read_split")


def test_the_old_way_checks_box_by_box(brs, tmp_path, monkeypatch):
    root = brs.make_dataset(tmp_path / "ds", 6, 20)
    calls: list[int] = []
    real = official.plain_boxes_valid
    monkeypatch.setattr(official, "plain_boxes_valid", lambda b: calls.append(len(b)) or real(b))
    with brs.old_way():
        official.read_official(root / "train.json")
    assert calls == []
    official.read_official(root / "train.json")
    assert calls and set(calls) == {20}


@pytest.mark.parametrize("what", ["read_official", "dataset open", "bank reads"])
def test_both_ways_read_the_same(brs, tmp_path, what):
    root = brs.make_dataset(tmp_path / "ds", 12, 30)
    old = brs.run_child(root, what, "old")
    new = brs.run_child(root, what, "new")
    assert old["digest"] == new["digest"] and old["cpu"] > 0 and new["cpu"] > 0
