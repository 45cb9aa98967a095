"""Step ``record``: write the run's decisions into the catalog.

Assets (probes, duplicates, crops, derived shop images) are upserted; every processed item gets
its status, reason, ``duplicate_of``, product id (the source id, or ``<source>-<source_id>``
when two sources share it), partition and class. Items that failed are left as they were.
Leaving ``record`` out of the config makes a dry run: the report, and nothing written. It needs
``taxonomy`` earlier in the run: it writes every item's class, and a run without the taxonomy
would wipe the classes and accept the non-clothing items again.

Two needs_review decisions survive a rerun that would accept the item (or, for the first, flag it
for a reason of its own):

* another stage's (a reason without a cleaning prefix, e.g. ``tracklets: ...`` set by
  ``mf-tracklets build --catalog``): cleaning does not re-decide it; only a rejection or a
  duplicate replaces it;
* an association flag (``association: ...``) while the ``associations`` step is still to run:
  it stays in the catalog until that step has checked the item again (``state.held``), so an
  interrupted rerun never leaves a flagged item accepted.
"""

from __future__ import annotations

from collections import Counter

from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import (
    ASSOCIATION_PREFIX,
    REASON_PREFIXES,
    CleaningState,
    ItemState,
    partition_of,
)
from schemas.catalog import ItemRow
from schemas.items import Status


class RecordStep(Step):
    name = "record"
    # decisions about items whose media nobody checked are not recorded, nor items without a class
    requires = ("probe", "taxonomy")

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        ctx.catalog.upsert_assets(state.final_assets())
        taken = Counter(it.item.source_id for it in state.items.values())
        rows = {
            (str(r.item.source), r.item.source_id): r for r in ctx.catalog.items(status=Status.NEEDS_REVIEW)
        }
        steps = list(ctx.cfg.steps)
        checks_later = (
            ctx.cfg.association_check
            and "associations" in steps
            and steps.index("associations") > steps.index(self.name)
        )
        for it in state.live():
            src, sid = it.item.source, it.item.source_id
            decision = {"status": it.status, "reason": it.reason}
            kept = _kept_flag(it, rows.get((str(src), sid)), checks_later)
            if kept is not None:
                if kept.reason.startswith(ASSOCIATION_PREFIX):
                    state.held[it.key] = (it.status, it.reason)
                it.decide(Status.NEEDS_REVIEW, kept.reason)
                decision = {}  # the catalog's status and reason stay
            ctx.catalog.set_item_state(
                src,
                sid,
                **decision,
                duplicate_of=it.duplicate_of,
                product_id=sid if taken[sid] == 1 else f"{src}-{sid}",
                partition=str(partition_of(src)),
                df2_class=it.df2_class,
            )
        return StepReport()


def _kept_flag(it: ItemState, row: ItemRow | None, checks_later: bool) -> ItemRow | None:
    """The catalog row when its needs_review is to stay (see the module docstring), else None."""
    if row is None or row.status != Status.NEEDS_REVIEW or not row.reason:
        return None
    if not row.reason.startswith(REASON_PREFIXES):  # another stage's (tracklets, a reviewer)
        return row if it.status in (Status.ACCEPTED, Status.NEEDS_REVIEW) else None
    if row.reason.startswith(ASSOCIATION_PREFIX) and checks_later and it.status == Status.ACCEPTED:
        return row
    return None
