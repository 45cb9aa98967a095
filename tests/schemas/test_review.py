"""Review decisions in the catalog: one transaction each, item state, undo, retries, publish view."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogError, ConfigError
from schemas.items import SourceItem, Status
from schemas.review import apply_review, list_decisions, record_decision, review_states, undo_decision


def _catalog(path, n=3):
    cat = Catalog(path)
    cat.upsert_items(
        [SourceItem(source="netaporter", source_id=f"p{i}", url=f"http://x/{i}") for i in range(n)],
        status=Status.ACCEPTED,
    )
    for i in range(n):
        cat.set_item_state("netaporter", f"p{i}", product_id=f"P{i}", df2_class=1 + i)
    return cat


def test_decisions_change_the_item_and_undo_puts_it_back(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        d, created = record_decision(
            cat, video="videos/P0_0.mp4", product_id="P0", kind="reject", reason="blurry"
        )
        assert created and d.source == "netaporter" and d.source_id == "p0" and d.prev["status"] == "accepted"
        row = cat.get_item("netaporter", "p0")
        assert row.status == Status.REJECTED and "blurry" in row.reason and "videos/P0_0.mp4" in row.reason
        record_decision(cat, video="videos/P1_0.mp4", product_id="P1", kind="class", df2_class=9)
        assert cat.get_item("netaporter", "p1").df2_class == 9
        record_decision(cat, video="videos/P1_0.mp4", product_id="P1", kind="note", note="sleeves?")
        st = review_states(cat)
        p0, p1 = st["videos/P0_0.mp4", "P0"], st["videos/P1_0.mp4", "P1"]
        assert p0.verdict == "reject" and p0.reason == "blurry"
        assert p1.df2_class == 9 and p1.notes == ["sleeves?"]
        # one video's reviews alone (the page's answer to a decision): the same states
        assert review_states(cat, video="videos/P1_0.mp4") == {("videos/P1_0.mp4", "P1"): p1}
        # only the latest live decision of a video can be undone
        first_p1 = list_decisions(cat, video="videos/P1_0.mp4")[0]
        with pytest.raises(CatalogError, match="later one"):
            undo_decision(cat, first_p1.id)
        undo_decision(cat, video="videos/P1_0.mp4")  # the note
        undone, _ = undo_decision(cat, video="videos/P1_0.mp4")  # the class change
        assert undone.kind == "class" and cat.get_item("netaporter", "p1").df2_class == 2
        undo_decision(cat, d.id)
        row = cat.get_item("netaporter", "p0")
        assert row.status == Status.ACCEPTED and row.reason is None
        assert review_states(cat) == {}
        assert len(list_decisions(cat, include_undone=True)) == 3
        assert [e["message"].split(":")[0] for e in cat.events("review")].count("undo class") == 1


def test_a_retried_request_is_stored_once(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        a, created_a = record_decision(
            cat, video="v/P2_0.mp4", product_id="P2", kind="accept", request_id="r1"
        )
        b, created_b = record_decision(
            cat, video="v/P2_0.mp4", product_id="P2", kind="accept", request_id="r1"
        )
        assert created_a and not created_b and a == b and len(list_decisions(cat)) == 1
        u1, c1 = undo_decision(cat, video="v/P2_0.mp4", request_id="u1")
        u2, c2 = undo_decision(cat, video="v/P2_0.mp4", request_id="u1")
        assert c1 and not c2 and u1.id == u2.id == a.id
        with pytest.raises(CatalogError, match="no decision"):
            undo_decision(cat, video="v/P2_0.mp4")


def test_bad_decisions_are_refused_before_anything_is_written(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        for kw in (
            {"kind": "maybe"},
            {"kind": "class", "df2_class": 14},
            {"kind": "tracklet", "tracklet": -1},
            {"kind": "note", "note": "  "},
        ):
            with pytest.raises(ConfigError):
                record_decision(cat, video="v/P0_0.mp4", product_id="P0", **kw)
        assert list_decisions(cat, include_undone=True) == [] and cat.events("review") == []


def test_a_product_missing_from_the_catalog_is_still_recorded(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        d, _ = record_decision(cat, video="v/X_0.mp4", product_id="X", kind="reject", reason="noise")
        assert d.source is None and review_states(cat)["v/X_0.mp4", "X"].verdict == "reject"


def test_apply_review_is_what_publish_sees(tmp_path):
    with _catalog(tmp_path / "c.sqlite", n=4) as cat:
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="reject", reason="noise")
        record_decision(cat, video="v/P1_0.mp4", product_id="P1", kind="class", df2_class=12)
        record_decision(cat, video="v/P2_0.mp4", product_id="P2", kind="reject", reason="noise")
        record_decision(cat, video="v/P2_0.mp4", product_id="P2", kind="accept")
        # a later clean run that puts every item back to accepted does not undo the review
        for i in range(4):
            cat.set_item_state("netaporter", f"p{i}", status=Status.ACCEPTED, df2_class=1 + i)
        kept = apply_review(cat, cat.items(status=Status.ACCEPTED))
        assert [r.product_id for r in kept] == ["P1", "P2", "P3"]
        assert [r.df2_class for r in kept] == [12, 3, 4]
        undo_decision(cat, video="v/P0_0.mp4")
        assert [r.product_id for r in apply_review(cat, cat.items(status=Status.ACCEPTED))] == [
            "P0",
            "P1",
            "P2",
            "P3",
        ]


def _hammer(path: str, start: int) -> None:  # pragma: no cover - runs in a child process
    with Catalog(path) as cat:
        for i in range(start, start + 10_000):
            record_decision(cat, video=f"v/P0_{i}.mp4", product_id="P0", kind="reject", reason=str(i))


def test_a_killed_writer_leaves_whole_decisions_only(tmp_path):
    path = tmp_path / "c.sqlite"
    _catalog(path).close()
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_hammer, args=(str(path), 0))
    proc.start()
    with Catalog(path) as cat:
        while len(list_decisions(cat)) < 20:
            pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    with Catalog(path) as cat:
        assert cat.integrity_ok()
        decisions = list_decisions(cat)
        events = [e for e in cat.events("review") if e["message"].startswith("reject")]
        # every stored decision has its event and its item state, and nothing else was half-written
        assert len(decisions) >= 20 and len(events) == len(decisions)
        last = decisions[-1]
        row = cat.get_item("netaporter", "p0")
        assert row.status == Status.REJECTED and row.reason.endswith(f"{last.reason} ({last.video})")


def _state(cat, key=("netaporter", "p0")):
    row = cat.get_item(*key)
    return str(row.status), row.reason, row.df2_class


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_undoing_decisions_on_two_videos_gives_back_the_state_before_review(tmp_path, order):
    """Undo is per video, so the decisions of a product's videos come back in any order; the item
    follows the decisions left, and none left is the state before review (publish takes it)."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        before = _state(cat)
        a, _ = record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="reject", reason="blurry")
        b, _ = record_decision(cat, video="v/P0_1.mp4", product_id="P0", kind="accept")
        # a reject of one video keeps the product out whatever its other videos say
        assert _state(cat)[:2] == ("rejected", "review: blurry (v/P0_0.mp4)")
        c, _ = record_decision(cat, video="v/P0_1.mp4", product_id="P0", kind="class", df2_class=7)
        undo_decision(cat, c.id)
        first, second = (a, b)[order[0]], (a, b)[order[1]]
        undo_decision(cat, first.id)
        left = {"reject": ("rejected", "review: blurry (v/P0_0.mp4)"), "accept": ("accepted", None)}
        assert _state(cat)[:2] == left[second.kind] and _state(cat)[2] == before[2]
        undo_decision(cat, second.id)
        assert _state(cat) == before and list_decisions(cat) == []
        assert [r.product_id for r in apply_review(cat, cat.items(status=Status.ACCEPTED))] == [
            "P0",
            "P1",
            "P2",
        ]
        # class changes on two videos, the earlier one undone first: the later one stays
        d1, _ = record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="class", df2_class=5)
        record_decision(cat, video="v/P0_1.mp4", product_id="P0", kind="class", df2_class=9)
        undo_decision(cat, d1.id)
        assert _state(cat)[2] == 9
        undo_decision(cat, video="v/P0_1.mp4")
        assert _state(cat) == before


