"""A loss that turns NaN or infinite stops training with one clear line (exit 2 from ``mf
train``): which epoch and step, the loss, what to do; ``last.pt`` keeps the last finite epoch and
``history.jsonl`` stays strict JSON. AsymNet's two stages stop the same way; the SEAM benchmark's
``summary.json`` is written strict too."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from movingfashion.seam import asymnet as asymnet_module
from movingfashion.seam import cli as cli_module
from movingfashion.seam import train as train_module
from movingfashion.seam.asymnet import train_asymnet
from movingfashion.seam.checkpoint import read_checkpoint
from movingfashion.seam.train import Phase2Objective, json_line, train_phase2
from schemas.atomic import NotFiniteJSON
from schemas.cli_support import run_main
from schemas.errors import ModelError
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config
from tests.movingfashion.seam.test_asymnet import _tiny_asymnet


def _strict(text: str) -> list[dict]:
    """Every line of ``text`` read as strict JSON (``NaN``/``Infinity`` refused)."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return [json.loads(line, parse_constant=refuse) for line in text.splitlines()]


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        run_main(cli_module._group, ["train", *args])
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.fixture
def started(tmp_path: Path, train_bank) -> Path:
    """A run folder holding 2 finite epochs (last.pt, history.jsonl)."""
    out = tmp_path / "run"
    train_phase2(train_bank, tiny_model("full"), TINY, tiny_train_config("full", epochs=2), out)
    return out


