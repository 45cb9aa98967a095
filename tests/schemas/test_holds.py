"""Every catalog write that makes an item ``accepted`` applies the tracklet builder's flag hold
(:func:`schemas.holds.hold_by_flags`): no writer can publish an item whose recorded flags no
review accept lifted, whichever catalog method it accepts the item through."""

from __future__ import annotations

import pytest

from annotations.review.marks import mark_needs_review
from schemas.catalog import Catalog
from schemas.items import SourceItem, Status
from schemas.review import record_decision

ITEM = SourceItem(source="netaporter", source_id="p0", url="http://x/0")
ASSOCIATION = "association: the shop image matches no frame"
FLAG = "tracklets: P0_1: low confidence: det_mean 0.2 < 0.3"


def _flagged_under_association(path):
    """An item the association check holds, whose video P0_1 the builder flagged meanwhile: the
    flag is recorded, the association reason stays."""
    cat = Catalog(path)
    cat.upsert_items([ITEM], status=Status.ACCEPTED)
    cat.set_item_state("netaporter", "p0", product_id="P0", df2_class=1)
    cat.set_item_state("netaporter", "p0", status=Status.NEEDS_REVIEW, reason=ASSOCIATION)
    assert mark_needs_review(cat, "P0", FLAG.removeprefix("tracklets: "))
    row = cat.get_item("netaporter", "p0")
    assert (row.status, row.reason) == (Status.NEEDS_REVIEW, ASSOCIATION)
    return cat


def _accept_one(cat):
    cat.set_item_state("netaporter", "p0", status=Status.ACCEPTED, reason=None)


def _accept_many(cat):
    assert (
        cat.set_item_states_if(
            [
                (
                    "netaporter",
                    "p0",
                    {"status": Status.NEEDS_REVIEW},
                    {"status": Status.ACCEPTED, "reason": None},
                )
            ]
        )
        == []
    )


def _accept_upsert(cat):
    cat.upsert_items([ITEM], status=Status.ACCEPTED, reason=None)


@pytest.mark.parametrize("accept", [_accept_one, _accept_many, _accept_upsert])
def test_a_writer_accepting_an_item_with_recorded_flags_holds_it_by_them(tmp_path, accept):
    with _flagged_under_association(tmp_path / "c.sqlite") as cat:
        accept(cat)  # a writer outside review clears the association hold
        row = cat.get_item("netaporter", "p0")
        assert (row.status, row.reason) == (Status.NEEDS_REVIEW, FLAG)


@pytest.mark.parametrize("accept", [_accept_one, _accept_many, _accept_upsert])
def test_an_accept_made_under_the_flags_lets_the_writer_accept_it(tmp_path, accept):
    with _flagged_under_association(tmp_path / "c.sqlite") as cat:
        accept(cat)  # held by the flag now
        record_decision(cat, video="videos/P0_1.mp4", product_id="P0", kind="accept")
        assert cat.get_item("netaporter", "p0").status == Status.ACCEPTED
        cat.set_item_state("netaporter", "p0", status=Status.NEEDS_REVIEW, reason=ASSOCIATION)
        accept(cat)  # the flag was reviewed: accepting the item again keeps it accepted
        row = cat.get_item("netaporter", "p0")
        assert (row.status, row.reason) == (Status.ACCEPTED, None)


def test_an_item_without_flags_is_accepted_as_written(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.upsert_items([ITEM], status=Status.NEEDS_REVIEW, reason=ASSOCIATION)
        _accept_one(cat)
        row = cat.get_item("netaporter", "p0")
        assert (row.status, row.reason) == (Status.ACCEPTED, None)
