"""The reader registry: every backend, the auto order and its fallbacks, the cache, bad files."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import numpy as np
import pytest

from movingfashion.media import readers as video_io
from movingfashion.media.readers import (
    READERS,
    DecordReader,
    OpenCVReader,
    PyAVReader,
    ReaderCache,
    TorchCodecReader,
    backend_names,
    open_reader,
    read_frames,
    read_video,
    torchcodec_problem,
)
from schemas.errors import MediaError
from tests.movingfashion.helpers import read_code
from tests.movingfashion.media.conftest import CLIPS, N

#: What ``auto`` opens first on this machine (torchcodec needs FFmpeg's shared libraries).
FIRST = "torchcodec" if torchcodec_problem() is None else "pyav"


@pytest.fixture(scope="module")
def video(tiny_dataset):
    return tiny_dataset / "videos" / "101_0.mp4"  # 60 frames, GOP 12


def test_get_batch_returns_exactly_the_frames_asked(video):
    idx = [59, 0, 13, 13, 31, 12, 47]
    frames = read_frames(video, idx, cache=ReaderCache())
    assert frames.shape == (7, 96, 128, 3) and frames.dtype == np.uint8
    assert [read_code(f) for f in frames] == idx


def test_every_backend_agrees_with_a_sequential_opencv_decode(video):
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
    for backend in READERS:
        got = open_reader(video, backend=backend).get(idx)
        diff = np.abs(got.astype(int) - np.stack([ref[i] for i in idx]).astype(int)).mean()
        assert diff < 3.0, (backend, diff)


def test_opencv_fallback_when_pyav_and_decord_cannot_open(video, monkeypatch):
    def broken(path):
        raise RuntimeError("says no")

    monkeypatch.setattr(
        video_io, "READERS", {**video_io.READERS, "torchcodec": broken, "pyav": broken, "decord": broken}
    )
    reader = open_reader(video)
    assert isinstance(reader, OpenCVReader)
    assert [read_code(f) for f in reader.get([40, 3, 3, 20])] == [40, 3, 3, 20]


def test_unreadable_video_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(MediaError) as exc:
        read_frames(bad, [0], cache=ReaderCache())
    assert "broken.mp4" in str(exc.value) and all(
        name in str(exc.value) for name in ("pyav", "decord", "opencv", FIRST)
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


def test_auto_backend_follows_the_access_pattern(video, tricky_clips, tmp_path, monkeypatch):
    """auto: PyAV for sparse clips of B-frame video (it skips the non-reference frames), torchcodec
    for sparse clips without B-frames and for whole-video decoding (and on CUDA), as measured."""
    from tests.movingfashion.media.conftest import encode

    nob = encode(
        tmp_path / "nob.mp4", ["-c:v", "libx264", "-bf", "0", "-g", "10", "-pix_fmt", "yuv420p"], n=30
    )
    assert open_reader(tricky_clips["bframes"]).backend == "pyav"
    assert open_reader(tricky_clips["bframes"], access="sequential").backend == FIRST
    assert open_reader(nob).backend == FIRST  # no B-frames: nothing for PyAV to skip
    # tracklet crops: PyAV still, it converts only each crop's window to RGB
    assert open_reader(nob, access="crops").backend == "pyav"
    assert isinstance(open_reader(video, backend="pyav"), PyAVReader)
    assert isinstance(open_reader(video, backend="decord"), DecordReader)
    assert video_io.backend_order("auto", "sparse")[:2] == ("pyav", "torchcodec")
    assert video_io.backend_order("auto", "sequential")[:2] == ("torchcodec", "pyav")
    monkeypatch.setenv(video_io.DEVICE_ENV, "cuda")
    assert video_io.backend_order("auto", "sparse")[0] == "torchcodec"
    monkeypatch.delenv(video_io.DEVICE_ENV)
    with pytest.raises(MediaError, match="unknown access pattern"):
        open_reader(video, access="random")

    def broken(path):
        raise RuntimeError("pyav says no")

    monkeypatch.setattr(video_io, "READERS", {**video_io.READERS, "torchcodec": broken, "pyav": broken})
    assert isinstance(open_reader(video), DecordReader)
    assert isinstance(open_reader(video, access="sequential"), DecordReader)
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

    from movingfashion.media.ffmpeg import ffmpeg_exe
    from tests.movingfashion.helpers import H, W, coded_frame

    n = 70
    path = tmp_path / "open_gop_hevc.mp4"
    cmd = [
        ffmpeg_exe(),
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


def sequential_pyav(path) -> np.ndarray:
    """The reference: every frame, decoded front to back by PyAV."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def reader_for(backend: str, path):
    """A reader of ``backend`` (torchcodec on the CPU: NVDEC pixels are not the CPU reference)."""
    return (
        TorchCodecReader(str(path), device="cpu") if backend == "torchcodec" else READERS[backend](str(path))
    )


