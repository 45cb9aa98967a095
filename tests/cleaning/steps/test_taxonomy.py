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


def test_a_class_review_set_stays_and_settles_an_ambiguous_item(ctx):
    """A reviewer's class decision replaced the taxonomy's class in the catalog until the next
    `mf clean` wrote the taxonomy's back (stats and split strata then counted the old class), and
    an ambiguous item whose class review chose went back to needs_review; a non-clothing item
    stays rejected whatever class review gave it."""
    from schemas.review import record_decision

    blouse, vague, bag = (
        item("blouse", "Short sleeve silk blouse"),
        item("vague", "Ruffled georgette blouse"),
        item("bag", "Leather tote bag"),
    )
    for it in (blouse, vague, bag):
        ctx.catalog.upsert_item(it.item, status=Status.ACCEPTED, product_id=it.item.source_id)
    chosen = {"blouse": DF2_IDS["long_sleeved_shirt"], "vague": DF2_IDS["short_sleeved_shirt"], "bag": 9}
    for sid, cls in chosen.items():
        record_decision(ctx.catalog, video=f"videos/{sid}_0.mp4", product_id=sid, kind="class", df2_class=cls)
    state = CleaningState(items={it.key: it for it in (blouse, vague, bag)})
    TaxonomyStep().run(state, ctx)
    assert (blouse.status, blouse.df2_class) == (Status.ACCEPTED, chosen["blouse"])
    assert (vague.status, vague.df2_class) == (Status.ACCEPTED, chosen["vague"])
    assert bag.status == Status.REJECTED and bag.df2_class is None
