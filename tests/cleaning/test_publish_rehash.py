"""An unchanged republish hashes only what it wrote or what changed since the last manifest (not
every file twice); a file changed outside publish is still hashed again or caught by mf verify."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import movingfashion.archive.describe as describe
import movingfashion.archive.verify as verify
from cleaning.publish import PLOTS, publish
from movingfashion.archive.verify import verify_dataset
from schemas.atomic import sha256_file
from schemas.catalog import Catalog


def _counting(monkeypatch) -> Counter:
    calls: Counter = Counter()
    for module in (describe, verify):
        monkeypatch.setattr(
            module,
            "sha256_file",
            lambda p, _m=module.__name__: calls.update([(_m, Path(p).name)]) or sha256_file(p),
        )
    return calls


def test_an_unchanged_republish_hashes_no_media(cleaned_world, catalog_copy, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out)
        calls = _counting(monkeypatch)
        again = publish(cat, cleaned_world.root, out)
    assert again["written"] == 0 and again["verify"]["ok"] and again["files"] == first["files"]
    media = [n for _, n in calls if n.endswith((".mp4", ".jpg")) or (n.endswith(".png") and n not in PLOTS)]
    assert media == []
    assert sum(calls.values()) < first["files"]


def test_files_changed_outside_publish_are_hashed_again_or_caught_by_verify(
    cleaned_world, catalog_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        (out / "tracklets").mkdir(exist_ok=True)
        added = out / "tracklets" / "note.json"  # written by another tool after the manifest
        added.write_text("{}")
        res = publish(cat, cleaned_world.root, out)
        files = json.loads((out / "manifest.json").read_text())["files"]
        assert files["tracklets/note.json"] == sha256_file(added)
        assert not [b for b in res["verify"]["breaks"] if "SHA-256" in b or "manifest" in b], res["verify"][
            "breaks"
        ]
        # changed with its date kept: the republish keeps the recorded hash, mf verify catches it
        st = added.stat()
        added.write_text('{"x": 1}')
        os.utime(added, ns=(st.st_atime_ns, st.st_mtime_ns))
        publish(cat, cleaned_world.root, out)
    report = verify_dataset(out)
    assert [b.field for b in report.check("manifest").breaks] == ["tracklets/note.json"]
