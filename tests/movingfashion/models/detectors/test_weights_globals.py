"""``--weights FILE`` for the ultralytics detector: its pickle globals are listed, unread, before
ultralytics unpickles it, and ultralytics loads it offline."""

from __future__ import annotations

import socket

import pytest
import torch

from movingfashion.models.detectors import DetectorConfig, build_detector
from movingfashion.models.detectors.ultralytics_backend import (
    check_weights_globals,
    default_detector_path,
    offline_ultralytics,
)
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
