"""Street scenes: Regular (one figure indoors) and Hard (crowds, clutter, shot changes) clips.

A :class:`Scene` is a list of shots; each shot has a background, figures with motion paths and
a camera path. ``Scene.frame(t)`` returns the RGB frame and, for every garment, its ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .catalog import GarmentSpec, ProductSpec
from .render import (
    Canvas,
    Person,
    Pose,
    anchors,
    cluttered_background,
    draw_person,
    garment_box,
    garment_polygons,
    indoor_background,
    outfit_for,
    random_person,
    render_background,
)


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class Actor:
    person: Person
    x0: float
    x1: float
    feet_y: float
    height: float
    turn: tuple[float, float] = (0.15, 0.85)  # fraction of the shot where the figure turns around
    turns: float = 1.0  # full turns (0 = always facing the camera)
    steps: float = 3.0
    facing0: float = 0.0

    def pose(self, u: float) -> Pose:
        cx = self.x0 + (self.x1 - self.x0) * (0.5 - 0.5 * math.cos(2 * math.pi * u))
        a, b = self.turn
        facing = self.facing0 + 2 * math.pi * self.turns * _smooth((u - a) / max(b - a, 1e-6))
        return Pose(
            cx=cx, feet_y=self.feet_y, height=self.height, facing=facing, phase=2 * math.pi * self.steps * u
        )


@dataclass
class Occluder:
    kind: str  # 'plant' or 'box'
    x: float
    y: float
    size: float
    colour: tuple[int, int, int]

    def draw(self, cv: Canvas) -> None:
        s = self.size
        if self.kind == "plant":
            pot = np.array(
                [
                    [self.x - 0.3 * s, self.y - 0.45 * s],
                    [self.x + 0.3 * s, self.y - 0.45 * s],
                    [self.x + 0.22 * s, self.y],
                    [self.x - 0.22 * s, self.y],
                ]
            )
            cv.fill([pot], self.colour)
            for k in range(7):
                ang = math.pi * (0.1 + 0.8 * k / 6)
                c = np.array([self.x - math.cos(ang) * 0.35 * s, self.y - 0.5 * s - math.sin(ang) * 0.5 * s])
                cv.circle(c, 0.18 * s, (40 + 8 * k, 110 + 6 * k, 50))
        else:
            cv.fill(
                [
                    np.array(
                        [
                            [self.x - 0.5 * s, self.y - 0.6 * s],
                            [self.x + 0.5 * s, self.y - 0.6 * s],
                            [self.x + 0.5 * s, self.y],
                            [self.x - 0.5 * s, self.y],
                        ]
                    )
                ],
                self.colour,
            )


@dataclass
class Shot:
    start: int
    end: int  # exclusive
    background: np.ndarray
    origin: tuple[float, float]
    actors: list[Actor]
    zoom: tuple[float, float]  # zoom at start / middle
    cam0: tuple[float, float]
    cam1: tuple[float, float]
    follow: int | None = 0  # actor the camera follows (None: fixed)
    blur: int = 0  # horizontal motion-blur kernel
    occluders: list[Occluder] = field(default_factory=list)
    present: list[bool] = field(default_factory=list)


@dataclass
class Scene:
    size: tuple[int, int]
    shots: list[Shot]
    actors: list[Actor]  # every actor; actor 0 wears the product
    labels: list[list[tuple[str, int, int]]]  # per actor: (garment product id, df2 class, label)
    lut: np.ndarray  # colour cast (256 x 1 x 3)
    #: per frame, a ``movingfashion.world.noise.Effect`` or None (set only with the noise knobs)
    effects: list | None = None

    @property
    def n_frames(self) -> int:
        return self.shots[-1].end

    def frame(
        self, t: int, *, pose0: Pose | None = None, zoom: float | None = None
    ) -> tuple[np.ndarray, list[dict]]:
        """Frame ``t`` and the ground truth of every garment (box in frame pixels)."""
        img, _, gts = self.render(t, pose0=pose0, zoom=zoom)
        return img, [{k: v for k, v in g.items() if k not in ("label", "facing")} for g in gts]

    def render(
        self, t: int, *, pose0: Pose | None = None, zoom: float | None = None
    ) -> tuple[np.ndarray, Canvas, list[dict]]:
        """Like :meth:`frame`, also returning the canvas (label map, garment polygons)."""
        shot = next(s for s in self.shots if s.start <= t < s.end)
        w, h = self.size
        u = (t - shot.start) / max(shot.end - shot.start - 1, 1)
        uu = (t + 0.5) / self.n_frames
        poses = [a.pose(uu) for a in self.actors]
        if pose0 is not None:
            poses[0] = pose0
        z = (
            shot.zoom[0] + (shot.zoom[1] - shot.zoom[0]) * math.sin(math.pi * u) ** 2
            if zoom is None
            else zoom
        )
        cam = np.array(shot.cam0) + (np.array(shot.cam1) - np.array(shot.cam0)) * u
        if shot.follow is not None and zoom is None:
            target = self._target(shot.follow, poses[shot.follow])
            cam = cam + (target - cam) * min(1.0, (z - 1.0) / 1.2 + 0.4)
        if zoom is not None:
            cam = np.array([w / 2, h / 2])
        eff = self.effects[t] if self.effects is not None and pose0 is None and zoom is None else None
        if eff is not None:
            cam = eff.apply_camera(cam, w, z, poses[0].cx)
        img = render_background(shot.background, shot.origin, w, h, z, (float(cam[0]), float(cam[1])))
        cv = Canvas(img, zoom=z, cam=(float(cam[0]), float(cam[1])))
        order = sorted(range(len(self.actors)), key=lambda i: self.actors[i].feet_y)
        for i in order:
            if not shot.present[i]:
                continue
            draw_person(cv, self.actors[i].person, poses[i], [lab for _, _, lab in self.labels[i]])
        for occ in shot.occluders:
            occ.draw(cv)
        if eff is not None:
            eff.apply_canvas(cv, self._item_label())
        img = cv2.LUT(img, self.lut)
        if shot.blur > 1:
            img = cv2.blur(img, (shot.blur, 1))
        if eff is not None:
            img = eff.apply_image(img)
            cv.image = img
        gts = []
        for i, labs in enumerate(self.labels):
            for pid, cls, lab in labs:
                box, vis = cv.garment_truth(lab) if shot.present[i] else (None, 0.0)
                gts.append(
                    {
                        "product_id": pid,
                        "df2_class": cls,
                        "box": box,
                        "visible": round(vis, 4),
                        "person": i,
                        "label": lab,
                        "facing": poses[i].facing,
                    }
                )
        return img, cv, gts

    def _item_label(self) -> int | None:
        """Label of the wearer's product garment (the first that is not another product's)."""
        return next((lab for pid, _, lab in self.labels[0] if not pid.startswith("other-")), None)

    def _target(self, i: int, pose: Pose) -> np.ndarray:
        labs = self.labels[i]
        A = anchors(pose)
        g0 = next((g for (pid, g) in self.actors[i].person.outfit if not pid.startswith("other-")), None)
        if g0 is None or not labs:
            return np.array([pose.cx, pose.feet_y - 0.5 * pose.height])
        box = garment_box([p for _, p in garment_polygons(g0, A)])
        return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def _lut(rng: np.random.Generator, strength: float) -> np.ndarray:
    gains = 1.0 + rng.uniform(-strength, strength, 3)
    gamma = rng.uniform(0.85, 1.15)
    x = np.arange(256, dtype=np.float32) / 255.0
    lut = np.stack([np.clip(255 * (x**gamma) * g * 0.95, 0, 255) for g in gains], -1)
    return lut.astype(np.uint8).reshape(256, 1, 3)


def _cast(
    spec: ProductSpec, rng: np.random.Generator, n_others: int
) -> tuple[list[Actor], list[list[tuple[str, int, int]]]]:
    """The product's wearer (actor 0) and ``n_others`` other people in random outfits."""
    from .catalog import random_garment

    garments = outfit_for(rng, spec.garment if spec.kind == "clothing" else None)
    outfit: list[tuple[str, GarmentSpec]] = []
    k = 0
    for g in garments:
        if spec.kind == "clothing" and g is spec.garment:
            outfit.append((spec.product_id, g))
        else:
            outfit.append((f"other-{k}", g))
            k += 1
    acc = (spec.kind, spec.other_colour or "black") if spec.kind != "clothing" else None
    people = [random_person(rng, outfit, acc)]
    for _ in range(n_others):
        gs = outfit_for(rng, random_garment(rng, int(rng.integers(1, 14))))
        o = []
        for g in gs:
            o.append((f"other-{k}", g))
            k += 1
        people.append(random_person(rng, o))
    labels = [
        [(pid, g.df2_class, 1 + 8 * i + j) for j, (pid, g) in enumerate(p.outfit)]
        for i, p in enumerate(people)
    ]
    actors = [Actor(person=p, x0=0, x1=0, feet_y=0, height=0) for p in people]
    return actors, labels


