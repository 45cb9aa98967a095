"""Probe a video or image file: what it is and whether it decodes.

:func:`probe_video` opens the container with PyAV (the reference decoder, always installed),
decodes its first frame and reports the frame count the container declares, frame rate, size
(as displayed: a rotation tag applied, as every reader does), codec and duration (of a
container without a frame count, such as Matroska or WebM, the packets are counted, the rate comes from the
timestamps when the nominal one does not fit them (variable frame rate), and a file whose packets
stop short of the duration its header declares declares the frames of that duration); with ``count_decodable=True`` also how many frames really decode (the
declared count when the first, middle and last frames decode, otherwise a sequential count),
which is how truncated downloads are caught; :func:`whole_frames` counts the frames whose data
is all in the file (a file cut short holds fewer than it declares). :func:`probe_image` decodes
an image.
Bad files raise :class:`~schemas.errors.MediaError` naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from movingfashion.media.logs import quiet_native_logs
from movingfashion.media.readers import _turns, _vfr_rate
from schemas.errors import MediaError
from schemas.official import frame_count_problem
from schemas.paths import media_path


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found (``decodable`` only when counted)."""

    path: str
    frames: int  #: frames the container declares (its packets when the header has no count)
    fps: float
    width: int
    height: int
    codec: str | None
    decodable: int | None = None
    pix_fmt: str | None = None  #: the decoder's pixel format (``yuv420p``, ``yuv420p10le``...)

    @property
    def duration_s(self) -> float:
        """Duration of the declared frames at ``fps`` (0 when the rate is unknown)."""
        return self.frames / self.fps if self.fps > 0 else 0.0

    @property
    def frames_problem(self) -> str | None:
        """What is wrong with the frame count the header declares, worded with its field (None:
        nothing): more than any video has (:func:`schemas.official.frame_count_problem`), a
        header forged or damaged that no tracklet file or catalog row can hold."""
        problem = frame_count_problem(self.frames)
        return None if problem is None else f"frames (the count its header declares): {problem}"


@dataclass(frozen=True)
class ImageInfo:
    path: str
    width: int
    height: int


def probe_video(path: str | os.PathLike[str], *, count_decodable: bool = False) -> VideoInfo:
    """Open a video, decode its first frame and describe it; MediaError when it does not open."""
    import av

    p = Path(path)
    if not p.is_file():
        raise MediaError("video file not found", where=str(p))
    if p.stat().st_size == 0:
        raise MediaError("empty file", where=str(p), hint="re-download it")
    quiet_native_logs()
    try:
        with av.open(media_path(p)) as container:
            if not container.streams.video:
                raise MediaError("no video stream", where=str(p), hint="the file is not a video")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            declared = int(stream.frames or 0)
            rate = stream.average_rate or stream.guessed_rate
            # the codec's name (av1), not the decoder's (libdav1d)
            codec = stream.codec_context.codec.canonical_name or stream.codec_context.name or None
            pix_fmt = stream.codec_context.pix_fmt or None
            fps = float(rate) if rate else 0.0
            first = next(iter(container.decode(stream)), None)
            if declared <= 0:  # no count in the header (Matroska, WebM): count the packets
                container.seek(0)
                start, end = None, None
                for pkt in container.demux(stream):
                    if not pkt.size:
                        continue
                    declared += 1
                    if pkt.pts is not None:
                        t = int(pkt.pts)
                        start = t if start is None else min(start, t)
                        end = max(end or t, t + int(pkt.duration or 0))
                if start is not None and end is not None and stream.time_base:
                    span = float((end - start) * stream.time_base)
                    cut = _frames_of_declared_duration(
                        container, stream, span, fps or declared / max(span, 1e-3)
                    )
                    if cut > declared:  # cut short: its timestamps do not tell the rate
                        declared = cut
                    else:
                        fps = _vfr_rate(fps, declared, span)
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - av.error.* and OSError for damaged containers
        raise MediaError(
            f"the video does not open ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
            where=str(p),
            hint="the file is damaged, truncated or not a video",
        ) from None
    if first is None:
        raise MediaError("no decodable frame", where=str(p), hint="the file is empty or damaged")
    w, h = int(first.width), int(first.height)
    if _turns(first) in (1, 3):  # shown turned a quarter: the readers return it that way
        w, h = h, w
    info = VideoInfo(
        path=str(p),
        frames=declared,
        fps=fps,
        width=w,
        height=h,
        codec=codec,
        pix_fmt=first.format.name or pix_fmt,
    )
    if count_decodable:
        info = VideoInfo(**{**info.__dict__, "decodable": decodable_frames(p, declared)})
    return info


