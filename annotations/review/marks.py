"""Catalog marks of the tracklet builder (needs_review, failures) and the command-line review
log ``.review.jsonl`` of ``mf-tracklets review --accept/--reject`` (hidden, as the page's default
catalog ``.review.sqlite``: ``mf publish`` writes into the folder again; a ``review.jsonl`` an
older version wrote is read too, and moved to ``.review.jsonl`` by the next decision or publish).

The log names each decision after the stem of the tracklet file decided on (the review name:
``<video stem>``, or ``<video stem>@<product>`` for a video several products list). When the
builder renames a file because the products listing its video changed, the decisions follow it
(:func:`follow_tracklet_names`). Appends and that rewrite hold the dataset's lock.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from annotations.tracklet_files import dataset_lock
from schemas.atomic import atomic_write_bytes
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.faults import local_faults
from schemas.holds import flags_key
from schemas.items import TRACKLETS_PREFIX, Status
from schemas.meta_json import meta_value
from schemas.redact import redacted_logger
from schemas.review import (
    LEGACY_REVIEW_LOG,
    REVIEW_LOG,
    TORN_MARK,
    find_item,
    flag_item,
    flag_video,
    move_legacy_review_log,
    review_log_record,
    unflag_videos,
)
from schemas.text_input import clean_text
from schemas.tracklet_names import split_stem, tracklet_stem, video_stem
from schemas.video_items import item_video

log = redacted_logger("annotations.review")

STAGE = "tracklets"
REVIEW_FILE = REVIEW_LOG


def open_catalog(path: str | os.PathLike[str]) -> Catalog:
    return Catalog(path, must_exist=True)


def require_catalog_knows_dataset(dataset: str | os.PathLike[str], catalog: str | os.PathLike[str]) -> None:
    """:func:`require_catalog_overlap` for the catalog ``catalog`` and the products the dataset's
    split files list, before anything is written: the review page's start (before it binds its
    port), the tracklet build (before its flags) and the CVAT import (before it records). The
    catalog is opened as :func:`open_catalog` opens it (it must exist; an older schema is
    upgraded). Nothing is checked without split files or without published products."""
    from annotations.tracklet_files import load_split_heads_rows, split_files_present
    from schemas.dataset import read_entry_rows
    from schemas.review import published_ids

    if not split_files_present(dataset):
        return
    heads, _ = load_split_heads_rows(dataset)
    entries = Path(dataset) / "entries.jsonl"
    rows = read_entry_rows(entries) if entries.is_file() else {}
    published = published_ids((pid for split in heads.values() for pid in split), rows)
    if not published:
        return
    with open_catalog(catalog) as cat:
        require_catalog_overlap(str(dataset), str(catalog), published, cat.items())


def require_catalog_overlap(dataset: str, catalog: str, published: set[str], rows: list[Any]) -> None:
    """Refuse a catalog (``rows``, its items) that knows none of the products the dataset's split
    files list (``published``): one of another world or collection, whose held items would be
    listed as the dataset's (and decided into the wrong catalog). Nothing is checked when either
    is empty."""
    if not published or not rows:
        return
    ids = {i for r in rows for i in (r.product_id, r.item.source_id) if i}
    if ids.isdisjoint(published):
        names = sorted(published)
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        n = len(published)
        raise DataFormatError(
            f"none of the {n} product{'s' if n != 1 else ''} of the dataset {dataset} is in this "
            f"catalog ({', '.join(names[:3])}{more}): it lists another collection's items",
            where=str(catalog),
            hint=f"pass the catalog {dataset} was published from (mf publish --catalog)",
        )


def _find_item(cat: Catalog, product_id: str) -> tuple[str, str] | None:
    """(source, source_id) of the catalog item of a dataset product (product_id column, else
    source id): :func:`schemas.review.find_item`'s one SQL lookup, not a scan of every item."""
    row = find_item(cat, product_id)
    return None if row is None else (row["source"], row["source_id"])


