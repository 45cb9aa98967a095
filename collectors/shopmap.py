"""User mapping files: video (id or URL) -> shop image (URL or local file), CSV or JSON lines.

One video has one shop image: a map whose rows give one video two different shop images is
refused, naming both rows (the same row twice is fine).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from collectors.listfiles import checked_url, is_url
from schemas.errors import DataFormatError
from schemas.paths import other_unicode_forms, resolve_under
from schemas.text_input import load_json, read_text_input

VIDEO_KEYS = ("video", "video_id", "id", "video_url", "url", "shortcode")
SHOP_KEYS = ("shop", "shop_image", "shop_url", "shop_image_url", "shop_path", "image", "image_url")
_MAP_HINT = (
    'one video,shop pair a line in a CSV, one {"video": ID, "shop": URL_OR_FILE} object a line in JSONL'
)


@dataclass(frozen=True)
class ShopRef:
    """Where a video's shop image is: a URL to fetch or a local file to copy."""

    url: str | None = None
    path: Path | None = None
    where: str | None = field(default=None, compare=False)  # the file and row that named it

    @property
    def key(self) -> str:
        return self.url or (self.path.resolve().as_uri() if self.path else "")

    def __str__(self) -> str:
        return self.url or str(self.path or "")


def parse_shop_ref(value: str, base: Path, *, where: str | None = None) -> ShopRef:
    """A shop column: an http(s) URL, or a local file that must lie inside ``base`` (the folder
    of the list or mapping file naming it, symlinks resolved); anything else raises
    :class:`~schemas.paths.PathEscapeError` naming ``where`` (file and line)."""
    value = value.strip()
    if is_url(value):
        return ShopRef(url=checked_url(value, where or str(base)), where=where)
    raw = value[7:] if value.startswith("file://") else value
    path = _under(base, raw, where)
    if not path.exists():
        path = _other_form(base, raw, where) or path
    return ShopRef(path=path, where=where)


def _under(base: Path, raw: str, where: str | None) -> Path:
    """``raw`` resolved inside ``base`` (symlinks followed), or a :class:`PathEscapeError`."""
    return resolve_under(
        base, raw, what="shop image", where=where, root_label="the folder of the list", follow_symlinks=True
    )


def _other_form(base: Path, raw: str, where: str | None) -> Path | None:
    """The file ``raw`` names under its other Unicode normalisation (a name typed in NFC, the
    file copied from a Mac in NFD, or the reverse), checked inside ``base`` like the name itself;
    None when neither or both forms exist (then the exact name is reported missing)."""
    found = {alt for alt_raw in other_unicode_forms(raw) if (alt := _under(base, alt_raw, where)).exists()}
    return found.pop() if len(found) == 1 else None


def load_shop_map(path: str | os.PathLike[str]) -> dict[str, ShopRef]:
    """Mapping file -> {video id or URL: ShopRef}. CSV (header optional: if given, it names a
    video and a shop column) or JSONL; two rows giving one video different shop images, a
    header without both columns or a file without rows raise :class:`DataFormatError`."""
    p = Path(path)
    text = read_text_input(p, "shop mapping")
    rows: list[tuple[str, str, str]] = []
    if p.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            obj = load_json(line, f"{p} line {n}", hint="one JSON object per line")
            if not isinstance(obj, dict):
                raise DataFormatError(
                    f"line {n}: expected a JSON object, got {type(obj).__name__}",
                    where=str(p),
                    hint='one JSON object per line, e.g. {"video": ID, "shop": URL_OR_FILE}',
                )
            video = _field(obj, VIDEO_KEYS, (str, int), f"line {n}", p)
            shop = _field(obj, SHOP_KEYS, (str,), f"line {n}", p)
            if not video or not shop:
                raise DataFormatError(
                    f"line {n}: needs a video key {VIDEO_KEYS} and a shop key {SHOP_KEYS}", where=str(p)
                )
            rows.append((video, shop, f"{p} line {n}"))
        if not rows:
            raise _no_rows(p)
    else:
        table = [r for r in _csv_rows(text, p) if r and not r[0].startswith("#")]
        if not table:
            raise _no_rows(p)
        vcol, scol = 0, 1
        if any(c.strip().lower() in VIDEO_KEYS + SHOP_KEYS for c in table[0]):
            vcol, scol = _header_columns(table[0], p)
            table = table[1:]
        for n, r in enumerate(table, 1):
            if len(r) <= max(vcol, scol):
                raise DataFormatError(f"row {n}: expected a video and a shop column", where=str(p))
            rows.append((r[vcol].strip(), r[scol].strip(), f"{p} row {n}"))
    refs = [(video, parse_shop_ref(shop, p.parent, where=at)) for video, shop, at in rows if video and shop]
    check_one_shop_each(refs)
    return dict(refs)


