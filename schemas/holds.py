"""The tracklet builder's flags as the catalog records them, and the rule that holds an item by them.

The builder records every video of an item it flags (catalog meta :data:`TRACKLET_FLAGS`), whatever
the item's state; the record holds the item ``needs_review`` (reason :func:`flags_reason` of the
videos still to review, :func:`pending`) the moment anything makes it ``accepted``, until review
accepts made under the flags lift them (:func:`lifted`). :mod:`schemas.catalog` applies
:func:`hold_by_flags` to each of its writes that makes an item ``accepted``
(:meth:`~schemas.catalog.Catalog.set_item_state`, :meth:`~schemas.catalog.Catalog.set_item_states_if`,
:meth:`~schemas.catalog.Catalog.upsert_items`), so no writer can publish an item with flagged
videos unreviewed; :mod:`schemas.review` applies the same rule to its decisions. This module is
plain SQL on a catalog connection and imports neither, so both can use it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from schemas.items import TRACKLETS_PREFIX, Status
from schemas.meta_json import meta_value
from schemas.review_rows import decision_prev
from schemas.tracklet_names import video_stem

#: review decision kinds that decide whether a video (and its product) goes into the next publish
VERDICTS = ("accept", "reject")
#: catalog meta key prefix of the tracklet builder's flags of an item (:func:`schemas.review.flag_video`):
#: ``tracklet_flags:<source>/<source_id>`` -> ``{video stem: why}``, every video of the item the
#: builder flags now (``{}``: none any more); the item's reason is made of it (:func:`flags_reason`)
TRACKLET_FLAGS = "tracklet_flags:"
#: what separates the videos in the reason of a tracklet builder's hold naming several
FLAG_SEP = "; "
#: key of a decision's ``prev``: the videos (stem -> why) of the builder's hold it was made under
PREV_FLAGS = "tracklet_flags"
#: catalog meta key prefix of the tracklet builder's flag about a whole item, naming no video
#: (:func:`schemas.review.flag_item`): ``tracklet_item_flag:<source>/<source_id>`` -> its reason
#: (``tracklets: <why>``), recorded whatever the item's state, as :data:`TRACKLET_FLAGS` is
ITEM_FLAG = "tracklet_item_flag:"
#: catalog meta key prefix of the identity of each flagged video's tracklet (:func:`read_builds`):
#: ``tracklet_builds:<source>/<source_id>`` -> ``{video stem: identity}``, the digest of the
#: ground-truth tracklet the builder flagged (:func:`annotations.tracklet_files.ground_truth_digest`);
#: a video flagged without one now (its file did not read, a caller that did not say) has an
#: :data:`UNKNOWN_BUILD` identity; one an older builder flagged is not listed
TRACKLET_BUILDS = "tracklet_builds:"
#: prefix of the identity recorded for a flag whose tracklet is not known (``flag_video(build=None)``):
#: a random one that no accept made before matches, so only an accept made under this hold lifts it
UNKNOWN_BUILD = "unknown:"
#: key of a decision's ``prev``: the identities (stem -> identity) of the flagged tracklets of the
#: builder's hold it was made under, as :data:`TRACKLET_BUILDS` recorded them then
PREV_BUILDS = "tracklet_builds"


class Verdict(Protocol):
    """What the rule reads of a review verdict (a :class:`schemas.review.Decision` is one)."""

    @property
    def video(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def prev(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class StoredVerdict:
    """A live verdict as :func:`live_verdicts` reads it."""

    video: str
    kind: str
    prev: Mapping[str, Any]


def hold_of(status: str | None, reason: str | None) -> str | None:
    """The reason of a hold (another stage's ``needs_review`` with a reason: ``tracklets: ...``,
    ``association: ...``, ``merge: ...``), else None."""
    return reason if status == Status.NEEDS_REVIEW and reason else None


def flags_reason(flags: Mapping[str, str]) -> str:
    """The reason of the tracklet builder's hold over an item whose videos ``flags`` (video stem
    -> why) it flags: ``tracklets: <stem>: <why>``, each video in stem order, separated by
    :data:`FLAG_SEP` (one video: the reason older versions wrote)."""
    return f"{TRACKLETS_PREFIX} " + FLAG_SEP.join(f"{stem}: {why}" for stem, why in sorted(flags.items()))


def one_flag(hold: str) -> dict[str, str] | None:
    """The video a one-video tracklets reason names (``tracklets: <stem>: <why>`` -> ``{stem:
    why}``); None for a reason that names none."""
    name, sep, why = hold[len(TRACKLETS_PREFIX) :].strip().partition(": ")
    return {name: why} if sep else None


def names_recorded(hold: str | None, flags: Mapping[str, str] | None) -> bool:
    """Whether ``hold`` is the reason (:func:`flags_reason`) of some of the recorded ``flags``,
    all of them or those still to review once accepts lifted the others (:func:`pending`)."""
    if not hold or not flags or not hold.startswith(f"{TRACKLETS_PREFIX} "):
        return False
    rest, part = hold[len(TRACKLETS_PREFIX) + 1 :], {}
    for stem, why in sorted(flags.items()):  # the reason lists its videos in stem order
        entry = f"{stem}: {why}"
        if rest == entry or rest.startswith(entry + FLAG_SEP):
            part[stem], rest = why, rest[len(entry) + len(FLAG_SEP) :]
    return bool(part) and hold == flags_reason(part)


def flag_entries(hold: str | None, flags: Mapping[str, str] | None) -> dict[str, str] | None:
    """The videos (stem -> why) a tracklet builder's hold is of: those of its record ``flags``
    when the hold is the reason of some of them (:func:`names_recorded`: all, or those still to
    review), else the one video its reason names (a catalog an older version wrote); None for
    another stage's hold, and for a tracklets reason naming no video (about the whole item)."""
    if not hold or not hold.startswith(TRACKLETS_PREFIX):
        return None
    if names_recorded(hold, flags):
        return dict(flags or {})
    return one_flag(hold)


