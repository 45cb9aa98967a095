"""A bad value given on ``mf train`` / ``mf evaluate``'s command line names the option, not the
config file (which may not even hold the key) nor the config model."""

from __future__ import annotations

import pytest

from movingfashion.seam import cli as cli_module
from movingfashion.seam.cli import evaluate, train
from schemas.cli_support import run_main


@pytest.fixture()
def dataset(tmp_path, monkeypatch):
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "train.json").write_text("{}")
    (root / "test.json").write_text("{}")
    monkeypatch.setattr(cli_module, "require_usable_train", lambda dataset: None)  # an empty split here
    return root


def _error(cmd, args, capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        run_main(cmd, args)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("method", "option", "value"),
    [("seam", "--epochs", "0"), ("seam", "--batch-size", "1"), ("asymnet", "--epochs", "0")],
)
def test_a_bad_train_option_names_the_option_not_the_config_file(
    dataset, tmp_path, capsys, method, option, value
):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("lr: 0.02\n")
    args = [
        "--dataset",
        str(dataset),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(cfg),
        "--method",
        method,
    ]
    line = _error(train, [*args, option, value], capsys)
    assert line.startswith(f"error: {option}: {value}: "), line
    assert "t.yaml" not in line and "field '" not in line, line


def test_an_error_in_the_file_still_names_the_file(dataset, tmp_path, capsys):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("lr: 0\n")
    args = ["--dataset", str(dataset), "--out", str(tmp_path / "run"), "--config", str(cfg), "--epochs", "2"]
    line = _error(train, args, capsys)
    assert line.startswith(f"error: {cfg}: field 'lr': "), line


def test_a_bad_evaluate_option_names_the_option_not_the_model(dataset, tmp_path, capsys):
    ckpt = tmp_path / "x.pt"
    ckpt.touch()
    line = _error(evaluate, ["--dataset", str(dataset), "--checkpoint", str(ckpt), "--pools", "0"], capsys)
    assert line.startswith("error: --pools: 0: "), line
    assert "EvalConfig" not in line, line


@pytest.mark.parametrize("option", ["--out", "--cache"])
def test_an_evaluation_written_inside_the_dataset_folder_is_refused(dataset, tmp_path, capsys, option):
    """``mf evaluate --out dataset/eval`` (or ``--cache``) wrote results and feature banks into
    the dataset folder: files its manifest does not list, which break ``mf verify`` and stop the
    next ``mf publish``. Refused before the checkpoint is read, naming the option."""
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(b"not read")
    args = ["--dataset", str(dataset), "--checkpoint", str(ckpt), option, str(dataset / "eval")]
    line = _error(evaluate, args, capsys)
    assert "inside the dataset folder" in line and option in line, line
    assert sorted(p.name for p in dataset.iterdir()) == ["test.json", "train.json"]


@pytest.mark.parametrize(
    ("value", "words"), [("0", "greater than or equal to 1"), ("5,-1", "item 1"), (",", "at least 1")]
)
def test_a_sequence_length_below_one_names_frames_before_the_checkpoint_is_read(
    dataset, tmp_path, capsys, value, words
):
    """``--frames 0`` passed the option check and stopped later, once the checkpoint was
    loaded, on "frames: clip length T must be >= 1" (not the option's name); ``--frames ,``
    evaluated no length at all."""
    ckpt = tmp_path / "x.pt"
    ckpt.write_bytes(b"not read")
    line = _error(evaluate, ["--dataset", str(dataset), "--checkpoint", str(ckpt), "--frames", value], capsys)
    assert line.startswith("error: --frames: ") and words in line, line


def test_a_run_folder_given_as_checkpoint_reads_its_last_pt(dataset, tmp_path, capsys, monkeypatch):
    """``--checkpoint runs/full`` (the folder ``mf train --out`` filled) stopped on click's
    "File ... is a directory"; the folder now stands for its last.pt."""
    from movingfashion.seam import evaluate as evaluate_module

    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"not read")
    seen: list = []

    def fake_run_evaluate(dataset, checkpoints, cfg, **kw):
        seen.extend(checkpoints)
        raise SystemExit(0)

    monkeypatch.setattr(evaluate_module, "run_evaluate", fake_run_evaluate)
    with pytest.raises(SystemExit):
        run_main(evaluate, ["--dataset", str(dataset), "--checkpoint", str(run)])
    assert seen == [str(run / "last.pt")]


def test_a_folder_without_last_pt_given_as_checkpoint_is_named(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    line = _error(evaluate, ["--dataset", str(dataset), "--checkpoint", str(run)], capsys)
    assert "--checkpoint" in line and f"{run} is a folder without last.pt" in line, line


def test_a_phase1_run_folder_given_as_matcher_reads_its_matcher_pt(dataset, tmp_path, monkeypatch):
    """``mf train --matcher runs/phase1`` (the folder ``mf train --phase 1 --out`` filled) stopped on
    click's "File ... is a directory"; the folder now stands for its matcher.pt, as for
    ``mf evaluate --checkpoint`` a run folder stands for its last.pt."""
    from movingfashion.seam import train as train_module

    phase1 = tmp_path / "phase1"
    phase1.mkdir()
    (phase1 / "matcher.pt").write_bytes(b"not read")
    seen: list = []

    def fake_run_phase2(dataset, out, cfg, *, matcher, **kw):
        seen.append(matcher)
        raise SystemExit(0)

    monkeypatch.setattr(train_module, "run_phase2", fake_run_phase2)
    with pytest.raises(SystemExit):
        run_main(train, ["--dataset", str(dataset), "--out", str(tmp_path / "run"), "--matcher", str(phase1)])
    assert seen == [str(phase1 / "matcher.pt")]
