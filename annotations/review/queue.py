"""The review queue of a dataset: flagged videos first, then a QA sample of accepted ones.

Flagged: the tracklet builder marked the video ``needs_review`` (or found no ground-truth
tracklet, or no tracklet file exists), or the catalog holds its product back (``needs_review``).
Accepted: every other video of the split files; a share ``sample_rate`` of them is drawn for a
quality check. The draw is a hash of ``(seed, video)``, so the same seed gives the same sample on
every start and a sample grows (never reshuffles) with the rate.

Held back: what ``mf publish`` leaves out of the split files until review decides is queued
too, flagged: with a catalog, every item :func:`schemas.review.held_for_review` names (the
association check's and the carousel pick's ``needs_review``, the tracklet builder's flags after a
republish, review's rejects, accepts not published yet), each video under the name publish gives
it (``videos/<product>_<n>.mp4``) with its tracklet file when one was built; and every flagged
tracklet file whose product neither the split files nor the catalog know. Their media are read
from the dataset folder when it still holds them, else from the collection folder
(``collection``, the ``--root`` of ``mf-collect``: the collected files, boxes shifted by the crop
publish applies to a split-screen video), paths kept inside their folder.

Decided: a video the builder accepted, outside the sample, with live review decisions
(``decided``) is queued too, among the flagged ones (:data:`KEPT_DECIDED`): an accept that lets
the catalog's hold of a published item go leaves it reachable.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from annotations.flags import reason_in_words
from annotations.review.marks import OWNER_NOTE, ROUTE_NOTE, merged_owner
from annotations.tracklet_files import (
    TRACKLET_DIR,
    SplitOrigin,
    detector_wrote,
    load_split_heads_rows,
    read_build_record,
    read_split_origin,
    read_video_tracklets,
    shared_videos,
    tracklet_file,
)
from movingfashion.frame_boxes import FrameBoxes
from schemas.catalog import Catalog, ItemRow
from schemas.dataset import TrackletFileSummary, read_entry_rows
from schemas.errors import DataFormatError
from schemas.items import AssetKind, MediaAsset, Status, VideoProbe
from schemas.official import (
    SHOP_DIR,
    SHOP_SUFFIX,
    SPLIT_FILES,
    read_official_entry,
    shop_relpath,
    split_identity,
)
from schemas.paths import PathEscapeError, UnsafePathValue, resolve_under
from schemas.redact import redacted_logger
from schemas.review import (
    REVIEW_SHOP_REASON,
    STALE_NOTE,
    HeldReview,
    held_for_review,
    merged_ids,
    published_ids,
)
from schemas.taxonomy import DF2_CLASSES, Partition, partition_from_source_code
from schemas.tracklet_names import is_tracklet_stem, tracklet_key, tracklet_stem, video_stem
from schemas.video_items import VIDEO_ITEMS

log = redacted_logger("annotations.review")

#: how a queue item's video or shop image is served: ``media`` from the dataset's media folders
#: (``/media/<path>``), ``file`` from the collection folder (``/api/file``), None: not found
MEDIA, FILE = "media", "file"


@dataclass(frozen=True)
class SplitTruth:
    """Where a video's split-file tracklet is: entry ``product_id`` of the split file ``path``
    (as it was when the queue read its products: ``identity``), video ``index`` of it."""

    path: Path
    product_id: str
    video: str
    index: int
    identity: tuple[Any, ...] | None

    def boxes(self) -> FrameBoxes:
        """The tracklet's boxes (none when the split file no longer lists the video there):
        that entry alone read when the file is unchanged (:func:`read_official_entry`)."""
        entry = read_official_entry(
            self.path, self.product_id, self.video, identity=self.identity, hold_out_bad=True
        )
        if entry is None:
            return FrameBoxes.empty()
        return FrameBoxes.of(entry.tracklet_boxes(entry.video_paths.index(self.video)))


@dataclass
class QueueItem:
    """One video to look at."""

    video: str  #: dataset-relative path, the key of its decisions
    product_id: str
    split: str
    shop: str
    partition: str
    df2_class: int | None
    flagged: bool
    reason: str | None
    title: str | None = None
    caption: str | None = None
    designer: str | None = None
    frames: int = 0
    width: int = 0
    height: int = 0
    tracklets: int = 0
    ground_truth: int | None = None
    has_file: bool = False
    draw: float = 0.0  #: the QA sample's hash draw in [0, 1)
    #: several products list the video: this item is this product's (its own tracklet file)
    shared: bool = False
    #: not in the split files: ``mf publish`` holds the product back until review accepts it
    held_back: bool = False
    #: how the page gets the video and the shop image (:data:`MEDIA`, :data:`FILE`, None)
    video_src: str | None = MEDIA
    shop_src: str | None = MEDIA
    #: the files served as :data:`FILE` (resolved inside the collection folder); not sent
    video_file: Path | None = field(default=None, repr=False)
    shop_file: Path | None = field(default=None, repr=False)
    #: (x, y) added to the tracklet boxes: the crop publish applies to a collected split-screen
    #: video shown uncropped; not sent
    box_offset: tuple[int, int] | None = field(default=None, repr=False)
    fps: float | None = field(default=None, repr=False)  #: the collected video's (probe); not sent
    #: a held-back item cleaning picked its shop image for among carousel candidates: how many
    #: there are (0: none shown), which one it picked (the shop image shown), and their collected
    #: files (served as ``/api/file?file=candidate-N``; not sent)
    candidates: int = 0
    candidate_picked: int | None = None
    candidate_files: list[Path] = field(default_factory=list, repr=False)
    #: the candidates' collected paths (what a ``shop`` decision names; not sent)
    candidate_paths: list[str] = field(default_factory=list, repr=False)
    #: the pick is a reviewer's (a live ``shop`` decision), not cleaning's
    candidate_chosen_in_review: bool = False
    #: why an item neither flagged nor in the QA sample is queued (None for the others): it has
    #: live review decisions (:data:`KEPT_DECIDED`, or the server's note for an item the dataset
    #: and the catalog no longer name), so they stay reachable (undo, change) from the page
    kept: str | None = None
    #: a video without a tracklet file whose split-file entry holds a tracklet (the real
    #: archive's ground truth): where its boxes are (:attr:`split_boxes`); not sent
    split_truth: SplitTruth | None = field(default=None, repr=False)
    _split_boxes: FrameBoxes | None = field(default=None, repr=False, init=False)

    @property
    def split_boxes(self) -> FrameBoxes | None:
        """The split file's ground truth of a video without a tracklet file (None for any other
        item), shown as the ground truth: read from the split file when first asked and kept, so
        a queue of 15K such videos converts only the boxes of the videos looked at."""
        if self.split_truth is None:
            return None
        if self._split_boxes is None:
            self._split_boxes = self.split_truth.boxes()
        return self._split_boxes

    @property
    def stem(self) -> str:
        """The stem of the item's tracklet file: ``<video stem>``, or ``<video stem>@<product>``
        for a video several products list (one item per product)."""
        return tracklet_key(video_stem(self.video), self.product_id, shared=self.shared)

    def tracklet_file(self, dataset: str | os.PathLike[str]) -> Path:
        """This item's tracklet file (:func:`annotations.tracklet_files.tracklet_file`)."""
        return tracklet_file(dataset, self.video, self.product_id, shared=self.shared)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in _PRIVATE}
        d["stem"] = self.stem
        d["class_name"] = DF2_CLASSES.get(self.df2_class or 0)
        # the reason as the page says it: each fired rule in plain words (``reason`` stays the code)
        d["reason_words"] = reason_in_words(self.reason) if self.reason else self.reason
        return d


