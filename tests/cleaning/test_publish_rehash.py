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


def test_an_unchanged_republish_draws_no_plot(cleaned_world, catalog_copy, tmp_path, monkeypatch):
    """A rerun with nothing changed leaves the plots as they are (same bytes and mtime) without
    drawing them (no matplotlib); a plot lost since is drawn again, alone."""
    import cleaning.publish.plots as pub

    out = tmp_path / "ds"
    plots = [out / "plots" / name for name in PLOTS]
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        for p in plots:
            os.utime(p, ns=(1_000_000_000, 1_000_000_000))
        before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in plots}
        drawn = Counter()
        real = pub._plt

        def no_drawing():
            drawn.update(["plot"])
            raise AssertionError("a plot drawn by a rerun with nothing changed")

        monkeypatch.setattr(pub, "_plt", no_drawing)
        again = publish(cat, cleaned_world.root, out)
        assert again["metadata_written"] == [] and again["verify"]["ok"]
        assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in plots} == before
        assert not drawn
        plots[1].unlink()  # lost: drawn again, the other one left as it is
        monkeypatch.setattr(pub, "_plt", lambda: drawn.update(["plot"]) or real())
        publish(cat, cleaned_world.root, out)
        assert drawn["plot"] == 1 and plots[1].read_bytes() == before[PLOTS[1]][0]
        assert plots[0].stat().st_mtime_ns == 1_000_000_000
