"""What every source shares: the records of a run (candidate, outcome, summary) and the
collection context (root, catalog, client) with asset fetching, skip-if-done and item bookkeeping.

Layout: ``ROOT/<source>/<source_id>/<kind>.<ext>`` (several of one kind: ``<kind>-<n>.<ext>``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.checks import ext_for, probe_file
from collectors.config import CollectConfig
from schemas.atomic import sha256_file
from schemas.errors import CatalogCorrupt, FetchError, LocalFault, MFError
from schemas.faults import local_faults
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName, Status
from schemas.naming import check_safe_name
from schemas.paths import PathEscapeError, inside, resolve_under

if TYPE_CHECKING:
    from collectors.http import PoliteClient
    from schemas.catalog import Catalog

log = logging.getLogger("collectors")

#: Reasons that will not change on a rerun: the item or asset is ``rejected`` (final).
FINAL_REASONS = frozenset(
    {
        "content_type_mismatch",
        "not_an_image",
        "not_a_video",
        "foreign_redirect",
        "host_not_allowed",
        "too_large",
        "malformed_jsonld",
        "unsafe_id",
        "no_video",
        "empty_body",
        "http_404",
        "http_410",
        "not_found",
        "no_media",
        "unsupported_protocol",
    }
)


#: Item statuses cleaning (or review) set after collection: the item is collected, and a rerun
#: of the collector must leave it (and its status) alone while its files are intact.
PAST_COLLECTION = frozenset({Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW, Status.REJECTED})


def collector_rejected(status: str | None, reason: str | None) -> bool:
    """Whether an item's state is a collector's own rejection (a final reason of a fetch, which
    ``--retry-rejected`` retries), not a decision cleaning or review took after collection."""
    return status == Status.REJECTED and reason in FINAL_REASONS


def status_for(reason: str) -> Status:
    """``rejected`` for final reasons (bad content, policy), ``failed`` (retried by a rerun) otherwise."""
    return Status.REJECTED if reason in FINAL_REASONS else Status.FAILED


@dataclass
class Candidate:
    """Something discovered at a source, not yet fetched."""

    raw_id: str | None
    url: str | None = None
    key: str | None = None  # host it mostly talks to (per-host executor limit)
    payload: Any = None  # source specific (info dict, post, shop reference, ...)


@dataclass
class DiscoveryProblem(Candidate):
    """A page discovery could not read (a child sitemap, a listing page, a profile's posts),
    yielded where its candidates would have been: the run lists it as failed with its URL and
    reason (exit 1, the summary still printed) and goes on with the other pages and targets; a
    rerun reads it again."""

    error: FetchError | None = None

    @classmethod
    def of(cls, exc: FetchError) -> DiscoveryProblem:
        return cls(raw_id=None, url=exc.where, error=exc)


def noting_problems(found: Iterable[Candidate]) -> Iterator[Candidate]:
    """``found``'s candidates; a remote fault (:class:`FetchError`) while reading them ends them
    with a :class:`DiscoveryProblem` instead of ending the run (an interruption still stops it)."""
    try:
        yield from found
    except FetchError as exc:
        if exc.reason == "interrupted":
            raise
        log.warning("could not read %s (%s): going on with the rest", exc.where, exc.reason)
        yield DiscoveryProblem.of(exc)


@dataclass
class Outcome:
    """Result of collecting one item."""

    source_id: str
    status: str  # ok | failed | rejected | skipped
    reason: str | None = None
    files: int = 0
    bytes: int = 0
    path: str | None = None  # the local file at fault (disk full, no permission, ...)


@dataclass
class Summary:
    """Final figures of one ``mf-collect`` run.

    ``failed``: network or server trouble, or a local fault (a rerun tries again); ``rejected``:
    the item or its content was refused for good (content checks, not a video, too large, unsafe
    id, 404). ``problems`` lists both, one ``{source_id, status, reason}`` per item (+ ``path``
    for a local fault). ``stopped``: the local fault that ended the run early (``reason``,
    ``path``, ``message``), None when the run went through. ``executor``: what ran where on a
    remote executor (``{"name", "nodes"}``: tasks per node), None on the local one.
    ``cancelled``: items handed to the workers but never run because the run stopped (Ctrl-C, a
    local fault); nothing of them was written, and a rerun collects them.
    """

    source: str
    ok: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    cancelled: int = 0
    files: int = 0
    bytes: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    stopped: dict[str, Any] | None = None
    dry_run: bool = False
    reasons: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    executor: dict[str, Any] | None = None

    def add(self, out: Outcome) -> None:
        setattr(self, out.status, getattr(self, out.status) + 1)
        self.files += out.files
        self.bytes += out.bytes
        if out.status in ("failed", "rejected"):
            if out.reason:
                self.reasons[out.reason] = self.reasons.get(out.reason, 0) + 1
            problem = {"source_id": out.source_id, "status": out.status, "reason": out.reason}
            if out.path:
                problem["path"] = out.path
            self.problems.append(problem)

    def human(self, max_listed: int = 50) -> str:
        text = (
            f"{self.source}: {self.ok} ok, {self.failed} failed, {self.rejected} rejected, "
            f"{self.skipped} skipped{f', {self.cancelled} cancelled' if self.cancelled else ''}; "
            f"{self.files} files, {self.bytes / 1e6:.1f} MB, "
            f"{self.requests} requests in {self.seconds:.1f}s"
        )
        if self.reasons:
            text += "\nreasons: " + ", ".join(f"{k}={v}" for k, v in sorted(self.reasons.items()))
        for p in self.problems[:max_listed]:
            text += f"\n  {p['status']:<8} {p['source_id']}  {p['reason'] or ''}"
        if len(self.problems) > max_listed:
            text += f"\n  ... and {len(self.problems) - max_listed} more (--json lists all)"
        if self.dry_run:
            text = f"dry run: would collect {len(self.items)} items\n" + "\n".join(
                f"  {i['source_id']}  {i.get('url') or ''}" for i in self.items
            )
        if self.interrupted:
            text += "\ninterrupted: rerun the same command to resume"
        if self.stopped:
            text += "\n" + self.stopped["message"]
        return text


class LockedCatalog:
    """The catalog shared by worker threads: one connection, one call at a time."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._catalog, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


class CollectContext:
    """Everything a source needs to collect items: root folder, catalog, client, config."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        catalog: Catalog,
        cfg: CollectConfig,
        client: PoliteClient,
        *,
        retry_rejected: bool = False,
    ) -> None:
        self.root = Path(os.path.normpath(root))  # the form inside() answers in (relative_to works)
        self.catalog = LockedCatalog(catalog)
        self.cfg = cfg
        self.client = client
        self.retry_rejected = retry_rejected
        #: the local fault (or catalog damage) that stops this run; the first one wins
        self.fault: MFError | None = None
        self._fault_lock = threading.Lock()

    @property
    def stop(self) -> threading.Event:
        return self.client.stop

    def halt(self, fault: LocalFault | CatalogCorrupt) -> None:
        """Stop the run: a local fault (disk full, ...) or a damaged catalog fails every item
        alike. Transfers in flight are aborted and keep their ``.part`` files for the rerun."""
        with self._fault_lock:
            if self.fault is None:
                self.fault = fault
                log.warning("stopping the run: %s", fault)
        self.stop.set()

    def item_dir(self, source: SourceName, source_id: str) -> Path:
        """``ROOT/<source>/<source_id>``: the id must be a plain name and the folder inside the root."""
        return inside(
            self.root,
            str(source),
            check_safe_name(source_id),
            what="item folder",
            root_label="the collection root",
        )

    # -- skip logic ----------------------------------------------------------------
    def file_ok(self, asset: MediaAsset) -> bool:
        """The asset's file exists under the root and has the recorded SHA-256."""
        if not asset.path or not asset.sha256:
            return False
        try:
            path = resolve_under(self.root, asset.path, what="asset path", root_label="the collection root")
        except PathEscapeError as exc:  # a tampered row: not read, fetched again into its own folder
            log.warning("%s/%s: %s", asset.source, asset.source_id, exc)
            return False
        return path.is_file() and path.stat().st_size == asset.size and sha256_file(path) == asset.sha256

    def is_done(self, source: SourceName, source_id: str) -> bool:
        """Skip it, no request: collected (files present, hashes match), finally rejected, or moved
        on by cleaning (accepted, duplicate, needs review, rejected: its status is kept).
        ``retry_rejected`` collects again the items a collector rejected (:func:`collector_rejected`);
        a rejection by cleaning or review stays."""
        row = self.catalog.get_item(str(source), source_id)
        if row is None:
            return False
        if row.status == Status.REJECTED and not self.retry_rejected:
            return True
        if collector_rejected(row.status, row.reason):
            return False  # retry_rejected: the site may have been fixed since
        if row.status not in PAST_COLLECTION and row.status != Status.DOWNLOADED:
            return False
        assets = self.catalog.assets(source=str(source), source_id=source_id)
        if row.status == Status.DOWNLOADED and any(a.status == Status.FAILED for a in assets):
            return False  # an optional asset failed for a passing reason: try it again
        return all(self.file_ok(a) for a in assets if a.path and a.sha256)

    def known_asset(self, source: SourceName, source_id: str, kind: AssetKind, url: str) -> MediaAsset | None:
        for a in self.catalog.assets(source=str(source), source_id=source_id, kind=str(kind)):
            if (a.url or "") == url and a.status == Status.DOWNLOADED and self.file_ok(a):
                return a
        return None

    # -- assets --------------------------------------------------------------------
    def fetch_asset(
        self, item: SourceItem, kind: AssetKind, url: str, expect: str, *, stem: str | None = None
    ) -> MediaAsset:
        """Download one asset of ``item`` (or reuse a verified earlier download); record its row."""
        known = self.known_asset(item.source, item.source_id, kind, url)
        if known is not None:
            return known
        folder = self.item_dir(item.source, item.source_id)
        try:
            dl = self.client.download(url, folder, stem or str(kind), expect)
        except LocalFault as fault:
            self.record_fault(item, kind, url, fault)
            raise
        except FetchError as exc:
            asset = MediaAsset(
                source=item.source,
                source_id=item.source_id,
                kind=kind,
                url=url,
                status=status_for(exc.reason),
                reason=exc.reason,
            )
            if exc.reason != "interrupted":
                self.catalog.upsert_assets([asset])
            log.info("%s/%s %s: %s (%s)", item.source, item.source_id, kind, exc.reason, exc.message)
            return asset
        asset = MediaAsset(
            source=item.source,
            source_id=item.source_id,
            kind=kind,
            url=url,
            path=dl.path.relative_to(self.root).as_posix(),
            sha256=dl.sha256,
            size=dl.size,
            content_type=dl.content_type,
            probe=dl.probe,
            status=Status.DOWNLOADED,
        )
        self.catalog.upsert_assets([asset])
        return asset

    def adopt_file(
        self,
        item: SourceItem,
        kind: AssetKind,
        src: str | os.PathLike[str],
        expect: str,
        *,
        url: str,
        stem: str | None = None,
        content_type: str | None = None,
        move: bool = False,
    ) -> MediaAsset:
        """Check a local file and put it into the layout (``move`` for files a library just
        downloaded into the item folder; the user's own files are copied)."""
        src = Path(src)
        folder = self.item_dir(item.source, item.source_id)
        with local_faults(folder):
            folder.mkdir(parents=True, exist_ok=True)
        stem = stem or str(kind)
        try:
            probe = probe_file(src, expect)
        except FetchError as exc:
            if move:
                src.unlink(missing_ok=True)
            return self._failed_asset(item, kind, url, exc.reason)
        final = folder / f"{stem}.{ext_for(src.name, content_type, expect)}"
        part = src if move else folder / f".{stem}.adopt.part"
        try:
            with local_faults(part):
                if not move:
                    shutil.copyfile(src, part)
                with open(part, "rb+") as fh:
                    os.fsync(fh.fileno())
                digest, size = sha256_file(part), part.stat().st_size
                os.replace(part, final)
        except LocalFault as fault:
            part.unlink(missing_ok=True)  # a partial copy (or download) would only take space
            self.record_fault(item, kind, url, fault)
            raise
        asset = MediaAsset(
            source=item.source,
            source_id=item.source_id,
            kind=kind,
            url=url,
            path=final.relative_to(self.root).as_posix(),
            sha256=digest,
            size=size,
            content_type=content_type,
            probe=probe,
            status=Status.DOWNLOADED,
        )
        self.catalog.upsert_assets([asset])
        return asset

    def record_fault(self, item: SourceItem, kind: AssetKind, url: str, fault: LocalFault) -> None:
        """Record the asset ``failed`` with the fault's reason, when the catalog can still be written."""
        asset = MediaAsset(
            source=item.source,
            source_id=item.source_id,
            kind=kind,
            url=url,
            status=Status.FAILED,
            reason=fault.reason,
        )
        try:
            self.catalog.upsert_assets([asset])
        except MFError as exc:  # the catalog's disk may be the full one: the rerun retries anyway
            log.info("%s/%s %s: not recorded (%s)", item.source, item.source_id, kind, exc)

    def _failed_asset(self, item: SourceItem, kind: AssetKind, url: str, reason: str) -> MediaAsset:
        asset = MediaAsset(
            source=item.source,
            source_id=item.source_id,
            kind=kind,
            url=url,
            status=status_for(reason),
            reason=reason,
        )
        self.catalog.upsert_assets([asset])
        return asset

    # -- items ---------------------------------------------------------------------
    def start_item(self, item: SourceItem) -> None:
        row = self.catalog.get_item(str(item.source), item.source_id)
        if row is None or row.status != Status.DOWNLOADED:
            self.catalog.upsert_items([item], status=Status.DISCOVERED, reason=None)
        else:
            self.catalog.upsert_items([item])

    def finish_item(
        self, item: SourceItem, assets: list[MediaAsset], *, required: Iterable[AssetKind]
    ) -> Outcome:
        """Item status from its assets: every required kind downloaded -> ``downloaded``."""
        required = set(required)
        bad = [a for a in assets if a.kind in required and a.status != Status.DOWNLOADED]
        files = [a for a in assets if a.status == Status.DOWNLOADED]
        if any(a.reason == "interrupted" for a in assets):
            return Outcome(item.source_id, "failed", "interrupted")
        if not any(a.kind in required for a in assets) and required:
            bad_reason = "no_media"
            self.catalog.upsert_items([item], status=status_for(bad_reason), reason=bad_reason)
            return Outcome(item.source_id, str(status_for(bad_reason)), bad_reason)
        if bad:
            # a transient failure wins over a final one, so a rerun retries the item
            transient = [a for a in bad if a.status == Status.FAILED]
            first = (transient or bad)[0]
            status = status_for(first.reason or "fetch_failed") if not transient else Status.FAILED
            reason = first.reason or "fetch_failed"
            self.catalog.upsert_items([item], status=status, reason=reason)
            return Outcome(item.source_id, str(status), first.reason)
        self.catalog.upsert_items([item], status=Status.DOWNLOADED, reason=None)
        return Outcome(item.source_id, "ok", None, files=len(files), bytes=sum(a.size or 0 for a in files))

    def reject_item(self, item: SourceItem, reason: str) -> Outcome:
        status = status_for(reason)
        self.catalog.upsert_items([item], status=status, reason=reason)
        return Outcome(item.source_id, str(status), reason)

    def reject_unsafe(self, source: SourceName, raw_id: str | None, url: str | None) -> Outcome:
        """Record an id that cannot be a file name under a stable stand-in id, rejected ``unsafe_id``."""
        digest = hashlib.sha256(repr(raw_id).encode("utf-8", "backslashreplace")).hexdigest()[:16]
        item = SourceItem(
            source=source, source_id=f"unsafe-{digest}", url=url, metadata={"raw_id": repr(raw_id)}
        )
        if self.is_done(source, item.source_id):
            return Outcome(item.source_id, "skipped")
        self.catalog.upsert_items([item], status=Status.REJECTED, reason="unsafe_id")
        log.warning("%s: refused unsafe id %r", source, raw_id)
        return Outcome(item.source_id, "rejected", "unsafe_id")


def safe_id(raw: str | None) -> str | None:
    """``raw`` if it is usable as one path component, else None."""
    if raw is None:
        return None
    try:
        return check_safe_name(str(raw))
    except ValueError:
        return None


_HASHTAG = re.compile(r"#(\w+)")


def hashtags_in(text: str | None) -> list[str]:
    """The ``#tags`` of a caption or description, in order (without the ``#``)."""
    return _HASHTAG.findall(text or "")
