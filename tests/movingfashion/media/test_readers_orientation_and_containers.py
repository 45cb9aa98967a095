"""Exact frames where decoders disagree: rotated video, B-frames in AVI / MPEG-TS, open-GOP
tails, checked fallbacks, closed evictions, and the probe of variable-frame-rate Matroska."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from movingfashion.media import readers as video_io
from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.media.probe import probe_video
from movingfashion.media.readers import (
    ACCESS_PATTERNS,
    READERS,
    DecordReader,
    PyAVReader,
    ReaderCache,
    TorchCodecReader,
    decode,
    open_reader,
    read_frames,
)
from movingfashion.media.video_source import VideoSource
from schemas.errors import MediaError
from tests.movingfashion.helpers import H, W, coded_frame, read_code


def encode(path: Path, out_args: list[str], n: int = 40, rate: int = 25) -> Path:
    frames = np.stack([coded_frame(i) for i in range(n)])
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", f"{W}x{H}", "-r", str(rate), "-i", "-", *out_args, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
    return path


def remux(src: Path, dst: Path, before_input: tuple[str, ...] = ()) -> Path:
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", *before_input, "-i", str(src), "-c", "copy", str(dst)]
    subprocess.run(cmd, check=True, capture_output=True)
    return dst


def sequential_pyav(path: Path) -> list[np.ndarray]:
    """The reference: every frame as a plain front-to-back PyAV decode puts it out."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