def regular_scene(spec: ProductSpec, rng: np.random.Generator, size: tuple[int, int], n: int) -> Scene:
    """One figure indoors, walking, turning front/side/back, camera zoom and pan, a foreground object."""
    w, h = size
    actors, labels = _cast(spec, rng, 0)
    a = actors[0]
    a.height = h * rng.uniform(0.8, 0.88)
    a.feet_y = h * 0.955
    a.x0, a.x1 = w * rng.uniform(0.36, 0.46), w * rng.uniform(0.54, 0.64)
    a.turns = 1.0
    a.turn = (rng.uniform(0.1, 0.25), rng.uniform(0.7, 0.9))
    a.steps = n / 30 * 1.4
    bg, origin = indoor_background(rng, w, h)
    za = rng.uniform(0.15, 0.55)
    occ = []
    if rng.random() < 0.7:
        occ.append(
            Occluder(
                kind=str(rng.choice(["plant", "box"])),
                x=w * rng.uniform(0.2, 0.8),
                y=h * 1.02,
                size=h * rng.uniform(0.25, 0.4),
                colour=tuple(int(v) for v in rng.uniform(40, 200, 3)),
            )
        )
    pan = rng.uniform(-0.08, 0.08) * w
    shot = Shot(
        start=0,
        end=n,
        background=bg,
        origin=origin,
        actors=actors,
        zoom=(1.0, 1.0 + za),
        cam0=(w / 2 - pan, h / 2),
        cam1=(w / 2 + pan, h / 2),
        follow=0,
        occluders=occ,
        present=[True],
    )
    return Scene(size=size, shots=[shot], actors=actors, labels=labels, lut=_lut(rng, 0.06))


