"""The review log ``.review.jsonl``: a torn last line never swallows the next decision, and
reading passes over torn lines (warning) while refusing a corrupt line in the middle."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from annotations.cli import tracklets
from annotations.review.marks import (
    REVIEW_FILE,
    TORN_MARK,
    mark_needs_review,
    read_decisions,
    record_decision,
    withdraw_needs_review,
)
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.items import SourceItem, Status


def test_a_decision_after_a_torn_line_starts_a_line_of_its_own(tmp_path, caplog):
    record_decision(tmp_path, "702272_0", "702272", "accept")
    log = tmp_path / REVIEW_FILE
    with log.open("a") as fh:
        fh.write('{"video": "81')  # an append cut short
    with caplog.at_level(logging.WARNING, logger="annotations.review"):
        assert set(read_decisions(tmp_path)) == {"702272_0"}  # torn last line: passed over
        assert f"{log}: line 2 is torn" in caplog.text
        record_decision(tmp_path, "810528_0", "810528", "reject")
    lines = log.read_text().splitlines()
    assert lines[1] == '{"video": "81' + TORN_MARK
    assert json.loads(lines[2])["video"] == "810528_0" and log.read_bytes().endswith(b"\n")
    got = read_decisions(tmp_path)
    assert {k: v["decision"] for k, v in got.items()} == {"702272_0": "accept", "810528_0": "reject"}


def test_a_complete_last_record_without_newline_is_kept(tmp_path):
    log = tmp_path / REVIEW_FILE
    log.write_text(json.dumps({"video": "a_0", "decision": "accept"}))  # hand-edited: no newline
    record_decision(tmp_path, "b_0", "b", "reject")
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and TORN_MARK not in log.read_text()
    assert {k: v["decision"] for k, v in read_decisions(tmp_path).items()} == {
        "a_0": "accept",
        "b_0": "reject",
    }


@pytest.mark.parametrize("bad", ['{"video": "81', "[1, 2]", '{"decision": "accept"}', "\udcff"])
def test_a_corrupt_line_in_the_middle_is_refused(tmp_path, bad):
    log = tmp_path / REVIEW_FILE
    good = json.dumps({"video": "a_0", "decision": "accept"})
    log.write_bytes(f"{good}\n{bad}\n{good}\n".encode("utf-8", "surrogateescape"))
    with pytest.raises(DataFormatError) as ei:
        read_decisions(tmp_path)
    assert ei.value.where == str(log) and ei.value.message == "line 2 is not a review record"


def test_review_cli_keeps_the_decision_after_a_torn_line(review_setup):
    ds, facts = review_setup.dataset, review_setup.facts
    first, second = facts["flagged"]
    runner = CliRunner()
    assert runner.invoke(tracklets, ["review", "--dataset", str(ds), "--accept", first]).exit_code == 0
    with (ds / REVIEW_FILE).open("a") as fh:
        fh.write('{"video": "' + second[:2])
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--reject", second])
    assert res.exit_code == 0, res.output
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--all", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["video"]: r["decision"] for r in json.loads(res.stdout)["needs_review"]}
    assert rows == {first: "accept", second: "reject"}


@pytest.mark.parametrize("default_catalog", [False, True])
def test_the_review_list_shows_the_page_decisions(review_setup, default_catalog):
    """The list of videos to review reads the review page's decisions (the catalog, named or
    DATASET/.review.sqlite) with review.jsonl; the newer of the two is a video's decision."""
    import shutil

    from schemas.catalog import Catalog
    from schemas.review import record_decision as page_decision
    from schemas.review import undo_decision

    ds, facts = review_setup.dataset, review_setup.facts
    first, second = facts["flagged"]
    cat_path = review_setup.catalog
    if default_catalog:
        cat_path = shutil.move(cat_path, ds / ".review.sqlite")
    with Catalog(cat_path) as cat:
        for stem, kind in ((first, "accept"), (second, "reject")):
            page_decision(
                cat,
                video=facts["video_path"][stem],
                product_id=facts["product"][stem],
                kind=kind,
                reason=None,
            )
    runner = CliRunner()
    args = ["review", "--dataset", str(ds), "--json"] + (
        [] if default_catalog else ["--catalog", str(cat_path)]
    )

    def listed(*more: str) -> dict:
        res = runner.invoke(tracklets, [*args, *more])
        assert res.exit_code == 0, res.output
        return {r["video"]: r["decision"] for r in json.loads(res.stdout)["needs_review"]}

    assert listed() == {}
    assert listed("--all") == {first: "accept", second: "reject"}
    # a later --accept (review.jsonl only) wins over the page's reject; a later page undo over it
    assert runner.invoke(tracklets, ["review", "--dataset", str(ds), "--accept", second]).exit_code == 0
    assert listed("--all") == {first: "accept", second: "accept"}
    with Catalog(cat_path) as cat:
        undo_decision(cat, video=facts["video_path"][first])
    assert listed() == {first: None}


def test_a_note_with_a_byte_the_shell_passed_undecoded_is_stored_in_both(review_setup):
    """``--note $'bad\\xff'`` reaches Python as a lone surrogate: was a UnicodeEncodeError traceback
    after the log was written, the catalog holding nothing; now U+FFFD in both, exit 0."""
    from schemas.catalog import Catalog
    from schemas.review import list_decisions

    ds, facts = review_setup.dataset, review_setup.facts
    stem = facts["flagged"][0]
    args = ["review", "--dataset", str(ds), "--catalog", str(review_setup.catalog)]
    res = CliRunner().invoke(tracklets, [*args, "--reject", stem, "--note", "bad\udcff"])
    assert res.exit_code == 0, res.output
    logged = read_decisions(ds)[stem]
    assert logged["decision"] == "reject" and logged["note"] == "bad\ufffd"
    with Catalog(review_setup.catalog) as cat:
        (stored,) = list_decisions(cat, video=facts["video_path"][stem])
    assert stored.kind == "reject" and stored.reason == "bad\ufffd"


def test_marks_find_the_item_by_one_lookup_not_a_scan_of_every_item(tmp_path, monkeypatch):
    """mark/withdraw find the product's item with the catalog's SQL lookup (product_id column,
    else source id), never by reading every item of the catalog."""
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id=s, url=f"http://x/{s}") for s in ("p0", "p1", "P2")],
            status=Status.ACCEPTED,
        )
        cat.set_item_state("netaporter", "p1", product_id="P1")

        def scan(*a, **k):
            raise AssertionError("every catalog item read for one mark")

        monkeypatch.setattr(Catalog, "items", scan)
        assert mark_needs_review(cat, "P1", "flagged")  # by its product_id column
        assert mark_needs_review(cat, "P2", "flagged")  # no product_id: by its source id
        assert not mark_needs_review(cat, "P9", "flagged")  # not in the catalog
        states = {s: cat.get_item("netaporter", s).status for s in ("p0", "p1", "P2")}
        assert states == {"p0": Status.ACCEPTED, "p1": Status.NEEDS_REVIEW, "P2": Status.NEEDS_REVIEW}
        assert withdraw_needs_review(cat, "P1", "decided again")
        assert cat.get_item("netaporter", "p1").status == Status.ACCEPTED