BFRAMES = ["-c:v", "libx264", "-bf", "3", "-g", "12", "-pix_fmt", "yuv420p", "-crf", "10"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exact_clips")
    src = encode(root / "src.mp4", BFRAMES)
    out = {"src": src}
    for turn in (90, 180, 270):  # the same stream with a display-matrix rotation tag
        out[f"rot{turn}"] = remux(src, root / f"rot{turn}.mp4", ("-display_rotation", str(turn)))
    for ext in ("avi", "ts"):
        out[ext] = remux(src, root / f"clip.{ext}")
    opengop = [*BFRAMES[:-4], "-x264-params", "open-gop=1", "-pix_fmt", "yuv420p", "-crf", "10"]
    out["opengop"] = encode(root / "opengop.mp4", opengop)
    return out


# -- 1: rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_every_backend_probe_and_video_source_give_the_displayed_orientation(clips, turn):
    """A rotation tag: every backend, both access patterns, probe_video and VideoSource agree on
    the displayed frames (the stored frame turned counter-clockwise by the tag's angle, as the
    ffmpeg command line shows it), pixel for pixel against the rotated sequential decode."""
    path = clips[f"rot{turn}"]
    k = turn // 90
    ref = [np.rot90(f, k) for f in sequential_pyav(clips["src"])]
    shown = ref[0].shape[:2]
    assert shown == ((W, H) if k % 2 else (H, W))
    info = probe_video(path)
    assert (info.height, info.width) == shown
    with VideoSource(path) as src:
        assert (src.height, src.width) == shown
        assert src.get_batch([5]).shape[1:3] == shown
    idx = [17, 3, 3, 39]
    for backend in READERS:
        for access in ACCESS_PATTERNS:
            reader = open_reader(path, backend=backend, access=access)
            if isinstance(reader, TorchCodecReader):
                reader = TorchCodecReader(str(path), device="cpu")
            assert reader.size == shown, (backend, access)
            got = reader.get(idx)
            assert got.shape == (4, *shown, 3) and got.flags["C_CONTIGUOUS"], (backend, access)
            assert [read_code(np.rot90(f, -k)) for f in got] == idx, (backend, access)
            diff = max(np.abs(got[j].astype(int) - ref[i]).mean() for j, i in enumerate(idx))
            assert diff < 1.0, (backend, access, diff)
    fresh = PyAVReader(str(path))
    assert fresh.size == shown  # known before any frame was asked for
    assert np.array_equal(fresh.get_list([8])[0], ref[8])


def test_unrotated_pyav_frames_are_the_decoder_arrays_untouched(clips):
    reader = PyAVReader(str(clips["src"]))
    frame = reader.get_list([4])[0]
    assert reader._turns == 0 and frame.flags["C_CONTIGUOUS"]
    assert np.array_equal(frame, sequential_pyav(clips["src"])[4])


# -- 2: B-frames in AVI / MPEG-TS ----------------------------------------------------------------


@pytest.mark.parametrize("ext", ["avi", "ts"])
def test_b_frames_in_avi_and_mpegts_give_the_exact_frames_or_a_clear_error(clips, ext):
    path = clips[ext]
    ref = sequential_pyav(path)
    assert [read_code(f) for f in ref] == list(range(40))
    idx = [3, 17, 30, 39, 0, 5, 5]
    for access in ACCESS_PATTERNS:
        for ask in (idx, [0], [39], [20, 21]):
            got = read_frames(path, ask, cache=ReaderCache(access=access))
            assert [read_code(f) for f in got] == ask, (access, ask)
    reader = PyAVReader(str(path))
    assert reader.seek_problem is not None and len(reader) == 40
    assert all(np.array_equal(f, ref[i]) for f, i in zip(reader.get_list(idx), idx, strict=True))
    assert [read_code(f) for f in reader.get([38, 2])] == [38, 2]  # backwards: from the top again
    assert [read_code(f) for f in read_frames(path, idx, cache=ReaderCache(backend="opencv"))] == idx
    for backend in ("torchcodec", "decord"):  # their indexes place these frames wrongly: refused
        with pytest.raises(MediaError) as exc:
            read_frames(path, idx, cache=ReaderCache(backend=backend))
        text = str(exc.value)
        assert path.name in text and "B-frames" in text and "backend='pyav'" in text and "MP4" in text


class _Fake:
    """A reader that holds ``n`` frames of ``size``; ``fail``: its get raises."""

    backend = "fake"

    def __init__(self, path: str, n: int = 40, size=(H, W), fail: bool = False) -> None:
        self.path, self._n, self.size, self.fail = path, n, size, fail

    def __len__(self) -> int:
        return self._n

    fps = 25.0

    def get(self, indices):
        if self.fail:
            raise RuntimeError("cannot decode")
        return np.zeros((len(indices), *self.size, 3), np.uint8)

    def key_indices(self):
        return [0]

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("other", "said"),
    [({"n": 38}, "counts 38 frames"), ({"size": (W, H)}, re.escape("frames of (128, 96)"))],
)
def test_decode_uses_a_fallback_backend_only_when_it_numbers_the_same_frames(clips, monkeypatch, other, said):
    first = _Fake(str(clips["src"]), fail=True)
    first.backend = "pyav"
    monkeypatch.setattr(
        video_io, "READERS", {**READERS, "torchcodec": lambda p: _Fake(p, **other), "decord": None}
    )
    monkeypatch.setattr(
        video_io, "AUTO_ORDERS", {**video_io.AUTO_ORDERS, ("sparse", "cpu"): ("pyav", "torchcodec")}
    )
    monkeypatch.delenv(video_io.DEVICE_ENV, raising=False)
    with pytest.raises(MediaError, match=said) as exc:
        decode(first, [3, 5])
    assert "src.mp4" in str(exc.value)
    monkeypatch.setattr(video_io, "READERS", {**READERS, "torchcodec": lambda p: _Fake(p)})
    assert decode(first, [3, 5]).shape == (2, H, W, 3)  # same count and size: used


# -- 7: open-GOP tails ---------------------------------------------------------------------------


