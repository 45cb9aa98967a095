"""Every std over pools, seeds or seeds x pools is the sample std (ddof=1, 0 for one value), and
the report says so; results written before (population std) are reported with the sample std."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movingfashion.seam.protocol import STD, pooled_topk, query_groups, sample_std
from movingfashion.seam.report import attention_noise_rows, combine, paired_differences, write_report


def _result(v: float, pools: list[float], hits: list[float], auc: float, *, std: str | None = STD) -> dict:
    row = {
        "top1": v,
        "top1_std": sample_std(pools) if std == STD else float(np.std(pools)),
        "top1_pools": pools,
        "queries": 2,
        "pools": len(pools),
    }
    protocol = {"ks": [1], "frames": [10], "main_frames": 10, "pools": len(pools), "pool_size": 2}
    protocol.update(queries=2, gallery=2, **({"std": std} if std else {}))
    other = dict(row, top1=0.0, top1_std=0.0, top1_pools=[0.0] * len(pools))
    return {
        "protocol": protocol,
        "chance": {"top1": 0.5},
        "methods": {"seam": {"10": {"all": row}}, "seam_no_nlb_g": {"10": {"all": other}}},
        "names": {"seam": "SEAM", "seam_no_nlb_g": "w/o"},
        "per_query": {
            "videos": ["a", "b"],
            "seam": {"top1": hits, "top5": hits},
            "seam_no_nlb_g": {"top1": [0.0, 0.0], "top5": [0.0, 0.0]},
        },
        "attention_noise": {"seam": {"frames": 4, "corrupted": 2, "auc": auc, "auc_within_tracklet": auc}},
    }


def test_sample_std_is_ddof_1_and_0_for_a_single_value():
    assert sample_std([0.5, 0.0, 1.0]) == pytest.approx(0.5)  # population: 0.408
    assert sample_std([0.3]) == 0.0 and sample_std([]) == 0.0


def test_std_over_pools_is_the_sample_std():
    scores = torch.eye(4)
    scores[3] = torch.tensor([1.0, 0.0, 0.0, 0.5])
    groups = query_groups(["hard"] * 4, [1] * 4)
    pools = [np.array([0, 3]), np.array([1, 2]), np.array([0, 1, 2, 3])]
    res = pooled_topk(scores, torch.arange(4), groups, pools, [1])
    assert res["all"]["top1_pools"] == [0.5, 1.0, 0.75]
    assert res["all"]["top1_std"] == pytest.approx(np.std([0.5, 1.0, 0.75], ddof=1))
    one = pooled_topk(scores, torch.arange(4), groups, pools[:1], [1])
    assert one["all"]["top1_std"] == 0.0


def test_stds_over_seeds_and_seeds_x_pools_are_sample_stds():
    runs = [_result(0.5, [0.5], [1.0, 0.0], 0.6), _result(0.0, [0.0], [0.0, 0.0], 0.7)]
    runs.append(_result(1.0, [1.0], [1.0, 1.0], 0.9))
    cell = combine(runs)["methods"]["seam"]["10"]["all"]
    assert cell["top1_std"] == pytest.approx(0.5) and cell["top1_seed_std"] == pytest.approx(0.5)
    d = next(x for x in paired_differences(runs) if (x["a"], x["b"]) == ("seam", "seam_no_nlb_g"))
    assert d["seed_std"] == pytest.approx(np.std(d["per_seed"], ddof=1))
    per_query = np.mean([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]], axis=0)  # each query over the seeds
    assert d["query_se"] == pytest.approx(np.std(per_query, ddof=1) / np.sqrt(2))
    _, rows = attention_noise_rows(runs)
    assert rows[0][1] == f"{np.mean([0.6, 0.7, 0.9]):.3f}({np.std([0.6, 0.7, 0.9], ddof=1):.3f})"


def test_older_results_get_their_pools_sample_std_and_the_tables_say_sample_std(tmp_path):
    import json

    old = _result(0.5, [0.25, 0.75], [1.0, 0.0], 0.6, std=None)  # population std 0.25
    assert old["methods"]["seam"]["10"]["all"]["top1_std"] == pytest.approx(0.25)
    cell = combine([old])["methods"]["seam"]["10"]["all"]
    assert cell["top1_std"] == pytest.approx(np.std([0.25, 0.75], ddof=1))  # 0.354
    path = tmp_path / "run" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(old))
    write_report(path, tmp_path / "rep")
    table2 = (tmp_path / "rep" / "table2.md").read_text()
    assert "| SEAM | 0.50(0.354) |" in table2
    assert "mean(sample std) over pools" in (tmp_path / "rep" / "report.md").read_text()


def test_one_pool_of_one_run_prints_no_std(tmp_path):
    """A gallery smaller than a pool gives one pool; with one results file a cell's std does not
    exist (mf evaluate says "no std over pools"), yet table2.md printed 0.67(0.000), paired.md a
    std over the one seed, and ordering.md 0.500(0.000) (one rule now: report.mean_std)."""
    import json

    path = tmp_path / "run" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_result(0.5, [0.5], [1.0, 0.0], 0.6)))
    write_report(path, tmp_path / "rep")
    table2 = (tmp_path / "rep" / "table2.md").read_text()
    assert "| SEAM | 0.50 |" in table2 and "(0.000)" not in table2, table2
    paired = (tmp_path / "rep" / "paired.md").read_text()  # one seed: no std over seeds either
    assert "| SEAM - w/o | +0.500 | +0.500 |" in paired, paired
    order = (tmp_path / "rep" / "ordering.md").read_text()  # printed "SEAM 0.500(0.000) vs ..."
    assert order.startswith("- SEAM 0.500 vs w/o 0.000: cannot be judged") and "(0.000)" not in order, order
