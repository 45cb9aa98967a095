"""The association check's flags against another process writing the catalog meanwhile.

Scoring takes long; a tracklets mark (``mf-tracklets build --catalog``) or a reviewer's decision
made on an item between the check's read and its flag stays: the flag is a compare-and-set on
the row as read, and a row changed since is read again and decided anew. The race is staged
deterministically: a second connection marks the items right before the check writes."""

from __future__ import annotations

from pathlib import Path

import pytest

import cleaning.associations as assoc
from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.items import AssetKind, MediaAsset, SourceItem, Status

FLAG = "tracklets: b_0: low confidence: det_mean 0.5 < 0.9"
REVIEWED = "review: rejected too noisy (videos/c_0.mp4)"
HELD = "association: low match score 0.1 < 0.5 between video.mp4 and shop.png"
IDS = ("a", "b", "c", "d", "e")


class _Low:
    """Every pair scores below the threshold: every accepted item is flagged."""

    def score(self, video_path: str, shop_path: str) -> float:
        return 0.1


def _catalog(path: Path) -> Catalog:
    """Accepted items a-d and e flagged by an earlier association check, each with a video and a
    shop image."""
    cat = Catalog(path)
    cat.upsert_items(
        [SourceItem(source="tiktok", source_id=s, title="silk blouse") for s in IDS[:4]],
        status=Status.ACCEPTED,
    )
    cat.upsert_items([SourceItem(source="tiktok", source_id="e")], status=Status.NEEDS_REVIEW, reason=HELD)
    cat.upsert_assets(
        MediaAsset(
            source="tiktok",
            source_id=s,
            kind=kind,
            url=f"https://example.com/{s}/{kind}",
            path=f"tiktok/{s}/{kind}.{'mp4' if kind == AssetKind.VIDEO else 'png'}",
            status=Status.ACCEPTED,
        )
        for s in IDS
        for kind in (AssetKind.VIDEO, AssetKind.SHOP)
    )
    return cat


def _row(cat: Catalog, sid: str) -> tuple[str, str | None]:
    row = cat.get_item("tiktok", sid)
    return str(row.status), row.reason


def _before_the_flags(monkeypatch, path: Path, marks: dict[str, tuple[Status, str | None]]) -> None:
    """Set ``marks`` from another connection once, after the scoring, before the flags are written."""
    real, done = assoc.reviewer_accepted, []

    def reviewer_accepted(catalog):
        if not done:
            done.append(True)
            with Catalog(path) as other:
                for sid, (status, reason) in marks.items():
                    other.set_item_state("tiktok", sid, status=status, reason=reason)
        return real(catalog)

    monkeypatch.setattr(assoc, "reviewer_accepted", reviewer_accepted)


def test_a_mark_or_a_decision_made_during_the_check_is_not_replaced_by_its_flag(tmp_path, monkeypatch):
    path = tmp_path / "catalog.sqlite"
    marks = {
        "b": (Status.NEEDS_REVIEW, FLAG),  # the tracklet builder flagged it meanwhile
        "c": (Status.REJECTED, REVIEWED),  # a reviewer rejected it
        "d": (Status.ACCEPTED, "accepted again by mf clean"),  # changed, still the check's to flag
    }
    _before_the_flags(monkeypatch, path, marks)
    with _catalog(path) as cat:
        res = assoc.run_association_check(cat, tmp_path, _Low(), 0.5, held=frozenset({("tiktok", "e")}))
        assert _row(cat, "b") == ("needs_review", FLAG)
        assert _row(cat, "c") == ("rejected", REVIEWED)
        for sid in ("a", "d", "e"):  # unchanged, changed but still accepted, held: flagged
            status, reason = _row(cat, sid)
            assert status == "needs_review" and reason.startswith("association: low match score 0.1"), sid
    assert sorted(f.source_id for f in res.flags) == ["a", "d", "e"]


def test_an_item_that_keeps_changing_is_an_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "catalog.sqlite"
    with _catalog(path) as cat:
        monkeypatch.setattr(cat, "set_item_states_if", lambda updates: [(s, i) for s, i, _, _ in updates])
        with pytest.raises(CatalogError, match="tiktok/a kept changing"):
            assoc.run_association_check(cat, tmp_path, _Low(), 0.5)


def test_the_check_flags_an_item_held_by_recorded_builder_flags_and_the_flags_hold_after(tmp_path):
    """An item the tracklet builder holds by flags it recorded (``tracklet_flags:``) gets the
    association check's flag over them (before, the check left it alone, so an accept of the
    flagged video released it with its shop image never checked, and the check never flagged it
    again once a reviewer had accepted it); an accept made under the association hold leaves it
    held by the flags, and an accept of the flagged video releases it. A mark the builder did not
    record (a whole-item flag, an older catalog's reason) stays, as above."""
    from schemas.review import flag_video, record_decision

    with _catalog(tmp_path / "catalog.sqlite") as cat:
        cat.set_item_state("tiktok", "b", product_id="b", df2_class=1)
        assert flag_video(cat, "tiktok", "b", "b_0", "low confidence") == "tracklets: b_0: low confidence"
        cat.set_item_state(
            "tiktok", "c", status=Status.NEEDS_REVIEW, reason="tracklets: whole item unreadable"
        )
        res = assoc.run_association_check(cat, tmp_path, _Low(), 0.5)
        assert "b" in {f.source_id for f in res.flags}
        status, reason = _row(cat, "b")
        assert status == "needs_review" and reason.startswith("association: low match score 0.1")
        assert _row(cat, "c") == ("needs_review", "tracklets: whole item unreadable")
        record_decision(cat, video="videos/b_1.mp4", product_id="b", kind="accept")  # under the check's
        assert _row(cat, "b") == ("needs_review", "tracklets: b_0: low confidence")
        record_decision(cat, video="videos/b_0.mp4", product_id="b", kind="accept")  # under the flag
        assert _row(cat, "b") == ("accepted", None)


def test_an_item_held_by_a_recorded_whole_item_flag_gets_the_checks_flag(tmp_path):
    """The builder's flag about the whole item, recorded (``tracklet_item_flag:``), is one the
    check may flag over as over a video's recorded flag: the record holds the item again once an
    accept made under the check's hold lifts it, until an accept made under the flag (before, the
    check left the item alone, and an accept made under the flag released it unchecked)."""
    from schemas.review import flag_item, record_decision

    whole = "tracklets: whole item unreadable"
    with _catalog(tmp_path / "catalog.sqlite") as cat:
        cat.set_item_state("tiktok", "d", product_id="d", df2_class=1)
        assert flag_item(cat, "tiktok", "d", whole)
        assoc.run_association_check(cat, tmp_path, _Low(), 0.5)
        status, reason = _row(cat, "d")
        assert status == "needs_review" and reason.startswith("association: low match score 0.1")
        record_decision(cat, video="videos/d_0.mp4", product_id="d", kind="accept")  # under the check's
        assert _row(cat, "d") == ("needs_review", whole)
        record_decision(cat, video="videos/d_0.mp4", product_id="d", kind="accept")  # under the flag
        assert _row(cat, "d") == ("accepted", None)
