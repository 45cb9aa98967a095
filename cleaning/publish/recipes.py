"""How publish makes each media file from its collected file: copied as it is, or re-encoded
(image format, H.264 video, crop, even frame size)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from movingfashion.media.images import image_file_format
from schemas.items import MediaAsset, VideoProbe


def _image_format(path: Path) -> str | None:
    """'jpeg' or 'png' by the file's magic bytes, else None."""
    return {"jpg": "jpeg", "png": "png"}.get(image_file_format(path) or "")


#: collected video files published byte for byte when their codec is H.264: the archive's
#: ``.mp4`` names promise MP4 (or its QuickTime parent) with H.264, what browsers play
_COPY_CONTAINERS = (".mp4", ".m4v", ".mov")

#: ... and their pixels 8-bit 4:2:0 (High 10 and High 4:4:4 do not play in browsers); None: not
#: recorded (a record made by hand)
_COPY_PIX_FMTS = (None, "yuv420p", "yuvj420p")


def _video_recipe(v: MediaAsset) -> str:
    """How publish makes a video from its collected file: 'copy' (an 8-bit 4:2:0 H.264 MP4/MOV
    file), 'crop:x1,y1,x2,y2' (split screen, re-encoded) or 'h264' (any other container, codec or
    pixel format: WebM, AVI, MPEG-TS, HEVC, VP9, 10-bit or 4:4:4 H.264, which browsers do not
    play... re-encoded to 8-bit yuv420p H.264 MP4). A probe without a codec or pixel format
    (records made by hand) counts as H.264 yuv420p."""
    if v.crop is not None:
        return "crop:" + ",".join(f"{x:g}" for x in v.crop.box)
    probe = v.probe if isinstance(v.probe, VideoProbe) else None
    codec = probe.codec if probe else None
    pix_fmt = probe.pix_fmt if probe else None
    suffix = PurePosixPath(v.path or "").suffix.lower()
    plain = codec in (None, "h264") and pix_fmt in _COPY_PIX_FMTS
    return "copy" if suffix in _COPY_CONTAINERS and plain else "h264"


def _even_scale(v: MediaAsset) -> tuple[int, int] | None:
    """The even frame size an 'h264' re-encode of ``v`` scales to (yuv420p needs one), or None
    when the probe's size is already even (or unknown)."""
    p = v.probe
    if not isinstance(p, VideoProbe) or not p.width or not p.height:
        return None
    w, h = p.width // 2 * 2, p.height // 2 * 2
    return None if (w, h) == (p.width, p.height) else (max(2, w), max(2, h))
