"""A DeepFashion2-format mini set drawn by the world's renderer (for pretraining and converter tests).

Layout: ``df2/{train,validation}/image/NNNNNN.jpg`` and ``annos/NNNNNN.json``. Each pair_id is
one garment: shop images (a model in a plain studio, or the garment alone) and 2-4 user images
(street scenes). Some pairs have a second style (a confusable variant: same class and colour, a
small difference). Items of other people and other garments have style 0.

Landmarks: DeepFashion2 gives each category its own number of landmarks (1: 25, 2: 33, ...,
13: 19; 294 slots in all, :data:`movingfashion.deepfashion2.LANDMARK_COUNTS`), and every item
lists exactly that many ``[x, y, v]`` triples (the official COCO converter indexes them all).
Here they are points of the item's rendered outline in a fixed order: the outline's corners,
walked in drawing order, with the remaining points spread along its edges in proportion to
their length (equally spaced along the outline if a class ever had more corners than
landmarks). v=2 visible, 1 occluded, 0 outside the image (written as ``0, 0, 0``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from movingfashion.deepfashion2.reader import LANDMARK_COUNTS
from movingfashion.media.images import write_image
from schemas.atomic import atomic_write_json
from schemas.taxonomy import DF2_CLASSES

from .catalog import ProductSpec, confusable_twin, random_garment
from .config import WorldConfig
from .render import Canvas, Pose, draw_person, studio_shot
from .scenes import hard_scene, regular_scene

#: Landmarks per item of each class: DeepFashion2's own counts.
LANDMARKS_PER_CLASS: dict[int, int] = dict(LANDMARK_COUNTS)


def _largest_remainder(weights: list[float], total: int) -> list[int]:
    """``total`` split over ``weights`` in proportion (equal shares when all are 0), in whole
    numbers adding up to ``total``; leftovers go to the largest remainders, earlier first."""
    w = np.asarray(weights, dtype=np.float64)
    w = w if w.sum() > 0 else np.ones_like(w)
    exact = w / w.sum() * total
    out = np.floor(exact).astype(int)
    for i in sorted(range(len(w)), key=lambda i: (-(exact[i] - out[i]), i))[: total - int(out.sum())]:
        out[i] += 1
    return out.tolist()


def _pt(p: np.ndarray) -> tuple[float, float]:
    return float(p[0]), float(p[1])


def outline_landmarks(polys: list[np.ndarray], n: int) -> list[tuple[float, float]]:
    """``n`` points on closed outlines (``[m, 2]`` polygons): every corner in order, each followed
    by the extra points of the edge it starts, evenly spaced (extras shared by edge length);
    with more corners than ``n``, ``n`` points at equal arc length instead."""
    polys = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polys if len(p)]
    if n <= 0 or not polys:
        return []
    edges = [(p, np.roll(p, -1, axis=0)) for p in polys]
    lengths = [np.linalg.norm(b - a, axis=1) for a, b in edges]
    corners = sum(len(p) for p in polys)
    out: list[tuple[float, float]] = []
    if corners <= n:
        extra = _largest_remainder(np.concatenate(lengths).tolist(), n - corners)
        e = 0
        for a, b in edges:
            for i in range(len(a)):
                k = extra[e]
                e += 1
                out += [_pt(a[i] + (b[i] - a[i]) * j / (k + 1)) for j in range(k + 1)]
        return out
    per_poly = _largest_remainder([float(ln.sum()) for ln in lengths], n)
    for (a, b), ln, k in zip(edges, lengths, per_poly, strict=True):
        if k == 0:
            continue
        cum = np.concatenate([[0.0], np.cumsum(ln)])
        for t in np.arange(k) * (cum[-1] / k):
            i = min(int(np.searchsorted(cum, t, side="right")) - 1, len(a) - 1)
            f = (t - cum[i]) / ln[i] if ln[i] > 0 else 0.0
            out.append(_pt(a[i] + (b[i] - a[i]) * f))
    return out


def _item(cv: Canvas, gt: dict, style: int, viewpoint: int | None = None) -> dict | None:
    box, lab = gt["box"], gt["label"]
    if box is None:
        return None
    h, w = cv.labels.shape
    x1, y1, x2, y2 = box
    mask = (cv.labels == lab).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    seg, kept = [], []
    for c in contours:
        if len(c) < 3 or cv2.contourArea(c) < 2.0:
            continue  # slivers of a pixel or two are dropped (and left out of the box)
        kept.append(c)
        a = cv2.approxPolyDP(c, 0.8, True)
        seg.append([float(v) for v in (a if len(a) >= 3 else c).reshape(-1)])
    if not seg:
        return None
    bx, by, bw, bh = cv2.boundingRect(np.concatenate(kept))
    box = [bx, by, bx + bw, by + bh]
    x1, y1, x2, y2 = box
    n_marks = LANDMARKS_PER_CLASS[gt["df2_class"]]
    points = outline_landmarks(cv.polys.get(lab, []), n_marks) or [(-1.0, -1.0)] * n_marks
    marks: list[float] = []
    for x, y in points:
        xi, yi = int(round(x)), int(round(y))
        if 0 <= xi < w and 0 <= yi < h:
            y0, y1_, x0, x1_ = max(0, yi - 2), yi + 3, max(0, xi - 2), xi + 3
            vis = 2 if (cv.labels[y0:y1_, x0:x1_] == lab).any() else 1
            marks += [round(float(x), 1), round(float(y), 1), vis]
        else:
            marks += [0.0, 0.0, 0]
    area = (x2 - x1) * (y2 - y1) / float(w * h)
    vis = gt["visible"]
    touching = sum([x1 <= 0, y1 <= 0, x2 >= w, y2 >= h])
    if viewpoint is None:
        viewpoint = 2 if math.cos(gt.get("facing", 0.0)) > 0.7 else 3
    return {
        "category_id": gt["df2_class"],
        "category_name": DF2_CLASSES[gt["df2_class"]],
        "style": style,
        "bounding_box": [int(v) for v in box],
        "landmarks": marks,
        "segmentation": seg,
        "scale": 1 if area < 0.1 else (2 if area < 0.3 else 3),
        "occlusion": 1 if vis >= 0.8 else (2 if vis >= 0.5 else 3),
        "zoom_in": 1 if touching == 0 else (2 if touching == 1 else 3),
        "viewpoint": viewpoint,
    }


def _studio_model(
    spec: ProductSpec, rng: np.random.Generator, size: tuple[int, int]
) -> tuple[np.ndarray, Canvas, list[dict]]:
    """A model in a plain studio, facing the camera (a DeepFashion2 'shop' picture)."""
    from .scenes import _cast

    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (244, 243, 240)
    cv = Canvas(img)
    actors, labels = _cast(spec, rng, 0)
    pose = Pose(cx=w / 2, feet_y=h * 0.97, height=h * 0.9)
    draw_person(cv, actors[0].person, pose, [lab for _, _, lab in labels[0]])
    gts = []
    for pid, cls, lab in labels[0]:
        box, vis = cv.garment_truth(lab)
        gts.append(
            {"product_id": pid, "df2_class": cls, "box": box, "visible": vis, "label": lab, "facing": 0.0}
        )
    return img, cv, gts


def _flat(spec: ProductSpec, size: tuple[int, int]) -> tuple[np.ndarray, Canvas, list[dict]]:
    """The garment alone on a plain background (viewpoint 1: no wear)."""
    canvases: list[Canvas] = []
    img = studio_shot(spec.garment, size, canvas=canvases)
    cv = canvases[0]
    box, vis = cv.garment_truth(1)
    return (
        img,
        cv,
        [
            {
                "product_id": spec.product_id,
                "df2_class": spec.garment.df2_class,
                "box": box,
                "visible": vis,
                "label": 1,
                "facing": 0.0,
            }
        ],
    )


def _pair_done(root: Path, done_dir: Path | None, pair: int, split: str, first: int) -> int | None:
    """How many images pair ``pair`` wrote in a run cut short (its record in ``done_dir``, written
    after them, names ``split`` and the first image number ``first`` this run expects, and every
    image and annotation it names is there); None when it is to be drawn again."""
    if done_dir is None:
        return None
    try:
        rec = json.loads((done_dir / f"{pair}.json").read_text(encoding="utf-8"))
        n = rec["images"]
        if rec["split"] != split or rec["first"] != first or type(n) is not int or n < 0:
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None
    names = [f"{k:06d}" for k in range(first, first + n)]
    if all(
        (root / split / "image" / f"{m}.jpg").is_file() and (root / split / "annos" / f"{m}.json").is_file()
        for m in names
    ):
        return n
    return None


def generate_df2(out: Path, seed: int, cfg: WorldConfig, quick: bool, *, done_dir: Path | None = None) -> str:
    """Write the mini set under ``out/df2``; returns its path relative to ``out``.

    Every file is written atomically. ``done_dir``: a record per pair is written there once its
    files are (``<pair>.json``: its split, first image number and image count), and a pair whose
    record names files that are all there is not drawn again: each pair draws from its own
    random stream, so a run cut short resumes byte-identical to an uninterrupted one."""
    root = out / "df2"
    n_pairs = cfg.df2_quick_pairs if quick else cfg.df2_pairs
    counters = {"train": 0, "validation": 0}
    lo, hi = cfg.df2_users_per_pair
    for pair in range(1, n_pairs + 1):
        split = "validation" if pair % 5 == 0 else "train"
        first = counters[split] + 1
        if (n := _pair_done(root, done_dir, pair, split, first)) is not None:
            counters[split] += n
            continue
        rng = np.random.default_rng([seed, pair, 2002])
        base = random_garment(rng, (pair - 1) % 13 + 1)
        styles = [base] + ([confusable_twin(rng, base)] if rng.random() < 0.3 else [])
        for style, g in enumerate(styles, start=1):
            spec = ProductSpec(
                index=pair, product_id=f"df2-{pair}-{style}", source="netaporter", kind="clothing", garment=g
            )
            shots: list[tuple[str, tuple[np.ndarray, Canvas, list[dict]], int | None]] = []
            if rng.random() < 0.5:
                shots.append(("shop", _studio_model(spec, rng, (256, 320)), None))
            else:
                shots.append(("shop", _flat(spec, (256, 320)), 1))
            for _ in range(int(rng.integers(lo, hi + 1))):
                hard = rng.random() < 0.5
                size = (288, 384)
                scene = (hard_scene if hard else regular_scene)(spec, rng, size, 30)
                t = int(rng.integers(0, 30))
                img, cv, gts = scene.render(t)
                if not any(g["product_id"] == spec.product_id and g["box"] for g in gts):
                    img, cv, gts = scene.render(int(rng.integers(0, 30)))
                shots.append(("user", (img, cv, gts), None))
            for source, (img, cv, gts), viewpoint in shots:
                items = []
                for gt in gts:
                    st = style if gt["product_id"] == spec.product_id else 0
                    it = _item(cv, gt, st, viewpoint)
                    if it is not None:
                        items.append(it)
                if not items:
                    continue
                counters[split] += 1
                name = f"{counters[split]:06d}"
                write_image(root / split / "image" / f"{name}.jpg", img)
                anno = {"source": source, "pair_id": pair}
                for k, it in enumerate(items, start=1):
                    anno[f"item{k}"] = it
                atomic_write_json(root / split / "annos" / f"{name}.json", anno, indent=None)
        if done_dir is not None:
            record = {"split": split, "first": first, "images": counters[split] - first + 1}
            atomic_write_json(done_dir / f"{pair}.json", record)
    return "df2"
