"""Step ``record``: write the run's decisions into the catalog.

Assets (probes, duplicates, crops, derived shop images) are upserted; every processed item gets
its status, reason, ``duplicate_of``, product id (the source id, or ``<source>-<source_id>``
when two sources share it), partition and class. Items that failed are left as they were.
Leaving ``record`` out of the config makes a dry run: the report, and nothing written.
"""

from __future__ import annotations

from collections import Counter

from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import CleaningState, partition_of


class RecordStep(Step):
    name = "record"
    requires = ("probe",)  # decisions about items whose media nobody checked are not recorded

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        ctx.catalog.upsert_assets(state.final_assets())
        taken = Counter(it.item.source_id for it in state.items.values())
        for it in state.live():
            src, sid = it.item.source, it.item.source_id
            ctx.catalog.set_item_state(
                src,
                sid,
                status=it.status,
                reason=it.reason,
                duplicate_of=it.duplicate_of,
                product_id=sid if taken[sid] == 1 else f"{src}-{sid}",
                partition=str(partition_of(src)),
                df2_class=it.df2_class,
            )
        return StepReport()
