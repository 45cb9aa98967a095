"""``mf review``: the review page, served on loopback by the standard library's HTTP server.

Routes (``TOKEN`` is random per run; reads take it as ``?token=`` or the header, writes only
as the ``X-Review-Token`` header, so a page of another origin can neither read nor write)::

    GET  /                       the page (static/index.html; no data in it)
    GET  /static/<file>          its script and style sheet, from this package (no CDN)
    GET  /api/queue              the queue, filters' values, progress, sample rate, and ``left``:
                                 why each item that left it since the start did (the queue is
                                 built again when the dataset or the catalog changed; an item
                                 with a live decision stays, see :meth:`ReviewApp.refresh_queue`)
    GET  /api/item?video=STEM    one video: tracklets with boxes and scores, fps, frame times
                                 (variable rate), pixel aspect, decisions, and ``pick``: why no
                                 tracklet pick is offered (no tracklet file), null when one is
    GET  /api/crops?video=STEM&tracklet=I   a JPEG strip of the tracklet's crops
    GET  /media/<path>           a file of the dataset's media folders (byte ranges for <video>)
    GET  /api/file?video=STEM&file=video|shop|candidate-N   a held-back item's collected video,
                                                shop image or carousel candidate N,
                                 from the collection folder (byte ranges too)
    POST /api/decision           {video, kind, reason?, df2_class?, tracklet?, note?, candidate?,
                                  request_id} (``candidate``: a shop decision's carousel candidate,
                                  0-based)
    POST /api/undo               {decision_id? | video?, seen_decision?, request_id}
                                 (``seen_decision``: with ``video``, the latest live decision
                                 the page showed on it, null for none; a later one is 409)

Every decision is committed to the catalog before the answer is sent (``schemas.review``).
A POST body is checked field by field before anything is stored: a field of the wrong type or
out of range, one another kind of decision takes, or one no route knows is answered 400 naming
it; a retried ``request_id`` that asks for something else 409; a pick that cannot take the
dataset's lock within :data:`LOCK_WAIT_S` (a publish or a build holds it) 503 naming the holder,
and so does any write that cannot take the catalog's write lock within that time (an sqlite3 shell
in a transaction, a long writer), while the page's other requests keep answering (writes go
through a connection of their own); an accept of an item without a DeepFashion2 class 400
(choose one first); a request about an item that left the queue 410 saying why (every request
about one item, the item, its crops and files, a decision, an undo, looks at the queue as the
dataset and the catalog are when it arrives: :meth:`ReviewApp.current_item`); anything
unforeseen 500 (logged),
so every request gets an answer.
Requests naming a Host other than the bound address are refused (DNS rebinding), and so is
any media path outside the dataset's media folders; ``/api/file`` serves only the two files the
queue resolved for an item, inside the collection folder.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from annotations.review.decisions import decide, reconcile_picks, undo
from annotations.review.marks import merged_owner, page_refusal
from annotations.review.media import (
    CONTENT_TYPES,
    Refused,
    VideoTiming,
    crop_strip,
    parse_range,
    resolve_media,
    video_fps,
    video_timing,
)
from annotations.review.queue import (
    FILE,
    KEPT_DECIDED,
    Queue,
    QueueItem,
    SummaryCache,
    build_queue,
    catalog_item_data,
)
from annotations.tracklet_files import dataset_lock, read_video_tracklets
from schemas.atomic import LockBusy, lock_wait_s
from schemas.catalog import WAL_OWNER_SUFFIX, Catalog, CatalogLocked
from schemas.dataset import Tracklet
from schemas.errors import CatalogError, ConfigError, MFError, listen_error
from schemas.paths import resolve_under
from schemas.redact import redact, redacted_logger
from schemas.review import (
    KINDS,
    NO_CLASS,
    ItemChanged,
    ItemState,
    accept_lacks_class,
    find_item,
    item_state,
    list_decisions,
    review_states,
)
from schemas.taxonomy import DF2_CLASSES
from schemas.text_input import clean_text
from schemas.video_items import VideoItemsCache

log = redacted_logger("annotations.review")

STATIC_DIR = Path(__file__).with_name("static")
STATIC_FILES = {"index.html": "text/html", "review.js": "text/javascript", "review.css": "text/css"}
TOKEN_HEADER = "X-Review-Token"
MAX_BODY = 64 * 1024
#: the decisions the page makes (an ``import`` is made by ``mf-tracklets import``), and the field
#: each takes besides ``video``, ``kind`` and ``request_id``
PAGE_FIELDS = {
    "accept": (),
    "reject": ("reason",),
    "class": ("df2_class",),
    "tracklet": ("tracklet",),
    "note": ("note",),
    "shop": ("candidate",),
}
#: ``seen_decision``: with ``video``, the id of the latest live decision the page showed on it
#: (null: none); an undo of a later one (another page's, unseen) is refused (409)
UNDO_FIELDS = ("decision_id", "video", "request_id", "seen_decision")
#: the largest integer a body field may hold (SQLite's integers are 64-bit)
MAX_INT = 2**31 - 1
MAX_TEXT = 2000
MAX_REQUEST_ID = 200
#: how long (seconds) a pick waits for the dataset's lock (a publish or a build writing it), and any
#: write for the catalog's write lock, before it answers 503 with the holder's name
#: (``$MF_LOCK_WAIT_S`` may shorten it)
LOCK_WAIT_S = 30.0
#: the page loads nothing from elsewhere and runs no inline script
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


#: what a request without the server's token gets: the token changes at every start of mf review
TOKEN_REFUSED = (
    "missing or wrong token: open the URL that mf review printed (each start prints a new one; a page"
    " opened before a restart has the old one)"
)


class StaleVerdict(Exception):
    """A verdict from a page that showed another one than the video has now (another page or
    reviewer decided meanwhile): refused, 409."""


class LeftQueue(KeyError):
    """A request about an item that left the queue since the page loaded it (the catalog or the
    dataset changed, nothing was decided on it): answered 410 with why."""

    def __str__(self) -> str:
        return str(self.args[0])


class BadRequest(Exception):
    """A POST body field of the wrong type, out of range or unknown (answered 400)."""


def _int_field(body: dict[str, Any], name: str, low: int = 0, high: int = MAX_INT) -> int | None:
    """``body[name]`` as an integer from ``low`` to ``high`` (None when absent or null)."""
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer() and abs(v) <= MAX_INT:
        v = int(v)  # JSON has one number type: 3.0 is 3
    if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {json.dumps(v)[:40]}")
    return v


def _str_field(body: dict[str, Any], name: str, limit: int = MAX_TEXT, *, cut: bool = True) -> str | None:
    """``body[name]`` as text (None when absent or null), cut to ``limit`` characters, or refused
    over it when not ``cut``."""
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, str):
        raise BadRequest(f"{name} must be a string, got {json.dumps(v)[:40]}")
    if len(v) > limit and not cut:
        raise BadRequest(f"{name} must be at most {limit} characters, got {len(v)}")
    return clean_text(v[:limit])  # a lone surrogate (valid JSON "\udcff") is stored as U+FFFD


#: how many times a decision checks its item again when the catalog changed between its check
#: and its write (before it is refused, 503)
RECHECKS = 5
#: the decisions that set a video's verdict; a page sends the verdict it showed (seen_verdict)
VERDICT_KINDS = ("accept", "reject")
_UNSEEN = object()


def _verdict_word(verdict: str | None) -> str:
    return {"accept": "accepted", "reject": "rejected"}.get(verdict or "", "undecided")


def _only_fields(body: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    """Refuse a non-null field that is not in ``allowed`` (nothing is stored of it)."""
    extra = sorted(k for k, v in body.items() if k not in allowed and v is not None)
    if extra:
        raise BadRequest(f"{', '.join(extra)}: not a field of {what} (it takes {', '.join(allowed)})")


def remove_new_catalog(path: Path) -> None:
    """Remove the catalog a failed start created at ``path`` and the files SQLite keeps beside it
    (``-wal``, ``-shm``, ``-journal``, the ``-wal-owner`` record); one already gone is skipped."""
    for suffix in ("", "-wal", "-shm", "-journal", WAL_OWNER_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


class ReviewApp:
    """The state behind the page: dataset, catalog, queue. Thread-safe."""

    def __init__(
        self,
        dataset: str | os.PathLike[str],
        catalog: str | os.PathLike[str],
        *,
        sample_rate: float = 0.1,
        seed: int = 0,
        token: str | None = None,
        create_catalog: bool = False,
        collection: str | os.PathLike[str] | None = None,
    ) -> None:
        """``collection``: the folder of mf-collect, where the media of items publish holds back
        are read when the dataset holds no copy (default: the catalog's folder)."""
        if not 0 <= sample_rate <= 1:
            raise ConfigError(f"sample rate {sample_rate} is not in [0, 1]", where="--sample")
        self.root = Path(dataset).resolve()
        self.catalog_path = Path(catalog)
        self.collection = Path(collection) if collection else self.catalog_path.parent
        self.token = token or secrets.token_urlsafe(24)
        self.lock = threading.RLock()  # the reading connection, self.cat
        self._write_lock = threading.Lock()  # the writing one, self._wcat: one write at a time
        self._queue_args = (sample_rate, seed)
        # a catalog named by the user must be one mf-collect wrote (a typo would start an empty
        # one); the default review catalog (DATASET/.review.sqlite) is started on first use, and
        # removed again when the start fails (a broken dataset leaves no hidden file behind)
        created = create_catalog and not os.path.lexists(self.catalog_path)
        #: whether this app created its catalog (a start that fails before serving removes it)
        self.created_catalog = created
        opened: list[Catalog] = []
        try:
            self.cat = Catalog(self.catalog_path, must_exist=not create_catalog)
            opened.append(self.cat)
            # writes go through a connection of their own: one waiting for another process's write
            # lock holds up no read (WAL readers need no lock); its wait is set per write (_writing)
            self._wcat = Catalog(self.catalog_path, check="none", timeout_s=LOCK_WAIT_S)
            opened.append(self._wcat)
            # the catalog's held-back items join the queue
            self._summaries: SummaryCache = {}  # the tracklet files' summaries, kept between builds
            #: stem -> why it left the queue, of each item that did since the start (none decided on)
            self.left: dict[str, str] = {}
            #: (video, product) -> stem of each item in :attr:`left` (an undo by decision id)
            self._left_keys: dict[tuple[str, str], str] = {}
            self._queue_stamp = self._dataset_stamp()
            self._held_out: Collection[str] = ()  # the held-out lines logged by the last build
            self.queue: Queue = self._build_queue()
            rec = reconcile_picks(self.root, self.cat)
        except BaseException:
            for cat in opened:
                cat.close()
            if created:
                remove_new_catalog(self.catalog_path)
            raise
        self.reconciled, self.superseded = rec.fixed, rec.superseded
        self._fps: dict[str, float] = {}
        #: ``metadata.video_items`` of ``entries.jsonl``, read again only when the file changed
        self._video_items = VideoItemsCache()
        self._timing: dict[tuple[str, int, int], VideoTiming] = {}
        self._crops: OrderedDict[tuple[str, int, int, int, int, int], bytes] = OrderedDict()
        self._crops_lock = threading.Lock()
        self._decode_lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.cat.close()
        with self._write_lock:
            self._wcat.close()

    # -- reads --------------------------------------------------------------------
    def _item_texts(self, product_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Title/caption/designer from the catalog item of each product (by product id, else
        source id) for the queue items whose dataset entries lack them: one query."""
        data = catalog_item_data(self.cat, product_ids)
        return {pid: {k: d.get(k) for k in ("title", "caption", "designer")} for pid, d in data.items()}

    def _dataset_stamp(self) -> tuple[tuple[object, ...], ...]:
        """(name, size, mtime) of what the queue is built from: the split files, the entries, the
        held-back record and the tracklet folder (a file written or removed there changes it),
        the catalog's review decisions (count, latest, undone) and the catalog's version
        (``PRAGMA data_version``: it moves with every commit another connection makes, so a
        ``mf clean`` rerun that holds an item for review, or lets one go, shows at the next
        queue request, not only after a restart, which gives the open pages a new token)."""
        from movingfashion.archive.verify import HELD_TRACKLETS

        out: list[tuple[object, ...]] = []
        for name in ("train.json", "test.json", "entries.jsonl", HELD_TRACKLETS, "tracklets"):
            try:
                st = (self.root / name).stat()
            except OSError:
                continue
            out.append((name, st.st_size, st.st_mtime_ns))
        # a decision changes which videos are kept for their decisions, a shop decision a held
        # item's shop image: one made by another page or by `mf-tracklets review` shows too
        (row,) = self.cat.read(
            "SELECT count(*) AS n, max(id) AS last, count(undone_at) AS undone FROM review_decisions"
        )
        out.append(("decisions", int(row["n"]), int(row["last"] or 0), int(row["undone"])))
        (version,) = self.cat.read("PRAGMA data_version")
        out.append(("catalog", int(version[0])))
        return tuple(out)

    def _decided(self) -> set[tuple[str, str]]:
        """(video, product) of every item with a live decision the page can make or undo (an
        ``import`` is neither)."""
        return {(d.video, d.product_id) for d in list_decisions(self.cat) if d.kind in PAGE_FIELDS}

    def _build_queue(self, decided: set[tuple[str, str]] | None = None) -> Queue:
        """The queue built now; a video held out is logged when the last build did not hold it out."""
        queue = build_queue(
            self.root,
            *self._queue_args,
            catalog=self.cat,
            collection=self.collection.resolve(),
            decided=self._decided() if decided is None else decided,
            cache=self._summaries,
            warned=self._held_out,
        )
        self._held_out = frozenset(queue.held_out)
        return queue

    def refresh_queue(self) -> bool:
        """Build the queue again when the dataset (``mf publish``, a tracklet build) or the catalog
        (a ``mf clean`` rerun, a decision) changed since: held-back items published or let go, new
        flags; True when it did. An item with a live decision stays (its decisions stay
        reachable): one the new build leaves out is carried over with a note saying why; one
        without is dropped and named in :attr:`left` with why (the page says so)."""
        stamp = self._dataset_stamp()
        if stamp == self._queue_stamp:
            return False
        decided = self._decided()
        old, queue = self.queue, self._build_queue(decided)
        self._carry_over(old, queue, decided)
        self.queue, self._queue_stamp = queue, stamp
        return True

    def _carry_over(self, old: Queue, new: Queue, decided: set[tuple[str, str]]) -> None:
        """Put the items of ``old`` that ``new`` lacks and that have live decisions into ``new``
        (after its flagged ones, in video order, with :attr:`QueueItem.kept` saying why), and
        record why each other one left (:attr:`left`)."""
        have = {(it.video, it.product_id) for it in new.items}
        carried = []
        for it in old.items:
            key = (it.video, it.product_id)
            if key in have:
                continue
            if key in decided:
                if not it.kept or it.kept == KEPT_DECIDED:  # not carried over before
                    was = (
                        f"flagged: {it.reason}"
                        if it.flagged
                        else "in the QA sample"
                        if not it.kept
                        else "kept"
                    )
                    it.flagged, it.reason = False, None
                    it.kept = (
                        "neither the split files nor the catalog's held items list it any more (it was "
                        f"{was}); kept in the queue for the review decisions made on it"
                    )
                carried.append(it)
            else:
                self.left[it.stem] = self._left_note(it, new)
                self._left_keys[key] = it.stem
        if carried:
            head = new.flagged + new.kept
            new.items = sorted([*new.items[:head], *carried], key=lambda i: i.video) + new.items[head:]
            new.kept += len(carried)
            new.index()
        for stem in new.by_stem:
            self.left.pop(stem, None)
        for it in new.items:
            self._left_keys.pop((it.video, it.product_id), None)

    def _left_note(self, it: QueueItem, new: Queue) -> str:
        """Why ``it`` left the queue, in words: its product's split-file entry no longer reads
        (held out of ``new``, the queue built now: the file, product and field named), else what
        the catalog holds of its product now."""
        held = new.held_out_products.get(it.product_id)
        if held is not None:
            return (
                f"{it.stem} left the review queue: its split-file entry no longer reads ({held}); "
                "fix that entry, then reload the page (nothing can be decided on it until then)"
            )
        row = find_item(self.cat, it.product_id)
        if row is None:
            now = f"its product {it.product_id} is no longer in the catalog"
        else:
            why = f" ({row['reason']})" if row["reason"] else ""
            now = f"the catalog now has {it.product_id} {row['status']}{why}"
        return (
            f"{it.stem} left the review queue: {now}, and no decision was made on it (a mf clean "
            "rerun, a publish or a build changed it while the page was open)"
        )

    def queue_json(self) -> dict[str, Any]:
        with self.lock:
            self.refresh_queue()
            states = review_states(self.cat)
            texts = self._item_texts(
                it.product_id for it in self.queue.items if it.title is None and it.caption is None
            )
            items = []
            for it in self.queue.items:
                d = it.as_dict()
                st = states.get((it.video, it.product_id))
                if it.title is None and it.caption is None:
                    d.update({k: v for k, v in texts.get(it.product_id, {}).items() if v is not None})
                if st is not None and st.df2_class is not None:
                    d["df2_class"], d["class_name"] = st.df2_class, DF2_CLASSES[st.df2_class]
                if st is not None and st.tracklet is not None:
                    d["ground_truth"] = st.tracklet
                d["state"] = st.as_dict() if st else None
                items.append(d)
            q, left = self.queue, dict(self.left)
        return {
            "items": items,
            "total": len(items),
            "reviewed": sum(1 for d in items if d["state"] and d["state"]["verdict"]),
            "flagged": q.flagged,
            "held_back": q.held_back,
            "missing_media": q.missing_media,
            "held_out": q.held_out,
            "accepted": q.accepted,
            "sampled": q.sampled,
            "sample_rate": q.sample_rate,
            "seed": q.seed,
            "classes": {str(k): v for k, v in DF2_CLASSES.items()},
            "kinds": list(KINDS),
            "catalog": str(self.catalog_path),
            "superseded": self.superseded,
            "kept": q.kept,
            "left": dict(left),
        }

    def current_item(self, stem: str) -> QueueItem:
        """The item ``stem`` as the dataset and the catalog have it now: the one home of "is this
        item still reviewable, and what is its state" for every request about one item (the
        item, its crops, its files, a decision, an undo). The queue is built again first when
        anything it is built from changed (:meth:`refresh_queue`: a ``mf clean`` rerun holding or
        letting go an item, a tracklet build, a publish), so no request answers from a queue
        built before; :class:`LeftQueue` (410, with why) for an item that left it, KeyError for
        one it never held."""
        with self.lock:
            self.refresh_queue()
            return self._queue_item(stem)

    def current_item_of(self, video: str, product_id: str) -> QueueItem | None:
        """:meth:`current_item` by (video, product): an undo by decision id names no stem;
        None when no item of the queue, nor one that left it, is about it."""
        with self.lock:
            self.refresh_queue()
            it = self.queue.by_key.get((video, product_id))
            if it is not None:
                return it
            stem = self._left_keys.get((video, product_id))
            note = self.left.get(stem) if stem is not None else None
        if note is not None:
            raise LeftQueue(note)
        return None

    def _queue_item(self, stem: str) -> QueueItem:
        """The queue's item ``stem`` as last built (:meth:`current_item` brings it up to date
        first); :class:`LeftQueue` for one that left it, else KeyError."""
        it = self.queue.by_stem.get(stem)
        if it is None:
            note = self.left.get(stem)  # read once: a rebuild may take it out meanwhile
            if note is not None:
                raise LeftQueue(note)
            raise KeyError(stem)
        return it

    def _video_file(self, video: str) -> Path:
        return resolve_under(self.root, video, what="video path", follow_symlinks=True)

    def item_file(self, it: QueueItem, which: str = "video") -> Path:
        """The file the page shows as the item's video or shop image: the collected one the
        queue resolved for a held-back item (:data:`FILE`), else the dataset's."""
        src, own = (it.video_src, it.video_file) if which == "video" else (it.shop_src, it.shop_file)
        if src == FILE and own is not None:
            base = self.collection.resolve()
            if base not in own.resolve().parents:  # checked again: a link made since is not followed out
                raise KeyError(f"{it.stem}: {which} file left the collection folder")
            return own
        if src is None:
            raise KeyError(f"{it.stem}: no {which} file")
        return self._video_file(it.video if which == "video" else it.shop)

    def candidate_file(self, it: QueueItem, n: int) -> Path:
        """Carousel candidate ``n`` of a held-back item (its collected file), for the reviewer to
        compare with the shop image cleaning picked."""
        if not 0 <= n < len(it.candidate_files):
            raise KeyError(f"{it.stem}: no candidate {n}")
        own = it.candidate_files[n]
        if self.collection.resolve() not in own.resolve().parents:  # a link made since: not followed out
            raise KeyError(f"{it.stem}: candidate {n} left the collection folder")
        return own

    def fps(self, video: str, it: QueueItem | None = None) -> float:
        if video not in self._fps:
            if it is not None and it.fps:
                self._fps[video] = it.fps
            else:
                try:
                    path = self.item_file(it) if it is not None else self._video_file(video)
                except KeyError:  # no video to show: any rate steps the frames
                    return 30.0
                self._fps[video] = video_fps(path) or 30.0
        return self._fps[video]

    def timing(self, it: QueueItem) -> VideoTiming:
        """The :class:`VideoTiming` of the file the page shows for ``it`` (cached per file
        version); square pixels and no times without a file."""
        try:
            path = self.item_file(it)
            st = path.stat()
        except (KeyError, OSError):
            return VideoTiming(None, 1.0)
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in self._timing:
            self._timing[key] = video_timing(path, self.fps(it.video, it))
        return self._timing[key]

    def item_json(self, stem: str) -> dict[str, Any]:
        it = self.current_item(stem)
        timing = self.timing(it)
        out: dict[str, Any] = {
            "video": it.video,
            "stem": stem,
            "fps": self.fps(it.video, it),
            "frame_times": timing.frame_times,  # None: frame i is shown at i / fps
            "sar": timing.sar,
            "tracklets": [],
            "frames": it.frames,
            "width": it.width,
            "height": it.height,
            # a pick rewrites the video's tracklet file: none, nothing to pick (the page's button is off)
            "pick": NO_FILE_PICK,
        }
        p = it.tracklet_file(self.root)
        if p.is_file():
            out["pick"] = None
            vt = read_video_tracklets(p)
            out.update(
                frames=vt.frames,
                width=it.width if it.box_offset else vt.width,  # the collected file's frame
                height=it.height if it.box_offset else vt.height,
                ground_truth=vt.ground_truth,
                needs_review=vt.needs_review,
                review_reason=vt.review_reason,
                tracklets=[_tracklet_json(i, t, it) for i, t in enumerate(vt.tracklets)],
            )
        elif it.split_boxes is not None:  # the split file's ground truth (the real archive's)
            from movingfashion.media.probe import probe_video

            info = probe_video(self.item_file(it))
            gt = Tracklet(video=it.video, boxes=dict(it.split_boxes.items()), mode="ground-truth")
            out.update(
                frames=info.frames,
                width=info.width,
                height=info.height,
                ground_truth=0,
                needs_review=True,
                review_reason=it.reason,
                tracklets=[_tracklet_json(0, gt, it)],
            )
        with self.lock:
            out["decisions"] = [
                d.as_dict()
                for d in list_decisions(self.cat, video=it.video)
                if not it.shared or d.product_id == it.product_id  # this product's, of a shared video
            ]
        return out

    def crops(self, stem: str, index: int) -> bytes:
        it = self.current_item(stem)
        path = it.tracklet_file(self.root)
        try:  # before the read: a file replaced in between gets a new key next time
            st = path.stat()
            version = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            version = (0, 0, 0)
        if version == (0, 0, 0) and it.split_boxes is not None:  # the split file's ground truth
            tracks = [dict(it.split_boxes.items())]
        else:
            tracks = [
                t.boxes for t in read_video_tracklets(path).tracklets
            ]  # a missing file: DataFormatError
        if not 0 <= index < len(tracks):
            raise KeyError(index)
        # the file's version is in the key: an import that moves boxes gets new crops
        key = (stem, index, len(tracks[index]), *version)
        with self._crops_lock:
            hit = self._crops.get(key)
        if hit is None:
            with self._decode_lock:  # one decode at a time: the CPU is shared with the builder
                src, sar = self.item_file(it), self.timing(it).sar
                hit = crop_strip(src, _shifted(tracks[index], it.box_offset), sar=sar)
            with self._crops_lock:
                self._crops[key] = hit
                while len(self._crops) > 64:
                    self._crops.popitem(last=False)
        return hit

    # -- writes -------------------------------------------------------------------
    def decide(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store the page's decision ``body`` on an item of the queue as the catalog has it now
        (:class:`LeftQueue` for one that left it since the page loaded the queue)."""
        stem = _str_field(body, "video", cut=False)
        kind = _str_field(body, "kind", cut=False)
        if kind not in PAGE_FIELDS:
            raise BadRequest(f"kind must be one of {', '.join(PAGE_FIELDS)}, got {json.dumps(kind)[:40]}")
        _only_fields(
            body,
            (
                "video",
                "kind",
                "request_id",
                *PAGE_FIELDS[kind],
                *(("seen_verdict",) if kind in VERDICT_KINDS else ()),
            ),
            f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} decision",
        )
        seen = body.get("seen_verdict", _UNSEEN) if kind in VERDICT_KINDS else _UNSEEN
        if seen is not _UNSEEN and seen not in (None, *VERDICT_KINDS):
            raise BadRequest(f"seen_verdict must be null, accept or reject, got {json.dumps(seen)[:40]}")
        fields = {
            "reason": _str_field(body, "reason"),
            "df2_class": _int_field(body, "df2_class", min(DF2_CLASSES), max(DF2_CLASSES)),
            "tracklet": _int_field(body, "tracklet"),
            "note": _str_field(body, "note"),
            "request_id": _str_field(body, "request_id", MAX_REQUEST_ID, cut=False),
        }
        candidate = _int_field(body, "candidate") if kind == "shop" else None
        for _ in range(RECHECKS):
            it, state = self._decidable(stem or "")
            self._check_owner(it, kind)
            if kind == "shop":
                fields["shop"] = self._candidate_path(it, candidate)
            if kind == "accept":
                self._check_class(it)
            # a pick writes the dataset's files: its lock first; neither wait holds up the page's
            # other requests (reads take only the app's lock, on the reading connection)
            try:
                with (
                    self._dataset_lock() if kind == "tracklet" else contextlib.nullcontext(),
                    self._writing() as cat,
                ):
                    if seen is not _UNSEEN:
                        self._check_seen(cat, it, seen, fields["request_id"])
                    # the item's state is compared again inside the decision's transaction: a
                    # rerun that committed since the check stores nothing, and the item is checked
                    # again (410 when it left the queue)
                    d, created = decide(
                        self.root,
                        cat,
                        video=it.video,
                        product_id=it.product_id,
                        kind=kind,
                        expect=state,
                        **fields,
                    )
                    st = review_states(cat, video=it.video).get((it.video, it.product_id))
            except ItemChanged:
                continue
            return {"decision": d.as_dict(), "created": created, "state": st.as_dict() if st else None}
        raise self._kept_changing()

    def _decidable(self, stem: str) -> tuple[QueueItem, ItemState]:
        """The queue's item ``stem`` as the catalog has it now (:class:`LeftQueue` for one that
        left the queue since the page loaded it, with why: 410) and its catalog state as the
        queue saw it, for the decision's transaction to compare; an item with a live decision
        stays (kept). The state is read with nothing committed since the queue was checked
        (:meth:`_kept_changing` when commits keep coming in between)."""
        for _ in range(RECHECKS):
            with self.lock:
                it = self.current_item(stem)
                state = item_state(self.cat, it.product_id)
                if self._dataset_stamp() == self._queue_stamp:
                    return it, state
        raise self._kept_changing()

    def _kept_changing(self) -> LockBusy:
        return LockBusy(
            f"the catalog or the dataset changed {RECHECKS} times while a decision was checked (a mf "
            "clean rerun or a build is writing); not saved: decide again",
            where=str(self.catalog_path),
        )

    @staticmethod
    def _candidate_path(it: QueueItem, n: int | None) -> str:
        """The collected path of carousel candidate ``n`` (0-based, as the page numbers them from
        1) of the item, or BadRequest."""
        if not it.candidate_paths:
            raise BadRequest(f"{it.stem} has no carousel candidates to choose among")
        if n is None or not 0 <= n < len(it.candidate_paths):
            raise BadRequest(
                f"candidate must be 0..{len(it.candidate_paths) - 1} for {it.stem}, got {json.dumps(n)}"
            )
        return it.candidate_paths[n]

    @staticmethod
    def _check_seen(cat: Catalog, it: QueueItem, seen: str | None, request_id: str | None) -> None:
        """:class:`StaleVerdict` when the video's verdict is no longer ``seen``, the one the page
        showed; a retry of a stored request passes (it is answered as the first time was)."""
        decided = list_decisions(cat, video=it.video, include_undone=True)
        if request_id is not None and any(d.request_id == request_id for d in decided):
            return
        now = review_states(cat, video=it.video).get((it.video, it.product_id))
        verdict = now.verdict if now else None
        if verdict != seen:
            raise StaleVerdict(
                f"{it.stem} was {_verdict_word(verdict)} by another page or reviewer after this"
                f" page showed it {_verdict_word(seen)}; the page shows it now: decide again to change it"
            )

    @staticmethod
    def _check_seen_decision(cat: Catalog, it: QueueItem, seen: Any, request_id: str | None) -> None:
        """:class:`StaleVerdict` when the latest live decision of the item is no longer ``seen``
        (an id, or None for none), the one the page showed: an undo by video never takes back
        another page's decision unseen; a retry of a stored undo passes."""
        if request_id is not None and cat.read(
            "SELECT 1 FROM review_decisions WHERE undo_request_id = ?", (request_id,)
        ):
            return
        live = [d for d in list_decisions(cat, video=it.video) if d.product_id == it.product_id]
        latest = live[-1] if live else None
        if (latest.id if latest else None) != seen:
            made = f"its {latest.kind} (decision {latest.id})" if latest else "an undo"
            raise StaleVerdict(
                f"{it.stem}: another page or reviewer made {made} after this page showed it; the page"
                " shows it now: press u again to undo the latest decision"
            )

    def _check_owner(self, it: QueueItem, kind: str) -> None:
        """BadRequest for decision ``kind`` on a merged product's video that another item brought
        in (:func:`~annotations.review.marks.merged_owner`): the page keys a decision by its
        entry's product, so it would land on the product's item (a reject rejecting the product,
        a class changing the product's class, a pick of the item's video recorded on the product).
        The one line (:func:`~annotations.review.marks.page_refusal`) names what decides it: while
        the catalog holds that item, the owner's entry; else the command line that records it on
        that item. A shop choice passes (only a held-back item's entry offers one)."""
        items = self._video_items.get(self.root)
        if it.product_id not in items:
            return
        with self.lock:
            owner = merged_owner(self.cat, items, it.video, it.product_id)
        if owner is None:
            return
        text = page_refusal(kind, owner, it.stem, it.product_id, self.root, self.catalog_path)
        if text is not None:
            raise BadRequest(text)

    def _check_class(self, it: QueueItem) -> None:
        """BadRequest for an accept of an item without a DeepFashion2 class (``mf publish`` needs
        one: a class decision, ``c``, sets it)."""
        with self.lock:
            lacks = accept_lacks_class(self.cat, it.product_id)
        if lacks:
            raise BadRequest(f"{it.stem}: {NO_CLASS}")

    def _wait_s(self) -> float:
        """How long a write waits for a lock another process holds: :data:`LOCK_WAIT_S` at most."""
        return min(LOCK_WAIT_S, lock_wait_s())

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Catalog]:
        """The writing connection, one write at a time, waiting at most :meth:`_wait_s` in all
        for this app's other write and the catalog's write lock: :class:`LockBusy` after that
        (nothing saved), as for the dataset's lock."""
        wait = self._wait_s()
        start = time.monotonic()
        where = str(self.catalog_path)
        if not self._write_lock.acquire(timeout=wait if wait < float("inf") else -1):
            raise LockBusy(f"another write of this page waited more than {wait:g} s; not saved", where=where)
        try:
            self._wcat.timeout_s = max(0.0, wait - (time.monotonic() - start))
            try:
                yield self._wcat
            except CatalogLocked:
                raise LockBusy(
                    f"another process held the catalog's write lock for {wait:g} s (an sqlite3 shell "
                    "in a transaction, a long writer); not saved",
                    where=where,
                ) from None
        finally:
            self._write_lock.release()

    def _undo_target_current(self, decision_id: int) -> None:
        """:class:`LeftQueue` when decision ``decision_id`` is about an item that left the queue
        since the page loaded it (it has no live decision left: another page undid them, and a
        rerun let it go); an unknown id is left to the undo to refuse."""
        with self.lock:
            rows = self.cat.read(
                "SELECT video, product_id FROM review_decisions WHERE id = ?", (decision_id,)
            )
        if rows:
            self.current_item_of(rows[0]["video"], rows[0]["product_id"])

    def _may_undo_pick(self, decision_id: int | None, item: QueueItem | None) -> bool:
        """Whether the undo asked for may be of a pick (a live ``tracklet`` decision of the
        item's video, or the one named), which writes the dataset's files (see :meth:`decide`)."""
        with self.lock:
            live = list_decisions(self.cat, video=item.video if item else None)
        return any(d.kind == "tracklet" and decision_id in (None, d.id) for d in live)

    def _dataset_lock(self) -> contextlib.AbstractContextManager[None]:
        """The dataset's lock, waited for at most :data:`LOCK_WAIT_S` (a click is not left
        hanging for the command line's minutes): :class:`~schemas.atomic.LockBusy` after that."""
        return dataset_lock(self.root, timeout_s=self._wait_s())

    def undo(self, body: dict[str, Any]) -> dict[str, Any]:
        _only_fields(body, UNDO_FIELDS, "an undo")
        did = _int_field(body, "decision_id", low=1)
        stem = _str_field(body, "video", cut=False)
        request_id = _str_field(body, "request_id", MAX_REQUEST_ID, cut=False)
        seen = _int_field(body, "seen_decision", low=1) if "seen_decision" in body else _UNSEEN
        if seen is not _UNSEEN and (did is not None or not stem):
            raise BadRequest("seen_decision goes with video (an undo by id names its decision)")
        # the item as it is now (410 for one that left the queue); a shared video's item: its
        # product's review
        item = self.current_item(stem) if stem else None
        if did is not None:
            self._undo_target_current(did)
        pick = self._may_undo_pick(did, item)
        with self._dataset_lock() if pick else contextlib.nullcontext(), self._writing() as cat:
            if seen is not _UNSEEN and item is not None:
                self._check_seen_decision(cat, item, seen, request_id)
            d, created = undo(
                self.root,
                cat,
                did,
                video=item.video if item else None,
                product_id=item.product_id if item else None,
                request_id=request_id,
            )
            st = review_states(cat, video=d.video).get((d.video, d.product_id))
        # the page's name of the item: a video several products list has one item per product
        it = next((i for i in self.queue.items if i.video == d.video and i.product_id == d.product_id), None)
        stem_of = it.stem if it is not None else Path(d.video).stem
        return {
            "undone": d.as_dict(),
            "created": created,
            "video": stem_of,
            "state": st.as_dict() if st else None,
        }


