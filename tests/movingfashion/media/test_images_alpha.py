"""read_image composites a picture with transparency over white (what a viewer shows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from movingfashion.media.images import read_image


def _cutout() -> np.ndarray:
    rgba = np.zeros((40, 30, 4), np.uint8)  # transparent black background
    rgba[10:30, 5:25] = (200, 30, 30, 255)  # an opaque red garment
    rgba[0:5, 0:5] = (0, 0, 200, 128)  # a half-transparent blue corner
    return rgba


def test_transparent_background_reads_white_and_opaque_pixels_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "shop.png"
    Image.fromarray(_cutout(), "RGBA").save(p)
    img = read_image(p)
    assert img.shape == (40, 30, 3)
    assert img[35, 2].tolist() == [255, 255, 255]
    assert img[20, 15].tolist() == [200, 30, 30]
    assert img[2, 2].tolist() == [127, 127, 227]  # 0.502 blue over white
    assert read_image(p, size=(20, 15))[19, 0].tolist() == [255, 255, 255]


def test_palette_transparency_and_grey_alpha_read_white(tmp_path: Path) -> None:
    pal = tmp_path / "pal.png"
    im = Image.fromarray(_cutout()[..., :3], "RGB").convert("P", palette=Image.ADAPTIVE, colors=4)
    black = im.getpixel((0, 39))
    im.save(pal, transparency=black)
    assert read_image(pal)[35, 2].tolist() == [255, 255, 255]
    la = tmp_path / "la.png"
    grey = np.zeros((8, 8, 2), np.uint8)
    grey[:4, :, 1] = 255
    Image.fromarray(grey, "LA").save(la)
    img = read_image(la)
    assert img[0, 0].tolist() == [0, 0, 0] and img[7, 7].tolist() == [255, 255, 255]


def test_opaque_and_plain_images_are_read_as_before(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (16, 12, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((16, 12), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    Image.fromarray(rgb, "RGB").save(tmp_path / "rgb.png")
    assert np.array_equal(read_image(tmp_path / "opaque.png"), rgb)
    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)
