"""``--weights FILE`` for the ultralytics detector: its pickle globals are listed, unread, before
ultralytics unpickles it, and ultralytics loads it offline."""

from __future__ import annotations

import socket
import zipfile

import pytest
import torch

from movingfashion.models.detectors import DetectorConfig, build_detector
from movingfashion.models.detectors.ultralytics_backend import (
    check_weights_globals,
    default_detector_path,
    offline_ultralytics,
)
from movingfashion.models.pickle_calls import PickleShapeError, calls, checkpoint_calls
from schemas.errors import ModelError
from tests.movingfashion.models.detectors.netaudit import network_attempts


class _Opens:
    """Unpickling this calls ``open(marker, "w")``: the file appears when code ran."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_the_shipped_weights_pass_and_load():
    check_weights_globals(default_detector_path())
    det = build_detector("ultralytics", None, DetectorConfig(device="cpu"))
    assert det.version.startswith("ultralytics:detector.pt:")


def test_weights_saved_by_ultralytics_pass_the_check(tmp_path):
    from ultralytics import YOLO

    YOLO("yolov8n.yaml").save(tmp_path / "w.pt")
    check_weights_globals(tmp_path / "w.pt")


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_weights_that_would_run_code_are_refused_unread(tmp_path, zipped):
    path, marker = tmp_path / "det.pt", tmp_path / "RAN"
    torch.save({"model": _Opens(marker)}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(ModelError, match="cannot load YOLO weights") as err:
        build_detector("ultralytics", path, DetectorConfig(device="cpu"))
    assert err.value.where == str(path)
    if zipped:
        assert "io.open" in str(err.value) and "refused unread" in str(err.value)
    assert not marker.exists()


def test_a_layer_name_from_a_module_outside_the_allowed_ones_is_refused(tmp_path):
    path = tmp_path / "det.pt"
    torch.save({"model": socket.socket}, path)  # a class, but not a network layer
    with pytest.raises(ModelError, match="socket.socket"):
        check_weights_globals(path)


def test_offline_ultralytics_downloads_nothing_and_puts_everything_back():
    import ultralytics.data.utils as data_utils
    import ultralytics.engine.trainer as trainer
    from ultralytics import YOLO
    from ultralytics.utils import WEIGHTS_DIR, downloads

    before = (downloads.safe_download, data_utils.safe_download, data_utils.check_font, trainer.check_amp)
    with network_attempts() as seen, offline_ultralytics():
        with offline_ultralytics():  # nests
            pass
        assert trainer.check_amp is not before[3] and downloads.safe_download is not before[0]
        for name in ("yolo26n.pt", "no-such-model.pt"):  # what check_amp loads on a GPU; any name
            if not (WEIGHTS_DIR / name).exists():
                with pytest.raises(Exception, match="never downloads"):
                    YOLO(WEIGHTS_DIR / name)
        assert data_utils.check_font("Arial.ttf") is None
        assert trainer.check_amp(torch.nn.Linear(1, 1)) is False  # not on CUDA
    assert seen == []
    assert (
        downloads.safe_download,
        data_utils.safe_download,
        data_utils.check_font,
        trainer.check_amp,
    ) == before


def test_a_module_table_changed_by_another_thread_is_read_again():
    """Loading YOLO rebinds names in every loaded ultralytics module; an import in another
    thread meanwhile (a Ray session's threads in the test process) made the copy of
    ``sys.modules`` raise "dictionary changed size during iteration" in a full run."""
    from movingfashion.models.detectors.ultralytics_backend import _items

    class Changing(dict):
        calls = 0

        def items(self):
            Changing.calls += 1
            if Changing.calls == 1:
                raise RuntimeError("dictionary changed size during iteration")
            return super().items()

    assert _items(Changing(a=1)) == [("a", 1)] and Changing.calls == 2


class _BuildsALayer:
    """Unpickling this calls ``DetectionModel(cfg)``: a network layer constructed with the file's
    arguments, whose model parser evaluates ``cfg["activation"]`` (writes ``marker``)."""

    def __init__(self, marker) -> None:
        self.cfg = {
            "nc": 13,
            "activation": f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')",
            "backbone": [[-1, 1, "Conv", [16, 3, 2]]],
            "head": [[-1, 1, "Conv", [16, 3, 2]]],
        }

    def __reduce__(self):
        from ultralytics.nn.tasks import DetectionModel

        return (DetectionModel, (self.cfg,))


def test_weights_that_construct_a_layer_are_refused_unread(tmp_path):
    """Every global it names is a network layer, yet loading would call one (not rebuild it)."""
    path, marker = tmp_path / "det.pt", tmp_path / "RAN"
    torch.save({"model": _BuildsALayer(marker), "train_args": {"task": "detect"}}, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == [
        "ultralytics.nn.tasks.DetectionModel"
    ]
    with pytest.raises(ModelError, match="constructor of ultralytics.nn.tasks.DetectionModel") as err:
        build_detector("ultralytics", path, DetectorConfig(device="cpu"))
    assert err.value.where == str(path) and "refused unread" in str(err.value)
    assert not marker.exists()


class _HandsOnALayer(_BuildsALayer):
    """Unpickling this calls ``torch._tensor._rebuild_from_type_v2(DetectionModel, ...)``, a
    function torch allows, which calls the layer class it is handed: the layer is never the
    callable of a REDUCE, only an argument of one."""

    def __reduce__(self):
        from torch._tensor import _rebuild_from_type_v2
        from ultralytics.nn.tasks import DetectionModel

        return (_rebuild_from_type_v2, (DetectionModel, torch.Tensor, (self.cfg,), {}))


def test_weights_that_hand_a_layer_class_to_a_function_are_refused_unread(tmp_path):
    path, marker = tmp_path / "det.pt", tmp_path / "RAN"
    torch.save({"model": _HandsOnALayer(marker), "train_args": {"task": "detect"}}, path)
    assert ("arg", "ultralytics.nn.tasks.DetectionModel") in checkpoint_calls(path)
    with pytest.raises(ModelError, match="constructor of ultralytics.nn.tasks.DetectionModel"):
        build_detector("ultralytics", path, DetectorConfig(device="cpu"))
    assert not marker.exists()


def test_the_shipped_weights_rebuild_their_layers_and_call_none():
    made = checkpoint_calls(default_detector_path())
    rebuilt = {name for kind, name in made if kind == "new"}
    assert "ultralytics.nn.modules.conv.Conv" in rebuilt and "torch.nn.modules.conv.Conv2d" in rebuilt
    assert not any(kind != "new" and name.startswith(("ultralytics.", "torch.nn.")) for kind, name in made)


def test_opcodes_are_followed_through_the_memo_and_a_truncated_pickle_is_refused(tmp_path):
    import pickle

    data = pickle.dumps([_Opens(tmp_path / "x"), _Opens(tmp_path / "y")], protocol=4)
    assert calls(data) == [("call", "io.open"), ("call", "io.open")]  # the second via the memo
    with pytest.raises(PickleShapeError):
        calls(data[: len(data) // 2])
    path = tmp_path / "short.pt"
    torch.save({"model": torch.nn.Linear(1, 1)}, path)
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("data.pkl"))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, pickle.dumps({"model": 1})[:-3])  # no STOP
    with pytest.raises(PickleShapeError):
        checkpoint_calls(path)
    with pytest.raises(ModelError, match="cannot load YOLO weights"):
        check_weights_globals(path)


def test_weights_whose_network_fails_on_its_first_frames_get_one_line_naming_the_file(tmp_path):
    """Weights that load but whose network cannot run (a layer that is no callable, as a damaged
    or foreign checkpoint has): a ModelError naming the file, not a traceback from inside
    ultralytics; a failure after the first frames is not renamed."""
    import numpy as np

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise TypeError("'int' object is not callable")

    det = build_detector("ultralytics", None, DetectorConfig(device="cpu"))
    det.model.model.model[0].act = Broken()  # the first layer cannot run
    with pytest.raises(ModelError, match="fails on its first frames: TypeError") as err:
        det.detect(np.zeros((1, 64, 64, 3), np.uint8))
    assert err.value.where == str(default_detector_path())
    ok = build_detector("ultralytics", None, DetectorConfig(device="cpu"))
    ok.detect(np.zeros((1, 64, 64, 3), np.uint8))  # the predictor is set up
    ok.network().model[0].act = Broken()  # fails from now on: not on the first frames
    with pytest.raises(TypeError, match="not callable"):
        ok.detect(np.zeros((1, 64, 64, 3), np.uint8))
