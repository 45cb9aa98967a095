"""Probe media files: does it decode, how many frames, fps, size, duration, codec.

A video is rejected (``ProbeResult.ok`` False, ``reason`` says why) when it is corrupt (does not
open), truncated (frames the container declares cannot be decoded and their data is not in the
file: a whole file whose edit list hides frames is valid, its shown frames counted, as the
collector and ``mf verify`` decide), has zero frames, is too short or too small. Thresholds come from :class:`cleaning.config.ProbeConfig`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cleaning.config import ProbeConfig
from movingfashion.media import probe as media_probe
from movingfashion.media.images import ImageTooLarge
from schemas.errors import MediaError
from schemas.items import ImageProbe, VideoProbe


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of probing one file: ``probe`` when it decoded, ``reason`` when it is rejected."""

    ok: bool
    probe: VideoProbe | ImageProbe | None = None
    reason: str | None = None


def _not_a_file(p: Path) -> str | None:
    """Why ``p`` cannot be probed as a media file (None: it is a file): nothing there
    (``missing:``, which a worker that cannot see the file retries in the parent), or a folder or
    other non-file there (``not_a_file:``, naming the path and what to pass instead)."""
    if p.is_file():
        return None
    if p.is_dir():
        return f"not_a_file: {p} is a folder, not a media file: name the video or image file inside it"
    if p.exists():
        return f"not_a_file: {p} is not a regular file (a pipe, socket or device): copy the media to a file"
    return f"missing: file not found: {p}"


def probe_video(path: str | os.PathLike[str], cfg: ProbeConfig | None = None) -> ProbeResult:
    """Probe a video file; never raises for bad media, returns a rejection reason instead."""
    cfg = cfg or ProbeConfig()
    p = Path(path)
    if (reason := _not_a_file(p)) is not None:
        return ProbeResult(False, reason=reason)
    if p.stat().st_size == 0:
        return ProbeResult(False, reason="corrupt: empty file")
    try:
        info = media_probe.probe_video(p, count_decodable=True)
    except MediaError:
        return ProbeResult(False, reason="corrupt: the video does not open (damaged or truncated file)")
    declared, frames = info.frames, info.decodable or 0
    if frames == 0:
        return ProbeResult(False, reason="zero_frames: no decodable frame")
    if frames < declared * (1 - cfg.frame_count_tolerance) and media_probe.whole_frames(p) < declared:
        return ProbeResult(False, reason=f"truncated: {frames} of {declared} declared frames decode")
    duration = frames / info.fps if info.fps > 0 else 0.0
    width, height = info.width, info.height
    probe = VideoProbe(
        frames=frames,
        fps=round(info.fps, 4),
        width=width,
        height=height,
        duration_s=round(duration, 4),
        codec=info.codec,
        pix_fmt=info.pix_fmt,
    )
    if frames < cfg.min_frames:
        return ProbeResult(False, probe, f"too_short: {frames} frames < {cfg.min_frames}")
    if duration < cfg.min_duration_s:
        return ProbeResult(False, probe, f"too_short: {duration:.2f} s < {cfg.min_duration_s} s")
    if min(width, height) < cfg.min_video_side:
        return ProbeResult(False, probe, f"too_small: {width}x{height} < {cfg.min_video_side} px")
    if frames > cfg.max_frames:
        return ProbeResult(False, probe, f"too_long: {frames} frames > {cfg.max_frames} (probe.max_frames)")
    if duration > cfg.max_duration_s:
        return ProbeResult(
            False, probe, f"too_long: {duration:.1f} s > {cfg.max_duration_s:g} s (probe.max_duration_s)"
        )
    if width * height > cfg.max_video_pixels:
        return ProbeResult(
            False,
            probe,
            f"too_large: {width}x{height} = {width * height} pixels > {cfg.max_video_pixels} (probe.max_video_pixels)",
        )
    return ProbeResult(True, probe)


def probe_image(path: str | os.PathLike[str], cfg: ProbeConfig | None = None) -> ProbeResult:
    """Probe an image file: decodes and is at least ``min_image_side`` on both sides."""
    cfg = cfg or ProbeConfig()
    p = Path(path)
    if (reason := _not_a_file(p)) is not None:
        return ProbeResult(False, reason=reason)
    try:
        info = media_probe.probe_image(p)
    except ImageTooLarge as exc:
        return ProbeResult(False, reason=f"too_large: {exc.message}")
    except MediaError:
        return ProbeResult(False, reason="corrupt: the image does not decode")
    w, h = info.width, info.height
    probe = ImageProbe(width=w, height=h)
    if min(w, h) < cfg.min_image_side:
        return ProbeResult(False, probe, f"too_small: {w}x{h} < {cfg.min_image_side} px")
    return ProbeResult(True, probe)
