"""A re-encode shows its frames as it goes and is stopped when it encodes nothing."""

from __future__ import annotations

import os

import pytest

from movingfashion.media import ffmpeg
from movingfashion.media.ffmpeg import encode_frames, transcode
from schemas import activity
from schemas.atomic import sha256_file
from schemas.errors import MediaError
from tests.movingfashion.helpers import coded_frame


def test_a_reencode_reports_its_frames_and_its_bytes_do_not_change(tmp_path):
    src = encode_frames((coded_frame(i) for i in range(60)), tmp_path / "src.mp4", gop=10)
    seen: list[str] = []
    stop = activity.listen(lambda: seen.append(activity.current() or ""))
    try:
        a = transcode(src, tmp_path / "a.mp4", crop=[0, 0, 64, 48], label="videos/1_0.mp4", total_frames=60)
    finally:
        stop()
    assert seen[0] == "0% of videos/1_0.mp4 (0/60 frames encoded)"
    assert "100% of videos/1_0.mp4 (60/60 frames encoded)" in seen
    assert seen[-1] == "" and activity.current() is None  # the step ended with the encode
    b = transcode(src, tmp_path / "b.mp4", crop=[0, 0, 64, 48], stall_s=None)
    assert sha256_file(a) == sha256_file(b)  # watching the progress changes no byte


def test_a_reencode_that_encodes_nothing_is_stopped_and_leaves_no_file(tmp_path):
    fifo = tmp_path / "never.mp4"
    os.mkfifo(fifo)  # ffmpeg waits forever for a writer that never comes
    with pytest.raises(MediaError, match=r"encoded no frame for 1\.5 s") as err:
        transcode(fifo, tmp_path / "out.mp4", stall_s=1.5)
    assert str(fifo) in str(err.value) and "hung mount" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["never.mp4"]  # no output, no .part
    assert activity.current() is None
    assert ffmpeg.STALL_S >= 60  # the default leaves a slow encode alone
