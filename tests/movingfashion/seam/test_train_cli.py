"""``mf train``'s options before anything is trained: ``--resume`` without a run, ``--variant``
against a ``--config`` file, AsymNet's ``--dataset``, ``--resume`` and ``--epochs`` (run_phase2 /
run_asymnet replaced by stubs that record what they were given)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from movingfashion.seam import asymnet as asymnet_module
from movingfashion.seam import cli as cli_module
from movingfashion.seam import train as train_module
from movingfashion.seam.cli import train


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "dataset"
    root.mkdir()
    (root / "train.json").write_text("{}")
    return root


@pytest.fixture()
def calls(monkeypatch):
    """What run_phase2 / run_asymnet were called with (they return a finished run's summary)."""
    got: list[dict] = []

    def phase2(dataset, out, cfg, **kw):
        got.append({"cfg": cfg, **kw})
        return {"variant": cfg.model.variant.value, "checkpoint": f"{out}/last.pt", "final_loss": None}

    def asym(dataset, out, cfg, **kw):
        got.append({"cfg": cfg, **kw})
        return {
            "method": "asymnet",
            "snn_epochs": cfg.snn_epochs,
            "fusion_epochs": cfg.fusion_epochs,
            "history": [{}] * (cfg.snn_epochs + cfg.fusion_epochs),
            "train_videos": 4,
            "train_products": 4,
            "final_loss": 0.5,
            "checkpoint": f"{out}/last.pt",
        }

    monkeypatch.setattr(train_module, "run_phase2", phase2)
    monkeypatch.setattr(cli_module, "require_usable_train", lambda dataset: None)  # an empty split here
    monkeypatch.setattr(asymnet_module, "run_asymnet", asym)
    return got


def _main(args: list[str], capsys, stream: str = "err") -> tuple[int, str]:
    """``mf ARGS`` as the command line runs it (errors become exit statuses): (status, stderr or
    stdout)."""
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    with pytest.raises(SystemExit) as exc:
        run_main(cli, args)
    got = capsys.readouterr()
    return exc.value.code, got.err if stream == "err" else got.out


def test_resume_without_the_run_folder_says_so_and_starts_at_epoch_0(dataset, tmp_path, calls):
    """Never silent (a typo in --out shows on stderr), and the same --resume command serves the
    first run and every rerun after a kill (tests/test_kill_anywhere.py)."""
    out = tmp_path / "runs" / "typo"
    res = CliRunner().invoke(train, ["--dataset", str(dataset), "--out", str(out), "--resume", "--json"])
    assert res.exit_code == 0, res.output
    assert (
        res.stderr.strip()
        == f"no {out / 'last.pt'} ({out} does not exist yet: check --out): starting at epoch 0"
    )
    assert calls[0]["resume"] is True
    res = CliRunner().invoke(train, ["--dataset", str(dataset), "--out", str(out), "--extend"])
    assert res.exit_code == 2 and "--resume" in res.output and len(calls) == 1


def test_resume_in_a_folder_without_last_pt_says_it_starts_at_epoch_0(dataset, tmp_path, calls):
    out = tmp_path / "run"
    out.mkdir()
    res = CliRunner().invoke(train, ["--dataset", str(dataset), "--out", str(out), "--resume", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.strip() == f"no {out / 'last.pt'}: starting at epoch 0"
    assert calls[0]["resume"] is True and calls[0]["extend"] is False


def test_resume_of_a_finished_run_says_nothing_was_trained(dataset, tmp_path, monkeypatch):
    """The same --resume command again after the run ended printed "0 of 3 epochs run ...", read
    as a run that did not start; now it says the run is complete and how to make it longer."""

    def finished(dataset, out, cfg, **kw):
        return {
            "variant": "full",
            "epochs": 3,
            "epochs_run": 0,
            "final_loss": 0.5,
            "train_videos": 4,
            "train_products": 4,
            "checkpoint": f"{out}/last.pt",
        }

    monkeypatch.setattr(train_module, "run_phase2", finished)
    monkeypatch.setattr(cli_module, "require_usable_train", lambda dataset: None)
    res = CliRunner().invoke(train, ["--dataset", str(dataset), "--out", str(tmp_path), "--resume"])
    assert res.exit_code == 0, res.output
    assert "already has its 3 epochs, nothing was trained" in res.stdout and "--extend" in res.stdout


def test_the_config_files_variant_holds_unless_variant_is_given(dataset, tmp_path, calls):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("model:\n  variant: no_nlb_g\n  dim: 64\n")
    base = ["--dataset", str(dataset), "--config", str(cfg), "--json"]
    assert CliRunner().invoke(train, [*base, "--out", str(tmp_path / "a")]).exit_code == 0
    assert (
        CliRunner().invoke(train, [*base, "--out", str(tmp_path / "b"), "--variant", "full"]).exit_code == 0
    )
    assert [c["cfg"].model.variant.value for c in calls] == ["no_nlb_g", "full"]
    assert [c["cfg"].model.dim for c in calls] == [64, 64]
    assert CliRunner().invoke(train, ["--dataset", str(dataset), "--out", str(tmp_path / "c")]).exit_code == 0
    assert calls[-1]["cfg"].model.variant.value == "full"  # the default


def test_asymnet_needs_a_dataset_refuses_resume_and_says_what_epochs_sets(dataset, tmp_path, calls):
    res = CliRunner().invoke(train, ["--method", "asymnet", "--out", str(tmp_path / "a")])
    assert res.exit_code == 2 and "Missing option '--dataset'" in res.output
    assert "Traceback" not in res.output and not calls
    res = CliRunner().invoke(
        train, ["--method", "asymnet", "--dataset", str(dataset), "--out", str(tmp_path / "a"), "--resume"]
    )
    assert res.exit_code == 2 and "--resume" in res.output and not calls
    res = CliRunner().invoke(
        train,
        ["--method", "asymnet", "--dataset", str(dataset), "--out", str(tmp_path / "a"), "--epochs", "1"],
    )
    assert res.exit_code == 0, res.output
    assert calls[0]["cfg"].snn_epochs == 1 and calls[0]["cfg"].fusion_epochs == 10
    assert "stage 1 (LSTM + similarity nodes, --epochs) 1 epochs" in res.stdout
    assert "stage 2 (fusion tree, fusion_epochs) 10 epochs" in res.stdout
    help_text = CliRunner().invoke(train, ["--help"]).output
    assert "fusion_epochs" in help_text and "--extend" in help_text


def test_a_train_split_without_tracklets_says_to_build_them_and_creates_no_run_folder(tmp_path, capsys):
    """A dataset published before ``mf-tracklets build``: exit 2, the first skipped row and the
    fix on stderr, and ``--out`` is not made (SEAM and AsymNet alike)."""
    import json

    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    root = tmp_path / "dataset"
    (root / "videos").mkdir(parents=True)
    (root / "imgs").mkdir()
    (root / "videos" / "a.mp4").write_bytes(b"not read")
    (root / "imgs" / "a.jpg").write_bytes(b"not read")
    entry = {"video_paths": ["videos/a.mp4"], "img_path": "imgs/a.jpg", "source": 0, "tracklets": [{}]}
    (root / "train.json").write_text(json.dumps({"a": entry}))
    for method in ("seam", "asymnet"):
        out = tmp_path / "runs" / method
        with pytest.raises(SystemExit) as exc:
            run_main(cli, ["train", "--dataset", str(root), "--out", str(out), "--method", method])
        err = capsys.readouterr().err
        assert exc.value.code == 2, err
        assert "no usable videos in the train split" in err
        assert "empty tracklet" in err and "mf-tracklets build" in err
        assert not out.exists()


def test_phase1_refuses_phase2_options_and_an_existing_matcher(tmp_path, capsys):
    """They were dropped without a word (an invalid --config too), and a rerun replaced
    OUT/matcher.pt, which phase 2 starts from."""
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: not-a-number\n")
    (tmp_path / "df2").mkdir()
    base = ["train", "--df2", str(tmp_path / "df2"), "--phase", "1", "--out", str(tmp_path / "p1")]
    for extra, named in (
        (["--config", str(bad)], "--config"),
        (["--resume", "--epochs", "3"], "--epochs, --resume"),
        (["--method", "asymnet"], "--method"),
        (["--dataset", str(tmp_path / "df2")], "--dataset"),  # with --df2: it was dropped too
    ):
        with pytest.raises(SystemExit) as exc:
            run_main(cli, [*base, *extra])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and f"{named} " in err and "for phase 2" in err, err
    (tmp_path / "p1").mkdir()
    (tmp_path / "p1" / "matcher.pt").write_bytes(b"kept")
    with pytest.raises(SystemExit) as exc:
        run_main(cli, base)
    assert exc.value.code == 2 and "matcher.pt exists" in capsys.readouterr().err
    assert (tmp_path / "p1" / "matcher.pt").read_bytes() == b"kept"


def test_seeds_and_steps_out_of_range_are_refused_before_anything_is_written(tmp_path, capsys, calls):
    """A negative seed crashed numpy after the feature bank was written, a huge one torch;
    --steps 0 trained nothing and exited 0."""
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    (tmp_path / "df2").mkdir()
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "train.json").write_text("{}")
    big = tmp_path / "seed.yaml"
    big.write_text("seed: 99999999999999999999999\n")
    runs = [
        (["--dataset", str(tmp_path / "ds"), "--phase", "2", "--seed", "-5"], "--seed"),
        (["--dataset", str(tmp_path / "ds"), "--method", "asymnet", "--seed", str(2**32)], "--seed"),
        (["--dataset", str(tmp_path / "ds"), "--phase", "2", "--config", str(big)], "field 'seed'"),
        (["--df2", str(tmp_path / "df2"), "--phase", "1", "--steps", "0"], "--steps"),
    ]
    for n, (args, named) in enumerate(runs):
        out = tmp_path / f"run{n}"
        with pytest.raises(SystemExit) as exc:
            run_main(cli, ["train", *args, "--out", str(out)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and named in err and "Traceback" not in err, err
        assert not out.exists()
    assert calls == []  # no training started


def test_a_refused_matcher_leaves_no_run_folder(gt_dataset, tmp_path, capsys):
    """Detector weights given as --matcher were refused after --out was made (audit_gpu G8)."""
    from movingfashion.app.cli import cli
    from movingfashion.models.matchrcnn import default_matcher_path
    from schemas.cli_support import run_main

    detector = default_matcher_path().with_name("detector.pt")
    out = tmp_path / "runs" / "x"
    with pytest.raises(SystemExit) as exc:
        run_main(cli, ["train", "--dataset", str(gt_dataset), "--out", str(out), "--matcher", str(detector)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "detector.pt" in err, err
    assert not out.exists()


@pytest.mark.parametrize("method", ["seam", "asymnet"])
def test_a_rerun_without_resume_never_replaces_a_trained_run(dataset, tmp_path, calls, method, capsys):
    """The README's ``mf train --dataset dataset --phase 2 ... --out runs/full --epochs 10`` run
    again after it finished started at epoch 0 and overwrote runs/full/last.pt with its first
    epoch (phase 1 already refused an existing matcher.pt). Refused now, saying what to do;
    ``--resume`` still continues the run."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"a trained run")
    args = ["--dataset", str(dataset), "--out", str(out), "--method", method]
    code, line = _main(["train", *args], capsys)
    assert code == 2 and "last.pt: exists" in line and "--out" in line, line
    code, said = _main(["train", *args, "--json"], capsys, stream="out")
    doc = json.loads(said)
    assert doc["ok"] is False and doc["path"] == str(out / "last.pt"), doc  # it was null
    assert calls == [] and (out / "last.pt").read_bytes() == b"a trained run"
    if method == "seam":
        assert "--resume continues it" in line
        assert CliRunner().invoke(train, [*args, "--resume"]).exit_code == 0 and calls[0]["resume"] is True


@pytest.mark.parametrize("method", ["seam", "asymnet"])
def test_an_out_folder_inside_the_dataset_is_refused_before_anything_is_written(
    dataset, tmp_path, capsys, calls, method
):
    """``mf train --dataset dataset --out dataset/runs`` trained into the dataset folder: last.pt,
    history.jsonl and features/ are files its manifest does not list, so ``mf verify`` broke and
    the next ``mf publish`` refused the folder (``mf evaluate`` already refused such an --out)."""
    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main

    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli, ["train", "--dataset", str(dataset), "--out", str(dataset / "runs"), "--method", method]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "the training run folder is inside the dataset folder" in err, err
    assert f"--out {dataset / 'runs'}" in err and calls == []
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before


def test_an_empty_split_says_it_lists_no_product_not_to_build_tracklets(tmp_path, capsys):
    """A split file with no product (``{}``) was "no usable videos ... build the tracklets
    first: mf-tracklets build", in mf train and mf evaluate alike, which cannot help."""
    from torch import nn

    from movingfashion.app.cli import cli
    from movingfashion.seam.features import build_bank
    from schemas.cli_support import run_main
    from schemas.errors import DataFormatError

    root = tmp_path / "dataset"
    root.mkdir()
    (root / "train.json").write_text("{}")
    (root / "test.json").write_text("{}")
    out = tmp_path / "runs" / "a"
    with pytest.raises(SystemExit) as exc:
        run_main(cli, ["train", "--dataset", str(root), "--out", str(out)])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert "train split lists no product" in err and "mf-tracklets" not in err
    assert not out.exists()
    with pytest.raises(DataFormatError, match="test split lists no product") as bank_err:
        build_bank(root, "test", nn.Linear(1, 1), crop_size=8, pool=3)
    assert "mf-tracklets" not in str(bank_err.value)


def test_phase2_says_which_matcher_it_started_from(dataset, tmp_path, monkeypatch):
    """The demo printed its matcher; `mf train` phase 2 did not say whether it found phase 1's
    (OUT/phase1 or OUT/../phase1) or fell back to the embedded default. Now stderr says it, with
    --json too, and the JSON has ``matcher`` and ``matcher_via`` (run_phase2's summary, here made by
    the same helpers run_phase2 uses)."""
    import json
    from pathlib import Path

    def phase2(dataset, out, cfg, *, matcher=None, **kw):
        out = Path(out)
        path = train_module.resolve_matcher_path(matcher, out)
        return {
            "variant": cfg.model.variant.value,
            "checkpoint": f"{out}/last.pt",
            "final_loss": None,
            "matcher": str(path) if path else "embedded default",
            "matcher_via": train_module.matcher_origin(matcher, path, out),
        }

    monkeypatch.setattr(train_module, "run_phase2", phase2)
    monkeypatch.setattr(cli_module, "require_usable_train", lambda dataset: None)
    phase1 = tmp_path / "runs" / "phase1" / "matcher.pt"
    phase1.parent.mkdir(parents=True)
    phase1.write_bytes(b"weights")
    res = CliRunner().invoke(
        train, ["--dataset", str(dataset), "--out", str(tmp_path / "runs" / "full"), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["matcher_via"] == "phase 1's, found in OUT/../phase1"
    assert f"phase 2 started from matcher: {phase1} (phase 1's, found in OUT/../phase1)" in res.stderr
    res = CliRunner().invoke(train, ["--dataset", str(dataset), "--out", str(tmp_path / "alone")])
    assert res.exit_code == 0, res.output
    assert "phase 2 started from matcher: embedded default (no OUT/phase1/matcher.pt" in res.stderr


@pytest.mark.parametrize(("method", "found"), [("asymnet", "seam"), ("seam", "asymnet")])
def test_a_run_of_the_other_method_in_out_is_named_as_such(dataset, tmp_path, calls, method, found, capsys):
    """``mf train --method asymnet`` into a SEAM run's folder said "remove it to train AsymNet
    again" (and SEAM into an AsymNet run's folder said "--resume continues it", which it cannot):
    the message names the folder, the run it holds, and to pass another --out."""
    import torch

    out = tmp_path / "run"
    out.mkdir()
    torch.save({"kind": found, "version": 1}, out / "last.pt")
    code, said = _main(["train", "--dataset", str(dataset), "--out", str(out), "--method", method], capsys)
    names = {"seam": "SEAM", "asymnet": "AsymNet"}
    assert code == 2 and calls == [], said
    said = " ".join(said.split())
    assert f"{out}: holds a {names[found]} run" in said, said
    assert f"pass another --out to train {names[method]}" in said, said
    assert "again" not in said and "--resume" not in said, said


@pytest.mark.parametrize("method, stage", [("seam", "train"), ("asymnet", "asymnet")])
def test_a_config_files_error_names_the_stage_to_show(dataset, tmp_path, calls, capsys, method, stage):
    """The hint names the stage (``mf config show train``), not ``STAGE``; nothing is trained."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("lrr: 0.1\n")
    args = ["train", "--method", method, "--dataset", str(dataset), "--config", str(cfg)]
    status, err = _main([*args, "--out", str(tmp_path / "run")], capsys)
    assert status == 2 and "field 'lrr'" in err and not calls
    assert f"mf config show {stage} prints the values in effect" in err and "STAGE" not in err
