"""read_image / write_image: RGB uint8 in and out, resizing, errors naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from movingfashion.media.images import encode_image, read_image, write_image
from schemas.errors import MediaError


def test_png_round_trip_is_exact_and_rgb(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[..., 0] = 200  # red
    img[5:10, 5:10] = (0, 0, 255)
    data = write_image(tmp_path / "a.png", img)
    assert (tmp_path / "a.png").read_bytes() == data == encode_image(img, ".png")
    assert np.array_equal(read_image(tmp_path / "a.png"), img)


def test_jpeg_quality_and_resize(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    small = len(write_image(tmp_path / "lo.jpg", img, quality=20))
    big = len(write_image(tmp_path / "hi.jpg", img, quality=95))
    assert small < big
    assert read_image(tmp_path / "hi.jpg", (32, 24)).shape == (32, 24, 3)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(MediaError, match="gone.jpg: image file not found"):
        read_image(tmp_path / "gone.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(MediaError, match="bad.jpg: image does not decode"):
        read_image(tmp_path / "bad.jpg")
    with pytest.raises(MediaError, match="x.nope"):
        write_image(tmp_path / "x.nope", np.zeros((4, 4, 3), np.uint8))
    assert not (tmp_path / "x.nope").exists()


def test_exif_orientation_is_applied_or_kept_as_stored(tmp_path):
    """'exif' (the default) shows the picture upright as a viewer does; 'stored' keeps the
    pixels annotation boxes are drawn in, the size image_size() reads from the header."""
    from PIL import Image

    from movingfashion.media.images import image_size

    a = np.zeros((100, 200, 3), np.uint8)
    a[:, :20] = (255, 0, 0)  # a red band on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif, quality=95)
    shown = read_image(tmp_path / "r.jpg")
    stored = read_image(tmp_path / "r.jpg", orientation="stored")
    assert shown.shape[:2] == (200, 100) and shown[:20, :, 0].mean() > 200  # the band on top
    assert stored.shape[:2] == (100, 200) and stored[:, :20, 0].mean() > 200
    assert image_size(tmp_path / "r.jpg") == (200, 100) == stored.shape[1::-1]
    with pytest.raises(ValueError, match="orientation"):
        read_image(tmp_path / "r.jpg", orientation="upright")