def video_owner(
    cat: Catalog, items: Mapping[str, Sequence[str]], product_id: str, index: int | None, stem: str
) -> tuple[str, str]:
    """(the product id of the catalog item that owns video ``index`` of product ``product_id``,
    the video's stem as that item's): the flag of a video is that item's. A product published
    from several items lists their videos (``items``: :func:`schemas.video_items.video_items`);
    a video another item brought (it joined the product with its shop image) is named as that
    item's own video ``<its product id>_<k>``: the name ``mf publish`` gives it once the flag
    holds that item back (the merge is undone while it is held, and its held video is reviewed
    under that name). The product's own videos, a video no listing names (``index`` None, an
    older ``entries.jsonl``) and one whose item the catalog lacks keep ``product_id`` and
    ``stem``."""
    if index is None:
        return product_id, stem
    owner, k = item_video(items.get(product_id), product_id, index)
    own = _find_item(cat, product_id)
    if owner == product_id or (own is not None and own[1] == owner):
        return product_id, stem
    key = _find_item(cat, owner)
    if key is None:
        return product_id, stem
    rows = cat.read("SELECT product_id FROM items WHERE source = ? AND source_id = ?", key)
    pid = (rows[0][0] if rows else None) or key[1]
    return pid, f"{pid}_{k}"


#: why a verdict on a merged product's video that another, held item brought in is refused
#: (:func:`held_owner`): it would land on the product's item and lift nothing
OWNER_REFUSAL = (
    "{name} is the video item {owner} brought into product {pid}, and the tracklet hold is "
    "{owner}'s, not {pid}'s: a verdict on {name} would be recorded on {pid} and leave {owner} held; "
    "decide it as {stem}: mf-tracklets review --dataset {dataset} --catalog {catalog} --accept {stem} "
    "(or --reject {stem}; on the review page, the entry {stem})"
)

#: what the review list and the page add to the reason of such a video (:func:`held_owner`)
OWNER_NOTE = "item {owner}'s video (it holds {owner}): decide it as {stem}"

#: what the review list and the page add to the reason of a merged product's video that another
#: item, not held, brought in (:func:`merged_owner`): the command line decides it on that item
ROUTE_NOTE = "item {owner}'s video, not {pid}'s: mf-tracklets review --accept/--reject {name} decides {owner}"

#: why the review page refuses a verdict on such a video: the page keys a verdict by the entry's
#: product (a reject would reject the product, leaving the item that brought the video in); the
#: command line records it on that item
PAGE_ROUTE_REFUSAL = (
    "{name} is the video item {owner} brought into product {pid}: the page would record a verdict "
    "on {name} on {pid}, the wrong item; decide it on the command line, which records it on {owner}: "
    "mf-tracklets review --dataset {dataset} --catalog {catalog} --reject {name} (or --accept {name})"
)


#: why the review page refuses a class, note or tracklet-pick decision on a merged product's video
#: that another item brought in: the page keys it by the entry's product, so it would be recorded
#: on the product (a class sets the product's class; a pick rewrites the ground truth of the item's
#: video yet is recorded on the product); ``{what}`` and ``{instead}`` per kind (:data:`PAGE_EDITS`)
PAGE_EDIT_REFUSAL = (
    "{name} is the video item {owner} brought into product {pid}: the page would record {what} on "
    "{pid}, not on {owner}; {instead}"
)