def hard_scene(spec: ProductSpec, rng: np.random.Generator, size: tuple[int, int], n: int) -> Scene:
    """Several people, clutter, shot changes, strong zoom, motion blur, the item out of view for a while."""
    w, h = size
    n_others = int(rng.integers(1, 4))
    actors, labels = _cast(spec, rng, n_others)
    for i, a in enumerate(actors):
        depth = 1.0 if i == 0 else rng.uniform(0.45, 0.95)
        a.height = h * (0.7 if i == 0 else 0.72 * depth)
        a.feet_y = h * (0.93 if i == 0 else 0.62 + 0.3 * depth)
        c = w * (0.5 if i == 0 else rng.uniform(-0.1, 1.1))
        span = w * rng.uniform(0.05, 0.2)
        a.x0, a.x1 = c - span, c + span
        a.turns = float(rng.choice([0.0, 0.5, 1.0]))
        a.facing0 = 0.0
        a.steps = n / 30 * rng.uniform(0.8, 1.8)
    n_shots = int(rng.integers(2, 4))
    cuts = sorted(
        int(x) for x in rng.choice(np.arange(int(n * 0.2), int(n * 0.8)), n_shots - 1, replace=False)
    )
    bounds = [0, *cuts, n]
    away = int(rng.integers(1, n_shots)) if n_shots >= 3 or rng.random() < 0.5 else -1
    strong = next(k for k in range(n_shots) if k != away)
    shots = []
    bg_a = cluttered_background(rng, w, h)
    bg_b = cluttered_background(rng, w, h)
    for k in range(n_shots):
        bg, origin = bg_a if k % 2 == 0 else bg_b
        if k == strong:
            zoom = (rng.uniform(1.6, 2.0), rng.uniform(2.2, 2.8))
        else:
            zoom = (rng.uniform(1.0, 1.2), rng.uniform(1.1, 1.5))
        follow: int | None = 0
        cam0 = cam1 = (w / 2, h / 2)
        present = [True] * len(actors)
        if k == away:
            follow = None
            side = float(rng.choice([-1, 1]))
            cam0 = (w / 2 + side * w * 1.1, h * 0.45)
            cam1 = (w / 2 + side * w * 1.25, h * 0.45)
        blur = 0
        if rng.random() < 0.5:
            blur = int(rng.choice([5, 7, 9]))
            d = rng.uniform(0.1, 0.2) * w
            cam0, cam1 = (cam0[0] - d, cam0[1]), (cam1[0] + d, cam1[1])
        occ = []
        if rng.random() < 0.5:
            occ.append(
                Occluder(
                    kind="box",
                    x=w * rng.uniform(0.1, 0.9),
                    y=h * 1.02,
                    size=h * rng.uniform(0.2, 0.35),
                    colour=tuple(int(v) for v in rng.uniform(30, 220, 3)),
                )
            )
        shots.append(
            Shot(
                start=bounds[k],
                end=bounds[k + 1],
                background=bg,
                origin=origin,
                actors=actors,
                zoom=zoom,
                cam0=cam0,
                cam1=cam1,
                follow=follow,
                blur=blur,
                occluders=occ,
                present=present,
            )
        )
    return Scene(size=size, shots=shots, actors=actors, labels=labels, lut=_lut(rng, 0.15))


