"""A video's frame count is at most schemas.official.MAX_FRAMES (10**9: a frame key has at most
9 digits), in every reader of a frame count: a tracklet file (every view of it: the full read,
the review's, the builder's, the dataset's, mf verify's) and a CVAT or FiftyOne export's task
``size``; the error names the field and the limit. A forged larger count let a CVAT box through
on a frame whose key the tracklet model then refuses."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pydantic import ValidationError

from annotations.exchange import export_dataset
from annotations.exchange.cvat import read_cvat
from annotations.exchange.importer import import_cvat
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from movingfashion.archive.verify import verify_dataset
from movingfashion.dataset import read_richer_file
from schemas.dataset import (
    TrackletFileBuild,
    TrackletFileFlags,
    TrackletFileFrame,
    TrackletFileScores,
    TrackletFileSummary,
    VideoTracklets,
)
from schemas.errors import DataFormatError
from schemas.official import MAX_FRAMES

OVER = MAX_FRAMES + 1
LIMIT = f"at most {MAX_FRAMES}"
VIEWS = [
    VideoTracklets,
    TrackletFileFrame,
    TrackletFileSummary,
    TrackletFileFlags,
    TrackletFileBuild,
    TrackletFileScores,
]


def _file(frames: int) -> str:
    trk = {"video": "videos/1_0.mp4", "boxes": {"0": [1, 2, 3, 4]}}
    base = {"product_id": "1", "video": "videos/1_0.mp4", "width": 64, "height": 48}
    return json.dumps({**base, "frames": frames, "tracklets": [trk], "ground_truth": 0})


@pytest.mark.parametrize("model", VIEWS, ids=lambda m: m.__name__)
def test_every_view_of_a_tracklet_file_refuses_a_count_past_the_limit(model):
    assert model.model_validate_json(_file(MAX_FRAMES)).frames == MAX_FRAMES  # frames 0..999999999
    for frames in (OVER, 10**40):
        with pytest.raises(ValidationError) as exc:
            model.model_validate_json(_file(frames))
        err = exc.value.errors()[0]
        assert err["loc"] == ("frames",) and LIMIT in err["msg"] and "9 digits" in err["msg"]


def test_the_json_schema_states_the_limit():
    assert VideoTracklets.model_json_schema()["properties"]["frames"]["maximum"] == MAX_FRAMES


def _forge(ds: Path, vp: str, frames: int) -> Path:
    """The tracklet file of ``vp`` with its frame count set to ``frames``."""
    path = tracklet_file(ds, vp)
    data = json.loads(path.read_text())
    data["frames"] = frames
    path.write_text(json.dumps(data))
    return path


def test_the_readers_of_a_tracklet_file_name_the_field_and_the_limit(published, caplog):
    ds, f = published
    vp = f["video_path"][f["videos"][0]]
    path = _forge(ds, vp, OVER)
    with pytest.raises(DataFormatError, match=f"field 'frames': .*{LIMIT}") as exc:
        read_video_tracklets(path)
    assert exc.value.where == str(path)
    with caplog.at_level(logging.WARNING):
        assert read_richer_file(path) is None  # the dataset: ignored, with the reason
    assert (
        f"frames: {OVER} frames" in caplog.text and LIMIT in caplog.text and "Value error" not in caplog.text
    )
    for deep in (False, True):
        report = verify_dataset(ds, deep=deep)
        (found,) = report.check("tracklets").breaks
        assert found.field == f"tracklets/{path.name}" and f"frames: {OVER} frames" in found.problem
        assert LIMIT in found.problem and "Value error" not in found.problem


def test_a_forged_frame_count_lets_no_cvat_box_through(published, tmp_path):
    """A box on frame 1.5e9 of a video whose tracklet file claims 2e9 frames: the import used to
    take it and fail building the tracklet (frame past any key); now the file is refused."""
    ds, f = published
    stem = f["videos"][0]
    export_dataset(ds, "cvat", tmp_path / "x", videos=[stem])
    xml = tmp_path / "x" / f"{stem}.xml"
    tree = ET.parse(xml)
    task = tree.getroot().find("meta/task")
    for tag in ("start_frame", "stop_frame"):  # a file covering the whole video
        task.remove(task.find(tag))
    next(b for b in tree.getroot().iter("box") if b.get("outside") == "0").set("frame", str(15 * 10**8))
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    path = _forge(ds, f["video_path"][stem], 2 * MAX_FRAMES)
    with pytest.raises(DataFormatError, match=f"field 'frames': .*{LIMIT}") as exc:
        import_cvat(ds, xml)
    assert exc.value.where == str(path)


@pytest.mark.parametrize("fmt", ["cvat", "fiftyone"])
def test_a_task_size_past_the_limit_is_refused_naming_it(published, tmp_path, fmt):
    ds, f = published
    stem = f["videos"][0]
    export_dataset(ds, fmt, tmp_path / "x", videos=[stem])
    xml = tmp_path / "x" / ("labels" if fmt == "fiftyone" else "") / f"{stem}.xml"
    tree = ET.parse(xml)
    tree.getroot().find("meta/task/size").text = str(OVER)
    tree.write(xml, encoding="utf-8", xml_declaration=True)
    for read in (lambda: read_cvat(xml), lambda: import_cvat(ds, tmp_path / "x")):
        with pytest.raises(DataFormatError, match=f"{OVER} frames is more than any video has") as exc:
            read()
        assert exc.value.where == f"{xml}: meta/task/size" and LIMIT in exc.value.message


def test_an_export_leaves_out_a_video_whose_header_declares_too_many_frames(tmp_path):
    """A video without a tracklet file is exported from its split-file tracklet, its frame count
    probed from its header. A header declaring 2e9 frames stopped the export with a bare pydantic
    ValidationError (the tracklets' frame count bound); now the video is left out, its reason
    naming the file and the field."""
    from tests.movingfashion.helpers import write_forged_video, write_image, write_video

    ds = tmp_path / "ds"
    video = write_forged_video(ds / "videos" / "w_0.mp4", 2 * MAX_FRAMES)
    write_video(ds / "videos" / "g_0.mp4", 12)  # a sound one beside it
    split = {}
    for pid in ("w", "g"):
        write_image(ds / "imgs" / f"{pid}.jpg")
        row = {"video_paths": [f"videos/{pid}_0.mp4"], "img_path": f"imgs/{pid}.jpg", "source": 1}
        split[pid] = {**row, "tracklets": [{"0": [1, 1, 5, 5]}]}
    (ds / "train.json").write_text(json.dumps(split))
    out = export_dataset(ds, "cvat", tmp_path / "x")
    assert out["left_out"] == 1 and (tmp_path / "x" / "g_0.xml").is_file()
    (why,) = out["left_out_videos"].values()
    assert str(video) in why and "frames (the count its header declares)" in why and LIMIT in why
