"""``mf train-detector``'s final copy of ultralytics' best weights to ``OUT/detector.pt`` is atomic:
a copy cut short (disk full) leaves the previous ``detector.pt`` whole and is named as a local fault."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from annotations.training import train_detector
from schemas.errors import LocalFault
from tests.movingfashion.helpers import make_df2

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def df2(tmp_path_factory):
    root = make_df2(tmp_path_factory.mktemp("df2"))
    shutil.copytree(root / "validation", root / "train")
    return root


def test_a_copy_cut_short_by_a_full_disk_leaves_the_previous_detector_whole(df2, tmp_path, monkeypatch):
    import torch
    import ultralytics

    out = tmp_path / "det"
    out.mkdir()
    previous = b"GOOD-PREVIOUS-DETECTOR" * 100
    (out / "detector.pt").write_bytes(previous)
    trained = []

    class FakeYOLO:  # ultralytics' training: a 3 MB best.pt
        def __init__(self, model):
            self.model = None  # the network ultralytics builds (no config to check here)

        def train(self, project, name, **kw):
            weights = tmp_path / "det" / "train" / "weights"
            weights.mkdir(parents=True, exist_ok=True)
            # weights whose values are checked before the copy: about 3 MB of finite ones
            torch.save({"model": None, "ema": None, "blob": torch.rand(3 << 18)}, weights / "best.pt")
            trained.append(True)

    real_sendfile, real_fsync, sent = os.sendfile, os.fsync, [0]

    def sendfile(out_fd, in_fd, offset, count):  # the disk fills after 1 MB (a kernel-side copy)
        if not trained:
            return real_sendfile(out_fd, in_fd, offset, count)
        if sent[0] >= 1 << 20:
            raise ENOSPC
        n = real_sendfile(out_fd, in_fd, offset, min(count, (1 << 20) - sent[0]))
        sent[0] += n
        return n

    def fsync(fd):  # ... or before the written copy reaches the disk
        if trained:
            raise ENOSPC
        return real_fsync(fd)

    monkeypatch.setattr(ultralytics, "YOLO", FakeYOLO)
    monkeypatch.setattr(os, "sendfile", sendfile)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(LocalFault, match="detector.pt"):
        train_detector(df2, out, epochs=1)
    assert (out / "detector.pt").read_bytes() == previous
    assert not [p.name for p in out.iterdir() if p.name.endswith(".part")]


def test_weights_a_training_left_not_finite_are_not_made_the_detector(df2, tmp_path, monkeypatch):
    """The finding: `mf train-detector` copied ultralytics' best weights to OUT/detector.pt
    without looking at them; a run that diverged (NaN) gave a detector.pt whose detections were
    junk. Now the copy is refused, naming the weights and what to do, and detector.pt is not
    written; finite weights are copied as before."""
    import torch
    import ultralytics

    from movingfashion.models.detectors.ultralytics_backend import default_detector_path
    from schemas.errors import ModelError

    ckpt = torch.load(default_detector_path(), map_location="cpu", weights_only=False)
    good = tmp_path / "good.pt"
    torch.save(ckpt, good)
    with torch.no_grad():
        next(iter((ckpt.get("ema") or ckpt["model"]).parameters())).view(-1)[0] = float("nan")
    diverged = tmp_path / "diverged.pt"
    torch.save(ckpt, diverged)
    wrote: list[Path] = []

    class FakeYOLO:  # ultralytics' training: its best weights
        def __init__(self, model):
            self.model = None

        def train(self, project, name, **kw):
            weights = Path(project) / name / "weights"
            weights.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(wrote[-1], weights / "best.pt")

    monkeypatch.setattr(ultralytics, "YOLO", FakeYOLO)
    out = tmp_path / "det"
    wrote.append(diverged)
    with pytest.raises(ModelError) as err:
        train_detector(df2, out, epochs=1)
    best = out / "train" / "weights" / "best.pt"
    assert err.value.where == str(best) and "not finite" in str(err.value)
    assert f"{out / 'detector.pt'} was not written" in str(err.value) and "--weights" in str(err.value)
    assert not (out / "detector.pt").exists()
    shutil.rmtree(out)
    wrote.append(good)
    assert train_detector(df2, out, epochs=1) == out / "detector.pt"
    assert (out / "detector.pt").read_bytes() == good.read_bytes()
