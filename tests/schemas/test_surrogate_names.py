"""A lone surrogate in a name (a file name that is not UTF-8, as Python decodes it; a JSON string
holding ``"\\udcff"``) gives one clear error line or an escaped report, never a traceback.

Before: the ``error:`` line was written to stderr as it was, so a stderr that cannot encode a
surrogate (strict UTF-8: a test's capture, a wrapper's pipe) raised UnicodeEncodeError in place of
the error; a tracklet file naming such a product or video read as ``field '': Invalid JSON: lone
leading surrogate ...`` and writing one was PydanticSerializationError's traceback; ``mf schema
validate`` said ``field '': Input should be a valid string, unable to parse raw data as a unicode
string`` for an entry field whose name held one."""

from __future__ import annotations

import json

import pytest

from schemas.errors import DataFormatError
from tests.annotations.test_qa_reference import P_BOX, Q_BOX, _official, _reference, _tracklet_file
from tests.mf_cli import run_mf, run_tracklets

S = "P\udcff"  # what Python makes of the file name byte 0xff
ROW = '"video_paths": ["videos/P2_0.mp4"], "img_path": "imgs/P2.jpg", "source": 1, "tracklets": [{"0": [0, 0, 9, 9]}]'


@pytest.mark.parametrize("as_json", [False, True])
def test_qa_on_a_tracklet_file_whose_name_is_not_utf8_is_one_escaped_line(tmp_path, capsys, as_json):
    videos = {S: f"videos/{S}_0.mp4", "R": "videos/R_0.mp4"}
    ds = _official(
        tmp_path / "ds",
        {pid: {"videos": [v], "tracklets": [{"0": [1, 2, 3, 4]}]} for pid, v in videos.items()},
    )
    ref = _reference(tmp_path / "ref", {S: [P_BOX], "R": [Q_BOX]})
    _tracklet_file(ds, S, videos[S], P_BOX)
    _tracklet_file(ds, "R", videos["R"], Q_BOX)
    args = ["qa", "--dataset", str(ds), "--reference", str(ref)] + (["--json"] if as_json else [])
    code, out, err = run_tracklets(args, capsys)
    assert code == 2 and "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("error: ") and "P\\udcff_0.json" in line, line
    assert "lone surrogate" in line and "field ''" not in line and "rename the video" in line
    if as_json:
        doc = json.loads(out)
        assert doc["ok"] is False and doc["path"] == str(ds / "tracklets" / f"{S}_0.json")


def test_writing_a_tracklet_file_for_a_name_that_is_not_utf8_is_a_clear_error(tmp_path):
    from annotations.tracklet_files import write_video_tracklets
    from schemas.dataset import VideoTracklets

    vt = VideoTracklets(product_id=S, video=f"videos/{S}_0.mp4", frames=10, width=20, height=20, tracklets=[])
    with pytest.raises(DataFormatError) as err:
        write_video_tracklets(tmp_path, vt, shared=False)
    assert "lone surrogate" in err.value.message and "nothing written" in err.value.message
    assert not (tmp_path / "tracklets").exists() or not any((tmp_path / "tracklets").iterdir())


def test_schema_validate_names_an_entry_field_whose_name_holds_a_surrogate(tmp_path, capsys):
    path = tmp_path / "train.json"
    path.write_text('{"P": {' + ROW + ', "x\\udcff": 1}}')
    code, out, _ = run_mf(["schema", "validate", str(path), "--json"], capsys)
    assert code == 1
    got = json.loads(out)["files"][str(path)]
    assert (got["product"], got["field"]) == ("P", "x\udcff"), got
    assert "its name holds a lone surrogate" in got["error"] and got["hint"] == "rename or remove that field"
    code, out, err = run_mf(["schema", "validate", str(path)], capsys)
    assert code == 2 and "Traceback" not in err
    assert "product 'P': field 'x\\udcff': its name holds a lone surrogate" in err, err


@pytest.mark.parametrize(
    ("pid", "field", "value", "fix"),
    [
        ("P\\udcff", None, None, "rename that product with a UTF-8 id"),
        ("P", "video_paths[1]", "videos/\\udc80.mp4", "rename that video file with a UTF-8 name"),
        ("P", "img_path", "imgs/P\\udc80.jpg", "rename that shop image file with a UTF-8 name"),
    ],
)
def test_a_split_file_naming_a_product_or_video_that_is_not_utf8_is_refused(
    tmp_path, capsys, pid, field, value, fix
):
    """A split file's product id, video path or shop image path holding a lone surrogate (valid
    JSON ``"\\udc80"``) was read as it was: no file can be named so, and the tracklet file of
    such a video failed later, naming the tracklet file. The split file is refused now, naming the
    file, the product and the field, and saying what to rename."""
    from schemas.official import read_official

    row = ROW.replace('"videos/P2_0.mp4"]', '"videos/P2_0.mp4", "videos/P2_1.mp4"]')
    if field == "video_paths[1]":
        row = row.replace("videos/P2_1.mp4", value)
    elif field == "img_path":
        row = row.replace("imgs/P2.jpg", value)
    path = tmp_path / "train.json"
    path.write_text('{"Q": {' + ROW + "}, " + f'"{pid}": {{' + row + "}}")
    with pytest.raises(DataFormatError, match=fix) as err:
        read_official(path)
    assert err.value.where == str(path)
    shown = json.loads(f'"{pid}"')
    assert err.value.message.startswith(
        f"product '{shown}': " + (f"field '{field}': " if field else "its id ")
    )
    assert "lone surrogate" in err.value.message
    code, out, _ = run_mf(["schema", "validate", str(path), "--json"], capsys)
    got = json.loads(out)["files"][str(path)]
    assert code == 1 and (got["product"], got["field"]) == (shown, field), got