def flags_key(source: str, source_id: str) -> str:
    """The catalog meta key of an item's record of flagged videos (:data:`TRACKLET_FLAGS`)."""
    return f"{TRACKLET_FLAGS}{source}/{source_id}"


def read_flags(db: sqlite3.Connection, source: str, source_id: str) -> dict[str, str] | None:
    """The builder's flags of the item as recorded (:data:`TRACKLET_FLAGS`); None when none are
    (a catalog an older version wrote, an item never flagged)."""
    row_key = flags_key(source, source_id)
    row = db.execute("SELECT value FROM meta WHERE key = ?", (row_key,)).fetchone()
    value = None if row is None else meta_value(row[0], row_key, db)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None


def builds_key(source: str, source_id: str) -> str:
    """The catalog meta key of the identities of an item's flagged tracklets (:data:`TRACKLET_BUILDS`)."""
    return f"{TRACKLET_BUILDS}{source}/{source_id}"


def read_builds(db: sqlite3.Connection, source: str, source_id: str) -> dict[str, str]:
    """The identities of the item's flagged tracklets as recorded (:data:`TRACKLET_BUILDS`; empty
    when none are)."""
    row_key = builds_key(source, source_id)
    row = db.execute("SELECT value FROM meta WHERE key = ?", (row_key,)).fetchone()
    value = None if row is None else meta_value(row[0], row_key, db)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def item_flag_key(source: str, source_id: str) -> str:
    """The catalog meta key of the builder's flag about the whole item (:data:`ITEM_FLAG`)."""
    return f"{ITEM_FLAG}{source}/{source_id}"


def read_item_flag(db: sqlite3.Connection, source: str, source_id: str) -> str | None:
    """The reason of the builder's flag about the whole item as recorded (:data:`ITEM_FLAG`), or None."""
    row_key = item_flag_key(source, source_id)
    row = db.execute("SELECT value FROM meta WHERE key = ?", (row_key,)).fetchone()
    value = None if row is None else meta_value(row[0], row_key, db)
    return value if isinstance(value, str) and value else None


def prev_flags(d: Verdict) -> dict[str, str] | None:
    """The videos (stem -> why) of the tracklet builder's hold decision ``d`` was made under (its
    ``prev``); None when it was made under none, or under one about the whole item."""
    hold = hold_of(d.prev.get("status"), d.prev.get("reason"))
    named = d.prev.get(PREV_FLAGS)
    if hold and hold.startswith(TRACKLETS_PREFIX) and isinstance(named, dict):
        return {str(k): str(v) for k, v in named.items()}
    return flag_entries(hold, None)


def lifted(
    verdicts: Iterable[Verdict],
    hold: str,
    named: Mapping[str, str] | None,
    builds: Mapping[str, str] | None = None,
) -> bool:
    """Whether the live verdicts (the latest of each video) lift ``hold``: an accept made under it
    (its ``prev`` shows the hold); for a tracklet builder's hold naming videos (``named``: stem ->
    why), an accept of each of them, made under a hold that named it for the same reason (an
    accept of another video of the product says nothing about a flagged one's tracklet, and the
    hold stays until every video it names is accepted) and, where the flagged tracklet's identity
    is recorded (``builds``: :func:`read_builds`), about that very tracklet: a rebuild that flags
    the video again for the same reason with another ground truth (``--force``) is not lifted by
    the accept of the tracklet it replaced."""
    if named is None:
        accepts = [d for d in verdicts if d.kind == "accept"]
        return any(hold_of(d.prev.get("status"), d.prev.get("reason")) == hold for d in accepts)
    return not pending(verdicts, named, builds)


