"""A CVAT job export (CVAT splits a long task into jobs) or a task over part of the video covers
``start_frame .. stop_frame`` only: the import replaces the boxes of those frames and keeps the
others (before: the tracklet became the file's segment, the rest deleted without a word)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError
from tests.annotations.exchange.archive_layout import FRAMES, HEIGHT, WIDTH, make_archive
from tests.mf_cli import run_tracklets

VIDEO = "videos/1001.mp4"


@pytest.fixture
def built(tmp_path) -> tuple[Path, dict[int, list[int]]]:
    """The archive with a tracklet file for 1001 (as mf-tracklets build writes one)."""
    root = make_archive(tmp_path / "ds")
    entry = json.loads((root / "train.json").read_text())["1001"]
    boxes = {int(k): v for k, v in entry["tracklets"][0].items()}
    t = Tracklet(video=VIDEO, boxes=boxes, mode="ground-truth", scores=dict.fromkeys(boxes, 0.9))
    vt = VideoTracklets(
        product_id="1001",
        video=VIDEO,
        frames=FRAMES,
        width=WIDTH,
        height=HEIGHT,
        tracklets=[t],
        ground_truth=0,
    )
    write_video_tracklets(root, vt)
    return root, boxes


def cvat_xml(
    tmp_path: Path,
    boxes: dict[int, list[float]],
    *,
    meta: str = "job",
    start: int | None = 0,
    stop: int | None = 5,
    frame_filter: str = "",
) -> Path:
    """A CVAT for video 1.1 file as CVAT writes it (2 decimals), one track keyed to tracklet 0."""
    rng = "".join(
        f"<{tag}>{v}</{tag}>" for tag, v in (("start_frame", start), ("stop_frame", stop)) if v is not None
    )
    xml = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<annotations><version>1.1</version>",
        f"<meta><{meta}><id>7</id><size>6</size><mode>interpolation</mode><overlap>0</overlap>{rng}",
        f"<frame_filter>{frame_filter}</frame_filter>",
        f"<original_size><width>{WIDTH}</width><height>{HEIGHT}</height></original_size>",
        f"</{meta}></meta>",
        '<track id="0" label="item" source="manual">',
    ]
    for f, (x1, y1, x2, y2) in sorted(boxes.items()):
        xml.append(
            f'<box frame="{f}" keyframe="1" outside="0" occluded="0" xtl="{x1:.2f}" ytl="{y1:.2f}" '
            f'xbr="{x2:.2f}" ybr="{y2:.2f}" z_order="0"><attribute name="ground_truth">true</attribute>'
            '<attribute name="tracklet">0</attribute></box>'
        )
    xml += ["</track>", "</annotations>"]
    path = tmp_path / "1001.xml"
    path.write_text("\n".join(xml))
    return path


def official(root: Path) -> dict[int, list[float]]:
    return {
        int(k): v for k, v in json.loads((root / "train.json").read_text())["1001"]["tracklets"][0].items()
    }


def test_an_unchanged_job_export_changes_nothing(built, tmp_path):
    root, boxes = built
    before = (root / "train.json").read_bytes()
    res = import_cvat(root, cvat_xml(tmp_path, {f: boxes[f] for f in range(6)}), tracks="gt")
    assert res["changed_boxes"] == 0 and res["changed_videos"] == []
    assert res["frame_ranges"] == {"1001": {"start": 0, "stop": 5, "step": 1, "whole": False}}
    assert (root / "train.json").read_bytes() == before
    assert read_video_tracklets(tracklet_file(root, VIDEO)).tracklets[0].boxes == boxes


@pytest.mark.parametrize("meta", ["job", "task"])
def test_a_segment_replaces_its_frames_only(built, tmp_path, meta):
    """The second job (frames 6..11): frame 8 moved and frame 10 deleted in CVAT."""
    root, boxes = built
    seg = {f: list(boxes[f]) for f in range(6, 12) if f != 10}
    seg[8] = [b + 1 for b in seg[8]]
    res = import_cvat(root, cvat_xml(tmp_path, seg, meta=meta, start=6, stop=11), tracks="all")
    after = read_video_tracklets(tracklet_file(root, VIDEO)).tracklets[0]
    assert res["changed_boxes"] == 2 and res["changed_videos"] == ["1001"]
    assert res["frame_ranges"]["1001"] == {"start": 6, "stop": 11, "step": 1, "whole": False}
    assert sorted(after.boxes) == [f for f in range(FRAMES) if f != 10]
    assert after.boxes[8] == [14, 11, 34, 31] and all(after.boxes[f] == boxes[f] for f in range(6))
    assert after.scores[2] == 0.9 and 8 not in after.scores and after.mode == "manual"
    assert official(root) == after.boxes


def test_a_step_covers_every_nth_frame(built, tmp_path):
    root, boxes = built
    seg = {f: boxes[f] for f in range(0, 12, 3) if f != 6}  # step 3: 0, 3, 6, 9; 6 deleted
    res = import_cvat(root, cvat_xml(tmp_path, seg, meta="task", start=0, stop=11, frame_filter="step=3"))
    after = read_video_tracklets(tracklet_file(root, VIDEO)).tracklets[0]
    assert sorted(after.boxes) == [f for f in range(FRAMES) if f != 6]
    assert res["frame_ranges"]["1001"] == {"start": 0, "stop": 11, "step": 3, "whole": False}


def test_a_file_without_a_range_replaces_the_whole_tracklet(built, tmp_path):
    root, boxes = built
    import_cvat(root, cvat_xml(tmp_path, {f: boxes[f] for f in range(6)}, start=None, stop=None))
    assert sorted(read_video_tracklets(tracklet_file(root, VIDEO)).tracklets[0].boxes) == list(range(6))


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"start": 6, "stop": 2}, "frame range 6..2"),
        ({"start": -1, "stop": 2}, "frame range -1..2"),
        ({"frame_filter": "every=2"}, "frame_filter 'every=2' is not step=N"),
    ],
)
def test_a_bad_range_is_refused_naming_the_file(built, tmp_path, kw, words):
    root, boxes = built
    before = (root / "train.json").read_bytes()
    with pytest.raises(DataFormatError, match=words) as err:
        import_cvat(root, cvat_xml(tmp_path, {0: boxes[0]}, **kw))
    assert "1001.xml" in str(err.value) and (root / "train.json").read_bytes() == before


def test_the_cli_says_which_frames_were_replaced(built, tmp_path, capsys):
    root, boxes = built
    xml = cvat_xml(tmp_path, {f: boxes[f] for f in range(6)})
    code, out, err = run_tracklets(["import", str(xml), "--dataset", str(root)], capsys)
    assert code == 0, err
    assert (
        out.strip()
        == "1 video imported, 0 changed (0 boxes); only the file's frames replaced: 1001 frames 0..5"
    )


def test_a_range_starting_past_the_video_is_refused(built, tmp_path):
    """The fuzz finding: start 1000, stop 2000 on a short video went in, frame 0's box with it."""
    root, boxes = built
    before = (root / "train.json").read_bytes()
    moved = {0: [b + 1 for b in boxes[0]]}
    with pytest.raises(DataFormatError, match=r"frame range 1000\.\.2000 starts past the last frame") as err:
        import_cvat(root, cvat_xml(tmp_path, moved, meta="task", start=1000, stop=2000))
    assert "1001.xml" in str(err.value) and (root / "train.json").read_bytes() == before


