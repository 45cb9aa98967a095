"""Step ``record``: write the run's decisions into the catalog.

Assets (probes, duplicates, crops, derived shop images) are upserted; every processed item gets
its status, reason, ``duplicate_of``, product id (the source id, or ``<source>-<source_id>``
when two sources share it; an id once written is kept, :func:`product_ids`), partition and class. Items that failed are left as they were.
Leaving ``record`` out of the config makes a dry run: the report, and nothing written. It needs
``taxonomy`` earlier in the run: it writes every item's class, and a run without the taxonomy
would wipe the classes and accept the non-clothing items again.

Two needs_review decisions survive a rerun that would accept the item (or, for the first, flag it
for a reason of its own):

* another stage's (a reason without a cleaning prefix, e.g. ``tracklets: ...`` set by
  ``mf-tracklets build --catalog``): cleaning does not re-decide it; only a rejection or a
  duplicate replaces it, and a needs_review of cleaning's own replaces the tracklet builder's hold
  when the builder recorded it (:func:`schemas.review.held_by_recorded_flags`): the record holds
  the item again once an accept made under cleaning's hold lifts it, until an accept made under
  the builder's (before, cleaning's flag was dropped, so the accept of the flagged video released
  the item with cleaning's reason never reviewed, and a reviewer's accept is not flagged again);
* an association flag (``association: ...``) while the ``associations`` step is still to run:
  it stays in the catalog until that step has checked the item again (``state.held``), so an
  interrupted rerun never leaves a flagged item accepted; and in a run without that step
  (``mf clean --no-association``, ``association_check: false`` or ``steps`` without it), where it
  stays as an earlier run set it (before, such a run accepted the flagged items again and the
  next ``mf publish`` published them: switching the check off does not review its flags). The
  report's ``association_kept`` counts those items; a reviewer's accept still settles them.

Publish's ``merge: ...`` hold is another stage's too, but only against a rerun that accepts the
item: publish releases that hold itself (back to ``accepted``) once its conflict is gone, so a
needs_review of cleaning's own replaces it, or the release would accept an item cleaning flagged.

Another process may change an item meanwhile (``mf-tracklets build --catalog`` flags it, a
reviewer decides on it): each status is written by compare-and-set, in batches
(:meth:`~schemas.catalog.Catalog.set_item_states_if`), only while the catalog row still holds
the status and reason the decision was made from; a row changed since is read again and the
same rules apply to it (a row that is no longer cleaning's, e.g. rejected by review, is left as
it is). So a mark set during the run is never replaced unless cleaning rejects the item or finds
it a duplicate, whatever the timing; :func:`write_decisions` also does the ``associations``
step's writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import (
    ASSOCIATION_PREFIX,
    MERGE_PREFIX,
    REASON_PREFIXES,
    CleaningState,
    ItemState,
    eligible,
    item_key,
)
from schemas.catalog import CAS_BATCH, Catalog, ItemRow, write_until_settled
from schemas.errors import CatalogError
from schemas.items import Status
from schemas.review import held_by_recorded_flags

#: items written per catalog transaction (other writers get the lock in between)
BATCH = CAS_BATCH


class RecordStep(Step):
    name = "record"
    # decisions about items whose media nobody checked are not recorded, nor items without a class
    requires = ("probe", "taxonomy")

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        ctx.catalog.upsert_assets(state.final_assets())
        steps = list(ctx.cfg.steps)
        check_off = not ctx.cfg.association_check or "associations" not in steps
        checks_later = check_off or steps.index("associations") > steps.index(self.name)
        rows = {item_key(r.item.source, r.item.source_id): r for r in ctx.catalog.items()}
        ids = product_ids(state.items.values(), rows)
        decisions = [_decision(it, ids[it.key]) for it in state.live()]
        write_decisions(ctx.catalog, decisions, rows, checks_later=checks_later, held=state.held)
        if not check_off:
            return StepReport()
        # no check this run: the flags an earlier one set stay (state.held), not released
        return StepReport({"association_kept": len(state.held)})


def product_ids(items: Iterable[ItemState], rows: Mapping[str, ItemRow]) -> dict[str, str]:
    """Each item's product id (by item key): the one its catalog row holds, so an id once written
    is kept; else its source id when no other item has that source id or holds it as product id,
    else ``<source>-<source_id>``.

    Before, the id was worked out anew on every run: a URL-list or local copy collected later
    under the same source id (``urls/7063024943733070778`` beside ``tiktok/7063024943733070778``)
    renamed the published product to ``tiktok-7063024943733070778``, its videos, tracklet files
    and review decisions (keyed by product) with it (10 of 21 products on world 7315)."""
    items = sorted(items, key=lambda it: it.key)
    taken = Counter(it.item.source_id for it in items)
    out: dict[str, str] = {}
    for it in items:
        row = rows.get(it.key)
        if row is not None and row.product_id:
            out[it.key] = str(row.product_id)
    used = {str(r.product_id) for r in rows.values() if r.product_id}  # any item's, this run's or not
    for it in items:
        if it.key not in out:
            src, sid = it.item.source, it.item.source_id
            out[it.key] = pid = sid if taken[sid] == 1 and sid not in used else f"{src}-{sid}"
            used.add(pid)
    return out


def _decision(it: ItemState, product_id: str) -> Decision:
    """The item's decision with the columns ``record`` writes besides status and reason."""
    columns = {
        "duplicate_of": it.duplicate_of,
        "product_id": product_id,
        "partition": str(it.partition),
        "df2_class": it.df2_class,
    }
    return Decision(it, it.status, it.reason, columns)


