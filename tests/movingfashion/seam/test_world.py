"""End to end on the synthetic world's ground-truth dataset: phase 1 -> phase 2 -> evaluate -> report."""

import json

import pytest
import torch
from click.testing import CliRunner

from movingfashion.seam.cli import evaluate, report, train
from schemas.official import read_official


@pytest.fixture(scope="module")
def runs(small_world, gt_dataset, tmp_path_factory):
    """Phase 1 on the world's DeepFashion2-format set (the one matcher pretraining), then phase 2 via the CLI."""
    root = tmp_path_factory.mktemp("seam-runs")
    cli = CliRunner()
    r1 = cli.invoke(
        train,
        [
            "--df2",
            str(small_world),
            "--phase",
            "1",
            "--out",
            str(root / "phase1"),
            "--steps",
            "8",
            "--json",
        ],
    )
    assert r1.exit_code == 0, r1.output
    cfg = root / "cfg.yaml"
    cfg.write_text("pool_frames: 12\nfinetune_lr: 0.0\nsingle_frame_weight: 0.0\n")
    r2 = cli.invoke(
        train,
        [
            "--dataset",
            str(gt_dataset),
            "--phase",
            "2",
            "--variant",
            "no_nlb",
            "--out",
            str(root / "no_nlb"),
            "--epochs",
            "2",
            "--frames",
            "5",
            "--batch-size",
            "4",
            "--config",
            str(cfg),
            "--json",
        ],
    )
    assert r2.exit_code == 0, r2.output
    return root, json.loads(r1.stdout), json.loads(r2.stdout)