@pytest.mark.parametrize("clip", list(CLIPS))
@pytest.mark.parametrize("backend", list(READERS))
def test_every_backend_returns_the_pixels_of_a_sequential_decode(tricky_clips, clip, backend):
    """B-frames, open GOPs (H.264 and HEVC) and variable frame rate: each frame, asked alone or
    in an unsorted batch with repeats, is pixel for pixel the frame a sequential PyAV decode
    gives, and carries its own index (decord refuses open-GOP video, where it would not)."""
    if backend == "torchcodec" and torchcodec_problem() is not None:
        pytest.fail(f"torchcodec cannot run here ({torchcodec_problem()}): run make install")
    path = tricky_clips[clip]
    ref = sequential_pyav(path)
    assert len(ref) == N and [read_code(f) for f in ref] == list(range(N))
    if backend == "decord" and clip.startswith("opengop"):  # it returns neighbours: refused
        with pytest.raises(OSError, match="open-GOP"):
            reader_for(backend, path)
        return
    reader = reader_for(backend, path)
    assert len(reader) == N and reader.size == ref.shape[1:3]
    singles = [i for i in range(N) if not np.array_equal(reader.get([i])[0], ref[i])]
    assert singles == [], f"{backend} returns other pixels for frames {singles[:10]} of {clip}"
    batch = [int(i) for i in np.random.default_rng(0).integers(0, N, 30)] + [N - 1, 0, 0]
    got = reader_for(backend, path).get(batch)
    assert got.shape == (len(batch), *ref.shape[1:]) and got.dtype == np.uint8
    assert [k for k, i in enumerate(batch) if not np.array_equal(got[k], ref[i])] == []
    reader.close()


class _CountingDemuxer:
    """A container that counts the packets a reader takes from its demuxer."""

    def __init__(self, container) -> None:
        self.container, self.taken = container, 0

    def seek(self, *args, **kwargs):
        return self.container.seek(*args, **kwargs)

    def demux(self, stream):
        for pkt in self.container.demux(stream):
            self.taken += 1
            yield pkt

    def close(self) -> None:
        self.container.close()


@pytest.mark.parametrize("clip", ["bframes", "opengop264", "opengop265"])
def test_pyav_reader_decodes_no_packet_after_the_last_wanted_frame(tricky_clips, clip):
    """Frames a reordering decoder holds back are drained, not pushed out by decoding the packets
    after them: per key frame, the decoder gets exactly the packets from the key frame to the last
    wanted frame's (the non-reference ones it drops included), and the pixels are a sequential
    decode's."""
    import av

    path = str(tricky_clips[clip])
    ref = sequential_pyav(path)
    with av.open(path) as container:  # decode order
        pos = {int(p.pts): k for k, p in enumerate(container.demux(video=0)) if p.pts is not None}
    for idx in ([5], [19, 2], [30, 27, 53, 6], [N - 2]):
        reader = PyAVReader(path)
        counted = reader._container = _CountingDemuxer(reader._container)
        got = reader.get(idx)
        assert [k for k, i in enumerate(idx) if not np.array_equal(got[k], ref[i])] == []
        keys, pts = reader.key_indices(), reader._pts
        groups: dict[int, list[int]] = {}
        for i in idx:
            groups.setdefault(max(k for k in keys if k <= i), []).append(i)
        needed = sum(max(pos[int(pts[i])] for i in g) - pos[int(pts[k])] + 1 for k, g in groups.items())
        assert reader.packets_decoded == needed, (clip, idx)
        assert counted.taken <= needed + len(groups), (clip, idx)  # + the packet that says "stop"
        reader.close()


