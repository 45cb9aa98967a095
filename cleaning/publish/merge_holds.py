"""Shop-image conflicts and their holds: items of one source sharing a shop image but not a
colour are held for review instead of merged (:func:`hold_shop_conflicts`), released once the
conflict is gone, and put back when a publish is refused after all (:func:`undo_shop_holds`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleaning.publish.products import _accepted, _item_assets, _key
from cleaning.steps.state import MERGE_PREFIX, REASON_PREFIXES, item_key
from schemas.catalog import Catalog, ItemRow, change_meta
from schemas.items import AssetKind, Status
from schemas.redact import redacted_logger
from schemas.review import merge_holds_accepted

log = redacted_logger("cleaning.publish")  # the package's one logger: what users' logs name


def _norm(text: str | None) -> str:
    """``text`` compared loosely: case, hyphens and runs of spaces aside ('' when absent)."""
    return " ".join((text or "").replace("-", " ").casefold().split())


@dataclass(frozen=True)
class ShopConflict:
    """One item's merge conflict (:func:`shop_conflicts`): the hold's reason, and the conflict's
    key, the items it shares its shop image with (``<source>/<source_id>``, all of them)."""

    reason: str
    others: frozenset[str]


def shop_conflicts(catalog: Catalog, rows: list[ItemRow]) -> dict[tuple[str, str], ShopConflict]:
    """The rows publish must not merge by their shared shop image, as ``(source, source_id)`` ->
    conflict: two items of one source, on different product pages, whose accepted shop image is
    the same file (same sha256) but whose catalogued colour differs. A shop does not show one
    product shot on two products' pages: one of them carries a wrong shop image, and merging
    would publish a video with another garment's image. Both are held back (which one is wrong
    is not known); the reason names every other item of the conflict (its key: the conflict's
    identity, :class:`ShopConflict`) with its product id and colour, and the item's own colour.

    Only the colour is compared, and only where both items record one (product pages do; TikTok
    and Instagram items record none, and are never held here): a retake or re-listing of one
    garment shares its colour, while its title and designer text may be written anew."""
    by_shop: dict[tuple[str, str], list[ItemRow]] = {}
    assets = _item_assets(catalog, rows)
    for r in rows:
        shops = _accepted(assets[_key(r)], AssetKind.SHOP)
        if shops and shops[0].sha256 and _norm(r.item.colour):
            by_shop.setdefault((str(r.item.source), shops[0].sha256), []).append(r)
    out: dict[tuple[str, str], ShopConflict] = {}
    for members in by_shop.values():
        for a in sorted(members, key=_key):
            others = [
                b
                for b in sorted(members, key=_key)
                if a.item.source_id != b.item.source_id
                and not (a.item.url and a.item.url == b.item.url)
                and _norm(a.item.colour) != _norm(b.item.colour)
            ]
            if not others:
                continue
            names = ", ".join(f"{_key(b)} (product {b.product_id}, colour {b.item.colour!r})" for b in others)
            pages = "another product page" if len(others) == 1 else f"{len(others)} other product pages"
            out[(str(a.item.source), a.item.source_id)] = ShopConflict(
                f"{MERGE_PREFIX} shares its shop image with {names}: {pages} whose colour differs "
                f"({a.item.colour!r} here): one of them has a wrong shop image; fix it or accept in "
                "review (mf review)",
                frozenset(_key(b) for b in others),
            )
    return out


#: catalog meta key of the merge holds (:func:`hold_shop_conflicts`): item key -> ``{"hold": the
#: merge reason, "reason": the reason the accepted row had before, "with": the conflict's key
#: (:attr:`ShopConflict.others`, sorted)}``, so a release restores the reason, and an accept made
#: under the hold is known by its conflict, not by the words of its reason (:func:`shop_holds`)
MERGE_HOLDS = "merge_holds"


@dataclass
class ShopHolds:
    """What :func:`shop_holds` decided from the rows it read; :func:`hold_shop_conflicts` writes it."""

    rows: dict[tuple[str, str], ItemRow]  #: the accepted and merge-held rows as read
    found: dict[tuple[str, str], ShopConflict]  #: the conflicts (:func:`shop_conflicts`)
    changes: dict[tuple[str, str], tuple[Status, str | None]]  #: item -> (status, reason) to set
    records: dict[str, dict[str, Any]] | None  #: :data:`MERGE_HOLDS` as read


def shop_holds(catalog: Catalog) -> ShopHolds:
    """Decide, without writing, the items :func:`hold_shop_conflicts` holds and releases.

    An accepted item in conflict is held unless a reviewer accepted it under a hold of this
    conflict (:func:`schemas.review.merge_holds_accepted`): the hold's record (:data:`MERGE_HOLDS`)
    keeps the conflict's key, and every item of the conflict now must be one of those the
    accepted hold named; an accept whose hold has no record any more counts when its reason is
    the one found now.

    So a conflict whose items are a subset of the accepted one's is the same conflict, on
    purpose: the accept says this item's shop image is right beside each page the hold named,
    and an item leaving the conflict (rejected since, its shop image fixed, its colour now the
    same) takes nothing from that judgment, nor does it coming back (one the reviewer saw). An
    item joining the conflict is one the reviewer never saw beside this one: another conflict,
    which holds the item again (and its record, naming the new items, replaces the old one). An
    item still held when an item joins its conflict gets the hold of the conflict now the same way
    (the reason naming the newcomer, its record keeping the reason from before the first hold), so
    one accept, of the conflict as it stands, releases it: before, its hold kept naming the
    conflict it was held for, and the next publish held the item accepted under it again."""
    live = {  # an item another stage holds (tracklets) still claims its shop image; cleaning's
        # own flags (association, shop pick) already judge that image, so they do not count
        (str(r.item.source), r.item.source_id): r
        for r in catalog.items(status=(Status.ACCEPTED, Status.NEEDS_REVIEW))
        if r.product_id and (r.status == Status.ACCEPTED or not (r.reason or "").startswith(REASON_PREFIXES))
    }
    rows = {
        k: r
        for k, r in live.items()
        if r.status == Status.ACCEPTED or (r.reason or "").startswith(MERGE_PREFIX)
    }
    found = shop_conflicts(catalog, list(live.values()))
    seen = merge_holds_accepted(catalog) if found else {}  # accepts made under this very hold
    records: dict[str, dict[str, Any]] | None = catalog.get_meta(MERGE_HOLDS)

    def covers(k: tuple[str, str], hold: str | None) -> bool:
        """Whether merge hold ``hold`` of item ``k`` is of its conflict now (the reason found now,
        or its record's, naming every item of the conflict now)."""
        rec = (records or {}).get(item_key(*k)) or {}
        return hold == found[k].reason or (
            hold == rec.get("hold") and found[k].others <= set(rec.get("with") or ())
        )

    def accepted(k: tuple[str, str]) -> bool:
        """Whether a reviewer accepted item ``k`` under a hold of its conflict now."""
        return any(covers(k, hold) for hold in seen.get(k, ()))

    def hold(k: tuple[str, str], r: ItemRow) -> bool:
        """Whether item ``k``, in conflict, is to be held with the reason found now: accepted, but
        not under a hold of its conflict now; or held by a hold its conflict outgrew."""
        return not accepted(k) if r.status == Status.ACCEPTED else not covers(k, r.reason)

    changes = {
        k: (Status.NEEDS_REVIEW, found[k].reason) for k, r in rows.items() if k in found and hold(k, r)
    }
    changes.update(
        {
            k: (Status.ACCEPTED, _reason_before(records, k, r))
            for k, r in rows.items()
            if k not in found and r.status != Status.ACCEPTED
        }
    )
    return ShopHolds(rows, found, changes, records)


def _reason_before(records: Mapping[str, Any] | None, k: tuple[str, str], r: ItemRow) -> str | None:
    """The reason item ``k`` had before the merge hold its row ``r`` shows (None when
    :data:`MERGE_HOLDS`, ``records``, does not record it)."""
    rec = (records or {}).get(item_key(*k))
    return rec.get("reason") if rec and rec.get("hold") == r.reason else None


def hold_shop_conflicts(catalog: Catalog, holds: ShopHolds | None = None) -> dict[str, Any]:
    """Set the accepted items :func:`shop_conflicts` finds ``needs_review`` with its reason (and a
    held item whose conflict outgrew its hold, :func:`shop_holds`, the reason now), and
    release an item this held before (a ``merge:`` reason) whose conflict is gone (the other item
    rejected, its shop image fixed, or flagged by cleaning's own checks) back to ``accepted``,
    with the reason it had before the hold (an accepted row may carry one: it is kept in the
    catalog's meta, :data:`MERGE_HOLDS`, written before the hold and dropped once the item is
    neither held nor in conflict);
    the other item counts while accepted or held by another stage (a tracklet flag); both by compare-and-set
    against the rows read (an item another process changed meanwhile is left as it is). An item a
    reviewer accepted under a hold of this very conflict (:func:`shop_holds`) is not
    held again; an accept from before the conflict is no reason not to hold it. ``holds``: what
    :func:`shop_holds` decided (decided now when None).

    Another publish of the catalog (into another folder) may write holds meanwhile: the holds and
    their records are written in one catalog transaction, with the records as they stand then: a
    record is written only with the hold it is of (an item another process changed since this run
    read it, held by that process's own decision say, keeps that process's record), and only the
    records this run decided on are dropped (one another process wrote since it read them is its
    writer's). Returns the items ``held`` and ``released``, and ``records``: record
    key -> [before, after] of each record this run changed (None: none), for
    :func:`undo_shop_holds`."""
    holds = holds or shop_holds(catalog)
    rows, found, changes = holds.rows, holds.found, holds.changes
    read = holds.records or {}
    planned = {
        item_key(*k): {
            "hold": why,
            # a hold renewed (its conflict grew): the reason before the first one
            "reason": rows[k].reason
            if rows[k].status == Status.ACCEPTED
            else _reason_before(read, k, rows[k]),
            "with": sorted(found[k].others),
        }
        for k, (status, why) in changes.items()
        if status == Status.NEEDS_REVIEW
    }
    touched: dict[str, list[Any]] = {}  # record key -> [before this run, after it]

    def note(key: str, before: Any, after: Any) -> None:
        touched.setdefault(key, [before, after])[1] = after

    missed: set[tuple[str, str]] = set(changes)  # the rows another process changed meanwhile
    held: set[str] = set()  # the record keys of the holds written
    after = {k: (r.status, r.reason) for k, r in rows.items()}

    def kept(key: str, rec: Mapping[str, Any]) -> bool:
        """A record stays while its item is held by it, its conflict stands (an undo in review
        may hold it again) or another process changed the item meanwhile."""
        source, _, source_id = key.partition("/")
        k = (source, source_id)
        return k in found or k in missed or after.get(k) == (Status.NEEDS_REVIEW, rec.get("hold"))

    def records(old: dict[str, Any] | None) -> dict[str, Any] | None:
        """The records with those of the holds written, without those this run read or wrote
        and :func:`kept` no more."""
        new = dict(old or {})
        for key, rec in planned.items():
            if key in held:
                note(key, new.get(key), rec)
                new[key] = rec
        for key, rec in list(new.items()):
            if rec in (read.get(key), planned.get(key)) and not kept(key, rec):
                note(key, rec, None)
                del new[key]
        return new or None

    def with_rows(db: Any, written: list[tuple[str, str]]) -> None:
        """In the transaction of the rows written: the record of each hold written with it (a
        held item always finds the reason it had; a row another process changed meanwhile gets
        no record of this run's, which would not be of the hold it shows)."""
        missed.difference_update(written)
        held.update(item_key(*k) for k in written if item_key(*k) in planned)
        after.update({k: changes[k] for k in written})
        change_meta(db, MERGE_HOLDS, records)

    catalog.set_item_states_if(
        (
            (
                s,
                sid,
                {"status": rows[(s, sid)].status, "reason": rows[(s, sid)].reason},
                {"status": status, "reason": why},
            )
            for (s, sid), (status, why) in sorted(changes.items())
        ),
        then=with_rows,
    )
    done: dict[str, Any] = {
        "held": [],
        "released": [],
        "records": {key: ba for key, ba in touched.items() if ba[0] != ba[1]},
    }
    for (s, sid), (status, why) in sorted(changes.items()):
        if (s, sid) in missed:
            continue
        if status == Status.NEEDS_REVIEW:
            done["held"].append((s, sid))
            again = "" if rows[(s, sid)].status == Status.ACCEPTED else " (its conflict grew)"
            log.warning("%s/%s held back for review%s: %s", s, sid, again, why)
        else:
            done["released"].append((s, sid))
            log.warning(
                "%s/%s accepted again: it no longer shares its shop image with another colour", s, sid
            )
    return done


def undo_shop_holds(catalog: Catalog, holds: ShopHolds, done: Mapping[str, Any]) -> None:
    """Put back what :func:`hold_shop_conflicts` wrote (``done``, from ``holds``): each item held
    or released gets its state and ``updated_at`` as read again, and each record of
    :data:`MERGE_HOLDS` it changed the value it had (both by compare-and-set, in one transaction:
    an item or record another process changed since, another publish of the catalog say, is left
    as it is). For a
    publish refused after the holds were written: nothing is published, so nothing is held."""
    changed = [*done["held"], *done["released"]]

    def restore(now: dict[str, Any] | None) -> dict[str, Any] | None:
        new = dict(now or {})
        for key, (before, after) in done.get("records", {}).items():
            if new.get(key) != after:
                continue  # written again since, by another process
            if before is None:
                new.pop(key, None)
            else:
                new[key] = before
        return new or None

    catalog.set_item_states_if(
        (
            (
                s,
                sid,
                {"status": holds.changes[(s, sid)][0], "reason": holds.changes[(s, sid)][1]},
                {
                    "status": holds.rows[(s, sid)].status,
                    "reason": holds.rows[(s, sid)].reason,
                    "updated_at": holds.rows[(s, sid)].updated_at,
                },
            )
            for s, sid in sorted(changed)
        ),
        then=lambda db, _written: change_meta(db, MERGE_HOLDS, restore),  # in the same transaction
    )