@pytest.mark.slow
def test_phase2_starts_from_phase1_weights(runs):
    from movingfashion.models import load_matcher
    from movingfashion.seam.checkpoint import load_checkpoint

    root, p1, p2 = runs
    assert (
        p1["matcher"] == str(root / "phase1" / "matcher.pt")
        and p1["via"] == "movingfashion.models.pretrain.pretrain_matcher"
    )
    assert p2["matcher"] == p1["matcher"] and p2["epochs_run"] == 2 and p2["train_videos"] > 5
    model, ckpt = load_checkpoint(root / "no_nlb" / "last.pt", device="cpu")
    sf = load_matcher(p1["matcher"], device="cpu")
    # finetune_lr 0: f~ and m~ keep exactly phase 1's f and m weights (batch-norm statistics
    # still adapt); the encoder is frozen
    for a, b in zip(model.head.extractor.parameters(), sf.f.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(model.head.match.fc.weight, sf.m.fc.weight)
    for a, b in zip(model.encoder.state_dict().values(), sf.encoder.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # the attention scorer did train (it starts at zero)
    assert ckpt["variant"] == "no_nlb" and ckpt["extra"]["history"][-1]["steps"] >= 1
    assert model.head.scorer.weight.abs().sum() > 0


def test_phase1_pretrains_on_pairs_made_from_the_dataset(gt_dataset, tmp_path):
    from movingfashion.deepfashion2 import iter_split
    from movingfashion.models import load_matcher
    from movingfashion.multidf2 import build_multidf2
    from movingfashion.seam.phase1 import df2_from_dataset, run_phase1

    df2 = df2_from_dataset(gt_dataset, tmp_path / "df2", frames_per_video=2)
    products = read_official(gt_dataset / "train.json")
    # one shop image per product, and every product a (shop, user frames) pair
    images = list(iter_split(df2, "train"))
    assert sum(img.source == "shop" for img in images) == len(products)
    pairs = build_multidf2(df2, "train")
    assert len(pairs) == len(products) and all(len(p["frames"]) >= 1 for p in pairs)
    res = run_phase1(df2, tmp_path / "p1", steps=2)
    assert res["result"]["eval_split"] == "train"
    assert res["result"]["crops"] == sum(len(img.items) for img in images)
    assert load_matcher(res["matcher"], device="cpu").tag == res["result"]["tag"]


@pytest.mark.slow
def test_evaluate_twice_identical_and_report(runs, gt_dataset):
    root, _, _ = runs
    cli = CliRunner()
    args = [
        "--dataset",
        str(gt_dataset),
        "--checkpoint",
        str(root / "no_nlb" / "last.pt"),
        "--frames",
        "5,10",
        "--main-frames",
        "10",
        "--out",
        str(root / "eval"),
        "--json",
    ]
    first = cli.invoke(evaluate, args)
    assert first.exit_code == 0, first.output
    second = cli.invoke(evaluate, args)
    # stdout is the JSON (stderr says what was done with the test bank); the two runs' results are
    # identical, and only what each did with the bank differs: the second reuses the first's
    res, again = json.loads(first.stdout), json.loads(second.stdout)
    assert (res.pop("test_bank")["action"], again.pop("test_bank")["action"]) == ("built", "reused")
    assert again == res
    test_videos = sum(len(e.video_paths) for e in read_official(gt_dataset / "test.json").values())
    assert res["protocol"]["queries"] == test_videos
    assert res["protocol"]["gallery"] == len(read_official(gt_dataset / "test.json"))
    assert set(res["methods"]) == {
        "max_confidence",
        "max_matching",
        "average_distance",
        "seam_no_nlb",
        "seam_salient",
    }
    assert res["methods"]["seam_no_nlb"]["10"]["all"]["top20"] == 1.0  # gallery smaller than 20
    assert res["protocol"]["query_tracklets"] == {"tracklets": test_videos}  # tracklets/*.json were used
    assert res["protocol"]["query_below_min_iou"] == 0 and res["query_iou"] == [1.0] * test_videos

    rep = cli.invoke(report, [str(root / "eval" / "results.json"), "--out", str(root / "report"), "--json"])
    assert rep.exit_code == 0, rep.output
    files = json.loads(rep.stdout)["files"]
    assert {
        "table2.md",
        "table4.csv",
        "table5.md",
        "accuracy_vs_frames.png",
        "attention.png",
        "qualitative.png",
        "report.md",
    } <= set(files)
    for f in files:
        if f.endswith(".png"):
            assert (root / "report" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table2 = (root / "report" / "table2.md").read_text()
    assert table2.splitlines()[0].startswith(
        "| Method | All T-1 | All T-5 | All T-10 | All T-20 | Regular T-1"
    )
    assert "| SEAM w/o NLB |" in table2 and "| Max Confidence |" in table2


@pytest.mark.slow
def test_cli_errors_are_one_line_and_name_the_file(runs, gt_dataset, tmp_path, capsys):
    from movingfashion.seam.cli import _group
    from schemas.cli_support import run_main

    root, _, _ = runs
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    for argv, needle in [
        (["evaluate", "--dataset", str(gt_dataset), "--checkpoint", str(bad)], "corrupt"),
        (
            [
                "evaluate",
                "--dataset",
                str(gt_dataset),
                "--checkpoint",
                str(root / "no_nlb" / "last.pt"),
                "--variant",
                "full",
            ],
            "variant 'no_nlb'",
        ),
        (
            ["train", "--dataset", str(gt_dataset), "--out", str(root / "no_nlb"), "--variant", "no_nlb"],
            "--resume",
        ),
    ]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            run_main(_group, argv)
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and needle in err and len(err.splitlines()) == 1, err
        assert ".pt" in err  # the checkpoint file is named


@pytest.mark.slow
def test_train_prints_json_only_with_json(runs, gt_dataset):
    root, _, p2 = runs
    args = [
        "--dataset",
        str(gt_dataset),
        "--phase",
        "2",
        "--variant",
        "no_nlb",
        "--out",
        str(root / "no_nlb"),
    ]
    args += [
        "--epochs",
        "2",
        "--frames",
        "5",
        "--batch-size",
        "4",
        "--config",
        str(root / "cfg.yaml"),
        "--resume",
    ]
    res = CliRunner().invoke(train, args)
    assert res.exit_code == 0, res.output
    line = res.stdout.strip()
    assert len(line.splitlines()) == 1 and not line.startswith("{"), line
    assert "phase 2 (no_nlb): the run already has its 2 epochs, nothing was trained" in line
    assert p2["checkpoint"] in line
    res = CliRunner().invoke(train, [*args, "--json"])
    assert json.loads(res.stdout)["checkpoint"] == p2["checkpoint"]
