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
        assert st["videos/P0_0.mp4"].verdict == "reject" and st["videos/P0_0.mp4"].reason == "blurry"
        assert st["videos/P1_0.mp4"].df2_class == 9 and st["videos/P1_0.mp4"].notes == ["sleeves?"]
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
        assert d.source is None and review_states(cat)["v/X_0.mp4"].verdict == "reject"


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
