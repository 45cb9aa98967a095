"""``import --tracks all`` matches a CVAT track to its tracklet by the ``tracklet`` attribute the
export wrote on its boxes, not by the track id CVAT renumbers; a deleted track is reported and
its tracklet kept; duplicate keys and a frame given twice in a track are refused."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from annotations.exchange import export_dataset
from annotations.exchange.cvat import read_cvat
from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from schemas.errors import DataFormatError
from tests.annotations.review.review_dataset import make_review_dataset

#: the box attribute the export writes (``annotations.exchange.cvat.KEY_ATTRIBUTE``)
KEY_ATTRIBUTE = "tracklet"


@pytest.fixture
def exported(gt_dataset, tmp_path) -> tuple[Path, str, Path]:
    """A review dataset (3 tracklets per video, tracklet 0 the ground truth), and the CVAT export
    (``--tracks all``) of one video: (dataset, video path, its XML)."""
    ds = tmp_path / "dataset"
    facts = make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")
    stem = facts["videos"][2]
    export_dataset(ds, "cvat", tmp_path / "x", tracks="all", videos=[stem])
    return ds, facts["video_path"][stem], tmp_path / "x" / f"{stem}.xml"


def as_cvat_exports(xml: Path, edit=None) -> None:
    """Rewrite ``xml`` as CVAT exports it after ``edit``: the tracks numbered 0..n-1 again."""
    tree = ET.parse(xml)
    root = tree.getroot()
    if edit is not None:
        edit(root)
    for n, track in enumerate(root.findall("track")):
        track.set("id", str(n))
    tree.write(xml, encoding="utf-8", xml_declaration=True)


def delete_track(i: int):
    return lambda root: root.remove(root.findall("track")[i])


def move_boxes(track: ET.Element, dx: float) -> None:
    for b in track.findall("box"):
        b.set("xtl", str(float(b.get("xtl")) + dx))


def test_the_export_writes_the_tracklet_key_on_every_box(exported):
    ds, vp, xml = exported
    root = ET.parse(xml).getroot()
    declared = root.findall("meta/task/labels/label/attributes/attribute")
    assert {a.findtext("name") for a in declared} == {
        "ground_truth",
        KEY_ATTRIBUTE,
        "revision",
        "detector_class",
        "product_class",
    }
    for track in root.findall("track"):
        keys = {a.text for a in track.iter("attribute") if a.get("name") == KEY_ATTRIBUTE}
        assert keys == {track.get("id")}  # every box, outside ones too
    cv = read_cvat(xml)
    assert cv.keyed and [t.key for t in cv.tracks] == [0, 1, 2]


def test_a_track_deleted_in_cvat_shifts_no_tracklet(exported, caplog):
    """CVAT renumbers the tracks when one is deleted: track 2 comes back as id 1. Before the key,
    tracklet 1 got tracklet 2's boxes (marked manual, scores dropped) and nothing was said."""
    ds, vp, xml = exported
    before = read_video_tracklets(tracklet_file(ds, vp))

    def edit(root):
        move_boxes(root.findall("track")[2], 1.0)  # a correction of tracklet 2
        delete_track(1)(root)  # a wrong candidate deleted

    as_cvat_exports(xml, edit)
    assert [t.id for t in read_cvat(xml).tracks] == ["0", "1"]
    with caplog.at_level(logging.WARNING, logger="annotations.exchange"):
        res = import_cvat(ds, xml, tracks="all")
    after = read_video_tracklets(tracklet_file(ds, vp))
    assert len(after.tracklets) == 3 and after.ground_truth == 0
    assert after.tracklets[0] == before.tracklets[0] and after.tracklets[1] == before.tracklets[1]
    moved = after.tracklets[2]
    assert moved.mode == "manual" and set(moved.boxes) == set(before.tracklets[2].boxes)
    assert all(moved.boxes[f][0] == before.tracklets[2].boxes[f][0] + 1 for f in moved.boxes)
    stem = Path(vp).stem
    assert res["changed_videos"] == [stem] and res["missing_tracks"] == {stem: [1]}
    assert any(f"tracklet 1 of {vp} has no track in the file: kept" in w for w in res["warnings"])
    assert any("tracklet 1 of" in r.getMessage() for r in caplog.records)


