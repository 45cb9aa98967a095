"""An item cleaning held for an ambiguous class (no DeepFashion2 class) is lifted from the command
line: ``mf-tracklets review --class CLASS --accept NAME`` records the class as the review page's
``c`` does, then the accept, and the next ``mf publish`` publishes it with that class.

Before: ``--accept NAME`` answered "no DeepFashion2 class: choose one (c on the review page)" and
the command had no way to give one (found on world 7315, /work/notes/h_walk3.md)."""

from __future__ import annotations

import json

from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.dataset import read_entry_rows
from schemas.items import Status
from schemas.official import read_official
from schemas.review import list_decisions
from tests.mf_cli import run_tracklets

AMBIGUOUS = "taxonomy: ambiguous: 'top' has no single DeepFashion2 class"  # as cleaning/taxonomy.py writes


def _review(capsys, *args: str) -> tuple[int, str, str]:
    """``mf-tracklets review ARGS``: (exit status, stdout, stderr)."""
    return run_tracklets(["review", *args], capsys)


def _published(out) -> dict:
    return {**read_official(out / "train.json"), **read_official(out / "test.json")}


def test_class_then_accept_lifts_an_ambiguous_class_hold(cleaned_world, catalog_copy, tmp_path, capsys):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        row = sorted(cat.items(status=Status.ACCEPTED), key=lambda r: r.product_id or "")[0]
        pid, key = row.product_id, (row.item.source, row.item.source_id)
        cat.set_item_state(*key, status=Status.NEEDS_REVIEW, reason=AMBIGUOUS, df2_class=None)
        publish(cat, cleaned_world.root, out)
    assert pid not in _published(out)
    base = ("--dataset", str(out), "--catalog", str(catalog_copy))
    name = f"{pid}_0"
    # before: the accept alone is refused, one line that names the option; nothing stored
    code, _, err = _review(capsys, *base, "--accept", name)
    assert code == 2 and "--class" in err and len(err.strip().splitlines()) == 1, err
    # a bad class: exit 2, one line listing the valid names; nothing stored
    for bad in ("top", "14", "0"):
        code, _, err = _review(capsys, *base, "--class", bad, "--accept", name)
        assert code == 2 and "trousers" in err and "sling_dress" in err, (bad, code, err)
        assert len(err.strip().splitlines()) == 1, err
    with Catalog(catalog_copy, read_only=True) as cat:
        assert list_decisions(cat) == []
    # the class alone (by number, NAME=CLASS), then taken back with --undo
    code, line, err = _review(capsys, *base, "--class", f"{name}=8")
    assert code == 0 and line.strip() == f"class: {name} -> trousers (8)", (code, line, err)
    code, line, err = _review(capsys, *base, "--undo", name)
    assert code == 0 and line.startswith(f"undo class: {name}"), (line, err)
    with Catalog(catalog_copy, read_only=True) as cat:
        assert cat.get_item(*key).df2_class is None and list_decisions(cat) == []
    # the class (by name, plain: the call's one video) and the accept in one call
    code, line, err = _review(capsys, *base, "--class", "Skirt", "--accept", name, "--json")
    assert code == 0, err
    recs = json.loads(line)["recorded"]
    assert [(r["decision"], r.get("df2_class"), r.get("class_name")) for r in recs] == [
        ("class", 9, "skirt"),
        ("accept", None, None),
    ]
    with Catalog(catalog_copy) as cat:
        item = cat.get_item(*key)
        assert (item.status, item.df2_class) == (Status.ACCEPTED, 9)
        # the decision is the page's: a class decision on the item's video
        assert [(d.kind, d.df2_class) for d in list_decisions(cat)] == [("class", 9), ("accept", None)]
        publish(cat, cleaned_world.root, out)
    assert pid in _published(out)
    assert read_entry_rows(out / "entries.jsonl")[pid]["df2_class"] == 9


def test_a_class_on_a_merged_video_another_item_brought_in_is_refused(
    catalog_copy, root_copy, tmp_path, capsys
):
    """Which item a class on product P's video ``P_1`` (item X's, brought in by publish) should set
    is not settled: refused with one line, nothing stored; P's own video takes it."""
    from tests.cleaning.test_publish_merged_video_flag import merge_and_flag

    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        pid, _, _ = merge_and_flag(cat, root_copy, out)
    base = ("--dataset", str(out), "--catalog", str(catalog_copy))
    code, _, err = _review(capsys, *base, "--class", f"{pid}_1=trousers")
    assert code == 2 and len(err.strip().splitlines()) == 1, (code, err)
    assert f"brought into product {pid}" in err and "own videos" in err, err
    with Catalog(catalog_copy, read_only=True) as cat:
        assert list_decisions(cat) == []
    code, line, err = _review(capsys, *base, "--class", f"{pid}_0=trousers")
    assert code == 0 and line.strip() == f"class: {pid}_0 -> trousers (8)", (code, line, err)
