"""``movingfashion.world.seam_bench``: a rerun reuses an export only when it was made with the
same ``--tracklets`` (the default changed from "tracked" to "linked")."""

from __future__ import annotations

import json

import pytest

from movingfashion.world.seam_bench import finished_export
from schemas.errors import ConfigError


def test_an_export_is_reused_only_with_the_tracklets_it_was_made_with(tmp_path):
    data = tmp_path / "train-set"
    assert not finished_export(data, "linked")  # nothing there: export
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"tracklets": "linked", "files": {}}))
    assert finished_export(data, "linked")
    with pytest.raises(ConfigError, match="exported with --tracklets linked, not tracked") as exc:
        finished_export(data, "tracked")
    assert "pass --tracklets linked" in str(exc.value)
    (data / "manifest.json").write_text(json.dumps({"files": {}}))  # says nothing: reused as it is
    assert finished_export(data, "tracked")


def test_a_rerun_with_other_result_arguments_is_refused_naming_them(tmp_path):
    from movingfashion.world.seam_bench import ARGS_FILE, check_args, parser

    out = tmp_path / "bench"
    out.mkdir()
    first = parser().parse_args(["--out", str(out), "--epochs", "1"])
    check_args(out, first)
    assert json.loads((out / ARGS_FILE).read_text())["epochs"] == 1
    check_args(out, first)  # the same arguments: continue
    more_seeds = parser().parse_args(
        ["--out", str(out), "--epochs", "1", "--seeds", "0,1,2,3", "--workers", "1"]
    )
    check_args(out, more_seeds)  # seeds and workers do not change a seed's results
    other = parser().parse_args(
        ["--out", str(out), "--epochs", "3", "--lr", "0.5", "--pair-loss", "balanced"]
    )
    with pytest.raises(ConfigError, match="other arguments") as exc:
        check_args(out, other)
    text = str(exc.value)
    assert "--epochs 1 (now 3)" in text and "--lr 0.04 (now 0.5)" in text and "--pair-loss" in text
    assert "new --out" in text and "--seeds" not in text
    assert json.loads((out / ARGS_FILE).read_text())["epochs"] == 1  # the record is kept
    older = tmp_path / "older"  # made before the record: written once a run has gone through
    (older / "runs").mkdir(parents=True)
    check_args(older, other)
    assert not (older / ARGS_FILE).exists()


def test_an_evaluation_is_reused_only_for_the_checkpoints_and_epochs_it_names(tmp_path):
    from movingfashion.seam.checkpoint import build_model, head_arch, save_checkpoint
    from movingfashion.seam.config import ModelConfig
    from movingfashion.world.seam_bench import evaluation_current

    arch = head_arch(8, 16, 32, 32)
    model = build_model(arch, ModelConfig(dim=32, nlb_inter=16))
    ckpt = tmp_path / "full" / "last.pt"
    ckpt.parent.mkdir()
    save_checkpoint(ckpt, model, arch, epoch=1)
    results = tmp_path / "eval" / "results.json"
    assert not evaluation_current(results, [ckpt])  # not evaluated yet
    results.parent.mkdir()
    results.write_text(json.dumps({"checkpoints": {"seam": {"path": str(ckpt), "epoch": 1}}}))
    assert evaluation_current(results, [ckpt])
    assert not evaluation_current(results, [ckpt, tmp_path / "other.pt"])  # another set of checkpoints
    save_checkpoint(ckpt, model, arch, epoch=3)  # trained further since
    assert not evaluation_current(results, [ckpt])
