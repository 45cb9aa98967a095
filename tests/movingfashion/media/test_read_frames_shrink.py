"""read_frames(size=...) shrinks each frame as it is decoded: full-size frames are never all held."""

from __future__ import annotations

import subprocess
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

import movingfashion.media.readers as readers
from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.readers import ReaderCache, read_frames

FULL = (1080, 1920)
SMALL = (72, 128)
N = 40


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1920x1080 clip of 40 frames (with B-frames, so PyAV keeps it)."""
    path = tmp_path_factory.mktemp("hd") / "hd.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc2=size={FULL[1]}x{FULL[0]}:rate=30", "-frames:v", str(N), "-c:v", "libx264",
         "-preset", "ultrafast", "-bf", "2", "-crf", "35", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.mark.parametrize("backend", ["pyav", "opencv", "torchcodec"])
def test_shrunk_read_holds_a_few_full_frames_at_most(hd_clip: Path, backend: str) -> None:
    if backend == "torchcodec" and readers.torchcodec_problem() is not None:
        pytest.skip("torchcodec is not usable here")
    cache = ReaderCache(backend=backend)
    cache.get(hd_clip)  # opening (packet index, decoder) is not what is measured
    full_frame = FULL[0] * FULL[1] * 3
    tracemalloc.start()
    try:
        frames = read_frames(hd_clip, range(N), cache=cache, backend=backend, size=SMALL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        cache.clear()
    assert frames.shape == (N, *SMALL, 3)
    assert peak < 6 * full_frame, f"peak {peak / full_frame:.1f} full frames for {N} shrunk ones"


class _BatchReader:
    """A reader without per-frame mapping (like torchcodec, decord): records its batch sizes."""

    backend = "fake"
    path = "fake.mp4"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __len__(self) -> int:
        return 100

    @property
    def size(self) -> tuple[int, int]:
        return (64, 96)

    def get(self, indices):  # noqa: ANN001, ANN201
        idx = list(indices)
        self.batches.append(len(idx))
        return np.stack([np.full((64, 96, 3), i, np.uint8) for i in idx])


def test_batch_readers_are_asked_in_small_chunks_and_answer_in_the_order_asked() -> None:
    reader = _BatchReader()
    idx = [50, 3, 3, *range(60, 90)]
    out = readers.decode(reader, idx, backend="fake", size=(16, 24))
    assert max(reader.batches) <= readers.SHRINK_CHUNK
    assert out.shape == (len(idx), 16, 24, 3)
    assert [int(f[0, 0, 0]) for f in out] == idx


@pytest.mark.parametrize("backend", ["pyav", "torchcodec", "opencv"])
def test_shrunk_frames_equal_full_frames_resized(hd_clip: Path, backend: str) -> None:
    if backend == "torchcodec" and readers.torchcodec_problem() is not None:
        pytest.skip("torchcodec is not usable here")
    idx = [0, 7, 7, 21, 39, 2]
    cache = ReaderCache(backend=backend)
    try:
        full = read_frames(hd_clip, idx, cache=cache, backend=backend)
        small = read_frames(hd_clip, idx, cache=cache, backend=backend, size=SMALL)
    finally:
        cache.clear()
    want = np.stack([cv2.resize(f, SMALL[::-1], interpolation=cv2.INTER_AREA) for f in full])
    assert np.array_equal(small, want)
