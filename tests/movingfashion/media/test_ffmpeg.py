"""The one ffmpeg command builder: encode frames, crop/scale a file; deterministic, errors clear."""

from __future__ import annotations

import numpy as np
import pytest

from movingfashion.media.ffmpeg import encode_frames, h264_output_args, transcode
from movingfashion.media.probe import probe_video
from movingfashion.media.readers import read_video
from schemas.atomic import sha256_file
from schemas.errors import MediaError
from tests.movingfashion.helpers import H, W, coded_frame, read_code


def test_encode_frames_round_trips_and_is_byte_identical(tmp_path):
    frames = [coded_frame(i) for i in range(40)]
    a = encode_frames(iter(frames), tmp_path / "a.mp4", fps=25, gop=10)
    b = encode_frames(frames, tmp_path / "b.mp4", fps=25, gop=10)
    assert sha256_file(a) == sha256_file(b)
    info = probe_video(a)
    assert (info.frames, info.width, info.height, info.codec) == (40, W, H, "h264")
    assert info.fps == pytest.approx(25.0)
    assert [read_code(f) for f in read_video(a)] == list(range(40))
    assert not list(tmp_path.glob(".*part*"))  # the temporary file was renamed into place


def test_transcode_crops_and_scales_deterministically(tmp_path):
    src = encode_frames((coded_frame(i) for i in range(30)), tmp_path / "src.mp4")
    a = transcode(src, tmp_path / "a.mp4", crop=[0, 0, 113, 64])  # odd width rounds down to even
    b = transcode(src, tmp_path / "b.mp4", crop=[0, 0, 113, 64])
    assert sha256_file(a) == sha256_file(b)
    info = probe_video(a)
    assert (info.width, info.height, info.frames) == (112, 64, 30)
    frames = read_video(a)
    assert [read_code(f) for f in frames] == list(range(30))  # the top-left bit row survives the crop
    scaled = probe_video(transcode(src, tmp_path / "s.mp4", scale=(64, 48)))
    assert (scaled.width, scaled.height) == (64, 48)


def test_failures_name_the_file_and_leave_nothing(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 20)
    with pytest.raises(MediaError, match="bad.mp4: ffmpeg failed"):
        transcode(bad, tmp_path / "out.mp4", crop=[0, 0, 10, 10])
    with pytest.raises(MediaError, match="empty or outside"):
        transcode(bad, tmp_path / "out.mp4", crop=[5, 5, 5, 9])
    with pytest.raises(MediaError, match="does not match"):
        encode_frames([coded_frame(0), np.zeros((10, 10, 3), np.uint8)], tmp_path / "x.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


def test_output_options_are_single_threaded_and_bit_exact():
    args = h264_output_args(crf=20, gop=None, preset="veryfast")
    assert "-g" not in args and args[args.index("-threads") + 1] == "1"
    assert args[args.index("-x264-params") + 1] == "threads=1" and "+bitexact" in args
    assert args[args.index("-map_metadata") + 1] == "-1"