def test_mf_train_stops_on_a_loss_that_is_not_finite_and_keeps_last_pt(
    tmp_path, started, train_bank, monkeypatch, capsys
):
    before = read_checkpoint(started / "last.pt")
    history = (started / "history.jsonl").read_text()
    blown = dataclasses.replace(train_bank, fmaps=train_bank.fmaps * 1e30)  # features that overflow

    def phase2(dataset, out, cfg, **kw):
        cfg = tiny_train_config("full", epochs=cfg.epochs)
        return train_phase2(
            blown, tiny_model("full"), TINY, cfg, out, resume=kw["resume"], extend=kw["extend"]
        )

    monkeypatch.setattr(train_module, "run_phase2", phase2)
    monkeypatch.setattr(cli_module, "require_usable_train", lambda dataset: None)
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "train.json").write_text("{}")
    args = ["--dataset", str(tmp_path / "dataset"), "--out", str(started), "--epochs", "4"]
    code, err = _cli([*args, "--resume", "--extend"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(
        f"error: {started}: phase 2 diverged: the loss is not finite at epoch 3, step 1"
        f" ({started / 'last.pt'} keeps epoch 2), loss "
    )
    assert "lower lr" in err and "check the training data" in err and "--resume continues from last.pt" in err
    after = read_checkpoint(started / "last.pt")
    assert after["epoch"] == 2 and all(torch.equal(after["model"][k], v) for k, v in before["model"].items())
    assert (started / "history.jsonl").read_text() == history
    assert [r["epoch"] for r in _strict(history)] == [1, 2]


def test_weights_that_are_not_finite_after_the_last_step_are_not_saved(started, train_bank, monkeypatch):
    """The loss of the epoch's last step is finite, its gradients are not: the weights it leaves
    are refused before they replace the last good checkpoint."""
    before = read_checkpoint(started / "last.pt")
    forward, calls = Phase2Objective.forward, []

    def poisoned(self, *a, **kw):
        loss, mf, full = forward(self, *a, **kw)
        calls.append(1)
        if len(calls) == 4:  # the last of epoch 3's 4 steps
            loss = loss * torch.tensor(float("inf"))  # backward gives inf/NaN gradients
        return loss, mf, full

    monkeypatch.setattr(Phase2Objective, "forward", poisoned)
    cfg = tiny_train_config("full", epochs=3)
    with pytest.raises(ModelError, match=r"weights not finite after epoch 3 \(.*keeps epoch 2\)"):
        train_phase2(train_bank, tiny_model("full"), TINY, cfg, started, resume=True, extend=True)
    after = read_checkpoint(started / "last.pt")
    assert after["epoch"] == 2 and all(torch.equal(after["model"][k], v) for k, v in before["model"].items())


def test_history_lines_are_strict_json_with_null_for_a_value_that_does_not_exist():
    row = {"epoch": 3, "loss": float("nan"), "lrs": {"lr": float("inf")}, "x": [1.5, float("-inf")]}
    assert json_line(row) == '{"epoch": 3, "loss": null, "lrs": {"lr": null}, "x": [1.5, null]}'


def test_asymnet_stops_on_a_loss_that_is_not_finite(train_bank, monkeypatch):
    net = _tiny_asymnet(snn_epochs=2, fusion_epochs=1)
    desc = torch.stack([net.describe(train_bank.fmaps[i]) for i in range(len(train_bank))])
    shops = net.describe(train_bank.shop_fmaps)
    bce, calls = asymnet_module._balanced_bce, []

    def diverging(*a, **kw):
        calls.append(1)
        loss = bce(*a, **kw)
        return loss * float("nan") if len(calls) == 6 else loss  # epoch 2, step 2 (4 steps an epoch)

    monkeypatch.setattr(asymnet_module, "_balanced_bce", diverging)
    logged: list[str] = []
    with pytest.raises(ModelError) as exc:
        train_asymnet(net, desc, shops, train_bank.targets, log=logged.append)
    assert "AsymNet diverged: the loss is not finite at stage snn, epoch 2, step 2 (loss nan" in str(
        exc.value
    )
    assert "lower lr" in str(exc.value) and "check the training data" in str(exc.value)
    assert [r["epoch"] for r in _strict("\n".join(logged))] == [1]


def test_the_seam_benchmark_summary_is_strict_json(tmp_path, monkeypatch):
    from movingfashion.seam import report
    from movingfashion.world import seam_bench

    monkeypatch.setattr(seam_bench, "check_args", lambda out, args: None)
    monkeypatch.setattr(seam_bench, "worlds", lambda out, args: (tmp_path / "train", tmp_path / "test"))
    monkeypatch.setattr(seam_bench, "train_seed", lambda *a: [])
    monkeypatch.setattr(seam_bench, "evaluation_current", lambda *a: True)
    ordering = [{"a": "seam", "paired_std": 0.25}]
    monkeypatch.setattr(report, "write_report", lambda *a, **kw: {"ordering": ordering})
    out = tmp_path / "bench"
    summary = seam_bench.main(["--out", str(out), "--seeds", "0"])
    assert _strict((out / "summary.json").read_text().replace("\n", " "))[0] == json.loads(
        json.dumps(summary)
    )
    ordering[0]["paired_std"] = float("nan")  # a NaN is refused, naming the file and the value
    with pytest.raises(NotFiniteJSON, match=r"summary.json: \$.ordering\[0\].paired_std is nan"):
        seam_bench.main(["--out", str(out), "--seeds", "0"])
    assert "NaN" not in (out / "summary.json").read_text()


def test_asymnet_refuses_to_save_weights_that_are_not_finite(tmp_path):
    """A last step with a finite loss can still carry the weights to NaN: the README's rule (no
    checkpoint then) holds for AsymNet's save as for SEAM's."""
    net = _tiny_asymnet(snn_epochs=1, fusion_epochs=1)
    name, param = next((n, p) for n, p in net.named_parameters() if p.is_floating_point())
    with torch.no_grad():
        param.view(-1)[0] = float("nan")
    with pytest.raises(ModelError) as exc:
        asymnet_module.save_asymnet(tmp_path / "last.pt", net, TINY, [])
    assert "weights not finite" in str(exc.value) and name in str(exc.value)
    assert str(tmp_path / "last.pt") in str(exc.value)
    assert list(tmp_path.iterdir()) == []
