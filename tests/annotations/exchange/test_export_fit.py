"""Exports hold only boxes an annotation tool takes: on a frame of the video, inside the frame
(with one warning per video saying what was left out or clipped), so the project's own import
takes its own export; MOT's ``frameRate`` is an integer; an import merges with a pick written
while it ran."""

from __future__ import annotations

import configparser
import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import annotations.exchange.importer as importer
from annotations.exchange import export_dataset
from annotations.exchange.common import export_videos, fit_to_video
from annotations.exchange.cvat import read_cvat, video_xml
from annotations.exchange.mot import frame_rate, write_mot
from annotations.tracklet_files import (
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from schemas.errors import MediaError
from schemas.official import read_official
from tests.annotations.review.review_dataset import make_review_dataset


@pytest.fixture
def setup(gt_dataset, tmp_path) -> tuple[Path, dict]:
    ds = tmp_path / "dataset"
    return ds, make_review_dataset(gt_dataset, ds, tmp_path / "catalog.sqlite")


def _stray_boxes(ds: Path, vp: str) -> dict[str, list[int]]:
    """Give the video's tracklets boxes an annotation tool cannot take; returns their frames."""
    vt = read_video_tracklets(tracklet_file(ds, vp))
    gt, cand = vt.tracklets[0], vt.tracklets[1]
    first, second = sorted(gt.boxes)[:2]
    gt.boxes[first] = [vt.width - 10, 5, vt.width + 400, vt.height + 300]  # reaches far outside: clipped
    gt.boxes[second] = [vt.width + 5, 5, vt.width + 50, 40]  # wholly outside: nothing left
    gt.boxes[vt.frames + 5] = [10, 10, 50, 50]  # past the end
    cand.boxes = {vt.frames: [10, 10, 50, 50], vt.frames + 1: [10, 10, 50, 50]}  # only past the end
    write_video_tracklets(ds, vt)
    set_official_tracklet(ds, vt)
    return {"clipped": [first], "outside": [second], "past": [vt.frames + 5]}


def test_exports_leave_out_or_clip_what_no_tool_takes_and_say_so(setup, tmp_path, caplog):
    ds, f = setup
    stem = f["videos"][2]
    vp = f["video_path"][stem]
    stray = _stray_boxes(ds, vp)
    vt = read_video_tracklets(tracklet_file(ds, vp))
    for fmt in ("cvat", "mot", "fiftyone"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="annotations.exchange"):
            res = export_dataset(ds, fmt, tmp_path / fmt, tracks="all", videos=[stem])
        (warning,) = [r.getMessage() for r in caplog.records]  # one per video
        last, size = vt.frames - 1, f"{vt.width}x{vt.height}"
        assert warning.startswith(f"export: video {stem} ({vp}): ")
        assert (
            f"tracklet 0: 1 box on a frame outside 0..{last} left out (frame {stray['past'][0]})" in warning
        )
        assert (
            f"1 box with no area in the {size} frame (under 1 px wide or high, or outside it) left out "
            f"(frame {stray['outside'][0]}); an import of this export keeps them" in warning
        )
        assert f"1 box clipped to the {size} frame (frame {stray['clipped'][0]})" in warning
        assert (
            f"tracklet 1: 2 boxes on frames outside 0..{last} left out (frames {last + 1}, {last + 2}); "
            "no box left: the tracklet is not exported"
        ) in warning
        assert "tracklet 2" not in warning
        assert res["warnings"] == {stem: warning.removeprefix("export: ")}  # --json carries it too
        assert res["tracks"] == 2 and res["boxes"] == len(vt.tracklets[0].boxes) - 2 + len(
            vt.tracklets[2].boxes
        )
    for xml in (tmp_path / "cvat" / f"{stem}.xml", tmp_path / "fiftyone" / "labels" / f"{stem}.xml"):
        root = ET.parse(xml).getroot()
        assert [t.get("id") for t in root.findall("track")] == ["0", "2"]
        for b in root.iter("box"):
            assert 0 <= int(b.get("frame")) < vt.frames
            assert 0 <= float(b.get("xtl")) <= float(b.get("xbr")) <= vt.width
            assert 0 <= float(b.get("ytl")) <= float(b.get("ybr")) <= vt.height
    assert read_cvat(tmp_path / "cvat" / f"{stem}.xml").tracks[0].boxes[stray["clipped"][0]] == [
        vt.width - 10,
        5,
        vt.width,
        vt.height,
    ]
    seq = tmp_path / "mot" / stem
    for line in (seq / "gt" / "gt.txt").read_text().splitlines():
        frame, _, x, y, w, h, *_ = line.split(",")
        assert 1 <= int(frame) <= vt.frames
        assert float(x) >= 0 and float(y) >= 0
        assert float(x) + float(w) <= vt.width + 0.01 and float(y) + float(h) <= vt.height + 0.01
    # the project's own import takes its own export (before: "frame N is past the last frame")
    for src in (tmp_path / "cvat", tmp_path / "fiftyone" / "labels"):
        assert importer.import_cvat(ds, src, tracks="all")["videos"] == 1


@pytest.mark.parametrize("tracks", ["gt", "all"])
def test_an_unedited_round_trip_keeps_the_boxes_the_export_left_out(setup, tmp_path, tracks):
    """A zero-width box, one wholly outside the frame and one past the last frame are not
    exported; importing the export unedited leaves the tracklet file and the split file as they
    were (before: those boxes were deleted from both)."""
    ds, f = setup
    stem = f["videos"][2]
    vp = f["video_path"][stem]
    _stray_boxes(ds, vp)
    vt = read_video_tracklets(tracklet_file(ds, vp))
    third = sorted(vt.tracklets[0].boxes)[2]
    vt.tracklets[0].boxes[third] = [5, 5, 5, 50]  # no width, inside the frame
    write_video_tracklets(ds, vt)
    set_official_tracklet(ds, vt)
    before = read_video_tracklets(tracklet_file(ds, vp))
    split_before = {n: read_official(ds / f"{n}.json") for n in ("train", "test")}
    export_dataset(ds, "cvat", tmp_path / "cvat", tracks=tracks, videos=[stem])
    importer.import_cvat(ds, tmp_path / "cvat", tracks=tracks)
    after = read_video_tracklets(tracklet_file(ds, vp))
    for i in range(len(before.tracklets)):
        assert after.tracklets[i].boxes == before.tracklets[i].boxes, i
    assert after.tracklets[0].boxes[third] == [5, 5, 5, 50]
    assert {n: read_official(ds / f"{n}.json") for n in ("train", "test")} == split_before


def test_a_frame_before_the_first_is_left_out(setup):
    """The schema refuses a negative frame in a file; a tracklet changed in code may still hold one."""
    ds, f = setup
    vt = read_video_tracklets(tracklet_file(ds, f["video_path"][f["videos"][0]]))
    vt.tracklets[0].boxes[-3] = [10, 10, 50, 50]
    v = fit_to_video(vt, [0])
    assert -3 not in v.vt.tracklets[0].boxes and "frame -3" in v.warning
    assert 'frame="-3"' not in video_xml(v.vt, v.tracks).decode()


def test_a_clean_video_exports_unchanged_without_a_warning(setup, caplog):
    ds, f = setup
    with caplog.at_level(logging.WARNING, logger="annotations.exchange"):
        videos = export_videos(ds, "all")
    assert caplog.records == []
    for v in videos:
        assert v.warning is None and v.vt == read_video_tracklets(tracklet_file(ds, v.vt.video))


@pytest.mark.parametrize(("fps", "want"), [(29.97, 30), (23.976, 24), (25.0, 25), (59.94, 60), (0.4, 1)])
def test_mot_frame_rate_is_an_integer(setup, tmp_path, fps, want):
    """MOT readers parse frameRate as an integer (devkit ``getint``, datumaro ``int()``); 29.97
    was written as is."""
    ds, f = setup
    (v,) = export_videos(ds, "gt", [f["videos"][0]])
    write_mot([v], tmp_path, {v.stem: fps})
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini.read_string((tmp_path / v.stem / "seqinfo.ini").read_text())
    assert ini.getint("Sequence", "frameRate") == want == frame_rate(fps)


@pytest.mark.parametrize("fps", [None, 0.0, -25.0, float("nan"), float("inf")])
def test_mot_without_a_frame_rate_is_refused_naming_the_video(setup, tmp_path, fps):
    """A direct caller of write_mot with no usable rate for a video got frameRate=30, made up and
    unsaid (a MOT reader then times every box wrong); it is now an error naming the video and
    saying where its rate comes from, and that video's sequence is not written."""
    ds, f = setup
    (v,) = export_videos(ds, "gt", [f["videos"][0]])
    rates = {} if fps is None else {v.stem: fps}
    with pytest.raises(MediaError) as err:
        write_mot([v], tmp_path, rates)
    assert err.value.where == f"{v.vt.video} (sequence {v.stem})" and "frame rate" in err.value.message
    assert "probe_video" in err.value.hint and not (tmp_path / v.stem).exists()


def test_an_import_keeps_a_pick_written_while_it_ran(setup, tmp_path, monkeypatch):
    """A review pick lands after the import read the tracklet file: the import merges again under
    the dataset's lock (before: it wrote its stale copy back, undoing the pick)."""
    ds, f = setup
    stem = f["videos"][1]
    vp, pid = f["video_path"][stem], f["product"][stem]
    export_dataset(ds, "cvat", tmp_path / "x", tracks="all", videos=[stem])
    xml = tmp_path / "x" / f"{stem}.xml"
    tree = ET.parse(xml)
    for a in tree.getroot().iter("attribute"):
        if a.get("name") == "ground_truth":
            a.text = "false"  # the import says nothing about the ground truth
    box = next(b for b in tree.getroot().findall("track")[2].iter("box") if b.get("outside") == "0")
    box.set("xtl", str(float(box.get("xtl")) + 1))  # and corrects tracklet 2
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    real, picked = importer.read_video_tracklets, []

    def read_then_pick(p, **kw):
        vt = real(p, **kw)
        if not picked:  # the reviewer picks tracklet 1 right after the import's first read
            picked.append(True)
            now = real(p, **kw)
            now.ground_truth = 1
            write_video_tracklets(ds, now)
            set_official_tracklet(ds, now)
        return vt

    monkeypatch.setattr(importer, "read_video_tracklets", read_then_pick)
    res = importer.import_cvat(ds, xml, tracks="all")
    after = read_video_tracklets(tracklet_file(ds, vp))
    assert picked and res["changed_videos"] == [stem]
    assert after.ground_truth == 1  # the pick
    assert after.tracklets[2].mode == "manual"  # the import
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    assert split[pid].tracklets[split[pid].video_paths.index(vp)] == after.tracklets[1].official()
