"""Read and write still images as uint8 RGB arrays (OpenCV codecs, errors naming the file).

EXIF orientation: :func:`read_image` turns a tagged JPEG upright by default (``orientation=
"exif"``, what viewers show); annotation boxes in stored pixels (DeepFashion2) need
``orientation="stored"``, the convention of :func:`image_size` too.

Size cap: an image whose header declares more than :data:`MAX_IMAGE_PIXELS` pixels is refused
before anything is decoded (:class:`ImageTooLarge`): a 1 MB PNG can declare 20000 x 20000 and
cost 2.4 GB at every decode (a decompression bomb); no shop picture is that large.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from schemas.errors import MediaError

#: Images declaring more pixels than this are refused unread (a 48-megapixel phone photo passes).
MAX_IMAGE_PIXELS = 100_000_000


class ImageTooLarge(MediaError):
    """An image declares more pixels than :data:`MAX_IMAGE_PIXELS` (refused before decoding)."""


#: HEIF brands (ISO BMFF ``ftyp`` major or compatible brands) by the file suffix they call for
_HEIF_BRANDS = {
    b"avif": "avif",
    b"avis": "avif",
    b"heic": "heic",
    b"heix": "heic",
    b"heim": "heic",
    b"heis": "heic",
    b"hevc": "heic",
    b"hevx": "heic",
    b"mif1": "heif",
    b"msf1": "heif",
}


def image_format_of(head: bytes) -> str | None:
    """The image format the first bytes of a file are (at least 32 for HEIF's brands), as its
    usual suffix: ``jpg``, ``png``, ``gif``, ``webp``, ``bmp``, ``tiff``, ``avif``, ``heic`` or
    ``heif``; None for anything else (what a URL or a content type claims is not looked at)."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(len(head), 32) - 3, 4)]
        kinds = [_HEIF_BRANDS[b] for b in brands if b in _HEIF_BRANDS]
        for kind in ("avif", "heic", "heif"):  # the most specific a brand list names
            if kind in kinds:
                return kind
    return None


def image_file_format(path: str | os.PathLike[str]) -> str | None:
    """:func:`image_format_of` the file ``path`` (its first 32 bytes)."""
    with open(path, "rb") as fh:
        return image_format_of(fh.read(32))


def _too_large(path: Path, what: str) -> ImageTooLarge:
    return ImageTooLarge(
        f"image too large: {what}, over the limit of {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels (a decompression"
        " bomb, or not a shop picture)",
        where=str(path),
        hint="resize it (a shop image needs a few megapixels at most) or drop it",
    )


def _pil_open(path: str | os.PathLike[str]) -> Any:
    """Pillow's own ``Image.open``: ultralytics, once imported, replaces it by one that, on a file
    Pillow cannot identify, tries to load (and may pip-install) a HEIF plugin and raises
    ImportError when it is not there; a file that is not an image must be an
    ``UnidentifiedImageError`` here, whoever imported what."""
    import sys

    from PIL import Image

    patches = sys.modules.get("ultralytics.utils.patches")
    original = getattr(patches, "_image_open", None) if patches is not None else None
    return (original if callable(original) else Image.open)(path)


#: Pillow modes that carry an alpha channel
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _checked_header(path: Path) -> tuple[int, int, bool] | None:
    """(width, height, whether it has transparency) from one header read by Pillow, nothing
    decoded; :class:`ImageTooLarge` past :data:`MAX_IMAGE_PIXELS`; None when Pillow cannot
    read the header (the decoder says what the file is)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _pil_open(path) as im:
                w, h = int(im.size[0]), int(im.size[1])
                clear = im.mode in _ALPHA_MODES or "transparency" in im.info
    except Image.DecompressionBombError:
        raise _too_large(
            path, f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    _check_pixels(path, w, h)
    return w, h, clear


def _check_pixels(path: Path, w: int, h: int) -> None:
    """:class:`ImageTooLarge` when ``w`` x ``h`` is past :data:`MAX_IMAGE_PIXELS`."""
    if w * h > MAX_IMAGE_PIXELS:
        raise _too_large(path, f"{w}x{h} ({w * h / 1e6:.0f} megapixels)")


#: JPEG start-of-frame markers (every coding process but the DHT / JPG / DAC markers among 0xC0-0xCF)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: markers that stand alone (no length field): TEM, RST0-7, SOI
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def _jpeg_header(data: np.ndarray) -> tuple[int, int, bool] | None:
    """(width, height, False) of a JPEG from its bytes ``data``: the start-of-frame marker found
    by walking the segments, nothing decoded (a JPEG has no transparency). None when ``data`` is
    no JPEG or the walk does not reach a frame header with a size; :func:`_checked_header` then
    asks Pillow. The same size Pillow reads, without its marker parser in Python: a tenth of
    what a small shop image costs to read (docs/performance.md, per-clip overhead)."""
    buf = data.data if data.ndim == 1 and data.dtype == np.uint8 else None
    if buf is None or len(buf) < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return None
    i, end = 2, len(buf)
    while i + 3 < end:
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:  # a fill byte before the marker
            i += 1
            continue
        if marker in _JPEG_STANDALONE:
            i += 2
            continue
        if marker in _JPEG_SOF:
            if i + 9 > end:
                return None
            h, w = (buf[i + 5] << 8) | buf[i + 6], (buf[i + 7] << 8) | buf[i + 8]
            return (w, h, False) if w and h else None  # 0: a DNL marker gives it later
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        i += 2 + ((buf[i + 2] << 8) | buf[i + 3])
    return None


def check_image_pixels(path: str | os.PathLike[str]) -> None:
    """Raise :class:`ImageTooLarge` when the header of ``path`` declares more than
    :data:`MAX_IMAGE_PIXELS` pixels; nothing is decoded, and a header Pillow cannot read passes."""
    _checked_header(Path(path))


def read_image(
    path: str | os.PathLike[str],
    size: tuple[int, int] | None = None,
    *,
    orientation: Literal["exif", "stored"] = "exif",
) -> np.ndarray:
    """An image file as uint8 RGB ``[H, W, 3]``; ``size`` = ``(height, width)`` resizes (INTER_AREA).

    ``orientation``: ``"exif"`` turns the picture upright as its EXIF orientation tag says (what a
    viewer shows; a published shop image re-encoded from it keeps that look); ``"stored"`` keeps
    the pixels as stored, the frame annotation boxes are drawn in (DeepFashion2's boxes, like the
    official annotation tool and cocoapi, and the sizes :func:`image_size` gives). The two differ
    only for a JPEG whose tag says to rotate or flip it.

    A picture with transparency (a PNG/WebP cut-out's alpha channel, a palette's transparent
    colour) is composited over white, as a viewer on a white page shows it (the colour hidden
    under transparent pixels is never returned).

    Raises :class:`MediaError` naming the file when it is missing or does not decode.
    """
    import cv2

    p = Path(path)
    if orientation not in ("exif", "stored"):
        raise ValueError(f"orientation must be 'exif' or 'stored', got {orientation!r}")
    if not p.is_file():
        raise MediaError("image file not found", where=str(p), hint="check the image path")
    data = np.fromfile(str(p), dtype=np.uint8)
    header = _jpeg_header(data)
    if header is None:
        header = _checked_header(p)
    else:
        _check_pixels(p, header[0], header[1])
    # RGB straight from the decoder: the same bytes as decoding to BGR and swapping, one pass less
    flags = cv2.IMREAD_COLOR_RGB | (cv2.IMREAD_IGNORE_ORIENTATION if orientation == "stored" else 0)
    img = cv2.imdecode(data, flags) if data.size else None
    if img is None or img.size == 0:
        raise MediaError("image does not decode", where=str(p), hint="the file is corrupt or not an image")
    # only a header with transparency is opened again (most shop images have none)
    alpha = _alpha(p, orientation) if header is not None and header[2] else None
    if alpha is not None and alpha.shape == img.shape[:2]:
        img = over_white(img, alpha)
    if size is not None:
        img = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
    return img


def _alpha(path: Path, orientation: str) -> np.ndarray | None:
    """Opacity ``[H, W]`` in [0, 1] (float32) of an image with transparency; None when it has none
    or is fully opaque. Read with PIL (palette transparency, grey + alpha, 16-bit alpha), turned
    as the colour is (EXIF orientation when ``orientation="exif"``)."""
    from PIL import ImageOps

    try:
        with _pil_open(path) as im:
            if im.mode not in _ALPHA_MODES and "transparency" not in im.info:
                return None
            if orientation == "exif":
                im = ImageOps.exif_transpose(im)
            a = np.asarray(im.convert("RGBA").getchannel("A"))
    except Exception:  # noqa: BLE001 - a format PIL cannot read: OpenCV's colour, as before
        return None
    return None if a.min() == 255 else a.astype(np.float32) / 255.0


def over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 RGB composited over a white background with opacity ``alpha`` ``[H, W]`` in [0, 1]."""
    a = alpha[..., None]
    return np.rint(rgb.astype(np.float32) * a + 255.0 * (1.0 - a)).astype(np.uint8)


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header (nothing decoded: fast on large
    sets), as stored: an EXIF orientation tag is not applied (``read_image(...,
    orientation="stored")`` gives the same size); :class:`MediaError` naming the file when it is
    missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _pil_open(path) as im:
                return int(im.size[0]), int(im.size[1])
    except FileNotFoundError:
        raise MediaError("image file not found", where=str(path), hint="check the image path") from None
    except Image.DecompressionBombError:
        raise _too_large(
            Path(path), f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels"
        ) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError(f"not a readable image ({type(exc).__name__})", where=str(path)) from None


def encode_image(rgb: np.ndarray, suffix: str = ".png", quality: int = 92) -> bytes:
    """uint8 RGB ``[H, W, 3]`` encoded as ``suffix`` (``.jpg``: JPEG at ``quality``; ``.png``)."""
    import cv2

    suffix = suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix in (".jpg", ".jpeg") else []
    try:
        ok, buf = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    except cv2.error:  # unknown suffix, wrong shape
        ok = False
    if not ok:
        raise MediaError(f"cannot encode a {rgb.shape} image as {suffix}")
    return buf.tobytes()


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 92) -> bytes:
    """Write uint8 RGB as JPEG or PNG (by suffix) atomically; returns the bytes written."""
    from schemas.atomic import atomic_write_bytes

    try:
        data = encode_image(rgb, Path(path).suffix or ".png", quality)
    except MediaError as exc:
        raise MediaError(exc.message, where=str(path)) from None
    atomic_write_bytes(path, data)
    return data
