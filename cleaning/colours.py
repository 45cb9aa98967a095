"""Colour measures of product shots and fabric close-ups, shared by the association check's
colour rules (:mod:`cleaning.associations`) and the carousel pick (:mod:`cleaning.shop_pick`)."""

from __future__ import annotations

import numpy as np

#: a pixel of a product shot belongs to its object when its RGB values differ from the border
#: colour (the median of the outermost lines) by more than this in all
OBJECT_DISTANCE = 40


def object_mask(image: np.ndarray, distance: float = OBJECT_DISTANCE) -> np.ndarray:
    """Boolean mask of the object of a product shot: the pixels whose RGB values differ from the
    border colour (median of the outermost rows and columns) by more than ``distance`` in all."""
    img = image.astype(np.float32)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    return np.abs(img - np.median(border, axis=0)).sum(axis=2) > distance


def object_colour(image: np.ndarray) -> list[float]:
    """Mean RGB colour of the object of a product shot (:func:`object_mask`); of the whole picture
    when under 1% of it is object (a close-up, a picture without a plain border)."""
    mask = object_mask(image)
    pixels = image[mask] if mask.sum() >= 0.01 * mask.size else image.reshape(-1, image.shape[-1])
    return [round(float(c), 2) for c in pixels.astype(np.float32).mean(axis=0)[:3]]


def mean_colour(image: np.ndarray) -> list[float]:
    """Mean RGB colour of a whole picture (a fabric close-up fills its frame)."""
    return [
        round(float(c), 2) for c in image.reshape(-1, image.shape[-1]).astype(np.float32).mean(axis=0)[:3]
    ]


def colour_distance(a: list[float], b: list[float]) -> float:
    """L1 distance of two RGB colours (0-765)."""
    return float(np.abs(np.array(a, np.float32) - np.array(b, np.float32)).sum())
