"""One probe for every stage: frames, fps, size, codec, duration and the decodable count."""

from __future__ import annotations

import numpy as np
import pytest

from movingfashion.media.images import write_image
from movingfashion.media.probe import count_decodable_frames, probe_image, probe_video
from schemas.errors import MediaError
from tests.movingfashion.helpers import H, W
from tests.movingfashion.media.conftest import N


def test_probe_describes_what_was_encoded(tricky_clips):
    info = probe_video(tricky_clips["bframes"], count_decodable=True)
    assert (info.frames, info.width, info.height, info.codec) == (N, W, H, "h264")
    assert info.fps == pytest.approx(30.0) and info.duration_s == pytest.approx(3.0)
    assert info.decodable == N
    assert probe_video(tricky_clips["opengop265"]).codec == "hevc"
    assert probe_video(tricky_clips["bframes"]).decodable is None  # counted only when asked


def test_variable_frame_rate_counts_frames_not_duration(tricky_clips):
    info = probe_video(tricky_clips["vfr"], count_decodable=True)
    assert info.frames == N and info.decodable == N
    assert 20 < info.fps < 30  # the gaps lower the average rate below the 30 fps grid


def test_declared_frames_that_do_not_decode_are_reported(lying_clips):
    info = probe_video(lying_clips["truncated"], count_decodable=True)
    assert info.frames == N  # what the header says
    assert 0 < info.decodable < N * 0.7 and info.decodable == count_decodable_frames(lying_clips["truncated"])
    inflated = probe_video(lying_clips["inflated"], count_decodable=True)
    assert inflated.frames == 150 and inflated.decodable == N


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50])
def test_bad_files_are_media_errors_naming_the_file(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError, match="bad.mp4"):
        probe_video(bad)
    with pytest.raises(MediaError, match="not found"):
        probe_video(tmp_path / "gone.mp4")
    assert count_decodable_frames(bad) == 0


def test_probe_image(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((30, 50, 3), np.uint8))
    info = probe_image(tmp_path / "a.png")
    assert (info.width, info.height) == (50, 30)
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8garbage")
    with pytest.raises(MediaError, match="b.jpg"):
        probe_image(tmp_path / "b.jpg")


def test_the_codec_is_named_not_its_decoder(tmp_path):
    """AV1 is decoded by libdav1d: the probe records 'av1' (what stats and the catalog show);
    and the pixel format as decoded."""
    import subprocess

    from movingfashion.media.ffmpeg import ffmpeg_exe

    path = tmp_path / "av1.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10",
         "-t", "1", "-c:v", "libaom-av1", "-cpu-used", "8", str(path)],
        check=True,
    )  # fmt: skip
    info = probe_video(path)
    assert info.codec == "av1" and info.pix_fmt == "yuv420p"
