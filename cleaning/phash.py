"""64-bit DCT perceptual hashes of frames and images.

An image is turned grey, centre-cropped (``crop_fraction``, so small crops and borders
matter less), resized to 32x32 and brightness-normalised (zero mean, unit variance); the 8x8
lowest DCT frequencies are compared with their median (DC term excluded from the median) to
give 64 bits (:func:`dct_hash`; a bit is set only above the median by :data:`TIE_MARGIN`, so
coefficients at the median, which symmetric images have many of, give the same bits on every
machine). Re-encoding, resizing, a small crop or a brightness change move few bits. Video
frames are hashed the same way, per window of their content box (:mod:`cleaning.views`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_N = 32
#: side of the grey thumbnail that is hashed
HASH_SIDE = _N


def _dct_matrix(n: int = _N) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(math.pi * (2 * x + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m.astype(np.float32)


_D = _dct_matrix()
#: version of the hash: a rerun's cached hashes of another version are not reused
HASH_VERSION = 2
#: a coefficient must exceed the median by more than this to set its bit. An image symmetric about
#: its vertical axis (a studio shot) has about half its coefficients at zero, the median among
#: them: without a margin those bits were float noise, which changed between a picture and its
#: re-encode (17 bits of 64 apart) and between machines; normalised coefficients reach ~30.
TIE_MARGIN = 0.01
_WEIGHTS = (np.uint64(1) << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def _prepare(img: np.ndarray, crop_fraction: float) -> np.ndarray:
    grey = img if img.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    ch, cw = max(1, round(h * crop_fraction)), max(1, round(w * crop_fraction))
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    small = cv2.resize(grey[y0 : y0 + ch, x0 : x0 + cw], (_N, _N), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )
    return (small - small.mean()) / (small.std() + 1e-3)


def normalise(small: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per image of a float32 batch ``[N, 32, 32]`` (brightness/contrast out)."""
    return (small - small.mean(axis=(1, 2), keepdims=True)) / (small.std(axis=(1, 2), keepdims=True) + 1e-3)


def dct_coefficients(small: np.ndarray) -> np.ndarray:
    """The 8x8 lowest DCT frequencies ``[N, 8, 8]`` (rows: vertical frequency) of a batch of
    normalised 32x32 grey images ``[N, 32, 32]``."""
    x = np.asarray(small, dtype=np.float32)
    return (_D @ x @ _D.T)[:, :8, :8]


def hash_bits(coeffs: np.ndarray) -> np.ndarray:
    """uint64 hashes of DCT coefficients ``[N, 8, 8]`` (:func:`dct_coefficients`): a bit per
    coefficient above the median of the non-DC ones by more than :data:`TIE_MARGIN`."""
    c = np.asarray(coeffs, dtype=np.float32).reshape(len(coeffs), 64)
    if len(c) == 0:
        return np.zeros(0, np.uint64)
    med = np.median(c[:, 1:], axis=1, keepdims=True)
    bits = (c > med + TIE_MARGIN).astype(np.uint64)
    return (bits * _WEIGHTS).sum(axis=1, dtype=np.uint64)


def dct_hash(small: np.ndarray) -> np.ndarray:
    """uint64 hashes of a batch of normalised 32x32 grey images ``[N, 32, 32]`` (float32)."""
    if len(small) == 0:
        return np.zeros(0, np.uint64)
    return hash_bits(dct_coefficients(small))


_SIGN = (-1.0) ** np.arange(8, dtype=np.float32)  # a basis function's sign when its axis is reversed


def turned_hashes(coeffs: np.ndarray) -> np.ndarray:
    """uint64 hashes ``[N, 3]`` of the images turned 1, 2 and 3 quarter turns counter-clockwise
    (``np.rot90``), from the unturned images' coefficients ``[N, 8, 8]``, without a new DCT.

    Reversing an axis of the image negates the coefficients odd along it and a transpose swaps
    the frequencies: a quarter turn is a transpose of one reversed axis. The bits equal
    :func:`dct_hash` of the turned image up to float rounding at the threshold.
    """
    return np.stack([hash_bits(t) for t in _turned_coefficients(coeffs)], axis=1)


def mirrored_turned_hashes(coeffs: np.ndarray) -> np.ndarray:
    """uint64 hashes ``[N, 3]`` of the images turned 1, 2 and 3 quarter turns counter-clockwise
    and then mirrored left-right (``np.fliplr(np.rot90(x, k))``), from the unturned images'
    coefficients ``[N, 8, 8]`` like :func:`turned_hashes`: a mirror negates the coefficients odd
    along the horizontal axis. With the mirror and the turns these are the eight ways a picture
    can be flipped and turned by quarter turns (the mirror turned 180 degrees is a vertical flip)."""
    col = _SIGN[None, :]
    return np.stack([hash_bits(col * t) for t in _turned_coefficients(coeffs)], axis=1)


def _turned_coefficients(coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coefficients of the images turned 1, 2 and 3 quarter turns counter-clockwise."""
    c = np.asarray(coeffs, dtype=np.float32)
    row, col = _SIGN[:, None], _SIGN[None, :]
    ct = np.swapaxes(c, 1, 2)
    return row * ct, row * col * c, col * ct


def phash_batch(images: np.ndarray | list[np.ndarray], crop_fraction: float = 0.8) -> np.ndarray:
    """uint64 pHash of every image (uint8 RGB [H,W,3] or grey [H,W]); returns shape [N]."""
    if len(images) == 0:
        return np.zeros(0, np.uint64)
    return dct_hash(np.stack([_prepare(im, crop_fraction) for im in images]))


def phash(image: np.ndarray, crop_fraction: float = 0.8) -> int:
    """pHash of one image as a Python int."""
    return int(phash_batch([image], crop_fraction)[0])


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Element-wise Hamming distance of uint64 codes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))).astype(
        np.int64
    )