@pytest.mark.parametrize(
    ("kw", "frame"),
    [
        ({"start": 6, "stop": 11}, 0),
        ({"start": 0, "stop": 5}, 9),
        ({"start": 0, "stop": 11, "frame_filter": "step=3"}, 4),
    ],
)
def test_a_box_outside_the_files_range_is_refused_naming_track_and_frame(built, tmp_path, kw, frame):
    """The import replaces the file's frames only: a box on another frame is never imported
    while the report says that frame was left alone."""
    root, boxes = built
    before = (root / "train.json").read_bytes()
    seg = {f: boxes[f] for f in (kw["start"], frame)}
    with pytest.raises(DataFormatError, match=rf"box on frame {frame}, not one of the file's frames") as err:
        import_cvat(root, cvat_xml(tmp_path, seg, meta="task", **kw), tracks="all")
    assert f"1001.xml: track 0 frame {frame}" in str(err.value)
    assert (root / "train.json").read_bytes() == before


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('<box frame="0"', '<box frame="' + "1" * 5000 + '"', "a box without a valid frame"),
        ('name="tracklet">0<', 'name="tracklet">' + "1" * 5000 + "<", "is not a tracklet index"),
        ("<start_frame>0<", "<start_frame>" + "1" * 5000 + "<", "is not an integer"),
    ],
)
def test_a_5000_digit_number_is_one_error_naming_the_file(built, tmp_path, old, new, words):
    root, boxes = built
    path = cvat_xml(tmp_path, {0: boxes[0]})
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(DataFormatError, match=words) as err:
        import_cvat(root, path)
    assert "1001.xml" in str(err.value) and len(str(err.value)) < 600


