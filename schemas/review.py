"""Human review decisions on published videos, stored in the catalog (table ``review_decisions``).

One row per decision a reviewer makes on one video of a published dataset:

==========  ==============================================================================
kind        effect
==========  ==============================================================================
accept      the video's ground-truth tracklet is right; the product's item -> ``accepted``
            (unless cleaning excluded it, see below); refused while the item it would let
            ``mf publish`` have has no DeepFashion2 class (:func:`accept_lacks_class`)
reject      (+ ``reason``) the video is too noisy; the product's item -> ``rejected`` (unless
            cleaning excluded it already), and ``mf publish`` leaves the product out
            (:func:`apply_review`)
class       (+ ``df2_class``) the product's DeepFashion2 class is changed (item column, and
            :func:`apply_review` applies it at publish time)
tracklet    (+ ``tracklet``) another tracklet of the video's tracklet file becomes the ground
            truth (the dataset files are rewritten by ``annotations.review``)
note        (+ ``note``) free text, nothing else changes
shop        (+ ``shop``) the product's shop image becomes this carousel candidate (its collected
            path; one of the item's accepted ``candidate-shop`` assets) in place of cleaning's
            pick; ``mf publish`` applies it (:func:`with_review_shop`), a rerun of ``mf clean``
            does not undo it
import      tracks corrected in another tool (CVAT) were imported for this video and changed
            its tracklets (a file that came back unchanged records none); never a verdict
==========  ==============================================================================

Every decision is one ``BEGIN IMMEDIATE`` transaction holding the decision row, the item's new
state and an event, so a writer killed at any moment leaves either all of it or none of it.
A decision carries the item's state before it (``prev``); only the latest live decision of a
video's review can be undone (undo walks backwards; a video several products list has one review
per product, each with its own tracklet file), and an ``import`` cannot be undone at all (its
files are not kept: re-import the previous file instead).

The item's state is a function of the product's live decisions (:func:`_restate`, after every
decision and every undo): start from the state before the product's first review decision (the
``prev`` of the decision that opened the product's review, when no other decision of it was
live; when that was another stage's hold, the state the item has apart from review now,
:func:`_outside`, since the stage may have withdrawn it: undoing a decision gives the state as it
would be without it, not a flag the tracklet builder withdrew meanwhile; while review rejects the
item, the state the reject was made under with the builder's flags as recorded now,
:func:`_with_flags`: the builder records its flags and their withdrawal while the item shows the
reject, which stays, so undoing the reject holds the item by the flags the builder has then,
not one it dropped meanwhile) and, when review may
change it (``accepted``, ``needs_review``, or rejected by review), the
item is ``rejected`` while the latest live verdict of any of its videos is ``reject``, else
``accepted`` when any video has one, else it keeps that state; the latest live class decision
sets ``df2_class``. So undoing decisions on several videos of a product in any order gives the
state the remaining ones make, and undoing all of them the state before review.

A hold is kept across review: an item another stage set ``needs_review`` with a reason of its own
(:func:`~schemas.holds.hold_of`: the tracklet builder's ``tracklets: ...`` flag, cleaning's
``association: ...`` check, ``mf publish``'s ``merge:`` hold when two product pages share one shop
image but not their colour, :func:`cleaning.publish.hold_shop_conflicts`) stays held whatever the
decisions give (with the reason it has now, not an older one it had when its review opened), unless
a live accept was made under that very hold (its ``prev`` reason is the hold's) and, for the
tracklet builder's flag, which is of every flagged video of the product (the item's record of
flagged videos, :data:`~schemas.holds.TRACKLET_FLAGS`, written by :func:`flag_video` and
:func:`unflag_videos`; its reason, ``tracklets: <video stem>: <why>``, several separated by ``; ``,
names those still to review: :func:`~schemas.holds.held_reason`; before, it named every flagged
video still after some were accepted), live accepts of every video it is of, each made under a hold
that named that video for the same reason and, where the builder recorded the flagged tracklet's
identity (the digest of its ground truth, :data:`~schemas.holds.TRACKLET_BUILDS`), that very
tracklet: a ``--force`` rebuild flagging the video again with another ground truth is not released
by the accept of the one it replaced (:func:`~schemas.holds.lifted`: an accept of another video of
the product, whose tracklet nobody doubted, says nothing about the flagged one's; before, the reason
named the video flagged last only, and its accept released the item with the other one unreviewed);
a rebuild that no longer flags a video drops it from the hold, and an undo that holds the item again
holds it by the videos the builder flags then: a decision that does not address the hold keeps it.
So a class decision, a note, an accept of another video than the flagged one or an undo of an older
decision leaves the item held (before, an item a reviewer had accepted once went back to
``accepted`` and could be published without its new flag reviewed), an accept made under the hold
lifts it (and publish honours a merge hold's, :func:`merge_holds_accepted`), a reject rejects, an
accept that follows a reject was made under the reject, not under the hold, so the item is held
again (the hold the reject was made under, :func:`_outside`), and undoing the accept (or reject)
made under the hold holds the item again. This is the one rule, in :func:`_restate`, for every
stage's hold. The builder's flag of an item another stage holds does not replace that hold's reason
(:func:`flag_video`; its flag about the whole item, naming no video, neither: :func:`flag_item`): it
is recorded, and holds the item once an accept made under the other hold lifts it, until accepts of
its videos (of the item) do.

Review never overrides cleaning: an item cleaning put in ``duplicate`` or ``rejected`` (a reason
of its own, not ``review:``), or one not yet through cleaning, keeps its status and reason
whatever the verdicts. There an ``accept`` says the video's ground-truth tracklet is right, not
that the product belongs in the dataset, and a ``reject`` is kept in the decisions (and
:func:`apply_review` leaves the product out whatever a later clean run says). Nor does the
tracklet builder: its flag of such an item is recorded (:data:`~schemas.holds.TRACKLET_FLAGS`,
:data:`~schemas.holds.ITEM_FLAG`) but never makes
it ``needs_review`` (:func:`builder_may_hold`), so no accept can let ``mf publish`` have it.
The flags recorded so (or under another stage's hold) hold the item the moment a writer outside
review makes it ``accepted`` (``mf clean`` accepting it or clearing its own hold, ``mf publish``
releasing its merge hold: :func:`~schemas.holds.hold_by_flags`), until accepts made under them lift them.

Repeating a request with the same ``request_id`` (a client retry) returns the first result
and writes nothing; a ``request_id`` seen with another video or decision is refused.
A tracklet pick whose files were since rewritten by something else (an import, a rebuild) is
marked superseded (``prev["superseded"]``, :func:`mark_superseded`): the files win, and the pick
no longer counts as the video's ground truth.

Review also decides on what ``mf publish`` holds back and so never put in the split files
(:func:`held_for_review`: an item cleaning flagged, a product whose tracklets were flagged once a
republish took it out): its videos are named as publish will name them,
``videos/<product>_<n>.mp4``, and an accept lets the next publish have the item.

``mf-tracklets review --accept/--reject`` also logs its decisions in the dataset folder, in the
hidden :data:`REVIEW_LOG` (:func:`move_legacy_review_log` moves the ``review.jsonl`` older
versions wrote there, which ``mf publish`` refused to publish over).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.atomic import atomic_write_bytes
from schemas.catalog import Catalog, ItemRow, put_meta
from schemas.errors import CatalogError, ConfigError, DataFormatError
from schemas.holds import (
    FLAG_SEP,
    PREV_BUILDS,
    PREV_FLAGS,
    UNKNOWN_BUILD,
    VERDICTS,
    builds_key,
    flag_entries,
    flags_key,
    flags_reason,
    held_reason,
    hold_of,
    item_flag_key,
    latest_runs,
    lifted,
    live_verdicts,
    names_recorded,
    one_flag,
    pending,
    prev_flags,
    read_builds,
    read_flags,
    read_item_flag,
    set_item,
)
from schemas.items import (
    CANDIDATE_URL,
    MERGE_PREFIX,
    SPLITSCREEN_URL,
    TRACKLETS_PREFIX,
    AssetKind,
    MediaAsset,
    Status,
)
from schemas.meta_json import meta_value
from schemas.naming import check_safe_name
from schemas.official import video_relpath
from schemas.review_rows import KINDS, decision_prev
from schemas.taxonomy import DF2_CLASSES
from schemas.text_input import load_json

STAGE = "review"
#: prefix of the item reason written by a review reject (an accept may lift such a reject)
REJECT_PREFIX = "review:"
#: kinds that change the product's catalog item
ITEM_KINDS = ("accept", "reject", "class")
#: the reason of the shop image :func:`with_review_shop` makes of the candidate review chose
REVIEW_SHOP_REASON = "shop: chosen in review"
#: why an accept of an item without a class is refused (publish needs the class)
NO_CLASS = "no DeepFashion2 class: choose one (c on the review page, or --class NAME) before accepting"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Decision:
    """One stored decision."""

    id: int
    at: str
    video: str
    product_id: str
    kind: str
    source: str | None = None
    source_id: str | None = None
    reason: str | None = None
    df2_class: int | None = None
    tracklet: int | None = None
    note: str | None = None
    prev: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    undone_at: str | None = None
    shop: str | None = None  #: the carousel candidate (collected path) a shop decision chose

    @property
    def superseded(self) -> bool:
        """A tracklet pick whose files something else rewrote since (:func:`mark_superseded`)."""
        return "superseded" in self.prev

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, superseded=self.superseded)


@dataclass
class VideoReview:
    """The effect of the live (not undone) decisions of one video, replayed in order."""

    video: str
    product_id: str
    verdict: str | None = None  #: accept | reject | None
    reason: str | None = None  #: of the reject
    df2_class: int | None = None  #: class chosen in review
    tracklet: int | None = None  #: tracklet index chosen as ground truth
    shop: str | None = None  #: carousel candidate chosen as the shop image (collected path)
    notes: list[str] = field(default_factory=list)
    imported: bool = False
    decisions: int = 0
    last_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _decision(r: sqlite3.Row, where: Any) -> Decision:
    """The decision row ``r`` (checked: :func:`schemas.review_rows.decision_prev`) read from the
    catalog ``where`` (its path, or the connection)."""
    prev = decision_prev(r, where)
    return Decision(
        id=r["id"],
        at=r["at"],
        video=r["video"],
        product_id=r["product_id"],
        kind=r["kind"],
        source=r["source"],
        source_id=r["source_id"],
        reason=r["reason"],
        df2_class=r["df2_class"],
        tracklet=r["tracklet"],
        note=r["note"],
        prev=prev,
        request_id=r["request_id"],
        undone_at=r["undone_at"],
        shop=r["shop"],
    )


def find_item(cat: Catalog, product_id: str) -> sqlite3.Row | None:
    """The catalog row of the item published as ``product_id`` (None: no such item)."""
    return _find_item(cat, product_id)


def _find_item(db: sqlite3.Connection | Catalog, product_id: str) -> sqlite3.Row | None:
    """The catalog item of a dataset product: by ``product_id`` column, else by source id."""
    for col in ("product_id", "source_id"):
        sql = (
            f"SELECT source, source_id, status, reason, df2_class FROM items WHERE {col} = ? "
            "ORDER BY source, source_id LIMIT 1"
        )
        rows = (
            db.read(sql, (product_id,))
            if isinstance(db, Catalog)
            else db.execute(sql, (product_id,)).fetchall()
        )
        if rows:
            return rows[0]
    return None


@dataclass(frozen=True)
class ItemState:
    """An item's catalog state as a check saw it (all None: the catalog has no such item):
    :func:`record_decision`'s ``expect``."""

    source: str | None = None
    source_id: str | None = None
    status: str | None = None
    reason: str | None = None


