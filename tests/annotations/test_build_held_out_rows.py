"""One bad row of a split file holds out its product, not the whole build.

The real archive's ``train.json`` lists 15K products; a build refused the whole file for one box
with reversed corners. Now that product is held out (named: file, product, field, what to do;
``--json``: ``held_out``; exit 1), its entry left in the file as it is, and every other product
built and merged, as ``MovingFashionDataset(on_bad="skip")`` reads such a file. ``on_bad="raise"``
(``--on-bad raise``) refuses the dataset before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import annotations.builder as builder_mod
from annotations.builder import build_dataset_tracklets
from annotations.tracklet_files import tracklet_file
from schemas.errors import DataFormatError
from tests.annotations.test_reruns import GARMENT, FakeBuilder, two_product_dataset
from tests.mf_cli import run_tracklets

#: pa's tracklet with a box whose corners are reversed (x2 < x1): the reader refuses the entry
BAD = {"0": [30, 2, 10, 4], "1": [10, 2, 30, 4]}


def _bad_pa(root: Path) -> Path:
    """:func:`two_product_dataset` with pa's split-file tracklet holding :data:`BAD`."""
    two_product_dataset(root)
    data = json.loads((root / "train.json").read_text())
    data["pa"]["tracklets"] = [BAD]
    data["pa"]["note"] = "kept"
    (root / "train.json").write_text(json.dumps(data))
    return root


def _pa_entry(root: Path) -> dict:
    return json.loads((root / "train.json").read_text())["pa"]


def test_a_bad_box_holds_out_its_product_and_the_others_are_built(tmp_path, caplog):
    ds = _bad_pa(tmp_path / "ds")
    before = _pa_entry(ds)
    builder = FakeBuilder()
    rep = build_dataset_tracklets(ds, builder=builder)
    assert builder.built == [("pb", "imgs/b.jpg")] and rep.processed == 1 and rep.failed == []
    (held,) = rep.held_out
    assert (held["file"], held["product_id"]) == (str(ds / "train.json"), "pa")
    for part in (str(ds / "train.json"), "product 'pa'", "tracklets[0].0", "x2 (10) < x1 (30)"):
        assert part in held["error"], held["error"]
    assert "held out of the build" in caplog.text and "product 'pa'" in caplog.text
    # pb merged into the split file; pa's entry kept as the file held it, for a person to fix
    after = json.loads((ds / "train.json").read_text())
    assert after["pb"]["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]
    assert after["pa"] == before and list(after) == ["pa", "pb"]
    assert not tracklet_file(ds, "videos/pa_0.mp4").exists()
    # fixed: the rerun builds it, and holds out nothing
    data = json.loads((ds / "train.json").read_text())
    data["pa"]["tracklets"] = [{"0": [10, 2, 30, 4]}]
    (ds / "train.json").write_text(json.dumps(data))
    builder = FakeBuilder()
    rep = build_dataset_tracklets(ds, builder=builder)
    assert builder.built == [("pa", "imgs/a.jpg")] and rep.held_out == []


def test_on_bad_raise_refuses_the_dataset_before_anything_is_written(tmp_path):
    ds = _bad_pa(tmp_path / "ds")
    text = (ds / "train.json").read_text()
    with pytest.raises(DataFormatError, match="product 'pa'"):
        build_dataset_tracklets(ds, builder=FakeBuilder(), on_bad="raise")
    assert (ds / "train.json").read_text() == text and not (ds / "tracklets").exists()


def test_a_held_out_product_keeps_its_file_of_a_shared_video(tmp_path):
    """pa and pb list one video: each has its ``<stem>@<product>`` file. pa held out later, the
    build neither removes pa's file nor makes pb's the video's only one."""
    ds = two_product_dataset(tmp_path / "ds")
    data = json.loads((ds / "train.json").read_text())
    data["pb"]["video_paths"] = ["videos/pa_0.mp4"]
    (ds / "train.json").write_text(json.dumps(data))
    build_dataset_tracklets(ds, builder=FakeBuilder())
    files = sorted(p.name for p in (ds / "tracklets").glob("*.json"))
    assert files == ["pa_0@pa.json", "pa_0@pb.json"]
    data = json.loads((ds / "train.json").read_text())
    data["pa"]["tracklets"][0]["0"] = [30, 2, 10, 4]
    (ds / "train.json").write_text(json.dumps(data))
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(), force=True)
    assert [h["product_id"] for h in rep.held_out] == ["pa"] and rep.processed == 1
    assert sorted(p.name for p in (ds / "tracklets").glob("*.json")) == files
    assert rep.removed_unlisted == [] and rep.adopted_unshared == 0


def test_a_row_missing_a_field_is_held_out_and_kept_in_the_file(tmp_path):
    ds = two_product_dataset(tmp_path / "ds")
    data = json.loads((ds / "train.json").read_text())
    del data["pa"]["img_path"]
    (ds / "train.json").write_text(json.dumps(data))
    rep = build_dataset_tracklets(ds, builder=FakeBuilder())
    (held,) = rep.held_out
    assert held["product_id"] == "pa" and "'img_path'" in held["error"] and rep.processed == 1
    after = json.loads((ds / "train.json").read_text())
    assert after["pa"] == data["pa"] and after["pb"]["tracklets"][0]


def test_the_command_names_the_held_out_product_and_exits_1(tmp_path, monkeypatch, capsys):
    ds = _bad_pa(tmp_path / "ds")
    monkeypatch.setattr(builder_mod, "_load_builder", lambda *a, **k: FakeBuilder())
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 1, err
    got = json.loads(out)
    assert got["processed"] == 1 and [h["product_id"] for h in got["held_out"]] == ["pa"]
    assert "tracklets[0].0" in got["held_out"][0]["error"]
    code, out, err = run_tracklets(["build", "--dataset", str(ds)], capsys)
    assert code == 1, err
    assert "held out: 1 product" in out and "product 'pa'" in out and "fix the product's entry" in out
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--on-bad", "raise"], capsys)
    assert code == 2 and "product 'pa'" in err and str(ds / "train.json") in err


def test_every_product_held_out_is_one_error_naming_the_file_and_leaves_nothing(tmp_path, capsys):
    """Every row bad: nothing to build, so one line naming the split file, the products held
    out and what to do, exit 2 (before: a warning per row, the summary of 0 videos, exit 1, the
    models loaded and the build locks left in the dataset)."""
    ds = _bad_pa(tmp_path / "ds")
    data = json.loads((ds / "train.json").read_text())
    data["pb"]["tracklets"] = [BAD]
    (ds / "train.json").write_text(json.dumps(data))
    before = sorted(p.name for p in ds.iterdir())
    code, out, err = run_tracklets(["build", "--dataset", str(ds)], capsys)
    assert (code, out) == (2, ""), out
    (line,) = err.splitlines()
    assert line.startswith(
        f"error: {ds / 'train.json'}: every product of the train split was held out as a bad row: "
        "2 products (first: product 'pa': field 'tracklets[0].0': x2 (10) < x1 (30)"
    ), line
    assert line.endswith(
        "(fix the product's entry in the split file (mf verify names every break), then run the command again)"
    )
    assert sorted(p.name for p in ds.iterdir()) == before  # no lock, no identity file
