"""A file the source itself serves damaged is not downloaded again on every ``--retry-rejected``.

``mf clean`` rejects an item whose video or shop image is damaged (``DAMAGED_MEDIA_PREFIXES``),
and ``mf-collect --retry-rejected`` collects it again: right for a file damaged on the disk
after its download, useless when the source serves those bytes. So:

* each file the polite client downloads gets a record beside it, ``.<file name>.served.json``
  (written atomically; only when the server gave a strong validator): the URL, the validator
  (ETag, else a strong Last-Modified: :func:`collectors.part_resume.strong_validator`), the
  file's size and SHA-256;
* when the item is collected again, a damaged file (its row ``DAMAGED_FILE_PREFIXES``) whose
  record has the SHA-256 cleaning found (the bytes on the disk are the bytes the source served)
  is asked about with one HEAD carrying ``If-None-Match`` (``If-Modified-Since``): a 304, or the
  same validator and size, means the source still serves that file, and it is not downloaded;
* a file downloaded again (no record: yt-dlp, instaloader, a server without validators; or the
  HEAD could not tell) whose SHA-256 is the damaged file's is the same damaged file;
* the item's other files that cleaning accepted and that are intact are not downloaded again
  either, and stay ``accepted`` (:meth:`collectors.core.CollectContext.known_asset`, as for every
  re-collect of a cleaned item);
* when every file of the item is the same as before and one of them is such a damaged file, the
  item stays rejected as cleaning left it (its rows too) and the run lists it with the file's
  URL and why (:data:`STILL_DAMAGED`); any change (a new file, other bytes, a failure) hands it
  to ``mf clean`` as before. ``--force-refetch`` downloads and hands it on anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.atomic import atomic_write_json
from schemas.errors import FetchError
from schemas.faults import local_faults
from schemas.items import DAMAGED_FILE_PREFIXES, MediaAsset, Status
from schemas.redact import redacted_logger
from schemas.text_input import read_json_record

if TYPE_CHECKING:
    import requests

    from collectors.http import Download, PoliteClient

log = redacted_logger("collectors")

#: the outcome reason of an item kept rejected because its source still serves the damaged file
STILL_DAMAGED = "still_damaged"
#: what the problem line says to do to fetch such a file anyway
FORCE = "rerun with --retry-rejected --force-refetch to fetch it anyway"


def served_path(file: Path) -> Path:
    """``.<file name>.served.json`` beside ``file``: what the source served as it."""
    return file.with_name(f".{file.name}.served.json")


@dataclass(frozen=True)
class Served:
    """What a source served as a file: URL, strong validator, size and SHA-256."""

    url: str
    header: str  # ETag or Last-Modified
    validator: str
    size: int
    sha256: str

    def said(self) -> str:
        """``ETag "abc", 1234 bytes``."""
        return f"{self.header} {self.validator}, {self.size} bytes"


def record_served(dl: Download) -> None:
    """Write (atomically) the record of a file the polite client downloaded; remove a stale one
    when this answer gave no strong validator."""
    path = served_path(dl.path)
    with local_faults(path):
        if dl.validator is None:
            path.unlink(missing_ok=True)
            return
        header, validator = dl.validator
        record = {
            "url": dl.url,
            "header": header,
            "validator": validator,
            "size": dl.size,
            "sha256": dl.sha256,
        }
        atomic_write_json(path, record, sort_keys=True)


def read_served(file: Path) -> Served | None:
    """The record beside ``file``; None when there is none or it is not one this module wrote."""
    data = read_json_record(served_path(file), utf8_only=True, max_bytes=64 * 1024)
    if not isinstance(data, dict):
        return None
    try:
        served = Served(**{k: data[k] for k in ("url", "header", "validator", "size", "sha256")})
    except (KeyError, TypeError):
        return None
    texts = (served.url, served.validator, served.sha256)
    if served.header not in ("ETag", "Last-Modified") or not all(isinstance(t, str) and t for t in texts):
        return None
    return served if isinstance(served.size, int) and not isinstance(served.size, bool) else None


def still_served(
    client: PoliteClient, url: str, served: Served, answered: requests.Response | None = None
) -> bool:
    """Whether the source still serves ``served`` at ``url``: one HEAD with the conditional
    header; a 304, or the same strong validator and size. False when it cannot tell (another
    URL, no validator in the answer, a failed request: the download decides)."""
    return source_answer(client, url, served, answered) is True


def source_answer(
    client: PoliteClient, url: str, served: Served, answered: requests.Response | None = None
) -> bool | None:
    """What one conditional HEAD of ``url`` says of ``served``: True when the source serves it
    still (a 304, or the same strong validator and size), False when it serves another file (a
    strong validator or a size that differ), None when it cannot tell (another URL, no strong
    validator in the answer, a failed or refused request). ``answered``: a HEAD of ``url`` this
    item already sent (Net-A-Porter's video check), read instead of sending another one."""
    from collectors.part_resume import strong_validator  # imports requests: not at --help

    if served.url != url:
        return None
    cond = "If-None-Match" if served.header == "ETag" else "If-Modified-Since"
    try:
        resp = answered if answered is not None else client.head(url, headers={cond: served.validator})
    except FetchError as exc:
        log.info("%s: HEAD failed (%s)", url, exc.reason)
        return None
    if resp.status_code == 304:
        return True
    header, validator = strong_validator(resp)
    if header != served.header:
        return None  # no strong validator, or another kind: nothing to compare
    size = (resp.headers.get("Content-Length") or "").strip()
    return (header, validator) == (served.header, served.validator) and (not size or size == str(served.size))


def source_changed(
    client: PoliteClient, file: Path, row: MediaAsset, url: str, answered: requests.Response | None = None
) -> bool:
    """Whether the source of ``file`` (intact on the disk, ``row`` its asset) now serves another
    file at ``url``: only when the record of its download is of these bytes (size, and SHA-256
    where the row has one) and one conditional HEAD says so (:func:`source_answer` False). No
    record, a stale one, or an answer that cannot tell: False (the file is kept, no request
    when there is no record)."""
    served = read_served(file)
    if served is None or served.size != row.size or (row.sha256 and served.sha256 != row.sha256):
        return False
    return source_answer(client, url, served, answered) is False


def is_damaged(row: MediaAsset) -> bool:
    """Whether ``row`` is a file cleaning rejected as damaged (with its path and SHA-256)."""
    reason = row.reason or ""
    return row.status == Status.REJECTED and reason.startswith(DAMAGED_FILE_PREFIXES) and bool(row.path)


@dataclass
class DamagedRetry:
    """An item cleaning rejected for damaged media, collected again: its reason and asset rows
    before this run (``(kind, key) -> row``), and what this run found."""

    reason: str
    before: dict[tuple[str, str], MediaAsset]
    #: damaged files the source serves unchanged: (the row as downloaded, not yet written; URL; why)
    still: list[tuple[MediaAsset, str, str]] = field(default_factory=list)
    #: rows of the other files, downloaded again with the same bytes (written back when kept)
    same: list[MediaAsset] = field(default_factory=list)
    changed: bool = False

    def damaged(self, kind: str, key: str) -> MediaAsset | None:
        """The row of this file when cleaning rejected it as damaged, else None."""
        row = self.before.get((str(kind), key))
        return row if row is not None and is_damaged(row) else None

    def held(self) -> list[MediaAsset]:
        """The rows held back, as downloaded: written when the item goes to ``mf clean``."""
        return [row for row, _, _ in self.still]

    def unchanged_at_source(self, row: MediaAsset, url: str, served: Served) -> MediaAsset:
        """Note a damaged file the source still serves (no download); the row as downloaded."""
        why = (
            f"the source still serves the same damaged file ({served.said()}): not downloaded again; {FORCE}"
        )
        return self._still(row, url, why)

    def downloaded(self, asset: MediaAsset, url: str) -> bool:
        """Note a file downloaded again (``asset``: its new row); True when it holds the damaged
        file's very bytes (its row is held back: written only when the item is not kept)."""
        row = self.before.get((str(asset.kind), asset.url or ""))
        if row is None or row.sha256 != asset.sha256:
            self.changed = True
            return False
        if not is_damaged(row):
            self.same.append(row)
            return False
        why = (
            f"downloaded again: the same bytes as the damaged file (sha256 {row.sha256[:16]}..., "
            f"{asset.size} bytes), so the source still serves it damaged; not handed to mf clean again; {FORCE}"
        )
        self._still(asset, url, why)
        return True

    def _still(self, asset: MediaAsset, url: str, why: str) -> MediaAsset:
        row = asset.model_copy(update={"status": Status.DOWNLOADED, "reason": None})
        self.still.append((row, url, why))
        return row

    def keeps(self, failed: bool) -> bool:
        """Whether the item stays rejected: a damaged file still served, nothing else changed,
        nothing failed."""
        return bool(self.still) and not self.changed and not failed