def _item_state(item: sqlite3.Row | None) -> ItemState:
    if item is None:
        return ItemState()
    return ItemState(item["source"], item["source_id"], item["status"], item["reason"])


def item_state(cat: Catalog, product_id: str) -> ItemState:
    """The catalog state of the item published as ``product_id``, as :func:`record_decision`
    compares it (``expect``)."""
    return _item_state(_find_item(cat, product_id))


class ItemChanged(CatalogError):
    """A decision whose item's catalog state is no longer the one its check saw (a ``mf clean``
    rerun committed in between): nothing was stored; check again. ``now``: the state found."""

    def __init__(self, message: str, now: ItemState, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.now = now


def _lacks_class(item: sqlite3.Row | None) -> bool:
    """Whether an accept would make ``item`` publishable without a DeepFashion2 class."""
    return item is not None and item["df2_class"] is None and review_may_set(item["status"], item["reason"])


def accept_lacks_class(cat: Catalog, product_id: str) -> bool:
    """Whether accepting ``product_id`` would let ``mf publish`` have an item that has no
    DeepFashion2 class (cleaning could not tell it; a ``class`` decision sets one): such an accept
    is refused (:data:`NO_CLASS`)."""
    return _lacks_class(_find_item(cat, product_id))


def rejected_by_review(status: str | None, reason: str | None) -> bool:
    """Whether an item's state is a review reject (the reason :func:`_reject_reason` writes)."""
    return status == Status.REJECTED and (reason or "").startswith(REJECT_PREFIX)


def review_may_set(status: str | None, reason: str | None) -> bool:
    """Whether review may make an item of this state accepted or rejected: one cleaning accepted
    (or flagged for review), or one rejected by review; not a duplicate, not one cleaning
    rejected for a reason of its own, not one still on its way through cleaning."""
    return status in (Status.ACCEPTED, Status.NEEDS_REVIEW) or rejected_by_review(status, reason)


def _reject_reason(d: Decision) -> str:
    return f"{REJECT_PREFIX} {d.reason or 'rejected'} ({d.video})"


def _outside(rows: list[Decision], item: sqlite3.Row) -> tuple[str, str | None] | None:
    """The item's state apart from review's verdicts: as it is now (another stage may have held
    it, or withdrawn its hold, since its review opened), or, while review rejects it,
    as it was when review rejected it (the ``prev`` of the latest of ``rows``, the item's
    decisions in order, made while review did not reject it); None when no decision saw it so."""
    if not rejected_by_review(item["status"], item["reason"]):
        return item["status"], item["reason"]
    for d in reversed(rows):
        if "status" in d.prev and not rejected_by_review(d.prev["status"], d.prev.get("reason")):
            return d.prev["status"], d.prev.get("reason")
    return None


def _item_decisions(db: sqlite3.Connection, source: str, source_id: str) -> list[Decision]:
    """The item's decisions that change it (:data:`ITEM_KINDS`, undone ones too), in order."""
    return [
        _decision(r, db)
        for r in db.execute(
            "SELECT * FROM review_decisions WHERE source = ? AND source_id = ? AND kind IN (?, ?, ?) "
            "ORDER BY id",
            (source, source_id, *ITEM_KINDS),
        )
    ]


def _with_flags(state: tuple[str, str | None], flags: Mapping[str, str] | None) -> tuple[str, str | None]:
    """``state``, an item's state apart from review as some decision saw it, with the tracklet
    builder's flags now (``flags``, recorded whatever the item's state; None: no record, the state
    as it is): held by them (an accepted item, or one the builder held), or, with none left,
    released from the builder's hold. Another stage's hold is kept."""
    if flags is None:
        return state
    hold = hold_of(*state)
    builders = bool(hold) and str(hold).startswith(TRACKLETS_PREFIX)
    if flags and (builders or state[0] == Status.ACCEPTED):
        return Status.NEEDS_REVIEW, flags_reason(flags)
    if not flags and builders:
        return Status.ACCEPTED, None
    return state


def _restate(
    db: sqlite3.Connection,
    source: str,
    source_id: str,
    hold: str | None = None,
    named: Mapping[str, str] | None = None,
) -> None:
    """Set the item's state from its live decisions (see the module docstring); a hold it has (or
    ``hold``: the one an undone verdict was made under, naming the videos ``named``) stays unless
    accepts made under it are live (:func:`~schemas.holds.lifted`)."""
    rows = _item_decisions(db, source, source_id)
    base: dict[str, Any] | None = None
    open_before = False  # a decision made before the one at hand is still live (or was, then)
    last_undo = ""
    for d in rows:
        if not open_before and last_undo <= d.at and "status" in d.prev:
            base = d.prev  # this decision opened the product's review: the state before review
        if d.undone_at is None:
            open_before = True
        else:
            last_undo = max(last_undo, d.undone_at)
    item = db.execute(
        "SELECT status, reason, df2_class FROM items WHERE source = ? AND source_id = ?", (source, source_id)
    ).fetchone()
    if base is None or item is None:
        return
    live = [d for d in rows if d.undone_at is None]
    status, reason, df2_class = base["status"], base.get("reason"), base.get("df2_class")
    flags = read_flags(db, source, source_id)
    outside = _outside(rows, item) or (status, reason)
    if rejected_by_review(item["status"], item["reason"]):  # the builder's flags now, not then
        outside = _with_flags(outside, flags)
    if hold_of(status, reason):  # held when its review opened: lifted or withdrawn since, perhaps
        status, reason = outside
    verdicts = {d.video: d for d in live if d.kind in VERDICTS}  # the latest of each video
    runs = latest_runs(d for d in live if d.kind in VERDICTS)  # + the same verdicts right before
    if review_may_set(status, reason):
        rejects = [d for d in verdicts.values() if d.kind == "reject"]
        if rejects:
            status, reason = Status.REJECTED, _reject_reason(max(rejects, key=lambda d: d.id))
        elif verdicts:
            status, reason = Status.ACCEPTED, None
    other = hold is not None and not hold.startswith(TRACKLETS_PREFIX)  # an undone verdict's
    if (now := hold_of(*outside)) and not (other and now.startswith(TRACKLETS_PREFIX)):
        hold, named = now, flag_entries(now, flags)  # (another stage's hold wins over the flags)
    elif named is not None and flags is not None:  # the builder's flags now, not those undone
        hold, named = (flags_reason(flags), flags) if flags else (None, None)
    # another stage's hold, until an accept made under it; held with no live verdict, the item
    # keeps the hold it has now, not the older one it had when its review opened (``base``);
    # rejected by review, the hold the reject was made under (an accept that follows the reject
    # was made under the reject, not under the hold)
    held = status in (Status.ACCEPTED, Status.NEEDS_REVIEW)
    builds = read_builds(db, source, source_id)  # the flagged tracklets: accepts of others do not count
    if hold and held and not lifted(runs, hold, named, builds):
        # the builder's names the videos still to review, not those accepted already
        status, reason = (
            Status.NEEDS_REVIEW,
            hold if named is None else held_reason(runs, named, builds),
        )
    elif (  # the builder's flags recorded under another stage's hold (:func:`flag_video`) hold
        # the item once that hold is lifted, until accepts made under them lift them too
        status == Status.ACCEPTED
        and flags
        and not (hold or "").startswith(TRACKLETS_PREFIX)
        and (left := pending(runs, flags, builds))
    ):
        status, reason = Status.NEEDS_REVIEW, flags_reason(left)
    elif (  # the same for its flag about the whole item (:func:`flag_item`)
        status == Status.ACCEPTED
        and (whole := read_item_flag(db, source, source_id))
        and not lifted(runs, whole, None)
    ):
        status, reason = Status.NEEDS_REVIEW, whole
    for d in live:
        if d.kind == "class":
            df2_class = d.df2_class
    if (str(status), reason, df2_class) != (item["status"], item["reason"], item["df2_class"]):
        set_item(db, source, source_id, status=status, reason=reason, df2_class=df2_class)


def held_by_recorded_flags(
    cat: Catalog, source: str, source_id: str, status: str | None, reason: str | None
) -> bool:
    """Whether an item of this state is held by the tracklet builder's flags alone, every one of
    them recorded (its reason is :func:`~schemas.holds.flags_reason` of its
    :data:`~schemas.holds.TRACKLET_FLAGS` record, or of those of them still to review, or its flag
    about the whole item as :data:`~schemas.holds.ITEM_FLAG` records it): another stage's hold
    (the association check's, a needs_review of ``mf clean``'s record step) may then take its
    reason, since the record holds the item again once an accept made under that hold lifts it
    (:func:`_restate`, :func:`~schemas.holds.hold_by_flags`). Not an older catalog's reason alone: that is not
    recorded, and replacing the reason would lose it."""
    hold = hold_of(status, reason)
    if not hold or not hold.startswith(TRACKLETS_PREFIX):
        return False
    flags = cat.get_meta(flags_key(source, source_id))
    if isinstance(flags, dict) and names_recorded(hold, {str(k): str(v) for k, v in flags.items()}):
        return True
    return hold == cat.get_meta(item_flag_key(source, source_id))


def _flags_now(db: sqlite3.Connection, item: sqlite3.Row) -> dict[str, str]:
    """The builder's flags of ``item`` (a row with its key, status and reason) as recorded, with
    the one video its tracklets reason names when the record lacks it (a catalog an older
    version wrote holds the reason alone; while review rejects the item, the reason the reject was
    made under)."""
    flags = read_flags(db, item["source"], item["source_id"])
    state = item["status"], item["reason"]
    if rejected_by_review(*state):  # the hold the reject was made under
        state = _outside(_item_decisions(db, item["source"], item["source_id"]), item) or state
    hold = hold_of(*state)
    if hold and hold.startswith(TRACKLETS_PREFIX) and not names_recorded(hold, flags):
        return {**(one_flag(hold) or {}), **(flags or {})}
    return dict(flags or {})


def _item_row(db: sqlite3.Connection, source: str, source_id: str) -> sqlite3.Row:
    row = db.execute(
        "SELECT source, source_id, status, reason FROM items WHERE source = ? AND source_id = ?",
        (source, source_id),
    ).fetchone()
    if row is None:
        raise CatalogError(f"no item {source}/{source_id}", where="items")
    return row


def builder_may_hold(status: str | None) -> bool:
    """Whether the tracklet builder's flag may hold an item of this status ``needs_review``: one
    cleaning accepted (or flagged for review); not one rejected (by review or by cleaning), a
    duplicate, or one not through cleaning yet, whose status and reason stay."""
    return status in (Status.ACCEPTED, Status.NEEDS_REVIEW)


def flag_item(cat: Catalog, source: str, source_id: str, reason: str) -> bool:
    """Record the tracklet builder's flag about the whole item (``reason``, naming no video:
    :data:`~schemas.holds.ITEM_FLAG`) and hold the item ``needs_review`` with it, in one
    transaction, unless :func:`builder_may_hold` says its status stays (an item cleaning excluded
    or review rejected) or another stage holds it (``association: ...``, ``merge: ...``: its
    reason stays, as :func:`flag_video` keeps it); either way the record holds the item once it
    is made ``accepted`` (an accept made under the other hold, ``mf clean`` or ``mf publish``
    accepting it: :func:`~schemas.holds.hold_by_flags`), until an accept made under the flag.
    Returns whether the item was held."""
    with cat.transaction() as db:
        item = _item_row(db, source, source_id)
        if read_item_flag(db, source, source_id) != reason:
            put_meta(db, item_flag_key(source, source_id), reason)
        return _builder_holds(db, item, reason)


def _builder_holds(db: sqlite3.Connection, item: sqlite3.Row, reason: str) -> bool:
    """Hold ``item`` ``needs_review`` for the tracklet builder's ``reason`` inside ``db``'s
    transaction, unless its status is one the builder never raises (:func:`builder_may_hold`: a
    review reject, whose undo holds by the flags then, or cleaning's exclusion) or another stage
    holds it (``association: ...``, ``merge: ...``: the recorded flags hold it once that is
    lifted). Returns whether the item is held by the builder."""
    if not builder_may_hold(item["status"]):
        return False
    if (hold := hold_of(item["status"], item["reason"])) and not hold.startswith(TRACKLETS_PREFIX):
        return False
    if (item["status"], item["reason"]) != (Status.NEEDS_REVIEW, reason):
        set_item(db, item["source"], item["source_id"], status=Status.NEEDS_REVIEW, reason=reason)
    return True


def flag_video(
    cat: Catalog, source: str, source_id: str, stem: str, why: str, build: str | None = None
) -> str | None:
    """Record the tracklet builder's flag of the item's video ``stem``
    (:data:`~schemas.holds.TRACKLET_FLAGS`, with the item's other flagged videos) and hold the item
    ``needs_review`` with a reason naming every flagged video still to review and why
    (:func:`~schemas.holds.held_reason`), in one transaction. While review rejects the item the
    flag is only recorded: the reject stays, and undoing it holds the item by the flags recorded
    then (:func:`_with_flags`). An item cleaning excluded (rejected, duplicate, not through cleaning
    yet: :func:`builder_may_hold`) keeps its status and reason too: the builder never makes it
    needs_review, which a reviewer's accept could then let ``mf publish`` have. Another stage's hold
    (``association: ...``, ``merge: ...``) keeps its reason: the flag is recorded and holds the item
    once an accept made under that hold lifts it (:func:`_restate`), so neither an accept meant for
    the tracklet nor the builder withdrawing its flag releases the item with the other hold
    unreviewed. ``build``: the identity of the flagged tracklet (the digest of its ground truth,
    :data:`~schemas.holds.TRACKLET_BUILDS`): only accepts made under a hold that named this very
    tracklet lift the flag (:func:`~schemas.holds.lifted`), so a ``--force`` rebuild flagging the
    video again for the same reason is not released by the accept of the tracklet it replaced (None:
    not known, e.g. the file did not read: an :data:`~schemas.holds.UNKNOWN_BUILD` identity is
    recorded, which no accept made before matches, kept while the flag is made again without one,
    so only an accept made under this hold lifts it). Returns the reason set (None: the item kept
    its state)."""
    with cat.transaction() as db:
        item = _item_row(db, source, source_id)
        flags = _flags_now(db, item)
        flags[stem] = why
        put_meta(db, flags_key(source, source_id), flags)
        builds = read_builds(db, source, source_id)
        if build is None:  # not known: not the tracklet any accept made before saw
            known = builds.get(stem, "")
            build = known if known.startswith(UNKNOWN_BUILD) else f"{UNKNOWN_BUILD}{secrets.token_hex(8)}"
        if builds.get(stem) != build:
            builds = {k: v for k, v in builds.items() if k != stem} | {stem: build}
            put_meta(db, builds_key(source, source_id), builds)
        reason = held_reason(live_verdicts(db, source, source_id), flags, builds)  # the videos left
        return reason if _builder_holds(db, item, reason) else None


def unflag_videos(
    cat: Catalog, source: str, source_id: str, stems: Collection[str] | None = None, *, release: bool = True
) -> bool:
    """Withdraw the tracklet builder's flags of the item's videos ``stems`` (None: of every video)
    from its record, in one transaction. An item held by the builder is then held by the flags
    left (its reason names them), or, with none left and ``release``, accepted; either way the
    live review decisions apply again (:func:`_restate`: accepts made under the hold lift what
    it names now). Another state (a reviewer's decision, another stage's hold) is kept; while
    review rejects the item the record still changes, so undoing the reject does not bring back
    a flag withdrawn since (:func:`_with_flags`). Returns whether the item changed."""
    with cat.transaction() as db:
        item = _item_row(db, source, source_id)
        flags = _flags_now(db, item)
        left = {} if stems is None else {k: v for k, v in flags.items() if k not in stems}
        if left != read_flags(db, source, source_id):
            put_meta(db, flags_key(source, source_id), left)
        if stems is None and read_item_flag(db, source, source_id) is not None:
            put_meta(db, item_flag_key(source, source_id), None)  # every flag withdrawn
        builds = read_builds(db, source, source_id)
        if set(builds) - set(left):  # a withdrawn flag's tracklet goes with it
            put_meta(db, builds_key(source, source_id), {k: v for k, v in builds.items() if k in left})
        hold = hold_of(item["status"], item["reason"])
        if not hold or not hold.startswith(TRACKLETS_PREFIX) or (stems is not None and left == flags):
            return False
        if left:
            reason = held_reason(
                live_verdicts(db, source, source_id), left, read_builds(db, source, source_id)
            )
            set_item(db, source, source_id, status=Status.NEEDS_REVIEW, reason=reason)
        elif release:
            set_item(db, source, source_id, status=Status.ACCEPTED, reason=None)
        _restate(db, source, source_id)
        return tuple(_item_row(db, source, source_id)) != tuple(item)


def _check(
    kind: str,
    reason: str | None,
    df2_class: int | None,
    tracklet: int | None,
    note: str | None,
    shop: str | None,
) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown review decision {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    if kind == "class" and df2_class not in DF2_CLASSES:
        raise ConfigError(f"df2_class must be 1..13, got {df2_class!r}", where="df2_class")
    if kind == "tracklet" and (tracklet is None or tracklet < 0):
        raise ConfigError(f"tracklet must be an index >= 0, got {tracklet!r}", where="tracklet")
    if kind == "note" and not (note or "").strip():
        raise ConfigError("a note needs text", where="note")
    if (kind == "shop") != bool(shop):
        raise ConfigError(
            "a shop decision needs the chosen candidate's path"
            if kind == "shop"
            else f"a {kind} decision takes no shop",
            where="shop",
        )


def shop_candidates(db: sqlite3.Connection | Catalog, source: str, source_id: str) -> list[str]:
    """The collected paths of an item's accepted carousel candidates, in path order (cleaning's
    numbering): what a shop decision may choose."""
    sql = (
        "SELECT path FROM assets WHERE source = ? AND source_id = ? AND kind = ? AND status = ? "
        "AND path IS NOT NULL ORDER BY path"
    )
    args = (source, source_id, str(AssetKind.CANDIDATE_SHOP), str(Status.ACCEPTED))
    rows = db.read(sql, args) if isinstance(db, Catalog) else db.execute(sql, args).fetchall()
    return [r["path"] for r in rows]


def product_shop_candidates(cat: Catalog, product_id: str) -> list[str]:
    """:func:`shop_candidates` of a dataset product's catalog item (none when the catalog does not
    know it)."""
    item = _find_item(cat, product_id)
    return [] if item is None else shop_candidates(cat, item["source"], item["source_id"])


def _check_candidate(db: sqlite3.Connection, item: sqlite3.Row | None, product_id: str, shop: str) -> None:
    """ConfigError unless ``shop`` is one of the product's carousel candidates."""
    found = [] if item is None else shop_candidates(db, item["source"], item["source_id"])
    if shop not in found:
        have = f"its candidates: {', '.join(found)}" if found else "it has no carousel candidates"
        raise ConfigError(
            f"{shop!r} is not a carousel candidate of product {product_id}; {have}", where="shop"
        )


def _same_request(old: Decision, **asked: Any) -> None:
    """Refuse a retried ``request_id`` that asks for something else than the stored decision."""
    differ = [k for k, v in asked.items() if getattr(old, k) != v]
    if differ:
        raise CatalogError(
            f"request {old.request_id!r} was decision {old.id} ({old.kind} of {old.video}); this one "
            f"differs in {', '.join(differ)}",
            where="request_id",
            hint="a retry repeats the request as it was; a new decision needs a new request_id",
        )


def record_decision(
    cat: Catalog,
    *,
    video: str,
    product_id: str,
    kind: str,
    reason: str | None = None,
    df2_class: int | None = None,
    tracklet: int | None = None,
    note: str | None = None,
    request_id: str | None = None,
    extra_prev: dict[str, Any] | None = None,
    shop: str | None = None,
    expect: ItemState | None = None,
) -> tuple[Decision, bool]:
    """Store one decision and apply it to the product's catalog item, in one transaction.

    ``extra_prev`` is remembered for undo (e.g. the ground-truth index a tracklet pick replaced).
    ``expect``: the item's state (:func:`item_state`) the caller's check saw; when the item holds
    another one inside the transaction (a ``mf clean`` rerun committed after the check), nothing
    is stored and :class:`ItemChanged` is raised. Returns ``(decision, created)``; ``created`` is
    False when ``request_id`` was seen before (the stored decision, whatever became of it since:
    nothing is applied again, and ``expect`` is not compared). A ``request_id`` seen with another
    video or decision raises :class:`CatalogError`.
    """
    _check(kind, reason, df2_class, tracklet, note, shop)
    with cat.transaction() as db:
        if request_id is not None:
            old = db.execute("SELECT * FROM review_decisions WHERE request_id = ?", (request_id,)).fetchone()
            if old is not None:
                stored = _decision(old, db)
                _same_request(
                    stored,
                    video=video,
                    kind=kind,
                    reason=reason,
                    df2_class=df2_class,
                    tracklet=tracklet,
                    note=note,
                    shop=shop,
                )
                return stored, False
        item = _find_item(db, product_id)
        if expect is not None and (now := _item_state(item)) != expect:
            raise ItemChanged(
                f"{video}: the catalog item of product {product_id} changed after the decision was "
                f"checked (now {now.status or 'absent'}); not saved",
                now,
                where=f"product {product_id}",
                hint="check the item again, then decide",
            )
        if kind == "accept" and _lacks_class(item):
            raise ConfigError(f"{video}: {NO_CLASS}", where=f"product {product_id}")
        if shop is not None:
            _check_candidate(db, item, product_id, shop)
        prev: dict[str, Any] = dict(extra_prev or {})
        if item is not None:
            prev.update(status=item["status"], reason=item["reason"], df2_class=item["df2_class"])
            hold = hold_of(item["status"], item["reason"])
            if (named := flag_entries(hold, read_flags(db, item["source"], item["source_id"]))) is not None:
                prev[PREV_FLAGS] = named  # the videos the hold names: an accept of each lifts it
                builds = read_builds(db, item["source"], item["source_id"])
                if seen := {k: v for k, v in builds.items() if k in named}:
                    prev[PREV_BUILDS] = seen  # the tracklets it names: accepted are these
        cur = db.execute(
            "INSERT INTO review_decisions (at, video, product_id, source, source_id, kind, reason, "
            "df2_class, tracklet, note, prev, request_id, shop) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _now(),
                video,
                product_id,
                None if item is None else item["source"],
                None if item is None else item["source_id"],
                kind,
                reason,
                df2_class,
                tracklet,
                note,
                json.dumps(prev, sort_keys=True),
                request_id,
                shop,
            ),
        )
        if item is not None and kind in ITEM_KINDS:
            _restate(db, item["source"], item["source_id"])
        detail = {"reject": reason, "class": df2_class, "tracklet": tracklet, "note": note, "shop": shop}.get(
            kind
        )
        db.execute(
            "INSERT INTO events (at, stage, source, source_id, message) VALUES (?, ?, ?, ?, ?)",
            (
                _now(),
                STAGE,
                None if item is None else item["source"],
                None if item is None else item["source_id"],
                f"{kind}: {video}" + ("" if detail is None else f" ({detail})"),
            ),
        )
        row = db.execute("SELECT * FROM review_decisions WHERE id = ?", (cur.lastrowid,)).fetchone()
    return _decision(row, db), True


def undo_decision(
    cat: Catalog,
    decision_id: int | None = None,
    *,
    video: str | None = None,
    product_id: str | None = None,
    request_id: str | None = None,
) -> tuple[Decision, bool]:
    """Undo a decision (by id; else the latest live one of ``video``, of ``product_id``'s when
    given; else the latest of all).

    Only the latest live decision of its video and product can be undone (a video several
    products list has one review per product), and never an ``import``. The product's item gets
    the state its remaining live decisions give (see the module docstring).
    Returns ``(decision, created)`` like :func:`record_decision`.
    """
    with cat.transaction() as db:
        if request_id is not None:
            old = db.execute(
                "SELECT * FROM review_decisions WHERE undo_request_id = ?", (request_id,)
            ).fetchone()
            if old is not None:
                stored = _decision(old, db)
                if (
                    (decision_id is not None and decision_id != stored.id)
                    or (video is not None and video != stored.video)
                    or (product_id is not None and product_id != stored.product_id)
                ):
                    raise CatalogError(
                        f"request {request_id!r} undid decision {stored.id} ({stored.kind} of "
                        f"{stored.video}), not this one",
                        where="request_id",
                        hint="a retry repeats the request as it was; a new undo needs a new request_id",
                    )
                return stored, False
        if decision_id is not None:
            row = db.execute("SELECT * FROM review_decisions WHERE id = ?", (decision_id,)).fetchone()
        elif video is not None:
            sql, args = "SELECT * FROM review_decisions WHERE video = ? AND undone_at IS NULL", [video]
            if product_id is not None:
                sql, args = sql + " AND product_id = ?", [*args, product_id]
            row = db.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
        else:
            row = db.execute(
                "SELECT * FROM review_decisions WHERE undone_at IS NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
        if row is None:
            raise CatalogError("no decision to undo", where=str(cat.path))
        d = _decision(row, db)
        if d.undone_at is not None:
            raise CatalogError(f"decision {d.id} is already undone", where=str(cat.path))
        if d.kind == "import":
            raise CatalogError(
                f"decision {d.id} imported tracks for {d.video} ({d.note or 'import'}); an import "
                "cannot be undone here",
                where=str(cat.path),
                hint="import the file you exported before (or an older export) again to put the tracks back",
            )
        later = db.execute(
            "SELECT id, kind FROM review_decisions WHERE video = ? AND product_id = ? "
            "AND undone_at IS NULL AND id > ?",
            (d.video, d.product_id, d.id),
        ).fetchone()
        if later is not None:
            raise CatalogError(
                f"decision {d.id} on {d.video} has a later one ({later['id']}, {later['kind']})",
                where=str(cat.path),
                hint="undo the later decision first"
                if later["kind"] != "import"
                else "an import cannot be undone, so the decisions before it stay; make a new decision",
            )
        now = _now()
        db.execute(
            "UPDATE review_decisions SET undone_at = ?, undo_request_id = ? WHERE id = ?",
            (now, request_id, d.id),
        )
        if d.source and d.source_id and d.kind in ITEM_KINDS:
            # the hold a verdict lifted comes back with its undo (a class decision lifted none)
            held = hold_of(d.prev.get("status"), d.prev.get("reason")) if d.kind in VERDICTS else None
            _restate(db, d.source, d.source_id, held, prev_flags(d) if held else None)
        db.execute(
            "INSERT INTO events (at, stage, source, source_id, message) VALUES (?, ?, ?, ?, ?)",
            (now, STAGE, d.source, d.source_id, f"undo {d.kind}: {d.video} (decision {d.id})"),
        )
    return replace(d, undone_at=now), True


def mark_superseded(cat: Catalog, decision_id: int, found: int | None, why: str) -> Decision:
    """Mark a tracklet pick superseded: its files were rewritten since (``found``: the ground
    truth they hold; ``why``: how that was told). The files win; the pick is not applied again
    and no longer counts as the video's ground truth (``prev["superseded"]``, plus an event)."""
    with cat.transaction() as db:
        row = db.execute("SELECT * FROM review_decisions WHERE id = ?", (decision_id,)).fetchone()
        if row is None:
            raise CatalogError(f"no decision {decision_id}", where=str(cat.path))
        d = _decision(row, db)
        if d.superseded:
            return d
        now = _now()
        prev = dict(d.prev, superseded={"at": now, "ground_truth": found, "why": why})
        db.execute(
            "UPDATE review_decisions SET prev = ? WHERE id = ?", (json.dumps(prev, sort_keys=True), d.id)
        )
        db.execute(
            "INSERT INTO events (at, stage, source, source_id, message) VALUES (?, ?, ?, ?, ?)",
            (
                now,
                STAGE,
                d.source,
                d.source_id,
                f"superseded tracklet: {d.video} (decision {d.id}, pick {d.tracklet}; the files hold "
                f"{found}: {why})",
            ),
        )
    return replace(d, prev=prev)


def list_decisions(cat: Catalog, *, video: str | None = None, include_undone: bool = False) -> list[Decision]:
    """Stored decisions in the order they were made."""
    sql, args = "SELECT * FROM review_decisions WHERE 1=1", []
    if video is not None:
        sql += " AND video = ?"
        args.append(video)
    if not include_undone:
        sql += " AND undone_at IS NULL"
    return [_decision(r, str(cat.path)) for r in cat.read(sql + " ORDER BY id", args)]


#: a review's key: (dataset-relative video, product id); a video several products list has one
#: review per product, since each has its own ground-truth tracklet
ReviewKey = tuple[str, str]


def review_states(cat: Catalog, *, video: str | None = None) -> dict[ReviewKey, VideoReview]:
    """(video path, product id) -> the effect of the live decisions on that product's review of
    the video (a superseded pick and a pick an import followed no longer name the ground truth:
    the files do). ``video``: only that video's reviews (what the page's answer to one decision
    needs: an indexed read, not every decision of the session)."""
    out: dict[ReviewKey, VideoReview] = {}
    for d in list_decisions(cat, video=video):
        st = out.setdefault((d.video, d.product_id), VideoReview(video=d.video, product_id=d.product_id))
        st.decisions += 1
        st.last_id = d.id
        if d.kind in VERDICTS:
            st.verdict, st.reason = d.kind, d.reason if d.kind == "reject" else None
        elif d.kind == "class":
            st.df2_class = d.df2_class
        elif d.kind == "tracklet":
            st.tracklet = None if d.superseded else d.tracklet
        elif d.kind == "note" and d.note:
            st.notes.append(d.note)
        elif d.kind == "shop":
            st.shop = d.shop
        elif d.kind == "import":
            st.imported, st.tracklet = True, None
    return out


def _holds_accepted(verdicts: Iterable[Decision]) -> set[str]:
    """The holds (:func:`~schemas.holds.hold_of`) the accepts among ``verdicts`` were made under:
    the reason the item had when the reviewer accepted it (the decision's ``prev``), so the
    reviewer saw it."""
    return {
        str(hold)
        for d in verdicts
        if d.kind == "accept" and (hold := hold_of(d.prev.get("status"), d.prev.get("reason")))
    }


def merge_holds_accepted(cat: Catalog) -> dict[tuple[str, str], set[str]]:
    """(source, source_id) -> the merge holds a reviewer accepted the item under (the ``merge:``
    reason it had then, :data:`~schemas.items.MERGE_PREFIX`), by the latest live verdict of each
    of its reviews: ``mf publish`` does not hold it again for that very conflict (the items the
    hold's record names, :func:`cleaning.publish.shop_holds`), while an accept from before the conflict,
    which did not see it, does not count."""
    latest = latest_runs(  # in id order: the latest verdict of each review wins (its run: latest_runs)
        (d for d in list_decisions(cat) if d.kind in VERDICTS and d.source and d.source_id),
        key=lambda d: (d.video, d.product_id),
    )
    out: dict[tuple[str, str], set[str]] = {}
    for d in latest:
        if holds := {h for h in _holds_accepted([d]) if h.startswith(MERGE_PREFIX)}:
            out.setdefault((str(d.source), str(d.source_id)), set()).update(holds)
    return out


def apply_review(cat: Catalog, rows: list[ItemRow]) -> list[ItemRow]:
    """What ``mf publish`` keeps of ``rows`` after review: rejected products out, classes changed.

    A product is left out when the live verdict of its review of any of its videos is ``reject``
    (its videos are published together; a video another product lists too is judged per product); the latest class decision replaces ``df2_class``. Rows are matched
    by catalog key, and by product id for decisions made without the item in the catalog.
    """
    keys: dict[ReviewKey, tuple[str, str]] = {}
    for d in list_decisions(cat):
        if d.source and d.source_id:
            keys.setdefault((d.video, d.product_id), (d.source, d.source_id))
    rejected: set[tuple[str, str] | str] = set()  # catalog keys and product ids
    classes: dict[tuple[str, str] | str, int] = {}
    for key, st in review_states(cat).items():
        names = [st.product_id] + ([keys[key]] if key in keys else [])
        for name in names:
            if st.verdict == "reject":
                rejected.add(name)
            if st.df2_class is not None:
                classes[name] = st.df2_class
    out = []
    for r in rows:
        names = [(str(r.item.source), r.item.source_id)] + ([r.product_id] if r.product_id else [])
        if any(n in rejected for n in names):
            continue
        cls = next((classes[n] for n in names if n in classes), None)
        out.append(r if cls is None or cls == r.df2_class else replace(r, df2_class=cls))
    return out


def _latest_per_item(cat: Catalog, kind: str, field: str) -> dict[tuple[str, str], Any]:
    """(source, source_id) -> ``field`` of the item's latest live ``kind`` decision (over all its
    videos) that sets it."""
    out: dict[tuple[str, str], Any] = {}
    for d in list_decisions(cat):  # in id order: the latest wins
        value = getattr(d, field)
        if d.kind == kind and value not in (None, "") and d.source and d.source_id:
            out[(d.source, d.source_id)] = value
    return out


def review_classes(cat: Catalog) -> dict[tuple[str, str], int]:
    """(source, source_id) -> the DeepFashion2 class the latest live ``class`` decision of the
    item set, over all its videos (``mf clean`` keeps it in place of its taxonomy's)."""
    return _latest_per_item(cat, "class", "df2_class")


# -- the shop image review chose ------------------------------------------------------------------


def review_shops(cat: Catalog) -> dict[tuple[str, str], str]:
    """(source, source_id) -> the carousel candidate (collected path) the latest live ``shop``
    decision of the item chose, over all its videos."""
    return _latest_per_item(cat, "shop", "shop")


def with_review_shop(assets: list[MediaAsset], shop: str | None) -> list[MediaAsset]:
    """One item's ``assets`` with the shop image review chose (``shop``, from :func:`review_shops`):
    that accepted carousel candidate becomes the item's only shop image, in place of cleaning's
    pick. Unchanged when ``shop`` is None or names no accepted candidate any more (cleaning
    rejected it since: its pick stands)."""
    chosen = next(
        (
            a
            for a in assets
            if shop and a.kind == AssetKind.CANDIDATE_SHOP and a.status == Status.ACCEPTED and a.path == shop
        ),
        None,
    )
    if chosen is None:
        return assets
    shop_image = chosen.model_copy(
        update={"kind": AssetKind.SHOP, "url": f"{CANDIDATE_URL}{shop}", "reason": REVIEW_SHOP_REASON}
    )
    return [a for a in assets if a.kind != AssetKind.SHOP] + [shop_image]


# -- items publish holds back for review -------------------------------------------------------


@dataclass(frozen=True)
class HeldReview:
    """An item ``mf publish`` holds back from the split files that review decides on: its
    product id, its videos under the names publish gives them (``videos/<product>_<n>.mp4``:
    the key of their review decisions, ``<product>_<n>`` in ``mf-tracklets review``) with their
    collected assets, and its shop image."""

    row: ItemRow
    product_id: str
    videos: tuple[tuple[str, MediaAsset], ...]
    shop: MediaAsset | None
    #: (stem, why) of the videos the item's tracklet hold names that are none of ``videos``
    #: (:func:`stale_flags`): reviewed, and accepted or rejected, by that name
    stale: tuple[tuple[str, str], ...] = ()


def _publish_order(assets: list[MediaAsset], kind: AssetKind) -> list[MediaAsset]:
    """The accepted assets of one kind in the order ``mf publish`` numbers them (collected files
    before derived ones, then by path)."""
    return sorted(
        (a for a in assets if a.kind == kind and a.status == Status.ACCEPTED and a.path),
        key=lambda a: ((a.url or "").startswith(SPLITSCREEN_URL), a.path),
    )


def published_ids(
    split_ids: Iterable[str], entry_rows: Mapping[str, Mapping[str, Any]] | None = None
) -> set[str]:
    """The product ids review counts as published: those the split files list (``split_ids``),
    and the own ids of the items published inside one of them (an item that joined a product
    with its shop image: ``metadata.merged_product_ids`` of that product's ``entries.jsonl``
    row, ``entry_rows`` as :func:`schemas.dataset.read_entry_rows` gives them)."""
    ids = set(split_ids)
    for pid, row in (entry_rows or {}).items():
        if pid in ids:
            merged = (row.get("metadata") or {}).get("merged_product_ids") or []
            ids.update(str(m) for m in merged if isinstance(m, str))
    return ids


def merged_ids(
    split_ids: Iterable[str], entry_rows: Mapping[str, Mapping[str, Any]] | None = None
) -> set[str]:
    """The own ids of the items published inside another product (:func:`published_ids` less
    the products the split files list themselves)."""
    ids = set(split_ids)
    return published_ids(ids, entry_rows) - ids


def held_for_review(
    cat: Catalog, published: Container[str] = (), merged: Container[str] = ()
) -> list[HeldReview]:
    """The items ``mf publish`` holds back (or has not published yet) that review decides on,
    by product id: every ``needs_review`` item (the association check, a carousel pick, the
    tracklet builder's flags, ...), every item rejected by review (its decision can be undone),
    and every accepted item with a live verdict whose product the split files do not list yet
    (``published``: :func:`published_ids`, the product ids they list and those of the items
    published inside another product; such items are left out, their videos are in the split
    files). ``merged``: ids of items published inside another product (:func:`merged_ids`) kept
    when ``needs_review`` (a tracklet flag on the video it brought in holds it): review decides
    on that video under the item's own name, ``<its product>_<k>``, the name the flag gives it,
    not the merged product's. Items whose product id is not a plain file name are left out.
    ``shop`` is the one a review ``shop`` decision chose, else cleaning's (:func:`with_review_shop`)."""
    decided: set[tuple[str, str] | str] = set()
    for d in list_decisions(cat):
        if d.kind in VERDICTS:
            decided.add(d.product_id)
            if d.source and d.source_id:
                decided.add((d.source, d.source_id))
    out: list[HeldReview] = []
    chosen = review_shops(cat)
    for r in cat.items(status=(Status.NEEDS_REVIEW, Status.REJECTED, Status.ACCEPTED)):
        pid = r.product_id or r.item.source_id
        key = (str(r.item.source), r.item.source_id)
        if r.status == Status.REJECTED and not rejected_by_review(r.status, r.reason):
            continue  # cleaning's own rejection: review never overrides it
        if r.status != Status.NEEDS_REVIEW and pid not in decided and key not in decided:
            continue
        if pid in published and not (r.status == Status.NEEDS_REVIEW and pid in merged):
            continue
        try:
            check_safe_name(pid, what="product id")
        except ValueError:
            continue
        assets = with_review_shop(
            cat.assets(source=r.item.source, source_id=r.item.source_id), chosen.get(key)
        )
        videos = tuple(
            (video_relpath(pid, n), a) for n, a in enumerate(_publish_order(assets, AssetKind.VIDEO))
        )
        shops = _publish_order(assets, AssetKind.SHOP)
        stale = stale_flags(cat, r, [v for v, _ in videos])
        out.append(HeldReview(r, pid, videos, shops[0] if shops else None, tuple(stale.items())))
    return sorted(out, key=lambda h: h.product_id)


#: what review says of a stale flag (:func:`stale_flags`), after its reason: how to lift it
STALE_NOTE = (
    "{stem} is no longer a video of {pid} (a product merge was undone, or an older builder "
    "recorded it here): review it by that name, mf-tracklets review --dataset {dataset} --catalog "
    "{catalog} --accept {stem} (or --reject)"
)


def stale_flags(cat: Catalog, row: ItemRow, videos: Iterable[str]) -> dict[str, str]:
    """The videos (stem -> why) the tracklet builder's hold of the ``needs_review`` item ``row``
    names that are none of its ``videos`` (as :func:`held_for_review` names them): a flag recorded
    under a name the item's videos no longer have (an older builder recorded the flag of a video
    another item brought into the product on the product's item, under the merged product's name;
    the next publish held the product back, undoing the merge). Publish keeps the item held (it
    never publishes a flagged video unreviewed); review lists such a video under the name the
    flag gives it, and an accept of that name, made under the hold, lifts it as any accept of a
    flagged video does (:func:`~schemas.holds.lifted`). Empty for another stage's hold."""
    hold = hold_of(row.status, row.reason)
    if not hold or not hold.startswith(TRACKLETS_PREFIX):
        return {}
    key = flags_key(str(row.item.source), row.item.source_id)
    rows = cat.read("SELECT value FROM meta WHERE key = ?", (key,))
    recorded = meta_value(rows[0][0], key, str(cat.path)) if rows else None
    named = flag_entries(hold, recorded if isinstance(recorded, dict) else None) or {}
    listed = hold[len(TRACKLETS_PREFIX) :].strip().split(FLAG_SEP)
    have = {Path(v).stem for v in videos}
    return {
        stem: why
        for stem, why in sorted(named.items())
        if f"{stem}: {why}" in listed and stem not in have and _plain_stem(stem)
    }


def _plain_stem(stem: str) -> bool:
    """Whether ``stem`` is a plain video file stem (review names it ``videos/<stem>.mp4``)."""
    try:
        check_safe_name(stem, what="video stem")
    except ValueError:
        return False
    return "@" not in stem


# -- the command-line review log ----------------------------------------------------------------

#: The log of ``mf-tracklets review --accept/--reject`` in the dataset folder: hidden, as the review
#: page's default catalog ``.review.sqlite`` is, so no manifest, table or archive lists it and
#: ``mf publish`` writes into the folder again.
REVIEW_LOG = ".review.jsonl"
#: Where versions before wrote the log: a top-level file ``mf publish`` refused to publish over
#: (:func:`move_legacy_review_log` moves it).
LEGACY_REVIEW_LOG = "review.jsonl"
#: Appended to a torn line (a write cut short: no newline, not a record) before the next record
#: goes after it: the line stays in the log, and readers pass it over (with a warning).
TORN_MARK = "\t# torn: an interrupted write"


def review_log_record(line: bytes) -> dict[str, Any] | None:
    """The review record a log line holds, or None."""
    try:
        rec = load_json(line.decode("utf-8"), REVIEW_LOG)
    except (UnicodeDecodeError, DataFormatError):  # a 5000-digit number or deep nesting too
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("video"), str) else None


def move_legacy_review_log(dataset: str | os.PathLike[str]) -> bool:
    """Move the review log an older ``mf-tracklets review`` wrote, ``DATASET/review.jsonl``, to
    :data:`REVIEW_LOG`; returns whether there was one. When both exist the old records go first
    (a torn last line of the old log marked with :data:`TORN_MARK`), written atomically before
    the old file goes, so a crash between the two only repeats old records before the new ones
    (the latest record of a video still wins)."""
    root = Path(dataset)
    old, new = root / LEGACY_REVIEW_LOG, root / REVIEW_LOG
    if old.is_symlink() or not old.is_file():
        return False
    if not new.exists():
        os.replace(old, new)
        return True
    head = old.read_bytes()
    if head and not head.endswith(b"\n"):
        tail = head.rsplit(b"\n", 1)[-1]
        head += (
            b"\n" if not tail.strip() or review_log_record(tail) is not None else TORN_MARK.encode() + b"\n"
        )
    atomic_write_bytes(new, head + new.read_bytes())
    old.unlink()
    return True
