"""Your own videos and shop images, from disk: ``mf-collect local MANIFEST|FOLDER``.

A manifest is a CSV file with a header row (or JSON lines, ``.jsonl``), one item a row::

    video,shop_image,id,partition,class,title
    clips/look-01.mp4,shops/look-01.jpg,look-01,hard,trousers,Wide-leg trousers
    clips/look-02.mov,shops/look-02.png,,regular,10,

- ``video`` (required): the video file, relative to the manifest's folder;
- ``shop_image``: its shop image, a file relative to the manifest's folder or an http(s) URL;
- ``id``: the item's id (default: the video's file stem; ``[A-Za-z0-9._-]``, two rows may not
  share one);
- ``partition``: ``regular`` (one person, plain background) or ``hard`` (default: the
  ``[local] partition`` setting, hard);
- ``class``: the DeepFashion2 class, by number (1-13), COCO name (``short_sleeved_shirt``) or
  annotation name (``short sleeve top``). Given, cleaning takes it as the item's class; left
  out, cleaning's taxonomy reads ``title``, ``description`` and ``caption`` as it reads a site's
  metadata (no garment word: the item waits for a class in ``mf review``).

A folder: every video in it or below (``[local] video_extensions``) is one item, paired with
the image of the same stem beside it (``look-01.mp4`` + ``look-01.jpg``), its id from its path
(:func:`folder_ids`: ``day2/IMG 0001.MOV`` is ``day2-IMG-0001``).

Every file a row names must lie inside the manifest's folder (symlinks are followed, then
checked); the item records it relative to that folder and has no URL (no path of the user's is
published). Files are copied into ``ROOT/local/<id>/`` and probed as downloads are; a missing
file leaves its item failed, naming the file, and a rerun collects it once it is there. A row
changed since collection: a new class, partition or text updates the catalog's item in place
(the next ``mf clean`` decides it again); other files collect the item anew until cleaning has
used it, after which a warning says what to do. The files collected named from another folder
(a manifest's files given as their folder) or moved since (the same SHA-256) are no change.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from collectors.base import Found, Source, TargetForm
from collectors.config import CollectConfig, LocalConfig
from collectors.core import IN_PLACE, PAST_COLLECTION, Candidate, collector_rejected, safe_id
from collectors.hosts import HostPolicy
from collectors.listfiles import is_dir, is_file, target_path
from collectors.shopmap import ShopRef, parse_shop_ref
from schemas.atomic import sha256_file
from schemas.errors import DataFormatError, FetchError
from schemas.items import (
    GIVEN_CLASS,
    GIVEN_PARTITION,
    AssetKind,
    MediaAsset,
    SourceItem,
    SourceName,
    Status,
    given_up,
)
from schemas.paths import resolve_under
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES, Partition, class_from_text
from schemas.text_input import load_json, read_text_input

log = redacted_logger(__name__)

#: manifest columns: the name a row uses -> the field it fills
COLUMNS: dict[str, str] = {
    "video": "video",
    "video_path": "video",
    "shop_image": "shop",
    "shop": "shop",
    "shop_path": "shop",
    "id": "id",
    "product_id": "id",
    "partition": "partition",
    "class": "class",
    "df2_class": "class",
    "title": "title",
    "description": "description",
    "caption": "caption",
}
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
#: the fields that name a file: a JSON number there (``{"video": 5}``) is a mistake, not the path "5"
PATH_FIELDS = frozenset({"video", "shop"})
#: reason of an item whose video or shop image file is not where its row says (a rerun retries)
FILE_MISSING = "local_file_missing"
_HINT = "a header row naming video[,shop_image,id,partition,class,title,description,caption]; see mf-collect local --help"


@dataclass(frozen=True)
class LocalRow:
    """One item of a manifest or a folder."""

    sid: str
    video: Path
    shop: ShopRef | None
    partition: Partition
    df2_class: int | None = None
    title: str | None = None
    description: str | None = None
    caption: str | None = None
    where: str = ""  # the file and row (or the folder) that named it
    base: Path | None = None  # the manifest's folder (or the folder collected)

    def named(self, path: Path) -> str:
        """``path`` as the item records it: relative to the manifest's folder, so the record is
        the same whatever folder the command ran in, and names no folder of the user's."""
        if self.base is None:
            return path.name
        try:
            return path.resolve().relative_to(self.base.resolve()).as_posix()
        except ValueError:  # (a symlink leading out of the folder was refused when read)
            return path.name

    def item(self) -> SourceItem:
        """The catalog item this row describes (no ``url``: a local file has no public address)."""
        meta: dict[str, Any] = {"video_file": self.named(self.video), GIVEN_PARTITION: str(self.partition)}
        if self.df2_class is not None:
            meta[GIVEN_CLASS] = self.df2_class
        if self.shop is not None:
            meta["shop_file"] = self.shop.url or self.named(self.shop.path)  # type: ignore[arg-type]
        return SourceItem(
            source=SourceName.LOCAL,
            source_id=self.sid,
            url=None,
            title=self.title,
            description=self.description,
            caption=self.caption,
            has_video=True,
            metadata=meta,
        )


