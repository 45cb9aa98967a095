"""The exchange formats on a folder in the archive's layout: the ground truth only in
train.json / test.json, no tracklets/<video>.json (before: export refused "no tracklet files
found", import "tracklet file not found", and a partly built dataset left videos out silently)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from annotations.exchange import export_dataset
from annotations.exchange.cvat import read_cvat
from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from movingfashion.archive.verify import verify_dataset
from tests.annotations.exchange.archive_layout import FRAMES, HEIGHT, WIDTH, make_archive, official_boxes
from tests.damage import assert_same_tree
from tests.mf_cli import run_tracklets


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "ds")


@pytest.fixture
def archive_copy(archive, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(archive, tmp_path / "ds"))


def test_the_archive_exports_its_split_file_tracklets(archive, tmp_path, capsys):
    out = tmp_path / "cvat"
    code, stdout, err = run_tracklets(
        ["export", "--format", "cvat", "--dataset", str(archive), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    res = json.loads(stdout)
    assert (res["videos"], res["tracks"], res["boxes"], res["left_out"]) == (3, 3, 3 * FRAMES, 0)
    assert not (archive / "tracklets").exists()  # an export writes nothing into the dataset
    cv = read_cvat(out / "1001.xml")
    (track,) = cv.tracks
    assert (cv.width, cv.height, track.label, track.ground_truth, track.key) == (
        WIDTH,
        HEIGHT,
        "item",
        True,
        0,
    )
    assert track.boxes == {int(k): v for k, v in official_boxes().items()}
    size = ET.parse(out / "1001.xml").getroot().findtext("meta/task/size")
    assert size == str(FRAMES)  # probed from the video


@pytest.mark.parametrize("fmt", ["mot", "fiftyone"])
def test_the_other_formats_take_the_archive_too(archive, tmp_path, fmt):
    res = export_dataset(archive, fmt, tmp_path / fmt)
    assert (res["videos"], res["tracks"], res["boxes"]) == (3, 3, 3 * FRAMES)


def test_videos_left_out_are_counted_named_and_explained(tmp_path, capsys):
    ds = make_archive(tmp_path / "ds", without_tracklet=("1002",))
    args = ["export", "--format", "cvat", "--dataset", str(ds)]
    code, stdout, err = run_tracklets([*args, "--out", str(tmp_path / "a"), "--json"], capsys)
    res = json.loads(stdout)
    assert code == 0 and res["videos"] == 2 and res["left_out"] == 1
    assert res["left_out_videos"] == {"1002": "no tracklet file and no tracklet in train.json"}
    code, stdout, err = run_tracklets([*args, "--out", str(tmp_path / "b")], capsys)
    assert code == 0 and "2 videos" in stdout
    assert err.strip().splitlines() == [
        "warning: 1 video left out: 1002 (no tracklet file and no tracklet in train.json)"
    ]


def test_a_video_that_does_not_open_is_left_out_naming_it(archive_copy, tmp_path):
    (archive_copy / "videos" / "2001.mp4").write_bytes(b"not a video")
    res = export_dataset(archive_copy, "cvat", tmp_path / "o")
    assert res["videos"] == 2 and list(res["left_out_videos"]) == ["2001"]
    assert "does not open" in res["left_out_videos"]["2001"]
    assert "videos/2001.mp4" in res["left_out_videos"]["2001"]


def _move_box(xml: Path, frame: int, dx: float) -> None:
    tree = ET.parse(xml)
    box = next(b for b in tree.getroot().iter("box") if b.get("frame") == str(frame))
    for k in ("xtl", "xbr"):
        box.set(k, str(float(box.get(k)) + dx))
    tree.write(xml, encoding="utf-8", xml_declaration=True)


def test_an_import_into_the_archive_starts_from_the_split_file(archive_copy, tmp_path):
    ds = archive_copy
    assert verify_dataset(ds).ok
    export_dataset(ds, "cvat", tmp_path / "x")
    before = (ds / "train.json").read_bytes()
    res = import_cvat(ds, tmp_path / "x" / "1002.xml")  # unchanged: the file is written, nothing else
    assert res["created"] == ["1002"] and res["changed_boxes"] == 0
    assert (ds / "train.json").read_bytes() == before
    vt = read_video_tracklets(tracklet_file(ds, "videos/1002.mp4"))
    assert (vt.product_id, vt.frames, vt.width, vt.height, vt.ground_truth) == (
        "1002",
        FRAMES,
        WIDTH,
        HEIGHT,
        0,
    )
    assert vt.tracklets[0].official() == official_boxes()
    xml = tmp_path / "x" / "1001.xml"
    _move_box(xml, 3, 2)
    res = import_cvat(ds, xml)
    assert res["created"] == ["1001"] and res["changed_videos"] == ["1001"] and res["changed_boxes"] == 1
    entry = json.loads((ds / "train.json").read_text())["1001"]
    assert entry["tracklets"][0]["3"] == [10.0, 10, 30.0, 30]
    assert entry["note"] == "kept by the authors" and len(entry["tracklets"][0]) == FRAMES
    assert read_video_tracklets(tracklet_file(ds, "videos/1001.mp4")).tracklets[0].boxes[3] == [
        10.0,
        10,
        30.0,
        30,
    ]
    report = verify_dataset(ds)
    assert report.ok, report.table()


def test_an_import_reads_no_split_file_whole(archive_copy, tmp_path, monkeypatch):
    """Naming the videos, starting a video without a tracklet file from its split-file entry,
    naming a tracklet file and putting the ground truth back: each reads the entries it needs
    (before: the split files parsed whole with every box, once more per video imported)."""
    import schemas.official as official
    from annotations.tracklet_files import _SHARED

    ds = archive_copy
    export_dataset(ds, "cvat", tmp_path / "x")
    xml = tmp_path / "x" / "1001.xml"
    _move_box(xml, 3, 2)
    whole: list[str] = []
    load = official._load
    monkeypatch.setattr(official, "_load", lambda p: whole.append(Path(p).name) or load(p))
    official._entry_spans.clear()
    _SHARED.clear()
    res = import_cvat(ds, tmp_path / "x")
    assert sorted(res["created"]) == ["1001", "1002", "2001"] and res["changed_videos"] == ["1001"]
    assert whole == []
    assert json.loads((ds / "train.json").read_text())["1001"]["tracklets"][0]["3"] == [10.0, 10, 30.0, 30]
    assert verify_dataset(ds).ok


def test_a_bad_box_holds_out_its_product_alone_from_an_import(archive_copy, tmp_path):
    """A box with reversed corners in one product's split-file tracklet: the other products
    import (that entry's bytes kept as they are); a file of that product is refused before
    anything is written, naming the CVAT file, the split file, the product, the video and the
    frame key (before: every import into the folder was refused)."""
    from schemas.errors import DataFormatError

    ds = archive_copy
    export_dataset(ds, "cvat", tmp_path / "x")
    data = json.loads((ds / "train.json").read_text())
    data["1002"]["tracklets"][0]["4"] = [30, 10, 5, 30]  # x1 > x2
    (ds / "train.json").write_text(json.dumps(data, indent=4))
    bad_entry = json.dumps(data["1002"], indent=4).replace("\n", "\n    ").encode()
    assert bad_entry in (ds / "train.json").read_bytes()
    xml = tmp_path / "x" / "1001.xml"
    _move_box(xml, 3, 2)
    res = import_cvat(ds, xml)
    assert res["changed_videos"] == ["1001"]
    after = json.loads((ds / "train.json").read_text())
    assert after["1001"]["tracklets"][0]["3"] == [10.0, 10, 30.0, 30]
    assert bad_entry in (ds / "train.json").read_bytes()  # the bad product's bytes as they were
    files = {p: p.read_bytes() for p in sorted(ds.rglob("*")) if p.is_file() and p.name != ".lock"}
    with pytest.raises(DataFormatError) as exc:
        import_cvat(ds, tmp_path / "x")  # 1002.xml among them: nothing written
    err = exc.value
    assert err.where == str(tmp_path / "x" / "1002.xml")
    for named in (str(ds / "train.json"), "product '1002'", "video 'videos/1002.mp4'", "frame key '4'"):
        assert named in err.message, err.message
    assert "fix that box" in err.hint
    assert_same_tree(
        {p: p.read_bytes() for p in sorted(ds.rglob("*")) if p.is_file() and p.name != ".lock"}, files
    )
