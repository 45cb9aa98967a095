"""Decode exactly the frames a caller needs: one reader registry for every stage.

Backends (:data:`READERS`), each behind :class:`FrameReader` (uint8 RGB ``[N, H, W, 3]`` in the
order asked, any order, repeats allowed):

* ``torchcodec``: PyTorch's decoder (``VideoDecoder(seek_mode="exact")``, ``get_frame_at``);
  needs FFmpeg's shared libraries (major version 4-9, ``make install`` provides them);
  decodes on CUDA (NVDEC) when asked (``device="cuda"``, or ``MF_DECODE_DEVICE=cuda|auto``);
* ``pyav``: the reference; seeks to the key frame before each group of wanted frames, lets
  FFmpeg drop the non-reference frames nobody asked for and drains the decoder after the last
  wanted frame's packet (bit-identical to a full decode);
* ``decord``: ``VideoReader.get_batch``, kept as a selectable backend with five guards: a
  file whose header declares another frame count than its packets hold is refused (decord
  seeks by the header and returns wrong frames there), so is open-GOP video (leading B-frames
  before a key frame: decord returns neighbouring frames for them, sorted or not) and a file
  with more than one video stream (decord picks the "best" one, every other reader stream 0;
  cover art does not count), it is never
  asked for frames past the packets the container holds (its ``get_batch`` can spin forever
  there), and it is always asked in frame order;
* ``opencv``: ``cv2.VideoCapture``, the last resort (its header frame count is also capped by
  the packets the container holds: past the real end it returns other frames silently).

Every backend returns frames in the orientation the video is *displayed* in: a rotation tag
(the display matrix phone videos carry) is applied, as torchcodec, decord, OpenCV and the
ffmpeg command line do, and ``size`` is the displayed ``(height, width)``.

A stream with B-frames in a container whose timestamps cannot place its frames (AVI stores
decode-order times, MPEG-TS seeks land off the key frames: :data:`SEEK_UNSAFE_FORMATS`) is
read exactly by PyAV only, decoding in order from the start (slow for sparse access: remux
such files to MP4); torchcodec and decord refuse it, OpenCV reads it without seeking. So is a
stream with B-frames whose packets carry decode-order timestamps (pts == dts, no composition
offsets: an MP4 like box.mp4 of opencv-doc; found by decoding its first frames when the
timestamps never decrease): frame ``i`` is the ``i``-th frame the decoder puts out (display
order), and only a re-encode gives such a file timestamps to seek by.

``backend="auto"`` picks per file the fastest exact reader for how the caller reads
(``access``, :data:`AUTO_ORDERS`), measured with ``benchmarks/bench_loader.py`` and
``benchmarks/real_clips.py`` on real H.264 clips (CPU time per clip, interleaved, 2 cores):

* ``sparse`` (a training clip: T frames anywhere; :class:`ReaderCache`, ``read_frames``, the
  dataset) on the CPU: **PyAV first**. A sampled frame needs every frame since its key frame,
  and only PyAV can drop the non-reference B-frames on the way (torchcodec and decord decode
  them all): torchcodec cost 1.14-1.27x PyAV's CPU time per clip on the camera clips
  (176x144, 640x272, 640x480, 768x576, all with B-frames), decord 1.3-1.5x; a later run that
  charged each decoder's own threads to it (``bench_loader.py``'s idle wait) gave torchcodec
  about 1.45x. On a stream
  without B-frames there is nothing to skip and torchcodec's frame path is cheaper (0.9x
  PyAV on a 1280x720 clip without B-frames), so there PyAV hands the file to torchcodec.
* ``crops`` (sparse access keeping a window of each frame: the dataset's tracklet crops,
  ``decode(window=)``): the sparse order, but PyAV keeps streams without B-frames too, since it
  converts only each window of a large frame to RGB (the same bytes; :data:`WINDOW_MIN_SAVED`),
  and in a one-process A/B on the 1280x720 clip ``dataset[i]`` cost 8% less this way than with
  torchcodec's whole frames (docs/performance.md, "Where ``dataset[i]`` spends CPU beyond
  decoding on bunny").
* ``sequential`` (every frame, or every k-th, in order: the tracklet builder, the crop cache,
  the training copy, ``read_video``): **torchcodec first**, 1.5-2.6x faster than PyAV and
  decord per decoded frame on the same clips.
* CUDA (``$MF_DECODE_DEVICE=cuda`` or ``auto`` with a GPU): torchcodec first for both, since
  only it decodes on NVDEC (not measured here: the machines these figures come from have no
  GPU).

Then decord and OpenCV in that order. When torchcodec cannot run here (no FFmpeg libraries)
it is skipped with one logged line per process. Forcing a backend uses only that one. Readers
live in a small LRU cache (evicted readers are closed) that belongs
to one process (:class:`ReaderCache`): a DataLoader worker forked from a parent that already
opened readers starts empty instead of sharing decoder state. Every reader the parent had
open at the fork, even one only garbage held, stays referenced in the child and is never freed
there: freeing a PyAV, OpenCV or decord reader in a forked child waits forever for decoder
threads the child does not have. Whatever fails, the
:class:`~schemas.errors.MediaError` names the video and what each backend said.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from movingfashion.media.logs import quiet_decord_logs, quiet_native_logs
from schemas.config import DECODE_DEVICE_ENV, DECODE_DEVICES, env_decode_device
from schemas.errors import MediaError
from schemas.paths import media_path
from schemas.redact import redacted_logger

log = redacted_logger(__name__)

#: Readers kept open per process (each holds a demuxer and decoder, about 30 ms to open).
DEFAULT_CACHE_SIZE = 16

#: Where torchcodec decodes: ``cpu`` (default), ``cuda``, or ``auto`` (CUDA when available and
#: not inside a DataLoader worker process). Read from the environment at each open.
DEVICE_ENV = DECODE_DEVICE_ENV

#: How to get FFmpeg's shared libraries when torchcodec cannot find them.
TORCHCODEC_HINT = (
    "torchcodec needs FFmpeg's shared libraries (major version 4 to 9): run `make install` as root "
    "(apt-get install ffmpeg) or install your system's ffmpeg package; or choose backend 'pyav'"
)


#: Containers (FFmpeg demuxer names) whose timestamps cannot place the frames of a stream with
#: B-frames: AVI carries decode-order times, MPEG-TS seeks by time land off the key frames.
SEEK_UNSAFE_FORMATS = frozenset({"avi", "mpegts"})

#: What to do with a file of such a container.
REMUX_HINT = "remux it to MP4 (ffmpeg -i IN -c copy OUT.mp4), where every backend seeks exactly"


#: What to do with a stream whose timestamps are decode times (remuxing keeps them).
REENCODE_HINT = (
    "re-encode it (ffmpeg -i IN -c:v libx264 OUT.mp4): its B-frames carry decode-order timestamps, "
    "which a remux keeps"
)

#: Decoded frames :func:`_decoder_reorders` looks at before it calls a stream's order plain.
REORDER_PROBE_FRAMES = 48


def _seek_problem(container: Any, stream: Any, facts: dict[str, Any] | None = None) -> str | None:
    """Why timestamps cannot place this stream's frames (None when they can).

    ``facts`` from :func:`_index_packets` saves a pass over the packets. A stream with
    B-frames whose packet timestamps never decrease in decode order (pts == dts: an MP4 without
    composition offsets) is checked by decoding its first frames: when the decoder reorders
    them, the timestamps are decode times and frame ``i`` is only the ``i``-th frame put out.
    """
    if not stream.codec_context.has_b_frames:
        return None
    fmt = str(container.format.name or "")
    if set(fmt.split(",")) & SEEK_UNSAFE_FORMATS:
        return f"B-frames in an {fmt} container (its timestamps cannot place them)"
    in_order = (facts or {}).get("pts_in_decode_order")
    if in_order is None:
        in_order = _pts_in_decode_order(container, stream)
    if in_order and _decoder_reorders(container, stream):
        return "B-frames with decode-order timestamps (pts == dts, no composition offsets)"
    return None


def _pts_in_decode_order(container: Any, stream: Any) -> bool:
    """Whether the packets' timestamps never decrease in decode order (stops at the first that
    does: at once on a stream whose B-frames carry their display times)."""
    last: int | None = None
    try:
        for pkt in container.demux(stream):
            if pkt.pts is None:
                continue
            if last is not None and int(pkt.pts) < last:
                return False
            last = int(pkt.pts)
    finally:
        container.seek(0)
    return last is not None


def _decoder_reorders(container: Any, stream: Any) -> bool:
    """Whether the decoder puts out the first frames in another order than their packets came
    (a frame's ``pts`` is the one its packet carried); True when they cannot be decoded (the
    in-order read needs no timestamps)."""
    last: int | None = None
    try:
        container.seek(0)
        for n, frame in enumerate(container.decode(stream)):
            if frame.pts is not None:
                if last is not None and int(frame.pts) < last:
                    return True
                last = int(frame.pts)
            if n + 1 >= REORDER_PROBE_FRAMES:
                break
    except Exception:  # noqa: BLE001 - av.error.*: decoding in order is the safe side
        return True
    finally:
        stream.codec_context.flush_buffers()
        with contextlib.suppress(Exception):
            container.seek(0)
    return False


def seek_fix_hint(problem: str) -> str:
    """What to do with a file that has this seek ``problem`` (:func:`_seek_problem`)."""
    return REENCODE_HINT if "decode-order timestamps" in problem else REMUX_HINT


_SEEK_PROBLEMS: dict[tuple[str, int, int], str | None] = {}


def seek_problem(path: str | os.PathLike[str]) -> str | None:
    """:func:`_seek_problem` of a file, remembered per path, size and modification time."""
    import av

    key = file_key(path)
    if key not in _SEEK_PROBLEMS:
        with av.open(media_path(key[0])) as container:
            if not container.streams.video:
                return None
            _remember(key, _seek_problem(container, container.streams.video[0]))
    return _SEEK_PROBLEMS[key]


def file_key(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """``(path, size, mtime_ns)``: what a file is remembered by, so a file replaced under the same
    name (republished, re-encoded) is a new key; ``OSError`` when it cannot be read."""
    st = os.stat(path)
    return (str(path), st.st_size, st.st_mtime_ns)


def _remember(key: tuple[str, int, int], problem: str | None) -> None:
    if len(_SEEK_PROBLEMS) > 4096:
        _SEEK_PROBLEMS.clear()
    _SEEK_PROBLEMS[key] = problem


def _turns(frame: Any) -> int:
    """Counter-clockwise quarter turns that show a decoded PyAV frame as displayed."""
    return round(getattr(frame, "rotation", 0) / 90) % 4


def _vfr_rate(rate: float, frames: int, span_s: float) -> float:
    """``rate``, or ``frames / span_s`` when the nominal rate does not fit the timestamps
    (variable frame rate in a container without a frame count: Matroska, WebM)."""
    if span_s > 0 and frames > 1 and (rate <= 0 or abs(rate * span_s - frames) > 1):
        return frames / span_s
    return rate


#: A function applied to each decoded frame (uint8 RGB ``[H, W, 3]``) as it comes.
FrameFn = Callable[[np.ndarray], np.ndarray]

#: Frames a reader without per-frame mapping decodes at once when the caller shrinks them.
SHRINK_CHUNK = 8


def _mapped(frame: np.ndarray, each: FrameFn | None) -> np.ndarray:
    return frame if each is None else each(frame)


#: ``window(i, height, width)``: the pixels ``(x1, y1, x2, y2)`` of frame ``i`` (displayed, of
#: that size) a caller keeps (``decode(window=)``).
Window = Callable[[int, int, int], tuple[int, int, int, int]]

#: Pixel formats whose RGB the PyAV reader converts for a window only (``decode(window=)``):
#: each pixel's RGB depends on its own luma and its 2x2 block's chroma only, so a window grown to
#: even edges converts to the same bytes as the whole frame (checked on 10,380 random windows of
#: every frame of ten real clips, odd edges included).
WINDOW_FORMATS: frozenset[str] = frozenset({"yuv420p"})

#: Pixels a window must spare (frame minus window) for the PyAV reader to convert it alone:
#: a window of a new size sets up a new colour converter (~0.2 ms of CPU, against ~0.34 ns a
#: pixel converted), so only large frames gain (1280x720: 0.31 ms whole, a 458x377 window
#: 0.23); a 176x144 frame's windows cost 0.31 ms against 0.04 whole (and still more than
#: whole frames with the converters kept, :data:`WINDOW_STEP`: cutting the planes costs more
#: than converting a small frame).
WINDOW_MIN_SAVED = 600_000

#: A window the PyAV reader converts alone is grown (inside the frame) to a width and height
#: that are multiples of this many pixels, so that the windows of a tracklet, whose sizes change
#: a little from frame to frame, share a few sizes, and each size's colour converter is kept
#: (:data:`WINDOW_CONVERTERS`) instead of set up again (~0.1 ms each on 1280x720): 0.4-1.8% of
#: ``dataset[i]``'s CPU on 1280x720 clips (docs/performance.md). The bytes are the same: a
#: pixel's RGB does not depend on the window around it (:data:`WINDOW_FORMATS`).
WINDOW_STEP = 32

#: Colour converters of window sizes a PyAV reader keeps (least recently used dropped first).
WINDOW_CONVERTERS = 16

#: Threads each PyAV colour conversion (swscale) runs on. PyAV's default (0: one per core) hands
#: every frame's slices to a second thread and waits for it: about 20 us of CPU a frame for the
#: handover whatever its size, more than converting a 176x144 frame costs (CPU per frame, auto
#: against 1: 176x144 32 against 11.5 us, 640x480 126 against 101, 1280x720 311 against 284), and
#: no faster in wall clock on 2 busy cores. The bytes are the same (each slice is converted alone).
CONVERT_THREADS = 1


def window_span(start: int, stop: int, length: int, step: int = WINDOW_STEP) -> tuple[int, int]:
    """The span ``[a, b)`` the PyAV reader converts for the pixels ``[start, stop)`` of a row or
    column of even ``length``: grown to even edges and to a multiple of ``step`` (at most
    ``length``), moved back inside ``[0, length)`` when it would pass the end."""
    a, b = start - start % 2, stop + stop % 2
    size = min(length, -(-(b - a) // step) * step)
    a = max(0, min(a, length - size))
    return a, a + size


def _windowed(frames: Sequence[np.ndarray], idx: Sequence[int], window: Window) -> list[np.ndarray]:
    """Each whole frame cut to its ``window`` (views, no copy)."""
    out = []
    for i, f in zip(idx, frames, strict=True):
        xa, ya, xb, yb = window(int(i), *f.shape[:2])
        out.append(f[ya:yb, xa:xb])
    return out


class BackendUnavailable(MediaError):
    """A backend cannot run on this machine at all (missing library), whatever the file."""


class FrameReader(Protocol):
    """What every video backend provides."""

    backend: str
    path: str

    def __len__(self) -> int: ...

    @property
    def fps(self) -> float: ...

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the decoded frames."""
        ...

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 RGB frames ``[len(indices), H, W, 3]`` in the order asked."""
        ...

    def key_indices(self) -> list[int]: ...

    def close(self) -> None: ...


# -- torchcodec ----------------------------------------------------------------------------------


@functools.cache
def torchcodec_problem() -> str | None:
    """None when torchcodec can decode videos here, else why not (checked once per process)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - ImportError, or OSError from a broken install
        return (
            f"torchcodec cannot be imported ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        )
    try:
        from torchcodec._core import ops
    except Exception:  # noqa: BLE001 - layout changed: let opening a file tell
        return None
    if getattr(ops, "_FFMPEG_AVAILABLE", True) is False:
        return "torchcodec found no FFmpeg shared libraries"
    return None


def decode_device(device: str | None = None) -> str:
    """``cpu`` or ``cuda`` for torchcodec: ``device`` or ``$MF_DECODE_DEVICE`` (default cpu)."""
    choice = (device or env_decode_device()).lower()
    if choice not in DECODE_DEVICES:
        raise MediaError(f"unknown decode device {choice!r}", where="device", hint="use cpu, cuda or auto")
    if choice == "auto":
        import torch
        from torch.utils.data import get_worker_info

        return "cuda" if torch.cuda.is_available() and get_worker_info() is None else "cpu"
    return choice


class TorchCodecReader:
    """torchcodec ``VideoDecoder`` (exact seeking: frame ``i`` is the ``i``-th frame shown)."""

    backend = "torchcodec"

    def __init__(self, path: str, *, device: str | None = None) -> None:
        _track(self)
        problem = torchcodec_problem()
        if problem is not None:
            raise BackendUnavailable(problem, hint=TORCHCODEC_HINT)
        from torchcodec.decoders import VideoDecoder

        self.path = path
        self.device = decode_device(device)
        problem = _seek_problem_quiet(path)
        if problem is not None:  # its exact index sorts those timestamps: other frames come back
            raise OSError(f"{problem}; torchcodec would return other frames")
        try:
            self._dec = VideoDecoder(
                media_path(path),
                seek_mode="exact",
                dimension_order="NHWC",
                num_ffmpeg_threads=1,
                device=self.device,
            )
        except RuntimeError as exc:
            if "libtorchcodec" in str(exc) or "FFmpeg" in str(exc).split("\n")[0]:
                raise BackendUnavailable(str(exc).splitlines()[0], hint=TORCHCODEC_HINT) from None
            if self.device == "cuda":  # NVDEC asked for and not there: said once, then the CPU decodes
                raise BackendUnavailable(
                    f"CUDA decoding ({DECODE_DEVICE_ENV}={env_decode_device()}) failed: {_first_line(exc)}",
                    hint=f"set {DECODE_DEVICE_ENV}=cpu, or install a CUDA build of torchcodec and its driver",
                ) from None
            raise
        md = self._dec.metadata
        self._len = len(self._dec)
        self._fps = float(md.average_fps or 0.0)
        self._size = (int(md.height or 0), int(md.width or 0))

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def get(self, indices: Sequence[int]) -> np.ndarray:
        """uint8 RGB ``[B, H, W, 3]`` of ``indices`` (any order, repeats allowed), decoded one
        frame at a time in frame order into one array. torchcodec's own batch call
        (``get_frames_at``, torchcodec 0.17) returns the same bytes, but its cost was erratic on
        a 176x144 B-frame clip with one key frame in 120 (not understood): in some processes
        2.4x this path (10 frames: 124 against 48-51 ms of CPU; all 120: 0.7-0.85 s against
        65 ms), in others and in ``bench_loader.py``'s loop the same (51 against 52 ms); frame by
        frame measured the same everywhere, and within noise of the batch call on the 640x272
        and 1280x720 clips."""
        idx = [int(i) for i in indices]
        if not idx:
            return np.zeros((0, *self._size, 3), np.uint8)
        at: dict[int, list[int]] = {}
        for k, i in enumerate(idx):
            at.setdefault(i, []).append(k)
        order = sorted(at)
        first = self._frame(order[0])
        out = np.empty((len(idx), *first.shape), np.uint8)
        for i in order:
            out[at[i]] = first if i == order[0] else self._frame(i)
        return out

    def _frame(self, i: int) -> np.ndarray:
        data = self._dec.get_frame_at(i).data
        return data.numpy() if data.device.type == "cpu" else data.cpu().numpy()

    def get_list(self, indices: Sequence[int], *, each: FrameFn | None = None) -> list[np.ndarray]:
        """Like :meth:`get`, one array per frame (no batch): the frames asked are decoded one at a
        time in frame order (the same frames, byte for byte), and ``each`` maps every frame as it is
        decoded (only its result is kept). A batch is one fresh allocation per call (on 1280x720,
        16 frames = 44 MB, above what the allocator recycles): its page faults cost 30-40% of the
        decoding's CPU time, which frames of one size, freed and allocated again, do not."""
        got: dict[int, np.ndarray] = {}
        for i in sorted({int(i) for i in indices}):
            got[i] = _mapped(self._frame(i), each)
        return [got[int(i)] for i in indices]

    def key_indices(self) -> list[int]:
        keys = getattr(self._dec, "_get_key_frame_indices", None)
        return [int(i) for i in keys()] if keys is not None else _packet_index(self.path)[2]

    def close(self) -> None:
        self._dec = None


# -- PyAV ----------------------------------------------------------------------------------------


class PyAVReader:
    """PyAV (FFmpeg) reader that decodes only what the requested frames depend on.

    The packet index (timestamps, key frames) is read once when the file opens, without
    decoding. A request seeks to the key frame before each group of wanted frames and decodes
    forward with FFmpeg's ``skip_frame``: a packet that is not wanted is decoded only when it is
    a reference frame (another frame depends on it); non-reference frames in between (most
    B-frames) are dropped before decoding. Once the packets of every wanted frame behind a key
    frame are in the decoder, it is drained (frames it holds back to put them in display order
    come out) instead of being fed the packets after them, which a reordering stream would
    otherwise decode only to push the wanted frames out. The output is bit-identical to a full
    decode (the skipped frames feed nothing, and a decoded frame does not change afterwards).

    Frames come in their displayed orientation (the stream's rotation tag applied). A stream
    whose timestamps cannot place its frames (:data:`SEEK_UNSAFE_FORMATS`, decode-order
    timestamps: :func:`_seek_problem`) is read
    without seeking instead: frame ``i`` is the ``i``-th frame the decoder puts out, from the
    start (exact; the decoder goes on from where the last request stopped when it can).
    """

    backend = "pyav"

    def __init__(self, path: str, *, skip_nonref: bool = True) -> None:
        _track(self)
        import av

        self.path = path
        self.skip_nonref = skip_nonref
        self._container = av.open(media_path(path))
        try:
            self._stream = self._container.streams.video[0]
        except IndexError:
            self._container.close()
            raise OSError("no video stream") from None
        self._setup_stream()
        facts: dict[str, Any] = {}
        try:
            self._pts, self._keys = _index_packets(self._container, self._stream, facts)
        except OSError:
            self._container.close()
            raise
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._fps = float(rate) if rate else 0.0
        if not self._stream.frames and len(self._pts) > 1:  # no count in the header: maybe VFR
            span = (facts["end_pts"] - int(self._pts[0])) * float(self._stream.time_base or 0)
            self._fps = _vfr_rate(self._fps, len(self._pts), span)
        #: whether the stream reorders frames (B-frames): what skipping non-reference frames saves
        self.has_b_frames = bool(self._stream.codec_context.has_b_frames)
        #: why frames are found by decoding in order rather than by seeking (None: seeking works)
        self.seek_problem = _seek_problem(self._container, self._stream, facts)
        with contextlib.suppress(OSError):  # torchcodec, opened next for the same file, asks
            _remember(file_key(path), self.seek_problem)
        self._ordered: Any = None  # the in-order decoder of a seek-unsafe stream, and its position
        self._next = 0
        # one colour converter for every frame: a frame's own to_ndarray() sets up a new swscale
        # context each time, which costs more than decoding a small frame (same pixels either way)
        from av.video.reformatter import VideoReformatter

        self._rgb = VideoReformatter()
        #: converters of window sizes (:meth:`_window_converter`), most recently used last
        self._windows: OrderedDict[tuple[int, int], Any] = OrderedDict()
        self._graph: tuple[tuple[str, int, int], Any] | None = None  # for other pixel formats
        self._turns: int | None = None  # quarter turns to the displayed orientation, once seen
        self.frames_decoded = 0  #: frames the decoder put out so far (skipped ones not counted)
        #: packets handed to the decoder so far (the non-reference ones it drops included)
        self.packets_decoded = 0

    def _setup_stream(self) -> None:
        self._stream.thread_type = "SLICE"
        self._stream.codec_context.thread_count = 1

    def __len__(self) -> int:
        return len(self._pts)

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        """Displayed ``(height, width)`` (decodes the first frame when none was yet)."""
        if self._turns is None:
            with contextlib.suppress(Exception):  # undecodable: the stored size is all there is
                self.get_list([0])
        h, w = int(self._stream.height), int(self._stream.width)
        return (w, h) if self._turns in (1, 3) else (h, w)

    def key_indices(self) -> list[int]:
        return [int(i) for i in self._keys]

    def _rgb_of(
        self, frame: Any, window: Callable[[int, int], tuple[int, int, int, int]] | None = None
    ) -> np.ndarray:
        """``frame`` in RGB, displayed; ``window(height, width)``: only those pixels (see
        :data:`WINDOW_FORMATS`: a window of a 4:2:0 frame is converted alone, the same bytes)."""
        if self._turns is None:
            self._turns = _turns(frame)
        win = None
        if window is not None and not self._turns:
            win = window(frame.height, frame.width)
            if (
                frame.format.name in WINDOW_FORMATS
                and frame.width % 2 == 0
                and frame.height % 2 == 0
                and frame.width * frame.height - (win[2] - win[0]) * (win[3] - win[1]) >= WINDOW_MIN_SAVED
            ):
                return self._window_rgb(frame, win)
        if frame.format.name in EXACT_RGB_FORMATS:
            img = self._rgb.reformat(frame, format="rgb24", threads=CONVERT_THREADS).to_ndarray()
        else:  # FFmpeg's own filter path: what torchcodec and the ffmpeg command line give
            img = self._graph_rgb(frame)
        if self._turns:
            img = np.ascontiguousarray(np.rot90(img, self._turns))
        if window is not None:
            xa, ya, xb, yb = win if win is not None else window(*img.shape[:2])
            img = img[ya:yb, xa:xb]
        return img

    def _window_rgb(self, frame: Any, win: tuple[int, int, int, int]) -> np.ndarray:
        """RGB of the pixels ``win`` = ``(x1, y1, x2, y2)`` of a 4:2:0 ``frame`` of even size: its
        planes cut to the window grown to even edges and a multiple of :data:`WINDOW_STEP`
        (:func:`window_span`), converted alone by the converter kept for that size, then trimmed
        (on 1280x720: 0.31 ms of CPU a whole frame, 0.12 ms a 458x377 window)."""
        import av

        xa, ya, xb, yb = win
        x0, x1 = window_span(xa, xb, frame.width)
        y0, y1 = window_span(ya, yb, frame.height)
        sub = av.VideoFrame(x1 - x0, y1 - y0, "yuv420p")
        for k, (dst, src) in enumerate(zip(sub.planes, frame.planes, strict=True)):
            s = 1 if k == 0 else 2
            plane = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)
            # the planes' own buffers, written in place (no copy handed to update())
            into = np.frombuffer(dst, np.uint8)[: dst.height * dst.line_size].reshape(
                dst.height, dst.line_size
            )
            into[:, : dst.width] = plane[y0 // s : y1 // s, x0 // s : x1 // s]
        sub.color_range, sub.colorspace = frame.color_range, frame.colorspace
        conv = self._window_converter(x1 - x0, y1 - y0)
        rgb = conv.reformat(sub, format="rgb24", threads=CONVERT_THREADS).to_ndarray()
        return rgb[ya - y0 : yb - y0, xa - x0 : xb - x0]

    def _window_converter(self, width: int, height: int) -> Any:
        """The colour converter kept for windows of ``width`` x ``height`` (:data:`WINDOW_CONVERTERS`
        sizes at most, the least recently used dropped first)."""
        from av.video.reformatter import VideoReformatter

        key = (width, height)
        conv = self._windows.pop(key, None)
        if conv is None:
            conv = VideoReformatter()
            while len(self._windows) >= WINDOW_CONVERTERS:
                self._windows.popitem(last=False)
        self._windows[key] = conv
        return conv

    def _graph_rgb(self, frame: Any) -> np.ndarray:
        """``frame`` in RGB through a ``format=rgb24`` filter graph (kept while frames keep their
        format and size)."""
        import av

        key = (frame.format.name, frame.width, frame.height)
        if self._graph is None or self._graph[0] != key:
            graph = av.filter.Graph()
            src = graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format.name,
                time_base=self._stream.time_base,
            )
            fmt = graph.add("format", "rgb24")
            sink = graph.add("buffersink")
            src.link_to(fmt)
            fmt.link_to(sink)
            graph.configure()
            self._graph = (key, graph)
        graph = self._graph[1]
        graph.push(frame)
        return graph.pull().to_ndarray()

    def get(self, indices: Sequence[int]) -> np.ndarray:
        idx = [int(i) for i in indices]
        if not idx:
            return np.zeros((0, *self.size, 3), np.uint8)
        return np.stack(self.get_list(idx))

    def get_list(
        self, indices: Sequence[int], *, each: FrameFn | None = None, window: Window | None = None
    ) -> list[np.ndarray]:
        """Like :meth:`get`, one array per frame (no copy into a batch); ``each`` maps every
        frame as it is decoded (only its result is kept); ``window``: only those pixels of each
        frame (:data:`Window`), converted to RGB alone where the format allows."""
        idx = [int(i) for i in indices]
        if self.seek_problem is not None:
            return self._get_in_order(idx, each, window)
        pending = sorted(set(idx))
        # the key frame before each wanted frame, looked up once (not once per packet)
        keys_of = self._keys[np.searchsorted(self._keys, pending, side="right") - 1].tolist()
        want = {int(self._pts[i]): i for i in pending}
        got: dict[int, np.ndarray] = {}
        cc = self._stream.codec_context
        skipping = "DEFAULT"
        p = 0
        try:
            while p < len(pending):
                key = keys_of[p]
                # the wanted frames behind this key frame, and those whose packets the decoder has
                # not had yet
                group = {int(self._pts[pending[q]]) for q in range(p, len(pending)) if keys_of[q] == key}
                unsent = set(group)
                self._container.seek(int(self._pts[key]), stream=self._stream, backward=True, any_frame=False)
                cc.flush_buffers()
                drained = False
                for pkt in self._container.demux(self._stream):
                    if not unsent and pkt.pts is not None and int(pkt.pts) not in group:
                        # every wanted frame of this group is decoded (a packet carrying one's
                        # time again, a second field, still goes in), some still held back for
                        # reordering: drain them instead of decoding the packets after them
                        frames, drained = cc.decode(None), True
                    else:
                        if pkt.pts is not None:
                            unsent.discard(int(pkt.pts))
                        if self.skip_nonref:
                            mode = "DEFAULT" if pkt.pts is None or int(pkt.pts) in want else "NONREF"
                            if mode != skipping:
                                cc.skip_frame = skipping = mode
                        self.packets_decoded += 1
                        frames = cc.decode(pkt if pkt.size else None)
                    for frame in frames:
                        self.frames_decoded += 1
                        i = want.get(frame.pts)
                        if i is not None and i not in got:
                            win = None if window is None else functools.partial(window, i)
                            got[i] = _mapped(self._rgb_of(frame, win), each)
                    while p < len(pending) and pending[p] in got:
                        p += 1
                    if p == len(pending) or keys_of[p] != key:
                        break  # done, or the next wanted frame is behind another key frame: seek there
                    if drained:
                        raise OSError(f"frame {pending[p]} could not be decoded")
                else:  # end of file: whatever is still wanted cannot be decoded
                    if p < len(pending):
                        raise OSError(f"frame {pending[p]} could not be decoded")
        finally:
            cc.skip_frame = "DEFAULT"
        return [got[i] for i in idx]

    def _get_in_order(
        self, idx: list[int], each: FrameFn | None = None, window: Window | None = None
    ) -> list[np.ndarray]:
        """Frames by their rank in the decoder's output (no seeking, no timestamps)."""
        import av

        pending = sorted(set(idx))
        if not pending:
            return []
        if self._ordered is None or pending[0] < self._next:  # behind the decoder: from the top
            self._container.close()
            self._container = av.open(media_path(self.path))
            self._stream = self._container.streams.video[0]
            self._setup_stream()
            self._ordered, self._next = self._container.decode(self._stream), 0
        wanted, last = set(pending), pending[-1]
        got: dict[int, np.ndarray] = {}
        try:
            while self._next <= last:
                frame = next(self._ordered, None)
                if frame is None:
                    raise OSError(f"frame {min(wanted - set(got))} could not be decoded")
                self.frames_decoded += 1
                if self._next in wanted:
                    win = None if window is None else functools.partial(window, self._next)
                    got[self._next] = _mapped(self._rgb_of(frame, win), each)
                self._next += 1
        except BaseException:
            self._ordered = None  # a failed decoder starts again from the top next time
            raise
        return [got[i] for i in idx]

    def close(self) -> None:
        self._ordered = None
        self._container.close()