def split_frame(still: np.ndarray, moving: np.ndarray, layout: str, still_first: bool) -> np.ndarray:
    """Put the still half and the moving half side by side (or on top of each other)."""
    parts = [still, moving] if still_first else [moving, still]
    return np.concatenate(parts, axis=1 if layout == "left-right" else 0)


def letterbox(img: np.ndarray, size: tuple[int, int], colour=(250, 250, 250)) -> np.ndarray:
    """Fit an image into (w, h) keeping its aspect ratio."""
    w, h = size
    ih, iw = img.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = max(1, int(iw * s)), max(1, int(ih * s))
    out = np.empty((h, w, 3), np.uint8)
    out[:] = colour
    x, y = (w - nw) // 2, (h - nh) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def retake_scene(scene: Scene, rng: np.random.Generator, *, new_room: bool) -> Scene:
    """Another clip of ``scene``'s people in the same outfits: new motion, camera and cuts.

    The wearer's look and garments are the very same objects; ``new_room`` also changes the
    backgrounds (else the clip is filmed in the same place). Used for hard negatives: a second
    video of the same garment and model is not a duplicate.
    """
    from dataclasses import replace

    w, h = scene.size
    n = scene.n_frames
    actors = []
    for a in scene.actors:
        c = (a.x0 + a.x1) / 2 + rng.uniform(-0.12, 0.12) * w
        span = w * rng.uniform(0.04, 0.15)
        actors.append(
            replace(
                a,
                x0=c - span,
                x1=c + span,
                turn=(rng.uniform(0.05, 0.4), rng.uniform(0.6, 0.95)),
                turns=float(rng.choice([0.5, 1.0, 1.5])),
                facing0=float(rng.choice([0.0, math.pi / 2, math.pi])),
                steps=n / 30 * rng.uniform(0.8, 1.8),
            )
        )
    hard = len(scene.shots) > 1 or len(scene.actors) > 1
    rooms = [(s.background, s.origin) for s in scene.shots]
    if new_room:
        make = cluttered_background if hard else indoor_background
        fresh = [make(rng, w, h) for _ in range(2)]
        rooms = [fresh[k % 2] for k in range(len(scene.shots))]
    n_shots = len(scene.shots)
    cuts = sorted(
        int(x) for x in rng.choice(np.arange(int(n * 0.2), int(n * 0.8)), n_shots - 1, replace=False)
    )
    bounds = [0, *cuts, n]
    shots = []
    for k, s in enumerate(scene.shots):
        z0 = rng.uniform(1.0, 1.3) if not hard else rng.uniform(1.0, 1.8)
        pan = rng.uniform(-0.1, 0.1) * w
        shots.append(
            replace(
                s,
                start=bounds[k],
                end=bounds[k + 1],
                background=rooms[k][0],
                origin=rooms[k][1],
                actors=actors,
                zoom=(z0, z0 + rng.uniform(0.1, 0.6)),
                cam0=(w / 2 - pan, h / 2 + rng.uniform(-0.05, 0.05) * h),
                cam1=(w / 2 + pan, h / 2),
                follow=0,
            )
        )
    return Scene(size=scene.size, shots=shots, actors=actors, labels=scene.labels, lut=scene.lut)
