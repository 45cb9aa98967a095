"""Tracklet noise as in real footage: what goes wrong for a tracker following the item, per frame.

With :class:`~movingfashion.world.config.NoiseConfig` on, each clothing clip gets stretches of
corrupted frames (:func:`plan_kinds`). Some corruptions change the pixels (the renderer reads
``Scene.effects``): something passes in front of the item (``occlusion``), the frames are
motion-blurred (``blur``), the camera swings away (``out_of_frame``), a passer-by wears a
near-twin of the item for the whole clip (``lookalike``, :func:`add_lookalike`). Others only
move the tracker's box: onto another garment or person (``other_garment``) or onto the
look-alike. :class:`NoisyTracker` renders the clip and gives, per frame, the tracker's box, its
detector confidence and the corruption kind (None = clean pixels and, where the tracker has a
box, the item's true box; a frame blurred or occluded while the tracker has no box keeps its
kind), which the world records in ``gt/<video>.json``. Everything is drawn from its own numpy
Generator, so worlds made without the knobs are byte-identical to before.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .catalog import ProductSpec, confusable_twin
from .config import NOISE_KINDS, NoiseConfig
from .render import Canvas, outfit_for, random_person
from .scenes import Actor, Scene

#: Recorded when an ``other_garment`` stretch finds no other garment in view: the box lies on
#: the background beside the item.
BACKGROUND = "background"


@dataclass(frozen=True)
class Effect:
    """What the renderer changes in one corrupted frame (``Scene.effects[t]``)."""

    kind: str
    shift: float = 0.0  # out_of_frame: camera moved by this many frame widths
    cover: float = 0.0  # occlusion: share of the item's width hidden
    side: int = 1  # occlusion: the occluder comes from the right (1) or the left (-1)
    colour: tuple[int, int, int] = (0, 0, 0)
    blur: int = 0  # blur: horizontal motion-blur kernel

    def apply_camera(
        self, cam: np.ndarray, width: int, zoom: float, wearer_x: float | None = None
    ) -> np.ndarray:
        """The camera swings sideways, away from the wearer (never back onto the item)."""
        if self.kind != "out_of_frame":
            return cam
        sign = np.sign(self.shift)
        if wearer_x is not None and abs(cam[0] - wearer_x) > 1e-6:
            sign = np.sign(cam[0] - wearer_x)
        return cam + np.array([sign * abs(self.shift) * width / zoom, 0.0])

    def _occluder(self, cv: Canvas, item_label: int | None) -> np.ndarray | None:
        """Corners of the occluder drawn over the item (None: not an occlusion, or no item drawn)."""
        if self.kind != "occlusion" or item_label is None:
            return None
        box = amodal_box(cv, item_label, clip=False)
        if box is None:
            return None
        x1, y1, x2, y2 = box
        bw, bh = x2 - x1, y2 - y1
        if self.side > 0:
            ox1, ox2 = x2 - self.cover * bw, x2 + 0.15 * bw
        else:
            ox1, ox2 = x1 - 0.15 * bw, x1 + self.cover * bw
        return np.array(
            [[ox1, y1 - 0.08 * bh], [ox2, y1 - 0.08 * bh], [ox2, y2 + 0.08 * bh], [ox1, y2 + 0.08 * bh]]
        )

    def apply_canvas(self, cv: Canvas, item_label: int | None) -> None:
        """Draw the occluder over the item (label 0 in the label map: it hides the garment)."""
        pts = self._occluder(cv, item_label)
        if pts is None:
            return
        px = [np.round(pts * 4).astype(np.int32)]
        cv2.fillPoly(cv.image, px, self.colour, cv2.LINE_AA, shift=2)
        cv2.fillPoly(cv.labels, px, 0, cv2.LINE_8, shift=2)

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        if self.kind == "blur" and self.blur > 1:
            return cv2.blur(img, (self.blur, max(1, self.blur // 5)))
        return img

    def changes_pixels(self, cv: Canvas, item_label: int | None) -> bool:
        """Whether the renderer changed the frame drawn on ``cv`` for this effect (the camera moved,
        the frame is blurred, an occluder was drawn over the item), whether or not the item is in view."""
        if self.kind == "occlusion":  # drawn where it overlaps the frame
            pts = self._occluder(cv, item_label)
            if pts is None:
                return False
            (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
            return bool(x2 > 0 and y2 > 0 and x1 < cv.w and y1 < cv.h)
        return self.kind == "out_of_frame" or (self.kind == "blur" and self.blur > 1)


def amodal_box(cv: Canvas, label: int, clip: bool = True) -> list[float] | None:
    """Box of a garment's whole body (hidden parts included) in frame pixels; clipped to the
    frame when ``clip`` (None when less than 4 px of it are inside)."""
    polys = cv.polys.get(label)
    if not polys:
        return None
    allp = np.concatenate(polys)
    x1, y1 = allp.min(0)
    x2, y2 = allp.max(0)
    if clip:
        x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, float(cv.w)), min(y2, float(cv.h))
        if x2 - x1 < 4 or y2 - y1 < 4:
            return None
    return [float(x1), float(y1), float(x2), float(y2)]


def plan_kinds(n: int, cfg: NoiseConfig, rng: np.random.Generator) -> list[str | None]:
    """Per frame, the corruption kind (None = clean): stretches of ``cfg.burst`` frames placed at
    random, without touching each other, until ``cfg.frames`` of the ``n`` frames are covered."""
    kinds = [k for k in NOISE_KINDS if cfg.kinds.get(k, 0.0) > 0]
    out: list[str | None] = [None] * n
    if not cfg.enabled or not kinds or n < 3:
        return out
    w = np.array([cfg.kinds[k] for k in kinds], float)
    target = int(round(cfg.frames * n))
    covered = 0
    for _ in range(200):
        if covered >= target:
            break
        length = int(min(rng.integers(cfg.burst[0], cfg.burst[1] + 1), target - covered))
        start = int(rng.integers(0, n - length + 1))
        lo, hi = max(0, start - 1), min(n, start + length + 1)
        if any(k is not None for k in out[lo:hi]):
            continue
        kind = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
        out[start : start + length] = [kind] * length
        covered += length
    return out


def add_lookalike(scene: Scene, spec: ProductSpec, rng: np.random.Generator) -> int | None:
    """A passer-by wearing a near-twin of the item (same class, colour and cut) for the whole clip.

    Appended as the scene's last actor, a little behind and beside the wearer; returns the
    label of the twin garment (None for items that are not clothing)."""
    if spec.kind != "clothing" or spec.garment is None:
        return None
    twin = confusable_twin(rng, spec.garment)
    used = [int(pid.split("-")[1]) for labs in scene.labels for pid, _, _ in labs if pid.startswith("other-")]
    k0 = max(used, default=-1) + 1
    garments = outfit_for(rng, twin)
    outfit = [(f"other-{k0 + j}", g) for j, g in enumerate(garments)]
    person = random_person(rng, outfit)
    w, h = scene.size
    a0 = scene.actors[0]
    depth = float(rng.uniform(0.78, 0.9))
    side = float(rng.choice([-1.0, 1.0]))
    centre = (a0.x0 + a0.x1) / 2 + side * w * float(rng.uniform(0.22, 0.3))
    span = w * float(rng.uniform(0.02, 0.08))
    actor = Actor(
        person=person,
        x0=centre - span,
        x1=centre + span,
        feet_y=a0.feet_y - (1 - depth) * 0.2 * h,
        height=a0.height * depth,
        turns=float(rng.choice([0.0, 0.5, 1.0])),
        steps=a0.steps * float(rng.uniform(0.6, 1.2)),
    )
    i = len(scene.actors)
    labels = [(pid, g.df2_class, 1 + 8 * i + j) for j, (pid, g) in enumerate(outfit)]
    scene.actors.append(actor)
    scene.labels.append(labels)
    for shot in scene.shots:
        shot.present.append(True)
    return next(lab for (pid, g), (_, _, lab) in zip(outfit, labels, strict=True) if g is twin)


def plan_effects(kinds: list[str | None], rng: np.random.Generator) -> list[Effect | None]:
    """One :class:`Effect` per corrupted stretch (the same for every frame of the stretch)."""
    out: list[Effect | None] = [None] * len(kinds)
    t = 0
    while t < len(kinds):
        kind = kinds[t]
        end = t + 1
        while end < len(kinds) and kinds[end] == kind:
            end += 1
        if kind is not None:
            eff = Effect(
                kind=kind,
                shift=float(rng.choice([-1.0, 1.0]) * rng.uniform(1.15, 1.4)),
                cover=float(rng.uniform(0.55, 0.85)),
                side=int(rng.choice([-1, 1])),
                colour=tuple(int(v) for v in rng.uniform(30, 220, 3)),
                blur=int(rng.choice([13, 17, 21])),
            )
            out[t:end] = [eff] * (end - t)
        t = end
    return out


def _conf(rng: np.random.Generator, base: float, gain: float, vis: float) -> float:
    return round(float(np.clip(base + gain * vis + rng.normal(0, 0.04), 0.05, 0.99)), 4)


class NoisyTracker:
    """Renders a clip with its noise and plays a tracker following the item through it."""

    def __init__(self, scene: Scene, spec: ProductSpec, cfg: NoiseConfig, rng: np.random.Generator) -> None:
        self.scene = scene
        self.item = spec.product_id
        self.rng = rng
        self.lookalike = add_lookalike(scene, spec, rng) if cfg.kinds.get("lookalike", 0) > 0 else None
        kinds = plan_kinds(scene.n_frames, cfg, rng)
        if self.lookalike is None:
            kinds = [("other_garment" if k == "lookalike" else k) for k in kinds]
        self.kinds = kinds
        scene.effects = plan_effects(kinds, rng)
        self.item_label = next((lab for pid, _, lab in scene.labels[0] if pid == self.item), None)
        self.last_box: list[float] | None = None
        self.target: int | None = None

    def frame(self, t: int) -> tuple[np.ndarray, list[dict], list[float] | None, float | None, str | None]:
        """Frame ``t``: (image, ground truth of every garment, tracker box, confidence, noise kind:
        also on a frame whose pixels were corrupted while the tracker has no box)."""
        img, cv, gts = self.scene.render(t)
        kind = self.kinds[t]
        if kind is None or t == 0 or self.kinds[t - 1] != kind:
            self.target = None
        by_label = {g["label"]: g for g in gts}
        item = by_label.get(self.item_label) if self.item_label is not None else None
        vis = float(item["visible"]) if item is not None else 0.0
        true_box = item["box"] if item is not None and item["box"] is not None and vis > 0 else None
        box: list[float] | None
        rec: str | None = kind
        rng = self.rng
        if kind is None:
            box, conf = true_box, _conf(rng, 0.55, 0.4, vis)
        elif kind == "blur":
            box, conf = true_box, _conf(rng, 0.3, 0.3, vis)
        elif kind == "occlusion":
            box = amodal_box(cv, self.item_label) if self.item_label is not None else None
            conf = _conf(rng, 0.25, 0.4, vis)
        elif kind == "out_of_frame":
            box = self.last_box or _centre_box(self.scene.size)
            conf = _conf(rng, 0.1, 0.0, 0.0) + float(rng.uniform(0, 0.2))
        else:
            box, conf, rec = self._drift(kind, gts, true_box)
        if box is None:  # no box for the tracker: still record a corruption of the pixels
            eff = self.scene.effects[t] if self.scene.effects is not None else None
            applied = kind if eff is not None and eff.changes_pixels(cv, self.item_label) else None
            return img, _strip(gts), None, None, applied
        if rec is None:
            self.last_box = list(box)
        return img, _strip(gts), [round(float(v), 1) for v in box], round(min(conf, 0.99), 4), rec

    def _drift(
        self, kind: str, gts: list[dict], true_box: list[float] | None
    ) -> tuple[list[float] | None, float, str | None]:
        """The box lands on the look-alike, or on another garment (another person's first)."""
        rng = self.rng
        seen = {g["label"]: g for g in gts if g["box"] is not None and g["visible"] >= 0.2}
        if kind == "lookalike" and self.lookalike in seen:
            g = seen[self.lookalike]
            return g["box"], _conf(rng, 0.55, 0.4, g["visible"]), "lookalike"
        if self.target not in seen:
            others = [
                g for g in seen.values() if g["product_id"] != self.item and g["label"] != self.lookalike
            ]
            people = [g for g in others if g["person"] != 0] or others
            self.target = people[int(rng.integers(len(people)))]["label"] if people else None
        if self.target is not None:
            g = seen[self.target]
            return g["box"], _conf(rng, 0.55, 0.4, g["visible"]), "other_garment"
        ref = true_box or self.last_box
        if ref is None:
            return None, 0.0, None
        w, h = self.scene.size
        bw = ref[2] - ref[0]
        dx = bw * 1.1 if ref[0] - bw * 1.1 < 0 else -bw * 1.1
        box = [
            min(max(ref[0] + dx, 0.0), w - 4.0),
            ref[1],
            min(max(ref[2] + dx, 4.0), float(w)),
            min(ref[3], float(h)),
        ]
        return box, _conf(rng, 0.15, 0.0, 0.0) + float(rng.uniform(0, 0.2)), BACKGROUND


def _centre_box(size: tuple[int, int]) -> list[float]:
    w, h = size
    return [w * 0.3, h * 0.3, w * 0.7, h * 0.7]


def _strip(gts: list[dict]) -> list[dict]:
    return [{k: v for k, v in g.items() if k not in ("label", "facing")} for g in gts]
