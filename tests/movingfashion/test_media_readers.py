from __future__ import annotations

import os

import numpy as np
import pytest

from movingfashion.media import readers as video_io
from movingfashion.media.readers import (
    DecordReader,
    OpenCVReader,
    PyAVReader,
    ReaderCache,
    open_reader,
    read_frames,
)
from schemas.errors import MediaError
from tests.movingfashion.helpers import read_code


@pytest.fixture(scope="module")
def video(tiny_dataset):
    return tiny_dataset / "videos" / "101_0.mp4"  # 60 frames, GOP 12


def test_get_batch_returns_exactly_the_frames_asked(video):
    idx = [59, 0, 13, 13, 31, 12, 47]
    frames = read_frames(video, idx, cache=ReaderCache())
    assert frames.shape == (7, 96, 128, 3) and frames.dtype == np.uint8
    assert [read_code(f) for f in frames] == idx


def test_decord_and_opencv_agree_with_a_sequential_reference_decode(video):
    import cv2

    cap = cv2.VideoCapture(str(video))
    ref = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        ref.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    assert len(ref) == 60
    idx = [2, 25, 26, 58]
    for backend in ("decord", "opencv"):
        got = open_reader(video, backend=backend).get(idx)
        diff = np.abs(got.astype(int) - np.stack([ref[i] for i in idx]).astype(int)).mean()
        assert diff < 3.0, (backend, diff)


def test_opencv_fallback_when_pyav_and_decord_cannot_open(video, monkeypatch):
    def broken(path):
        raise RuntimeError("says no")

    monkeypatch.setattr(video_io, "_READERS", {**video_io._READERS, "pyav": broken, "decord": broken})
    reader = open_reader(video)
    assert isinstance(reader, OpenCVReader)
    assert [read_code(f) for f in reader.get([40, 3, 3, 20])] == [40, 3, 3, 20]


def test_unreadable_video_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(MediaError) as exc:
        read_frames(bad, [0], cache=ReaderCache())
    assert "broken.mp4" in str(exc.value) and all(
        name in str(exc.value) for name in ("pyav", "decord", "opencv")
    )
    with pytest.raises(MediaError, match="not found"):
        read_frames(tmp_path / "missing.mp4", [0], cache=ReaderCache())


def test_frame_past_the_end_is_a_media_error(video):
    with pytest.raises(MediaError, match="frame index 60 outside"):
        read_frames(video, [1, 60], cache=ReaderCache())


def test_reader_cache_reuses_evicts_and_reopens_after_fork(tiny_dataset, monkeypatch):
    cache = ReaderCache(size=2)
    v = sorted((tiny_dataset / "videos").glob("*.mp4"))
    r0 = cache.get(v[0])
    assert cache.get(v[0]) is r0 and cache.opened == 1
    cache.get(v[1])
    cache.get(v[2])  # evicts v[0] (least recently used)
    assert cache.get(v[0]) is not r0 and cache.opened == 4
    r0b = cache.get(v[0])
    real = os.getpid()
    monkeypatch.setattr(video_io.os, "getpid", lambda: real + 1)  # as in a forked DataLoader worker
    assert cache.get(v[0]) is not r0b and cache.opened == 1


@pytest.mark.parametrize(
    "idx", [[0], [59], [59, 0, 13, 13, 31, 12, 47], list(range(60)), [47, 48, 11, 12, 23, 24]]
)
def test_pyav_reader_is_bit_identical_to_decord(video, idx):
    ref = DecordReader(str(video)).get(idx)
    fast, full = PyAVReader(str(video)), PyAVReader(str(video), skip_nonref=False)
    assert len(fast) == 60 and fast.key_indices() == DecordReader(str(video)).key_indices()
    got = fast.get(idx)
    assert got.shape == ref.shape and np.array_equal(got, ref)
    assert np.array_equal(full.get(idx), ref)
    assert [read_code(f) for f in got] == idx


def test_pyav_reader_skips_non_reference_frames(video):
    """A frame late in a GOP: the skipping reader decodes fewer frames and returns the same pixels."""
    fast, full = PyAVReader(str(video)), PyAVReader(str(video), skip_nonref=False)
    a, b = fast.get([46, 22]), full.get([46, 22])
    assert np.array_equal(a, b)
    keys = full.key_indices()
    assert full.frames_decoded >= sum(t - max(k for k in keys if k <= t) + 1 for t in (46, 22))
    assert fast.frames_decoded < full.frames_decoded


def test_auto_backend_prefers_pyav_then_decord(video, monkeypatch):
    assert isinstance(open_reader(video), PyAVReader)
    assert isinstance(open_reader(video, backend="decord"), DecordReader)

    def broken(path):
        raise RuntimeError("pyav says no")

    monkeypatch.setattr(video_io, "_READERS", {**video_io._READERS, "pyav": broken})
    assert isinstance(open_reader(video), DecordReader)
    with pytest.raises(MediaError, match="pyav says no"):
        open_reader(video, backend="pyav")
    with pytest.raises(MediaError, match="unknown video backend"):
        open_reader(video, backend="gpu")


def test_pyav_reads_the_right_frames_of_open_gop_hevc(tmp_path):
    """HEVC with open GOPs (CRA key frames whose leading pictures need the previous GOP): every
    frame, asked alone or in a batch, is the frame a plain sequential decode gives, pixel for
    pixel. (decord, asked for single frames near a CRA, returns damaged pixels on such files:
    one reason the PyAV reader comes first.)"""
    import subprocess

    import imageio_ffmpeg

    from tests.movingfashion.helpers import H, W, coded_frame

    n = 70
    path = tmp_path / "open_gop_hevc.mp4"
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{W}x{H}",
        "-r",
        "30",
        "-i",
        "-",
        "-c:v",
        "libx265",
        "-pix_fmt",
        "yuv420p",
        "-x265-params",
        "keyint=20:min-keyint=20:open-gop=1:bframes=3:log-level=error",
        str(path),
    ]
    frames = np.stack([coded_frame(i) for i in range(n)])
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    import av

    with av.open(str(path)) as container:
        sequential = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    reader = PyAVReader(str(path))
    assert len(reader) == n == len(sequential)
    assert [read_code(reader.get([i])[0]) for i in range(n)] == list(range(n))
    assert all(np.array_equal(PyAVReader(str(path)).get([i])[0], sequential[i]) for i in range(0, n, 3))
    idx = [69, 19, 20, 21, 40, 39, 0, 59, 60]
    assert [read_code(f) for f in reader.get(idx)] == idx
