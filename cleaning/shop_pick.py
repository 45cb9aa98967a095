"""Choose the shop image among an item's candidate images (Instagram carousels).

A carousel holds the street video and several pictures: the shop picture of the item (a
product shot on a plain background), other products, close-ups. Rule: candidates whose border
is plain (a product shot) come first; among them the one that best matches the video wins: by
the mean of the matcher's score and :func:`colour_coverage` (the matcher alone confuses garments
of one class, colour alone garments of one colour), by colour alone without a matcher. Given the
item's DeepFashion2 class (and a matcher that takes ``category``), the matcher's part of the
ranking scores only the video's detections of that class: another product's shot is not matched
by some other garment of the video. A pick the matcher scores below ``min_class_score`` (a
look-alike whose colours the video shows, but not its garment; the only product shot among
close-ups), or one another product shot beats on that score by more than ``matcher_lead`` (the
colour fit overruled the matcher) is held for review (:func:`unbacked_pick`,
``cleaning.steps.shop_images``). The thresholds are :class:`cleaning.config.ShopPickConfig`
(``shop_pick`` in the cleaning config).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from cleaning.colours import object_mask
from cleaning.config import ShopPickConfig
from cleaning.scorers import takes_category
from movingfashion.media.images import read_image
from movingfashion.media.probe import probe_video
from movingfashion.media.readers import read_frames

_DEFAULTS = ShopPickConfig()
#: frames sampled evenly over the video for the colour comparison (default of ``shop_pick.sample_frames``)
SAMPLE_FRAMES = _DEFAULTS.sample_frames


def plain_border(
    image: np.ndarray,
    max_std: float = _DEFAULTS.plain_border_std,
    object_share: tuple[float, float] = _DEFAULTS.object_share,
    colour_distance: float = _DEFAULTS.object_colour_distance,
) -> bool:
    """True for a product shot: the outer 4% is one flat colour (std at most ``max_std``) and an
    object (``object_share`` of the pixels, further than ``colour_distance`` from that colour)
    stands on it. A close-up of plain fabric is flat everywhere."""
    h, w = image.shape[:2]
    b = max(2, round(0.04 * min(h, w)))
    border = np.concatenate(
        [
            image[:b].reshape(-1, 3),
            image[-b:].reshape(-1, 3),
            image[:, :b].reshape(-1, 3),
            image[:, -b:].reshape(-1, 3),
        ]
    ).astype(np.float32)
    if float(border.std(axis=0).max()) > max_std:
        return False
    far = np.abs(image.astype(np.float32) - np.median(border, axis=0)).sum(axis=2) > colour_distance
    obj = float(far.mean())
    return object_share[0] <= obj <= object_share[1]


def colour_coverage(frames: np.ndarray, shop: np.ndarray) -> float:
    """How much of the shop item's main colours the video shows, in [0, 1].

    The item's pixels are those far from the shop image's border colour; its main colours
    (coarse RGB bins holding >= 10% of them) are looked for in the frames by chromaticity (robust
    to shading) within a brightness ratio; a colour counts fully when 2% of the pixels show it.
    """
    fg = shop.astype(np.float32)[object_mask(shop)]
    if len(fg) == 0:
        return 0.0
    key = (fg // 43).astype(np.int32) @ np.array([36, 6, 1])
    counts = np.bincount(key, minlength=216)
    pix = frames.astype(np.float32).reshape(-1, 3)[::7]
    bright = pix.sum(axis=1) + 1
    total = score = 0.0
    for b in np.argsort(counts)[::-1][:4]:
        if counts[b] < 0.1 * len(fg):
            break
        mean = fg[key == b].mean(axis=0)
        chroma = np.abs(pix / bright[:, None] - mean / (mean.sum() + 1)).sum(axis=1) * 255
        ratio = bright / (mean.sum() + 1)
        frac = float(((chroma < 18) & (ratio > 0.55) & (ratio < 1.4)).mean())
        w = counts[b] / len(fg)
        total, score = total + w, score + w * min(1.0, frac / 0.02)
    return score / total if total else 0.0


def sample_frames(
    video: str | os.PathLike[str], count: int = SAMPLE_FRAMES, crop: tuple[float, ...] | None = None
) -> np.ndarray:
    """``count`` frames spread evenly over ``video`` (the ones :func:`colour_coverage` looks at);
    ``crop`` (x1, y1, x2, y2 in pixels): that region of them (a split-screen video's moving half)."""
    n = probe_video(video).frames
    frames = read_frames(video, sorted({int(i) for i in np.linspace(0, n - 1, count).round()}))
    if crop is not None:
        x1, y1, x2, y2 = (int(round(c)) for c in crop)
        frames = np.ascontiguousarray(frames[:, max(0, y1) : y2, max(0, x1) : x2])
    return frames


@dataclass(frozen=True)
class Pick:
    index: int
    scores: list[float]
    plain: list[bool]
    method: str
    match_scores: list[float] | None = None  # the matcher's own scores (None by colour alone)
    class_match_scores: list[float] | None = None  # the same on the item's class (None: not scored so)


def pick_shop(
    video: str | os.PathLike[str],
    candidates: list[str | os.PathLike[str]],
    scorer=None,
    category: int | None = None,
    cfg: ShopPickConfig | None = None,
) -> Pick | None:
    """Index of the candidate most likely to be the item's shop image (None without candidates);
    ``category``: the item's DeepFashion2 class, ranked on when the scorer takes it; ``cfg``: the
    thresholds (default :class:`~cleaning.config.ShopPickConfig`)."""
    if not candidates:
        return None
    cfg = cfg or _DEFAULTS
    imgs = [read_image(c) for c in candidates]
    plain = [
        plain_border(im, cfg.plain_border_std, cfg.object_share, cfg.object_colour_distance) for im in imgs
    ]
    frames = sample_frames(video, cfg.sample_frames)
    scores = [float(colour_coverage(frames, im)) for im in imgs]
    method, match, on_class = "colour", None, None
    if scorer is not None:
        match = [round(float(scorer.score(str(video), str(c))), 4) for c in candidates]
        ranked = match
        if category is not None and takes_category(scorer):
            on_class = [
                round(float(scorer.score(str(video), str(c), category=category)), 4) for c in candidates
            ]
            ranked = on_class
        scores = [(m + c) / 2 for m, c in zip(ranked, scores, strict=True)]
        method = "matcher+colour" if on_class is None else "matcher on the item's class+colour"
    order = sorted(range(len(candidates)), key=lambda i: (not plain[i], -scores[i], i))
    return Pick(order[0], [round(float(s), 4) for s in scores], plain, method, match, on_class)


def unbacked_pick(pick: Pick, cfg: ShopPickConfig | None = None) -> str | None:
    """Why the matcher does not back ``pick`` (None when it does, or without a matcher): its score
    (on the item's class when scored so) is below ``cfg.min_class_score``, or another product shot
    beats it on that score by more than ``cfg.matcher_lead``."""
    cfg = cfg or _DEFAULTS
    on = pick.class_match_scores if pick.class_match_scores is not None else pick.match_scores
    if not on:
        return None
    mine = float(on[pick.index])
    if cfg.min_class_score is not None and mine < cfg.min_class_score:
        return f"its matcher score {mine} < {cfg.min_class_score}"
    shots = [float(m) for m, plain in zip(on, pick.plain, strict=False) if plain] or [mine]
    if cfg.matcher_lead is not None and max(shots) - mine > cfg.matcher_lead:
        return f"another product shot scores {max(shots)} against its {mine}, a lead over {cfg.matcher_lead}"
    return None
