"""The review log (``.review.jsonl``) as a user may leave it after editing it by hand: a record
whose ``at`` is no time or a time without a zone, or whose ``decision`` is not text, and lines of
mutated records. ``mf-tracklets review`` lists the videos (the catalog's decision wins over a
record with no readable time), never a TypeError; the log reader returns records or raises one
DataFormatError naming the file."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from annotations.cli import tracklets
from annotations.review import read_decisions
from annotations.review.decisions import decide
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.errors import DataFormatError
from tests.fuzz_json import assert_clear, damage, encode, mutate, randoms

RECORD = {
    "video": "1_0",
    "decision": "accept",
    "at": "2026-01-01T00:00:00+00:00",
    "product_id": "1",
    "note": None,
}


@pytest.mark.parametrize(
    ("at", "decision", "listed"),
    [
        (5, "reject", "accept"),  # was: TypeError (fromisoformat: argument must be str)
        ("yesterday", "reject", "accept"),  # was: ValueError (Invalid isoformat string)
        ("2020-01-01T00:00:00", "reject", "accept"),  # was: TypeError (naive vs aware)
        ("2999-01-01T00:00:00+00:00", ["x"], None),  # not text: no verdict, not a list in the JSON
    ],
)
def test_a_hand_edited_log_record_is_listed_beside_the_catalog(review_setup, capsys, at, decision, listed):
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][0]
    with Catalog(review_setup.catalog) as cat:
        decide(ds, cat, video=f["video_path"][stem], product_id=f["product"][stem], kind="accept")
    (ds / ".review.jsonl").write_text(json.dumps({"video": stem, "decision": decision, "at": at}) + "\n")
    args = ["review", "--dataset", str(ds), "--catalog", str(review_setup.catalog), "--all", "--json"]
    try:
        run_main(tracklets, args)
    except SystemExit as exc:  # an error's exit (success returns)
        pytest.fail(f"exit {exc.code}: {capsys.readouterr().err}")
    out = capsys.readouterr()
    rows = {r["video"]: r for r in json.loads(out.out)["needs_review"]}
    assert rows[stem]["decision"] == listed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=randoms)
def test_a_mutated_review_log_reads_or_is_one_data_format_error(tmp_path, rng):
    records = [mutate(rng, RECORD) for _ in range(rng.randint(1, 3))]
    data = b"\n".join(encode(r) for r in records) + b"\n"
    path = tmp_path / ".review.jsonl"
    path.write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    assert_clear(lambda p: read_decisions(p.parent), path, DataFormatError)
