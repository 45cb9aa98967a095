"""A full disk during `mf clean` and `mf publish`: one line naming the fault and the path, exit 1,
the run stops there (no product listed as failed for it), and a rerun with room completes equal
to a run that never ran out of space. The publish case also runs on a real 1 MiB tmpfs (mounted
in a private namespace with ``unshare``, root or not)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cleaning.cli import clean as clean_cmd
from cleaning.cli import publish as publish_cmd
from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from tests.damage import FullDisk, catalog_rows, tree_sha

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(cleaned_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref-ds")
    with Catalog(cleaned_world.catalog_path) as cat:
        publish(cat, cleaned_world.root, out)
    return out


def _exit_code(cmd, argv: list[str]) -> int:
    try:
        run_main(cmd, argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _one_error_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_publish_on_a_full_disk_stops_then_a_rerun_completes(
    cleaned_world, catalog_copy, reference, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "ds"
    argv = ["--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    disk = FullDisk(after=12)
    monkeypatch.setattr(os, "fsync", disk)
    code = _exit_code(publish_cmd, argv)
    line = _one_error_line(capsys.readouterr().err)
    assert code == 1 and disk.calls == 12, "stopped at the first full write"
    assert "disk full" in line and str(out) in line and "rerun" in line
    assert tree_sha(out) != tree_sha(reference)  # it did stop part way
    monkeypatch.undo()
    assert _exit_code(publish_cmd, [*argv, "--json"]) == 0, capsys.readouterr().err
    assert tree_sha(out) == tree_sha(reference)


def test_clean_on_a_full_disk_stops_then_a_rerun_completes(
    cleaned_world, small_world, world_truth, tmp_path, monkeypatch, capsys
):
    from movingfashion.world.seed import seed_catalog_from_world

    cat_path, root = tmp_path / "catalog.sqlite", tmp_path / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(small_world, cat, root, world_truth)
    argv = ["--catalog", str(cat_path), "--root", str(root)]
    monkeypatch.setattr(os, "fsync", FullDisk(after=1))  # the first write: a recovered shop image
    code = _exit_code(clean_cmd, argv)
    line = _one_error_line(capsys.readouterr().err)
    assert code == 1 and "disk full" in line and str(tmp_path) in line
    with Catalog(cat_path) as cat:
        assert not cat.items(status="failed")  # no item took the blame
    monkeypatch.undo()
    assert _exit_code(clean_cmd, [*argv, "--json"]) == 0, capsys.readouterr().err
    from cleaning.splits import rebuild_splits

    with Catalog(cat_path) as cat:
        rebuild_splits(cat)  # as the reference had
    assert catalog_rows(cat_path) == catalog_rows(cleaned_world.catalog_path)
    assert tree_sha(root) == tree_sha(cleaned_world.root)


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || exit 3"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="no private mount namespace here (unshare -rm)")
def test_publish_onto_a_real_1mib_tmpfs_then_rerun_on_a_larger_disk(
    cleaned_world, catalog_copy, reference, tmp_path
):
    mnt, kept = tmp_path / "mnt", tmp_path / "kept"
    mnt.mkdir()
    kept.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "movingfashion",
        "publish",
        "--catalog",
        str(catalog_copy),
        "--root",
        str(cleaned_world.root),
        "--out",
        f"{mnt}/ds",
    ]
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {mnt} || exit 99; "
        f"{' '.join(cmd)} > {kept}/out 2> {kept}/err; echo $? > {kept}/rc; cp -a {mnt}/ds {kept}/ds"
    )
    subprocess.run(["unshare", "-rm", "sh", "-c", script], check=True, timeout=300)
    err = (kept / "err").read_text()
    assert int((kept / "rc").read_text()) == 1, err
    line = _one_error_line(err)
    assert "disk full" in line and str(mnt) in line and "Traceback" not in err
    out = kept / "ds"
    rerun = subprocess.run([*cmd[:-1], str(out)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert tree_sha(out) == tree_sha(Path(reference))
