"""What every source shares: the records of a run (candidate, outcome, summary) and the
collection context (root, catalog, client) with asset fetching, skip-if-done and item bookkeeping.

Layout: ``ROOT/<source>/<source_id>/<kind>.<ext>`` (several of one kind: ``<kind>-<n>.<ext>``).

One run at a time collects an item: a run holds ``ROOT/.locks/<source>/.<source_id>.lock``
(:meth:`CollectContext.claim`; removed when it is done) from its skip check to its item's
record. Another run (a second terminal, a cron job) that meets the item meanwhile does not
wait: it skips it (``busy_elsewhere``, listed with the holder's pid and command, exit status
unchanged) and leaves it to the holder, which records it; a later rerun collects it should
that run fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.checks import (
    FILE_VANISHED,
    HTML_REASON,
    ext_for,
    hash_unchanged,
    html_in_place_of,
    probe_unchanged,
    stamp,
    vanished,
)
from collectors.config import CollectConfig
from collectors.refetch import (
    STILL_DAMAGED,
    DamagedRetry,
    read_served,
    record_served,
    served_path,
    source_changed,
    still_served,
)
from schemas.atomic import LockBusy, file_lock, partial_path, sha256_file, sweep_partials
from schemas.errors import CatalogCorrupt, FetchError, LocalFault, MFError
from schemas.faults import REASONS as LOCAL_FAULT_REASONS
from schemas.faults import local_faults
from schemas.items import (
    DAMAGED_MEDIA_PREFIXES,
    GAVE_UP_PREFIX,
    GIVEN_UP_WHY,
    GONE_PREFIX,
    RETRY_GIVEN_UP,
    AssetKind,
    MediaAsset,
    SourceItem,
    SourceName,
    Status,
    given_up,
)
from schemas.naming import check_safe_name
from schemas.paths import PathEscapeError, inside, plain_folder, resolve_under
from schemas.redact import redacted_logger

if TYPE_CHECKING:
    import requests

    from collectors.http import PoliteClient
    from schemas.catalog import Catalog, ItemRow

log = redacted_logger("collectors")

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
        "product_moved",
    }
)


#: Item statuses cleaning (or review) set after collection: the item is collected, and a rerun
#: of the collector must leave it (and its status) alone while its files are intact.
PAST_COLLECTION = frozenset({Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW, Status.REJECTED})
#: asset statuses of a file in place: downloaded, or accepted by cleaning and reused as it is
#: (:meth:`CollectContext.known_asset`)
IN_PLACE = frozenset({Status.DOWNLOADED, Status.ACCEPTED})


#: the folder of the items' collect locks, under the collection root
LOCKS_DIR = ".locks"
#: reason of an item skipped because another run holds its collect lock
BUSY = "busy_elsewhere"
_BUSY_WHO = "another run is collecting this item"


def collector_rejected(status: str | None, reason: str | None) -> bool:
    """Whether an item's state is a collector's own rejection (a final reason of a fetch, or an
    item a recheck found gone; ``--retry-rejected`` retries them), not a decision cleaning or
    review took after collection."""
    return status == Status.REJECTED and (reason in FINAL_REASONS or (reason or "").startswith(GONE_PREFIX))


def status_for(reason: str) -> Status:
    """``rejected`` for final reasons (bad content, policy), ``failed`` (retried by a rerun) otherwise."""
    return Status.REJECTED if reason in FINAL_REASONS else Status.FAILED


#: the reason of an answer in a shape this toolkit does not know (a key renamed or gone: the site
#: changed, not the item): :func:`answer_changed_shape`
SHAPE_CHANGED = "answer_changed_shape"


def answer_changed_shape(
    key: str, url: str, where: str | None = None, found: str | None = None
) -> FetchError:
    """The error of a site's answer that lacks ``key`` (dotted) entirely, asked at ``url``, for
    the item at ``where`` (default ``url``): the site changed its answers (the toolkit reads the
    old shape), which no rerun mends and which is not the item's fault (a deleted item is an
    answer that says so, in the known shape). ``found``: what the answer holds there instead
    (``"null"``, ``"a list"``) when the key is there with a value of another kind."""
    what = f"missing key {key}" if found is None else f"key {key} holds {found}"
    return FetchError(
        f"the site's answer changed shape ({what} at {url}): update the toolkit",
        where=where or url,
        reason=SHAPE_CHANGED,
        hint="the item was not judged: once the toolkit (and the site's library: instaloader, yt-dlp) is "
        "updated, a rerun collects it",
    )


#: Failure reasons that say nothing about the item itself: the site busy, down or refusing this
#: client, the connection, the run stopped or another run holding the item, a login missing, a
#: file changed under the run, a video the site makes available only later. They never count
#: toward giving an item up (nor reset the count); so do not the local faults
#: (:data:`schemas.faults.REASONS`), ``*_exhausted`` (429/5xx past the retries), ``robots_txt_*``
#: (robots.txt unreachable) and ``internal_error:*`` (a bug here).
TRANSIENT_REASONS = frozenset(
    {
        "timeout",
        "connection_error",
        "host_blocked",
        "http_401",
        "http_403",
        "http_429",
        "interrupted",
        "stopped",
        BUSY,
        "worker_lost",
        "catalog_damaged",
        "login_required",
        "instaloader_error",
        "html_instead_of_json",  # a login wall or a "please wait" page for a JSON query
        "page_without_data",  # a page that embeds no data: a block, a "please wait" page
        "profile_unavailable",  # a profile the login cannot see (it blocked the login)
        SHAPE_CHANGED,
        "resume_mismatch",
        "part_changed",
        FILE_VANISHED,
        "fetch_failed",
        "not_yet_available",  # the site names the time it can be downloaded: a rerun after it does
    }
)


def is_transient(reason: str | None) -> bool:
    """Whether a failure for ``reason`` is passing trouble (:data:`TRANSIENT_REASONS`), not
    counted toward giving the item up."""
    r = reason or "fetch_failed"
    return (
        r in TRANSIENT_REASONS
        or r in LOCAL_FAULT_REASONS
        or r.endswith("_exhausted")
        or r.startswith(("robots_txt_", "internal_error:"))
    )


def failure_state(reason: str, attempts: int, limit: int) -> dict[str, Any]:
    """The state to record for an item that failed for ``reason``, ``attempts`` its count of
    failed runs before: a final reason -> ``rejected`` and a transient one (:func:`is_transient`)
    -> ``failed``, the count as it was; any other -> ``failed`` and counted, ``rejected
    gave_up:<reason>`` once the count reaches ``limit`` (0: never)."""
    status = status_for(reason)
    if status == Status.REJECTED or is_transient(reason):
        return {"status": status, "reason": reason}
    attempts += 1
    if limit and attempts >= limit:
        return {"status": Status.REJECTED, "reason": GAVE_UP_PREFIX + reason, "attempts": attempts}
    return {"status": Status.FAILED, "reason": reason, "attempts": attempts}


def gave_up_note(state: dict[str, Any]) -> str | None:
    """What a problem line adds for an item :func:`failure_state` gave up (None otherwise)."""
    if not given_up(state["status"], state["reason"]):
        return None
    return f"failed like this in {state['attempts']} runs: given up ({RETRY_GIVEN_UP})"


@dataclass
class Candidate:
    """Something discovered at a source, not yet fetched."""

    raw_id: str | None
    url: str | None = None
    key: str | None = None  # host it mostly talks to (per-host executor limit)
    payload: Any = None  # source specific (info dict, post, shop reference, ...)
    origin: str | None = None  # the local file it was read from (a saved structure), for messages


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
    url: str | None = None  # what was asked for at fault (the page, the video, a view)
    kind: str | None = None  # which of the item's files that is (``page`` for the item's page)
    message: str | None = None  # what happened there, and what to do when there is a hint

    @property
    def given_up(self) -> bool:
        """Whether the item was given up, by this run (``rejected``) or an earlier one (``skipped``)."""
        return (self.reason or "").startswith(GAVE_UP_PREFIX)


@dataclass
class Summary:
    """Final figures of one ``mf-collect`` run.

    ``failed``: network or server trouble, or a local fault (a rerun tries again); ``rejected``:
    the item or its content was refused for good (content checks, not a video, too large, unsafe
    id, 404). ``problems`` lists both, one per item, every one with the same keys:
    ``source_id``, ``status``, ``reason``, ``stage`` (``item``, or ``discovery`` for a listing
    page discovery could not read), and the ``url``, ``kind`` and ``message`` of the page or file
    at fault and the ``path`` of a local fault, each None when not known. ``stopped``: the local fault that ended the run early (``reason``,
    ``path``, ``message``), None when the run went through. ``executor``: what ran where on a
    remote executor (``{"name", "nodes", "worker_retries"}``: tasks per node, and each item run
    again because its worker died running it, with ``source_id``, the dead ``worker``'s id and
    the ``reason``), None on the local one.
    ``cancelled``: items handed to the workers but never run because the run stopped (Ctrl-C, a
    local fault); nothing of them was written, and a rerun collects them. ``not_started``: items
    discovery found that were never handed to a worker because the run stopped first (a rerun
    collects them; items discovery had not reached yet are counted nowhere). An item another run
    was collecting is ``skipped`` and listed in ``problems`` too (reason ``busy_elsewhere``,
    naming that run); it does not change the exit status. ``given_up``: items not collected
    because they failed for a reason that looks permanent in ``max_failed_runs`` runs: given up
    by this run (``rejected gave_up:<reason>``, in ``problems``) or skipped as given up before
    (counted in ``skipped`` too); ``--retry-given-up`` tries them again.
    """

    source: str
    ok: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    cancelled: int = 0
    not_started: int = 0
    given_up: int = 0
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
        self.given_up += out.given_up
        self.files += out.files
        self.bytes += out.bytes
        if out.status in ("failed", "rejected") or out.reason == BUSY:
            if out.reason:
                self.reasons[out.reason] = self.reasons.get(out.reason, 0) + 1
            # one key set for every problem (None where unknown): ``stage`` "item" or "discovery"
            problem = {
                "source_id": out.source_id,
                "status": out.status,
                "reason": out.reason,
                "stage": "item",
            }
            for key in PROBLEM_DETAILS:
                problem[key] = getattr(out, key) or None
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
            text += "\n  " + problem_line(p)
        if len(self.problems) > max_listed:
            text += f"\n  ... and {len(self.problems) - max_listed} more (--json lists all)"
        text += _worker_retries_line(self.executor)
        if self.not_started:
            text += f"\n{self.not_started} not started; rerun to collect them"
        if self.given_up:
            text += f"\n{self.given_up} given up ({GIVEN_UP_WHY}): {RETRY_GIVEN_UP}"
        if self.dry_run:
            text = f"dry run: would collect {len(self.items)} items\n" + "\n".join(
                f"  {i['source_id']}  {i.get('url') or ''}" for i in self.items
            )
        # an interrupted or stopped run is said once, on stderr, by the command (mf-collect)
        return text


def _worker_retries_line(executor: dict[str, Any] | None) -> str:
    """The text summary's line on items run again because their worker died ('' when none)."""
    retries = (executor or {}).get("worker_retries") or []
    if not retries:
        return ""
    shown = ", ".join(f"{r['source_id']} (worker {r['worker'][:12]})" for r in retries[:10])
    more = f" and {len(retries) - 10} more (--json lists all)" if len(retries) > 10 else ""
    n = len(retries)
    return f"\n{n} item{'' if n == 1 else 's'} run again after a worker died: {shown}{more}"