def test_a_review_that_starts_again_starts_from_the_state_then(tmp_path):
    """Every decision undone, then cleaning changes the item: the next review starts from that."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="reject", reason="blurry")
        undo_decision(cat, video="v/P0_0.mp4")
        cat.set_item_state("netaporter", "p0", status=Status.NEEDS_REVIEW, reason="tracklets: low score")
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="reject", reason="noise")
        assert _state(cat)[0] == "rejected"
        undo_decision(cat, video="v/P0_0.mp4")
        assert _state(cat)[:2] == ("needs_review", "tracklets: low score")


@pytest.mark.parametrize(
    ("status", "reason"), [(Status.DUPLICATE, None), (Status.REJECTED, "cleaning: not clothing")]
)
def test_review_never_accepts_what_cleaning_left_out(tmp_path, status, reason):
    """An accept says the video's tracklet is right; it does not overrule cleaning's verdict (a
    duplicate, a product cleaning rejected), neither after a review reject nor on its own."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        cat.set_item_state("netaporter", "p0", status=status, reason=reason)
        before = _state(cat)
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="reject", reason="blurry")
        assert _state(cat) == before
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="accept")
        assert _state(cat) == before
        record_decision(cat, video="v/P0_1.mp4", product_id="P0", kind="accept")
        assert _state(cat) == before
        assert "P0" not in [r.product_id for r in apply_review(cat, cat.items(status=Status.ACCEPTED))]
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="class", df2_class=4)
        assert _state(cat) == (*before[:2], 4)  # a class change still applies
        for _ in range(4):
            undo_decision(cat)
        assert _state(cat) == before


