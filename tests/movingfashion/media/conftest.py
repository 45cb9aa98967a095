"""Clips that trip decoders up, made once per session from frame-coded pictures.

* ``bframes``: H.264 with 3 B-frames, GOP 24;
* ``opengop264``: H.264 with open GOPs (x264 ``open-gop=1``: leading B-frames of a key frame
  reference the previous GOP);
* ``opengop265``: the same with HEVC (CRA key frames);
* ``vfr``: variable frame rate, irregular timestamps (sub-frame offsets and skipped slots);
* ``truncated``: index in front (faststart), media data cut: the header declares 90 frames;
* ``inflated``: AVI whose headers claim 150 frames for the 90 it holds.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from movingfashion.media.ffmpeg import ffmpeg_exe
from tests.movingfashion.helpers import H, W, coded_frame

N = 90

CLIPS = {
    "bframes": ("mp4", ["-c:v", "libx264", "-bf", "3", "-g", "24", "-pix_fmt", "yuv420p"]),
    "opengop264": (
        "mp4",
        [
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-x264-params",
            "keyint=20:min-keyint=20:open-gop=1:bframes=3:scenecut=0",
        ],
    ),
    "opengop265": (
        "mp4",
        [
            "-c:v",
            "libx265",
            "-pix_fmt",
            "yuv420p",
            "-x265-params",
            "keyint=20:min-keyint=20:open-gop=1:bframes=3:log-level=error",
        ],
    ),
    "vfr": (
        "mp4",
        [
            "-vf",
            "settb=1/90000,setpts='(N+0.4*eq(mod(N,3),1)+floor(N/7))/30/TB'",
            "-fps_mode",
            "vfr",
            "-enc_time_base",
            "1/90000",
            "-video_track_timescale",
            "90000",
            "-c:v",
            "libx264",
            "-bf",
            "2",
            "-g",
            "30",
            "-pix_fmt",
            "yuv420p",
        ],
    ),
}


def encode(path: Path, out_args: list[str], n: int = N) -> Path:
    frames = np.stack([coded_frame(i) for i in range(n)])
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{W}x{H}", "-r", "30", "-i", "-", *out_args, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def tricky_clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tricky_clips")
    return {name: encode(root / f"{name}.{ext}", args) for name, (ext, args) in CLIPS.items()}


@pytest.fixture(scope="session")
def lying_clips(tmp_path_factory) -> dict[str, Path]:
    """Containers whose headers declare more frames than they hold."""
    root = tmp_path_factory.mktemp("lying_clips")
    full = encode(root / "full.mp4", [*CLIPS["bframes"][1], "-movflags", "+faststart"])
    data = full.read_bytes()
    truncated = root / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 55 // 100])
    avi = bytearray(encode(root / "full.avi", ["-c:v", "libx264", "-bf", "0", "-g", "24"]).read_bytes())
    for tag, offset in ((b"avih", 16), (b"strh", 32)):  # dwTotalFrames, the stream's dwLength
        at = avi.find(tag) + 8 + offset
        assert struct.unpack("<I", avi[at : at + 4])[0] == N
        avi[at : at + 4] = struct.pack("<I", 150)
    inflated = root / "inflated.avi"
    inflated.write_bytes(bytes(avi))
    return {"truncated": truncated, "inflated": inflated}
