"""``mf-tracklets review --note``: which decision a note goes with. One ``--note TEXT`` was
stored with every decision of the call (a reviewer's note about one video ended up on all of
them); now a plain note needs a single decided name or ``--note-all``, ``--note NAME=TEXT``
names its decision, and a shop choice keeps its note (it was dropped)."""

from __future__ import annotations

import json

from annotations.review import read_decisions
from schemas.catalog import Catalog
from schemas.review import list_decisions
from tests.annotations.review.test_held_back import with_candidates
from tests.mf_cli import run_tracklets


def _args(setup) -> list[str]:
    return ["review", "--dataset", str(setup.dataset), "--catalog", str(setup.catalog)]


def test_one_plain_note_for_several_decisions_is_refused_before_anything_is_stored(review_setup, capsys):
    a, b = review_setup.facts["flagged"][:2]
    code, _, err = run_tracklets(
        [*_args(review_setup), "--reject", a, "--accept", b, "--note", "blurry"], capsys
    )
    assert code == 2 and "--note NAME=TEXT" in err and "--note-all" in err and a in err and b in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert read_decisions(review_setup.dataset) == {}
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat) == []


def test_each_named_note_goes_with_its_decision_only(review_setup, capsys):
    a, b = review_setup.facts["flagged"][:2]
    vp = review_setup.facts["video_path"]
    code, out, err = run_tracklets(
        [*_args(review_setup), "--reject", a, "--reject", b, "--note", f"{a}=wrong garment", "--json"], capsys
    )
    assert code == 0, err
    assert {r["video"]: r["note"] for r in json.loads(out)["recorded"]} == {a: "wrong garment", b: None}
    logged = read_decisions(review_setup.dataset)
    assert (logged[a]["note"], logged[b]["note"]) == ("wrong garment", None)
    with Catalog(review_setup.catalog) as cat:
        (da,) = list_decisions(cat, video=vp[a])
        (db,) = list_decisions(cat, video=vp[b])
    assert (da.reason, db.reason) == ("wrong garment", None)


def test_note_all_stores_the_note_with_every_decision_and_a_named_one_wins(review_setup, capsys):
    a, b, c = review_setup.facts["videos"][:3]
    args = [*_args(review_setup), "--reject", a, "--reject", b, "--reject", c]
    code, out, err = run_tracklets(
        [*args, "--note", "batch 3", "--note", f"{c}=a=b", "--note-all", "--json"], capsys
    )
    assert code == 0, err
    assert {r["video"]: r["note"] for r in json.loads(out)["recorded"]} == {
        a: "batch 3",
        b: "batch 3",
        c: "a=b",
    }
    for bad, why in (
        (["--reject", a, "--note-all"], "--note-all"),  # nothing to store
        (["--reject", a, "--note", f"{a}=x", "--note", f"{a}=y"], "two notes"),
        (["--reject", a, "--reject", b, "--note", "x", "--note", "y"], "NAME=TEXT"),
        (["--serve", "--note-all"], "--serve cannot be combined"),
    ):
        code, _, err = run_tracklets([*_args(review_setup), *bad], capsys)
        assert code == 2 and why in err, (bad, err)


def test_a_single_decision_takes_a_plain_note_and_a_shop_choice_keeps_it(review_setup, capsys):
    stem, _ = with_candidates(review_setup)
    code, out, err = run_tracklets(
        [*_args(review_setup), "--shop", f"{stem}=1", "--note", "the red one", "--json"], capsys
    )
    assert code == 0, err
    (rec,) = json.loads(out)["recorded"]
    assert rec["decision"] == "shop" and rec["note"] == "the red one"
    with Catalog(review_setup.catalog) as cat:
        kinds = {(d.kind, d.note) for d in list_decisions(cat)}
    assert ("note", "the red one") in kinds and any(k == "shop" for k, _ in kinds), kinds


def test_a_refused_decision_without_catalog_is_one_line_and_the_warning_follows_good_ones(
    review_setup, capsys
):
    """The finding: without --catalog, the "no --catalog: decisions go to ... only" warning came
    before the names were checked, so an unknown video was two lines on stderr (a warning about
    decisions that were never stored, then the error). Now a refused call is the error alone; a
    good one still warns."""
    base = ["review", "--dataset", str(review_setup.dataset)]
    code, _, err = run_tracklets([*base, "--accept", "nosuch_0"], capsys)
    assert code == 2 and err.startswith("error: ") and "nosuch_0" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert read_decisions(review_setup.dataset) == {}
    a = review_setup.facts["flagged"][0]
    code, _, err = run_tracklets([*base, "--reject", a], capsys)
    assert code == 0 and "warning: no --catalog: decisions go to" in err, err
    assert read_decisions(review_setup.dataset)[a]["decision"] == "reject"