_PRIVATE = (
    "video_file",
    "shop_file",
    "box_offset",
    "fps",
    "candidate_files",
    "candidate_paths",
    "split_truth",
    "_split_boxes",
)
#: why a video without a tracklet file whose split file holds its ground truth is flagged
SPLIT_TRUTH_REASON = (
    "no tracklet file: the split file's ground truth is shown (mf-tracklets build adds the detector's)"
)
#: why a video without a tracklet file is flagged whose split-file tracklet an earlier build wrote
#: from the detector's choice (:data:`annotations.tracklet_files.SPLIT_ORIGIN`): not the archive's
SPLIT_DETECTOR_REASON = (
    "no tracklet file: the split file's tracklet shown is an earlier build's detector choice, not the"
    " archive's ground truth (mf-tracklets build builds the video again)"
)


def split_origin(root: Path) -> SplitOrigin:
    """The folder's record of the split-file tracklets a build wrote from the detector's choice
    (:func:`annotations.tracklet_files.read_split_origin`); one that does not read is warned
    about and read as empty (the review shows such tracklets as the split file's; the build
    refuses it, naming it)."""
    try:
        return read_split_origin(root)
    except DataFormatError as exc:
        log.warning("%s", exc)
        return {}


def split_truth_reason(origin: SplitOrigin, split_file: str, product_id: str, index: int, trk: Any) -> str:
    """Why a video without a tracklet file whose split-file tracklet ``trk`` is shown is flagged:
    the archive's ground truth (:data:`SPLIT_TRUTH_REASON`), or a detector's choice an earlier
    build wrote there (:data:`SPLIT_DETECTOR_REASON`)."""
    if detector_wrote(origin, split_file, product_id, index, trk):
        return SPLIT_DETECTOR_REASON
    return SPLIT_TRUTH_REASON


