"""The evaluation's queries follow the paper (the best inference tracklet, whatever its IoU), and
every results table says how many queries were inference tracklets and how many the ground
truth stood in for, and why."""

from __future__ import annotations

import json
import shutil

import torch
from click.testing import CliRunner
from torch import nn

from movingfashion.seam.cli import report
from movingfashion.seam.config import EvalConfig
from movingfashion.seam.evaluate import evaluate_dataset, summary_table
from movingfashion.seam.model import SeamModel
from schemas.dataset import Tracklet, VideoTracklets
from tests.movingfashion.seam.conftest import tiny_config, tiny_model


def _model_with_encoder() -> SeamModel:
    """A tiny SEAM model whose crop encoder gives the head's 8-channel 2x2 maps."""
    head = tiny_model("full")
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Conv2d(3, 8, 1), nn.AdaptiveAvgPool2d(2))
    return SeamModel(encoder, head.f, head.m, tiny_config("full"))


def _poor_query_dataset(tiny_dataset, tmp_path):
    """The tiny dataset with a richer file for video 102_0 only: one inference tracklet that
    boxes 2 of every 5 of the ground truth's frames exactly (mean IoU 0.4)."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    boxes = json.loads((root / "test.json").read_text())["102"]["tracklets"][0]
    kept = {int(f): b for i, (f, b) in enumerate(sorted(boxes.items(), key=lambda x: int(x[0]))) if i % 5 < 2}
    vt = VideoTracklets(
        product_id="102",
        video="videos/102_0.mp4",
        frames=50,
        width=640,
        height=480,
        tracklets=[Tracklet(video="videos/102_0.mp4", boxes=kept, mode="inference")],
    )
    (root / "tracklets" / "102_0.json").write_text(vt.model_dump_json())
    assert len(boxes) % 5 == 0  # so that the mean IoU is exactly 0.4
    return root


def _evaluate(root, tmp_path, **cfg):
    config = EvalConfig(frames=[2], main_frames=2, pools=1, pool_frames=4, attention_frames=2, **cfg)
    return evaluate_dataset(root, [_model_with_encoder()], config, cache_dir=tmp_path / "cache", crop_size=32)


def test_a_video_whose_best_inference_tracklet_has_iou_0_4_is_queried_with_it(tiny_dataset, tmp_path):
    res = _evaluate(_poor_query_dataset(tiny_dataset, tmp_path), tmp_path)
    p = res["protocol"]
    assert p["query_tracklets"] == {"tracklets": 1, "ground_truth": 1}  # 102_1 has no richer file
    assert p["query_min_iou"] == 0.0
    assert p["query_fallbacks"] == {"no_inference_tracklet": 1, "below_min_iou": 0}
    assert res["query_iou"] == [0.4, None] and res["query_best_iou"] == [0.4, None]
    assert res["query_fallback"] == [None, "no_inference_tracklet"]
    note = (
        "Queries: 1 inference tracklets (the best-IoU one of each video, mean IoU with the ground "
        "truth 0.400), 1 ground-truth tracklets (1 with no inference tracklet)."
    )
    assert summary_table(res).splitlines()[-1] == note


def test_the_stricter_rule_is_kept_and_counted_beside_every_table(tiny_dataset, tmp_path):
    from movingfashion.seam.report import write_report

    root = _poor_query_dataset(tiny_dataset, tmp_path)
    res = _evaluate(root, tmp_path, query_min_iou=0.5)
    assert res["protocol"]["query_tracklets"] == {"ground_truth": 2}
    assert res["protocol"]["query_fallbacks"] == {"no_inference_tracklet": 1, "below_min_iou": 1}
    assert res["query_iou"] == [None, None] and res["query_best_iou"] == [0.4, None]  # never 1.0
    note = (
        "Queries: 0 inference tracklets (the best-IoU one of each video), 2 ground-truth tracklets "
        "(1 with no inference tracklet; 1 whose best inference tracklet is below the minimum IoU 0.5)."
    )
    assert note in summary_table(res)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.json").write_text(json.dumps(res))
    rep = write_report(tmp_path / "eval" / "results.json", tmp_path / "rep")
    assert rep["queries"] == note
    for name in ("table2.md", "table4.md", "table5.md", "report.md"):
        assert note in (tmp_path / "rep" / name).read_text(), name
    out = CliRunner().invoke(report, [str(tmp_path / "eval"), "--out", str(tmp_path / "rep2")])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1] == note


def test_older_results_are_counted_from_what_they_recorded():
    """results.json written before the fallbacks were recorded (the ground truth stood in below
    0.5 with a query IoU 1.0): the counts come from query_tracklets and query_below_min_iou."""
    from movingfashion.seam.report import query_counts, query_note

    old = {
        "protocol": {"query_tracklets": {"tracklets": 5, "ground_truth": 3}, "query_below_min_iou": 2},
        "config": {"query_min_iou": 0.5},
        "query_iou": [1.0] * 8,
    }
    c = query_counts(old)
    assert (c["inference"], c["ground_truth"], c["no_inference_tracklet"], c["below_min_iou"]) == (5, 3, 1, 2)
    assert c["min_iou"] == 0.5 and c["inference_mean_iou"] is None  # 1.0 of a stand-in is not a measure
    assert "1 with no inference tracklet; 2 whose best inference tracklet is below the minimum IoU 0.5" in (
        query_note(old)
    )
    assert query_note({"protocol": {}}) == "Queries: their source is not recorded in these results."


def test_evaluate_cli_takes_the_minimum_iou_and_refuses_one_out_of_range(tiny_dataset, tmp_path):
    from movingfashion.seam.cli import evaluate

    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"")
    args = ["--dataset", str(tiny_dataset), "--checkpoint", str(ckpt), "--query-min-iou", "1.5"]
    out = CliRunner().invoke(evaluate, args)
    assert out.exit_code == 2 and "--query-min-iou" in out.output
    assert "--query-min-iou" in CliRunner().invoke(evaluate, ["--help"]).output


def test_the_summary_prints_no_std_for_one_pool(tiny_dataset, tmp_path):
    """One pool has no std over pools: the table says so instead of printing ±0.000."""
    res = _evaluate(_poor_query_dataset(tiny_dataset, tmp_path), tmp_path)
    assert res["protocol"]["pools"] == 1
    text = summary_table(res)
    assert "±" not in text and "one pool: no std over pools" in text
    two = {**res, "protocol": {**res["protocol"], "pools": 2}}
    assert "±" in summary_table(two) and "mean±sample std over pools" in summary_table(two)
