"""H.264 with B-frames in an MP4 whose packets carry pts == dts (no composition offsets, like
box.mp4 of Debian's opencv-doc): the timestamps are decode times, so frame ``i`` must be the
``i``-th frame the decoder puts out (display order) for every backend, as for AVI / MPEG-TS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from movingfashion.media import readers as video_io
from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.readers import (
    ACCESS_PATTERNS,
    OpenCVReader,
    PyAVReader,
    ReaderCache,
    read_frames,
    seek_problem,
)
from movingfashion.media.video_source import VideoSource
from schemas.errors import MediaError
from tests.movingfashion.helpers import H, W, coded_frame, read_code

N = 40
BFRAMES = ["-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p", "-crf", "10"]


def encode(path: Path, out_args: list[str]) -> Path:
    frames = np.stack([coded_frame(i) for i in range(N)])
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{W}x{H}", "-r", "25", "-i", "-", *out_args, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    return path


def remux_pts_as_dts(src: Path, dst: Path) -> Path:
    """Copy the packets, each with ``pts = dts`` (shifted to start at 0): display times lost."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        ostream = out.add_stream_from_template(stream)
        first = None
        for pkt in inp.demux(stream):
            if pkt.dts is None:  # the flush packet
                continue
            first = int(pkt.dts) if first is None else first
            pkt.dts = int(pkt.dts) - first
            pkt.pts = pkt.dts
            pkt.stream = ostream
            out.mux(pkt)
    return dst


def plain_decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pts_equal_dts")
    src = encode(root / "src.mp4", BFRAMES)
    flat = remux_pts_as_dts(src, root / "flat.mp4")
    with av.open(str(flat)) as container:  # the kind of file this is about
        stream = container.streams.video[0]
        assert stream.codec_context.has_b_frames
        pkts = [p for p in container.demux(stream) if p.size]
        assert len(pkts) == N and all(p.pts == p.dts for p in pkts)
    nob = encode(root / "nob.mp4", ["-c:v", "libx264", "-bf", "0", "-g", "12", "-pix_fmt", "yuv420p"])
    return {"src": src, "flat": flat, "nob": nob}


def test_the_fixture_reproduces_decode_order_timestamps(clips):
    """The decoder reorders by picture order: the plain decode shows 0..39, while sorting the
    packets by their (decode-order) timestamps would not."""
    assert [read_code(f) for f in plain_decode(clips["flat"])] == list(range(N))
    with av.open(str(clips["flat"])) as container:
        carried = [int(f.pts) for f in container.decode(video=0)]
    assert carried != sorted(carried)


def test_pyav_returns_display_order_frames(clips):
    path = clips["flat"]
    ref = plain_decode(path)
    reader = PyAVReader(str(path))
    assert reader.seek_problem is not None and "decode-order" in reader.seek_problem
    assert len(reader) == N
    assert [read_code(f) for f in reader.get(list(range(N)))] == list(range(N))
    idx = [3, 17, 30, 39, 0, 5, 5]
    assert all(np.array_equal(f, ref[i]) for f, i in zip(reader.get_list(idx), idx, strict=True))
    assert [read_code(f) for f in reader.get([38, 2])] == [38, 2]  # backwards: from the top again
    assert seek_problem(path) == reader.seek_problem


def test_every_backend_agrees_or_refuses(clips):
    """auto (both access patterns), OpenCV and VideoSource give the same frames; torchcodec and
    decord (whose indexes sort these timestamps) refuse, saying a remux would not help."""
    path = clips["flat"]
    ref = plain_decode(path)
    idx = [3, 17, 30, 39, 0, 5, 5, 12, 11]
    for access in ACCESS_PATTERNS:
        got = read_frames(path, idx, cache=ReaderCache(access=access))
        assert all(np.array_equal(f, ref[i]) for f, i in zip(got, idx, strict=True)), access
    cv = OpenCVReader(str(path))
    assert cv.seek_problem is not None
    assert [read_code(f) for f in cv.get(idx)] == idx
    with VideoSource(path) as source:
        assert source.backend == "pyav"
        batch = source.get_batch(list(range(0, N, 3)))
        assert [read_code(f) for f in batch] == list(range(0, N, 3))
    for backend in ("torchcodec", "decord"):
        with pytest.raises(MediaError) as exc:
            read_frames(path, idx, cache=ReaderCache(backend=backend))
        text = str(exc.value)
        assert path.name in text and "decode-order" in text and "re-encode" in text, backend


@pytest.mark.parametrize("name", ["src", "nob"])
def test_files_with_display_timestamps_keep_the_seeking_path(clips, monkeypatch, name):
    """Proper composition offsets (or no B-frames): no decode at open, seeking as before."""

    def never(*_args):
        raise AssertionError("decoded at open")

    monkeypatch.setattr(video_io, "_decoder_reorders", never)
    monkeypatch.setattr(video_io, "_SEEK_PROBLEMS", {})
    path = clips[name]
    reader = PyAVReader(str(path))
    assert reader.seek_problem is None and seek_problem(path) is None
    idx = [3, 17, 30, 39, 0]
    assert [read_code(f) for f in reader.get(idx)] == idx
    assert reader._ordered is None  # the in-order decoder was never used