def queued_truth_reason(origin: SplitOrigin, truth: SplitTruth) -> str:
    """:func:`split_truth_reason` of a queued video's split-file tracklet, whose boxes are read
    (that entry alone) only when ``origin`` records an earlier build's tracklet for the video."""
    name = truth.path.name
    if not origin.get(name, {}).get(truth.product_id, {}).get(str(truth.index)):
        return SPLIT_TRUTH_REASON
    entry = read_official_entry(
        truth.path, truth.product_id, truth.video, identity=truth.identity, hold_out_bad=True
    )
    trk = entry.tracklets[truth.index] if entry is not None and truth.index < len(entry.tracklets) else {}
    return split_truth_reason(origin, name, truth.product_id, truth.index, trk)


#: why a video the builder accepted and the catalog no longer holds, outside the QA sample, is
#: queued: a reviewer decided on it (an accept of an item the catalog held, say)
KEPT_DECIDED = (
    "not flagged (any more) and not in the QA sample: kept in the queue for the review decisions made on it"
)

#: tracklet-file summaries kept from one build of the queue to the next (the server rebuilds it
#: whenever the dataset or the catalog changes): (file name, video, product) -> ((size, mtime,
#: inode), summary); a file rewritten since is read again
SummaryCache = dict[tuple[str, str | None, str | None], tuple[tuple[int, int, int], TrackletFileSummary]]


@dataclass
class Queue:
    items: list[QueueItem]
    sample_rate: float
    seed: int
    flagged: int
    accepted: int  #: videos the builder accepted (the population of the QA sample)
    sampled: int
    by_stem: dict[str, QueueItem] = field(default_factory=dict)
    by_key: dict[tuple[str, str], QueueItem] = field(default_factory=dict)
    held_back: int = 0  #: flagged items the split files do not list (publish holds them back)
    missing_media: int = 0  #: held-back items whose video neither the dataset nor the collection holds
    #: videos left out of the queue because their split-file tracklet holds a bad box: one line
    #: each naming the split file, product, video and frame key, and what is wrong
    held_out: list[str] = field(default_factory=list)
    #: items neither flagged nor sampled, queued for their live review decisions (:attr:`QueueItem.kept`);
    #: they follow the flagged ones (``items[flagged + kept:]`` is the QA sample)
    kept: int = 0
    #: product -> the first line of :attr:`held_out` about it (why a request about its item is
    #: refused: the file, product and field named)
    held_out_products: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index()

    def index(self) -> None:
        """Index :attr:`items` by stem (:attr:`by_stem`) and by (video, product) (:attr:`by_key`);
        again after the items change."""
        self.by_stem = {it.stem: it for it in self.items}
        self.by_key = {(it.video, it.product_id): it for it in self.items}


