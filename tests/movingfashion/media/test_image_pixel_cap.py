"""A decompression bomb (a small PNG declaring a huge picture) is refused from its header, before
anything is decoded, by every reader of images: read_image, image_size, the clean probe and the
collector's check; a large but sane picture still reads."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from cleaning.probe import probe_image as clean_probe_image
from collectors.checks import probe_image as collect_probe_image
from movingfashion.media import images
from movingfashion.media.images import ImageTooLarge, image_size, read_image
from schemas.errors import FetchError, MediaError


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(path: Path, w: int, h: int) -> Path:
    """A valid grey PNG of w x h, all zeros: a few hundred KB that decode to w*h bytes."""
    raw = zlib.compressobj(9)
    row = b"\x00" * (w + 1)  # filter byte + pixels
    body = b"".join(raw.compress(row) for _ in range(h)) + raw.flush()
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bomb_png(tmp_path_factory.mktemp("bomb") / "bomb.png", 12000, 10000)  # 120 MP, ~120 KB


def test_read_image_refuses_it_unread(bomb: Path) -> None:
    with pytest.raises(ImageTooLarge, match=r"12000x10000 \(120 megapixels\), over the limit of 100") as err:
        read_image(bomb)
    assert "bomb.png" in str(err.value)


def test_probes_reject_it_naming_the_reason(bomb: Path) -> None:
    result = clean_probe_image(bomb)
    assert not result.ok and result.reason.startswith("too_large: image too large: 12000x10000")
    with pytest.raises(FetchError, match="image too large") as err:
        collect_probe_image(bomb)
    assert err.value.reason == "not_an_image"


def test_pillows_own_bomb_error_becomes_a_media_error(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Beyond Pillow's limit (twice MAX_IMAGE_PIXELS of Pillow) image_size raised Pillow's raw error."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = _bomb_png(tmp_path / "b.png", 100, 100)
    with pytest.raises(MediaError, match="image too large: more than 0 megapixels"):
        image_size(path)
    with pytest.raises(ImageTooLarge):
        read_image(path)


def test_a_picture_under_the_cap_reads(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = _bomb_png(tmp_path / "ok.png", 400, 300)
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 400 * 300)
    assert read_image(path).shape == (300, 400, 3)
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 400 * 300 - 1)
    with pytest.raises(ImageTooLarge, match="400x300"):
        read_image(path)


def test_a_file_that_is_no_image_stays_a_media_error_once_ultralytics_is_loaded(tmp_path: Path) -> None:
    """ultralytics replaces PIL's Image.open by one that raises ImportError (no HEIF plugin) on a
    file Pillow cannot identify: the image readers still say the file is no image."""
    from movingfashion.models.detectors.ultralytics_backend import load_ultralytics

    load_ultralytics()
    import ultralytics.utils.patches  # noqa: F401 - what patches Image.open

    path = tmp_path / "b.jpg"
    path.write_bytes(b"not an image at all" * 20)
    with pytest.raises(MediaError, match="does not decode"):
        read_image(path)
    with pytest.raises(MediaError, match="not a readable image"):
        image_size(path)
    assert not clean_probe_image(path).ok
