"""``mf df2``: to-coco, to-yolo and the Multi-DeepFashion2 index."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from movingfashion.df2_cli import df2
from movingfashion.multidf2 import MultiDeepFashion2Dataset


def test_cli_to_coco_and_to_yolo(df2_root, tmp_path):
    runner = CliRunner()
    out = tmp_path / "coco.json"
    res = runner.invoke(
        df2, ["to-coco", "--df2", str(df2_root), "--split", "validation", "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["annotations"] == 20 and len(json.loads(out.read_text())["images"]) == 19
    # the old positional DF2_ROOT still works, with a deprecation warning (a validation-only
    # root needs --val-as-train: see test_to_yolo_without_train_split_needs_the_opt_in)
    res = runner.invoke(
        df2, ["to-yolo", str(df2_root), "--out", str(tmp_path / "yolo"), "--val-as-train", "--json"]
    )
    assert res.exit_code == 0 and "use --df2 instead" in res.stderr, res.output
    data = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert data["names"][7] == "trousers"
    label = (tmp_path / "yolo" / "labels" / "val").glob("*000001.txt")
    lines = next(label).read_text().split("\n")
    assert lines[0].startswith("7 ")  # DF2 id 8 -> YOLO class 7
    assert "Example" in runner.invoke(df2, ["to-coco", "--help"]).output


def test_cli_multidf2_index_roundtrip(df2_root, tmp_path):
    out = tmp_path / "m.json"
    res = CliRunner().invoke(
        df2, ["multidf2", "--df2", str(df2_root), "--split", "validation", "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["sequences"] == 3
    ds = MultiDeepFashion2Dataset(df2_root, "validation", index=out, frames=2)
    assert ds.product_ids == ["1_1", "1_2", "2_1"]


def test_to_yolo_without_train_split_needs_the_opt_in(df2_root, tmp_path, capsys):
    from tests.mf_cli import run_mf

    code, _, err = run_mf(["df2", "to-yolo", "--df2", str(df2_root), "--out", str(tmp_path / "y")], capsys)
    assert code == 2 and "no train split" in err and "--val-as-train" in err and str(df2_root) in err
    assert not (tmp_path / "y" / "data.yaml").exists()
    assert "--val-as-train" in CliRunner().invoke(df2, ["to-yolo", "--help"]).output


def test_to_yolo_without_validation_split_needs_the_opt_in(tmp_path, capsys, caplog):
    from tests.mf_cli import run_mf
    from tests.movingfashion.helpers import make_df2_black

    root = make_df2_black(tmp_path / "df2", 2)
    args = ["df2", "to-yolo", "--df2", str(root), "--out", str(tmp_path / "y"), "--split", "train"]
    code, _, err = run_mf(args, capsys)
    assert code == 2 and "no validation split" in err and "--train-as-val" in err
    with caplog.at_level("WARNING"):
        code, _, _ = run_mf([*args, "--train-as-val"], capsys)
    assert code == 0 and "validates on the training images" in caplog.text
    assert yaml.safe_load((tmp_path / "y" / "data.yaml").read_text())["val"] == "images/train"
    helptext = CliRunner().invoke(df2, ["to-yolo", "--help"]).output
    assert "--train-as-val" in helptext and "--split train --train-as-val" in helptext


def test_every_df2_command_takes_a_world_folder_as_mf_train_does(tmp_path, capsys):
    """``--df2 WORLD`` (a synthetic world folder holding df2/) is read by to-coco, to-yolo and
    multidf2 as ``mf train --df2``, ``mf train-detector`` and ``mf pretrain-matcher`` read it;
    before, each refused it naming WORLD/validation/annos."""
    from tests.mf_cli import run_mf
    from tests.movingfashion.helpers import make_df2_black

    world = tmp_path / "wörld with space"
    make_df2_black(world / "df2", 2)
    out = tmp_path / "o"
    runs = {
        "to-coco": ["--split", "validation", "--out", str(out / "coco.json")],
        "to-yolo": ["--out", str(out / "yolo")],
        "multidf2": ["--split", "validation", "--out", str(out / "m.json")],
    }
    for cmd, args in runs.items():
        code, stdout, err = run_mf(["df2", cmd, "--df2", str(world), *args, "--json"], capsys)
        assert code == 0, (cmd, err)
        json.loads(stdout)
    assert len(json.loads((out / "coco.json").read_text())["images"]) == 2
    assert (out / "yolo" / "data.yaml").is_file() and (out / "m.json").is_file()
    assert "world folder" in CliRunner().invoke(df2, ["to-coco", "--help"]).output