@pytest.fixture(scope="module")
def edit_list_cut(tricky_clips, tmp_path_factory):
    """A stream-copied cut starting at a non-key frame: the MP4 keeps the frames before the cut
    that the first shown frame depends on, flagged discard by an edit list (so FFmpeg decodes
    them and never shows them). opencv-doc's box.mp4 ends on such a frame."""
    import subprocess

    from movingfashion.media.ffmpeg import ffmpeg_exe

    clip = tmp_path_factory.mktemp("edit_list") / "cut.mp4"
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", "1.1", "-i", str(tricky_clips["bframes"])]
    subprocess.run([*cmd, "-t", "1", "-c", "copy", str(clip)], check=True, capture_output=True)
    return clip


@pytest.mark.parametrize("backend", list(READERS))
def test_every_backend_shows_the_frames_of_an_edit_list_cut_and_no_hidden_one(edit_list_cut, backend):
    """PyAV's reader counted the hidden packets as frames: on such a cut it could decode none of
    them (frame 0 was a hidden one, which FFmpeg never puts out), and decord and OpenCV claimed
    the hidden frames at the end (IndexErrors, or other frames, for the last indices)."""
    import av

    if backend == "torchcodec" and torchcodec_problem() is not None:
        pytest.fail(f"torchcodec cannot run here ({torchcodec_problem()}): run make install")
    with av.open(str(edit_list_cut)) as container:
        hidden = sum(p.is_discard for p in container.demux(video=0) if p.size)
    ref = sequential_pyav(edit_list_cut)
    assert hidden > 0 and len(ref) > 10  # the case this test is about
    if backend == "decord":  # after a seek back it is off by the hidden frames: refused
        with pytest.raises(OSError, match="edit list hides"):
            reader_for(backend, edit_list_cut)
        return
    reader = reader_for(backend, edit_list_cut)
    assert len(reader) == len(ref)
    wrong = [i for i in range(len(ref)) if not np.array_equal(reader.get([i])[0], ref[i])]
    assert wrong == [], f"{backend} returns other pixels for frames {wrong[:10]}"
    batch = [len(ref) - 1, 0, len(ref) // 2, len(ref) - 1]
    batch += [int(i) for i in np.random.default_rng(0).integers(0, len(ref), 20)]
    assert [read_code(f) for f in reader.get(batch)] == [read_code(ref[i]) for i in batch]
    reader.close()


def test_vfr_clip_really_has_irregular_timestamps(tricky_clips):
    import av

    with av.open(str(tricky_clips["vfr"])) as container:
        pts = sorted(p.pts for p in container.demux(video=0) if p.pts is not None)
    assert len(set(np.diff(pts).tolist())) > 3


def _bounded(fn, seconds: float):
    """Run ``fn`` in a thread; (finished, exception or None, elapsed s)."""
    out: dict[str, BaseException | None] = {}

    def run():
        try:
            fn()
            out["exc"] = None
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["exc"] = exc

    t0 = time.perf_counter()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return "exc" in out, out.get("exc"), time.perf_counter() - t0


@pytest.mark.parametrize("clip", ["truncated", "inflated"])
@pytest.mark.parametrize("backend", ["auto", *READERS])
def test_a_container_that_lies_about_its_frame_count_gives_a_clear_error_in_bounded_time(
    lying_clips, clip, backend
):
    path = lying_clips[clip]
    from movingfashion.media.probe import count_decodable_frames, probe_video

    declared = probe_video(path).frames if clip == "truncated" else 150
    real = count_decodable_frames(path)
    assert real < declared, (real, declared)
    ask = [0, real + (declared - real) // 2, declared - 1]  # the middle of the frames that do not exist
    done, exc, took = _bounded(lambda: read_frames(path, ask, cache=ReaderCache(backend=backend)), 60)
    assert done, f"{backend} still decoding {path.name} after {took:.0f} s"
    assert isinstance(exc, MediaError), exc
    assert path.name in str(exc)
    if backend == "decord":  # refused: it seeks by the header, which would give wrong frames
        assert "decord: " in str(exc) and "no backend can open" in str(exc)
    else:  # the frames that do exist still decode, and are the right ones
        ok = read_frames(path, [0, real - 1], cache=ReaderCache(backend=backend))
        assert [read_code(f) for f in ok] == [0, real - 1]


def test_decord_is_never_asked_past_the_frames_the_container_holds(tricky_clips, monkeypatch):
    path = str(tricky_clips["bframes"])
    monkeypatch.setattr(video_io, "_packet_index", lambda p, facts=None: (50, None, [0, 24, 48]))
    reader = DecordReader(path)
    assert len(reader) == 50
    with pytest.raises(OSError, match="past the 50 frames"):
        reader.get([49, 70])
    with pytest.raises(MediaError, match="frame index 70 outside the video's 50 frames"):
        video_io.decode(reader, [70])


def test_auto_falls_back_to_pyav_with_one_log_line_when_torchcodec_is_missing(
    tiny_dataset, monkeypatch, caplog
):
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", None)  # import fails as if not installed
    torchcodec_problem.cache_clear()
    monkeypatch.setattr(video_io, "_fallback_logged", set())
    try:
        with caplog.at_level(logging.INFO, logger="movingfashion.media.readers"):
            videos = sorted((tiny_dataset / "videos").glob("*.mp4"))
            cache = ReaderCache(access="sequential")  # the pattern where torchcodec comes first
            readers = [cache.get(v) for v in videos]
            frames = read_frames(videos[0], [3, 1], cache=cache)
    finally:
        torchcodec_problem.cache_clear()
    assert len(videos) >= 3 and all(isinstance(r, PyAVReader) for r in readers)
    assert [read_code(f) for f in frames] == [3, 1]
    lines = [r for r in caplog.records if r.name == "movingfashion.media.readers"]
    assert len(lines) == 1 and "torchcodec" in lines[0].getMessage()


def test_forcing_torchcodec_without_ffmpeg_libraries_says_how_to_install_them(video, monkeypatch):
    from torchcodec._core import ops

    monkeypatch.setattr(ops, "_FFMPEG_AVAILABLE", False)
    torchcodec_problem.cache_clear()
    try:
        with pytest.raises(MediaError) as exc:
            read_frames(video, [0], cache=ReaderCache(backend="torchcodec"))
        assert isinstance(open_reader(video), PyAVReader)  # auto still decodes
    finally:
        torchcodec_problem.cache_clear()
    text = str(exc.value)
    assert "FFmpeg" in text and "make install" in text and "apt-get install ffmpeg" in text
    assert "101_0.mp4" in text


def test_backend_names_come_from_the_registry_and_every_user_takes_them():
    from annotations.config import BuildConfig
    from movingfashion.cache_cli import crop_cache
    from schemas.errors import ConfigError

    assert backend_names() == ["auto", "torchcodec", "pyav", "decord", "opencv"]
    choice = next(p for p in crop_cache.params if p.name == "backend").type
    assert list(choice.choices) == backend_names()
    assert BuildConfig(video_backend="decord").video_backend == "decord"
    with pytest.raises(ValueError, match="unknown video backend 'gpu'"):
        BuildConfig(video_backend="gpu")
    with pytest.raises(MediaError, match="unknown video backend"):
        ReaderCache(backend="gpu")
    from movingfashion.dataset import MovingFashionDataset

    with pytest.raises(ConfigError, match="unknown video backend"):
        MovingFashionDataset("nowhere", "train", backend="cv2")


def test_read_frames_resizes_and_read_video_decodes_everything(video):
    small = read_frames(video, [5, 7], size=(48, 64), cache=ReaderCache())
    assert small.shape == (2, 48, 64, 3)
    full = read_video(video)
    assert full.shape == (60, 96, 128, 3) and [read_code(f) for f in full] == list(range(60))


def test_cuda_decoding_asked_for_and_unusable_is_said_once_then_the_cpu_decodes(
    tmp_path, monkeypatch, caplog
):
    """``MF_DECODE_DEVICE=cuda`` on a machine whose torchcodec cannot decode on CUDA fell back to
    the CPU without a word (audit_gpu G3)."""
    import torch

    from movingfashion.media import readers
    from tests.movingfashion.helpers import write_video

    if torch.cuda.is_available():  # the fallback this checks happens only without CUDA
        return
    if readers.torchcodec_problem() is not None:
        return  # no torchcodec at all: the other, older line says so
    video = write_video(tmp_path / "v.mp4", 12)
    monkeypatch.setenv("MF_DECODE_DEVICE", "cuda")
    monkeypatch.setattr(readers, "_fallback_logged", set())
    with caplog.at_level("WARNING"):
        for _ in range(2):
            reader = readers.open_reader(video, access="sequential")
            assert reader.backend != "torchcodec" and len(reader) == 12
            reader.close()
    said = [r.getMessage() for r in caplog.records if "CUDA decoding" in r.getMessage()]
    assert len(said) == 1 and "MF_DECODE_DEVICE=cuda" in said[0] and "MF_DECODE_DEVICE=cpu" in said[0]


def test_pyav_converts_only_the_window_and_gives_the_bytes_cut_from_the_whole_frame(
    tricky_clips, monkeypatch
):
    """``decode(window=)``: PyAV converts only each frame's window of a large 4:2:0 frame to RGB
    (the window grown to even edges, then trimmed), the same bytes as cutting the whole frame's
    RGB, odd edges included; another reader cuts its whole frames."""
    path = tricky_clips["bframes"]
    idx = [40, 3, 17, 17, 88]
    whole = PyAVReader(str(path)).get_list(idx)
    h, w = whole[0].shape[:2]
    rng = np.random.default_rng(0)
    wins = {}
    for i in idx:
        xa, xb = sorted(int(v) for v in rng.choice(w + 1, 2, replace=False))
        ya, yb = sorted(int(v) for v in rng.choice(h + 1, 2, replace=False))
        wins[i] = (xa | 1, ya | 1, xb, yb) if i % 2 else (xa, ya, xb | 1, yb | 1)
    assert any(x % 2 for win in wins.values() for x in win)  # odd edges, both sides
    converted = []
    monkeypatch.setattr(PyAVReader, "_window_rgb", _counted(PyAVReader._window_rgb, converted))
    small = video_io.decode(PyAVReader(str(path)), idx, window=lambda i, h, w: wins[i])
    assert not converted  # a small frame is converted whole (a window alone would cost more)
    monkeypatch.setattr(video_io, "WINDOW_MIN_SAVED", 0)  # as on a large frame
    got = video_io.decode(PyAVReader(str(path)), idx, window=lambda i, h, w: wins[i])
    assert all(np.array_equal(a, b) for a, b in zip(small, got, strict=True))
    assert sorted(converted) == sorted(wins[i] for i in set(idx))  # each window converted alone
    for i, frame, cut in zip(idx, whole, got, strict=True):
        xa, ya, xb, yb = wins[i]
        assert np.array_equal(cut, frame[ya:yb, xa:xb])
    other = video_io.decode(OpenCVReader(str(path)), idx, window=lambda i, h, w: wins[i])
    assert [f.shape for f in other] == [f.shape for f in got]


def _counted(fn, seen: list):
    def counting(self, frame, win):
        seen.append(tuple(win))
        return fn(self, frame, win)

    return counting


def test_window_span_holds_the_pixels_on_even_edges_in_steps_inside_the_frame():
    """:func:`window_span`: the span a window is converted on contains it, starts and ends on
    even pixels, is a multiple of the step (or the whole length) and stays inside the frame (a
    window at the end is moved back, not cut)."""
    rng = np.random.default_rng(3)
    for _ in range(2000):
        length = 2 * int(rng.integers(1, 400))
        start, stop = sorted(int(v) for v in rng.choice(length + 1, 2, replace=False))
        step = int(rng.choice([2, 16, 32]))
        a, b = video_io.window_span(start, stop, length, step)
        assert 0 <= a <= start < stop <= b <= length and a % 2 == 0 == b % 2
        assert (b - a) % step == 0 or b - a == length
    assert video_io.window_span(100, 128, 128, 32) == (96, 128)  # moved back from the end
    assert video_io.window_span(3, 21, 128, 32) == (2, 34)


def test_pyav_keeps_one_converter_per_window_size_and_the_bytes_stay_the_same(tricky_clips, monkeypatch):
    """Windows whose sizes differ by a few pixels (a tracklet's crops) are converted on spans of a
    few sizes (:data:`WINDOW_STEP`) by converters kept per size, not set up again per window; the
    bytes are those cut from the whole frame, at the frame's edges too."""
    from av.video import reformatter

    path = tricky_clips["bframes"]
    idx = list(range(0, 60, 3))
    whole = PyAVReader(str(path)).get_list(idx)
    h, w = whole[0].shape[:2]
    wins = {i: (3 + k, 5 + k, 3 + 2 * k + 40, min(h, 5 + k + 30 + k % 3)) for k, i in enumerate(idx)}
    wins[idx[-1]] = (w - 7, h - 9, w, h)  # the bottom right corner
    reader = PyAVReader(str(path))
    made = []
    monkeypatch.setattr(reformatter, "VideoReformatter", _counted_class(reformatter.VideoReformatter, made))
    monkeypatch.setattr(video_io, "WINDOW_MIN_SAVED", 0)  # as on a large frame
    got = video_io.decode(reader, idx, window=lambda i, h, w: wins[i])
    for i, frame, cut in zip(idx, whole, got, strict=True):
        xa, ya, xb, yb = wins[i]
        assert np.array_equal(cut, frame[ya:yb, xa:xb])
    spans = {
        (video_io.window_span(xa, xb, w), video_io.window_span(ya, yb, h)) for xa, ya, xb, yb in wins.values()
    }
    sizes = {(x1 - x0, y1 - y0) for (x0, x1), (y0, y1) in spans}
    assert len(sizes) < len(idx) // 3 and len(made) == len(sizes)  # one converter per size
    video_io.decode(reader, idx, window=lambda i, h, w: wins[i])  # again: none made
    assert len(made) == len(sizes)


def test_pyav_converts_colours_on_one_thread_with_the_default_bytes(tricky_clips, monkeypatch):
    """Every RGB conversion of the PyAV reader (whole frames and windows alone) runs on
    :data:`CONVERT_THREADS` (1) thread: PyAV's default hands each frame to a second thread, ~20 us
    of CPU a frame; the bytes are those of PyAV's default conversion."""
    import av
    from av.video import reformatter

    path = tricky_clips["bframes"]
    idx = [3, 17, 40]
    with av.open(str(path)) as c:
        default = [f.to_ndarray(format="rgb24") for k, f in enumerate(c.decode(video=0)) if k in idx]
    threads: list = []
    real = reformatter.VideoReformatter

    class Recording:
        def __init__(self) -> None:
            self.inner = real()

        def reformat(self, frame, **kwargs):
            threads.append(kwargs.get("threads"))
            return self.inner.reformat(frame, **kwargs)

    monkeypatch.setattr(reformatter, "VideoReformatter", Recording)
    got = PyAVReader(str(path)).get_list(idx)
    assert all(np.array_equal(a, b) for a, b in zip(got, default, strict=True))
    monkeypatch.setattr(video_io, "WINDOW_MIN_SAVED", 0)  # windows converted alone, as on a large frame
    h, w = got[0].shape[:2]
    cut = video_io.decode(PyAVReader(str(path)), idx, window=lambda i, h, w: (3, 5, w - 7, h - 2))
    assert all(np.array_equal(a, b[5 : h - 2, 3 : w - 7]) for a, b in zip(cut, default, strict=True))
    assert threads == [video_io.CONVERT_THREADS] * 6 and video_io.CONVERT_THREADS == 1


def _counted_class(cls, made: list):
    def make(*args, **kwargs):
        made.append(1)
        return cls(*args, **kwargs)

    return make
