"""The perceptual hash: its bits do not depend on float noise."""

from __future__ import annotations

import cv2
import numpy as np

from cleaning.phash import _prepare, dct_hash, hamming, phash


def studio_shot() -> np.ndarray:
    """A dark dress on a light background, symmetric about the vertical axis (about half the
    hash's DCT coefficients are zero, the median among them)."""
    img = np.full((160, 128, 3), 238, np.uint8)
    img[30:150, 34:94] = 40
    img[60:70, 44:84] = 120
    return img


def test_bits_of_a_symmetric_picture_do_not_follow_float_noise():
    small = _prepare(studio_shot(), 0.8)[None]
    base = int(dct_hash(small)[0])
    rng = np.random.default_rng(0)
    # noise far below any pixel step, as another BLAS kernel or summation order gives
    for _ in range(20):
        noisy = small + rng.normal(0, 1e-5, small.shape).astype(np.float32)
        assert int(dct_hash(noisy)[0]) == base
    # so a re-encode of the picture hashes as the picture does
    img = studio_shot()
    jpeg = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_UNCHANGED)
    assert int(hamming(phash(img), phash(jpeg))) <= 2


def test_a_different_picture_still_hashes_apart():
    img = studio_shot()
    other = img.copy()
    other[100:150, 34:64] = 200  # half the skirt lighter: not symmetric any more
    assert int(hamming(phash(img), phash(other))) >= 8