@pytest.fixture
def two_items(tmp_path) -> Path:
    """1001's ground truth (tracklet 0) on frames 8-11 only, and another candidate (tracklet 1) on
    frames 0-5: a job over frames 0-5 holds tracklet 1's track and none of the item's."""
    root = make_archive(tmp_path / "ds")
    gt = Tracklet(video=VIDEO, boxes={f: [30, 10, 50, 40] for f in range(8, FRAMES)}, mode="ground-truth")
    other = Tracklet(video=VIDEO, boxes={f: [2, 2, 20, 20] for f in range(0, 6)}, mode="inference")
    vt = VideoTracklets(
        product_id="1001", video=VIDEO, frames=FRAMES, width=WIDTH, height=HEIGHT,
        tracklets=[gt, other], ground_truth=0,
    )  # fmt: skip
    write_video_tracklets(root, vt)
    return root


def job_xml(tmp_path: Path, tracks: dict[int, dict[int, list[float]]]) -> Path:
    """A CVAT job over frames 0-5 with ``tracks`` (tracklet key -> boxes), none marked ground truth."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><job><id>7</id>'
        "<size>6</size><mode>interpolation</mode><start_frame>0</start_frame><stop_frame>5</stop_frame>"
        f"<original_size><width>{WIDTH}</width><height>{HEIGHT}</height></original_size></job></meta>"
    )
    body = []
    for n, (key, boxes) in enumerate(tracks.items()):
        body.append(f'<track id="{n}" label="item" source="manual">')
        for f, (x1, y1, x2, y2) in sorted(boxes.items()):
            body.append(
                f'<box frame="{f}" keyframe="1" outside="0" occluded="0" xtl="{x1:.2f}" ytl="{y1:.2f}" '
                f'xbr="{x2:.2f}" ybr="{y2:.2f}" z_order="0"><attribute name="ground_truth">false</attribute>'
                f'<attribute name="tracklet">{key}</attribute></box>'
            )
        body.append("</track>")
    path = tmp_path / "1001.xml"
    path.write_text(head + "".join(body) + "</annotations>")
    return path


def test_a_job_the_item_is_not_in_imports_its_other_corrections(two_items, tmp_path):
    """CVAT leaves a track out of a job where it has no box; the import took the missing ground
    truth for a deleted one and refused the file, so nothing of that job could come back
    (audit_exchange D2)."""
    moved = {f: [3, 2, 21, 20] for f in range(0, 6)}
    xml = job_xml(tmp_path, {1: moved})
    res = import_cvat(two_items, xml, tracks="all")
    vt = read_video_tracklets(tracklet_file(two_items, VIDEO))
    assert vt.ground_truth == 0 and vt.tracklets[0].boxes == {f: [30, 10, 50, 40] for f in range(8, FRAMES)}
    assert vt.tracklets[1].boxes == moved and res["missing_tracks"] == {}
    before = tracklet_file(two_items, VIDEO).read_bytes()
    res = import_cvat(two_items, xml, tracks="gt")  # the item's track is not in it: nothing to do
    assert tracklet_file(two_items, VIDEO).read_bytes() == before
    assert any("nothing to import" in w and "0..5" in w for w in res["warnings"])


def test_a_file_with_no_track_is_nothing_to_import(two_items, tmp_path):
    """The export of a video with no ground truth has no track; importing the export folder
    unchanged refused every file for that one (audit_exchange D3)."""
    before = tracklet_file(two_items, VIDEO).read_bytes()
    res = import_cvat(two_items, job_xml(tmp_path, {}), tracks="gt")
    assert tracklet_file(two_items, VIDEO).read_bytes() == before
    assert res["changed_videos"] == [] and any("the file has no track" in w for w in res["warnings"])


def test_a_sparse_hand_written_track_is_imported_as_listed_and_said_so(built, tmp_path):
    """CVAT interpolates between keyframes and extends an unclosed track to the end; the import
    takes the boxes as listed, and said nothing (audit_exchange D11)."""
    boxes = {0: [1, 1, 20, 20], 5: [6, 1, 25, 20]}
    res = import_cvat(built[0], cvat_xml(tmp_path, boxes, start=0, stop=FRAMES - 1), tracks="all")
    got = read_video_tracklets(tracklet_file(built[0], VIDEO)).tracklets[0].boxes
    assert sorted(got) == [0, 5]
    warnings = " | ".join(res["warnings"])
    assert "no box on frames 1..4 between visible boxes" in warnings
    assert (
        f"its last box (frame 5) has no outside box after it: CVAT extends it to frame {FRAMES - 1}"
        in warnings
    )


def test_a_file_listing_every_frame_gets_no_sparse_warning(built, tmp_path):
    boxes = {f: [1, 1, 20, 20] for f in range(FRAMES)}
    res = import_cvat(built[0], cvat_xml(tmp_path, boxes, start=0, stop=FRAMES - 1), tracks="all")
    assert not any("CVAT" in w for w in res["warnings"])