#: why the page offers no tracklet pick on a video (``pick`` of GET /api/item; None: it does)
NO_FILE_PICK = (
    "no tracklet file to pick in: mf-tracklets build adds the detector's tracklets beside the split"
    " file's ground truth, then one can be picked"
)


def _tracklet_json(i: int, t: Tracklet, it: QueueItem) -> dict[str, Any]:
    """Tracklet ``i`` of an item as the page reads it (its boxes moved onto the video shown)."""
    return {
        "index": i,
        "mode": t.mode,
        "class_id": t.class_id,
        "class_name": DF2_CLASSES.get(t.class_id or 0),
        "pivot_frame": t.pivot_frame,
        "shop_score": t.shop_score,
        "boxes": {str(k): v for k, v in sorted(_shifted(t.boxes, it.box_offset).items())},
        "scores": {str(k): v for k, v in t.scores.items()},
        "match_scores": {str(k): v for k, v in t.match_scores.items()},
    }


def _shifted(boxes: dict[int, list[float]], offset: tuple[int, int] | None) -> dict[int, list[float]]:
    """Boxes of a cropped video moved onto the uncropped one (``offset``: the crop's corner)."""
    if not offset:
        return boxes
    dx, dy = offset
    return {f: [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy] for f, b in boxes.items()}


class ReviewServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one :class:`ReviewApp`."""

    daemon_threads = True
    allow_reuse_address = True
    #: pending connections the socket holds (socketserver's default is 5): a page opens several at
    #: once (video ranges, crops, the shop image, the queue); past the backlog a loaded machine drops
    #: the browser's connection attempts, which retries them only after 1, 3, 7... seconds
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (the player cancelled a range, the page moved on) is no error."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    app: ReviewApp
    url: str

    def __init__(self, app: ReviewApp | None, host: str, port: int) -> None:
        """Bind ``host:port``; ``app`` None: bound only, :meth:`attach` one before serving."""
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)
        self.host = host
        self.port = int(self.server_address[1])
        shown = f"[{host}]" if ":" in host else host
        names = {shown, "127.0.0.1", "localhost", "[::1]"} if is_loopback(host) else {shown}
        self.allowed_hosts = {f"{n}:{self.port}" for n in names}
        self.any_host = host in ("0.0.0.0", "::")
        self._shown = shown if not self.any_host else "127.0.0.1"
        if app is not None:
            self.attach(app)

    def attach(self, app: ReviewApp) -> None:
        """Serve ``app`` (a server bound before its app was opened: a failed bind creates nothing)."""
        self.app = app
        self.url = f"http://{self._shown}:{self.port}/?token={app.token}"


def check_bind(host: str, *, allow_non_loopback: bool = False, where: str = "--host") -> None:
    """ConfigError for a non-loopback ``host`` unless ``allow_non_loopback`` (an explicit --host);
    ``where`` names what gave the address (``$MF_REVIEW_HOST``)."""
    if not is_loopback(host) and not allow_non_loopback:
        raise ConfigError(
            f"refusing to serve the review page on {host}: it is not a loopback address",
            where=where,
            hint="pass --host on the command line to serve on another interface (anyone who can reach "
            "it and knows the token can decide)",
        )


def make_server(
    app: ReviewApp | None, host: str = "127.0.0.1", port: int = 0, *, allow_non_loopback: bool = False
) -> ReviewServer:
    """Bind the review server; a non-loopback ``host`` needs ``allow_non_loopback`` (``--host``).
    ``app`` None binds only (:meth:`ReviewServer.attach` gives it its app)."""
    check_bind(host, allow_non_loopback=allow_non_loopback)
    try:
        return ReviewServer(app, host, port)
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        raise listen_error(exc, host, port) from None


class Handler(BaseHTTPRequestHandler):
    """Routes of the review page (see the module docstring)."""

    server: ReviewServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if os.environ.get("MF_REVIEW_LOG"):  # the token media URLs carry as a query value: redacted
            super().log_message(format, *(redact(a) if isinstance(a, str) else a for a in args))

    # -- plumbing -----------------------------------------------------------------
    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None, head: bool = False
    ) -> None:
        head = head or self.command == "HEAD"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _internal(self, exc: Exception) -> None:
        log.error("%s %s failed", self.command, urlsplit(self.path).path, exc_info=exc)
        self._error(
            HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error ({type(exc).__name__}); see the server's log"
        )

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").lower()
        return self.server.any_host or host in self.server.allowed_hosts

    def _token_ok(self, query: dict[str, list[str]], header_only: bool) -> bool:
        got = self.headers.get(TOKEN_HEADER) or ("" if header_only else (query.get("token") or [""])[0])
        return bool(got) and hmac.compare_digest(got.encode(), self.server.app.token.encode())

    # -- GET ----------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        path = url.path
        if path == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", head=True)
        if path in ("/", "/index.html"):
            return self._static("index.html", head)
        if path.startswith("/static/"):
            return self._static(path[len("/static/") :], head)
        if not self._token_ok(query, header_only=False):
            return self._error(HTTPStatus.FORBIDDEN, TOKEN_REFUSED)
        app = self.server.app
        try:
            if path.startswith("/media/"):
                return self._media(path[len("/media/") :], head)
            if path == "/api/file":
                which = (query.get("file") or [""])[0]
                it = app.current_item((query.get("video") or [""])[0])
                if which.startswith("candidate-") and which[len("candidate-") :].isdigit():
                    return self._file(app.candidate_file(it, int(which[len("candidate-") :])), head)
                if which not in ("video", "shop"):
                    raise KeyError(which)
                if (it.video_src if which == "video" else it.shop_src) != FILE:
                    raise KeyError(which)  # the dataset's own files go through /media/
                return self._file(app.item_file(it, which), head)
            if path == "/api/queue":
                return self._json(HTTPStatus.OK, app.queue_json())
            if path == "/api/item":
                return self._json(HTTPStatus.OK, app.item_json((query.get("video") or [""])[0]))
            if path == "/api/crops":
                body = app.crops((query.get("video") or [""])[0], int((query.get("tracklet") or ["-1"])[0]))
                return self._send(HTTPStatus.OK, body, "image/jpeg", head=head)
        except LeftQueue as exc:
            return self._error(HTTPStatus.GONE, str(exc))
        except (KeyError, ValueError):
            return self._error(HTTPStatus.NOT_FOUND, "no such video or tracklet")
        except MFError as exc:
            return self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))
        except ConnectionError:
            raise
        except Exception as exc:  # an answer, not a dropped connection (and the traceback logged)
            return self._internal(exc)
        return self._error(HTTPStatus.NOT_FOUND, "not found")

    def _static(self, name: str, head: bool) -> None:
        if name not in STATIC_FILES:
            return self._error(HTTPStatus.NOT_FOUND, "not found")
        body = (STATIC_DIR / name).read_bytes()
        headers = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"}
        return self._send(HTTPStatus.OK, body, STATIC_FILES[name] + "; charset=utf-8", headers, head)

    def _media(self, raw: str, head: bool) -> None:
        try:
            path = resolve_media(self.server.app.root, raw)
        except Refused:
            return self._error(HTTPStatus.FORBIDDEN, "path refused")
        except FileNotFoundError:
            return self._error(HTTPStatus.NOT_FOUND, "no such file")
        return self._file(path, head)

    def _file(self, path: Path, head: bool) -> None:
        """Send a media file (checked by the caller), a byte range of it when asked."""
        if path.suffix.lower() not in CONTENT_TYPES:
            return self._error(HTTPStatus.FORBIDDEN, "path refused")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return self._error(HTTPStatus.NOT_FOUND, "no such file")
        try:
            rng = parse_range(self.headers.get("Range"), size)
        except ValueError:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        start, end = rng if rng else (0, size - 1)
        length = end - start + 1 if size else 0
        self.send_response(HTTPStatus.PARTIAL_CONTENT if rng else HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES[path.suffix.lower()])
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "private, max-age=60")
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head or not length:
            return None
        try:
            with open(path, "rb") as fh:
                fh.seek(start)
                left = length
                while left > 0:
                    chunk = fh.read(min(1 << 16, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the player cancelled the request
            pass
        return None

    # -- POST ---------------------------------------------------------------------
    def do_POST(self) -> None:
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        origin = self.headers.get("Origin")
        if (
            origin
            and not self.server.any_host
            and urlsplit(origin).netloc.lower() not in self.server.allowed_hosts
        ):
            return self._error(HTTPStatus.FORBIDDEN, "cross-origin write refused")
        if not self._token_ok({}, header_only=True):
            return self._error(HTTPStatus.FORBIDDEN, TOKEN_REFUSED)
        path = urlsplit(self.path).path
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if not 0 <= n <= MAX_BODY:
            return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested past Python's stack
            return self._error(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        app = self.server.app
        try:
            if path == "/api/decision":
                return self._json(HTTPStatus.OK, app.decide(body))
            if path == "/api/undo":
                return self._json(HTTPStatus.OK, app.undo(body))
        except BadRequest as exc:
            return self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except StaleVerdict as exc:
            return self._error(HTTPStatus.CONFLICT, str(exc))
        except LeftQueue as exc:
            return self._error(HTTPStatus.GONE, str(exc))
        except KeyError:
            return self._error(HTTPStatus.NOT_FOUND, "no such video")
        except LockBusy as exc:  # another writer holds the dataset: try again later
            text = f"{exc.where}: {exc.message} (try again once it is done)"
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE, text)
        except CatalogError as exc:
            return self._error(HTTPStatus.CONFLICT, str(exc))
        except MFError as exc:
            return self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))
        except ConnectionError:
            raise
        except Exception as exc:  # an answer, not a dropped connection (and the traceback logged)
            return self._internal(exc)
        return self._error(HTTPStatus.NOT_FOUND, "not found")
