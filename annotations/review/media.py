"""Files the review page may read: dataset media resolved safely, byte ranges, crop strips."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from schemas.errors import MediaError
from schemas.paths import PathEscapeError, UnsafePathValue, check_relpath, media_path, resolve_under

#: dataset folders the page may read media from: the archive's videos/ and imgs/, plus the
#: shop/ and view folders of layouts published before the archive's
MEDIA_DIRS = ("videos", "imgs", "shop", "front", "rear", "fabric")
#: every type the collectors accept (collectors.checks), so a held-back item's collected files
#: show too: QuickTime and M4V are MP4's family (browsers play their H.264 as video/mp4); what a
#: browser cannot play (AVI, some Matroska) gets the page's "cannot play" explanation
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/mp4",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


class Refused(Exception):
    """A request for a path outside what the page may read."""


def resolve_media(root: Path, raw: str) -> Path:
    """The file a ``/media/<raw>`` request names, inside ``root``'s media folders.

    ``raw`` is the still percent-encoded rest of the URL path. Refused (:class:`Refused`): any
    path that is not canonical once decoded (``..`` or ``.`` parts, also percent-encoded,
    absolute paths, backslashes, NUL: ``schemas.paths.check_relpath``), folders other than
    :data:`MEDIA_DIRS`, unknown file types, and anything that resolves outside the dataset,
    symlinks followed (``schemas.paths.resolve_under``): a linked media folder or file whose
    target lies elsewhere is refused too (publish never links media). A missing file is
    FileNotFoundError.
    """
    try:
        rel = check_relpath(unquote(raw, errors="strict"), what="media path")
    except (UnicodeDecodeError, UnsafePathValue):
        raise Refused(raw) from None
    folder, _, rest = rel.partition("/")
    if folder not in MEDIA_DIRS or not rest or PurePosixPath(rest).suffix.lower() not in CONTENT_TYPES:
        raise Refused(raw)
    try:
        path = resolve_under(root, rel, what="media path", follow_symlinks=True)
    except PathEscapeError:
        raise Refused(raw) from None
    if not path.is_file():
        raise FileNotFoundError(rel)
    return path


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive of a single ``bytes=`` range, None for the whole file.

    Raises ValueError for a range that cannot be satisfied (the server answers 416).
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        raise ValueError(header)
    a, _, b = spec.strip().partition("-")
    if a == "":
        n = int(b)
        if n <= 0:
            raise ValueError(header)
        start, end = max(0, size - n), size - 1
    else:
        start = int(a)
        end = int(b) if b else size - 1
    end = min(end, size - 1)
    if start < 0 or start > end or start >= size:
        raise ValueError(header)
    return start, end


def video_fps(path: str | os.PathLike[str]) -> float:
    """Frames per second of a video (``movingfashion.media.probe``), 0.0 when it cannot be read."""
    from movingfashion.media.probe import probe_video

    try:
        return float(probe_video(path).fps or 0.0)
    except MediaError:
        return 0.0


@dataclass(frozen=True)
class VideoTiming:
    """When each frame is shown and the pixel shape, for the page to place frames and boxes.

    ``frame_times``: presentation time (seconds) of each frame in display order, the index the
    readers and tracklet files use; None when the frames sit at ``i / fps`` (constant rate: the
    page steps by the rate). ``sar``: the sample aspect ratio (width of a stored pixel over its
    height; 1.0 for square pixels): the browser shows the video ``sar`` times wider than stored.
    """

    frame_times: list[float] | None
    sar: float


def video_timing(path: str | os.PathLike[str], fps: float) -> VideoTiming:
    """The :class:`VideoTiming` of a video's first video stream, read from its packets (no
    decoding); square pixels and no times when it cannot be read."""
    import av

    try:
        with av.open(media_path(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base or 0)
            sar = stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio
            pts = sorted(
                int(p.pts)
                for p in container.demux(stream)
                if p.pts is not None and p.size and not p.is_discard
            )  # a packet flagged discard (edit list) is no frame, as for the readers
    except (av.FFmpegError, OSError, IndexError):
        return VideoTiming(None, 1.0)
    ratio = float(sar) if sar and float(sar) > 0 else 1.0
    times = [round(t * tb, 6) for t in pts]
    if not tb or not times:
        return VideoTiming(None, ratio)
    if fps > 0 and all(abs(t - i / fps) < 0.25 / fps for i, t in enumerate(times)):
        return VideoTiming(None, ratio)  # constant rate from 0: i / fps places every frame
    return VideoTiming(times, ratio)


def crop_strip(
    video: str | os.PathLike[str],
    boxes: dict[int, list[float]],
    n: int = 10,
    height: int = 96,
    sar: float = 1.0,
) -> bytes:
    """A JPEG of up to ``n`` crops of a tracklet, evenly spread over its frames, side by side.

    ``boxes`` are in stored pixels; ``sar`` (a stored pixel's width over its height) widens
    each crop to the shape the video is shown in.

    Safe to call from several threads at once (each call opens its own decoder).
    """
    import cv2
    import numpy as np

    from movingfashion.media.images import encode_image
    from movingfashion.media.readers import ReaderCache, read_frames

    frames = sorted(boxes)
    if not frames:
        raise MediaError("the tracklet has no boxes", where=str(video))
    pick = sorted({frames[int(i)] for i in np.linspace(0, len(frames) - 1, min(n, len(frames)))})
    # a reader of its own: decoders are not thread-safe, and the server answers in threads
    cache = ReaderCache(size=1)
    try:
        images = read_frames(video, pick, cache=cache)
    finally:
        cache.clear()
    cells = []
    for img, f in zip(images, pick, strict=True):
        h, w = img.shape[:2]
        x1, y1, x2, y2 = boxes[f]
        x1, y1 = max(0, int(x1)), max(0, int(y1))
        x2, y2 = min(w, max(x1 + 1, int(round(x2)))), min(h, max(y1 + 1, int(round(y2))))
        crop = img[y1:y2, x1:x2] if x2 > x1 and y2 > y1 else np.zeros((height, height // 2, 3), np.uint8)
        cw = max(1, int(round(crop.shape[1] * sar * height / max(1, crop.shape[0]))))
        cells.append(cv2.resize(crop, (min(cw, 3 * height), height), interpolation=cv2.INTER_AREA))
        cells.append(np.full((height, 4, 3), 255, np.uint8))
    return encode_image(np.concatenate(cells[:-1], axis=1), ".jpg", quality=85)
