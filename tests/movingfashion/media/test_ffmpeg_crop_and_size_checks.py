"""transcode refuses crop boxes past the frame and crops odd offsets exactly; odd frame sizes
fail before ffmpeg starts, with what to do; ffmpeg's own failures keep their first line."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from movingfashion.media.ffmpeg import _finish, encode_frames, ffmpeg_exe, transcode
from movingfashion.media.probe import probe_video
from movingfashion.media.readers import read_video
from schemas.errors import MediaError

W, H = 160, 96


@pytest.fixture(scope="module")
def column_clip(tmp_path_factory):
    """160x96, 6 frames, black with one white column at x=33 (what a crop moves is visible)."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, 33] = 255
    return encode_frames([frame] * 6, tmp_path_factory.mktemp("crop") / "column.mp4", crf=0)


def _white_column(path) -> int:
    return int(read_video(path)[0].mean(axis=(0, 2)).argmax())


@pytest.mark.parametrize("box", [(100, 0, 200, 96), (61, 0, 161, 96), (0, 0, 160, 97), (0, 10, 60, 96.6)])
def test_transcode_refuses_a_crop_box_past_the_right_or_bottom_edge(column_clip, tmp_path, box):
    with pytest.raises(MediaError) as exc:
        transcode(column_clip, tmp_path / "out.mp4", crop=box)
    text = str(exc.value)
    assert "column.mp4" in text and "160x96" in text and "past" in text
    assert list(tmp_path.iterdir()) == []


def test_transcode_crops_exactly_at_the_box_inside_the_frame(column_clip, tmp_path):
    assert _white_column(column_clip) == 33
    edge = transcode(column_clip, tmp_path / "edge.mp4", crop=(60, 0, 160, 96), crf=0)
    assert (probe_video(edge).width, probe_video(edge).height) == (100, 96)
    odd = transcode(column_clip, tmp_path / "odd.mp4", crop=(33, 3, 97, 91), crf=0)  # odd offsets
    assert (probe_video(odd).width, probe_video(odd).height) == (64, 88)
    assert _white_column(odd) == 0  # x1=33 is column 0, not rounded down to 32


def test_transcode_crop_box_is_in_displayed_coordinates_of_a_rotated_source(column_clip, tmp_path):
    rot = tmp_path / "rot.mp4"  # shown 96 wide, 160 high
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", "90", "-i", str(column_clip)]
    subprocess.run([*cmd, "-c", "copy", str(rot)], check=True, capture_output=True)
    out = transcode(rot, tmp_path / "out.mp4", crop=(0, 100, 96, 160))
    assert (probe_video(out).width, probe_video(out).height) == (96, 60)
    with pytest.raises(MediaError, match="past the 96x160 frame"):
        transcode(rot, tmp_path / "bad.mp4", crop=(0, 0, 160, 96))


def test_odd_frame_sizes_fail_before_ffmpeg_with_what_to_do(tmp_path):
    with pytest.raises(MediaError) as exc:
        encode_frames([np.zeros((75, 101, 3), np.uint8)] * 3, tmp_path / "odd_size.mp4")
    text = str(exc.value)
    assert "odd_size.mp4" in text and "101x75 is odd" in text and "even" in text and "100x74" in text
    with pytest.raises(MediaError, match="64x47 is odd"):
        transcode(tmp_path / "missing.mp4", tmp_path / "x.mp4", scale=(64, 47))
    assert list(tmp_path.iterdir()) == []


def test_an_ffmpeg_failure_keeps_its_first_line_and_whole_lines():
    first = "[libx264 @ 0x55] width not divisible by 2 (101x75)"
    noise = [f"[vost#0:0/libx264 @ 0x55] line {i} of the aftermath that says little" for i in range(20)]
    with pytest.raises(MediaError) as exc:
        _finish(187, "\n".join([first, *noise]).encode(), "clip.mp4")
    text = str(exc.value)
    assert first in text and noise[-1] in text and "line 3 of" not in text
    assert all(part.startswith("[") or part == "..." for part in text.split("): ", 1)[1].split(" / "))
