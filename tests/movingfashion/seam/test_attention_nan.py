"""results.json is RFC 8259 JSON: an attention bin no frame falls in, and a query in no pool,
are written ``null`` (not ``NaN``), and the report reads them back."""

from __future__ import annotations

import json

import torch

from movingfashion.seam.config import EvalConfig
from movingfashion.seam.evaluate import attention_profile, evaluate_bank
from movingfashion.seam.report import combine, paired_differences, plot_attention
from schemas.atomic import atomic_write_json
from tests.movingfashion.seam.conftest import tiny_model
from tests.movingfashion.seam.synthetic import synthetic_bank


def _strict_load(path) -> dict:
    """Parse as a strict reader does: ``NaN``/``Infinity`` are not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(f"{path} holds {name}, which is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def test_attention_bins_without_a_frame_are_written_null(tmp_path):
    bank = synthetic_bank(6, pool=12)  # frame positions cover the first third of each video only
    prof = attention_profile(tiny_model(), bank, torch.device("cpu"), frames=21)
    path = tmp_path / "results.json"
    atomic_write_json(path, {"attention": {"seam": prof}}, indent=1)
    back = _strict_load(path)["attention"]["seam"]["all"]
    assert back["mean"][-1] is None and back["std"][-1] is None  # the last bin: no frame there
    assert isinstance(back["mean"][0], float)
    assert back["n"][-1] == 0 and sum(back["n"]) == 6 * 21  # every frame of every video in one bin


def test_an_evaluation_with_queries_in_no_pool_writes_strict_json_the_report_reads(tmp_path):
    bank = synthetic_bank(12, pool=12)
    cfg = EvalConfig(ks=[1, 5], frames=[4], main_frames=4, pools=1, pool_size=4, attention_frames=21)
    res = evaluate_bank([tiny_model()], bank, cfg, device=torch.device("cpu"))
    path = tmp_path / "results.json"
    atomic_write_json(path, res, indent=1)
    back = _strict_load(path)
    hits = back["per_query"]["seam"]["top1"]
    assert None in hits and any(h is not None for h in hits)  # 8 of 12 queries are in no pool
    assert None in back["attention"]["seam"]["all"]["mean"]
    merged = combine([back, back])  # the report's readers take null for "no value"
    assert None in merged["attention"]["seam"]["all"]["mean"]
    assert paired_differences([back, back]) is not None
    assert plot_attention({**merged, "names": back["names"]}, tmp_path / "attention.png")
