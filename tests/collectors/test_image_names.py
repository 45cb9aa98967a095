"""Downloaded and adopted shop images are named by what their bytes are, not by the URL's
suffix or the content type (an AVIF or PNG served as ``.jpg`` keeps its own suffix)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from collectors.checks import ext_for
from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from movingfashion.media.images import image_format_of, read_image
from tests.collectors.fakesite import FakeSite, Route, fast_http


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "ext"),
    [
        ("JPEG", "jpg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
        ("AVIF", "avif"),
    ],
)
def test_the_format_comes_from_the_bytes(fmt, ext):
    assert image_format_of(_encoded(fmt)[:32]) == ext


def test_heif_brands_and_unknown_bytes():
    ftyp = b"\x00\x00\x00\x1cftyp"
    assert image_format_of(ftyp + b"heic\x00\x00\x00\x00mif1heic") == "heic"
    assert image_format_of(ftyp + b"mif1\x00\x00\x00\x00mif1avif") == "avif"  # a compatible brand
    assert image_format_of(ftyp + b"mif1\x00\x00\x00\x00mif1miaf") == "heif"
    assert image_format_of(ftyp + b"isom\x00\x00\x02\x00isomiso2") is None  # an MP4 is no image
    assert image_format_of(b"<!doctype html>") is None
    assert image_format_of(b"") is None


def test_ext_for_prefers_the_bytes_then_the_url_then_the_type(tmp_path):
    png = tmp_path / "a"
    png.write_bytes(_encoded("PNG"))
    assert ext_for("https://x/shop.jpg", "image/jpeg", "image", png) == "png"
    odd = tmp_path / "b"
    odd.write_bytes(b"not an image format we name")
    assert ext_for("https://x/shop.jpeg", None, "image", odd) == "jpg"
    assert ext_for("https://x/shop", "image/avif", "image", tmp_path / "missing") == "avif"
    assert ext_for("https://x/clip.jpg", None, "video", png) == "mp4"  # videos: never by image bytes


@pytest.mark.parametrize(("fmt", "ext"), [("AVIF", "avif"), ("PNG", "png"), ("WEBP", "webp")])
def test_a_download_served_as_jpg_is_named_by_its_format_and_reads(tmp_path, fmt, ext):
    body = _encoded(fmt)
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(b"User-agent: *\n", content_type="text/plain")
        site.routes["/img/1.jpg"] = Route(body, content_type="image/jpeg")
        client = PoliteClient(
            HttpConfig(**fast_http(max_retries=1)),
            policy=HostPolicy.of([site.base.split("//")[1]]),
            sleep=lambda s: None,
        )
        dl = client.download(site.url("/img/1.jpg"), tmp_path / "item", "shop", "image")
    assert dl.path == tmp_path / "item" / f"shop.{ext}"
    assert sorted(p.name for p in (tmp_path / "item").iterdir()) == [f"shop.{ext}"]
    assert dl.path.read_bytes() == body
    assert read_image(dl.path).shape == (48, 64, 3)