def test_open_gop_tail_frames_are_exact_or_refused_with_an_honest_hint(clips):
    path = clips["opengop"]
    ref = sequential_pyav(path)
    tail = [37, 38, 39]
    with pytest.raises(OSError, match="open-GOP"):  # decord returns neighbouring frames there
        DecordReader(str(path))
    with pytest.raises(MediaError) as exc:
        read_frames(path, tail, cache=ReaderCache(backend="decord"))
    assert "opengop.mp4" in str(exc.value) and "backend='pyav'" in str(exc.value)
    for access in ACCESS_PATTERNS:
        got = read_frames(path, tail, cache=ReaderCache(access=access))
        assert all(np.array_equal(g, ref[i]) for g, i in zip(got, tail, strict=True)), access
    try:  # torchcodec cannot decode these frames of this file: the error must not blame the file
        TorchCodecReader(str(path), device="cpu").get(tail)
    except Exception:  # noqa: BLE001 - the case the hint is about
        with pytest.raises(MediaError) as exc:
            read_frames(path, tail, cache=ReaderCache(backend="torchcodec"))
        text = str(exc.value)
        assert "corrupt" not in text and "PyAV decodes these frames" in text and "backend='pyav'" in text


def test_a_forced_backend_that_fails_names_itself_and_points_to_pyav(clips, monkeypatch):
    def broken(self, indices):
        raise RuntimeError("Requested next frame while there are no more frames left to decode.")

    monkeypatch.setattr(TorchCodecReader, "get", broken)
    with pytest.raises(MediaError) as exc:
        read_frames(clips["src"], [39], cache=ReaderCache(backend="torchcodec"))
    text = str(exc.value)
    assert "src.mp4" in text and "torchcodec" in text and "backend='pyav'" in text and "corrupt" not in text


# -- 8: evicted readers are closed ---------------------------------------------------------------


def _open_videos(root: Path) -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if str(root) in os.path.realpath(fd) if fd.exists())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("backend", ["pyav", "auto"])
def test_reader_cache_closes_the_readers_it_evicts(tmp_path, backend):
    videos = [encode(tmp_path / f"v{i}.mp4", BFRAMES, n=8) for i in range(6)]
    cache = ReaderCache(size=2, backend=backend)
    gc.disable()  # what a DataLoader worker sees between collections
    try:
        for _ in range(3):
            for v in videos:
                read_frames(v, [1], cache=cache)
        assert _open_videos(tmp_path) <= 2
        cache.clear()
        assert _open_videos(tmp_path) == 0
    finally:
        gc.enable()


def test_reader_cache_leaves_open_a_reader_another_thread_got_last(tmp_path):
    videos = [encode(tmp_path / f"v{i}.mp4", BFRAMES, n=8) for i in range(4)]
    cache = ReaderCache(size=1, backend="pyav")
    got: dict[str, object] = {}
    opened, evicted = threading.Event(), threading.Event()

    def decode_after_eviction() -> None:  # a live thread: it may still be decoding with its reader
        reader = cache.get(videos[0])
        opened.set()
        assert evicted.wait(30)
        got["codes"] = [read_code(f) for f in reader.get([5])]

    worker = threading.Thread(target=decode_after_eviction)
    worker.start()
    assert opened.wait(30)
    for v in videos[1:]:  # evicts the worker's reader while it may still be decoding with it
        read_frames(v, [1], cache=cache)
    cache.clear()
    evicted.set()
    worker.join(30)
    assert got["codes"] == [5]
    cache.clear()


# -- 10: probe of variable-frame-rate Matroska -----------------------------------------------------


def test_probe_gives_the_duration_and_rate_of_variable_frame_rate_matroska(tmp_path):
    vfr = encode(
        tmp_path / "vfr.mkv",
        ["-vf", "setpts='(N+if(gt(N,20),N-20,0))/25/TB'", "-fps_mode", "passthrough", *BFRAMES[:2]],
        n=60,
    )
    with av.open(str(vfr)) as container:
        duration = container.duration / 1e6
    assert abs(duration - 3.96) < 0.05
    info = probe_video(vfr)
    assert info.frames == 60 and abs(info.duration_s - duration) < 0.05
    assert abs(PyAVReader(str(vfr)).fps - info.fps) < 0.01
    cfr = probe_video(remux(encode(tmp_path / "cfr.mp4", BFRAMES, n=30), tmp_path / "cfr.mkv"))
    assert cfr.fps == 25.0 and abs(cfr.duration_s - 1.2) < 1e-6  # constant rate: the nominal one