def test_a_track_drawn_in_cvat_is_a_new_tracklet(exported):
    ds, vp, xml = exported
    before = read_video_tracklets(tracklet_file(ds, vp))

    def edit(root):  # a copy of track 0 with the key emptied: what CVAT gives a new track
        new = ET.fromstring(ET.tostring(root.findall("track")[0]))
        for a in new.iter("attribute"):
            a.text = "" if a.get("name") == KEY_ATTRIBUTE else "false"
        move_boxes(new, 3.0)
        root.insert(list(root).index(root.findall("track")[0]), new)  # first: CVAT numbers it 0

    as_cvat_exports(xml, edit)
    res = import_cvat(ds, xml, tracks="all")
    after = read_video_tracklets(tracklet_file(ds, vp))
    assert after.tracklets[:3] == before.tracklets and len(after.tracklets) == 4
    assert after.ground_truth == 0 and res["missing_tracks"] == {} and res["warnings"] == []


def test_importing_a_file_with_a_drawn_track_again_adds_nothing(exported):
    """A rerun of an import (after a kill, or the CVAT loop run again on the same task) appended
    every track drawn in CVAT once more: 4 tracklets became 5, the last two identical
    (audit_exchange D1). A drawn track equal to a manual tracklet no other track names is it."""
    ds, vp, xml = exported

    def edit(root):
        new = ET.fromstring(ET.tostring(root.findall("track")[0]))
        for a in new.iter("attribute"):
            a.text = "" if a.get("name") == KEY_ATTRIBUTE else "false"
        move_boxes(new, 3.0)
        root.append(new)

    as_cvat_exports(xml, edit)
    import_cvat(ds, xml, tracks="all")
    once = read_video_tracklets(tracklet_file(ds, vp))
    assert len(once.tracklets) == 4 and once.tracklets[3].mode == "manual"
    res = import_cvat(ds, xml, tracks="all")
    assert read_video_tracklets(tracklet_file(ds, vp)) == once
    assert res["changed_videos"] == [] and res["missing_tracks"] == {} and res["warnings"] == []
    # a drawn track whose boxes differ is not taken for the tracklet (nothing else tells them apart)
    tree = ET.parse(xml)
    move_boxes(tree.getroot().findall("track")[-1], 2.0)
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    import_cvat(ds, xml, tracks="all")
    assert len(read_video_tracklets(tracklet_file(ds, vp)).tracklets) == 5


def test_gt_import_replaces_the_tracklet_the_marked_track_came_from(exported):
    """The track marked ground_truth in CVAT is tracklet 2: it becomes the ground truth, and
    tracklet 0 keeps its boxes (before: tracklet 0 was overwritten with tracklet 2's)."""
    ds, vp, xml = exported
    before = read_video_tracklets(tracklet_file(ds, vp))

    def mark_2(root):
        for n, track in enumerate(root.findall("track")):
            for a in track.iter("attribute"):
                if a.get("name") == "ground_truth":
                    a.text = "true" if n == 2 else "false"

    as_cvat_exports(xml, mark_2)
    import_cvat(ds, xml, tracks="gt")
    after = read_video_tracklets(tracklet_file(ds, vp))
    assert after.ground_truth == 2 and after.tracklets == before.tracklets


def test_deleting_the_ground_truth_track_needs_another_marked(exported):
    ds, vp, xml = exported
    as_cvat_exports(xml, delete_track(0))
    before = tracklet_file(ds, vp).read_bytes()
    with pytest.raises(DataFormatError, match="ground-truth tracklet 0 has no track in the file") as exc:
        import_cvat(ds, xml, tracks="all")
    assert exc.value.where == str(xml) and exc.value.hint
    assert tracklet_file(ds, vp).read_bytes() == before


