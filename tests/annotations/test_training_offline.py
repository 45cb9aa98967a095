"""``mf train-detector`` never reaches the network: ultralytics' font, weights and AMP-check
downloads are stubbed for the run, and a ``--model`` that would be downloaded is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from annotations.cli import train_detector as train_detector_cli
from annotations.training import train_detector
from movingfashion.models.detectors import DetectorConfig, build_detector
from schemas.cli_support import run_main
from schemas.errors import ConfigError, ModelError
from tests.movingfashion.helpers import make_df2
from tests.movingfashion.models.detectors.netaudit import network_attempts


@pytest.fixture(scope="module")
def df2(tmp_path_factory):
    root = make_df2(tmp_path_factory.mktemp("df2"))
    shutil.copytree(root / "validation", root / "train")
    return root


def test_a_training_run_makes_no_network_attempt_and_its_weights_load(df2, tmp_path):
    from ultralytics.utils import downloads

    before = downloads.safe_download
    with network_attempts() as seen:
        weights = train_detector(df2, tmp_path / "det", epochs=1, imgsz=64, batch=4, device="cpu")
    assert seen == []
    assert downloads.safe_download is before  # the stand-ins are put back
    det = build_detector("ultralytics", weights, DetectorConfig(device="cpu"), allow_random=True)
    assert det.version.startswith("ultralytics:detector.pt:")


@pytest.mark.parametrize("model", ["yolov8n.pt", "https://example.com/m.yaml", "nothere/x.pt"])
def test_a_model_neither_on_disk_nor_a_config_is_refused_before_anything(df2, tmp_path, capsys, model):
    out = tmp_path / "o"
    with network_attempts() as seen:
        with pytest.raises(ConfigError, match="neither an existing file nor a model config") as err:
            train_detector(df2, out, epochs=1, model=model)
        with pytest.raises(SystemExit) as ex:
            run_main(train_detector_cli, ["--df2", str(df2), "--out", str(out), "--model", model])
    assert err.value.where == "--model" and repr(model) in str(err.value)
    captured = capsys.readouterr()
    assert (
        ex.value.code == 2 and captured.err.startswith("error: --model: ") and captured.err.count("\n") == 1
    )
    assert seen == [] and not out.exists()


def test_model_weights_that_would_run_code_are_refused(df2, tmp_path):
    class Opens:
        def __reduce__(self):
            return (open, (str(tmp_path / "RAN"), "w"))

    torch.save({"model": Opens()}, tmp_path / "m.pt")
    with pytest.raises(ModelError, match="io.open"):
        train_detector(df2, tmp_path / "o", epochs=1, model=str(tmp_path / "m.pt"))
    assert not (tmp_path / "RAN").exists() and not (tmp_path / "o").exists()


def test_a_killed_training_resumes_from_its_last_epoch(df2, tmp_path, monkeypatch):
    """A rerun after a kill started again at epoch 1 and overwrote last.pt; ``resume`` goes on
    from the saved epoch, and a finished run is not trained again."""
    from ultralytics.engine.trainer import BaseTrainer

    saved = BaseTrainer.save_model
    epochs_run: list[int] = []

    def save_then_die(self):
        saved(self)
        epochs_run.append(self.epoch)
        if len(epochs_run) == 1:
            raise KeyboardInterrupt  # the kill, right after the first epoch was saved

    monkeypatch.setattr(BaseTrainer, "save_model", save_then_die)
    out = tmp_path / "det"
    with pytest.raises(KeyboardInterrupt):
        train_detector(df2, out, epochs=3, imgsz=64, batch=4, device="cpu")
    assert epochs_run == [0]
    weights = train_detector(None, out, resume=True, device="cpu")
    assert epochs_run == [0, 1, 2]  # epochs 2 and 3, not 1 again
    assert weights == out / "detector.pt" and weights.is_file()
    assert torch.load(out / "train" / "weights" / "last.pt", weights_only=False)["epoch"] == -1  # finished
    before = weights.read_bytes()
    assert train_detector(None, out, resume=True, device="cpu") == weights  # finished: nothing to do
    assert epochs_run == [0, 1, 2] and weights.read_bytes() == before
    with pytest.raises(ModelError, match="nothing to resume"):
        train_detector(None, tmp_path / "empty", resume=True)


def test_a_toolkit_checkpoint_or_a_bare_state_dict_as_model_is_named(df2, tmp_path):
    """--model given the matcher or a state dict got ultralytics' "ERROR ... use an official
    Ultralytics model" (audit_gpu G4): the file is named for what it is."""
    from movingfashion.models.matchrcnn import default_matcher_path

    with pytest.raises(ModelError, match="matcher checkpoint") as err:
        train_detector(df2, tmp_path / "o", epochs=1, model=str(default_matcher_path()))
    assert "ERROR" not in str(err.value)
    torch.save({"w": torch.zeros(2)}, tmp_path / "sd.pt")
    with pytest.raises(ModelError, match="bare state dict"):
        train_detector(df2, tmp_path / "o", epochs=1, model=str(tmp_path / "sd.pt"))
    assert not (tmp_path / "o").exists()


