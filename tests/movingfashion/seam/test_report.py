"""``mf report`` on several seeds: pooled mean (std), paired per-query differences, the ordering check,
the attention-on-noise table and the Fig. 8 plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from movingfashion.seam.cli import report
from movingfashion.seam.report import combine, ordering, paired_differences

METHODS = ["max_confidence", "seam_no_nlb_g", "seam"]


def _results(seed: int, top1: dict[str, list[float]], hits: dict[str, list[float]], auc: float) -> dict:
    """A results.json as mf evaluate writes it: per-pool top-1 values and per-query hit rates."""
    methods = {}
    for m, pools in top1.items():
        row = {
            "top1": float(np.mean(pools)),
            "top1_std": float(np.std(pools)),
            "top1_pools": pools,
            "top5": 1.0,
            "top5_std": 0.0,
            "top5_pools": [1.0] * len(pools),
            "queries": 4,
            "pools": len(pools),
        }
        methods[m] = {"10": {"all": row, "regular": row, "hard": row, "class:1": dict(row)}}
    curve = {"mean": [0.1] * 21, "std": [0.01] * 21, "videos": 4}
    return {
        "protocol": {
            "ks": [1, 5],
            "frames": [10],
            "main_frames": 10,
            "pools": 2,
            "pool_size": 4,
            "seed": 0,
            "queries": 4,
            "gallery": 4,
            "corrupted_share": 0.35,
        },
        "chance": {"top1": 0.25, "top5": 1.0},
        "methods": methods,
        "names": {"max_confidence": "Max Confidence", "seam_no_nlb_g": "SEAM w/o NLB,g", "seam": "SEAM"},
        "per_query": {
            "videos": ["a", "b", "c", "d"],
            **{m: {"top1": h, "top5": [1.0] * 4} for m, h in hits.items()},
        },
        "attention": {"seam": {"percentiles": [5 * i for i in range(21)], "all": curve, "regular": curve}},
        "attention_noise": {
            "seam": {
                "frames": 40,
                "corrupted": 14,
                "mean_clean": 0.11,
                "mean_corrupted": 0.08,
                "auc": auc,
                "auc_within_tracklet": auc,
                "by_kind": {"blur": {"frames": 7, "mean": 0.07, "auc": auc + 0.05}},
            }
        },
        "qualitative": [],
        "dataset": "nowhere",
        "seed_note": seed,
    }


@pytest.fixture()
def two_seeds(tmp_path):
    a = _results(
        0,
        {"max_confidence": [0.2, 0.3], "seam_no_nlb_g": [0.5, 0.5], "seam": [0.8, 0.7]},
        {"max_confidence": [0, 0, 1, 0], "seam_no_nlb_g": [1, 0, 1, 0], "seam": [1, 1, 1, 0]},
        0.8,
    )
    b = _results(
        1,
        {"max_confidence": [0.25, 0.25], "seam_no_nlb_g": [0.45, 0.55], "seam": [0.75, 0.75]},
        {"max_confidence": [0, 1, 0, 0], "seam_no_nlb_g": [1, 1, 0, 0], "seam": [1, 1, 1, 0]},
        0.7,
    )
    paths = []
    for i, r in enumerate((a, b)):
        p = tmp_path / f"s{i}" / "results.json"
        p.parent.mkdir()
        p.write_text(json.dumps(r))
        paths.append(p)
    return (a, b), paths


def test_combine_pools_every_seed_and_pool_value(two_seeds):
    (a, b), _ = two_seeds
    c = combine([a, b])
    cell = c["methods"]["seam"]["10"]["all"]
    assert cell["top1"] == pytest.approx(np.mean([0.8, 0.7, 0.75, 0.75]))
    assert cell["top1_std"] == pytest.approx(np.std([0.8, 0.7, 0.75, 0.75]))
    assert cell["top1_seed_std"] == pytest.approx(0.0) and cell["top1_values"] == 4 and c["seeds"] == 2
    # groups without per-pool values pool the seeds' means
    assert c["methods"]["seam"]["10"]["class:1"]["top1"] == pytest.approx(0.75)
    assert combine([a])["seeds"] == 1 and combine([a])["methods"] == a["methods"]


def test_paired_differences_and_the_ordering(two_seeds):
    (a, b), _ = two_seeds
    diffs = {(d["a"], d["b"]): d for d in paired_differences([a, b])}
    d = diffs[("seam", "seam_no_nlb_g")]
    assert d["per_seed"] == [0.25, 0.25] and d["mean"] == pytest.approx(0.25) and d["seed_std"] == 0
    assert (d["wins"], d["losses"], d["queries"]) == (2, 0, 4)  # queries b and c, averaged over seeds
    d = diffs[("seam_no_nlb_g", "max_confidence")]
    assert d["per_seed"] == [0.25, 0.25]
    order = ordering(combine([a, b]), list(diffs.values()))
    assert [(o["a"], o["beyond_one_std"], o["paired_beyond_std"]) for o in order] == [
        ("seam", True, True),
        ("seam_no_nlb_g", True, True),
    ]
    # the same numbers with SEAM below its ablation: the ordering is reported as not holding
    worse = json.loads(json.dumps(a))
    worse["methods"]["seam"]["10"]["all"]["top1_pools"] = [0.4, 0.5]
    worse["methods"]["seam"]["10"]["all"]["top1"] = 0.45
    worse["per_query"]["seam"]["top1"] = [1, 0, 0, 0]
    order = ordering(combine([worse]), paired_differences([worse]))
    assert order[0]["a"] == "seam" and not order[0]["beyond_one_std"] and not order[0]["paired_beyond_std"]


def test_report_cli_writes_tables_with_std_and_the_plots(two_seeds, tmp_path):
    _, paths = two_seeds
    res = CliRunner().invoke(report, [str(p) for p in paths] + ["--out", str(tmp_path / "rep"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["seeds"] == 2
    files = set(out["files"])
    assert {
        "table2.md",
        "paired.md",
        "ordering.md",
        "attention_noise.md",
        "attention.png",
        "report.md",
    } <= files
    table2 = (tmp_path / "rep" / "table2.md").read_text()
    assert "| SEAM | 0.75(0.035) |" in table2  # mean(std) over 2 seeds x 2 pools
    noise = (tmp_path / "rep" / "attention_noise.md").read_text()
    assert "0.750(0.050)" in noise and "AUC blur" in noise
    assert "holds beyond one std" in (tmp_path / "rep" / "ordering.md").read_text()
    assert (tmp_path / "rep" / "attention.png").read_bytes()[:4] == b"\x89PNG"
    assert "2 training seeds" in (tmp_path / "rep" / "report.md").read_text()
