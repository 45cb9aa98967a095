"""``mf train-detector``'s checks before training: a bad data yaml is refused in one line, exit 2,
nothing written; ultralytics' prints stay off stdout (``--json``)."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from annotations.cli import train_detector
from annotations.training import check_data_yaml, prints_to_stderr
from schemas.cli_support import run_main
from schemas.errors import ConfigError


def _dataset(root):
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
    return root


GOOD = "train: images/train\nval: images/val\nnames: {0: short_sleeved_shirt, 1: trousers}\n"


@pytest.mark.parametrize(
    "text,match",
    [
        ("hello\n", "not a mapping"),
        ("- a\n- b\n", "not a mapping"),
        ("train: [unclosed\n", "line 2: expected ',' or ']'"),
        (GOOD + "download: https://example.com/df2.zip\n", "download: key"),
        ("val: images/val\nnames: [a]\n", "no train: images"),
        ("train: images/train\nnames: [a]\n", "no val: images"),
        ("train: images/train\nval: images/nope\nnames: [a]\n", "val: 'images/nope' not found"),
        ("train: [images/train, x]\nval: images/val\nnames: [a]\n", "train: 'x' not found"),
        ("path: /nonexistent/ds\ntrain: images/train\nval: images/val\nnames: [a]\n", "is not a folder"),
        ("train: images/train\nval: images/val\n", "neither names: nor nc:"),
        ("train: images/train\nval: images/val\nnames: [a, b]\nnc: 3\n", "2 classes but nc: 3"),
        ("train: images/train\nval: images/val\nnc: many\n", "not a positive whole number"),
    ],
)
def test_bad_data_yaml_is_refused(tmp_path, text, match):
    _dataset(tmp_path)
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        check_data_yaml(tmp_path / "data.yaml")


#: an alias bomb: eight short lines standing for 9**8 class names, each walked by ultralytics
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True)
)


@pytest.mark.parametrize(
    "text,match",
    [
        (BOMB + "train: images/train\nval: images/val\nnames: *h\n", "expand to more than 1,000,000 values"),
        ("train: images/train\nval: images/val\nnames: &n [a, *n]\n", "refers to a node that holds it"),
        ("train: images/train\nval: images/val\ntrain: images/val\nnames: [a]\n", "'train' is given twice"),
    ],
)
def test_a_data_yaml_is_read_by_the_one_safe_loader(tmp_path, text, match):
    """Before: plain ``yaml.safe_load`` took an alias bomb or a loop (ultralytics then walked
    billions of names, or for ever) and kept the last of two ``train:`` keys; now the data yaml
    is read as a config file is (``schemas.config.parse_config_text``), one line naming it."""
    _dataset(tmp_path)
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match) as err:
        check_data_yaml(tmp_path / "data.yaml")
    assert err.value.where == str(tmp_path / "data.yaml")


def test_good_data_yaml_passes(tmp_path):
    _dataset(tmp_path / "ds")
    (tmp_path / "ds" / "data.yaml").write_text(GOOD)
    assert check_data_yaml(tmp_path / "ds" / "data.yaml")["names"][1] == "trousers"
    # path: elsewhere, ultralytics' validation: spelling and nc: alone
    other = f"path: {tmp_path / 'ds'}\ntrain: images/train\nvalidation: images/val\nnc: 13\n"
    (tmp_path / "other.yaml").write_text(other)
    assert check_data_yaml(tmp_path / "other.yaml")["val"] == "images/val"


@pytest.mark.parametrize("text", ["hello\n", GOOD + "download: https://example.com/df2.zip\n"])
def test_cli_refuses_a_bad_data_yaml_in_one_line_writing_nothing(tmp_path, capsys, text):
    _dataset(tmp_path)
    (tmp_path / "t.yaml").write_text(text)
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as ex:
        run_main(train_detector, ["--data", str(tmp_path / "t.yaml"), "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert ex.value.code == 2 and json.loads(captured.out)["ok"] is False  # --json: the error document
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert not out.exists()


def test_ultralytics_prints_go_to_stderr(capsys):
    from ultralytics.utils import LOGGER

    handler = next(h for h in LOGGER.handlers if isinstance(h, logging.StreamHandler))
    # as when ultralytics is imported by a command (assigned: setStream would flush the stream
    # it holds, which an earlier test's capture may have closed)
    old, handler.stream = handler.stream, sys.stdout
    try:
        with prints_to_stderr():
            LOGGER.error("from the logger")
            print("from print")
        assert handler.stream is sys.stdout  # put back
    finally:
        handler.stream = old
    captured = capsys.readouterr()
    assert captured.out == "" and "from the logger" in captured.err and "from print" in captured.err


def test_a_handler_stream_closed_since_the_import_does_not_stop_the_command(capsys):
    """ultralytics' handler holds the stdout of its import; when that was a stream closed since
    (a test runner's capture of an earlier test), switching it must not flush it (which raised
    "I/O operation on closed file" out of mf train-detector)."""
    import io

    from ultralytics.utils import LOGGER

    handler = next(h for h in LOGGER.handlers if isinstance(h, logging.StreamHandler))
    gone = io.TextIOWrapper(io.BytesIO())  # as a capture's stream: flush() raises once closed
    gone.close()
    before = handler.stream
    handler.stream = gone
    try:
        with prints_to_stderr():
            LOGGER.error("still logged")
        assert handler.stream is gone  # put back as it was
    finally:
        handler.stream = before
    assert "still logged" in capsys.readouterr().err


def test_df2_and_data_together_are_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    """--data was trained on and --df2 dropped without a word (exit 0 after the training)."""
    import annotations.training as training

    monkeypatch.setattr(training, "train_detector", lambda *a, **kw: pytest.fail("trained"))
    _dataset(tmp_path / "ds")
    (tmp_path / "ds" / "data.yaml").write_text(GOOD)
    (tmp_path / "df2").mkdir()
    out = tmp_path / "det"
    args = ["--df2", str(tmp_path / "df2"), "--data", str(tmp_path / "ds" / "data.yaml"), "--out", str(out)]
    with pytest.raises(SystemExit) as exc:
        run_main(train_detector, [*args, "--json"])
    captured = capsys.readouterr()
    assert exc.value.code == 2 and "--df2 and --data" in captured.err
    assert json.loads(captured.out)["reason"] == "usage" and not out.exists()


def test_df2_takes_a_synthetic_world_folder_as_pretrain_matcher_does(tmp_path, capsys, monkeypatch):
    """The finding: `mf pretrain-matcher --df2 world` and `mf train --df2 world` read a synthetic
    world's df2/, while `mf train-detector --df2 world` refused it (no split folder there). Now
    train-detector converts the world's df2/ too; a DeepFashion2 root is read as before."""
    import shutil

    import torch
    import ultralytics

    from tests.movingfashion.helpers import make_df2_black

    trained: list[str] = []

    class FakeYOLO:  # ultralytics' training: records the data yaml, writes finite best weights
        def __init__(self, model):
            self.model = None

        def train(self, data, project, name, **kw):
            trained.append(data)
            weights = tmp_path / project / name / "weights"
            weights.mkdir(parents=True, exist_ok=True)
            torch.save({"model": None, "ema": None}, weights / "best.pt")

    monkeypatch.setattr(ultralytics, "YOLO", FakeYOLO)
    world = tmp_path / "world"
    make_df2_black(world / "df2")
    for source, out in ((world, tmp_path / "det_world"), (world / "df2", tmp_path / "det_root")):
        run_main(train_detector, ["--df2", str(source), "--out", str(out), "--epochs", "1", "--json"])
        captured = capsys.readouterr()
        assert json.loads(captured.out) == {"weights": str(out / "detector.pt")}, captured.err
        labels = sorted(p.name for p in (out / "yolo-data" / "labels" / "train").iterdir())
        assert labels == ["000001.txt", "000002.txt", "000003.txt"]
    assert trained == [str(tmp_path / d / "yolo-data" / "data.yaml") for d in ("det_world", "det_root")]
    shutil.rmtree(world / "df2")
    with pytest.raises(SystemExit) as exc:
        run_main(train_detector, ["--df2", str(world), "--out", str(tmp_path / "det_none"), "--json"])
    assert exc.value.code != 0 and "no DeepFashion2 split folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (("train", "validation"), "no DeepFashion2 split folder with annos/ among ['train', 'validation']"),
        (("validation",), "no validation split to convert"),
        (("train",), "no train split to convert"),
    ],
    ids=["no split (a dataset folder)", "train only", "validation only"],
)
def test_a_df2_root_without_its_splits_is_refused_before_the_model_or_out(
    tmp_path, capsys, monkeypatch, drop, message
):
    """The finding: `mf train-detector --df2 dataset` (a MovingFashion dataset, no annos/) loaded
    ultralytics (its settings banner on stderr), built the YOLO model and made --out before the
    conversion said the folder holds no DeepFashion2 split. Now the splits are checked first:
    one line, exit 2, no model built, --out not made."""
    import shutil

    import ultralytics

    from tests.movingfashion.helpers import make_df2_black

    monkeypatch.setattr(ultralytics, "YOLO", lambda *a, **kw: pytest.fail("built the model"))
    df2 = make_df2_black(tmp_path / "df2")
    (df2 / "train.json").write_text("{}")  # as a dataset folder beside it would hold
    for split in drop:
        shutil.rmtree(df2 / split)
    out = tmp_path / "det"
    with pytest.raises(SystemExit) as exc:
        run_main(train_detector, ["--df2", str(df2), "--out", str(out), "--epochs", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith(f"error: {df2}: {message}") and err.count("\n") == 1, err
    assert not out.exists()