def _no_rows(p: Path) -> DataFormatError:
    """A map file with no row (nor a header): a write cut short, or the wrong file."""
    return DataFormatError(
        "shop map maps no video to a shop image: it has no rows", where=str(p), hint=_MAP_HINT
    )


def _header_columns(row: list[str], p: Path) -> tuple[int, int]:
    """The (video, shop) column indexes a CSV header names; a header without both is refused,
    naming it and the accepted column names (``vid,url`` has no shop column: ``url`` is a video's)."""
    header = [c.strip().lower() for c in row]
    vcol = next((header.index(k) for k in VIDEO_KEYS if k in header), None)
    scol = next((header.index(k) for k in SHOP_KEYS if k in header), None)
    if vcol is None or scol is None:  # (never one index: the two name lists share no name)
        missing = " and no ".join(w for w, c in (("video", vcol), ("shop", scol)) if c is None)
        raise DataFormatError(
            f"header {','.join(row)!r} has no {missing} column (a video column is one of "
            f"{', '.join(VIDEO_KEYS)}; a shop column one of {', '.join(SHOP_KEYS)})",
            where=str(p),
            hint="name both columns, e.g. video_id,shop_url, or leave the header out: video first, shop second",
        )
    return vcol, scol


def check_one_shop_each(
    refs: Iterable[tuple[str, ShopRef]], same_video: Callable[[str], str | None] = lambda key: key
) -> None:
    """Refuse two shop images for one video: ``refs`` are (video key, shop) pairs, and
    ``same_video`` names the video a key stands for (a URL and an id may name one video)."""
    first: dict[str, tuple[str, ShopRef]] = {}
    for key, ref in refs:
        video = same_video(key) or key
        seen = first.setdefault(video, (key, ref))
        if seen[1].key != ref.key:
            named = repr(video) if seen[0] == key else f"{video!r} (named {seen[0]!r} and {key!r})"
            (file_a, at_a), (file_b, at_b) = _split_where(seen[1].where), _split_where(ref.where)
            if file_a != file_b:
                at_a, at_b = seen[1].where, ref.where
            raise DataFormatError(
                f"video {named} has two shop images: {at_a} gives {seen[1]}, {at_b} gives {ref}",
                where=file_b if file_a == file_b else None,
                hint="keep one shop image per video: delete or correct one of the two",
            )


def _split_where(where: str | None) -> tuple[str | None, str]:
    """``"FILE row 3"`` -> (``FILE``, ``"row 3"``)."""
    parts = (where or "?").rsplit(" ", 2)
    return (parts[0], " ".join(parts[1:])) if len(parts) == 3 else (None, where or "?")


def _csv_rows(text: str, p: Path) -> list[list[str]]:
    """The CSV rows of ``text``; a row :mod:`csv` cannot read (a field over its 131072-character
    limit) is a :class:`DataFormatError` naming the file and line."""
    reader = csv.reader(text.splitlines())
    try:
        return list(reader)
    except csv.Error as exc:
        raise DataFormatError(
            f"line {reader.line_num}: {exc}", where=str(p), hint="one video,shop pair a line"
        ) from None


def _field(
    obj: dict[str, Any], keys: tuple[str, ...], types: tuple[type, ...], at: str, p: Path
) -> str | None:
    """The first set key of ``keys`` in a JSONL row, as text; a value of another type is refused."""
    for k in keys:
        value = obj.get(k)
        if not value:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            want = "a string or a number" if int in types else "a string"
            raise DataFormatError(f"{at}: {k!r} must be {want}, got {type(value).__name__}", where=str(p))
        return str(value)
    return None


def lookup(mapping: dict[str, ShopRef], *keys: str | None) -> ShopRef | None:
    for k in keys:
        if k and k in mapping:
            return mapping[k]
    return None


def url_hosts(mapping: dict[str, ShopRef]) -> set[str]:
    return {urlsplit(ref.url).netloc for ref in mapping.values() if ref.url}
