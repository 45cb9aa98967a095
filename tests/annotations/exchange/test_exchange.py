"""Exports for CVAT / MOT / FiftyOne and the CVAT import: structure, round trip, errors."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotations.cli import tracklets
from annotations.exchange import export_dataset
from annotations.exchange.common import LABELS, NO_CLASS_LABEL, number_text, number_value
from annotations.exchange.cvat import read_cvat
from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import (
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from schemas.catalog import Catalog
from schemas.errors import ConfigError, DataFormatError
from schemas.official import read_official
from schemas.review import list_decisions
from schemas.taxonomy import DF2_CLASSES
from tests.annotations.review.review_dataset import make_review_dataset


@pytest.fixture
def setup(gt_dataset, tmp_path):
    ds, cat = tmp_path / "dataset", tmp_path / "catalog.sqlite"
    facts = make_review_dataset(gt_dataset, ds, cat)
    return ds, cat, facts


def _all_tracklets(ds: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ds / "tracklets").glob("*.json"))}


def _with_gaps_and_floats(ds: Path, vp: str) -> None:
    """Make the ground truth of one video awkward: float coordinates, gaps, a box on the last frame."""
    vt = read_video_tracklets(tracklet_file(ds, vp))
    gt = vt.tracklets[0]
    frames = sorted(gt.boxes)
    keep = {f: b for f, b in gt.boxes.items() if not 5 <= f < 9 and f != 14}  # two gaps
    f0 = frames[0]
    keep[f0] = [10.123456789, 20.5, 100.25, 200.0]  # floats, one integral float
    keep[vt.frames - 1] = [1, 2, 3, 4]
    gt.boxes = dict(sorted(keep.items()))
    write_video_tracklets(ds, vt)
    assert set_official_tracklet(ds, vt)


def test_cvat_xml_structure_every_track_closed(setup, tmp_path):
    ds, _, f = setup
    vp = f["video_path"][f["videos"][0]]
    _with_gaps_and_floats(ds, vp)
    res = export_dataset(ds, "cvat", tmp_path / "cvat", tracks="all")
    assert res["videos"] == len(f["videos"]) and res["tracks"] == 3 * len(f["videos"])
    files = sorted((tmp_path / "cvat").glob("*.xml"))
    assert [p.stem for p in files] == f["videos"]  # one task per video
    for p in files:
        root = ET.parse(p).getroot()
        assert root.tag == "annotations" and root.findtext("version") == "1.1"
        task = root.find("meta/task")
        vt = read_video_tracklets(tracklet_file(ds, f["video_path"][p.stem]))
        assert int(task.findtext("size")) == vt.frames and task.findtext("mode") == "interpolation"
        assert int(task.findtext("stop_frame")) == vt.frames - 1
        assert [int(task.findtext("original_size/width")), int(task.findtext("original_size/height"))] == [
            vt.width,
            vt.height,
        ]
        assert [e.findtext("name") for e in task.findall("labels/label")] == LABELS
        assert task.findtext("source") == Path(vt.video).name
        tracks = root.findall("track")
        assert [int(t.get("id")) for t in tracks] == [0, 1, 2]
        for t in tracks:
            assert t.get("label") in LABELS and t.get("source") in ("auto", "manual")
            boxes = t.findall("box")
            for b in boxes:
                assert set(b.attrib) == {
                    "frame",
                    "keyframe",
                    "outside",
                    "occluded",
                    "xtl",
                    "ytl",
                    "xbr",
                    "ybr",
                    "z_order",
                }
                assert b.get("keyframe") == "1"
                assert 0 <= int(b.get("frame")) <= vt.frames - 1
            visible = sorted(int(b.get("frame")) for b in boxes if b.get("outside") == "0")
            outside = {int(b.get("frame")) for b in boxes if b.get("outside") == "1"}
            trk = vt.tracklets[int(t.get("id"))]
            assert visible == sorted(trk.boxes)
            # closed: an outside box right after every run of frames (none after the last frame)
            ends = [a for a, b in zip(visible, [*visible[1:], None], strict=True) if b != a + 1]
            assert outside == {e + 1 for e in ends if e < vt.frames - 1}
            assert max(outside | set(visible)) == vt.frames - 1 or max(outside) > max(visible)
            gt_attr = {a.text for b in boxes for a in b.findall("attribute[@name='ground_truth']")}
            assert gt_attr == {"true" if int(t.get("id")) == vt.ground_truth else "false"}
    # the awkward video: two gaps closed, no box past the video's last frame
    awkward = read_cvat(tmp_path / "cvat" / f"{f['videos'][0]}.xml")
    assert len(awkward.tracks[0].boxes) == len(read_video_tracklets(tracklet_file(ds, vp)).tracklets[0].boxes)


@pytest.mark.parametrize("tracks", ["gt", "all"])
def test_export_import_round_trip_is_identical(setup, tmp_path, tracks):
    ds, cat, f = setup
    _with_gaps_and_floats(ds, f["video_path"][f["videos"][0]])
    before = _all_tracklets(ds)
    official = (ds / "train.json").read_bytes(), (ds / "test.json").read_bytes()
    export_dataset(ds, "cvat", tmp_path / "x", tracks=tracks)
    res = import_cvat(ds, tmp_path / "x", tracks=tracks, catalog=cat)
    assert res["videos"] == len(f["videos"]) and res["changed_videos"] == [] and res["changed_boxes"] == 0
    assert _all_tracklets(ds) == before  # byte-identical: same boxes, same int/float types
    assert ((ds / "train.json").read_bytes(), (ds / "test.json").read_bytes()) == official
    with Catalog(cat) as c:  # nothing changed, so no video gets an import decision
        assert list_decisions(c) == []


def test_numbers_read_back_exactly_and_cvat_precision_is_floats():
    for v in (0, 17, -3, 12.0, 12.5, 10.123456789, 1e-7, 319.99999999999994):
        back = number_value(number_text(v), "x")
        assert back == v and type(back) is type(v)
    assert number_value("12.00", "x") == 12.0 and isinstance(number_value("12.00", "x"), float)
    with pytest.raises(DataFormatError):
        number_value("1,5", "x")


def _edit(xml: Path, fn) -> None:
    tree = ET.parse(xml)
    fn(tree.getroot())
    tree.write(xml, encoding="utf-8", xml_declaration=True)


def test_corrected_tracks_come_back_into_json_official_and_catalog(setup, tmp_path):
    ds, cat, f = setup
    stem = f["videos"][2]
    vp, pid = f["video_path"][stem], f["product"][stem]
    export_dataset(ds, "cvat", tmp_path / "x", videos=[stem])
    xml = tmp_path / "x" / f"{stem}.xml"
    old = read_video_tracklets(tracklet_file(ds, vp))
    first = min(old.tracklets[0].boxes)

    def fix(root):  # like CVAT: two decimals, one box moved, the class changed
        track = root.find("track")
        track.set("label", DF2_CLASSES[7])
        for b in track.findall("box"):
            for k in ("xtl", "ytl", "xbr", "ybr"):
                b.set(k, f"{float(b.get(k)):.2f}")
            if b.get("frame") == str(first):
                b.set("xtl", "1.25")

    _edit(xml, fix)
    res = CliRunner().invoke(
        tracklets,
        ["import", "--format", "cvat", str(xml), "--dataset", str(ds), "--catalog", str(cat), "--json"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["changed_videos"] == [stem] and out["changed_boxes"] == 1
    assert out["changed_classes"] == {stem: [0]} and out["ground_truth_moved"] == []
    assert any("ground-truth track's class is now shorts" in w for w in out["warnings"])
    vt = read_video_tracklets(tracklet_file(ds, vp))
    gt = vt.tracklets[vt.ground_truth]
    assert vt.ground_truth == 0 and gt.mode == "manual" and gt.class_id == 7
    assert gt.boxes[first][0] == 1.25 and all(isinstance(v, float) for v in gt.boxes[first])
    assert {k: [float(x) for x in b] for k, b in gt.boxes.items() if k != first} == {
        k: [float(x) for x in b] for k, b in old.tracklets[0].boxes.items() if k != first
    }
    assert vt.tracklets[1:] == old.tracklets[1:]  # candidates untouched
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    assert split[pid].tracklets[split[pid].video_paths.index(vp)] == gt.official()
    with Catalog(cat) as c:
        by_kind = {x.kind: x for x in list_decisions(c)}
        assert sorted(by_kind) == ["class", "import"]
        d, cls = by_kind["import"], by_kind["class"]
        assert d.video == vp and "1 boxes changed" in d.note and "classes of tracklets 0 changed" in d.note
        # the relabelled ground truth's class becomes the product's (as the review page's c key),
        # recorded before the files are written (a rerun after a failure would see no change)
        assert cls.df2_class == 7 and cls.video == vp and cls.id < d.id
        assert sorted(e["message"].split(":")[0] for e in c.events("review")[-2:]) == ["class", "import"]


def test_bad_imports_change_nothing(setup, tmp_path):
    ds, _, f = setup
    export_dataset(ds, "cvat", tmp_path / "x", tracks="all")
    before = _all_tracklets(ds)
    a, b, c = (tmp_path / "x" / f"{s}.xml" for s in f["videos"][:3])
    # several tracks, none marked: ambiguous for --tracks gt
    _edit(a, lambda r: [att.set("name", "other") for att in r.iter("attribute")])
    with pytest.raises(DataFormatError, match="cannot tell which"):
        import_cvat(ds, tmp_path / "x")
    shutil.copy(b, tmp_path / "b.xml")
    _edit(b, lambda r: r.find("track/box").set("xbr", "-5"))
    with pytest.raises(DataFormatError, match=r"xbr < xtl.*") as exc:
        import_cvat(ds, b, tracks="all")
    assert b.name in str(exc.value) and "track 0" in str(exc.value)
    _edit(c, lambda r: r.find("track").set("label", "hat"))
    with pytest.raises(DataFormatError, match="unknown label 'hat'"):
        import_cvat(ds, c, tracks="all")
    other = tmp_path / "nobody.xml"
    shutil.copy(tmp_path / "b.xml", other)
    _edit(
        other,
        lambda r: (
            r.find("meta/task/source").__setattr__("text", "zz.mp4"),
            r.find("meta/task/name").__setattr__("text", "zz"),
        ),
    )
    with pytest.raises(DataFormatError, match="names no video"):
        import_cvat(ds, other)
    (tmp_path / "evil.xml").write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><annotations/>')
    with pytest.raises(DataFormatError, match="DOCTYPE"):
        import_cvat(ds, tmp_path / "evil.xml")
    (tmp_path / "img.xml").write_text("<annotations><version>1.1</version><image id='0'/></annotations>")
    with pytest.raises(DataFormatError, match="CVAT for images"):
        import_cvat(ds, tmp_path / "img.xml")
    assert _all_tracklets(ds) == before
    res = CliRunner().invoke(tracklets, ["import", str(tmp_path / "evil.xml"), "--dataset", str(ds)])
    assert res.exit_code != 0


def test_mot_export(setup, tmp_path):
    ds, _, f = setup
    res = export_dataset(ds, "mot", tmp_path / "mot")
    assert res["videos"] == len(f["videos"])
    for stem in f["videos"]:
        vt = read_video_tracklets(tracklet_file(ds, f["video_path"][stem]))
        seq = tmp_path / "mot" / stem
        info = dict(line.split("=", 1) for line in (seq / "seqinfo.ini").read_text().splitlines()[1:])
        assert info["seqLength"] == str(vt.frames) and info["imWidth"] == str(vt.width)
        assert float(info["frameRate"]) == pytest.approx(30.0)
        assert (seq / "gt" / "labels.txt").read_text().splitlines() == LABELS
        rows = [line.split(",") for line in (seq / "gt" / "gt.txt").read_text().splitlines()]
        gt = vt.tracklets[vt.ground_truth]
        assert len(rows) == len(gt.boxes)
        for r in rows:
            frame, tid, x, y, w, h, conf, cls, vis = r
            b = gt.boxes[int(frame) - 1]
            assert tid == str(vt.ground_truth + 1) and conf == "1" and vis == "1"
            assert [float(x), float(y), float(x) + float(w), float(y) + float(h)] == pytest.approx(
                b, abs=0.01
            )
            assert LABELS[int(cls) - 1] == (DF2_CLASSES.get(gt.class_id) or NO_CLASS_LABEL)


def test_fiftyone_layout(setup, tmp_path):
    ds, _, f = setup
    res = CliRunner().invoke(
        tracklets,
        ["export", "--format", "fiftyone", "--dataset", str(ds), "--out", str(tmp_path / "fo"), "--json"],
    )
    assert res.exit_code == 0, res.output
    data = sorted(p.name for p in (tmp_path / "fo" / "data").iterdir())
    labels = sorted(p.name for p in (tmp_path / "fo" / "labels").iterdir())
    assert [Path(n).stem for n in data] == [Path(n).stem for n in labels] == f["videos"]
    for n in data:  # the dataset's own bytes
        assert (tmp_path / "fo" / "data" / n).read_bytes() == (ds / "videos" / n).read_bytes()
    cv = read_cvat(tmp_path / "fo" / "labels" / labels[0])
    vt0 = read_video_tracklets(tracklet_file(ds, f["video_path"][Path(labels[0]).stem]))
    assert (cv.width, cv.height, cv.frames) == (vt0.width, vt0.height, vt0.frames) and len(cv.tracks) == 1
    assert cv.tracks[0].boxes == vt0.tracklets[vt0.ground_truth].boxes
    # a second export over the first is fine (links replaced, labels rewritten)
    assert (
        CliRunner()
        .invoke(
            tracklets, ["export", "--format", "fiftyone", "--dataset", str(ds), "--out", str(tmp_path / "fo")]
        )
        .exit_code
        == 0
    )
    # and the folder imports back like a CVAT export
    assert import_cvat(ds, tmp_path / "fo" / "labels")["changed_boxes"] == 0


def test_unknown_video_for_export_is_an_error(setup, tmp_path):
    ds, _, _ = setup
    res = CliRunner().invoke(
        tracklets,
        ["export", "--format", "cvat", "--dataset", str(ds), "--out", str(tmp_path / "o"), "--video", "nope"],
    )
    assert res.exit_code != 0 and "nope" in str(res.exception)


def test_export_choices_are_the_registry():
    from annotations.cli import export
    from annotations.exchange import EXPORTERS

    fmt = next(p for p in export.params if p.name == "fmt")
    assert list(fmt.type.choices) == list(EXPORTERS)


def _as_cvat_writes(xml: Path, dx: float = 0.0) -> None:
    """Rewrite every box coordinate as CVAT's own export does (two decimals), moved by ``dx``."""
    tree = ET.parse(xml)
    for box in tree.getroot().iter("box"):
        for k in ("xtl", "ytl", "xbr", "ybr"):
            box.set(k, f"{float(box.get(k)) + (dx if k == 'xtl' else 0):.2f}")
    tree.write(xml, encoding="utf-8", xml_declaration=True)


