"""Pixels of the world: textures, a 2-D figure wearing garments, scenes, studio shop images.

All drawing is OpenCV polygons on uint8 RGB canvases. Every drawn garment also writes its id
into a label map, so the ground-truth box is the tight box of the garment's *visible* pixels
(stray fragments of a few pixels left out) and the visible fraction is visible pixels / pixels
of the garment drawn alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .catalog import COLOURS, GarmentSpec

#: a garment's visible fragments holding less than this share of its visible pixels (and fewer
#: than 48) do not count in its box (:meth:`Canvas.garment_truth`)
FRAGMENT_SHARE = 0.01

TEX_W, TEX_H = 96, 128
SLEEVES = {
    1: "short",
    2: "long",
    3: "short",
    4: "long",
    5: "none",
    6: "strap",
    10: "short",
    11: "long",
    12: "none",
    13: "strap",
}
TOPS = {1, 2, 5, 6}
BOTTOMS = {7, 8, 9}
OUTWEAR = {3, 4}
DRESSES = {10, 11, 12, 13}

# ----------------------------------------------------------------------------- textures


def _rgb(name: str) -> np.ndarray:
    return np.array(COLOURS[name], dtype=np.float32)


def make_texture(g: GarmentSpec, *, back: bool = False, shaded: bool = True) -> np.ndarray:
    """The garment's fabric as a TEX_H x TEX_W RGB tile (mapped onto the garment's box)."""
    rng = np.random.default_rng(g.tex_seed)
    base, sec = _rgb(g.colour), _rgb(g.secondary)
    yy, xx = np.mgrid[0:TEX_H, 0:TEX_W].astype(np.float32)
    img = np.empty((TEX_H, TEX_W, 3), np.float32)
    img[:] = base
    if g.pattern == "stripes":
        coord = {0: yy, 90: xx}.get(g.angle, (xx + yy) * 0.7071)
        on = (coord // g.stripe) % 2 == 1
        img[on] = sec
    elif g.pattern == "checks":
        on = ((yy // g.stripe) % 2 == 1) ^ ((xx // g.stripe) % 2 == 1)
        img[on] = 0.55 * base + 0.45 * sec
        img[((yy // g.stripe) % 4 == 0) & ((xx // g.stripe) % 4 == 0)] = sec
    elif g.pattern == "dots":
        step = g.dot * 3
        cy, cx = (yy % step) - step / 2, ((xx + (yy // step % 2) * step / 2) % step) - step / 2
        img[cx * cx + cy * cy <= g.dot * g.dot] = sec
    elif g.pattern == "print":
        tmp = img.astype(np.uint8).copy()
        for _ in range(26):
            c = (int(rng.integers(TEX_W)), int(rng.integers(TEX_H)))
            r = int(rng.integers(3, 7))
            col = tuple(int(v) for v in (sec if rng.random() < 0.6 else 255 - base))
            cv2.ellipse(tmp, c, (r, max(2, r // 2)), int(rng.integers(180)), 0, 360, col, -1, cv2.LINE_AA)
        img = tmp.astype(np.float32)
    # fabric grain
    grain = rng.normal(0, 5.0 if g.fabric in ("denim", "tweed", "linen") else 2.0, (TEX_H, TEX_W, 1))
    img += grain.astype(np.float32)
    if g.fabric == "ribbed-knit":
        img *= (0.93 + 0.07 * np.sin(xx * 1.6))[..., None]
    if g.logo and not back:
        lc = tuple(int(v) for v in _rgb(g.logo_colour))
        cx, cy = int(TEX_W * 0.62), int(TEX_H * (0.22 if g.df2_class not in (7, 8, 9) else 0.12))
        if g.logo == "circle":
            cv2.circle(img, (cx, cy), 7, lc, -1, cv2.LINE_AA)
        elif g.logo == "triangle":
            pts = np.array([[cx, cy - 8], [cx - 8, cy + 6], [cx + 8, cy + 6]], np.int32)
            cv2.fillPoly(img, [pts], lc, cv2.LINE_AA)
        else:
            cv2.rectangle(img, (cx - 10, cy - 3), (cx + 10, cy + 3), lc, -1)
    if shaded:
        shade = 1.0 - 0.55 * ((xx / TEX_W - 0.5) ** 2) - 0.04 * np.sin(xx * 0.35 + yy * 0.05)
        img *= shade[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def fabric_closeup(g: GarmentSpec, size: int) -> np.ndarray:
    """The fabric detail ('cu' view): a magnified, unshaded patch of the texture."""
    tex = make_texture(g, back=True, shaded=False)
    patch = tex[TEX_H // 3 : TEX_H // 3 + 40, TEX_W // 4 : TEX_W // 4 + 40]
    out = cv2.resize(patch, (size, size), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(g.tex_seed + 1)
    out = np.clip(out.astype(np.int16) + rng.normal(0, 6, out.shape).astype(np.int16), 0, 255).astype(
        np.uint8
    )
    return out


# ----------------------------------------------------------------------------- the figure

# Body anchors for a figure of height 1, facing the camera: x relative to the centre line, y from the top.
ANCHORS: dict[str, tuple[float, float]] = {
    "neck_l": (-0.03, 0.125),
    "neck_c": (0.0, 0.145),
    "sh_l": (-0.105, 0.165),
    "pit_l": (-0.085, 0.235),
    "elb_l": (-0.125, 0.345),
    "wri_l": (-0.13, 0.47),
    "waist_l": (-0.075, 0.38),
    "hip_l": (-0.097, 0.5),
    "crotch": (0.0, 0.535),
    "knee_l": (-0.055, 0.72),
    "ank_l": (-0.05, 0.93),
    "chest_l": (-0.085, 0.215),
}


@dataclass
class Pose:
    """Where a figure stands (world pixels) and how it moves."""

    cx: float
    feet_y: float
    height: float
    facing: float = 0.0  # radians; 0 front, pi/2 side, pi back
    phase: float = 0.0  # walking cycle
    arms_out: float = 0.0  # extra sideways offset of the wrists (shop 'ghost mannequin')

    @property
    def back(self) -> bool:
        return math.cos(self.facing) < 0


def anchors(pose: Pose) -> dict[str, np.ndarray]:
    """Anchor points in world pixels for a pose."""
    h = pose.height
    top = pose.feet_y - 0.98 * h
    wf = 0.45 + 0.55 * abs(math.cos(pose.facing))
    s = math.sin(pose.phase)
    out: dict[str, np.ndarray] = {}
    for name, (x, y) in ANCHORS.items():
        for side, sign in (("l", 1.0), ("r", -1.0)):
            if not name.endswith("_l"):
                if side == "r":
                    continue
                key = name
                xx = x
            else:
                key = name[:-1] + side
                xx = x * sign
            dx = 0.0
            swing = s if side == "l" else -s
            if name == "knee_l":
                dx = 0.02 * swing
            elif name == "ank_l":
                dx = 0.05 * swing
            elif name == "elb_l":
                dx = -0.01 * swing + 0.3 * pose.arms_out * -sign
            elif name == "wri_l":
                dx = -0.03 * swing + pose.arms_out * -sign
            out[key] = np.array([pose.cx + (xx * wf + dx) * h, top + y * h], np.float64)
    out["head"] = np.array([pose.cx, top + 0.065 * h])
    out["top"] = np.array([pose.cx, top])
    out["_wf"] = np.array([wf, h])
    return out


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def thick_line(points: list[np.ndarray], widths: list[float]) -> np.ndarray:
    """Polygon around a polyline with per-point half widths."""
    pts = np.array(points, np.float64)
    n = len(pts)
    normals = []
    for i in range(n):
        a, b = pts[max(i - 1, 0)], pts[min(i + 1, n - 1)]
        d = b - a
        nrm = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
        normals.append(nrm)
    left = [pts[i] + normals[i] * widths[i] for i in range(n)]
    right = [pts[i] - normals[i] * widths[i] for i in range(n)]
    return np.array(left + right[::-1], np.float64)


def garment_polygons(g: GarmentSpec, A: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Polygons of a garment on a posed figure, as (part, polygon): parts 'body', 'sleeve', 'strap'."""
    c = g.df2_class
    wf, h = A["_wf"]
    fit = g.fit
    cx = A["head"][0]

    def P(name: str) -> np.ndarray:
        return A[name]

    def widen(p: np.ndarray, f: float) -> np.ndarray:
        return np.array([cx + (p[0] - cx) * f, p[1]])

    def at(y: float, halfw: float, side: int) -> np.ndarray:
        top = A["top"][1]
        return np.array([cx + side * halfw * wf * h, top + y * h])

    parts: list[tuple[str, np.ndarray]] = []
    sleeve = SLEEVES.get(c)
    # ---- torso part for tops, outwear and dresses
    if c in TOPS | OUTWEAR | DRESSES:
        if c in OUTWEAR:
            hem_y = (0.57 if c == 3 else 0.66) * g.length
        elif c in DRESSES:
            hem_y = min(0.9, 0.74 * g.length)
        else:
            hem_y = 0.52 * min(g.length, 1.05)
        hem_w = (0.105 if c not in DRESSES else 0.17) * fit
        sides = []
        for side in (1, -1):
            s = "l" if side == 1 else "r"
            pts = []
            if sleeve == "strap":
                pts.append(at(0.215, 0.085, -side))
            elif sleeve == "none":
                pts += [at(0.13, 0.045, -side), at(0.16, 0.07, -side), at(0.255, 0.088, -side)]
            else:
                pts += [
                    P("neck_" + s) if side == -1 else P("neck_" + s),
                    widen(P("sh_" + s), 1.04),
                    P("pit_" + s),
                ]
            pts.append(widen(P("waist_" + s), fit * 1.05))
            if c in DRESSES:
                pts.append(widen(P("hip_" + s), fit * 1.2))
            pts.append(at(hem_y, hem_w, -side))
            sides.append(pts)
        left, right = sides[1], sides[0]  # 'l' anchors are at negative x... keep the order consistent
        if c in OUTWEAR:
            gap = 0.014 * wf * h
            for pts, sgn in ((sides[0], -1), (sides[1], 1)):
                inner_top = np.array([cx + sgn * gap, P("neck_c")[1] + 0.03 * h])
                inner_bot = np.array([cx + sgn * gap, pts[-1][1]])
                poly = [inner_top] + pts + [inner_bot]
                parts.append(("body", np.array(poly)))
        else:
            neck = [] if sleeve == "strap" else [P("neck_c")]
            poly = list(left) + list(right[::-1]) + neck
            parts.append(("body", np.array(poly)))
        if sleeve == "strap":
            for side in (-1, 1):
                a = at(0.215, 0.06, side)
                b = at(0.158, 0.06, side)
                parts.append(("strap", thick_line([a, b], [0.007 * h, 0.007 * h])))
        elif sleeve in ("short", "long"):
            for s in ("l", "r"):
                sh, el, wr = P("sh_" + s), P("elb_" + s), P("wri_" + s)
                start = _lerp(sh, P("pit_" + s), 0.4)
                if sleeve == "short":
                    pts_ = [start, _lerp(sh, el, 0.5)]
                    w = [0.055 * h, 0.045 * h]
                else:
                    pts_ = [start, el, _lerp(el, wr, 0.92)]
                    w = [0.055 * h, 0.04 * h, 0.034 * h]
                parts.append(("sleeve", thick_line(pts_, w)))
    elif c in BOTTOMS:
        wl, wr_ = widen(P("waist_l"), 1.05), widen(P("waist_r"), 1.05)
        hl, hr = widen(P("hip_l"), fit * 1.05), widen(P("hip_r"), fit * 1.05)
        if c == 9:
            hem_y = min(0.86, 0.68 * g.length)
            parts.append(
                ("body", np.array([wl, hl, at(hem_y, 0.16 * fit, -1), at(hem_y, 0.16 * fit, 1), hr, wr_]))
            )
        else:
            legs = []
            for s in ("l", "r"):
                kn, an = P("knee_" + s), P("ank_" + s)
                if c == 7:
                    t = 0.45 * g.length
                    mid = _lerp(
                        P("hip_" + s) * 0 + np.array([P("hip_" + s)[0] * 0.5 + cx * 0.5, P("hip_" + s)[1]]),
                        kn,
                        t,
                    )
                    ww = 0.065 * fit * wf * h
                    legs.append((mid, ww))
                else:
                    ww = 0.042 * fit * wf * h
                    legs.append((kn, ww, an, ww * (1.25 if fit > 1.05 else 0.95)))
            cr = P("crotch")
            if c == 7:
                (ml, wl_), (mr, wr2) = legs
                poly = [
                    wl,
                    hl,
                    ml + [-wl_, 0],
                    ml + [wl_ * 0.6, 0],
                    cr,
                    mr + [-wr2 * 0.6, 0],
                    mr + [wr2, 0],
                    hr,
                    wr_,
                ]
            else:
                (kl, wkl, al, wal), (kr, wkr, ar, war) = legs
                poly = [
                    wl,
                    hl,
                    kl + [-wkl, 0],
                    al + [-wal, 0],
                    al + [wal, 0],
                    kl + [wkl, 0],
                    cr,
                    kr + [-wkr, 0],
                    ar + [-war, 0],
                    ar + [war, 0],
                    kr + [wkr, 0],
                    hr,
                    wr_,
                ]
            parts.append(("body", np.array(poly)))
    return parts