#: per page decision kind refused on such a video (:data:`PAGE_EDIT_REFUSAL`): what it would do,
#: and what to do instead (``{verdict}``: the name a verdict on the item takes, ``{stem}`` while it
#: is held, else the merged name); a note goes with a verdict on the command line, which records
#: both on the item; a class is set on the item's own name, no command picks a tracklet
PAGE_EDITS = {
    "class": (
        "its class (the product's: {pid}'s class would change)",
        "set {pid}'s class on an entry of its own videos, or {owner}'s on its entry {stem} while it "
        "is held (or: mf-tracklets review --dataset {dataset} --catalog {catalog} --class "
        "{stem}=CLASS)",
    ),
    "note": (
        "the note",
        "store it with the verdict on the command line, which records both on {owner}: mf-tracklets "
        "review --dataset {dataset} --catalog {catalog} --accept {verdict} --note TEXT (or --reject "
        "{verdict} --note TEXT)",
    ),
    "tracklet": (
        "a pick that rewrites the ground truth of {owner}'s video",
        "no command line picks a tracklet: correct its tracks in CVAT and bring them back with "
        "mf-tracklets import, or keep the video out: mf-tracklets review --dataset {dataset} "
        "--catalog {catalog} --reject {verdict}",
    ),
}


def page_refusal(
    kind: str, owner: MergedOwner, name: str, pid: str, dataset: object, catalog: object
) -> str | None:
    """The one line the review page answers (400) to decision ``kind`` on ``name``, video of
    product ``pid`` that the item ``owner`` brought in (:func:`merged_owner`): a verdict
    (:data:`OWNER_REFUSAL` while the item is held, else :data:`PAGE_ROUTE_REFUSAL`), a class, note
    or pick (:data:`PAGE_EDIT_REFUSAL`); None for a kind the page may store (a shop choice, which
    only a held-back item's entry offers)."""
    fields = dict(
        name=name, owner=owner.product_id, pid=pid, stem=owner.stem, dataset=dataset, catalog=catalog
    )
    if kind in ("accept", "reject"):
        return (OWNER_REFUSAL if owner.held else PAGE_ROUTE_REFUSAL).format(**fields)
    if kind not in PAGE_EDITS:
        return None
    what, instead = PAGE_EDITS[kind]
    fields["verdict"] = owner.stem if owner.held else name
    return PAGE_EDIT_REFUSAL.format(what=what.format(**fields), instead=instead.format(**fields), **fields)


class MergedOwner(NamedTuple):
    """The item that owns a merged product's video (:func:`merged_owner`)."""

    product_id: str  #: the product id of that item (its own, as publish names it alone)
    stem: str  #: the video's stem as that item's own video, ``<its product id>_<k>``
    held: bool  #: whether the catalog holds that item ``needs_review``


def merged_owner(
    cat: Catalog, items: Mapping[str, Sequence[str]], video: str, product_id: str
) -> MergedOwner | None:
    """The item that owns ``video`` of product ``product_id`` when that is another item than the
    product's own (it joined the product with its shop image: :func:`video_owner`), and whether
    the catalog holds it ``needs_review``; None for the product's own videos, a product published
    from one item, and an owner the catalog lacks. ``video`` is named as ``mf publish`` names a
    product's videos, ``videos/<product>_<n>.mp4``."""
    stem = video_stem(video)
    head, _, n = stem.rpartition("_")
    if head != product_id or not n.isdigit() or product_id not in items:
        return None
    owner, owner_stem = video_owner(cat, items, product_id, int(n), stem)
    if owner == product_id:
        return None
    row = find_item(cat, owner)
    if row is None:
        return None
    return MergedOwner(owner, owner_stem, row["status"] == Status.NEEDS_REVIEW)


def held_owner(
    cat: Catalog, items: Mapping[str, Sequence[str]], video: str, product_id: str
) -> tuple[str, str] | None:
    """(product id, video stem) of the held item that owns ``video`` of product ``product_id``
    (:func:`merged_owner`) when the catalog holds it ``needs_review`` (a tracklet flag on that
    video holds it, and review decides on it under the stem the flag gives it); None otherwise."""
    found = merged_owner(cat, items, video, product_id)
    return (found.product_id, found.stem) if found is not None and found.held else None