def pending(
    verdicts: Iterable[Verdict], named: Mapping[str, str], builds: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The videos (stem -> why) of a tracklet builder's hold naming ``named`` that no live accept
    lifts yet (:func:`lifted`): what the hold's reason names (:func:`held_reason`), so a reviewer
    sees the videos left to review, not those accepted already."""
    accepts = [d for d in verdicts if d.kind == "accept"]
    builds = builds or {}

    def of_it(d: Verdict, stem: str, why: str) -> bool:
        """Whether accept ``d`` was made under a hold naming video ``stem`` for ``why`` (and its tracklet)."""
        if stem not in (d.video, video_stem(d.video)) or (prev_flags(d) or {}).get(stem) != why:
            return False
        seen = d.prev.get(PREV_BUILDS)
        # A flag whose tracklet's identity is not recorded (``stem`` not in ``builds``: an older
        # catalog's) is lifted by an accept made under the same reason, whatever tracklet that
        # accept saw. Safe: the builder records an identity whenever it flags the video again,
        # and an accept made before (no identities in its ``prev``) then lifts nothing, so the
        # item is held for one more accept. A flag recorded now without a known tracklet
        # (``flag_video(build=None)``: its file did not read when the build settled its flags,
        # ``annotations.settle._identity``, or a caller that does not pass it) gets an
        # :data:`UNKNOWN_BUILD` identity of its own, which no earlier accept matches.
        return stem not in builds or (isinstance(seen, dict) and seen.get(stem) == builds[stem])

    return {stem: why for stem, why in named.items() if not any(of_it(d, stem, why) for d in accepts)}


def held_reason(
    verdicts: Iterable[Verdict], named: Mapping[str, str], builds: Mapping[str, str] | None = None
) -> str:
    """The reason of the tracklet builder's hold naming the videos ``named``: those of them still
    to review (:func:`pending`), all of them when accepts lift every one."""
    return flags_reason(pending(verdicts, named, builds) or named)


V = TypeVar("V", bound=Verdict)


def latest_runs(verdicts: Iterable[V], key: Callable[[V], Hashable] = lambda d: d.video) -> list[V]:
    """Of live ``verdicts`` in the order they were made, each review's (``key``: its video) latest
    and the verdicts of the same kind made right before it: what decides whether a hold is lifted
    (:func:`lifted`). The same verdict given again (``mf-tracklets review --accept`` rerun, ``a``
    pressed twice) is made under no hold, so it alone would hold the item again by the flags an
    earlier accept of that run lifted; a verdict of the other kind ends the run."""
    runs: dict[Hashable, list[V]] = {}
    for d in verdicts:
        run = runs.get(k := key(d))
        if run and run[-1].kind == d.kind:
            run.append(d)
        else:
            runs[k] = [d]
    return [d for run in runs.values() for d in run]


def live_verdicts(db: sqlite3.Connection, source: str, source_id: str) -> list[StoredVerdict]:
    """The item's live (not undone) verdicts that count: the latest of each video and the same
    verdicts given right before it (:func:`latest_runs`)."""
    return latest_runs(
        StoredVerdict(r["video"], r["kind"], decision_prev(r, db))
        for r in db.execute(
            "SELECT * FROM review_decisions WHERE source = ? AND source_id = ? "
            f"AND kind IN ({', '.join('?' * len(VERDICTS))}) AND undone_at IS NULL ORDER BY id",
            (source, source_id, *VERDICTS),
        )
    )


def set_item(db: sqlite3.Connection, source: str, source_id: str, **cols: Any) -> None:
    """Set columns of one item inside the caller's transaction ``db`` (``updated_at``: now)."""
    sets = ", ".join(f"{c} = ?" for c in cols)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    db.execute(
        f"UPDATE items SET {sets}, updated_at = ? WHERE source = ? AND source_id = ?",
        [*(str(v) if isinstance(v, Status) else v for v in cols.values()), now, source, source_id],
    )


def hold_by_flags(db: sqlite3.Connection, source: str, source_id: str) -> bool:
    """Hold an ``accepted`` item by the tracklet builder's flags recorded for it
    (:data:`TRACKLET_FLAGS`: set while another stage held it or cleaning excluded it, so they did
    not hold it then), or else by its flag about the whole item (:data:`ITEM_FLAG`), unless live
    accepts made under them lift them (:func:`lifted`), inside the caller's transaction ``db``.
    Every write of :class:`schemas.catalog.Catalog` that makes an item ``accepted`` applies it
    (``mf clean`` accepting it or clearing its association hold, ``mf publish`` releasing its
    merge hold, any other writer). Returns whether it held the item."""
    item = db.execute(
        "SELECT status FROM items WHERE source = ? AND source_id = ?", (source, source_id)
    ).fetchone()
    if item is None or item["status"] != Status.ACCEPTED:
        return False
    flags = read_flags(db, source, source_id)
    whole = read_item_flag(db, source, source_id)
    if not flags and not whole:
        return False
    verdicts = live_verdicts(db, source, source_id)
    if flags and (left := pending(verdicts, flags, read_builds(db, source, source_id))):
        set_item(db, source, source_id, status=Status.NEEDS_REVIEW, reason=flags_reason(left))
        return True
    if whole and not lifted(verdicts, whole, None):
        set_item(db, source, source_id, status=Status.NEEDS_REVIEW, reason=whole)
        return True
    return False
