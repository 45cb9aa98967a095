"""Step ``associations``: score each recorded (video, shop image) pair with the matcher.

Runs after ``record`` because :func:`cleaning.associations.check_associations` reads and
updates the catalog: items with a pair below ``match_threshold`` become needs_review with the
score in the reason. Skipped without a matcher (``mf clean --matcher``).
"""

from __future__ import annotations

from cleaning.associations import check_associations
from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import CleaningState, item_key


class AssociationsStep(Step):
    name = "associations"
    requires = ("record",)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        if ctx.scorer is None:
            return StepReport(skipped="no matcher (mf clean --matcher)")
        flags = check_associations(ctx.catalog, ctx.root, ctx.scorer, ctx.cfg.match_threshold, ctx.executor)
        flagged = sorted({(f.source, f.source_id) for f in flags})
        for source, source_id in flagged:
            it = state.items.get(item_key(source, source_id))
            row = ctx.catalog.get_item(source, source_id)
            if it is not None and row is not None:
                it.decide(row.status, row.reason)
        return StepReport({"association_flagged": len(flagged)})