def sample_draw(seed: int, video: str) -> float:
    """A stable uniform draw in [0, 1) for ``video`` under ``seed``."""
    h = hashlib.sha256(f"{seed}:{video}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def _owned(p: Path, s: TrackletFileSummary, video: str | None, product_id: str | None) -> bool:
    """Whether the file ``p`` may hold ``s`` (what :func:`read_video_tracklets` checks)."""
    return (
        is_tracklet_stem(p.stem, s.video, s.product_id)
        and video in (None, s.video)
        and product_id in (None, s.product_id)
        and all(t.video == s.video for t in s.tracklets)
    )


def read_summary(p: Path, *, video: str | None = None, product_id: str | None = None) -> TrackletFileSummary:
    """The :class:`~schemas.dataset.TrackletFileSummary` of a tracklet file; a file that does not
    read (or is not the file of ``video``/``product_id``) raises what :func:`read_video_tracklets`
    raises for it."""
    try:
        s: TrackletFileSummary | None = TrackletFileSummary.model_validate_json(p.read_bytes())
    except (OSError, ValidationError):
        s = None
    if s is None or not _owned(p, s, video, product_id):
        return TrackletFileSummary.of(read_video_tracklets(p, video=video, product_id=product_id))
    return s


def _summary(
    p: Path,
    cache: tuple[SummaryCache, SummaryCache] | None,
    *,
    video: str | None = None,
    product_id: str | None = None,
) -> TrackletFileSummary:
    """:func:`read_summary` of ``p``; ``cache``: (the summaries an earlier build read, those this
    one read): taken from the first while the file is the one read then, put in the second."""
    if cache is None:
        return read_summary(p, video=video, product_id=product_id)
    before, now = cache
    st = p.stat()
    version = (st.st_size, st.st_mtime_ns, st.st_ino)
    key = (p.name, video, product_id)
    hit = before.get(key)
    vt = (
        hit[1]
        if hit is not None and hit[0] == version
        else read_summary(p, video=video, product_id=product_id)
    )
    now[key] = (version, vt)
    return vt


def _flag(vt: TrackletFileSummary | None) -> tuple[bool, str | None]:
    if vt is None:
        return True, "no tracklet file (run mf-tracklets build)"
    if vt.needs_review:
        return True, vt.review_reason or "needs review"
    if vt.ground_truth is None:
        return True, "no ground-truth tracklet"
    return False, None


def build_queue(
    dataset: str | os.PathLike[str],
    sample_rate: float = 0.1,
    seed: int = 0,
    *,
    catalog: Catalog | None = None,
    collection: str | os.PathLike[str] | None = None,
    decided: Collection[tuple[str, str]] = (),
    cache: SummaryCache | None = None,
    warned: Collection[str] = (),
) -> Queue:
    """Every video of the dataset's split files, flagged or sampled, and every held-back one (see
    the module docstring), in review order. ``decided``: the (video, product) keys with live
    review decisions; such a video the builder accepted outside the sample is queued too
    (:data:`KEPT_DECIDED`), after the flagged ones in video order, so an accept that lets the
    catalog's hold go does not take the video out of the queue. ``cache``: summaries of the
    tracklet files kept from an earlier build (:data:`SummaryCache`; updated). ``warned``: the
    :attr:`Queue.held_out` lines of the last build, logged then: only a video held out anew is
    logged (the page rebuilds the queue at every change of the dataset or the catalog)."""
    root = Path(dataset)
    # (what an earlier build read, what this one reads: kept for the next, files gone dropped)
    cached: tuple[SummaryCache, SummaryCache] | None = None if cache is None else (dict(cache), {})
    identities = {name: split_identity(root / name) for name in SPLIT_FILES}  # the versions read next
    splits, bad = load_split_heads_rows(root)  # no boxes: those of a video are read when it is shown
    # a video whose split-file tracklet holds a bad box is held out (the rest of the queue works);
    # its product's other videos stay (video None: the whole product's entry is bad)
    refused = {(b.path, b.product_id, b.video) for b in bad}
    held_out = [b.line() for b in bad]
    for line in held_out:
        if line in warned:
            continue
        log.warning("held out of the review queue: %s (fix that entry, then reload the page)", line)
    held_by: dict[str, str] = {}
    for b in bad:
        held_by.setdefault(b.product_id, b.line())
    rows = read_entry_rows(root / "entries.jsonl") if (root / "entries.jsonl").is_file() else {}
    listed = [pid for split in splits.values() for pid in split]
    published = published_ids(listed, rows)
    held = held_for_review(catalog, published, merged_ids(listed, rows)) if catalog is not None else []
    needs: dict[str, str] = {}  # product -> why the catalog holds it back
    if catalog is not None:
        for r in catalog.items(status=Status.NEEDS_REVIEW):
            needs.setdefault(r.product_id or r.item.source_id, r.reason or "needs review")
    flagged, sampled, kept, accepted = [], [], [], 0
    seen: set[tuple[str, str]] = set()
    read: dict[str, TrackletFileSummary] = {}  # file name -> what it holds, each file read once
    shared = shared_videos(splits)
    origin: SplitOrigin | None = None  # read once a video without a tracklet file shows its split tracklet
    for split_file, split in splits.items():
        for pid, entry in split.items():
            row = rows.get(pid, {})
            meta = row.get("metadata") or {}
            for vi, vp in enumerate(entry.video_paths):
                where = str(root / split_file)
                if (where, pid, vp) in refused or (where, pid, None) in refused:
                    seen.add((vp, pid))  # not queued as a held-back item either
                    continue
                p = tracklet_file(root, vp, pid, shared=vp in shared)  # this product's file of it
                vt = _summary(p, cached) if p.is_file() else None
                if vt is not None:
                    read[p.name] = vt
                is_flagged, reason = _flag(vt)
                split_truth = None  # its boxes are read when the page asks for them
                if vt is None and vi < len(entry.with_boxes) and entry.with_boxes[vi]:
                    split_truth = SplitTruth(root / split_file, pid, vp, vi, identities.get(split_file))
                    origin = split_origin(root) if origin is None else origin
                    reason = queued_truth_reason(origin, split_truth)
                if not is_flagged and pid in needs:  # the next publish holds it back
                    is_flagged, reason = True, needs[pid]
                # a merged video another item brought in: decided on that item (as that item's own
                # video while it is held), as the list of mf-tracklets review says
                items = meta.get(VIDEO_ITEMS)
                if (
                    is_flagged
                    and catalog is not None
                    and isinstance(items, list)
                    and len(items) > 1
                    and (owner := merged_owner(catalog, {pid: items}, vp, pid))
                ):
                    note = OWNER_NOTE if owner.held else ROUTE_NOTE
                    name = tracklet_stem(vp, pid, shared=vp in shared)
                    reason = f"{reason}; {note.format(owner=owner.product_id, stem=owner.stem, pid=pid, name=name)}"
                seen.add((vp, pid))
                item = QueueItem(
                    video=vp,
                    product_id=pid,
                    split=split_file.removesuffix(".json"),
                    shop=entry.img_path,
                    partition=str(row.get("partition") or partition_from_source_code(entry.source)),
                    df2_class=row.get("df2_class"),
                    flagged=is_flagged,
                    reason=reason,
                    title=meta.get("title"),
                    caption=meta.get("caption"),
                    designer=meta.get("designer"),
                    draw=sample_draw(seed, vp),
                    shared=vp in shared,
                )
                _add_tracklets(item, vt)
                if split_truth is not None:
                    item.split_truth = split_truth
                    item.tracklets, item.ground_truth = 1, 0
                if is_flagged:
                    flagged.append(item)
                else:
                    accepted += 1
                    if item.draw < sample_rate:
                        sampled.append(item)
                    elif (vp, pid) in decided:  # decided on: stays reachable (KEPT_DECIDED)
                        item.kept = KEPT_DECIDED
                        kept.append(item)
    where = Path(collection) if collection else None
    held_items = _held_items(root, held, seen, where, seed, read, catalog, cached)
    held_items += _flagged_files(root, seen, catalog, seed, read, cached)
    flagged += held_items
    first = sorted(flagged + kept, key=lambda it: it.video)  # an item keeps its place once decided on
    sampled.sort(key=lambda it: it.draw)
    if cache is not None and cached is not None:
        cache.clear()
        cache.update(cached[1])
    return Queue(
        items=first + sampled,
        sample_rate=sample_rate,
        seed=seed,
        flagged=len(flagged),
        accepted=accepted,
        sampled=len(sampled),
        held_back=len(held_items),
        missing_media=sum(it.video_src is None for it in held_items),
        held_out=held_out,
        kept=len(kept),
        held_out_products=held_by,
    )


def _add_tracklets(item: QueueItem, vt: TrackletFileSummary | None) -> None:
    """Fill ``item``'s counts from its tracklet file (None: it has none)."""
    if vt is None:
        return
    item.frames, item.width, item.height = vt.frames, vt.width, vt.height
    item.tracklets, item.ground_truth, item.has_file = len(vt.tracklets), vt.ground_truth, True


def _inside(folder: Path | None, rel: str | None) -> Path | None:
    """The file ``rel`` names inside ``folder`` (links followed, never out of it); None when it
    is not there or would leave the folder."""
    if folder is None or not rel:
        return None
    try:
        p = resolve_under(folder, rel, what="media path", follow_symlinks=True)
    except (PathEscapeError, UnsafePathValue):
        log.warning("%s: %r leaves the folder; not served", folder, rel)
        return None
    return p if p.is_file() else None


def _own_tracklets(
    root: Path,
    video: str,
    product_id: str,
    read: dict[str, TrackletFileSummary],
    cached: tuple[SummaryCache, SummaryCache] | None = None,
) -> TrackletFileSummary | None:
    """The tracklet file a held-back video kept from an earlier build, when it is about it
    (``read``: the files read so far, by name; this one joins them)."""
    p = tracklet_file(root, video, product_id, shared=False)
    if not p.is_file():
        return None
    try:
        vt = _summary(p, cached, video=video, product_id=product_id)
    except DataFormatError as exc:
        log.warning("%s: not read (%s)", p, exc)
        return None
    read[p.name] = vt
    return vt


def _held_items(
    root: Path,
    held: list[HeldReview],
    seen: set[tuple[str, str]],
    collection: Path | None,
    seed: int,
    read: dict[str, TrackletFileSummary],
    catalog: Catalog | None = None,
    cached: tuple[SummaryCache, SummaryCache] | None = None,
) -> list[QueueItem]:
    """Queue items of the videos of the catalog's held-back items the split files do not list
    (``cached``: see :func:`_summary`)."""
    out = []
    for h in held:
        r = h.row
        partition = str(r.partition or Partition.HARD)
        shop_rel = shop_relpath(h.product_id, partition)
        cand_files, cand_paths, picked = _candidate_images(catalog, r, collection, h.shop)
        for video, asset in h.videos:
            if (video, h.product_id) in seen:
                continue
            seen.add((video, h.product_id))
            vt = _own_tracklets(root, video, h.product_id, read, cached)
            reason = vt.review_reason if vt is not None and vt.needs_review else None
            item = _held_item(
                h, video, shop_rel, partition, reason or r.reason or _held_reason(r.status), seed
            )
            _add_tracklets(item, vt)
            _held_video(item, root, collection, asset)
            item.candidates, item.candidate_picked, item.candidate_files = len(cand_files), picked, cand_files
            item.candidate_paths = cand_paths
            item.candidate_chosen_in_review = h.shop is not None and h.shop.reason == REVIEW_SHOP_REASON
            if _inside(root, shop_rel) is None:  # the dataset holds no copy: the collected file
                shop = h.shop.path if h.shop is not None else None
                item.shop = shop or shop_rel
                item.shop_file = _inside(collection, shop)
                item.shop_src = FILE if item.shop_file is not None else None
            out.append(item)
        out += _stale_items(h, seen, seed, root, collection, shop_rel, partition)
    return out


def _held_item(h: HeldReview, video: str, shop: str, partition: str, reason: str, seed: int) -> QueueItem:
    """The queue item of ``video`` of held item ``h``: flagged, held back, with ``reason``."""
    r = h.row
    return QueueItem(
        video=video,
        product_id=h.product_id,
        split=str(r.split or ""),
        shop=shop,
        partition=partition,
        df2_class=r.df2_class,
        flagged=True,
        reason=reason,
        title=r.item.title,
        caption=r.item.caption,
        designer=r.item.designer,
        draw=sample_draw(seed, video),
        held_back=True,
    )


#: how the page's reason of a stale flag names the dataset and catalog (the page decides it itself)
_STALE_ARGS = {"dataset": "DATASET", "catalog": "CATALOG"}


def _stale_items(
    h: HeldReview,
    seen: set[tuple[str, str]],
    seed: int,
    root: Path,
    collection: Path | None,
    shop: str,
    partition: str,
) -> list[QueueItem]:
    """Queue items of the flagged videos the held item's hold names that it no longer has
    (:func:`schemas.review.stale_flags`), under the flag's name: their accept lifts the hold.
    The item's first video is shown (the flagged one is no longer in the dataset)."""
    out = []
    for stem, why in h.stale:
        video = f"videos/{stem}.mp4"
        if (video, h.product_id) in seen:
            continue
        seen.add((video, h.product_id))
        stale = STALE_NOTE.format(stem=stem, pid=h.product_id, **_STALE_ARGS)
        item = _held_item(h, video, shop, partition, f"tracklets: {why}; {stale}", seed)
        if h.videos:
            _held_video(item, root, collection, h.videos[0][1])
        out.append(item)
    return out


def _candidate_images(
    catalog: Catalog | None, row: ItemRow, collection: Path | None, shop: MediaAsset | None
) -> tuple[list[Path], list[str], int | None]:
    """The collected carousel candidates of an item cleaning picked its shop image among (2 or
    more, in path order, as cleaning numbers them): their files, their collected paths, and which
    of them is ``shop``; nothing when a candidate is not in the collection folder."""
    if catalog is None or collection is None:
        return [], [], None
    found = catalog.assets(
        source=str(row.item.source),
        source_id=row.item.source_id,
        kind=AssetKind.CANDIDATE_SHOP,
        status=Status.ACCEPTED,
    )
    assets = sorted((a for a in found if a.path), key=lambda a: a.path)
    files = [_inside(collection, a.path) for a in assets]
    if len(assets) < 2 or any(f is None for f in files):
        return [], [], None
    picked = None
    if shop is not None:
        picked = next(
            (
                i
                for i, a in enumerate(assets)
                if a.path == shop.path or (a.sha256 and a.sha256 == shop.sha256)
            ),
            None,
        )
    return [f for f in files if f is not None], [str(a.path) for a in assets], picked


def _held_reason(status: str) -> str:
    if status == Status.ACCEPTED:
        return "accepted in review: the next mf publish publishes it"
    return f"{status}: held back by mf publish"


def _held_video(item: QueueItem, root: Path, collection: Path | None, asset: MediaAsset) -> None:
    """Where the page gets a held-back video: the dataset's copy when it holds one, else the
    collected file (its tracklet boxes shifted by the crop publish applies to it), else nowhere."""
    if _inside(root, item.video) is not None:
        return
    item.video_file = _inside(collection, asset.path)
    item.video_src = FILE if item.video_file is not None else None
    probe = asset.probe if isinstance(asset.probe, VideoProbe) else None
    if probe is not None and probe.fps:
        item.fps = float(probe.fps)
    if asset.crop is not None:
        x1, y1 = (int(round(v)) for v in list(asset.crop.box)[:2])
        item.box_offset = (x1, y1)
    if probe is not None and (asset.crop is not None or not item.has_file):
        item.width, item.height = probe.width, probe.height  # the collected file's frame
        item.frames = item.frames or probe.frames


def _flagged_files(
    root: Path,
    seen: set[tuple[str, str]],
    catalog: Catalog | None,
    seed: int,
    read: dict[str, TrackletFileSummary],
    cached: tuple[SummaryCache, SummaryCache] | None = None,
) -> list[QueueItem]:
    """Queue items of the flagged tracklet files whose video the split files do not list and
    whose product the catalog does not know (it decides on the products it knows): media from
    the dataset folder, the shop image the file's build record names. ``read``: the files read
    already, by name (not read again)."""
    found: list[tuple[Path, TrackletFileSummary]] = []
    for p in sorted((root / TRACKLET_DIR).glob("*.json")):
        vt = read.get(p.name)
        if vt is None:
            try:
                vt = _summary(p, cached)
            except DataFormatError as exc:
                log.warning("%s: not read (%s)", p, exc)
                continue
        if vt.needs_review and (vt.video, vt.product_id) not in seen:
            found.append((p, vt))
    known = (
        set(catalog_item_data(catalog, {vt.product_id for _, vt in found})) if catalog is not None else set()
    )
    out = []
    for p, vt in found:
        if (vt.video, vt.product_id) in seen or vt.product_id in known:
            continue
        seen.add((vt.video, vt.product_id))
        shop = ((read_build_record(p) or {}).get("shop") or {}).get("path")
        if not isinstance(shop, str):
            names = [f"{SHOP_DIR}/{vt.product_id}{suffix}" for suffix in SHOP_SUFFIX.values()]
            shop = next((n for n in names if _inside(root, n) is not None), names[0])  # never probed outside
        item = QueueItem(
            video=vt.video,
            product_id=vt.product_id,
            split="",
            shop=shop,
            partition="",
            df2_class=None,
            flagged=True,
            reason=vt.review_reason or "needs review",
            draw=sample_draw(seed, vt.video),
            shared=p.stem != Path(vt.video).stem,
            held_back=True,
        )
        _add_tracklets(item, vt)
        item.video_src = MEDIA if _inside(root, vt.video) is not None else None
        item.shop_src = MEDIA if _inside(root, shop) is not None else None
        out.append(item)
    return out


def catalog_item_data(catalog: Catalog, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The ``data`` (title, caption...) of the catalog item of each of ``ids``: the first item
    (in the catalog's order) whose product id, else source id, it is; ids no item has are left
    out. One query (indexed by product id and by source id)."""
    wanted = set(ids)
    listed = json.dumps(sorted(wanted))
    rows = catalog.read(
        "SELECT id, product_id, source_id, data FROM items "
        "WHERE product_id IN (SELECT value FROM json_each(?)) "
        "OR source_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (listed, listed),
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        for key in (r["product_id"], r["source_id"]):
            if key in wanted and key not in out:
                out[key] = json.loads(r["data"])
    return out
