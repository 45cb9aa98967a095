"""Step ``taxonomy`` on items made in the test: classes, non-clothing, ambiguous, precedence."""

from __future__ import annotations

from cleaning.steps.state import CleaningState, ItemState
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


def _group(kept: ItemState, *dups: ItemState) -> CleaningState:
    """``kept`` and its video duplicates as ``video_duplicates`` leaves them."""
    for d in dups:
        d.decide(Status.DUPLICATE, f"dedup: exact duplicate of {kept.key}", duplicate_of=kept.key)
    return CleaningState(items={it.key: it for it in (kept, *dups)})


def test_a_duplicate_group_known_not_to_be_clothing_is_rejected_naming_the_deciding_member(ctx):
    """`mf-collect urls` re-collects an Instagram post without its caption: the keep rule kept
    that copy (it "can be accepted") and it went to review as unknown_garment while its twin was
    rejected as jewellery. The group is rejected now, naming the twin whose metadata decided."""
    from schemas.review import record_decision

    bare, twin = item("CukCbAO5HeL", None, source="urls"), item("CukCbAO5HeL", "Gold necklace", "instagram")
    report = TaxonomyStep().run(_group(bare, twin), ctx)
    assert twin.status == Status.REJECTED and twin.duplicate_of == bare.key
    assert bare.status == Status.REJECTED and bare.df2_class is None
    assert (
        bare.reason
        == "taxonomy: non_clothing: jewellery ('necklace') in the metadata of its duplicate instagram/CukCbAO5HeL"
    )
    assert report.counts["taxonomy"]["non_clothing_by_duplicate"] == 1

    # one member's wrong metadata does not reject a real garment: not when another member names
    # a garment, nor when a reviewer set the class
    bare, shoe, blouse = (
        item("v1", None, "urls"),
        item("v1", "Loafers"),
        item("v1", "Short sleeve silk blouse", "instagram"),
    )
    TaxonomyStep().run(_group(bare, shoe, blouse), ctx)
    assert bare.status == Status.NEEDS_REVIEW and bare.reason.startswith("taxonomy: unknown_garment")
    assert blouse.status == Status.DUPLICATE and shoe.status == Status.REJECTED

    bare, shoe = item("v2", None, "urls"), item("v2", "Loafers")
    ctx.catalog.upsert_item(bare.item, status=Status.NEEDS_REVIEW, product_id="v2")
    record_decision(
        ctx.catalog, video="videos/v2_0.mp4", product_id="v2", kind="class", df2_class=DF2_IDS["trousers"]
    )
    TaxonomyStep().run(_group(bare, shoe), ctx)
    assert bare.status == Status.ACCEPTED and bare.df2_class == DF2_IDS["trousers"]
