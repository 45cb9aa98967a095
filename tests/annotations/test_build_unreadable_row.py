"""A malformed number or a frame key twice in one product's split-file tracklet refused the whole
``mf-tracklets build`` / ``export`` (the file did not decode). Now that product is held out and
named (file, product, field, frame key, what to do; exit 1), its entry's bytes left in the file
for a person to fix, every other product built and merged; ``--on-bad raise`` refuses (exit 2)
naming the same, before anything is written."""

from __future__ import annotations

import json

import pytest

import annotations.builder as builder_mod
from tests.annotations.test_reruns import GARMENT, FakeBuilder, two_product_dataset
from tests.damage import UNREADABLE_BOXES, unreadable_box
from tests.mf_cli import run_tracklets


def _bad_pa(root, kind):
    two_product_dataset(root)
    data = json.loads((root / "train.json").read_text())
    data["pa"]["tracklets"] = [{"0": [10, 2, 30, 4], "1": [10, 2, 30, 4]}]
    (root / "train.json").write_text(json.dumps(data))
    return unreadable_box(root / "train.json", "pa", kind, key="1")


@pytest.mark.parametrize("kind", sorted(UNREADABLE_BOXES))
def test_build_holds_out_the_product_and_builds_the_others(tmp_path, monkeypatch, capsys, kind):
    ds = tmp_path / "ds"
    entry = _bad_pa(ds, kind)
    monkeypatch.setattr(builder_mod, "_load_builder", lambda *a, **k: FakeBuilder())
    before = (ds / "train.json").read_text()
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--on-bad", "raise"], capsys)
    assert code == 2 and (ds / "train.json").read_text() == before and not (ds / "tracklets").exists()
    for part in (str(ds / "train.json"), "product 'pa'", "tracklets[0]", "frame key '1'"):
        assert part in err, err
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 1, err
    got = json.loads(out)
    assert got["processed"] == 1 and [h["product_id"] for h in got["held_out"]] == ["pa"]
    held = got["held_out"][0]
    assert (held["file"], held["video"], held["frame_key"]) == (
        str(ds / "train.json"),
        "videos/pa_0.mp4",
        "1",
    )
    text = (ds / "train.json").read_text()
    assert entry in text  # pa's entry as it was, for a person to fix
    pb = json.loads(text[text.index('"pb": ') + 6 : -1])
    assert pb["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]


def test_a_key_twice_outside_the_tracklet_holds_out_the_product_and_keeps_its_bytes(
    tmp_path, monkeypatch, capsys
):
    """A field of pa's entry holds a key twice (not in a tracklet: the file is written back whole,
    pa's entry as the file holds it)."""
    ds = two_product_dataset(tmp_path / "ds")
    text = (ds / "train.json").read_text()
    entry = '"note": {"by": "a", "by": "b"}, "source": 1}'
    text = text.replace('"source": 1}', entry, 1)
    (ds / "train.json").write_text(text)
    monkeypatch.setattr(builder_mod, "_load_builder", lambda *a, **k: FakeBuilder())
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 1, err
    (held,) = json.loads(out)["held_out"]
    assert held["product_id"] == "pa" and "field 'note': key 'by' appears twice" in held["error"]
    after = (ds / "train.json").read_text()
    assert entry in after
    pb = json.loads(after[after.index('"pb": ') + 6 : -2])
    assert pb["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]