def flagged_stems(cat: Catalog, product_id: str) -> set[str]:
    """The videos the catalog records as flagged by the builder for the product's item
    (:data:`schemas.holds.TRACKLET_FLAGS`; empty: none, or no such item)."""
    key = _find_item(cat, product_id)
    if key is None:
        return set()
    rows = cat.read("SELECT value FROM meta WHERE key = ?", (flags_key(*key),))
    value = meta_value(rows[0][0], flags_key(*key), str(cat.path)) if rows else None
    return set(value) if isinstance(value, dict) else set()


def mark_needs_review(
    cat: Catalog, product_id: str, reason: str, build: str | None = None, *, video: str | None = None
) -> bool:
    """Mark the product's catalog item needs_review for the flag of one of its videos (``reason``:
    ``<video stem>: <why>``, + an event): the item's record of flagged videos keeps it beside the
    others flagged (:func:`schemas.review.flag_video`), and the item's reason names each of them
    (an item review rejects keeps the reject: the flag is recorded, for the reject's undo; an item
    cleaning excluded, rejected or duplicate, keeps its status and reason: the flag is recorded,
    :func:`schemas.review.builder_may_hold`). ``build``: the identity of the flagged video's tracklet
    (:func:`annotations.tracklet_files.ground_truth_digest`): an accept of an older tracklet of the
    video does not lift the flag (:func:`schemas.review.flag_video`). ``video``: how the dataset
    names the flagged video when that is not ``<video stem>`` (``552457_1 of 552457``: a video
    the item brought into another product, :func:`video_owner`), named in the event. False when
    the item is not in the catalog."""
    key = _find_item(cat, product_id)
    seen = f" (published as {video})" if video and not reason.startswith(f"{video.split(' ')[0]}: ") else ""
    cat.log_event(STAGE, f"needs_review: {reason}{seen}", *(key or (None, None)))
    if key is None:
        return False
    stem, sep, why = reason.partition(": ")
    if sep:
        flag_video(cat, *key, stem, why, build)
    else:  # a flag that names no video: about the whole item
        flag_item(cat, *key, f"{TRACKLETS_PREFIX} {reason}")
    return True


def withdraw_needs_review(
    cat: Catalog,
    product_id: str,
    reason: str,
    *,
    stems: Collection[str] | None = None,
    release: bool = True,
) -> bool:
    """Undo :func:`mark_needs_review` when the tracklet builder no longer flags the product's
    videos ``stems`` (None: any of its videos; its flags were decided again): the item is held by
    the flags left, or, with none left and ``release``, goes back to accepted (+ an event), but
    only while it is needs_review by this stage; a reviewer's decision or another stage's reason
    is kept (:func:`schemas.review.unflag_videos`). Returns whether the item changed."""
    key = _find_item(cat, product_id)
    if key is None or not unflag_videos(cat, *key, stems, release=release):
        return False
    cat.log_event(STAGE, f"flag withdrawn: {reason}", *key)
    return True


def log_failure(cat: Catalog, product_id: str, message: str) -> None:
    key = _find_item(cat, product_id)
    cat.log_event(STAGE, f"failed: {message}", *(key or (None, None)))


_record = review_log_record


