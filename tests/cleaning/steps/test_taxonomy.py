"""Step ``taxonomy`` on items made in the test: classes, non-clothing, ambiguous, precedence."""

from __future__ import annotations

from cleaning.steps.state import CleaningState
from cleaning.steps.taxonomy import TaxonomyStep
from schemas.items import Status
from schemas.taxonomy import DF2_IDS
from tests.cleaning.steps.conftest import item


def test_classes_rejections_and_reviews_follow_the_rules(ctx):
    blouse, bag, vague, dup_bag, dup_vague = (
        item("blouse", "Short sleeve silk blouse"),
        item("bag", "Leather tote bag"),
        item("vague", "Ruffled georgette blouse"),
        item("dupbag", "Mini shoulder bag"),
        item("dupvague", "Ruffled georgette blouse"),
    )
    for it in (dup_bag, dup_vague):
        it.decide(Status.DUPLICATE, "dedup: exact duplicate of tiktok/x", duplicate_of="tiktok/x")
    state = CleaningState(items={it.key: it for it in (blouse, bag, vague, dup_bag, dup_vague)})
    report = TaxonomyStep().run(state, ctx)
    assert (blouse.status, blouse.df2_class) == (Status.ACCEPTED, DF2_IDS["short_sleeved_shirt"])
    assert bag.status == Status.REJECTED and bag.reason.startswith("taxonomy: non_clothing: bag")
    assert vague.status == Status.NEEDS_REVIEW and vague.reason.startswith("taxonomy: ambiguous")
    # non-clothing beats duplicate (duplicate_of kept); ambiguity does not
    assert (dup_bag.status, dup_bag.duplicate_of) == (Status.REJECTED, "tiktok/x")
    assert dup_vague.status == Status.DUPLICATE
    assert report.counts["taxonomy"]["items"] == 5 and report.counts["taxonomy"]["rejected"] == 2