def read_targets(targets: Sequence[str], cfg: LocalConfig) -> list[LocalRow]:
    """The rows of every manifest and folder in ``targets``; two rows of one id are refused,
    naming both (:class:`DataFormatError`)."""
    rows: list[LocalRow] = []
    for target in targets:
        path = target_path(target.strip())
        if is_dir(path):
            rows += read_folder(path, cfg)
        elif is_file(path):
            rows += read_manifest(path, cfg)
        else:
            raise DataFormatError("manifest or folder not found", where=str(path), hint=_HINT)
    first: dict[str, LocalRow] = {}
    for row in rows:
        seen = first.setdefault(row.sid, row)
        if seen is not row and seen != row:
            raise DataFormatError(
                f"id {row.sid!r} is given twice: {seen.where} and {row.where}",
                where=row.where.rsplit(" ", 2)[0],
                hint="give each item its own id (the id column, or rename one of the files)",
            )
    return list(first.values())


def read_manifest(path: Path, cfg: LocalConfig) -> list[LocalRow]:
    """The rows of a CSV (header row required) or JSON-lines manifest."""
    text = read_text_input(path, "manifest")
    records = _json_records(text, path) if path.suffix.lower() in JSON_SUFFIXES else _csv_records(text, path)
    if not records:
        raise DataFormatError("manifest has no rows", where=str(path), hint=_HINT)
    return [_row(fields, path.parent, where, cfg) for where, fields in records]


def read_folder(folder: Path, cfg: LocalConfig) -> list[LocalRow]:
    """One row per video in ``folder`` or below, with the image of its stem beside it, its id
    from its path (:func:`folder_ids`)."""
    rows: list[LocalRow] = []
    found: list[tuple[str, dict[str, str]]] = []
    for video in sorted(p for p in folder.rglob("*") if p.suffix.lower() in cfg.video_extensions):
        if not video.is_file() or any(part.startswith(".") for part in video.relative_to(folder).parts):
            continue  # hidden files and folders (.git, a .part) are not the user's items
        shop = next(
            (
                p
                for ext in cfg.image_extensions
                for p in (video.with_suffix(ext), video.with_suffix(ext.upper()))
                if p.is_file()
            ),
            None,
        )
        rel = video.relative_to(folder).as_posix()
        fields = {"video": rel, "shop": shop.relative_to(folder).as_posix() if shop else ""}
        found.append((rel, fields))
    ids = folder_ids([rel for rel, _ in found])
    for rel, fields in found:
        fields["id"] = ids[rel]
        rows.append(_row(fields, folder, f"{folder} file {rel}", cfg))
    if not rows:
        exts = ", ".join(cfg.video_extensions)
        raise DataFormatError(f"no video in the folder (files ending {exts})", where=str(folder), hint=_HINT)
    return rows


def folder_ids(rels: list[str]) -> dict[str, str]:
    """The id of each video of a folder (``rels``: paths relative to it): the path without its
    extension, subfolders joined by ``-`` (``look.mp4``: ``look``; ``day2/look.mp4``: ``day2-look``),
    made a safe name (accents dropped; anything but letters, digits, ``.``, ``_`` and ``-`` made
    ``-``). It depends on the file alone, so adding files never renames another; two paths giving
    one name (``a b.mp4``, ``a-b.mp4``) each get a short hash of their path after it."""
    slugs = {rel: _slug("-".join(PurePosixPath(rel).with_suffix("").parts)) or "video" for rel in rels}
    counts = Counter(slugs.values())  # (a count per name: a folder may hold thousands)
    shared = {v for v, n in counts.items() if n > 1}
    return {
        rel: f"{slug}-{hashlib.sha256(rel.encode()).hexdigest()[:8]}" if slug in shared else slug
        for rel, slug in slugs.items()
    }


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-.")[:100]