def _declared_seconds(container: Any, stream: Any) -> float | None:
    """How long the header says the video stream is: its own ``DURATION`` tag (Matroska and WebM
    muxers write one per track), else the container's duration when the video is its only
    stream; None when neither is known (a live-written file)."""
    tag = str(stream.metadata.get("DURATION", "")).strip()
    match = re.fullmatch(r"(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)", tag)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if len(container.streams) == 1 and container.duration:
        return float(container.duration) / 1_000_000
    return None


def _frames_of_declared_duration(container: Any, stream: Any, span_s: float, fps: float) -> int:
    """For a container without a frame count: the frames its declared duration holds when the
    packets stop short of it by more than two frames (a file cut short), else 0. Lets the
    truncation checks catch a Matroska or WebM download that ended early."""
    expected = _declared_seconds(container, stream)
    if not expected or fps <= 0 or span_s >= expected - 2.0 / fps - 0.05:
        return 0
    return round(expected * fps)


def decodable_frames(path: str | os.PathLike[str], declared: int) -> int:
    """``declared`` when every frame's packet is wholly in the file (:func:`whole_frames`) and
    the first, middle and last frames decode, else a sequential count. The packet count matters:
    the reader stops at the last wanted frame's packet, so a cut-off packet after it in decode
    order (a B-frame shown before the last frame) would not be seen by decoding alone."""
    from movingfashion.media.readers import open_reader

    if whole_frames(path) < declared:
        return count_decodable_frames(path)
    try:
        reader = open_reader(path, backend="pyav")
        try:
            if len(reader) >= declared and len(reader.get(sorted({0, declared // 2, max(declared - 1, 0)}))):
                return declared
        finally:
            reader.close()
    except Exception:  # noqa: BLE001 - any decoder failure: count frame by frame
        pass
    return count_decodable_frames(path)


def whole_frames(path: str | os.PathLike[str]) -> int:
    """How many frames of the first video stream are wholly in the file: its packets are read,
    not decoded (a packet the end of the file cut off is flagged corrupt by the demuxer and not
    counted); 0 when the file does not open. Tells a file cut short (fewer than it declares)
    from a whole one whose decoder drops frames by design (an edit list)."""
    import av

    quiet_native_logs()
    n = 0
    try:
        with av.open(media_path(path)) as container:
            for pkt in container.demux(container.streams.video[0]):
                n += bool(pkt.size) and not pkt.is_corrupt
    except Exception:  # noqa: BLE001 - av.error.*, OSError: what was read so far counts
        pass
    return n


def video_stream_digest(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of the first video stream's coded pictures: its codec, its extradata (the
    parameter sets) and every packet's bytes, read, not decoded. Equal for two files that hold one
    stream in different containers or with other metadata (a stream copy into ``.mov``, a
    rotation tag added or dropped), which their file hashes tell apart; None when the file does
    not open or has no video."""
    import hashlib

    import av

    quiet_native_logs()
    digest = hashlib.sha256()
    try:
        with av.open(media_path(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            digest.update(f"{stream.codec_context.name}\0".encode())
            digest.update(bytes(stream.codec_context.extradata or b""))
            for pkt in container.demux(stream):
                if pkt.size:
                    digest.update(pkt.size.to_bytes(8, "little"))
                    digest.update(bytes(pkt))
    except Exception:  # noqa: BLE001 - av.error.*, OSError: no digest (dedup decides on pixels)
        return None
    return digest.hexdigest()


def count_decodable_frames(path: str | os.PathLike[str]) -> int:
    """Decode the video from the start and count frames until the first failure (slow, exact)."""
    import av

    quiet_native_logs()
    n = 0
    try:
        with av.open(media_path(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for _ in container.decode(stream):
                n += 1
    except Exception:  # noqa: BLE001 - the damaged part ends the count
        pass
    return n


def probe_image(path: str | os.PathLike[str]) -> ImageInfo:
    """Decode an image and give its size; MediaError naming the file when it does not decode."""
    from movingfashion.media.images import read_image

    h, w = read_image(path).shape[:2]
    return ImageInfo(path=str(path), width=int(w), height=int(h))
