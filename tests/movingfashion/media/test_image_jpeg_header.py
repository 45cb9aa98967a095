"""read_image takes a JPEG's size from its bytes (no Pillow header parse): the same size Pillow
reads, the same pixels, and the pixel cap still refuses a JPEG that declares too many."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from movingfashion.media import images
from movingfashion.media.images import ImageTooLarge, read_image


def _jpegs(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (37, 53, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate: the stored size is what the cap weighs
    variants = {
        "base": {},
        "progressive": {"progressive": True},
        "comment": {"comment": b"shop"},
        "exif": {"exif": exif.tobytes()},
    }
    out = []
    for name, kw in variants.items():
        buf = io.BytesIO()
        im.save(buf, "JPEG", **kw)
        out.append(tmp_path / f"{name}.jpg")
        out[-1].write_bytes(buf.getvalue())
    gray = tmp_path / "gray.jpg"
    im.convert("L").save(gray)
    data = (tmp_path / "base.jpg").read_bytes()
    fill = tmp_path / "fill.jpg"
    fill.write_bytes(data[:2] + b"\xff\xff" + data[2:])  # fill bytes before a marker
    return [*out, gray, fill]


def test_jpeg_header_is_pillows_size(tmp_path: Path) -> None:
    for path in _jpegs(tmp_path):
        with Image.open(path) as im:
            want = (*im.size, False)
        assert images._jpeg_header(np.fromfile(path, np.uint8)) == want, path.name


def test_not_a_jpeg_or_cut_short_is_left_to_pillow(tmp_path: Path) -> None:
    data = (_jpegs(tmp_path)[0]).read_bytes()
    png = io.BytesIO()
    Image.new("RGB", (5, 4)).save(png, "PNG")
    for blob in (png.getvalue(), data[:20], b"\xff\xd8", b""):
        assert images._jpeg_header(np.frombuffer(blob, np.uint8)) is None


def test_read_image_reads_a_jpeg_without_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _jpegs(tmp_path)
    want = {p: read_image(p) for p in paths}

    def no_pillow(path: Path) -> None:
        raise AssertionError(f"Pillow read the header of {path}")

    monkeypatch.setattr(images, "_checked_header", no_pillow)
    for p in paths:
        assert np.array_equal(read_image(p), want[p]), p.name

    # the pixel cap still refuses a JPEG that declares too many, Pillow unasked
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 53 * 37 - 1)
    with pytest.raises(ImageTooLarge, match=r"53x37 \(0 megapixels\)") as err:
        read_image(paths[0])
    assert "base.jpg" in str(err.value)
