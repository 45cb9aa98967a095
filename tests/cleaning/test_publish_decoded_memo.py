"""A publish rerun decodes only the media that changed since its last verify
(``movingfashion.archive.decoded_memo``); ``mf verify`` still decodes everything, and a video
damaged in place (same size, its mtime put back) is decoded again and caught."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import movingfashion.archive.verify as verify_mod
from cleaning.publish import publish
from movingfashion.archive.decoded_memo import DECODED_MEMO
from movingfashion.archive.verify import dataset_files, verify_dataset
from schemas.catalog import Catalog


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """Every video the verify decodes (its path relative to nothing: the file name)."""
    calls: list[str] = []
    real = verify_mod.video_facts

    def counting(path, *args, **kwargs):
        calls.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(verify_mod, "video_facts", counting)
    return calls


def _videos(out: Path) -> list[str]:
    return [r for r in dataset_files(out) if r.startswith("videos/")]


def test_a_rerun_decodes_nothing_unchanged(cleaned_world, catalog_copy, tmp_path, decoded):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out)
        videos = _videos(out)
        assert sorted(decoded) == sorted(Path(v).name for v in videos) and first["verify"]["ok"]
        assert first["verify"]["decoded_before"] == 0
        memo = json.loads((out / DECODED_MEMO).read_text())["media"]
        assert set(videos) <= set(memo) and len(memo) > len(videos)  # the shop images too
        decoded.clear()
        again = publish(cat, cleaned_world.root, out)
    assert decoded == [] and again["verify"]["ok"]
    assert again["verify"]["decoded_before"] == len(memo)
    # the memo is hidden: in no manifest
    assert DECODED_MEMO not in json.loads((out / "manifest.json").read_text())["files"]
    # the facts it kept are the ones a fresh decode finds (the tracklets check relies on them)
    rel = videos[0]
    assert memo[rel]["facts"] == {k: v for k, v in vars(verify_mod.video_facts(out / rel)).items()}


def test_a_video_damaged_in_place_is_decoded_again(cleaned_world, catalog_copy, tmp_path, decoded):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    rel = _videos(out)[0]
    path = out / rel
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 3 :] = bytes(len(data) - len(data) // 3)  # same size, the rest zeroed
    with open(path, "r+b") as f:  # in place: same inode
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and its date put back
    assert (path.stat().st_size, path.stat().st_mtime_ns, path.stat().st_ino) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )
    decoded.clear()
    report = verify_dataset(out, trust_manifest=True, reuse_decoded=True)
    assert decoded == [Path(rel).name]  # the change time differs: decoded again, the rest not
    assert any(b.check == "decodable" and rel in b.problem for b in report.breaks)
    assert report.reused == len(json.loads((out / DECODED_MEMO).read_text())["media"])


def test_mf_verify_ignores_the_memo(cleaned_world, catalog_copy, tmp_path, decoded):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    memo_path = out / DECODED_MEMO
    data = json.loads(memo_path.read_text())
    for rec in data["media"].values():  # a memo that lies about every video
        if rec["facts"]:
            rec["facts"]["frames"] = 1
    memo_path.write_text(json.dumps(data))
    decoded.clear()
    report = verify_dataset(out)
    assert sorted(decoded) == sorted(Path(v).name for v in _videos(out)) and report.reused == 0
    assert report.ok
    # publish's verify takes it as it stands (what the memo is for: only publish writes it)
    decoded.clear()
    lied = verify_dataset(out, trust_manifest=True, reuse_decoded=True)
    assert decoded == [] and lied.reused == len(data["media"])
