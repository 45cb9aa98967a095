"""Video fingerprints: perceptual hashes of views of frames sampled at a fixed time step.

Frames are decoded small (:data:`DECODE_WIDTH`), the letterbox/pillarbox bars of the whole clip
are found once (:func:`cleaning.borders.content_box`), and every sampled frame gets the hash of
its content box, of the mirrored box, of the box turned 1, 2 and 3 quarter turns and of those
turns mirrored (from the same DCT coefficients: :func:`cleaning.phash.turned_hashes` and
:func:`cleaning.phash.mirrored_turned_hashes`, no new DCT) and of its top and bottom parts.
Up to ``cfg.query_frames``
samples also get the hashes of a grid of smaller windows (:func:`cleaning.views.window_grid`) and
of the windows a crop to fill another aspect keeps (:func:`cleaning.views.fill_windows`): those
are what a cropped or zoomed copy matches. A blurred fill around the picture is cut off like bars
(:func:`cleaning.borders.blurred_fill_box`).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from cleaning.borders import blurred_fill_box, content_box
from cleaning.config import DedupConfig
from cleaning.phash import dct_coefficients, mirrored_turned_hashes, normalise, turned_hashes
from cleaning.views import (
    FULL,
    Window,
    fill_windows,
    hash_windows,
    integral,
    part_windows,
    window_cells,
    window_grid,
)
from movingfashion.media.readers import read_frames

#: frames are decoded with their shorter side (the width of a portrait or square frame) at this
#: many pixels, aspect kept, before hashing; hashing needs only 32x32
DECODE_WIDTH = 128


def sample_times(frames: int, fps: float, step_s: float, max_frames: int) -> list[int]:
    """Frame indices at t = 0, step, 2*step, ... (at most ``max_frames``, all < ``frames``)."""
    if frames <= 0:
        return []
    fps = fps if fps > 0 else 30.0
    n = int((frames - 1) / fps / step_s) + 1
    idx = [min(frames - 1, round(k * step_s * fps)) for k in range(min(n, max_frames))]
    return sorted(set(idx))


def decode_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) at which a video of ``width`` x ``height`` is decoded for fingerprints (even sides).

    The shorter side gets :data:`DECODE_WIDTH` pixels (or its own, if fewer). A landscape frame
    was decoded by its width before, which left a portrait clip re-posted in a 16:9 frame (bars
    of a third of the width each side) 40-60 pixels wide: too few to verify it by.
    """
    if width and height and width > height:
        h = min(DECODE_WIDTH, height)
        w = max(8, round(width * h / height))
        return w - w % 2, h - h % 2
    w = min(DECODE_WIDTH, width) if width else DECODE_WIDTH
    h = max(8, round(height * w / width)) if width else DECODE_WIDTH
    return w - w % 2, h - h % 2


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).astype("<u8").tobytes()).decode("ascii")


