"""``whole_frames``: the frames whose data is all in the file (packets read, not decoded), which
tells a download cut short from a whole file whose decoder drops frames by design."""

from __future__ import annotations

import subprocess

import pytest

from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.probe import probe_video, whole_frames
from tests.movingfashion.media.conftest import N


def test_a_whole_file_holds_every_frame_it_declares(tricky_clips):
    assert whole_frames(tricky_clips["bframes"]) == N


def test_a_file_cut_short_holds_fewer_frames_than_it_declares(lying_clips):
    held = whole_frames(lying_clips["truncated"])
    assert probe_video(lying_clips["truncated"]).frames == N
    assert 0 < held < N


def test_an_edit_list_clip_holds_every_frame_although_fewer_decode(tricky_clips, tmp_path):
    """A stream-copied cut at a non-key frame: the decoder drops the frames before the cut
    point, but their data is in the file."""
    clip = tmp_path / "clip.mp4"
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", "1.1", "-i", str(tricky_clips["bframes"])]
    subprocess.run([*cmd, "-t", "1", "-c", "copy", str(clip)], check=True, capture_output=True)
    info = probe_video(clip, count_decodable=True)
    assert info.decodable < info.frames  # the case this test is about
    assert whole_frames(clip) >= info.frames


@pytest.mark.parametrize("content", [None, b"", b"not a video at all" * 50])
def test_a_file_that_does_not_open_holds_no_frame(tmp_path, content):
    path = tmp_path / "x.mp4"
    if content is not None:
        path.write_bytes(content)
    assert whole_frames(path) == 0
