"""``pack_dataset(check_manifest=True)`` (``mf publish --archive``) writes a zip only when every
file in it holds what the zipped manifest lists: a file rewritten while the folder is zipped
(after the manifest went in) gives no zip, no ``.sha256`` and no half-written file."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from movingfashion.archive.pack import MixedArchive, pack_dataset


def _folder(top: Path) -> Path:
    """A folder whose manifest lists its two files (``train.json`` is zipped after it)."""
    top.mkdir()
    files = {"entries.jsonl": b"{}\n", "train.json": b'{"a": 1}\n'}
    for rel, data in files.items():
        (top / rel).write_bytes(data)
    listed = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    (top / "manifest.json").write_text(json.dumps({"files": listed}))
    return top


def test_a_consistent_folder_packs_the_same_bytes_checked_or_not(tmp_path):
    ds = _folder(tmp_path / "ds")
    _, plain = pack_dataset(ds, tmp_path / "a.zip")
    _, checked = pack_dataset(ds, tmp_path / "b.zip", check_manifest=True)
    assert plain == checked


def test_a_file_rewritten_while_zipped_gives_no_zip(tmp_path, monkeypatch):
    ds = _folder(tmp_path / "ds")
    copy = shutil.copyfileobj

    def rewrite_after_the_manifest(fsrc, fdst, *args, **kwargs):
        res = copy(fsrc, fdst, *args, **kwargs)
        if str(fsrc.name).endswith("/manifest.json"):
            (ds / "train.json").write_bytes(b'{"a": 2}\n')  # a writer; its manifest comes later
        return res

    monkeypatch.setattr(shutil, "copyfileobj", rewrite_after_the_manifest)
    with pytest.raises(MixedArchive, match="'train.json' is not what the zipped manifest.json lists"):
        pack_dataset(ds, tmp_path / "ds.zip", check_manifest=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no zip, .sha256 or .part


def test_a_file_the_manifest_does_not_list_gives_no_zip(tmp_path):
    ds = _folder(tmp_path / "ds")
    (ds / "test.json").write_text("{}\n")
    with pytest.raises(MixedArchive, match="'test.json'"):
        pack_dataset(ds, tmp_path / "ds.zip", check_manifest=True)
    assert not (tmp_path / "ds.zip").exists()


def test_a_manifest_other_than_the_one_verified_gives_no_zip(tmp_path):
    """A writer changed the folder (and its manifest) between the caller's verify and the zip."""
    ds = _folder(tmp_path / "ds")
    verified = hashlib.sha256((ds / "manifest.json").read_bytes()).hexdigest()
    pack_dataset(ds, tmp_path / "a.zip", check_manifest=True, manifest_sha256=verified)
    (ds / "manifest.json").write_text((ds / "manifest.json").read_text() + "\n")
    with pytest.raises(MixedArchive, match="manifest.json changed while the folder was zipped"):
        pack_dataset(ds, tmp_path / "b.zip", check_manifest=True, manifest_sha256=verified)
    assert not (tmp_path / "b.zip").exists()


def test_a_file_removed_while_zipped_gives_no_zip(tmp_path, monkeypatch):
    """A file listed, then deleted before its turn (a user, a writer): the zip is refused naming
    it, as a rewritten one is (was: a FileNotFoundError traceback); nothing is left behind."""
    ds = _folder(tmp_path / "ds")
    copy = shutil.copyfileobj

    def remove_after_the_manifest(fsrc, fdst, *args, **kwargs):
        res = copy(fsrc, fdst, *args, **kwargs)
        if str(fsrc.name).endswith("/manifest.json"):
            (ds / "train.json").unlink()
        return res

    monkeypatch.setattr(shutil, "copyfileobj", remove_after_the_manifest)
    with pytest.raises(MixedArchive, match="'train.json' was removed while the folder was zipped"):
        pack_dataset(ds, tmp_path / "ds.zip", check_manifest=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
