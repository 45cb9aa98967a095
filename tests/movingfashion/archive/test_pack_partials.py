"""The half-written zip a killed ``mf publish --archive`` left beside the dataset is removed by
the next pack; a live writer's file is not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from movingfashion.archive.pack import pack_dataset
from schemas.atomic import host_tag


def dead_pid() -> int:
    """The id of a process that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def leftovers(folder: Path, name: str) -> tuple[Path, Path]:
    """A killed writer's temporary file of ``name`` in ``folder``, and a live one's (this process)."""
    folder.mkdir(parents=True, exist_ok=True)
    dead = folder / f".{name}.{host_tag()}-{dead_pid()}.ab12_x.part"
    live = folder / f".{name}.{host_tag()}-{os.getpid()}.cd34_y.part"
    for p in (dead, live):
        p.write_bytes(b"half a file")
    return dead, live


def test_a_killed_packs_zip_beside_the_dataset_is_removed(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "train.json").write_text("{}\n")
    dead, live = leftovers(tmp_path, "ds.zip")
    target, _ = pack_dataset(ds)
    assert target == tmp_path / "ds.zip" and target.is_file()
    assert not dead.exists() and live.exists()
