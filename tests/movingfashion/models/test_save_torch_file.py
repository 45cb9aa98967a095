"""Every torch file the toolkit writes goes through ``save_torch_file`` (atomic, torch's own
``torch.serialization.save``): ``torch.save`` is replaced by ultralytics on import with a
version that retries on the RuntimeError an interrupt becomes inside torch's zip writer."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from movingfashion.models.checkpoints import save_torch_file

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("annotations", "cleaning", "collectors", "movingfashion", "schemas")


def test_no_module_calls_torch_save_itself():
    calls = [
        f"{path.relative_to(ROOT)}:{n}"
        for pkg in PACKAGES
        for path in sorted((ROOT / pkg).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\btorch\.save\(", line) and not line.lstrip().startswith("#")
    ]
    assert calls == [], "write torch files with movingfashion.models.checkpoints.save_torch_file"


def test_save_torch_file_round_trips_and_leaves_no_temporary_file(tmp_path):
    obj = {"w": torch.arange(12.0).view(3, 4), "meta": {"epoch": 3}}
    path = tmp_path / "sub" / "last.pt"
    path.parent.mkdir()
    save_torch_file(obj, path)
    back = torch.load(path, weights_only=True)
    assert torch.equal(back["w"], obj["w"]) and back["meta"] == {"epoch": 3}
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]


def test_a_full_disk_under_torchs_zip_writer_is_a_local_fault_naming_the_file(tmp_path, monkeypatch):
    """torch's zip writer turns a write the disk refuses into a RuntimeError ("enforce fail ...
    unexpected pos") with the OSError as its context: the save raises the disk-full fault naming
    the checkpoint, which ``mf train`` prints as one line (was: the RuntimeError's traceback), and
    leaves no file."""
    import errno
    import io
    import os

    import pytest

    from schemas.errors import LocalFault

    writes = [0]

    class FillsUp(io.FileIO):
        def write(self, b):  # the first block fits, then the disk is full
            writes[0] += 1
            if writes[0] > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(b)

    real = os.fdopen
    monkeypatch.setattr(
        os,
        "fdopen",
        lambda fd, mode="r", *a, **k: (
            io.BufferedWriter(FillsUp(fd, "w")) if "w" in mode else real(fd, mode, *a, **k)
        ),
    )
    path = tmp_path / "run" / "last.pt"
    with pytest.raises(LocalFault) as err:
        save_torch_file({"w": torch.zeros(100_000)}, path)
    assert err.value.reason == "disk_full" and err.value.path == str(path)
    assert list(path.parent.iterdir()) == []
