"""Symlinks in a dataset folder: a linked folder (``videos/`` on another disk, trusted as
:mod:`schemas.paths` says) is listed, hashed and packed like any folder; a file that a link takes
out of the folder is never listed nor packed, and ``mf verify`` names it."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from movingfashion.archive.describe import write_manifest
from movingfashion.archive.pack import pack_dataset
from movingfashion.archive.verify import dataset_files, list_dataset, outside_link, verify_dataset
from schemas.errors import DataFormatError


@pytest.fixture()
def linked(archive_dir, tmp_path) -> Path:
    """A copy of the archive whose ``videos/`` lives on "another disk", linked back in."""
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    shutil.move(root / "videos", tmp_path / "otherdisk")
    (root / "videos").symlink_to(tmp_path / "otherdisk", target_is_directory=True)
    return root


def test_a_linked_videos_folder_is_listed_hashed_packed_and_verified(linked, tmp_path):
    videos = sorted(p.name for p in (tmp_path / "otherdisk").iterdir())
    assert [f for f in dataset_files(linked) if f.startswith("videos/")] == [f"videos/{v}" for v in videos]
    files = write_manifest(linked)
    assert {f"videos/{v}" for v in videos} <= set(files)
    assert verify_dataset(linked).ok
    zip_path, _ = pack_dataset(linked, tmp_path / "ds.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert {f"ds/videos/{v}" for v in videos} <= set(zf.namelist())
        zf.extractall(tmp_path / "unz")
    report = verify_dataset(tmp_path / "unz" / "ds")
    assert report.ok, [b.describe() for b in report.breaks]


def test_a_file_linked_from_outside_is_never_listed_nor_packed(linked, tmp_path):
    (tmp_path / "private.txt").write_text("not part of the dataset\n")
    (linked / "notes.txt").symlink_to(tmp_path / "private.txt")
    # a link inside the linked folder that leaves it too
    (tmp_path / "otherdisk" / "extra.mp4").symlink_to(tmp_path / "private.txt")
    listing = list_dataset(linked)
    assert "notes.txt" not in listing.files and "videos/extra.mp4" not in listing.files
    assert set(listing.escapes) == {"notes.txt", "videos/extra.mp4"}
    assert outside_link(linked, "notes.txt") == str((tmp_path / "private.txt").resolve())
    assert outside_link(linked, "videos/h1_0.mp4") is None
    assert "notes.txt" not in write_manifest(linked)
    report = verify_dataset(linked)
    assert {b.field for b in report.check("files").breaks} == {"notes.txt", "videos/extra.mp4"}
    assert report.check("manifest").status == "ok"
    with pytest.raises(DataFormatError, match=r"'notes.txt' is a link to .*private.txt.*outside") as err:
        pack_dataset(linked, tmp_path / "ds.zip")
    assert "link its whole folder" in (err.value.hint or "")
    assert not (tmp_path / "ds.zip").exists()


def test_a_link_loop_is_walked_once(linked):
    (linked / "videos" / "again").symlink_to(linked, target_is_directory=True)
    files = dataset_files(linked)
    assert len(files) == len(set(files)) and not any(f.startswith("videos/again/") for f in files)
    assert "train.json" in files


@pytest.mark.parametrize("name", ["imgs", "stuff"])
def test_a_linked_folder_outside_holding_no_named_file_is_never_walked(archive_dir, tmp_path, name):
    """``imgs -> /etc`` (or any link to a folder the split files name nothing in) is named by its
    link and never walked: no file under it is listed, hashed or packed."""
    root = tmp_path / "ds"
    shutil.copytree(archive_dir, root)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "deep" / "deeper").mkdir(parents=True)
    (elsewhere / "deep" / "deeper" / "secret.txt").write_text("not the dataset's\n")
    if name == "imgs":
        shutil.rmtree(root / "imgs")
    (root / name).symlink_to(elsewhere, target_is_directory=True)
    listing = list_dataset(root)
    assert not any(f.startswith(f"{name}/") for f in listing.files)
    assert listing.escapes == {name: str(elsewhere.resolve())}
    report = verify_dataset(root)
    found = [b for b in report.check("files").breaks if b.field == name]
    assert len(found) == 1 and "not walked" in found[0].describe()
    assert not any("secret.txt" in b.describe() for b in report.breaks)
    with pytest.raises(DataFormatError, match=rf"'{name}' is a link to .*elsewhere"):
        pack_dataset(root, tmp_path / "ds.zip")
