"""Step ``taxonomy``: map every item's metadata to a DeepFashion2 class (:mod:`cleaning.taxonomy`).

Non-clothing items are rejected (even a duplicate one, which keeps ``duplicate_of``); ambiguous
ones go to needs_review unless an earlier step already decided otherwise. A class a reviewer set
(a live ``class`` decision, :func:`schemas.review.review_classes`) replaces the taxonomy's and
settles an ambiguous item; it does not bring back a non-clothing one.

A video duplicate group (the item ``video_duplicates`` kept and the items ``duplicate_of`` it) is
one piece of media: when a member's metadata says it is not clothing and no member's metadata
has a garment keyword (nor a class a reviewer set), the other members are rejected with that
reason too, naming the member whose metadata decided it (:func:`group_verdicts`). Before, the
keep rule kept the copy without metadata (it "can be accepted") and it went to review as
``unknown_garment`` while its twin was rejected as jewellery. One member's non-clothing word does
not reject a group in which another member names a garment.
"""

from __future__ import annotations

from collections import defaultdict

from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import CleaningState, ItemState, item_key
from cleaning.taxonomy import TaxonomyResult, classify_item, coverage, load_rules
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
        by_key: dict[str, TaxonomyResult] = {}
        for it in state.live():
            res = classify_item(it.item, rules)
            results.append(res)
            by_key[it.key] = res
            chosen = reviewed.get((it.item.source, it.item.source_id))
            it.df2_class = res.df2_class if chosen is None or res.status == "rejected" else chosen
            if it.status == Status.REJECTED:
                continue
            if res.status == "rejected":
                it.decide(Status.REJECTED, res.reason)
            elif res.status == "needs_review" and it.status == Status.ACCEPTED and chosen is None:
                it.decide(Status.NEEDS_REVIEW, res.reason)
        reviewed_keys = {item_key(src, sid) for src, sid in reviewed}
        rejected_with_group = 0
        for it, reason in group_verdicts(list(state.live()), by_key, reviewed_keys):
            it.decide(Status.REJECTED, reason)
            it.df2_class = None
            rejected_with_group += 1
        return StepReport(
            {"taxonomy": {**coverage(results), "non_clothing_by_duplicate": rejected_with_group}}
        )


def group_verdicts(
    items: list[ItemState], results: dict[str, TaxonomyResult], reviewed: set[str]
) -> list[tuple[ItemState, str]]:
    """The members of video duplicate groups to reject as non-clothing from another member's
    metadata, each with its reason (``taxonomy: non_clothing: ... in the metadata of its duplicate
    <item>``). A group qualifies when a member's metadata is non-clothing, no member's has a
    garment keyword (a class, ambiguous or not) and no member's class was set by a reviewer
    (``reviewed``: item keys); the member deciding is the first non-clothing one by key."""
    groups: dict[str, list[ItemState]] = defaultdict(list)
    for it in items:
        if it.duplicate_of and it.status in (Status.DUPLICATE, Status.REJECTED):
            groups[it.duplicate_of].append(it)  # a non-clothing duplicate keeps duplicate_of
    keyed = {it.key: it for it in items}
    out: list[tuple[ItemState, str]] = []
    for kept, dups in sorted(groups.items()):
        members = [keyed[kept], *dups] if kept in keyed else dups
        if any(m.key in reviewed or _names_garment(results.get(m.key)) for m in members):
            continue
        deciding = sorted(m.key for m in members if _non_clothing(results.get(m.key)))
        if not deciding:
            continue
        why = results[deciding[0]].reason
        out += [
            (m, f"{why} in the metadata of its duplicate {deciding[0]}")
            for m in members
            if m.status != Status.REJECTED and not _non_clothing(results.get(m.key))
        ]
    return out


def _non_clothing(res: TaxonomyResult | None) -> bool:
    return res is not None and res.status == "rejected"


def _names_garment(res: TaxonomyResult | None) -> bool:
    """True when the metadata has a garment keyword (or a class given with the item)."""
    return res is not None and res.status != "rejected" and res.family is not None
