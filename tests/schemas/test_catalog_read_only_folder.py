"""A catalog in a folder this process cannot write (published catalogs kept on read-only NFS or
squashfs): the commands that only read it read it (SQLite's ``immutable`` open: no ``-shm`` to
make), leaving the folder as it was; a command that writes is refused as before."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.catalog import Catalog
from schemas.items import SourceItem, Status
from tests.mf_cli import run_mf


def _can_make_a_folder_read_only() -> bool:
    """Whether this process can make a folder read-only for itself: always when not root (mode
    555); as root only where it may mount a tmpfs (a container without ``CAP_SYS_ADMIN`` may not)."""
    if os.geteuid() != 0:
        return True
    with tempfile.TemporaryDirectory() as probe:
        try:
            mounted = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], capture_output=True
            )
        except OSError:  # no mount program
            return False
        if mounted.returncode:
            return False
        subprocess.run(["umount", probe], check=True)
    return True


pytestmark = pytest.mark.skipif(
    not _can_make_a_folder_read_only(),
    reason="root here may not mount a tmpfs, and a folder's mode does not stop root: no read-only folder to test in",
)


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only for this process: a tmpfs mounted on it and remounted read-only
    when run as root (whom a folder's mode does not stop), else mode 555."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
    try:
        for name, data in files.items():
            (folder / name).write_bytes(data)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def read_only_catalog(tmp_path: Path) -> Iterator[Path]:
    """A catalog of two accepted items (one in train) in a read-only folder, closed (no -wal)."""
    folder = tmp_path / "published"
    path = folder / "catalog.sqlite"
    with Catalog(path) as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id=s, url=f"http://x/{s}") for s in ("p0", "p1")],
            status=Status.ACCEPTED,
        )
        cat.set_item_state("netaporter", "p0", product_id="P0", df2_class=1, split="train")
        cat.set_item_state("netaporter", "p1", product_id="P1", df2_class=2)
    (folder / f"{path.name}-wal-owner").unlink(missing_ok=True)
    assert sorted(p.name for p in folder.iterdir()) == ["catalog.sqlite"]
    with _read_only(folder):
        assert not os.access(folder, os.W_OK)
        yield path


def test_read_only_commands_read_a_catalog_in_a_read_only_folder(read_only_catalog, capsys):
    folder = read_only_catalog.parent
    cat = str(read_only_catalog)
    code, out, err = run_mf(["catalog", "status", "--catalog", cat, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["accepted"] == 2
    code, out, err = run_mf(["catalog", "check", "--catalog", cat, "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"] and json.loads(out)["items"] == 2, err
    code, out, err = run_mf(["stats", "--catalog", cat, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["accepted_per_class"] == {"1": 1, "2": 1}
    code, out, err = run_mf(["splits", "check", "--catalog", cat, "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"], err
    with Catalog(read_only_catalog, read_only=True, must_exist=True) as c:
        assert c.get_item("netaporter", "p0").split == "train"
    assert sorted(p.name for p in folder.iterdir()) == ["catalog.sqlite"]  # no side file made


def test_a_writer_is_still_refused_in_a_read_only_folder(read_only_catalog, capsys):
    code, _, err = run_mf(["catalog", "upgrade", "--catalog", str(read_only_catalog)], capsys)
    assert code != 0 and str(read_only_catalog) in err
    assert sorted(p.name for p in read_only_catalog.parent.iterdir()) == ["catalog.sqlite"]
