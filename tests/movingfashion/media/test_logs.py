"""Native decoder logs never reach the terminal (where they break progress bars): they go to
:mod:`logging` when they can, and are silenced when they cannot."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import logging, sys
logging.basicConfig(filename=sys.argv[2], level=logging.WARNING, format="%(name)s %(message)s")
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.probe import count_decodable_frames, probe_video
from movingfashion.media.readers import READERS, ReaderCache, read_frames
garbage = sys.argv[3] + ".garbage.mp4"
open(garbage, "wb").write(b"\\x00\\x01 not a video" * 100)
for path in (sys.argv[1], garbage):
  for backend in ["auto", *READERS]:
    for idx in ([0, 10], [20, 40], [60, 89]):
        try:
            read_frames(path, idx, cache=ReaderCache(backend=backend))
        except Exception:
            pass
path = sys.argv[1]
probe_video(path, count_decodable=True)
count_decodable_frames(path)
try:
    transcode(path, sys.argv[3], crop=[0, 0, 64, 48])
except Exception:
    pass
"""


def run(path: Path, tmp: Path, keep_native: bool) -> tuple[str, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "MF_NATIVE"))}
    if keep_native:
        env["MF_NATIVE_LOGS"] = "1"
    log = tmp / f"log-{keep_native}.txt"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(log), str(tmp / f"out-{keep_native}.mp4")],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr, log.read_text() if log.exists() else ""


@pytest.mark.slow
def test_damaged_video_leaves_the_terminal_clean_and_the_log_full(lying_clips, tmp_path):
    out, err, log = run(lying_clips["truncated"], tmp_path, keep_native=False)
    assert out == "" and err == "", (out + err)[-1500:]
    assert "libav." in log  # FFmpeg's complaints went to logging instead
    # without the helper, the same calls do print over the terminal (so the check above can fail)
    out, err, _ = run(lying_clips["truncated"], tmp_path, keep_native=True)
    assert re.search(r"^\[[\w,]+ @ 0x[0-9a-f]+\] ", out + err, re.M)  # FFmpeg's own log line


DIRECT = """
import sys
from movingfashion.media.readers import READERS
try:
    r = READERS[sys.argv[2]](sys.argv[1])
except OSError:
    sys.exit(0)  # refused (decord refuses a file whose header lies): nothing decoded
for i in (0, 40, len(r) - 1):
    try:
        r.get([i])
    except Exception:
        pass
"""


@pytest.mark.parametrize("backend", ["pyav", "decord", "opencv"])
def test_a_reader_opened_directly_is_as_quiet_as_one_from_open_reader(lying_clips, backend):
    """Readers are public: OpenCV's FFmpeg printed its complaints when an OpenCVReader was made
    without open_reader (which quiets the native logs first), e.g. the benchmark's baseline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "MF_NATIVE"))}
    proc = subprocess.run(
        [sys.executable, "-c", DIRECT, str(lying_clips["truncated"]), backend],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", (proc.stdout + proc.stderr)[-1500:]