@dataclass
class Person:
    """A figure: skin, hair and an outfit (garments drawn bottom to top)."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    long_hair: bool
    outfit: list[tuple[str, GarmentSpec]]  # (garment product id, spec) in drawing order
    accessory: tuple[str, str] | None = None  # (kind, colour) of a non-clothing item
    textures: dict = field(default_factory=dict)

    def texture(self, g: GarmentSpec, back: bool) -> np.ndarray:
        key = (id(g), back)
        if key not in self.textures:
            self.textures[key] = make_texture(g, back=back)
        return self.textures[key]


def outfit_for(rng: np.random.Generator, main: GarmentSpec | None) -> list[GarmentSpec]:
    """Garments of other classes worn with ``main`` (bottom to top drawing order, main included)."""
    from .catalog import random_garment

    c = main.df2_class if main else None
    if c is None:
        c = int(rng.choice([1, 2, 10, 12, 5]))
        main = random_garment(rng, c)
        extra_only = True
    else:
        extra_only = False
    out: list[GarmentSpec] = []
    if c in TOPS:
        out = [random_garment(rng, int(rng.choice([7, 8, 9]))), main]
    elif c in BOTTOMS:
        out = [main, random_garment(rng, int(rng.choice([1, 2, 5, 6])))]
    elif c in OUTWEAR:
        out = [
            random_garment(rng, int(rng.choice([7, 8, 9]))),
            random_garment(rng, int(rng.choice([1, 5]))),
            main,
        ]
    else:
        out = [main]
    if extra_only:
        return out
    return out


def random_person(
    rng: np.random.Generator,
    garments: list[tuple[str, GarmentSpec]],
    accessory: tuple[str, str] | None = None,
) -> Person:
    from .catalog import HAIR, SKIN

    return Person(
        skin=SKIN[int(rng.integers(len(SKIN)))],
        hair=HAIR[int(rng.integers(len(HAIR)))],
        long_hair=bool(rng.random() < 0.5),
        outfit=garments,
        accessory=accessory,
    )


# ----------------------------------------------------------------------------- drawing


class Canvas:
    """An RGB frame, a label map and the camera mapping world pixels to frame pixels."""

    def __init__(
        self,
        image: np.ndarray,
        zoom: float = 1.0,
        cam: tuple[float, float] | None = None,
        offset: tuple[int, int] = (0, 0),
    ) -> None:
        self.image = image
        self.h, self.w = image.shape[:2]
        self.labels = np.zeros((self.h, self.w), np.int16)
        self.zoom = zoom
        self.cam = cam if cam is not None else (self.w / 2, self.h / 2)
        self.full: dict[int, float] = {}  # label -> pixels of the garment drawn alone
        self.polys: dict[int, list[np.ndarray]] = {}  # label -> body polygons in frame pixels
        self.bbox: dict[int, tuple[int, int, int, int]] = {}

    def to_px(self, pts: np.ndarray) -> np.ndarray:
        return (pts - np.array(self.cam)) * self.zoom + np.array([self.w / 2, self.h / 2])

    def fill(self, polys: list[np.ndarray], colour, label: int = 0) -> None:
        """Plain fill in world coordinates (label 0 = occluder, >0 = a garment id)."""
        px = [np.round(self.to_px(p) * 4).astype(np.int32) for p in polys]
        cv2.fillPoly(self.image, px, tuple(int(c) for c in colour), cv2.LINE_AA, shift=2)
        if label >= 0:
            cv2.fillPoly(self.labels, px, int(label), cv2.LINE_8, shift=2)

    def circle(self, centre: np.ndarray, radius: float, colour, label: int = 0) -> None:
        c = self.to_px(centre[None])[0]
        cv2.circle(
            self.image,
            (int(round(c[0] * 4)), int(round(c[1] * 4))),
            int(round(radius * self.zoom * 4)),
            tuple(int(v) for v in colour),
            -1,
            cv2.LINE_AA,
            shift=2,
        )
        cv2.circle(
            self.labels, (int(round(c[0])), int(round(c[1]))), int(round(radius * self.zoom)), int(label), -1
        )

    def textured(self, polys: list[np.ndarray], tex: np.ndarray, box: np.ndarray, label: int) -> None:
        """Fill polygons (world coords) with ``tex`` stretched over the garment box ``box`` (world)."""
        px = [self.to_px(p) for p in polys]
        allp = np.concatenate(px)
        x1, y1 = np.floor(allp.min(0)).astype(int)
        x2, y2 = np.ceil(allp.max(0)).astype(int) + 1
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, self.w), min(y2, self.h)
        if x2 <= x1 or y2 <= y1:
            return
        gb = self.to_px(box.reshape(2, 2)).reshape(-1)
        sx = (gb[2] - gb[0]) / TEX_W
        sy = (gb[3] - gb[1]) / TEX_H
        m = np.array([[sx, 0, gb[0] - x1], [0, sy, gb[1] - y1]], np.float64)
        patch = cv2.warpAffine(
            tex, m, (x2 - x1, y2 - y1), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        mask = np.zeros((y2 - y1, x2 - x1), np.uint8)
        cv2.fillPoly(
            mask, [np.round((p - [x1, y1]) * 4).astype(np.int32) for p in px], 255, cv2.LINE_8, shift=2
        )
        sel = mask > 0
        self.image[y1:y2, x1:x2][sel] = patch[sel]
        self.labels[y1:y2, x1:x2][sel] = label
        bb = self.bbox.get(label)
        self.bbox[label] = (
            (x1, y1, x2, y2)
            if bb is None
            else (min(bb[0], x1), min(bb[1], y1), max(bb[2], x2), max(bb[3], y2))
        )

    def register_full(self, label: int, polys: list[np.ndarray]) -> None:
        """Pixels of the garment drawn alone (unclipped), measured on a small canvas."""
        px = [self.to_px(p) for p in polys]
        allp = np.concatenate(px)
        lo, hi = allp.min(0), allp.max(0)
        span = max(hi[0] - lo[0], hi[1] - lo[1], 1.0)
        s = min(1.0, 160.0 / span)
        size = np.ceil((hi - lo) * s).astype(int) + 2
        mask = np.zeros((size[1], size[0]), np.uint8)
        cv2.fillPoly(mask, [np.round((p - lo) * s * 4).astype(np.int32) for p in px], 1, cv2.LINE_8, shift=2)
        self.full[label] = float(mask.sum()) / (s * s)

    def garment_truth(
        self, label: int, min_pixels: int = 12, min_fragment: float = FRAGMENT_SHARE
    ) -> tuple[list[int] | None, float]:
        """Tight box of the visible pixels of one garment and its visible fraction.

        Fragments of the visible pixels (8-connected) holding less than ``min_fragment`` of them
        and fewer than ``min_pixels`` x 4 pixels are left out of the box, not the fraction: a few
        pixels of a waistband showing between an arm and the top that covers it would otherwise
        stretch the box far over the top (8 pixels of 10,804 moved a pair of shorts' box 66 px up,
        and a tracklet on the shorts' visible part then failed the >= 50% check)."""
        bb = self.bbox.get(label)
        if bb is None:
            return None, 0.0
        x1, y1, x2, y2 = bb
        sel = self.labels[y1:y2, x1:x2] == label
        n = int(sel.sum())
        if n < min_pixels:
            return None, 0.0
        full = self.full.get(label, n)
        vis = float(min(1.0, n / max(full, 1.0)))
        _, _, stats, _ = cv2.connectedComponentsWithStats(sel.view(np.uint8), connectivity=8)
        parts = stats[1:]  # every component's box; the kept ones, unless none is kept
        area = parts[:, cv2.CC_STAT_AREA]
        keep = parts[(area >= min_fragment * n) | (area >= 4 * min_pixels)]
        keep = keep if len(keep) else parts
        left, top = keep[:, cv2.CC_STAT_LEFT], keep[:, cv2.CC_STAT_TOP]
        right, bottom = left + keep[:, cv2.CC_STAT_WIDTH], top + keep[:, cv2.CC_STAT_HEIGHT]
        return [int(x1 + left.min()), int(y1 + top.min()), int(x1 + right.max()), int(y1 + bottom.max())], vis


def draw_accessory(cv: Canvas, kind: str, colour: str, A: dict[str, np.ndarray]) -> None:
    col = COLOURS[colour]
    h = A["_wf"][1]
    if kind == "bag":
        w = A["wri_l"]
        cv.fill(
            [thick_line([w + [0, -0.02 * h], w + [0.02 * h, 0.03 * h]], [0.004 * h, 0.004 * h])], (40, 30, 25)
        )
        x, y = w[0] - 0.06 * h, w[1] + 0.02 * h
        cv.fill(
            [
                np.array(
                    [[x, y], [x + 0.11 * h, y], [x + 0.12 * h, y + 0.09 * h], [x - 0.01 * h, y + 0.09 * h]]
                )
            ],
            col,
        )
    elif kind == "shoes":
        for s in ("l", "r"):
            a = A["ank_" + s]
            cv.fill(
                [
                    np.array(
                        [
                            [a[0] - 0.035 * h, a[1]],
                            [a[0] + 0.045 * h, a[1]],
                            [a[0] + 0.05 * h, a[1] + 0.05 * h],
                            [a[0] - 0.035 * h, a[1] + 0.05 * h],
                        ]
                    )
                ],
                col,
            )
    else:
        c = A["neck_c"]
        for k in range(9):
            ang = math.pi * (0.15 + 0.7 * k / 8)
            p = c + np.array([math.cos(ang) * 0.035 * h, math.sin(ang) * 0.025 * h - 0.005 * h])
            cv.circle(p, 0.004 * h, (220, 190, 90))
        cv.circle(c + [0, 0.03 * h], 0.009 * h, col)


def garment_box(polys: list[np.ndarray]) -> np.ndarray:
    allp = np.concatenate(polys)
    return np.concatenate([allp.min(0), allp.max(0)])


def draw_person(cv: Canvas, person: Person, pose: Pose, labels: list[int]) -> None:
    """Draw a figure; garment ``person.outfit[i]`` writes label ``labels[i]`` into the label map."""
    A = anchors(pose)
    h = pose.height
    back = pose.back
    skin = person.skin
    # legs and shoes
    for s in ("l", "r"):
        hip = np.array([A["hip_" + s][0] * 0.6 + A["crotch"][0] * 0.4, A["hip_" + s][1]])
        cv.fill([thick_line([hip, A["knee_" + s], A["ank_" + s]], [0.04 * h, 0.032 * h, 0.022 * h])], skin)
        a = A["ank_" + s]
        cv.fill(
            [
                np.array(
                    [
                        [a[0] - 0.03 * h, a[1] - 0.01 * h],
                        [a[0] + 0.035 * h, a[1] - 0.01 * h],
                        [a[0] + 0.04 * h, a[1] + 0.045 * h],
                        [a[0] - 0.03 * h, a[1] + 0.045 * h],
                    ]
                )
            ],
            (30, 28, 30),
        )
    parts_of = []
    for (_pid, g), lab in zip(person.outfit, labels, strict=True):
        parts = garment_polygons(g, A)
        polys = [p for _, p in parts]
        parts_of.append((g, lab, parts, garment_box(polys)))
        cv.register_full(lab, polys)
        cv.polys[lab] = [cv.to_px(p) for k, p in parts if k == "body"]
    # garment bodies bottom to top
    for g, lab, parts, box in parts_of:
        body = [p for k, p in parts if k in ("body", "strap")]
        if body:
            cv.textured(body, person.texture(g, back), box, lab)
    # arms, then sleeves over them
    for s in ("l", "r"):
        cv.fill(
            [thick_line([A["sh_" + s], A["elb_" + s], A["wri_" + s]], [0.036 * h, 0.03 * h, 0.022 * h])], skin
        )
        cv.circle(A["wri_" + s] + [0, 0.015 * h], 0.02 * h, skin)
    for g, lab, parts, box in parts_of:
        sl = [p for k, p in parts if k == "sleeve"]
        if sl:
            cv.textured(sl, person.texture(g, back), box, lab)
    # neck, head, hair
    cv.fill([thick_line([A["head"], A["neck_c"]], [0.025 * h, 0.025 * h])], skin)
    cv.circle(A["head"], 0.055 * h, skin)
    hair = person.hair
    head = A["head"]
    if back:
        cv.circle(head, 0.058 * h, hair)
        if person.long_hair:
            cv.fill(
                [
                    np.array(
                        [
                            head + [-0.055 * h, 0],
                            head + [0.055 * h, 0],
                            head + [0.065 * h, 0.2 * h],
                            head + [-0.065 * h, 0.2 * h],
                        ]
                    )
                ],
                hair,
            )
    else:
        cv.fill(
            [
                np.array(
                    [
                        head + [-0.058 * h, 0.01 * h],
                        head + [-0.045 * h, -0.045 * h],
                        head + [0, -0.06 * h],
                        head + [0.045 * h, -0.045 * h],
                        head + [0.058 * h, 0.01 * h],
                        head + [0, -0.03 * h],
                    ]
                )
            ],
            hair,
        )
        if person.long_hair:
            for sg in (-1, 1):
                cv.fill(
                    [
                        np.array(
                            [
                                head + [sg * 0.05 * h, -0.01 * h],
                                head + [sg * 0.068 * h, 0.17 * h],
                                head + [sg * 0.045 * h, 0.17 * h],
                                head + [sg * 0.04 * h, 0.02 * h],
                            ]
                        )
                    ],
                    hair,
                )
    if person.accessory:
        draw_accessory(cv, person.accessory[0], person.accessory[1], A)


# ----------------------------------------------------------------------------- backgrounds and studio


def indoor_background(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, tuple[float, float]]:
    """A plain room (wall, floor, a window or a picture). Returns the image and its world origin."""
    bw, bh = 2 * w, int(1.5 * h)
    wall = np.array(rng.uniform(150, 235, 3))
    floor = np.array(rng.uniform(70, 160, 3))
    img = np.empty((bh, bw, 3), np.uint8)
    horizon = int(0.25 * h + 0.78 * h)
    grad = np.linspace(0.92, 1.05, horizon)[:, None, None]
    img[:horizon] = np.clip(wall * grad, 0, 255).astype(np.uint8)
    img[horizon:] = floor.astype(np.uint8)
    cv2.rectangle(img, (0, horizon - 6), (bw, horizon), tuple(int(v) for v in wall * 0.7), -1)
    for _ in range(int(rng.integers(1, 3))):
        x = int(rng.integers(0, bw - 80))
        y = int(rng.integers(int(0.3 * h), int(0.6 * h)))
        ww, hh = int(rng.integers(40, 90)), int(rng.integers(40, 110))
        cv2.rectangle(img, (x, y), (x + ww, y + hh), tuple(int(v) for v in rng.uniform(60, 250, 3)), -1)
        cv2.rectangle(img, (x, y), (x + ww, y + hh), (60, 50, 40), 2)
    return img, (-0.5 * w, -0.25 * h)


def cluttered_background(rng: np.random.Generator, w: int, h: int) -> tuple[np.ndarray, tuple[float, float]]:
    """A busy street or bedroom: many coloured shapes and lines."""
    img, origin = indoor_background(rng, w, h)
    bh, bw = img.shape[:2]
    for _ in range(int(rng.integers(25, 45))):
        col = tuple(int(v) for v in rng.uniform(20, 250, 3))
        k = rng.random()
        x, y = int(rng.integers(bw)), int(rng.integers(bh))
        if k < 0.4:
            cv2.rectangle(
                img, (x, y), (x + int(rng.integers(10, 70)), y + int(rng.integers(10, 90))), col, -1
            )
        elif k < 0.7:
            cv2.circle(img, (x, y), int(rng.integers(4, 25)), col, -1)
        else:
            cv2.line(
                img, (x, y), (int(rng.integers(bw)), int(rng.integers(bh))), col, int(rng.integers(1, 4))
            )
    return img, origin


def render_background(
    bg: np.ndarray, origin: tuple[float, float], w: int, h: int, zoom: float, cam: tuple[float, float]
) -> np.ndarray:
    """The part of a background seen by the camera."""
    m = np.array(
        [[zoom, 0, w / 2 + zoom * (origin[0] - cam[0])], [0, zoom, h / 2 + zoom * (origin[1] - cam[1])]]
    )
    return cv2.warpAffine(bg, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def studio_shot(
    g: GarmentSpec, size: tuple[int, int], *, back: bool = False, variant: int = 0, canvas: list | None = None
) -> np.ndarray:
    """A 'ghost mannequin' studio picture of a garment on a plain light background.

    When ``canvas`` is a list, the :class:`Canvas` used (label 1 = the garment) is appended to it.
    """
    w, h = size
    light = [(246, 246, 244), (240, 238, 236), (236, 240, 244)][variant % 3]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = light
    cv = Canvas(img)
    pose = Pose(cx=0.0, feet_y=1.0, height=1.0, facing=math.pi if back else 0.0, arms_out=0.05)
    A = anchors(pose)
    polys = [p for _, p in garment_polygons(g, A)]
    box = garment_box(polys)
    bw, bh = box[2] - box[0], box[3] - box[1]
    # one scale for every class (a dress is longer than a top), unless the garment would not fit
    scale = min(0.82 * w / bw, 0.86 * h / bh, 1.55 * h)
    pose = Pose(cx=w / 2, feet_y=0.0, height=scale, facing=pose.facing, arms_out=0.05)
    A = anchors(pose)
    parts = garment_polygons(g, A)
    polys = [p for _, p in parts]
    box = garment_box(polys)
    dy = h / 2 - (box[1] + box[3]) / 2
    polys = [p + [0, dy] for p in polys]
    cv.polys[1] = [p + [0, dy] for k, p in parts if k == "body"]
    box = garment_box(polys)
    shadow = np.zeros((h, w), np.uint8)
    cv2.fillPoly(
        shadow, [np.round((p + [5, 7]) * 4).astype(np.int32) for p in polys], 255, cv2.LINE_AA, shift=2
    )
    shadow = cv2.GaussianBlur(shadow, (0, 0), 6)
    img[:] = (img.astype(np.float32) * (1 - 0.22 * shadow[..., None] / 255.0)).astype(np.uint8)
    tex = make_texture(g, back=back, shaded=False)
    tex = np.clip(tex.astype(np.float32) * 1.08 + 6, 0, 255).astype(np.uint8)
    cv.textured(polys, tex, box, 1)
    cv.register_full(1, polys)
    if canvas is not None:
        canvas.append(cv)
    return img


def studio_object(kind: str, colour: str, size: tuple[int, int], variant: int = 0) -> np.ndarray:
    """Studio picture of a non-clothing item (bag, shoes, jewellery)."""
    w, h = size
    img = np.full((h, w, 3), 244, np.uint8)
    cv = Canvas(img)
    pose = Pose(cx=w / 2, feet_y=0.0, height=h * 1.6)
    A = anchors(pose)
    # place the accessory around the image centre
    if kind == "bag":
        A = {k: v.copy() for k, v in A.items()}
        A["wri_l"] = np.array([w * 0.6, h * 0.2])
        A["_wf"] = np.array([1.0, h * 4.0])
    elif kind == "shoes":
        A = {
            "ank_l": np.array([w * 0.27, h * 0.4]),
            "ank_r": np.array([w * 0.66, h * 0.4]),
            "_wf": np.array([1.0, h * 3.0]),
        }
    else:
        A = {"neck_c": np.array([w * 0.5, h * 0.3]), "_wf": np.array([1.0, h * 6.0])}
    draw_accessory(cv, kind, colour, A)
    return img
