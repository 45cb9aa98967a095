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