def test_an_accept_after_a_review_reject_lifts_the_reject_not_the_hold(tmp_path):
    """The accept was made under the reject, not under the builder's flag the reject was made
    under: the flag holds the item again (schemas.review: only an accept made under a hold lifts it)."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        cat.set_item_state("netaporter", "p0", status=Status.NEEDS_REVIEW, reason="tracklets: low score")
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="reject", reason="blurry")
        record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="accept")
        assert _state(cat)[:2] == ("needs_review", "tracklets: low score")
        undo_decision(cat)
        assert _state(cat)[:2] == ("rejected", "review: blurry (v/P0_0.mp4)")
        undo_decision(cat)
        assert _state(cat)[:2] == ("needs_review", "tracklets: low score")


def test_a_request_id_seen_with_another_decision_is_refused(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        a, _ = record_decision(
            cat, video="v/P0_0.mp4", product_id="P0", kind="tracklet", tracklet=1, request_id="r"
        )
        for kw in (
            {"video": "v/P1_0.mp4", "kind": "tracklet", "tracklet": 1},
            {"video": "v/P0_0.mp4", "kind": "accept"},
        ):
            with pytest.raises(CatalogError, match="new request_id"):
                record_decision(cat, product_id="P0", request_id="r", **kw)
        with pytest.raises(CatalogError, match="tracklet"):
            record_decision(
                cat, video="v/P0_0.mp4", product_id="P0", kind="tracklet", tracklet=2, request_id="r"
            )
        undo_decision(cat, a.id, request_id="u")
        with pytest.raises(CatalogError, match="new request_id"):
            undo_decision(cat, video="v/P1_0.mp4", request_id="u")
        assert len(list_decisions(cat, include_undone=True)) == 1


def test_an_import_cannot_be_undone(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        d, _ = record_decision(cat, video="v/P0_0.mp4", product_id="P0", kind="accept")
        imp, _ = record_decision(
            cat, video="v/P0_0.mp4", product_id="P0", kind="import", note="cvat: P0_0.xml"
        )
        for kw in ({"decision_id": imp.id}, {"video": "v/P0_0.mp4"}, {}):
            with pytest.raises(CatalogError, match="cannot be undone") as exc:
                undo_decision(cat, **kw)
            assert "import the file you exported before" in str(exc.value)
        with pytest.raises(CatalogError, match="later one") as exc:
            undo_decision(cat, d.id)  # the decisions before an import stay
        assert "make a new decision" in str(exc.value)
        assert [x.undone_at for x in list_decisions(cat, include_undone=True)] == [None, None]


def test_a_video_two_products_list_is_reviewed_per_product(tmp_path):
    """One video, two products (each with its own tracklet file of it): a reject of one
    product's review and an accept of the other's are two reviews, not one verdict."""
    with _catalog(tmp_path / "c.sqlite") as cat:
        shared = "v/S_0.mp4"
        record_decision(cat, video=shared, product_id="P0", kind="reject", reason="box on the other garment")
        record_decision(cat, video=shared, product_id="P1", kind="accept")
        st = review_states(cat)
        assert st[shared, "P0"].verdict == "reject" and st[shared, "P1"].verdict == "accept"
        assert cat.get_item("netaporter", "p0").status == Status.REJECTED
        # a later clean run putting every item back to accepted does not undo P0's reject
        for i in range(3):
            cat.set_item_state("netaporter", f"p{i}", status=Status.ACCEPTED)
        kept = apply_review(cat, cat.items(status=Status.ACCEPTED))
        assert [r.product_id for r in kept] == ["P1", "P2"]
        # each review undoes on its own: P0's reject is not behind P1's later accept
        undone, _ = undo_decision(cat, video=shared, product_id="P0")
        assert undone.product_id == "P0" and undone.kind == "reject"
        assert review_states(cat)[shared, "P1"].verdict == "accept"
        assert [r.product_id for r in apply_review(cat, cat.items())] == ["P0", "P1", "P2"]
