"""10-bit video: every reader that opens it returns FFmpeg's pixels (PyAV through FFmpeg's filter
path, as torchcodec), so training items, the crop cache and the tracklet builder see the same
frames; decord and OpenCV, whose own conversions differ, refuse it with a clear error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.readers import EXACT_RGB_FORMATS, open_reader
from schemas.errors import MediaError

FF = ["-hide_banner", "-loglevel", "error", "-y"]
W, H = 160, 120


def _encode(path: Path, pix_fmt: str) -> Path:
    subprocess.run(
        [ffmpeg_exe(), *FF, "-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=10", "-t", "1.2", "-c:v", "libx264",
         "-bf", "2", "-pix_fmt", pix_fmt, str(path)],
        check=True,
    )  # fmt: skip
    return path


def _ffmpeg_rgb(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt",
         "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W, 3)


@pytest.fixture(scope="module")
def ten_bit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _encode(tmp_path_factory.mktemp("tenbit") / "ten.mp4", "yuv420p10le")


@pytest.mark.parametrize("access", ["sparse", "sequential"])
def test_auto_reads_ffmpegs_pixels_for_either_access(ten_bit: Path, access: str) -> None:
    want = _ffmpeg_rgb(ten_bit)
    reader = open_reader(ten_bit, access=access)
    try:
        assert len(reader) == len(want) == 12
        got = reader.get([0, 5, 11, 3])  # sparse and out of order
        assert np.array_equal(got, want[[0, 5, 11, 3]]), reader.backend
    finally:
        reader.close()


@pytest.mark.parametrize("backend", ["pyav", "torchcodec"])
def test_exact_backends_agree_on_every_frame(ten_bit: Path, backend: str) -> None:
    reader = open_reader(ten_bit, backend=backend)
    try:
        assert np.array_equal(reader.get(range(len(reader))), _ffmpeg_rgb(ten_bit))
    finally:
        reader.close()


@pytest.mark.parametrize("backend", ["decord", "opencv"])
def test_decord_and_opencv_refuse_it_naming_the_format(ten_bit: Path, backend: str) -> None:
    with pytest.raises(MediaError, match=r"yuv420p10le video: .* differently from FFmpeg") as err:
        open_reader(ten_bit, backend=backend)
    assert "ten.mp4" in str(err.value)


def test_eight_bit_stays_open_to_every_backend(tmp_path: Path) -> None:
    path = _encode(tmp_path / "eight.mp4", "yuv420p")
    want = _ffmpeg_rgb(path)
    assert "yuv420p" in EXACT_RGB_FORMATS
    for backend in ("pyav", "torchcodec", "decord", "opencv"):
        reader = open_reader(path, backend=backend)
        try:
            assert np.array_equal(reader.get([0, 7]), want[[0, 7]]), backend
        finally:
            reader.close()
