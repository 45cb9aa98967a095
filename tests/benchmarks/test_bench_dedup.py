"""``benchmarks/bench_dedup.py``: the all-pairs baseline computes each distance once (the index's
speed-up is not measured against twice the work), and the per-kind table pools precision like
recall, with "-" for a kind nothing was predicted for."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cleaning.config import DedupConfig
from cleaning.dedup import DedupResult
from cleaning.mih import MultiIndexHash, all_pairs

from .conftest import load_script


@pytest.fixture(scope="module")
def bd():
    return load_script("bench_dedup")


def test_the_baseline_finds_the_index_pairs_computing_each_distance_once(bd):
    cfg = DedupConfig()
    codes, _ = bd.make_codes(3000, cfg.index_radius)
    pairs, work = bd.upper_pairs(codes, cfg.index_radius)
    assert np.array_equal(pairs, MultiIndexHash(codes, cfg.index_chunks).pairs(cfg.index_radius))
    assert np.array_equal(pairs, all_pairs(codes, cfg.index_radius))
    n = len(codes)
    assert work == bd.upper_work(n)
    assert work < 0.55 * n * n  # the upper triangle (+ the blocks' own small triangles), not n x n
    # a sample of blocks: exactly the pairs of those rows
    block = 100
    sub, sub_work = bd.upper_pairs(codes, cfg.index_radius, blocks=np.array([0, 7, 29]), block=block)
    rows = np.r_[0:100, 700:800, 2900:3000]
    assert np.array_equal(sub, all_pairs(codes, cfg.index_radius, rows=rows))
    assert sub_work == 100 * 3000 + 100 * 2300 + 100 * 100


def test_the_index_benchmark_computes_about_half_the_distances_of_a_full_matrix(bd, monkeypatch):
    counted = []
    popcount = np.bitwise_count

    def counting(x, *a, **k):
        counted.append(np.size(x))
        return popcount(x, *a, **k)

    monkeypatch.setattr(np, "bitwise_count", counting)
    n = 2000
    with contextlib.redirect_stdout(io.StringIO()) as out:
        bd.bench_index(str(n), 100)
    assert " yes " in out.getvalue()
    assert sum(counted) < 0.6 * n * n  # the shipped baseline used to compute all n * n


def test_kind_scores_counts_and_no_precision_without_a_prediction():
    from movingfashion.world.dedup_eval import kind_scores

    def video(vid, dup=None, variant=None):
        return SimpleNamespace(
            video_id=vid, duplicate_of=dup, retake_of=None, variant=variant, duplicate_kind=None
        )

    truth = SimpleNamespace(videos=[video("a"), video("b", "a", "mirror"), video("c")])
    none = kind_scores(truth, DedupResult(clusters=[["a"], ["b"], ["c"]]))["mirror"]
    assert none["precision"] is None and none["predicted"] == 0 and none["found"] == 0 and none["n"] == 1
    wrong = kind_scores(truth, DedupResult(clusters=[["a", "b", "c"]]))["mirror"]
    assert (wrong["right"], wrong["predicted"], wrong["found"]) == (1, 2, 1)
    assert wrong["precision"] == 0.5


def test_the_kind_table_pools_precision_and_shows_no_precision_as_a_dash(bd, monkeypatch, tmp_path: Path):
    import cleaning.dedup as cd
    import movingfashion.world.dedup_eval as de
    import movingfashion.world.generate as gen

    # world 1: 2 predicted mirror pairs, both right; world 2: 6 predicted, 2 right -> pooled 4 / 8.
    # The hash-only baseline predicts none (its precision is undefined, not 1.0).
    new = {1: (2, 2), 2: (2, 6)}
    state = {}

    def generate_world(world, products, seed, **kw):
        state["seed"] = seed
        return SimpleNamespace(videos=[SimpleNamespace(variant="mirror")] * 4)

    def kind_scores(truth, res):
        right, predicted = new[state["seed"]] if res == "new" else (0, 0)
        found = 2 if res == "new" else 0
        mirror = {
            "n": 2,
            "found": found,
            "recall": found / 2,
            "right": right,
            "predicted": predicted,
            "precision": right / predicted if predicted else None,
        }
        return {"mirror": mirror, "hard_negatives": {"merged": 0, "n": 0}, "false_pairs": {"pairs": []}}

    margin = {
        "duplicates": [{"score": 0.9, "kind": "mirror", "bits": 3.0, "pair": ("a", "b")}],
        "non_duplicates": [{"score": 0.1, "kind": "other", "bits": 20.0, "pair": ("c", "d")}],
        "hard_negatives": 0,
        "hard_negative_candidates": 0,
    }
    monkeypatch.setattr(gen, "generate_world", generate_world)
    monkeypatch.setattr(bd, "_baseline_records", lambda world, truth, cfg: "base")
    monkeypatch.setattr(de, "world_records", lambda world, truth, cfg: "new")
    monkeypatch.setattr(de, "kind_scores", kind_scores)
    monkeypatch.setattr(de, "score_margin", lambda truth, ev: margin)
    monkeypatch.setattr(cd, "find_video_duplicates", lambda recs, cfg: recs)
    monkeypatch.setattr(cd, "video_pair_evidence", lambda recs, cfg, exhaustive=True: [])
    with contextlib.redirect_stdout(io.StringIO()) as out:
        bd.bench_worlds([1, 2], 20, 1, 0, tmp_path)
    row = next(ln for ln in out.getvalue().splitlines() if ln.strip().startswith("mirror"))
    assert row.split() == ["mirror", "4", "0.500", "1.000", "-", "0.000"]
