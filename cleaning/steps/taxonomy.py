"""Step ``taxonomy``: map every item's metadata to a DeepFashion2 class (:mod:`cleaning.taxonomy`).

Non-clothing items are rejected (even a duplicate one, which keeps ``duplicate_of``); ambiguous
ones go to needs_review unless an earlier step already decided otherwise. A class a reviewer set
(a live ``class`` decision, :func:`schemas.review.review_classes`) replaces the taxonomy's and
settles an ambiguous item; it does not bring back a non-clothing one.
"""

from __future__ import annotations

from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import CleaningState
from cleaning.taxonomy import classify_item, coverage, load_rules
from schemas.items import Status
from schemas.review import review_classes


class TaxonomyStep(Step):
    name = "taxonomy"

    def check(self, ctx: StepContext) -> None:
        load_rules(ctx.cfg.taxonomy_rules)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        rules = load_rules(ctx.cfg.taxonomy_rules)
        reviewed = review_classes(ctx.catalog)
        results = []
        for it in state.live():
            res = classify_item(it.item, rules)
            results.append(res)
            chosen = reviewed.get((it.item.source, it.item.source_id))
            it.df2_class = res.df2_class if chosen is None or res.status == "rejected" else chosen
            if it.status == Status.REJECTED:
                continue
            if res.status == "rejected":
                it.decide(Status.REJECTED, res.reason)
            elif res.status == "needs_review" and it.status == Status.ACCEPTED and chosen is None:
                it.decide(Status.NEEDS_REVIEW, res.reason)
        return StepReport({"taxonomy": coverage(results)})