def test_a_file_without_keys_falls_back_to_track_ids_with_a_warning(exported, caplog):
    ds, vp, xml = exported
    text = xml.read_text()
    text = re.sub(rf'\s*<attribute name="{KEY_ATTRIBUTE}">\d+</attribute>', "", text)
    text = re.sub(r"\s*<attribute>\s*<name>tracklet</name>.*?</attribute>", "", text, flags=re.S)
    xml.write_text(text)
    assert not read_cvat(xml).keyed
    with caplog.at_level(logging.WARNING, logger="annotations.exchange"):
        res = import_cvat(ds, xml, tracks="all")
    assert res["changed_videos"] == [] and len(res["warnings"]) == 1
    assert f"no '{KEY_ATTRIBUTE}' attribute" in res["warnings"][0] and str(xml) in res["warnings"][0]
    assert "matched to tracklets by their id" in caplog.text


@pytest.mark.parametrize(
    ("edit", "message", "where"),
    [
        (  # a track copied in CVAT: two tracks from tracklet 1
            lambda t: re.sub(rf'(<attribute name="{KEY_ATTRIBUTE}">)2<', r"\g<1>1<", t),
            rf"tracks 1 and 2 both have {KEY_ATTRIBUTE}=1",
            "",
        ),
        (lambda t: t.replace('<track id="2"', '<track id="1"'), "two tracks have id '1'", ""),
        (
            lambda t: re.sub(rf'(<attribute name="{KEY_ATTRIBUTE}">)2<', r"\g<1>7<", t),
            rf"{KEY_ATTRIBUTE}=7, but videos/\S+ has 3 tracklets",
            ": track 2",
        ),
        (
            lambda t: re.sub(rf'(<attribute name="{KEY_ATTRIBUTE}">)2<', r"\g<1>two<", t),
            "'two' is not a tracklet index",
            ": track 2",
        ),
    ],
)
def test_ambiguous_keys_are_refused_naming_the_tracks(exported, edit, message, where):
    ds, vp, xml = exported
    xml.write_text(edit(xml.read_text()))
    before = tracklet_file(ds, vp).read_bytes()
    with pytest.raises(DataFormatError, match=message) as exc:
        import_cvat(ds, xml, tracks="all")
    assert exc.value.where == f"{xml}{where}" and exc.value.hint
    assert tracklet_file(ds, vp).read_bytes() == before


def test_a_frame_given_twice_in_a_track_is_refused(exported):
    """Before: the second box silently replaced the first."""
    ds, vp, xml = exported
    tree = ET.parse(xml)
    track = tree.getroot().find("track")
    box = next(b for b in track.findall("box") if b.get("outside") == "0")
    twin = ET.fromstring(ET.tostring(box))
    twin.set("xtl", str(float(box.get("xtl")) + 5))
    track.insert(list(track).index(box) + 1, twin)
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    frame = box.get("frame")
    with pytest.raises(DataFormatError, match=f"frame {frame} is given twice in the track") as exc:
        import_cvat(ds, xml, tracks="all")
    assert exc.value.where == f"{xml}: track 0 frame {frame}" and exc.value.hint


@pytest.mark.parametrize("frame", ["-1", "1.5", "x"])
def test_a_box_without_a_valid_frame_names_the_frame(exported, frame):
    ds, vp, xml = exported
    xml.write_text(re.sub(r'frame="\d+"', f'frame="{frame}"', xml.read_text(), count=1))
    with pytest.raises(
        DataFormatError, match=f"a box without a valid frame \\(frame='{re.escape(frame)}'"
    ) as exc:
        import_cvat(ds, xml, tracks="all")
    assert exc.value.where == f"{xml}: track 0 frame {frame}" and exc.value.hint