#: the keys of a problem besides source_id, status, reason and stage (None when not known)
PROBLEM_DETAILS = ("path", "url", "kind", "message")


def problem_line(p: dict[str, Any]) -> str:
    """``failed   7003  http_503_exhausted  shop https://...: HTTP 503 (rerun later)``: one
    problem of :attr:`Summary.problems` as a line of the text summary; a problem of this machine
    names its path (``failed   412395  permission_denied  at /data/netaporter/412395``), as the
    line that stops the run does, unless its message names it already."""
    line = f"{p['status']:<8} {p['source_id']}  {p['reason'] or ''}"
    url = p.get("url")
    if url and url != p["source_id"]:
        line += f"  {p['kind']} {url}" if p.get("kind") else f"  {url}"
    path = p.get("path")
    if path and path != url and path not in (p.get("message") or ""):
        line += f"  at {path}"
    if p.get("message"):
        line += f": {p['message']}"
    return line


#: how often :meth:`CollectContext.claim` tries again when the lock file it locked was removed
_CLAIM_TRIES = 3


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``; None when it is gone."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _create_lock_file(path: Path) -> tuple[int, int] | None:
    """Make the lock file when missing (never opening one that exists: a descriptor of a locked
    file closed by another thread of this process would drop its lock on NFS); its id."""
    with local_faults(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
    return _file_id(path)


def _unlink_lock_file(path: Path) -> None:
    """Remove a lock file while still holding it (best effort: one left behind is only reused)."""
    with contextlib.suppress(OSError):
        path.unlink()


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
        retry_given_up: bool = False,
        force_refetch: bool = False,
    ) -> None:
        self.root = Path(os.path.normpath(root))  # the form inside() answers in (relative_to works)
        self.catalog = LockedCatalog(catalog)
        self.cfg = cfg
        self.client = client
        self.retry_rejected = retry_rejected
        self.retry_given_up = retry_given_up
        #: download a damaged file again even when its source still serves the same one
        #: (:mod:`collectors.refetch`)
        self.force_refetch = force_refetch
        #: the local fault (or catalog damage) that stops this run; the first one wins
        self.fault: MFError | None = None
        self._fault_lock = threading.Lock()
        #: why an item's files failed, for its problem line: (source, id) -> (kind, row key) ->
        #: (the URL asked for, message)
        self._why: dict[tuple[str, str], dict[tuple[str, str], tuple[str, str]]] = {}
        #: items cleaning rejected for damaged media, being collected again (:mod:`collectors.refetch`)
        self._retries: dict[tuple[str, str], DamagedRetry] = {}
        #: HEAD answers an item's source already got, by URL (:meth:`head`): read by the check
        #: whether its source still serves a file (:mod:`collectors.refetch`) instead of another HEAD
        self._heads: dict[tuple[str, str], dict[str, requests.Response]] = {}

    @property
    def stop(self) -> threading.Event:
        return self.client.stop

    def wind_down(self) -> None:
        """The run winds down (the first Ctrl-C): a running item's wait for a host's pause, a
        backoff or a Retry-After ends at once and the item comes back ``interrupted`` (a rerun
        collects it); its rate-token waits, requests and transfers go on."""
        self.client.winddown.set()

    def halt(self, fault: LocalFault | CatalogCorrupt) -> None:
        """Stop the run: a local fault (disk full, ...) or a damaged catalog fails every item
        alike. Transfers in flight are aborted and keep their ``.part`` files for the rerun."""
        with self._fault_lock:
            if self.fault is None:
                self.fault = fault
                log.warning("stopping the run: %s", fault)
        self.stop.set()

    def item_dir(self, source: SourceName, source_id: str) -> Path:
        """``ROOT/<source>/<source_id>``, the folder a collector writes the item's files in: the id
        must be a plain name and the folder inside the root; refused (:class:`PathEscapeError`)
        when it or ``ROOT/<source>`` is a symbolic link (:func:`~schemas.paths.plain_folder`), so
        no download, copy or removal lands outside the root through a link."""
        folder = inside(
            self.root,
            str(source),
            check_safe_name(source_id),
            what="item folder",
            root_label="the collection root",
        )
        plain_folder(
            self.root,
            f"{source}/{source_id}",
            what="item folder",
            hint=f"replace {folder} by a plain folder inside the collection root (move the files "
            "it links to back in, or remove the link and rerun: its item is collected again)",
        )
        return folder

    def lock_path(self, source: SourceName, source_id: str) -> Path:
        """``ROOT/.locks/<source>/.<source_id>.lock``: held while a run collects the item (a
        hidden file, as every file of the root that is no collected media)."""
        return inside(
            self.root,
            LOCKS_DIR,
            str(source),
            f".{check_safe_name(source_id)}.lock",
            what="item lock",
            root_label="the collection root",
        )

    def claim(
        self, held: ExitStack, source: SourceName, source_id: str, url: str | None = None
    ) -> Outcome | None:
        """Take the item's collect lock into ``held`` (released when it closes): None once
        taken. While another run, or another worker of this one, holds it, nothing waits and
        nothing is written: the outcome is ``skipped`` (``busy_elsewhere``), naming the holder,
        which records the item itself.

        The lock file goes when its holder is done (it is removed while still locked; a run
        that locked a file removed meanwhile sees the path name another file and tries again),
        so a root keeps no lock file of an item nobody collects."""
        path = self.lock_path(source, source_id)
        for _ in range(_CLAIM_TRIES):
            before = _create_lock_file(path)
            attempt = ExitStack()
            try:
                attempt.enter_context(file_lock(path, timeout_s=0, who=_BUSY_WHO))
            except LockBusy as exc:
                holder = exc.message.removeprefix("held by ").removesuffix(f": {_BUSY_WHO}")
                return self._busy(source, source_id, url, f"being collected by {holder}")
            if before is not None and _file_id(path) == before:
                attempt.callback(_unlink_lock_file, path)  # runs before the lock's release
                held.enter_context(attempt.pop_all())
                return None
            attempt.close()  # locked a file its holder removed meanwhile: take the new one
        return self._busy(
            source, source_id, url, "being collected by other runs (its lock file kept changing)"
        )

    def _busy(self, source: SourceName, source_id: str, url: str | None, why: str) -> Outcome:
        message = f"{why}; that run records it (rerun after it ends to check)"
        log.warning("%s %s: %s", source, source_id, message)
        return Outcome(source_id, "skipped", BUSY, url=url, message=message)

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
        ``retry_rejected`` collects again the items a collector rejected (:func:`collector_rejected`)
        and those cleaning rejected for a damaged video or shop image file
        (``DAMAGED_MEDIA_PREFIXES``: its bytes are not what a new download gives when it was
        damaged on the disk; a file its source still serves damaged is not downloaded again:
        :mod:`collectors.refetch`); any other
        rejection by cleaning or review stays. An item given up (:func:`given_up`) is skipped
        unless ``retry_given_up``."""
        row = self.catalog.get_item(str(source), source_id)
        if row is None:
            return False
        if given_up(row.status, row.reason):
            return not self.retry_given_up
        if row.status == Status.REJECTED and not self.retry_rejected:
            return True
        if collector_rejected(row.status, row.reason):
            return False  # retry_rejected: the site may have been fixed since
        if row.status == Status.REJECTED and (row.reason or "").startswith(DAMAGED_MEDIA_PREFIXES):
            return False  # retry_rejected: downloaded again unless its source still serves it (refetch)
        if row.status not in PAST_COLLECTION and row.status != Status.DOWNLOADED:
            return False
        assets = self.catalog.assets(source=str(source), source_id=source_id)
        if row.status == Status.DOWNLOADED and any(a.status == Status.FAILED for a in assets):
            return False  # an optional asset failed for a passing reason: try it again
        return all(self.file_ok(a) for a in assets if a.path and a.sha256)

    def skipped(self, source: SourceName, source_id: str) -> Outcome:
        """The outcome of an item skipped as done; its reason ``gave_up:...`` when it was given up
        (the summary counts those apart)."""
        row = self.catalog.get_item(str(source), source_id)
        reason = row.reason if row is not None and given_up(row.status, row.reason) else None
        return Outcome(source_id, "skipped", reason)

    def known_asset(
        self, source: SourceName, source_id: str, kind: AssetKind, url: str, *, fetch_url: str | None = None
    ) -> MediaAsset | None:
        """The intact asset of this kind recorded under ``url`` (its key), if any: downloaded
        (its SHA-256), or accepted by cleaning (its size, and SHA-256 where recorded) and not
        changed at its source (:func:`collectors.refetch.source_changed`: one conditional HEAD of
        ``fetch_url``, default ``url``, only when its download left a record with a validator).
        An accepted row is returned as it is: ``accepted``, nothing for cleaning to check again."""
        for a in self.catalog.assets(source=str(source), source_id=source_id, kind=str(kind)):
            if (a.url or "") != url:
                continue
            if a.status == Status.DOWNLOADED and self.file_ok(a):
                return a
            if a.status == Status.ACCEPTED:
                path = self._in_place(a)
                asked = fetch_url or url
                answered = self._answered(source, source_id, asked) if path is not None else None
                if path is not None and not source_changed(self.client, path, a, asked, answered):
                    return a
        return None

    def _in_place(self, asset: MediaAsset) -> Path | None:
        """The file of ``asset`` when it is under the root with its recorded size, and SHA-256
        where one is recorded; else None."""
        if not asset.path or asset.size is None:
            return None
        try:
            path = resolve_under(self.root, asset.path, what="asset path", root_label="the collection root")
        except PathEscapeError as exc:
            log.warning("%s/%s: %s", asset.source, asset.source_id, exc)
            return None
        if not path.is_file() or path.stat().st_size != asset.size:
            return None
        return path if not asset.sha256 or sha256_file(path) == asset.sha256 else None

    def head(self, item: SourceItem, url: str) -> requests.Response:
        """HEAD ``url`` for ``item`` (:meth:`PoliteClient.head`; a 4xx raises ``FetchError``); the
        answer is kept until the item is recorded, so the check whether its source still serves
        the file at ``url`` (:mod:`collectors.refetch`) reads it instead of sending another HEAD."""
        resp = self.client.head(url)
        self._heads.setdefault((str(item.source), item.source_id), {})[url] = resp
        return resp

    def _answered(self, source: SourceName | str, source_id: str, url: str) -> requests.Response | None:
        """The HEAD of ``url`` this item already sent (:meth:`head`), taken: it answers once."""
        return self._heads.get((str(source), source_id), {}).pop(url, None)

    def note_failure(self, asset: MediaAsset, exc: FetchError, url: str | None = None) -> None:
        """Keep why ``asset`` failed (message and hint; ``url``: where it was asked for when
        its row is keyed otherwise) for its item's problem line."""
        text = exc.message + (f" ({exc.hint})" if exc.hint else "")
        slots = self._why.setdefault((str(asset.source), asset.source_id), {})
        slots[(str(asset.kind), asset.url or "")] = (url or asset.url or "", text)

    def drop_assets(self, assets: list[MediaAsset]) -> None:
        """Drop asset rows that another row of their item now stands for (a slot's row under
        its stable key, the item's new shop image), and their files no row of the item names."""
        if not assets:
            return
        self.catalog.delete_assets(assets)
        a0 = assets[0]
        named = {a.path for a in self.catalog.assets(source=str(a0.source), source_id=a0.source_id)}
        for a in assets:
            if a.path and a.path not in named:
                try:
                    path = resolve_under(
                        self.root, a.path, what="asset path", root_label="the collection root"
                    )
                except PathEscapeError:
                    continue  # a tampered row: its path is never touched
                with local_faults(path):
                    path.unlink(missing_ok=True)
                    served_path(path).unlink(missing_ok=True)

    # -- assets --------------------------------------------------------------------
    def fetch_asset(
        self,
        item: SourceItem,
        kind: AssetKind,
        url: str,
        expect: str,
        *,
        stem: str | None = None,
        key: str | None = None,
    ) -> MediaAsset:
        """Download one asset of ``item`` from ``url`` (or reuse a verified earlier download);
        record its row under ``key`` (default: the URL; a stable name for URLs that change on
        every read, such as signed CDN URLs), which replaces an earlier row of that key."""
        key = key or url
        known = self.known_asset(item.source, item.source_id, kind, key, fetch_url=url)
        if known is not None:
            return known  # downloaded, or accepted by cleaning, intact: not downloaded again
        folder = self.item_dir(item.source, item.source_id)
        try:
            unchanged = self._unchanged_at_source(item, kind, key, url)
            if unchanged is not None:
                return unchanged
            dl = self.client.download(url, folder, stem or str(kind), expect)
            record_served(dl)
        except LocalFault as fault:
            self.record_fault(item, kind, key, fault)
            raise
        except FetchError as exc:
            asset = MediaAsset(
                source=item.source,
                source_id=item.source_id,
                kind=kind,
                url=key,
                status=status_for(exc.reason),
                reason=exc.reason,
            )
            if exc.reason != "interrupted":
                self.catalog.upsert_assets([asset])
            self.note_failure(asset, exc, url)
            log.info("%s/%s %s: %s (%s)", item.source, item.source_id, kind, exc.reason, exc.message)
            return asset
        asset = MediaAsset(
            source=item.source,
            source_id=item.source_id,
            kind=kind,
            url=key,
            path=dl.path.relative_to(self.root).as_posix(),
            sha256=dl.sha256,
            size=dl.size,
            content_type=dl.content_type,
            probe=dl.probe,
            status=Status.DOWNLOADED,
        )
        if not self._same_damaged_bytes(asset, url):
            self.catalog.upsert_assets([asset])
        return asset

    def _unchanged_at_source(
        self, item: SourceItem, kind: AssetKind, key: str, url: str
    ) -> MediaAsset | None:
        """A damaged file of an item retried for it, when the record of its download says the
        bytes on the disk are what the source served and one HEAD says it still serves them:
        its row (as downloaded, held back until the item is recorded); else None (download it)."""
        retry = self._retries.get((str(item.source), item.source_id))
        row = retry.damaged(kind, key) if retry is not None else None
        if retry is None or row is None or not row.path:
            return None
        try:
            path = resolve_under(self.root, row.path, what="asset path", root_label="the collection root")
        except PathEscapeError:
            return None
        served = read_served(path)
        if served is None or (served.sha256, served.size) != (row.sha256, row.size):
            return None  # no validator, or damaged on the disk after its download: fetched again
        if not still_served(self.client, url, served, self._answered(item.source, item.source_id, url)):
            return None
        return retry.unchanged_at_source(row, url, served)

    def _same_damaged_bytes(self, asset: MediaAsset, url: str) -> bool:
        """Whether ``asset``, just downloaded again, holds the very bytes of the damaged file of
        an item retried for it (its row is then held back until the item is recorded)."""
        retry = self._retries.get((str(asset.source), asset.source_id))
        return retry is not None and retry.downloaded(asset, url)

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
        downloaded into the item folder; the user's own files are copied, through a temporary
        file named as :func:`schemas.atomic.partial_path` names them: one a killed run left is
        swept here, and by every other sweep of the folder)."""
        src = Path(src)
        folder = self.item_dir(item.source, item.source_id)
        with local_faults(folder):
            folder.mkdir(parents=True, exist_ok=True)
            sweep_partials(folder)  # a copy a killed run left half-made
        stem = stem or str(kind)
        try:
            probe, seen = probe_unchanged(src, expect)
        except FetchError as exc:
            if move and exc.reason != FILE_VANISHED:
                src.unlink(missing_ok=True)
            if exc.reason == HTML_REASON:  # named by its URL, as one the polite client fetched is
                exc = html_in_place_of(expect, url, content_type)
            failed = self.failed_asset(item, kind, url, exc.reason)
            self.note_failure(failed, exc)
            return failed
        final = folder / f"{stem}.{ext_for(src.name, content_type, expect, src)}"
        part: Path | None = src if move else None
        try:
            if part is None:  # a fault here or in the copy names ``final`` (schemas.faults)
                part = partial_path(final)
            with local_faults(part):
                if not move:  # the user's file is copied: the copy is what goes into place
                    shutil.copyfile(src, part)
                    if stamp(src) != seen:
                        raise vanished(src)
                    seen = stamp(part) or seen
                with open(part, "rb+") as fh:
                    os.fsync(fh.fileno())
                digest, size = hash_unchanged(part, seen)
                os.replace(part, final)
        except (FetchError, FileNotFoundError) as exc:
            # gone or changed since its check (another run on this folder): a rerun fetches it again
            if not move and part is not None:
                part.unlink(missing_ok=True)
            why = exc if isinstance(exc, FetchError) else vanished(src)
            failed = self.failed_asset(item, kind, url, why.reason)
            self.note_failure(failed, why)
            return failed
        except LocalFault as fault:
            if part is not None:  # a partial copy (or download) would only take space
                part.unlink(missing_ok=True)
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
        if not self._same_damaged_bytes(asset, url):
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

    def failed_asset(self, item: SourceItem, kind: AssetKind, url: str, reason: str) -> MediaAsset:
        """Record the asset ``kind`` of ``item`` (keyed ``url``) as not collected for ``reason``:
        ``failed`` (a rerun retries) or ``rejected`` for a final reason (:func:`status_for`)."""
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
        """Record the item ``discovered`` (kept ``downloaded`` when it was); an item cleaning
        rejected for damaged media is noted with its rows first (:mod:`collectors.refetch`)."""
        row = self.catalog.get_item(str(item.source), item.source_id)
        key = (str(item.source), item.source_id)
        self._retries.pop(key, None)
        self._heads.pop(key, None)  # answers a failed earlier try of it got
        if row is not None and row.status == Status.REJECTED and not self.force_refetch:
            reason = row.reason or ""
            if reason.startswith(DAMAGED_MEDIA_PREFIXES):
                rows = self.catalog.assets(source=key[0], source_id=key[1])
                self._retries[key] = DamagedRetry(reason, {(str(a.kind), a.url or ""): a for a in rows})
        if row is None or row.status != Status.DOWNLOADED:
            self.catalog.upsert_items([item], status=Status.DISCOVERED, reason=None)
        else:
            self.catalog.upsert_items([item])

    def finish_item(
        self, item: SourceItem, assets: list[MediaAsset], *, required: Iterable[AssetKind]
    ) -> Outcome:
        """Item status from its assets: every required kind downloaded -> ``downloaded``; else
        the outcome names the first file at fault (kind, URL, what happened)."""
        required = set(required)
        why = self._why.pop((str(item.source), item.source_id), {})
        self._heads.pop((str(item.source), item.source_id), None)
        retry = self._retries.pop((str(item.source), item.source_id), None)
        bad = [a for a in assets if a.kind in required and a.status not in IN_PLACE]
        files = [a for a in assets if a.status in IN_PLACE]
        written = {"files": len(files), "bytes": sum(a.size or 0 for a in files)}
        if any(a.reason == "interrupted" for a in assets):
            return Outcome(item.source_id, "failed", "interrupted")
        if retry is not None:
            if retry.keeps(failed=bool(bad) or not any(a.kind in required for a in assets)):
                return self._kept_rejected(item, retry)
            self.catalog.upsert_assets(retry.held())  # for mf clean to check
        if not any(a.kind in required for a in assets) and required:
            state = self.record_failure(item, "no_media")
            return Outcome(
                item.source_id,
                str(state["status"]),
                state["reason"],
                url=item.url,
                kind="page",
                message=f"no {' or '.join(sorted(map(str, required)))} found for it",
            )
        if bad:
            # a transient failure wins over a final one, so a rerun retries the item
            transient = [a for a in bad if a.status == Status.FAILED]
            first = (transient or bad)[0]
            state = self.record_failure(item, first.reason or "fetch_failed")
            url, message = why.get((str(first.kind), first.url or ""), (first.url, None))
            return Outcome(
                item.source_id,
                str(state["status"]),
                state["reason"] if first.reason else None,
                url=url,
                kind=str(first.kind),
                message=_joined(message, gave_up_note(state)),
                **written,
            )
        self.catalog.upsert_items([item], status=Status.DOWNLOADED, reason=None, attempts=0)
        return Outcome(item.source_id, "ok", None, **written)

    def _kept_rejected(self, item: SourceItem, retry: DamagedRetry) -> Outcome:
        """The item stays as cleaning left it (its reason, the rows of the files downloaded
        again with the same bytes): its source still serves the damaged file."""
        self.catalog.upsert_assets(retry.same)
        self.catalog.upsert_items([item], status=Status.REJECTED, reason=retry.reason)
        row, url, why = retry.still[0]
        more = f" (and {len(retry.still) - 1} more such files)" if len(retry.still) > 1 else ""
        return Outcome(
            item.source_id, "rejected", STILL_DAMAGED, url=url, kind=str(row.kind), message=why + more
        )

    def failure_state(self, row: ItemRow | None, reason: str) -> dict[str, Any]:
        """:func:`failure_state` of an item (``row``: as the catalog has it, None when new) under
        this run's ``max_failed_runs``. An item given up and tried again (``--retry-given-up``)
        starts a fresh count: the runs that gave it up do not count, so it is given up again only
        after ``max_failed_runs`` more runs failing like that (a transient failure sets its count
        to 0)."""
        if row is not None and given_up(row.status, row.reason):
            return {"attempts": 0, **failure_state(reason, 0, self.cfg.max_failed_runs)}
        return failure_state(reason, row.attempts if row is not None else 0, self.cfg.max_failed_runs)

    def record_failure(self, item: SourceItem, reason: str) -> dict[str, Any]:
        """Record ``item`` failed or rejected for ``reason``, this failed run counted toward giving
        it up (:func:`failure_state`); returns the state written."""
        state = self.failure_state(self.catalog.get_item(str(item.source), item.source_id), reason)
        self.catalog.upsert_items([item], **state)
        if given_up(state["status"], state["reason"]):
            log.warning(
                "%s %s: failed %s in %d runs: given up (--retry-given-up tries it again)",
                item.source,
                item.source_id,
                reason,
                state["attempts"],
            )
        return state

    def reject_item(
        self, item: SourceItem, reason: str, exc: FetchError | None = None, *, note: str | None = None
    ) -> Outcome:
        """Record the item failed or rejected for ``reason`` (``exc``: what its page answered;
        ``note``: else what the problem line says about it)."""
        state = self.record_failure(item, reason)
        message = note if exc is None else exc.message + (f" ({exc.hint})" if exc.hint else "")
        url = exc.where if exc is not None and exc.where else item.url
        return Outcome(
            item.source_id,
            str(state["status"]),
            state["reason"],
            url=url,
            kind="page",
            message=_joined(message, gave_up_note(state)),
        )

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
        # the problem line names the id and where it came from (it named only the stand-in)
        message = f"id {raw_id!r} is no plain file name (a path, a control character, too long): refused"
        return Outcome(item.source_id, "rejected", "unsafe_id", url=url, message=message)


def _joined(*parts: str | None) -> str | None:
    """The parts that are there, joined by ``; `` (None when none is)."""
    there = [p for p in parts if p]
    return "; ".join(there) or None


def safe_id(raw: str | None) -> str | None:
    """``raw`` if it is usable as one path component, else None."""
    if raw is None:
        return None
    try:
        return check_safe_name(str(raw))
    except ValueError:
        return None


#: zero-width non-joiner and joiner: inside a word in Persian, Indic scripts, ...
_JOINERS = "\u200c\u200d"


def _in_tag(c: str) -> bool:
    """Whether ``c`` continues a hashtag: a word character, a combining mark (accents, Indic
    vowel signs) or a joiner."""
    return c.isalnum() or c == "_" or c in _JOINERS or unicodedata.category(c)[0] == "M"


def hashtags_in(text: str | None) -> list[str]:
    """The ``#tags`` of a caption or description, in order (without the ``#``), NFC-normalised
    (a caption typed on macOS, NFD, gives the same tags). A tag starts with a word character and
    runs to the next whitespace or punctuation, marks and joiners included."""
    text = unicodedata.normalize("NFC", text or "")
    tags: list[str] = []
    start = text.find("#")
    while start != -1:
        end = start + 1
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            while end < len(text) and _in_tag(text[end]):
                end += 1
            tags.append(text[start + 1 : end].rstrip(_JOINERS))
        start = text.find("#", end)
    return tags