def _evil_activation(marker) -> str:
    """A model config's ``activation`` that writes ``marker`` when ultralytics evaluates it."""
    return (
        f"(__import__('pathlib').Path({str(marker)!r}).write_text('ran'), __import__('torch').nn.SiLU())[1]"
    )


def test_a_model_config_whose_activation_is_code_is_refused_unrun(df2, tmp_path):
    """The finding: ultralytics builds a network from a config with ``eval(activation)``, so a
    ``--model x.yaml`` ran its ``activation`` text as Python. Configs are built in ultralytics'
    restricted mode: only a ``torch.nn`` layer with literal arguments."""
    import ultralytics
    import yaml

    cfg = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/models/v8/yolov8.yaml").read_text())
    cfg.update(activation=_evil_activation(tmp_path / "RAN"), scale="n")
    model = tmp_path / "evil.yaml"
    model.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ModelError, match="unsupported activation") as err:
        train_detector(df2, tmp_path / "o", epochs=1, imgsz=64, batch=4, device="cpu", model=str(model))
    assert not (tmp_path / "RAN").exists()
    assert err.value.where == str(model) and not (tmp_path / "o").exists()


def test_weights_whose_saved_config_holds_code_are_refused_unrun(df2, tmp_path):
    """The same through a ``.pt``: its pickle is only layers and plain values (check_weights_globals
    passes it), but the ``yaml`` its model carries is the config the trainer builds the network
    from, with ``eval(activation)``: ``--model weights.pt`` ran it before training."""
    from movingfashion.models.detectors.ultralytics_backend import default_detector_path

    ckpt = torch.load(default_detector_path(), map_location="cpu", weights_only=False)
    for key in ("model", "ema"):
        if ckpt.get(key) is not None:
            ckpt[key].yaml["activation"] = _evil_activation(tmp_path / "RAN")
    torch.save(ckpt, tmp_path / "m.pt")
    with pytest.raises(ModelError, match="unsupported activation") as err:
        train_detector(
            df2, tmp_path / "o", epochs=1, imgsz=64, batch=4, device="cpu", model=str(tmp_path / "m.pt")
        )
    assert not (tmp_path / "RAN").exists()
    assert err.value.where == str(tmp_path / "m.pt") and not (tmp_path / "o").exists()


class _Opens:
    """A pickle that opens (creates) a file when loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("planted", ["runs code", "killed, not ultralytics'", "finished, not ultralytics'"])
def test_a_planted_last_pt_is_refused_before_it_is_loaded_or_kept(tmp_path, capsys, planted):
    """``--resume`` reads OUT/train/weights/last.pt: one whose pickle would call anything but
    network layers and plain values is refused unread; one that is no ultralytics training
    checkpoint (a matcher's, a dict put there) is refused before ultralytics loads it (an
    uncaught TypeError and its traceback before) and, marked finished, is not copied to
    OUT/detector.pt (it was). Exit 2, one line naming the file, nothing written."""
    out = tmp_path / "det"
    last = out / "train" / "weights" / "last.pt"
    last.parent.mkdir(parents=True)
    if planted == "runs code":
        torch.save({"epoch": 3, "optimizer": {}, "model": _Opens(tmp_path / "RAN")}, last)
    else:
        epoch, optimizer = (3, {"state": {}}) if planted.startswith("killed") else (-1, None)
        torch.save({"epoch": epoch, "optimizer": optimizer, "state_dict": {"w": torch.zeros(2)}}, last)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as ex:
        run_main(train_detector_cli, ["--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and err.startswith(f"error: {last}: ") and err.count("\n") == 1, err
    assert ("io.open" if planted == "runs code" else "no ultralytics training checkpoint") in err
    assert (
        sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    )  # nothing ran or was written
