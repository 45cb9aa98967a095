"""One bad row of a split file holds out its product from an export, not the whole export.

``mf-tracklets export`` read the split files whole and refused the dataset for one box with
reversed corners. Now that product's videos are left out (the reason names the file, product and
field), each problem is listed (``held_out``; exit 1) and every other video exported, as
``MovingFashionDataset(on_bad="skip")`` reads such a file; ``--on-bad raise`` refuses instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from annotations.exchange import export_dataset
from schemas.errors import DataFormatError
from tests.annotations.exchange.archive_layout import make_archive
from tests.mf_cli import run_tracklets


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "ds")


@pytest.fixture
def bad_1002(archive, tmp_path) -> Path:
    """The archive with product 1002's box of frame 3 reversed (x2 < x1)."""
    ds = Path(shutil.copytree(archive, tmp_path / "ds"))
    data = json.loads((ds / "train.json").read_text())
    data["1002"]["tracklets"][0]["3"] = [40, 10, 20, 30]
    (ds / "train.json").write_text(json.dumps(data, indent=4))
    return ds


@pytest.mark.parametrize("fmt", ["cvat", "fiftyone"])
def test_a_bad_box_holds_out_its_product_and_the_others_are_exported(bad_1002, tmp_path, fmt):
    res = export_dataset(bad_1002, fmt, tmp_path / fmt)
    assert res["videos"] == 2
    (held,) = res["held_out"]
    assert (held["file"], held["product_id"]) == (str(bad_1002 / "train.json"), "1002")
    for part in (str(bad_1002 / "train.json"), "product '1002'", "tracklets[0].3", "x2 (20) < x1 (40)"):
        assert part in held["error"], held["error"]
    assert list(res["left_out_videos"]) == ["1002"] and res["left_out_videos"]["1002"].startswith("held out:")
    names = {Path(p).stem for p in res["written"]}
    assert {"1001", "2001"} <= names and "1002" not in names


def test_an_earlier_export_of_the_held_out_video_stays(archive, bad_1002, tmp_path):
    out = tmp_path / "cvat"
    assert export_dataset(archive, "cvat", out)["videos"] == 3
    res = export_dataset(bad_1002, "cvat", out)  # not refused for 1002.xml: it is held out
    assert res["videos"] == 2 and res["stale"] == [str(out / "1002.xml")] and (out / "1002.xml").is_file()


def test_a_video_named_of_a_held_out_product_says_why(bad_1002, tmp_path):
    with pytest.raises(DataFormatError, match=r"nothing to export: 1002 \(held out: .*product '1002'"):
        export_dataset(bad_1002, "cvat", tmp_path / "cvat", videos=["1002"])


def test_the_command_exits_1_naming_it_and_on_bad_raise_refuses(bad_1002, tmp_path, capsys):
    args = ["export", "--format", "cvat", "--dataset", str(bad_1002)]
    code, out, err = run_tracklets([*args, "--out", str(tmp_path / "a"), "--json"], capsys)
    assert code == 1, err
    got = json.loads(out)
    assert got["videos"] == 2 and [h["product_id"] for h in got["held_out"]] == ["1002"]
    code, out, err = run_tracklets([*args, "--out", str(tmp_path / "b")], capsys)
    assert code == 1 and "held out: 1 product" in out and "product '1002'" in out, (out, err)
    code, out, err = run_tracklets([*args, "--out", str(tmp_path / "c"), "--on-bad", "raise"], capsys)
    assert code == 2 and "product '1002'" in err and not (tmp_path / "c").exists()
