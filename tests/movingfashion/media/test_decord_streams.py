"""decord is refused on a file with two video streams (it would read another stream than stream 0)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from movingfashion.media import readers as video_io
from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.readers import OpenCVReader, open_reader
from schemas.errors import MediaError

FF = ["-hide_banner", "-loglevel", "error", "-y"]


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stream 0 320x180, stream 1 640x360 (decord picks the larger one)."""
    path = tmp_path_factory.mktemp("two") / "two.mp4"
    subprocess.run(
        [ffmpeg_exe(), *FF, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-f", "lavfi",
         "-i", "mandelbrot=size=640x360:rate=30", "-t", "1", "-map", "0:v", "-map", "1:v", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_decord_asked_for_is_a_clear_error_naming_the_streams(two_streams: Path) -> None:
    with pytest.raises(MediaError, match="2 video streams") as err:
        open_reader(two_streams, backend="decord")
    assert "two.mp4" in str(err.value) + str(getattr(err.value, "where", ""))


def test_auto_passes_over_decord_to_the_next_reader(two_streams: Path, monkeypatch) -> None:  # noqa: ANN001
    def broken(path):  # noqa: ANN001, ANN202
        raise RuntimeError("says no")

    monkeypatch.setattr(video_io, "READERS", {**video_io.READERS, "torchcodec": broken, "pyav": broken})
    reader = open_reader(two_streams)
    try:
        assert isinstance(reader, OpenCVReader)
        assert reader.get([0]).shape == (1, 180, 320, 3)
    finally:
        reader.close()


def test_cover_art_is_not_a_second_stream(tmp_path: Path) -> None:
    cover, path = tmp_path / "cover.png", tmp_path / "cov.mp4"
    subprocess.run([ffmpeg_exe(), *FF, "-f", "lavfi", "-i", "color=red:size=64x64", "-frames:v", "1", str(cover)],
                   check=True)  # fmt: skip
    subprocess.run(
        [ffmpeg_exe(), *FF, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1", "-i", str(cover),
         "-map", "0", "-map", "1", "-c:v:0", "libx264", "-pix_fmt", "yuv420p", "-c:v:1", "png",
         "-disposition:v:1", "attached_pic", str(path)],
        check=True,
    )  # fmt: skip
    reader = open_reader(path, backend="decord")
    try:
        assert reader.get([0]).shape == (1, 180, 320, 3)
    finally:
        reader.close()