def _index_packets(
    container: Any, stream: Any, facts: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(presentation timestamps in display order, indices of key frames) of a video stream.

    A packet flagged discard (an edit list hides it: a stream-copied cut keeps the frames
    before its start that the first shown frame depends on; an encoder's trailing frame) is
    decoded by FFmpeg but never shown, so it is no frame of the video here.

    ``facts``, when given, receives ``end_pts`` (where the last frame ends), ``open_gop``
    (a packet after a key frame, in decode order, is shown before it: leading B-frames),
    ``pts_in_decode_order`` (no timestamp is below the one before it, in decode order) and
    ``discarded`` (packets flagged discard, not counted).
    """
    pts: list[int] = []
    keys: list[bool] = []
    end = 0
    key_pts, nkeys, open_gop, in_order, discarded = 0, 0, False, True, 0
    for pkt in container.demux(stream):
        if pkt.pts is None:
            if pkt.size:
                raise OSError("packets without timestamps")
            continue
        if pkt.is_discard:
            discarded += 1
            continue
        t = int(pkt.pts)
        in_order = in_order and (not pts or t >= pts[-1])
        pts.append(t)
        keys.append(bool(pkt.is_keyframe))
        end = max(end, t + int(pkt.duration or 0))
        if pkt.is_keyframe:
            key_pts, nkeys = t, nkeys + 1
        elif nkeys > 1 and t < key_pts:  # shown before the key frame it follows
            open_gop = True
    if facts is not None:
        facts["end_pts"] = max(end, max(pts, default=0))
        facts["open_gop"] = open_gop
        facts["pts_in_decode_order"] = in_order and bool(pts)
        facts["discarded"] = discarded
    order = np.argsort(np.asarray(pts, np.int64), kind="stable")
    sorted_pts = np.asarray(pts, np.int64)[order]
    key_idx = np.flatnonzero(np.asarray(keys, bool)[order]) if pts else np.zeros(0, np.int64)
    if len(sorted_pts) and (not len(key_idx) or key_idx[0] != 0):
        key_idx = np.concatenate([[0], key_idx])  # decodable from the start all the same
    return sorted_pts, key_idx


def _moving_video_streams(container: Any) -> int:
    """Video streams of a container, cover art (``attached_pic``) not counted."""
    import av

    cover = av.stream.Disposition.attached_pic
    return sum(1 for st in container.streams.video if not st.disposition & cover)


def _packet_index(path: str, facts: dict[str, Any] | None = None) -> tuple[int, int | None, list[int]]:
    """(frames the video shows, frames its header declares or None, key-frame indices).

    Read from the packets, without decoding. The header count is the stream's ``nb_frames``,
    else its duration times its frame rate. ``facts``: as for :func:`_index_packets`, plus
    ``seek_problem`` (:func:`_seek_problem`) and ``video_streams`` (:func:`_moving_video_streams`).
    """
    import av

    with av.open(media_path(path)) as container:
        stream = container.streams.video[0]
        if facts is not None:
            facts["video_streams"] = _moving_video_streams(container)
            facts["pix_fmt"] = stream.codec_context.pix_fmt
        declared: int | None = int(stream.frames or 0) or None
        if declared is None and stream.duration and stream.average_rate:
            declared = round(float(stream.duration * stream.time_base * stream.average_rate))
        pts, keys = _index_packets(container, stream, facts)
        if facts is not None:
            facts["seek_problem"] = _seek_problem(container, stream, facts)
    return len(pts), declared, [int(k) for k in keys]


#: Pixel formats whose RGB every backend gets exactly as FFmpeg's filters do (8-bit YUV, checked
#: against the ffmpeg command line); for any other (10-bit video, for one) PyAV converts through
#: a filter graph and decord and OpenCV, whose own conversions differ, refuse the file.
EXACT_RGB_FORMATS: frozenset[str] = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}
)


def _inexact_rgb(facts: dict[str, Any]) -> str:
    """Why a backend with its own colour conversion would return other pixels ('' when none);
    ``{backend}`` is left to fill in."""
    fmt = facts.get("pix_fmt")
    if not fmt or fmt in EXACT_RGB_FORMATS:
        return ""
    return (
        f"{fmt} video: {{backend}} converts it to RGB differently from FFmpeg (other pixels); "
        "read it with PyAV or torchcodec (backend='auto'), or re-encode it to 8-bit yuv420p"
    )


# -- decord --------------------------------------------------------------------------------------


class DecordReader:
    """decord ``VideoReader.get_batch``, with its frame count checked against the packets."""

    backend = "decord"

    def __init__(self, path: str) -> None:
        try:
            import decord
        except ImportError:  # pyproject installs it only where its wheels exist (Linux x86_64)
            raise OSError("decord is not installed (its wheels exist for Linux x86_64 only)") from None

        _track(self)

        quiet_decord_logs()
        self.path = path
        facts: dict[str, Any] = {}
        try:  # first, so that decord never sees a file FFmpeg cannot open (it prints to stderr then)
            real, declared, _ = _packet_index(path, facts)
        except Exception as exc:  # noqa: BLE001 - av.error.*, OSError
            raise OSError(f"the container does not open ({_first_line(exc)})") from None
        if facts.get("seek_problem"):
            raise OSError(f"{facts['seek_problem']}; decord would return other frames")
        if facts.get("video_streams", 1) > 1:  # it picks the "best" stream, the others stream 0
            raise OSError(
                f"{facts['video_streams']} video streams; decord would read another one than stream 0 "
                "(the one every other backend and the probe read)"
            )
        if facts.get("discarded"):  # after a seek back it is off by the hidden frames
            raise OSError(
                f"an edit list hides {facts['discarded']} stored frame(s); decord would return other frames"
            )
        if facts.get("open_gop"):  # it returns a neighbour for the frames shown before a key frame
            raise OSError("open-GOP video (B-frames shown before a key frame); decord returns other frames")
        if _inexact_rgb(facts):
            raise OSError(_inexact_rgb(facts).format(backend="decord"))
        stored = real + facts.get("discarded", 0)  # the header counts the hidden frames too
        if declared is not None and abs(declared - stored) > max(1, stored // 50):
            # decord seeks by the header's duration: with a lying header it returns wrong frames
            raise OSError(f"the header declares {declared} frames but the file holds {real}")
        try:
            self._vr = decord.VideoReader(media_path(path), ctx=decord.cpu(0), num_threads=1)
        except decord.DECORDError as exc:  # the protocol's error, as every other reader's
            raise OSError(f"decord cannot open the file ({_first_line(exc)})") from None
        claimed = len(self._vr)
        # decord's get_batch can spin forever on a frame the file does not have: never ask
        self._len = min(claimed, real)
        self._size: tuple[int, int] | None = None

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        return float(self._vr.get_avg_fps() or 0.0)

    @property
    def size(self) -> tuple[int, int]:
        if self._size is None:
            h, w = self._vr[0].shape[:2]
            self._size = (int(h), int(w))
            self._vr.seek(0)
        return self._size

    def get(self, indices: Sequence[int]) -> np.ndarray:
        idx = [int(i) for i in indices]
        if not idx:
            return np.zeros((0, *self.size, 3), np.uint8)
        bad = [i for i in idx if not 0 <= i < self._len]
        if bad:  # guard for direct callers too (read_frames checks earlier)
            raise OSError(f"frame {bad[0]} is past the {self._len} frames the file holds")
        # get_batch returns wrong frames for unsorted requests on open-GOP video: ask in order
        uniq = sorted(set(idx))
        arr = self._vr.get_batch(uniq).asnumpy()
        if uniq == idx:
            return arr
        pos = {f: k for k, f in enumerate(uniq)}
        return arr[[pos[i] for i in idx]]

    def key_indices(self) -> list[int]:
        return [int(i) for i in self._vr.get_key_indices() if int(i) < self._len]

    def close(self) -> None:
        self._vr = None


# -- OpenCV --------------------------------------------------------------------------------------


class OpenCVReader:
    """OpenCV fallback: sorts the request, seeks only when jumping backwards or far ahead."""

    backend = "opencv"

    #: Grab (decode without conversion) instead of seeking when the gap is at most this.
    max_grab_gap = 30

    def __init__(self, path: str) -> None:
        import cv2

        _track(self)
        quiet_native_logs()  # before OpenCV's FFmpeg first initialises (opened without open_reader)

        self.path = path
        self._cap = cv2.VideoCapture(media_path(path))
        if not self._cap.isOpened():
            raise OSError("OpenCV cannot open the file")
        declared = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        facts: dict[str, Any] = {}
        try:  # the header's count may exceed what the file holds: OpenCV then returns other frames
            self._len = min(declared, _packet_index(path, facts)[0])
        except Exception:  # noqa: BLE001 - PyAV cannot index it: trust the header
            self._len = declared
        if _inexact_rgb(facts):
            self._cap.release()
            raise OSError(_inexact_rgb(facts).format(backend="OpenCV"))
        #: why it never seeks (reads on, or reopens the file to go back); None: it seeks
        self.seek_problem: str | None = facts.get("seek_problem")
        self._fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        )
        self._pos = 0

    def __len__(self) -> int:
        return self._len

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def get(self, indices: Sequence[int]) -> np.ndarray:
        idx = [int(i) for i in indices]
        if not idx:
            return np.zeros((0, *self._size, 3), np.uint8)
        return np.stack(self.get_list(idx))

    def get_list(self, indices: Sequence[int], *, each: FrameFn | None = None) -> list[np.ndarray]:
        """Like :meth:`get`, one array per frame (no copy into a batch); ``each`` maps every
        frame as it is decoded (only its result is kept)."""
        import cv2

        idx = [int(i) for i in indices]
        got: dict[int, np.ndarray] = {}
        for i in sorted(set(idx)):
            if self.seek_problem is not None and i < self._pos:  # timestamps cannot place frames
                self._cap.release()
                self._cap = cv2.VideoCapture(media_path(self.path))
                self._pos = 0
            elif self.seek_problem is None and (i < self._pos or i - self._pos > self.max_grab_gap):
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, i)
                self._pos = i
            while self._pos < i:
                if not self._cap.grab():
                    raise OSError(f"OpenCV cannot decode frame {self._pos}")
                self._pos += 1
            ok, frame = self._cap.read()
            if not ok:
                raise OSError(f"OpenCV cannot decode frame {i}")
            self._pos = i + 1
            got[i] = _mapped(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), each)
        return [got[i] for i in idx]

    def key_indices(self) -> list[int]:
        """OpenCV does not expose key frames: every frame counts as one."""
        return list(range(self._len))

    def close(self) -> None:
        self._cap.release()


# -- registry ------------------------------------------------------------------------------------

#: Reader classes by backend name (adding a backend is one class and one line here).
READERS: dict[str, Callable[[str], FrameReader]] = {
    "torchcodec": TorchCodecReader,
    "pyav": PyAVReader,
    "decord": DecordReader,
    "opencv": OpenCVReader,
}
#: How a caller reads a video: a few frames anywhere (training clips), the same keeping a
#: window of each (``crops``: tracklet crops, ``decode(window=)``), or every frame in order
#: (tracklet building, caches, copies).
ACCESS_PATTERNS: tuple[str, ...] = ("sparse", "crops", "sequential")

#: The order ``backend="auto"`` tries the readers in, by (access pattern, decode device); the
#: rule and its measurements are in the module docstring.
AUTO_ORDERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("sparse", "cpu"): ("pyav", "torchcodec", "decord", "opencv"),
    ("crops", "cpu"): ("pyav", "torchcodec", "decord", "opencv"),
    ("sequential", "cpu"): ("torchcodec", "pyav", "decord", "opencv"),
    ("sparse", "cuda"): ("torchcodec", "pyav", "decord", "opencv"),
    ("crops", "cuda"): ("torchcodec", "pyav", "decord", "opencv"),
    ("sequential", "cuda"): ("torchcodec", "pyav", "decord", "opencv"),
}
#: The whole-video order (kept for callers that read the constant).
AUTO_ORDER: tuple[str, ...] = AUTO_ORDERS[("sequential", "cpu")]


def backend_names() -> list[str]:
    """Every ``backend=`` value: ``auto`` and each registered reader (for CLI choices)."""
    return ["auto", *READERS]


def _check_access(access: str) -> None:
    if access not in ACCESS_PATTERNS:
        raise MediaError(
            f"unknown access pattern {access!r}", hint=f"use one of {', '.join(ACCESS_PATTERNS)}"
        )


def backend_order(backend: str, access: str = "sparse") -> tuple[str, ...]:
    """Readers a ``backend=`` value tries, in order; MediaError for an unknown name.

    ``auto`` depends on ``access`` (``sparse`` or ``sequential``) and on where torchcodec would
    decode (:func:`decode_device`, read from ``$MF_DECODE_DEVICE``).
    """
    _check_access(access)
    if backend == "auto":
        device = "cuda" if env_decode_device() != "cpu" and decode_device() == "cuda" else "cpu"
        return tuple(n for n in AUTO_ORDERS[(access, device)] if n in READERS)
    if backend in READERS:
        return (backend,)
    raise MediaError(f"unknown video backend {backend!r}", hint=f"use one of {', '.join(backend_names())}")


_fallback_logged: set[str] = set()


def _note_unavailable(name: str, exc: BackendUnavailable) -> None:
    """One log line per process and backend that ``auto`` skips."""
    if name not in _fallback_logged:
        _fallback_logged.add(name)
        log.warning("%s is not usable here (%s); video decoding falls back to the next backend", name, exc)


def _first_line(exc: BaseException) -> str:
    """The useful first line of a decoder's message (without C++ source locations)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"^(\w+, )?\S+\.(cpp|cc|h):\d+[:,]?\s*", "", line) or line


def open_reader(
    path: str | os.PathLike[str], *, backend: str = "auto", access: str = "sparse"
) -> FrameReader:
    """Open a video with the backend's readers in order; MediaError naming the file when none can.

    ``access`` (``sparse``: a few frames anywhere, ``sequential``: every frame in order) picks
    the ``auto`` order (see the module docstring).
    """
    p = str(path)
    order = backend_order(backend, access)
    if not Path(p).is_file():
        raise MediaError(
            "video file not found", where=p, hint="check the video path (video_paths in the split JSON)"
        )
    quiet_native_logs()
    errors: list[str] = []
    for name in order:
        try:
            reader: FrameReader = READERS[name](p)
        except BackendUnavailable as exc:
            if backend != "auto":
                raise MediaError(exc.message, where=p, hint=exc.hint) from None
            _note_unavailable(name, exc)
            continue
        except Exception as exc:  # noqa: BLE001 - a backend may raise anything on a bad file
            errors.append(f"{name}: {_first_line(exc)}")
            continue
        if len(reader) > 0:
            if backend == "auto" and _prefer_torchcodec(reader, order, access):
                try:
                    other = READERS["torchcodec"](p)
                except Exception:  # noqa: BLE001 - keep the PyAV reader
                    return reader
                if len(other) == len(reader):
                    reader.close()
                    return other
                other.close()
            return reader
        reader.close()
        errors.append(f"{name}: no frames")
    raise MediaError(
        f"unreadable video, no backend can open it ({'; '.join(errors) or 'no backend available'})",
        where=p,
        hint=_failure_hint(p, backend, lambda r: len(r) > 0, "reads it"),
    )


def _failure_hint(path: str, backend: str, pyav_ok: Callable[[FrameReader], Any], does: str) -> str:
    """What to do when ``backend`` failed: another backend when PyAV succeeds (``pyav_ok`` on a
    PyAV reader of ``path``: PyAV ``does``), a remux or re-encode for a seek-unsafe stream
    (:func:`seek_fix_hint`), else a new copy of the file."""
    problem = _seek_problem_quiet(path)
    if backend not in ("auto", "pyav"):
        try:
            reader = PyAVReader(path)
            try:
                ok = bool(pyav_ok(reader))
            finally:
                reader.close()
        except Exception:  # noqa: BLE001 - PyAV fails too: the file's fault
            ok = False
        if ok:
            return (
                f"PyAV {does}, so the file is not damaged: {backend} cannot handle it; use "
                "backend='pyav' or 'auto'" + (f", or {seek_fix_hint(problem)}" if problem else "")
            )
    if problem:
        return seek_fix_hint(problem)
    return "the file is probably truncated or corrupt; re-download or re-encode it (H.264 mp4), or drop it"


def _seek_problem_quiet(path: str) -> str | None:
    """:func:`seek_problem` of a file whose first frame decodes; None when it does not open or
    decodes nothing (:func:`_decoder_reorders` takes a stream that does not decode for one the
    decoder reorders, and a truncated file is then no case for a re-encode)."""
    try:
        problem = seek_problem(path)
    except Exception:  # noqa: BLE001 - does not open
        return None
    return problem if problem is None or _first_frame_decodes(path) else None


def _first_frame_decodes(path: str) -> bool:
    """Whether PyAV decodes a frame of the file's first video stream, in decode order."""
    import av

    try:
        with av.open(media_path(path)) as container:
            return next(container.decode(video=0), None) is not None
    except Exception:  # noqa: BLE001 - av.error.*: it does not decode
        return False


def _prefer_torchcodec(reader: FrameReader, order: tuple[str, ...], access: str) -> bool:
    """Sparse access on the CPU: a PyAV reader of a stream without B-frames has no
    non-reference frames to skip, and torchcodec decodes the same frames faster (module docstring)."""
    return (
        access == "sparse"
        and reader.backend == "pyav"
        and not getattr(reader, "has_b_frames", True)
        and "torchcodec" in order[order.index("pyav") + 1 :]
        and torchcodec_problem() is None
    )


#: Readers inherited through fork, kept alive on purpose (see ReaderCache.get).
_INHERITED: list[FrameReader] = []

#: Every reader this process opened and has not freed yet (including unreachable ones the
#: garbage collector has not got to), so that a fork can keep them all (:func:`_pin_for_fork`).
_OPEN: weakref.WeakSet[Any] = weakref.WeakSet()
_PINNED: list[Any] = []


def _track(reader: Any) -> None:
    """Note an open reader: a forked child must never free it (see :func:`_pin_for_fork`)."""
    _OPEN.add(reader)


def _pin_for_fork() -> None:
    """Before ``fork``: hold every reader of this process, even one only garbage holds.

    A decoder's threads do not exist in a forked child, and freeing it there waits for them
    forever (PyAV, OpenCV and decord readers all do, measured): a DataLoader worker whose
    garbage collector met a reader the parent had dropped hung the whole epoch. The child keeps
    these references for its lifetime (:data:`_INHERITED`); the parent lets go right after.
    """
    _PINNED[:] = list(_OPEN)


def _unpin_after_fork() -> None:
    _PINNED.clear()


def _keep_in_child() -> None:
    _INHERITED.extend(_PINNED)
    _PINNED.clear()
    _OPEN.clear()


os.register_at_fork(before=_pin_for_fork, after_in_parent=_unpin_after_fork, after_in_child=_keep_in_child)


class ReaderCache:
    """LRU cache of open readers, private to one process (re-created after fork).

    An evicted reader is closed (its file and decoder are freed at once, not whenever the
    garbage collector gets to them): a reader from :meth:`get` is for use before ``size``
    other videos are asked for, and one cache is not shared between threads that decode."""

    def __init__(self, size: int = DEFAULT_CACHE_SIZE, backend: str = "auto", access: str = "sparse") -> None:
        backend_order(backend, access)  # unknown names fail here, not at the first clip
        self.size = size
        self.backend = backend
        self.access = access
        self._pid = os.getpid()
        self._readers: OrderedDict[str, FrameReader] = OrderedDict()
        self._lock = threading.Lock()
        self.opened = 0
        #: the reader each thread got last (it may be decoding with it), and evicted readers
        #: waiting until no live thread's last one: closing those under a decoding thread would
        #: crash; a thread that has exited decodes no more (its entry is dropped: _busy)
        self._latest: dict[int, tuple[threading.Thread, FrameReader]] = {}
        self._retired: list[FrameReader] = []

    def get(self, path: str | os.PathLike[str]) -> FrameReader:
        key = str(path)
        with self._lock:
            if os.getpid() != self._pid:  # forked: never reuse the parent's decoders
                # ...and never free them either: a decord reader's destructor waits for decoder
                # threads that do not exist in the child and hangs. Keep them referenced.
                _INHERITED.extend([*self._readers.values(), *self._retired])
                self._readers, self._retired, self._latest = OrderedDict(), [], {}
                self._pid = os.getpid()
                self.opened = 0
            reader = self._readers.get(key)
            if reader is not None:
                self._readers.move_to_end(key)
                self._latest[threading.get_ident()] = (threading.current_thread(), reader)
                return reader
        reader = open_reader(key, backend=self.backend, access=self.access)
        with self._lock:
            self.opened += 1
            self._readers[key] = reader
            self._latest[threading.get_ident()] = (threading.current_thread(), reader)
            while len(self._readers) > self.size:
                self._retired.append(self._readers.popitem(last=False)[1])
            done = self._closable()
        for old in done:  # opened in this process (a forked child starts empty, above)
            _close_quietly(old)
        return reader

    def _closable(self) -> list[FrameReader]:
        """Retired readers no thread got last (under the lock): taken off the retired list."""
        busy = self._busy()
        if not self._retired:
            return []
        done = [r for r in self._retired if id(r) not in busy]
        self._retired = [r for r in self._retired if id(r) in busy]
        return done

    def clear(self) -> None:
        """Drop every reader; those no other thread got last are closed."""
        with self._lock:
            readers = [*self._readers.values(), *self._retired]
            self._readers, self._retired = OrderedDict(), []
            if os.getpid() != self._pid:
                _INHERITED.extend(readers)
                return
            self._latest.pop(threading.get_ident(), None)
            busy = self._busy()
            self._retired = [r for r in readers if id(r) in busy]
        for reader in readers:
            if id(reader) not in busy:
                _close_quietly(reader)

    def _busy(self) -> set[int]:
        """The ids of the readers a live thread got last (under the lock); the entries of
        threads that have exited are dropped, so that their last readers can be closed."""
        for ident, (thread, _) in list(self._latest.items()):
            if not thread.is_alive():
                del self._latest[ident]
        return {id(reader) for _, reader in self._latest.values()}

    def __getstate__(self) -> dict[str, Any]:  # pickled into spawn workers without open readers
        return {"size": self.size, "backend": self.backend, "access": self.access}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["size"], state["backend"], state.get("access", "sparse"))


def _close_quietly(reader: FrameReader) -> None:
    try:
        reader.close()
    except Exception:  # noqa: BLE001 - a reader that cannot close holds nothing more
        log.debug("closing the %s reader of %s failed", reader.backend, reader.path, exc_info=True)


_DEFAULT_CACHES: dict[str, ReaderCache] = {}


def default_cache(backend: str = "auto") -> ReaderCache:
    """The process-wide reader cache of a backend."""
    cache = _DEFAULT_CACHES.get(backend)
    if cache is None:
        cache = _DEFAULT_CACHES[backend] = ReaderCache(backend=backend)
    return cache


def decode(
    reader: FrameReader,
    indices: Sequence[int],
    *,
    backend: str = "auto",
    access: str = "sparse",
    as_list: bool = False,
    size: tuple[int, int] | None = None,
    window: Window | None = None,
) -> np.ndarray | list[np.ndarray]:
    """``reader.get(indices)`` with the indices checked and failures as MediaError naming the file.

    When the reader opened the file but cannot decode these frames, the backends after it in
    ``backend``'s order get one try each (``auto`` only); one is used only when it counts the
    same frames of the same displayed size (else its frame ``i`` is not this reader's frame
    ``i``), and what it returns is checked. ``as_list=True`` returns one array per
    frame instead of one stacked array (a reader that decodes frame by frame then never copies
    full frames into a batch: what a caller that crops each frame wants). ``size`` =
    ``(height, width)`` shrinks every frame as it is decoded (INTER_AREA): at most
    :data:`SHRINK_CHUNK` full-size frames are held at once, whatever the number asked.
    ``window`` (:data:`Window`; not with ``size``) keeps only those pixels of each frame and
    returns a list: the PyAV reader converts only the window to RGB (the same bytes, see
    :data:`WINDOW_FORMATS`), other readers cut it from the whole frame.
    """
    if window is not None and size is not None:
        raise ValueError("decode: window and size cannot be combined")
    idx = [int(i) for i in indices]
    n = len(reader)
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise MediaError(
            f"frame index {bad[0]} outside the video's {n} frames",
            where=reader.path,
            hint="the tracklet or sampler refers to frames the file does not have",
        )
    try:
        if window is not None:
            if isinstance(reader, PyAVReader):
                return reader.get_list(idx, window=window)
            return _windowed(_get(reader, idx, True), idx, window)
        return _get(reader, idx, as_list, size)
    except Exception as exc:  # noqa: BLE001 - decoders raise their own error types
        errors = [f"{reader.backend}: {_first_line(exc)}"]
    order = backend_order(backend, access)
    for name in order[order.index(reader.backend) + 1 :] if reader.backend in order else ():
        other: FrameReader | None = None
        try:
            other = READERS[name](reader.path)
            if len(other) != n:
                errors.append(f"{name}: counts {len(other)} frames, {reader.backend} {n}")
                continue
            size = _size_or_none(reader)
            if size is not None and tuple(other.size) != tuple(size):
                errors.append(f"{name}: frames of {other.size}, {reader.backend} {size} (height, width)")
                continue
            got = _get(other, idx, as_list, size)
            shapes = {tuple(f.shape) for f in got}
            if len(got) != len(idx) or shapes != {(*(size or other.size), 3)}:
                errors.append(f"{name}: returned {len(got)} frames of shapes {sorted(shapes)}")
                continue
            return got if window is None else _windowed(got, idx, window)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{name}: {_first_line(exc)}")
        finally:
            if other is not None:
                other.close()
    shown = ", ".join(str(i) for i in idx[:5]) + (", ..." if len(idx) > 5 else "")
    raise MediaError(
        f"cannot decode frames [{shown}] ({'; '.join(errors)})",
        where=reader.path,
        hint=_failure_hint(
            reader.path, backend, lambda r: len(r.get(idx)) == len(idx), "decodes these frames"
        ),
    )


def _size_or_none(reader: FrameReader) -> tuple[int, int] | None:
    try:
        return reader.size
    except Exception:  # noqa: BLE001 - a reader that cannot tell
        return None


def _get(
    reader: FrameReader, idx: list[int], as_list: bool, size: tuple[int, int] | None = None
) -> np.ndarray | list[np.ndarray]:
    if size is not None:
        small = _get_shrunk(reader, idx, size)
        if as_list:
            return small
        return np.stack(small) if small else np.zeros((0, int(size[0]), int(size[1]), 3), np.uint8)
    if not as_list:
        return reader.get(idx)
    get_list = getattr(reader, "get_list", None)
    return get_list(idx) if get_list is not None else list(reader.get(idx))


def _get_shrunk(reader: FrameReader, idx: list[int], size: tuple[int, int]) -> list[np.ndarray]:
    """``idx`` shrunk to ``size``, each frame as it is decoded (or :data:`SHRINK_CHUNK` at a time)."""
    each = functools.partial(_shrink, size=size)
    if isinstance(reader, PyAVReader | OpenCVReader | TorchCodecReader):
        return reader.get_list(idx, each=each)
    uniq = sorted(set(idx))
    got: dict[int, np.ndarray] = {}
    for k in range(0, len(uniq), SHRINK_CHUNK):
        part = uniq[k : k + SHRINK_CHUNK]
        for i, frame in zip(part, reader.get(part), strict=True):
            got[i] = each(frame)
    return [got[i] for i in idx]


def read_frames(
    path: str | os.PathLike[str],
    indices: Sequence[int],
    *,
    cache: ReaderCache | None = None,
    backend: str = "auto",
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode exactly ``indices`` of one video: uint8 RGB ``[T, H, W, 3]`` in the order asked.

    ``cache`` keeps the reader open for the next call (default: the process-wide cache of
    ``backend``); ``size`` = ``(height, width)`` resizes the frames (INTER_AREA). Raises
    :class:`MediaError` naming the video when it cannot be opened, when an index is outside
    ``[0, len)`` or when decoding fails. With ``size``, each frame is shrunk as it is decoded:
    memory holds the small frames and at most :data:`SHRINK_CHUNK` full-size ones.
    """
    cache = cache or default_cache(backend)
    reader = cache.get(path)
    return decode(reader, indices, backend=cache.backend, access=cache.access, size=size)


def read_video(path: str | os.PathLike[str], *, backend: str = "auto") -> np.ndarray:
    """Every frame of a video, uint8 RGB ``[T, H, W, 3]`` (opened, decoded and closed here)."""
    reader = open_reader(path, backend=backend, access="sequential")
    try:
        return decode(reader, range(len(reader)), backend=backend, access="sequential")
    finally:
        reader.close()


def _shrink(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One uint8 RGB frame resized to ``size`` = ``(height, width)`` (INTER_AREA; as is when equal)."""
    import cv2

    h, w = int(size[0]), int(size[1])
    if frame.shape[:2] == (h, w):
        return frame
    return cv2.resize(np.ascontiguousarray(frame), (w, h), interpolation=cv2.INTER_AREA)