def test_an_unedited_round_trip_through_cvat_changes_nothing(setup, tmp_path):
    """Boxes of 3 decimals (decimals allows 4) and a box up to 2 px outside the frame came back
    from CVAT rounded or clipped, and the import made the tracklet manual and dropped its scores
    (audit_exchange D4). A real edit, even of 0.01 px, still counts."""
    ds, _, facts = setup
    stem = facts["videos"][1]
    vp = facts["video_path"][stem]
    vt = read_video_tracklets(tracklet_file(ds, vp))
    gt = vt.tracklets[vt.ground_truth]
    frames = sorted(gt.boxes)
    gt.boxes = {f: [round(b[0] + 0.1234, 3), b[1], b[2], b[3]] for f, b in gt.boxes.items()}
    x1, y1, _, y2 = gt.boxes[frames[0]]
    gt.boxes[frames[0]] = [x1, y1, vt.width + 1.5, y2]  # reaches 1.5 px out: exported clipped
    gt.scores = {f: 0.9 for f in gt.boxes}
    write_video_tracklets(ds, vt)
    before = read_video_tracklets(tracklet_file(ds, vp))
    assert before.tracklets[before.ground_truth].scores  # scores to lose
    out = tmp_path / "cvat"
    export_dataset(ds, "cvat", out, videos=[stem])
    _as_cvat_writes(out / f"{stem}.xml")
    res = import_cvat(ds, out / f"{stem}.xml")
    assert res["changed_videos"] == [] and read_video_tracklets(tracklet_file(ds, vp)) == before
    _as_cvat_writes(out / f"{stem}.xml", dx=0.01)
    res = import_cvat(ds, out / f"{stem}.xml")
    after = read_video_tracklets(tracklet_file(ds, vp)).tracklets[before.ground_truth]
    assert res["changed_videos"] == [stem] and after.mode == "manual"


def test_an_export_into_the_dataset_folder_is_refused(setup):
    """Its files are not in the manifest, so mf verify broke on every one (audit_exchange D5)."""
    ds, _, _ = setup
    for out in (ds / "cvat", ds):
        with pytest.raises(ConfigError, match="inside the dataset folder"):
            export_dataset(ds, "cvat", out)
    assert not (ds / "cvat").exists()


@pytest.mark.parametrize(
    ("fmt", "said"),
    [
        ("mot", "'mot' is an export format only: import reads cvat"),
        ("xyz", "'xyz' is not a format import reads (cvat)"),
    ],
)
def test_import_names_an_export_only_format_as_such(tmp_path, fmt, said):
    src = tmp_path / "seq.txt"
    src.write_text("1,1,10,10,20,20,1,-1,-1,-1\n")
    res = CliRunner().invoke(tracklets, ["import", "--format", fmt, str(src), "--dataset", str(tmp_path)])
    assert res.exit_code == 2 and said in res.output, res.output