@dataclass(frozen=True)
class Decision:
    """What this run decided for one item: its status and reason, and other columns to write."""

    it: ItemState
    status: Status
    reason: str | None
    columns: dict[str, Any] = field(default_factory=dict)


def write_decisions(
    catalog: Catalog,
    decisions: Sequence[Decision],
    rows: Mapping[str, ItemRow],
    *,
    checks_later: bool,
    held: dict[str, tuple[Status, str | None]],
) -> None:
    """Write ``decisions`` by compare-and-set against ``rows`` (the catalog rows by item key as
    read before; a key missing is read now), :data:`BATCH` items a transaction, and update each
    item's state to what its catalog row now says. A row another process changed since it was
    read is read again and decided anew (see the module docstring); ``held`` gets the items
    whose association flag stays until the check runs again. ``checks_later``: an association
    flag stays against an accept (the check runs later in this run, or not at all)."""
    for start in range(0, len(decisions), BATCH):
        fresh: Mapping[str, ItemRow] = rows

        def attempt(todo: list[Decision]) -> list[Decision]:
            nonlocal fresh
            left = _write_batch(catalog, todo, fresh, checks_later, held)
            fresh = {d.it.key: _read(catalog, d.it) for d in left}
            return left

        write_until_settled(
            catalog,
            list(decisions[start : start + BATCH]),
            attempt,
            name=lambda d: d.it.key,
            doing="mf clean recorded it",
        )


def _write_batch(
    catalog: Catalog,
    batch: list[Decision],
    rows: Mapping[str, ItemRow],
    checks_later: bool,
    held: dict[str, tuple[Status, str | None]],
) -> list[Decision]:
    """One transaction of compare-and-set writes; returns the decisions whose row had changed."""
    plans = [(d, rows.get(d.it.key)) for d in batch]
    retry = [d for d, row in plans if row is None]
    planned = [(d, row, _plan(catalog, d, row, checks_later)) for d, row in plans if row is not None]
    missed = set(
        catalog.set_item_states_if(
            (
                (d.it.item.source, d.it.item.source_id, {"status": row.status, "reason": row.reason}, cols)
                for d, row, (cols, _) in planned
                if cols
            ),
        )
    )
    for d, row, (_, kept) in planned:
        if (str(d.it.item.source), d.it.item.source_id) in missed:
            retry.append(d)
        else:
            _settle(d, row, kept, held)
    return retry


def _plan(
    catalog: Catalog, d: Decision, row: ItemRow, checks_later: bool
) -> tuple[dict[str, Any], ItemRow | None]:
    """(the columns to write, the catalog row whose needs_review stays, if any) for ``row``: no
    column for a row that is no longer cleaning's to decide."""
    if not eligible(row):
        return {}, None
    kept = _kept_flag(catalog, d.status, row, checks_later)
    status = {} if kept is not None else {"status": d.status, "reason": d.reason}
    return {**status, **d.columns}, kept


def _settle(
    d: Decision, row: ItemRow, kept: ItemRow | None, held: dict[str, tuple[Status, str | None]]
) -> None:
    """The item's state once its catalog row is written (or left): what the row says."""
    if not eligible(row):
        d.it.decide(row.status, row.reason)
    elif kept is not None:
        if kept.reason and kept.reason.startswith(ASSOCIATION_PREFIX):
            held[d.it.key] = (d.status, d.reason)
        d.it.decide(Status.NEEDS_REVIEW, kept.reason)
    else:
        d.it.decide(d.status, d.reason)


def _read(catalog: Catalog, it: ItemState) -> ItemRow:
    row = catalog.get_item(it.item.source, it.item.source_id)
    if row is None:
        raise CatalogError(f"no item {it.key}", where=str(catalog.path), hint="rerun mf clean")
    return row


def _kept_flag(catalog: Catalog, status: Status, row: ItemRow, checks_later: bool) -> ItemRow | None:
    """The catalog row when its needs_review is to stay against this run's ``status`` (see the
    module docstring), else None."""
    if row.status != Status.NEEDS_REVIEW or not row.reason:
        return None
    if row.reason.startswith(MERGE_PREFIX):  # publish's, which publish releases to accepted
        return row if status == Status.ACCEPTED else None
    if not row.reason.startswith(REASON_PREFIXES):  # another stage's (tracklets, a reviewer)
        if status == Status.NEEDS_REVIEW and held_by_recorded_flags(
            catalog, str(row.item.source), row.item.source_id, row.status, row.reason
        ):
            return None  # cleaning's flag over the builder's: its record holds the item again
        return row if status in (Status.ACCEPTED, Status.NEEDS_REVIEW) else None
    if row.reason.startswith(ASSOCIATION_PREFIX) and checks_later and status == Status.ACCEPTED:
        return row
    return None