def read_decisions(dataset: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Latest decision per video stem from ``.review.jsonl`` (after those of a ``review.jsonl``
    an older version left, which is read first).

    A torn last line (an interrupted append: no newline, not a record) and a torn line marked so
    by a later append (:data:`TORN_MARK`) are passed over with a warning naming the file and the
    line; any other line that is not a record raises :class:`DataFormatError`."""
    return {rec["video"]: rec for rec in read_decision_records(dataset)}


def read_decision_records(dataset: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every decision record of the review logs (:func:`read_decisions`), in the order they were
    appended: a record's place in this list (its record number, from 1) orders it against the
    others whatever the recording hosts' clocks said. Appends, :func:`follow_tracklet_names` and
    moving an older ``review.jsonl`` in keep every record's number."""
    out: list[dict[str, Any]] = []
    for name in (LEGACY_REVIEW_LOG, REVIEW_FILE):
        p = Path(dataset) / name
        if p.is_file():
            out += _read_log(p)
    return out


def _read_log(p: Path) -> list[dict[str, Any]]:
    """The decision records of one log file, in order (see :func:`read_decisions`)."""
    out: list[dict[str, Any]] = []
    with local_faults(p):
        data = p.read_bytes()
    lines = data.split(b"\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rec = _record(line)
        if rec is not None:
            out.append(rec)
            continue
        last = n == len(lines)  # no newline after it
        if last or line.rstrip(b"\r").endswith(TORN_MARK.encode()):
            log.warning("%s: line %d is torn (an interrupted write); passed over", p, n)
            continue
        raise DataFormatError(
            f"line {n} is not a review record", where=str(p), hint="fix or delete that line"
        )
    return out


def _tail(fh: BinaryIO) -> bytes:
    """The bytes after the last newline of an open file (empty when it ends with one)."""
    end = fh.seek(0, os.SEEK_END)
    pos, tail = end, b""
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        fh.seek(pos)
        tail = fh.read(step) + tail
        cut = tail.rfind(b"\n")
        if cut >= 0:
            return tail[cut + 1 :]
    return tail


def _line_start(p: Path, fh: BinaryIO) -> bytes:
    """What goes before a new record so that it starts a line of its own: nothing when the log
    ends with a newline, a newline after a complete record, :data:`TORN_MARK` and a newline
    after a torn one (with a warning naming the file)."""
    tail = _tail(fh)
    if not tail:
        return b""
    if not tail.strip() or _record(tail) is not None:
        return b"\n"
    fh.seek(0)
    n = fh.read().count(b"\n") + 1
    log.warning("%s: line %d is torn (an interrupted write); marked and passed over", p, n)
    return TORN_MARK.encode() + b"\n"


def record_decision(
    dataset: str | os.PathLike[str],
    video: str,
    product_id: str,
    decision: str,
    catalog: str | os.PathLike[str] | None = None,
    note: str | None = None,
    video_path: str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Append an accept/reject decision to ``.review.jsonl`` (a ``review.jsonl`` an older version
    wrote is moved there first); with a catalog, also store it there
    (``schemas.review``, keyed by ``video_path``, the dataset-relative video: the product's item
    is accepted or rejected, and ``mf publish`` follows). ``owner``: the product id of the item
    that owns the video when another item than ``product_id``'s brought it into the product
    (:func:`merged_owner`): the catalog's decision is keyed (``video_path``, ``owner``) and decides
    that item, the log's record names it as ``item``."""
    if decision not in ("accept", "reject"):
        raise ValueError(decision)
    note = clean_text(note) if note is not None else None  # a byte the shell passed undecoded: U+FFFD
    rec = {
        "video": video,
        "product_id": product_id,
        "decision": decision,
        "note": note,
        "at": datetime.now(UTC).isoformat(timespec="microseconds"),  # ordered against the catalog's
    }
    if owner is not None and owner != product_id:
        rec["item"] = owner
    cat = open_catalog(catalog) if catalog is not None else None  # a damaged one: refused before writing
    try:
        _append_log(dataset, rec)
        if cat is not None:
            from schemas.review import record_decision as store

            key, decided = video_path or video, rec.get("item", product_id)
            store(cat, video=key, product_id=decided, kind=decision, reason=note)
            if note and decision == "accept":
                store(cat, video=key, product_id=decided, kind="note", note=note)
    finally:
        if cat is not None:
            cat.close()
    return rec


def _append_log(dataset: str | os.PathLike[str], rec: Mapping[str, Any]) -> None:
    """Append ``rec`` to the dataset's review log, one line, under the dataset's lock (not lost to
    a rewrite, :func:`follow_tracklet_names`; an older ``review.jsonl`` moved in first)."""
    p = Path(dataset) / REVIEW_FILE
    line = json.dumps(rec).encode("utf-8") + b"\n"
    with dataset_lock(dataset):
        move_legacy_review_log(dataset)
        with local_faults(p), open(p, "a+b") as fh:  # append-only log, one line per decision
            fh.write(_line_start(p, fh) + line)  # appends go to the end, whatever was read
            fh.flush()
            os.fsync(fh.fileno())


def log_undo(
    dataset: str | os.PathLike[str],
    video: str,
    product_id: str,
    undone: Mapping[str, Any],
    verdict: str | None,
    at: str | None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Append to ``.review.jsonl`` what ``mf-tracklets review --undo`` left of the review named
    ``video`` once it took back the verdict ``undone`` (its decision, as a dict) in the catalog:
    the verdict live now (``verdict``, None when none is, with ``at``, the time it was made), so
    the log's latest record of the name says what the catalog does (the list and the builder's
    check of accepts read it by name). ``owner`` as for :func:`record_decision`."""
    rec: dict[str, Any] = {
        "video": video,
        "product_id": product_id,
        "decision": verdict,
        "undone": {k: undone.get(k) for k in ("id", "kind")},
        "note": None,
        "at": at or datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    if owner is not None and owner != product_id:
        rec["item"] = owner
    _append_log(dataset, rec)
    return rec


def follow_tracklet_names(dataset: str | os.PathLike[str], videos: Mapping[str, str | None]) -> int:
    """Name each decision of the review log on a tracklet file of one of ``videos`` (video path
    -> the one product listing it now, None when several do) after the file of its video and
    product now (:func:`schemas.tracklet_names.tracklet_stem`): call it before the builder renames
    a file because the products listing its video changed (a product's ``<stem>@<product>.json``
    of a video only it lists now becomes ``<stem>.json``; an older build's ``<stem>.json`` of a
    video shared now becomes its product's file), and a reviewer's accept or reject follows the
    file. A decision on the file of a product that no longer lists the video goes to that
    product's name, ``<stem>@<product>`` (the catalog keys decisions by video and product too).

    The log is rewritten atomically under the dataset's lock (the legacy ``review.jsonl`` moved
    into it first), only when a name changes; a line that is not a record is kept as it is, and
    a rename done already is not done again. Returns how many records were renamed."""
    if not videos:
        return 0
    stems = {video_stem(vp): vp for vp in videos}
    root = Path(dataset)
    with dataset_lock(dataset):
        if not any(_renamed(root / n, stems, videos)[1] for n in (LEGACY_REVIEW_LOG, REVIEW_FILE)):
            return 0
        move_legacy_review_log(dataset)
        p = root / REVIEW_FILE
        data, n = _renamed(p, stems, videos)
        with local_faults(p):
            atomic_write_bytes(p, data)
    return n


def _renamed(p: Path, stems: Mapping[str, str], videos: Mapping[str, str | None]) -> tuple[bytes, int]:
    """The log file ``p`` with its records renamed (:func:`follow_tracklet_names`; ``stems``: video
    stem -> video path), and how many were (none: no file)."""
    with local_faults(p):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return b"", 0
    lines, n = data.split(b"\n"), 0
    for i, line in enumerate(lines):
        rec = _record(line) if line.strip() else None
        name = _current_name(rec, stems, videos) if rec is not None else None
        if name is not None and name != rec["video"]:
            lines[i], n = json.dumps({**rec, "video": name}).encode("utf-8"), n + 1
    return b"\n".join(lines), n


def _current_name(
    rec: Mapping[str, Any], stems: Mapping[str, str], videos: Mapping[str, str | None]
) -> str | None:
    """The review name of the record's video and product now; None when the record is about no
    video of ``stems`` (or names no product)."""
    name, pid = rec["video"], rec.get("product_id")
    if not isinstance(pid, str):
        return None
    vp = stems.get(name)
    if vp is None:
        head, named = split_stem(name)
        vp = stems.get(head) if named == pid else None
    if vp is None:
        return None
    try:
        return tracklet_stem(vp, pid, shared=videos[vp] != pid)
    except ValueError:  # a product id no file is named after
        return None
