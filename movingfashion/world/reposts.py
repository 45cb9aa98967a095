"""Re-post variants of a rendered clip: how re-uploads on TikTok and Instagram differ from their source.

:func:`make_repost` turns the source frames into a :class:`Repost`: the output frames (a crop, a
zoom, bars, a mirror image, another size, a colour grade, a caption and watermark, another
speed or frame rate, a quarter turn, mirrored or not, a trimmed part, a crop or a blurred copy
filling a frame of another aspect, one large bar below or above it), the output size, and the mapping of a source box to an output box so that the re-post's
ground truth follows its pixels. Everything is drawn from the given numpy Generator: same seed,
same pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .truth import RepostVariant

_WORDS = [
    "obsessed",
    "fit",
    "check",
    "new",
    "in",
    "ootd",
    "wait",
    "for",
    "it",
    "the",
    "look",
    "haul",
    "style",
]


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


@dataclass
class Repost:
    """A re-post: its frames, size and how source boxes and frame indices map onto it."""

    kind: RepostVariant
    detail: str
    size: tuple[int, int]
    source_index: list[int]  # output frame k shows source frame source_index[k]
    affine: tuple[float, float, float, float]  # x' = ax * x + bx, y' = ay * y + by (ax < 0: mirrored)
    pixels: Callable[[np.ndarray], np.ndarray]  # source frame -> output frame
    turns: int = 0  # after the affine map, quarter turns clockwise (``size`` is the turned frame's)
    fps_scale: float = 1.0  # the re-post's frame rate over the source's (the same duration)

    def frames(self, source: list[np.ndarray]) -> Iterator[np.ndarray]:
        for k in self.source_index:
            yield self.pixels(source[k])

    def box(self, b: list[float] | None) -> list[float] | None:
        """A source box in output pixels (clipped to the frame), None when it leaves the frame."""
        if b is None:
            return None
        ax, bx, ay, by = self.affine
        xs = sorted((ax * b[0] + bx, ax * b[2] + bx))
        ys = sorted((ay * b[1] + by, ay * b[3] + by))
        w, h = self.size
        pw, ph = (h, w) if self.turns % 2 else (w, h)  # the frame before it was turned
        for _ in range(self.turns % 4):  # a quarter turn clockwise: (x, y) -> (ph - y, x)
            xs, ys = [ph - ys[1], ph - ys[0]], xs
            pw, ph = ph, pw
        x1, y1, x2, y2 = max(0.0, xs[0]), max(0.0, ys[0]), min(float(w), xs[1]), min(float(h), ys[1])
        if x2 - x1 < 1 or y2 - y1 < 1:
            return None
        return [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)]


def _window(
    size: tuple[int, int], x0: int, y0: int, cw: int, ch: int, out: tuple[int, int], n: int
) -> Repost:
    w, h = size
    sx, sy = out[0] / cw, out[1] / ch

    def pixels(f: np.ndarray) -> np.ndarray:
        return cv2.resize(f[y0 : y0 + ch, x0 : x0 + cw], out, interpolation=cv2.INTER_AREA)

    return Repost(
        RepostVariant.CROP, "", out, list(range(n)), (sx, -x0 * sx, sy, -y0 * sy), pixels
    )  # kind/detail set by the caller


def _crop(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    w, h = size
    left, right, top, bottom = (float(x) for x in rng.uniform(0.02, 0.10, 4))
    x0, y0 = int(w * left), int(h * top)
    cw, ch = _even(w * (1 - left - right)), _even(h * (1 - top - bottom))
    out = (cw, ch) if rng.random() < 0.5 else size  # kept at the cropped size, or re-exported at the source's
    r = _window(size, x0, y0, cw, ch, out, n)
    r.kind, r.detail = RepostVariant.CROP, f"crop {cw}x{ch} at {x0},{y0} -> {out[0]}x{out[1]}"
    return r


def _zoom_crop(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    w, h = size
    z = float(rng.uniform(0.65, 0.8))
    cw, ch = _even(w * z), _even(h * z)
    jx, jy = (float(x) for x in rng.uniform(-0.25, 0.25, 2))
    x0, y0 = int((w - cw) / 2 * (1 + jx)), int((h - ch) / 2 * (1 + jy))
    r = _window(size, x0, y0, cw, ch, size, n)
    r.kind, r.detail = RepostVariant.ZOOM_CROP, f"zoom {z:.2f} window at {x0},{y0}"
    return r


def _pad(size: tuple[int, int], n: int, rng: np.random.Generator, *, tall: bool) -> Repost:
    w, h = size
    f = float(rng.uniform(1.25, 1.6))
    cw, ch = (w, _even(h * f)) if tall else (_even(w * f), h)
    scale = float(rng.choice([1.0, 0.75]))
    ow, oh = _even(cw * scale), _even(ch * scale)
    iw, ih = _even(w * scale), _even(h * scale)
    # bars are rarely centred to the pixel; captions often sit on them
    x0 = int((ow - iw) * (0.5 if tall else float(rng.uniform(0.4, 0.6))))
    y0 = int((oh - ih) * (float(rng.uniform(0.4, 0.6)) if tall else 0.5))
    colour = [(0, 0, 0), (255, 255, 255), (24, 24, 28)][int(rng.integers(3))]
    text = " ".join(str(x) for x in rng.choice(_WORDS, 3)) if tall and rng.random() < 0.5 else None

    def pixels(fr: np.ndarray) -> np.ndarray:
        canvas = np.empty((oh, ow, 3), np.uint8)
        canvas[:] = colour
        canvas[y0 : y0 + ih, x0 : x0 + iw] = cv2.resize(fr, (iw, ih), interpolation=cv2.INTER_AREA)
        if text and y0 > 14:
            ink = (255, 255, 255) if sum(colour) < 300 else (0, 0, 0)
            cv2.putText(canvas, text, (4, y0 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, ink, 1, cv2.LINE_AA)
        return canvas

    kind = RepostVariant.LETTERBOX if tall else RepostVariant.PILLARBOX
    sx, sy = iw / w, ih / h
    detail = f"{iw}x{ih} at {x0},{y0} in {ow}x{oh} bars {colour}" + (" with caption" if text else "")
    return Repost(kind, detail, (ow, oh), list(range(n)), (sx, x0, sy, y0), pixels)


def _mirror(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    w, _ = size
    return Repost(
        RepostVariant.MIRROR,
        "left-right",
        size,
        list(range(n)),
        (-1.0, float(w), 1.0, 0.0),
        lambda f: f[:, ::-1],
    )


def _rescale(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    w, h = size
    s = float(rng.choice([0.5, 0.625, 1.5]))
    out = (_even(w * s), _even(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC

    def pixels(f: np.ndarray) -> np.ndarray:
        return cv2.resize(f, out, interpolation=interp)

    return Repost(
        RepostVariant.RESCALE,
        f"scale {s} -> {out[0]}x{out[1]}",
        out,
        list(range(n)),
        (out[0] / w, 0.0, out[1] / h, 0.0),
        pixels,
    )


def _grade(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    bright = float(rng.choice([-1, 1]) * rng.uniform(10, 25))
    contrast = float(rng.uniform(0.8, 1.25))
    sat = float(rng.choice([rng.uniform(0.55, 0.8), rng.uniform(1.25, 1.5)]))
    hue = int(rng.choice([-1, 1]) * rng.integers(3, 9))  # OpenCV hue units: 2 degrees

    def pixels(f: np.ndarray) -> np.ndarray:
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + hue) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
        rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
        return np.clip((rgb - 128) * contrast + 128 + bright, 0, 255).astype(np.uint8)

    detail = f"brightness {bright:+.0f} contrast {contrast:.2f} saturation {sat:.2f} hue {2 * hue:+d} deg"
    return Repost(RepostVariant.GRADE, detail, size, list(range(n)), (1.0, 0.0, 1.0, 0.0), pixels)


def _caption(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    w, h = size
    band = int(h * rng.uniform(0.1, 0.15))
    at_top = bool(rng.random() < 0.5)
    y0 = int(h * rng.uniform(0.03, 0.1)) if at_top else h - band - int(h * rng.uniform(0.03, 0.12))
    words = " ".join(str(x) for x in rng.choice(_WORDS, 4))
    handle = "@" + "".join(str(x) for x in rng.choice(list("abcdefghijklmnop"), 6))
    corner = int(rng.integers(4))
    alpha = float(rng.uniform(0.55, 0.8))

    def pixels(f: np.ndarray) -> np.ndarray:
        out = f.copy()
        region = out[y0 : y0 + band].astype(np.float32)
        out[y0 : y0 + band] = (region * (1 - alpha) + 20 * alpha).astype(np.uint8)
        scale = band / 40
        cv2.putText(
            out,
            words,
            (6, y0 + int(band * 0.7)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        mark = out.copy()
        fs = 0.45 * w / 320
        (tw, th), _ = cv2.getTextSize(handle, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
        tx = 6 if corner % 2 == 0 else w - 6 - tw
        ty = 6 + th if corner < 2 else h - 8
        cv2.putText(mark, handle, (tx, ty), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), 1, cv2.LINE_AA)
        return cv2.addWeighted(mark, 0.7, out, 0.3, 0)

    detail = f"band {band}px at y={y0}, watermark corner {corner}"
    return Repost(RepostVariant.CAPTION, detail, size, list(range(n)), (1.0, 0.0, 1.0, 0.0), pixels)


def _rotate(size: tuple[int, int], n: int, turns: int) -> Repost:
    """The clip turned ``turns`` quarter turns clockwise (a phone clip whose rotation was baked
    into the pixels, or lost, on re-upload); the variant's frames are otherwise the source's."""
    w, h = size
    out = (h, w) if turns % 2 else (w, h)
    code = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}[turns]
    kind = RepostVariant(f"rotate_{90 * turns}")
    return Repost(
        kind,
        f"turned {90 * turns} degrees clockwise -> {out[0]}x{out[1]}",
        out,
        list(range(n)),
        (1.0, 0.0, 1.0, 0.0),
        lambda f: cv2.rotate(f, code),
        turns,
    )


def _mirror_rotate(size: tuple[int, int], n: int, turns: int) -> Repost:
    """The clip flipped left-right, then turned ``turns`` quarter turns clockwise (a mirrored
    re-post whose rotation was baked in or lost; turned 180 degrees it is a vertical flip)."""
    w, h = size
    r = _rotate(size, n, turns)
    code = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}[turns]
    r.kind = RepostVariant(f"mirror_rotate_{90 * turns}")
    r.detail = f"mirrored left-right, then {r.detail}"
    r.affine = (-1.0, float(w), 1.0, 0.0)
    r.pixels = lambda f: cv2.rotate(np.ascontiguousarray(f[:, ::-1]), code)
    return r


def _frame_rate(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """Re-encoded at another frame rate, the same duration: frames dropped or repeated by time."""
    target = int(rng.choice([24, 25, 60]))
    scale = target / 30  # the world's clips are at 30 fps; relative, so any source rate works
    m = max(2, int(round(n * scale)))
    idx = [min(n - 1, int(round(k / scale))) for k in range(m)]
    return Repost(
        RepostVariant.FRAME_RATE,
        f"{target} fps from 30 ({m} frames)",
        size,
        idx,
        (1.0, 0.0, 1.0, 0.0),
        lambda f: f,
        fps_scale=scale,
    )


def _pad_wide(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """The clip in a 16:9 frame of its height (or 0.75 of it), bars left and right: a portrait clip
    re-uploaded landscape (a 9:16 clip: about two thirds of the width barred), often off centre."""
    w, h = size
    scale = float(rng.choice([1.0, 0.75]))
    iw, ih = _even(w * scale), _even(h * scale)
    ow, oh = max(_even(ih * 16 / 9), iw + 4), ih
    x0 = int((ow - iw) * float(rng.uniform(0.2, 0.8)))  # often off centre
    colour = [(0, 0, 0), (16, 16, 16), (255, 255, 255)][int(rng.integers(3))]

    def pixels(fr: np.ndarray) -> np.ndarray:
        canvas = np.empty((oh, ow, 3), np.uint8)
        canvas[:] = colour
        canvas[:, x0 : x0 + iw] = cv2.resize(fr, (iw, ih), interpolation=cv2.INTER_AREA)
        return canvas

    detail = f"{iw}x{ih} at {x0},0 in {ow}x{oh} (16:9) bars {colour}"
    return Repost(
        RepostVariant.PILLARBOX_WIDE, detail, (ow, oh), list(range(n)), (iw / w, x0, ih / h, 0.0), pixels
    )


def _trim(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """A part of 25-45% of the clip (at least 8 frames), trimmed at both ends."""
    length = min(n, max(8, int(round(n * float(rng.uniform(0.25, 0.45))))))
    start = int(rng.integers(1, max(2, n - length)))
    start = min(start, n - length)
    return Repost(
        RepostVariant.TRIM,
        f"frames {start}-{start + length - 1} of {n}",
        size,
        list(range(start, start + length)),
        (1.0, 0.0, 1.0, 0.0),
        lambda f: f,
    )


def _speed(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    s = float(rng.choice([0.75, 0.8, 1.25, 1.5]))
    idx = [int(k * s) for k in range(int(np.ceil(n / s))) if int(k * s) < n]
    return Repost(RepostVariant.SPEED, f"speed {s}", size, idx, (1.0, 0.0, 1.0, 0.0), lambda f: f)


#: frame aspects (width / height) re-posts are filled into: 9:16 (TikTok, Reels), 3:4, 4:5
#: (Instagram's portrait feed), 1:1, 16:9 (landscape)
FILL_ASPECTS = (9 / 16, 3 / 4, 4 / 5, 1.0, 16 / 9)


def _fill_aspect(size: tuple[int, int], rng: np.random.Generator, min_kept: float) -> float:
    """A frame aspect of :data:`FILL_ASPECTS` at least 15% from the clip's own, keeping at least
    ``min_kept`` of the clip's cut side (a crop to fill) or of the frame's long side (a fit)."""
    w, h = size
    a = w / h
    ok = [r for r in FILL_ASPECTS if min_kept <= min(r / a, a / r) <= 0.85]
    if not ok:  # a clip of an odd aspect: the farthest frame aspect
        return float(min(FILL_ASPECTS, key=lambda r: min(r / a, a / r)))
    return float(ok[int(rng.integers(len(ok)))])


def _crop_fill(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """Zoomed in to fill a frame of another aspect: the largest window of that aspect, near the
    centre (40-60% of the slack), the two borders beyond it cut, scaled to 0.75-1.25 of its size."""
    w, h = size
    r = _fill_aspect(size, rng, 0.3)
    if r < w / h:  # a narrower frame: full height, the sides cut
        cw, ch = _even(h * r), h
    else:  # a wider frame: full width, top and bottom cut
        cw, ch = w, _even(w / r)
    x0 = int((w - cw) * float(rng.uniform(0.4, 0.6)))
    y0 = int((h - ch) * float(rng.uniform(0.4, 0.6)))
    scale = float(rng.choice([0.75, 1.0, 1.25]))
    out = (_even(cw * scale), _even(ch * scale))
    rp = _window(size, x0, y0, cw, ch, out, n)
    rp.kind = RepostVariant.CROP_FILL
    rp.detail = f"{cw}x{ch} at {x0},{y0} (aspect {r:.3f}) -> {out[0]}x{out[1]}"
    return rp


def _blur_fill(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """Fitted into a frame of another aspect (centred, at 0.75 or 1 of the clip's size) over a
    copy of itself enlarged to cover the frame, blurred and sometimes darkened: how TikTok and
    Instagram fill a clip of the wrong aspect."""
    w, h = size
    r = _fill_aspect(size, rng, 0.3)
    scale = float(rng.choice([1.0, 0.75]))
    iw, ih = _even(w * scale), _even(h * scale)
    if r > w / h:  # a wider frame: the fill left and right
        ow, oh = _even(ih * r), ih
    else:  # a narrower frame: the fill above and below
        ow, oh = iw, _even(iw / r)
    x0, y0 = (ow - iw) // 2, (oh - ih) // 2
    cover = max(ow / w, oh / h)
    bw, bh = int(np.ceil(w * cover)), int(np.ceil(h * cover))
    bx, by = (bw - ow) // 2, (bh - oh) // 2
    sigma = float(rng.uniform(0.02, 0.04)) * max(ow, oh)
    dim = float(rng.choice([1.0, 0.8, 0.6]))

    def pixels(fr: np.ndarray) -> np.ndarray:
        back = cv2.resize(fr, (bw, bh), interpolation=cv2.INTER_LINEAR)[by : by + oh, bx : bx + ow]
        back = cv2.GaussianBlur(back, (0, 0), sigma).astype(np.float32) * dim
        canvas = back.astype(np.uint8)
        canvas[y0 : y0 + ih, x0 : x0 + iw] = cv2.resize(fr, (iw, ih), interpolation=cv2.INTER_AREA)
        return canvas

    detail = f"{iw}x{ih} at {x0},{y0} in {ow}x{oh} (aspect {r:.3f}) over a blur of sigma {sigma:.1f}, x{dim}"
    return Repost(RepostVariant.BLUR_FILL, detail, (ow, oh), list(range(n)), (iw / w, x0, ih / h, y0), pixels)


def _one_bar(size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """The clip (at 1 or 0.75 of its size) at the top (3 in 4) or bottom of a frame of its width
    whose rest, 42-60% of the height, is one bar: black, near-black or white, a caption on it 2 in 3
    times. A common TikTok re-post layout; no bar on the opposite side."""
    w, h = size
    scale = float(rng.choice([1.0, 0.75]))
    iw, ih = _even(w * scale), _even(h * scale)
    share = float(rng.uniform(0.42, 0.6))  # of the frame's height the bar takes
    ow, oh = iw, _even(ih / (1 - share))
    top = bool(rng.random() < 0.75)  # the clip at the top, the bar below
    y0 = 0 if top else oh - ih
    colour = [(0, 0, 0), (18, 18, 20), (255, 255, 255)][int(rng.integers(3))]
    text = " ".join(str(x) for x in rng.choice(_WORDS, 3)) if rng.random() < 2 / 3 else None
    ink = (255, 255, 255) if sum(colour) < 300 else (0, 0, 0)
    line = (ih + (oh - ih) // 3) if top else (oh - ih) // 2

    def pixels(fr: np.ndarray) -> np.ndarray:
        canvas = np.empty((oh, ow, 3), np.uint8)
        canvas[:] = colour
        canvas[y0 : y0 + ih] = cv2.resize(fr, (iw, ih), interpolation=cv2.INTER_AREA)
        if text:
            cv2.putText(canvas, text, (6, line), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ink, 1, cv2.LINE_AA)
        return canvas

    where = "top" if top else "bottom"
    detail = f"{iw}x{ih} at the {where} of {ow}x{oh}, bar {share:.0%} {colour}" + (
        " with caption" if text else ""
    )
    return Repost(
        RepostVariant.ONE_BAR, detail, (ow, oh), list(range(n)), (iw / w, 0.0, ih / h, float(y0)), pixels
    )


_MAKERS: dict[RepostVariant, Callable[[tuple[int, int], int, np.random.Generator], Repost]] = {
    RepostVariant.CROP: _crop,
    RepostVariant.ZOOM_CROP: _zoom_crop,
    RepostVariant.LETTERBOX: lambda s, n, r: _pad(s, n, r, tall=True),
    RepostVariant.PILLARBOX: lambda s, n, r: _pad(s, n, r, tall=False),
    RepostVariant.MIRROR: _mirror,
    RepostVariant.RESCALE: _rescale,
    RepostVariant.GRADE: _grade,
    RepostVariant.CAPTION: _caption,
    RepostVariant.SPEED: _speed,
    RepostVariant.ROTATE_90: lambda s, n, r: _rotate(s, n, 1),
    RepostVariant.ROTATE_180: lambda s, n, r: _rotate(s, n, 2),
    RepostVariant.ROTATE_270: lambda s, n, r: _rotate(s, n, 3),
    RepostVariant.MIRROR_ROTATE_90: lambda s, n, r: _mirror_rotate(s, n, 1),
    RepostVariant.MIRROR_ROTATE_180: lambda s, n, r: _mirror_rotate(s, n, 2),
    RepostVariant.MIRROR_ROTATE_270: lambda s, n, r: _mirror_rotate(s, n, 3),
    RepostVariant.FRAME_RATE: _frame_rate,
    RepostVariant.PILLARBOX_WIDE: _pad_wide,
    RepostVariant.TRIM: _trim,
    RepostVariant.CROP_FILL: _crop_fill,
    RepostVariant.BLUR_FILL: _blur_fill,
    RepostVariant.ONE_BAR: _one_bar,
}


def make_repost(kind: RepostVariant | str, size: tuple[int, int], n: int, rng: np.random.Generator) -> Repost:
    """A re-post of ``kind`` of an ``n``-frame clip of ``size`` (w, h), its parameters drawn from ``rng``."""
    return _MAKERS[RepostVariant(kind)](size, n, rng)