def _unb64(s: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<u8").astype(np.uint64).reshape(shape)


def _empty(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.uint64)


@dataclass
class VideoFingerprint:
    """Hashes of one video's sampled frames (see the module docstring)."""

    hashes: np.ndarray  # uint64 [T]: the content box of every sample
    times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # frame index of each sample
    mirrored: np.ndarray = field(default_factory=lambda: _empty(0))  # uint64 [T] or [0] (not computed)
    #: uint64 [T, 3]: the content box turned 1, 2, 3 quarter turns counter-clockwise, or [0, 3]
    turned: np.ndarray = field(default_factory=lambda: _empty(0, 3))
    #: uint64 [T, 3]: those turns mirrored left-right (``np.fliplr(np.rot90(box, k))``), or [0, 3]
    mirror_turned: np.ndarray = field(default_factory=lambda: _empty(0, 3))
    parts: np.ndarray = field(default_factory=lambda: _empty(0, 2))  # uint64 [T, 2] top/bottom, or [0, 2]
    query: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # samples with window views
    #: uint64 [Q, K]: window_grid's windows, then :attr:`fills`
    views: np.ndarray = field(default_factory=lambda: _empty(0, 1))
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # content box, fractions of the frame
    #: the crop-to-fill windows of this video's box (:func:`cleaning.views.fill_windows`), hashed
    #: after the grid's in :attr:`views`
    fills: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        self.hashes = np.asarray(self.hashes, dtype=np.uint64).reshape(-1)
        if len(self.times) != len(self.hashes):
            self.times = np.arange(len(self.hashes), dtype=np.int64)
        if len(self.query) == 0 and len(self.hashes):  # hashes only: the box is the one window
            self.query = np.arange(len(self.hashes), dtype=np.int64)
            self.views = self.hashes[:, None].copy()

    def __len__(self) -> int:
        return len(self.hashes)

    def to_json(self) -> dict:
        """A JSON-able dict (arrays as base64 of little-endian uint64)."""
        return {
            "t": [int(x) for x in self.times],
            "h": _b64(self.hashes),
            "m": _b64(self.mirrored),
            "r": _b64(self.turned),
            "mr": _b64(self.mirror_turned),
            "p": _b64(self.parts),
            "q": [int(x) for x in self.query],
            "v": _b64(self.views),
            "k": int(self.views.shape[1]),
            "box": [round(float(x), 5) for x in self.box],
            "fw": [[float(x) for x in w] for w in self.fills],
        }

    @classmethod
    def from_json(cls, d: dict) -> VideoFingerprint:
        t, q, k = len(d["t"]), len(d["q"]), int(d["k"])
        m = _unb64(d["m"], (-1,))
        return cls(
            hashes=_unb64(d["h"], (t,)),
            times=np.array(d["t"], np.int64),
            mirrored=m,
            turned=_unb64(d["r"], (-1, 3)),
            mirror_turned=_unb64(d.get("mr", ""), (-1, 3)),  # none kept by an older release
            parts=_unb64(d["p"], (-1, 2)),
            query=np.array(d["q"], np.int64),
            views=_unb64(d["v"], (q, k)),
            box=tuple(float(x) for x in d["box"]),  # type: ignore[arg-type]
            fills=tuple(Window(*map(float, w)) for w in d.get("fw", [])),  # none kept by an older release
        )


def fingerprint_frames(
    grey: np.ndarray, times: list[int] | np.ndarray, cfg: DedupConfig | None = None
) -> VideoFingerprint:
    """Fingerprint of grey frames ``[T, H, W]`` sampled at frame indices ``times``."""
    cfg = cfg or DedupConfig()
    grey = np.asarray(grey)
    if len(grey) == 0:
        return VideoFingerprint(_empty(0))
    h, w = grey.shape[1:3]
    box = (
        content_box(
            grey,
            max_paired_trim=cfg.max_paired_bar,
            max_lone_trim=cfg.max_lone_bar,
            lone_max_detail=cfg.lone_bar_max_spread,
            lone_min_seam=cfg.lone_bar_min_seam,
            lone_min_edge=cfg.lone_bar_min_edge,
            lone_check_from=cfg.lone_bar_check_from,
        )
        if cfg.trim_bars
        else (0, 0, w, h)
    )
    if cfg.trim_bars and cfg.strip_blurred_fill:
        box = blurred_fill_box(
            grey,
            box,
            max_detail=cfg.fill_max_detail,
            min_seam=cfg.fill_min_seam,
            min_copy=cfg.fill_min_copy,
        )
    fills = tuple(
        fill_windows((box[2] - box[0]) / (box[3] - box[1]), cfg.fill_aspects, cfg.fill_step, cfg.fill_span)
    )
    sat = integral(grey)
    full = hash_windows(grey, box, [FULL, *part_windows(cfg.part_fraction)], sat=sat)
    mirrored = hash_windows(grey, box, [FULL], mirror=True, sat=sat)[:, 0]
    coeffs = (
        dct_coefficients(normalise(window_cells(grey, box, FULL, sat=sat)))
        if cfg.match_rotated or cfg.match_mirrored_rotated
        else None
    )
    turned = turned_hashes(coeffs) if coeffs is not None and cfg.match_rotated else _empty(0, 3)
    mirror_turned = (
        mirrored_turned_hashes(coeffs) if coeffs is not None and cfg.match_mirrored_rotated else _empty(0, 3)
    )
    n_query = min(len(grey), cfg.query_frames)
    query = np.unique(np.round(np.linspace(0, len(grey) - 1, n_query)).astype(np.int64))
    grid = window_grid(cfg.window_scales, cfg.window_shift)
    views = hash_windows(grey[query], box, [*grid, *fills], sat=sat[query])
    return VideoFingerprint(
        hashes=full[:, 0],
        times=np.asarray(times, np.int64),
        mirrored=mirrored,
        turned=turned,
        mirror_turned=mirror_turned,
        parts=full[:, 1:3],
        query=query,
        views=views,
        box=(box[0] / w, box[1] / h, box[2] / w, box[3] / h),
        fills=fills,
    )


def to_grey(frames: np.ndarray) -> np.ndarray:
    """uint8 grey frames ``[T, H, W]`` of RGB frames ``[T, H, W, 3]``."""
    if len(frames) == 0:
        return np.zeros((0, 1, 1), np.uint8)
    return np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames])


def fingerprint_video(
    path: str | os.PathLike[str],
    frames: int,
    fps: float,
    width: int,
    height: int,
    cfg: DedupConfig | None = None,
) -> VideoFingerprint:
    """Fingerprint of a video file, one sample per ``cfg.step_s`` seconds."""
    cfg = cfg or DedupConfig()
    idx = sample_times(frames, fps, cfg.step_s, cfg.max_frames)
    if not idx:
        return VideoFingerprint(_empty(0))
    w, h = decode_size(width, height)
    return fingerprint_frames(to_grey(read_frames(path, idx, size=(h, w))), idx, cfg)
