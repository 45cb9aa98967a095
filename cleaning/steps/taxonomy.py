"""Step ``taxonomy``: map every item's metadata to a DeepFashion2 class (:mod:`cleaning.taxonomy`).

Non-clothing items are rejected (even a duplicate one, which keeps ``duplicate_of``); ambiguous
ones go to needs_review unless an earlier step already decided otherwise.
"""

from __future__ import annotations

from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import CleaningState
from cleaning.taxonomy import classify_item, coverage, load_rules
from schemas.items import Status


class TaxonomyStep(Step):
    name = "taxonomy"

    def check(self, ctx: StepContext) -> None:
        load_rules(ctx.cfg.taxonomy_rules)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        rules = load_rules(ctx.cfg.taxonomy_rules)
        results = []
        for it in state.live():
            res = classify_item(it.item, rules)
            results.append(res)
            it.df2_class = res.df2_class
            if it.status == Status.REJECTED:
                continue
            if res.status == "rejected":
                it.decide(Status.REJECTED, res.reason)
            elif res.status == "needs_review" and it.status == Status.ACCEPTED:
                it.decide(Status.NEEDS_REVIEW, res.reason)
        return StepReport({"taxonomy": coverage(results)})