def _csv_records(text: str, path: Path) -> list[tuple[str, dict[str, str]]]:
    """The rows of a CSV manifest by field, each with its ``FILE line N``: the whole text is read as
    CSV (a quoted field may hold commas and line breaks); a row whose first field starts with
    ``#`` is a comment, blank rows are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#"):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):  # a quote opened and never closed
            raise DataFormatError(
                f"line {start}: {_open_quote_field(text, start, rows)}: a quoted field is not closed "
                "(it would run to the end of the file)",
                where=str(path),
                hint='close the quote, or write a quote inside a quoted field as two: ""',
            ) from None
        raise DataFormatError(
            f"line {reader.line_num}: not CSV: {exc}", where=str(path), hint=_HINT
        ) from None
    if not rows:
        return []
    (first, head), body = rows[0], rows[1:]
    header = [c.strip().lower() for c in head]
    while header and not header[-1]:  # a comma after the last column name
        header.pop()
    _check_columns(header, f"{path} line {first}")
    out = []
    for n, cells in body:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            raise DataFormatError(
                f"line {n}: {len(cells)} fields for the header's {len(header)} columns",
                where=str(path),
                hint="quote a field that holds a comma",
            )
        out.append((f"{path} line {n}", {COLUMNS[h]: c.strip() for h, c in zip(header, cells, strict=False)}))
    return out


def _open_quote_field(text: str, start: int, rows: list[tuple[int, list[str]]]) -> str:
    """The column whose quote, opened in the CSV record starting on line ``start``, is never
    closed: the last field of that record read leniently (it holds the rest of the file), named
    by the header row when that came before, else by its number."""
    rest = "".join(text.splitlines(keepends=True)[start - 1 :])
    cells = next(csv.reader(io.StringIO(rest, newline="")), [""])
    index = len(cells) - 1
    header = [c.strip().lower() for c in rows[0][1]] if rows else []
    if index < len(header) and header[index]:
        return f"column {header[index]!r}"
    return f"field {index + 1}"


def _json_records(text: str, path: Path) -> list[tuple[str, dict[str, str]]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        obj = load_json(
            line, where, hint='one JSON object a line, e.g. {"video": "clips/a.mp4", "shop_image": "a.jpg"}'
        )
        if not isinstance(obj, dict):
            raise DataFormatError(
                f"line {n}: expected a JSON object, got {type(obj).__name__}",
                where=str(path),
                hint="a manifest in JSON is JSON lines: one object a line, not an array of them",
            )
        _check_columns([str(k).lower() for k in obj], where)
        fields = {}
        for k, v in obj.items():
            if v is None:
                continue
            if isinstance(v, float) and v.is_integer():
                v = int(v)  # 8.0: the number 8
            if isinstance(v, bool) or not isinstance(v, str | int):
                raise DataFormatError(f"line {n}: {k!r} must be a string or a whole number", where=str(path))
            if COLUMNS[str(k).lower()] in PATH_FIELDS and not isinstance(v, str):
                raise DataFormatError(
                    f"line {n}: {k!r} is the number {v!r}, not a file name",
                    where=str(path),
                    hint=f'write the path as a string, e.g. "{k}": "clips/a.mp4"',
                )
            fields[COLUMNS[str(k).lower()]] = str(v).strip()
        out.append((where, fields))
    return out


def _check_columns(names: list[str], where: str) -> None:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or "video" not in {COLUMNS.get(n) for n in names}:
        what = f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "no video column"
        raise DataFormatError(f"{what} (columns: {', '.join(COLUMNS)})", where=where, hint=_HINT)
    fills = [COLUMNS[n] for n in names]
    twice = sorted({f for f in fills if fills.count(f) > 1})
    if twice:
        raise DataFormatError(f"two columns give the {' and the '.join(twice)}", where=where, hint=_HINT)


def _row(fields: dict[str, str], base: Path, where: str, cfg: LocalConfig) -> LocalRow:
    """One manifest row (``fields`` by field name), its files resolved inside ``base``."""
    raw = fields.get("video", "")
    if not raw:
        raise DataFormatError("no video file", where=where, hint=_HINT)
    video = resolve_under(
        base, raw, what="video", where=where, root_label="the folder of the manifest", follow_symlinks=True
    )
    if is_dir(video):
        raise DataFormatError(f"video {raw!r} is a folder", where=where, hint="name the video file itself")
    sid_raw = fields.get("id") or video.stem
    sid = safe_id(sid_raw)
    if sid is None:
        raise DataFormatError(
            f"id {sid_raw!r} cannot name a folder (letters, digits, '.', '_' and '-' only)",
            where=where,
            hint="give the row an id column value (or the file another name)",
        )
    partition = cfg.partition
    if fields.get("partition"):
        try:
            partition = Partition(fields["partition"].lower())
        except ValueError:
            raise DataFormatError(
                f"partition {fields['partition']!r} is neither regular nor hard", where=where, hint=_HINT
            ) from None
    df2_class = None
    if fields.get("class"):
        df2_class = class_from_text(fields["class"])
        if df2_class is None:
            names = ", ".join(f"{cid} {name}" for cid, name in DF2_CLASSES.items())
            raise DataFormatError(
                f"class {fields['class']!r} is no DeepFashion2 class", where=where, hint=f"one of: {names}"
            )
    shop = parse_shop_ref(fields["shop"], base, where=where) if fields.get("shop") else None
    return LocalRow(
        sid,
        video,
        shop,
        partition,
        df2_class,
        fields.get("title") or None,
        fields.get("description") or None,
        fields.get("caption") or None,
        where,
        base,
    )


class LocalFiles(Source):
    """Your own videos and shop images from disk: a manifest (CSV or JSON lines) or a folder.

    A manifest has a header row naming its columns: video (required), shop_image, id,
    partition (regular or hard), class (a DeepFashion2 class name or number), title,
    description, caption; its files are relative to its folder. A folder pairs each video with
    the image of the same name beside it.
    """

    name = SourceName.LOCAL
    config_section = "local"
    target_forms = (
        TargetForm("a manifest (CSV with a header, or JSON lines): one item a row", "my-videos/manifest.csv"),
        TargetForm("a folder of videos, each beside its shop image of the same name", "my-videos"),
    )
    examples = (
        "mf-collect local world/fixtures/local/manifest.csv --root data",
        "mf-collect local world/fixtures/local/clips --root data --dry-run",
    )
    recheck_note = (
        "they are your own files, on no site: correct the manifest and collect again (a class, "
        "partition or text is updated in place; other files re-collect an item cleaning has not used)"
    )

    @classmethod
    def check_targets(cls, targets: Sequence[str]) -> None:
        """Also read every manifest now: a bad row is refused before anything is created (folders,
        whose reading depends on the config's file endings, are read by :meth:`policy`, as early)."""
        super().check_targets(targets)
        read_targets([t for t in targets if not is_dir(target_path(t.strip()))], LocalConfig())

    @classmethod
    def policy(cls, cfg: CollectConfig, targets: Sequence[str], **_: Any) -> HostPolicy:
        """The hosts of shop images given as URLs (none for files)."""
        rows = read_targets(targets, cfg.local)
        return HostPolicy.of({urlsplit(r.shop.url).netloc for r in rows if r.shop and r.shop.url})

    def discover(self, targets: Sequence[str]) -> list[Candidate]:
        return [
            Candidate(raw_id=row.sid, url=row.video.resolve().as_uri(), payload=row)
            for row in read_targets(targets, self.cfg)
        ]

    def _same_files(self, sid: str, row: LocalRow) -> bool:
        """Whether ``row`` names the very files item ``sid`` was collected from: each of its video
        and shop image at the address collected, or (a folder moved since) with the collected
        file's SHA-256."""
        got = {a.kind: a for a in self.ctx.catalog.assets(source=str(self.name), source_id=sid) if a.path}
        wanted = [(AssetKind.VIDEO, row.video.resolve().as_uri(), row.video)]
        if row.shop is not None:
            wanted.append((AssetKind.SHOP, row.shop.key, row.shop.path))
        if {k for k in got if k in (AssetKind.VIDEO, AssetKind.SHOP)} != {k for k, _, _ in wanted}:
            return False
        for kind, url, path in wanted:
            a = got[kind]
            if a.url == url:
                continue
            try:
                if path is None or not a.sha256 or sha256_file(path) != a.sha256:
                    return False
            except OSError:
                return False
        return True

    def changed(self, sid: str, cand: Candidate) -> bool:
        """Whether the row now names other files than the item was collected with (collected
        anew while the item is only downloaded; once cleaning has used it, a warning; the same
        files under other names, :meth:`_same_files`, are no change). A row that
        changed only its class, partition or text updates the catalog's item in place, whatever
        its status: the next ``mf clean`` decides it again with them."""
        row = self.ctx.catalog.get_item(str(self.name), sid)
        if row is None or not isinstance(cand.payload, LocalRow):
            return False
        new, old = cand.payload.item(), row.item
        if all(old.metadata.get(k) == new.metadata.get(k) for k in ("video_file", "shop_file")):
            if _described(old) != _described(new) and not getattr(self.ctx.catalog, "read_only", False):
                self.ctx.catalog.upsert_items([new])  # its status stays: cleaning reads the new row
                log.info("local %s: class, partition or text updated from %s", sid, cand.payload.where)
            return False
        if self._same_files(sid, cand.payload):
            # the files collected, named from another folder (a manifest's files given as their
            # folder, or the other way round) or moved since: nothing to collect, and no class or
            # text taken over from a folder, which gives none
            log.info("local %s: the files collected, named from %s: nothing changed", sid, cand.payload.where)
            return False
        if row.status == Status.DOWNLOADED:
            log.info("local %s: its row names other files (%s): collecting it anew", sid, cand.payload.where)
            return True
        if collector_rejected(row.status, row.reason):
            todo = "--retry-rejected collects it again"
        elif given_up(row.status, row.reason):
            todo = "--retry-given-up collects it again"
        elif row.status in PAST_COLLECTION:
            todo = (
                f"cleaning has used the files collected ({row.status}): to replace them, reject the "
                "item in mf review and give the row a new id"
            )
        else:
            return False
        log.warning("local %s: its row names other files (%s); %s", sid, cand.payload.where, todo)
        return False

    def describe(self, sid: str, cand: Candidate) -> Found:
        row = cand.payload
        if not isinstance(row, LocalRow):  # a candidate made elsewhere (never by discover)
            raise FetchError("no manifest row for this item", where=sid, reason="no_row")
        return Found(row.item(), cand, row)

    def fetch_media(self, found: Found) -> tuple[list[MediaAsset], set[AssetKind]]:
        row: LocalRow = found.data
        item = found.item
        assets = [self._file(item, AssetKind.VIDEO, row.video, "video", row.where)]
        required = {AssetKind.VIDEO}
        if row.shop is not None:
            required.add(AssetKind.SHOP)
            if row.shop.url:
                assets.append(self.ctx.fetch_asset(item, AssetKind.SHOP, row.shop.url, "image"))
            else:
                assets.append(self._file(item, AssetKind.SHOP, row.shop.path, "image", row.where))
        for asset in assets:  # a file the row named before (a corrected row) goes once its successor is in
            if asset.status in IN_PLACE:
                rows = self.ctx.catalog.assets(
                    source=str(item.source), source_id=item.source_id, kind=str(asset.kind)
                )
                self.ctx.drop_assets([a for a in rows if a.url != asset.url])
        return assets, required

    def _file(
        self, item: SourceItem, kind: AssetKind, path: Path | None, expect: str, where: str
    ) -> MediaAsset:
        """The user's file copied into the item's folder and probed (an intact earlier copy of the
        same file is kept); a missing file is recorded failed, naming it and its row."""
        ctx = self.ctx
        assert path is not None
        key = path.resolve().as_uri()
        known = ctx.known_asset(item.source, item.source_id, kind, key)
        if known is not None:
            return known
        if not is_file(path):
            asset = ctx.failed_asset(item, kind, key, FILE_MISSING)
            why = FetchError(
                f"{kind} file not found (named at {where})",
                where=str(path),
                reason=FILE_MISSING,
                hint="put the file there or correct the row, then collect again",
            )
            ctx.note_failure(asset, why, url=str(path))
            return asset
        return ctx.adopt_file(item, kind, path, expect, url=key)


def _described(item: SourceItem) -> dict[str, Any]:
    """What a row says of an item besides its files: class, partition, title, description, caption."""
    return {**item.model_dump(include={"title", "description", "caption"}), **item.metadata}
