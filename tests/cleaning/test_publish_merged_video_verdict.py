"""A verdict on a merged product's video that another, held item brought in is refused, and
names the owner's entry that decides it; that entry is listed and decided, on the command line and
on the review page, before the next publish undoes the merge. Once that item is not held, a verdict
on the merged name decides that item, not the product (the page refuses it, naming the command).

Before: ``--reject P_1`` of a merged video whose owner X is not held rejected P (its own video and
shop pair fine), and the next publish held P back whole.

Before (the page's other decisions): a class, note or tracklet pick on the page's ``P_1`` entry was
recorded on P (a class there changed P's class, a pick of X's video's ground truth was P's); now
refused (400), one line naming what decides it (the command line's ``--note`` goes with a verdict
and is recorded on X). The list showed, for ``P_1`` decided on P (before the routing) and on X,
whichever review it met last; now the one with the latest decision. The page read
``entries.jsonl`` per decision; now once per change of the file.

Before (the held owner): the builder's flag of product P's second video (item X's) holds X (``tracklets: X_0``),
but the review list showed the video as ``P_1`` only. ``--accept P_1`` (the name the list and the
dataset give) was recorded on P's item and left X held; ``--reject P_1`` rejected P, the wrong
item; ``--accept X_0`` said "no tracklet file"; the page did the same with its ``P_1`` entry.
"""

from __future__ import annotations

import json
import shutil

import pytest

from annotations.config import ReviewConfig
from annotations.review import read_decisions
from annotations.review.server import BadRequest, ReviewApp
from annotations.settle import settle_flags
from cleaning.publish import publish
from schemas import video_items as video_items_module
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.review import list_decisions, record_decision
from tests.cleaning.test_publish_merged_video_flag import NEW, _item, _published, merge_and_flag
from tests.mf_cli import run_tracklets


def _review(capsys, *args: str) -> tuple[int, str, str]:
    """``mf-tracklets review ARGS``: (exit status, stdout, stderr)."""
    return run_tracklets(["review", *args], capsys)


#: the page's decisions other than a verdict, as bodies, each with what its refusal names
EDITS = (
    ({"kind": "class", "df2_class": 3}, "its class (the product's"),
    ({"kind": "note", "note": "checked"}, "--note TEXT"),
    ({"kind": "tracklet", "tracklet": 0}, "mf-tracklets import"),
)


def _edits_refused(app: ReviewApp, path, merged: str, verdict: str, pid: str) -> None:
    """The page's class, note and pick on the merged entry are refused, one line naming what
    decides it (the note: the command line's verdict named ``verdict``), and nothing is stored; its
    shop choice is refused too (the entry offers no candidates)."""
    with Catalog(path, read_only=True) as cat:
        before = (list_decisions(cat, include_undone=True), _item(cat, pid).df2_class, _item(cat, pid).status)
    for body, named in EDITS:
        with pytest.raises(BadRequest) as refused:
            app.decide({"video": merged, **body})
        said = str(refused.value)
        assert named in said and f"{merged} is the video item {NEW} brought into product {pid}" in said, said
        assert len(said.splitlines()) == 1, said
    with pytest.raises(BadRequest, match="no carousel candidates"):
        app.decide({"video": merged, "kind": "shop", "candidate": 0})
    with pytest.raises(BadRequest, match=f"--accept {verdict} --note TEXT"):
        app.decide({"video": merged, "kind": "note", "note": "x"})
    with Catalog(path, read_only=True) as cat:
        assert (
            list_decisions(cat, include_undone=True),
            _item(cat, pid).df2_class,
            _item(cat, pid).status,
        ) == before


def test_a_verdict_on_a_merged_video_whose_owner_is_held_names_the_owner_entry(
    catalog_copy, root_copy, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        pid, own, jobs = merge_and_flag(cat, root_copy, out)  # the second video, NEW's, is flagged
        settle_flags(out, jobs, ReviewConfig(), fresh={0, 1}, cat=cat)
        assert _item(cat, NEW).status == Status.NEEDS_REVIEW
    merged, owned = f"{pid}_1", f"{NEW}_0"
    base = ("--dataset", str(out), "--catalog", str(catalog_copy))
    # the list names the owner's entry, and the merged name's row says how it is decided
    code, listed, err = _review(capsys, *base, "--json")
    assert code == 0, err
    rows = {r["video"]: r for r in json.loads(listed)["needs_review"]}
    assert rows[owned]["product_id"] == NEW and rows[owned]["held_back"], rows.get(owned)
    assert rows[merged]["reason"].endswith(f"decide it as {owned}"), rows[merged]
    # a verdict under the merged name is refused, one line naming the owner's command; nothing stored
    for verb in ("--accept", "--reject"):
        code, _, err = _review(capsys, *base, verb, merged)
        assert code == 2 and len(err.strip().splitlines()) == 1, (code, err)
        assert f"--accept {owned}" in err and f"item {NEW} brought into product {pid}" in err, err
    with Catalog(catalog_copy, read_only=True) as cat:
        assert not [d for d in list_decisions(cat) if d.kind in ("accept", "reject")]
    # the page: the merged entry's verdicts are refused with the same line, the owner's is queued
    copy = tmp_path / "page.sqlite"
    shutil.copy(catalog_copy, copy)
    app = ReviewApp(out, copy, sample_rate=0.0)
    try:
        queued = {i["stem"]: i for i in app.queue_json()["items"]}
        assert queued[owned]["held_back"] and queued[owned]["flagged"], queued.get(owned)
        assert queued[merged]["reason"].endswith(f"decide it as {owned}"), queued[merged]  # as the list
        for kind in ("accept", "reject"):
            with pytest.raises(BadRequest, match=f"--accept {owned}"):
                app.decide({"video": merged, "kind": kind})
        _edits_refused(app, copy, merged, owned, pid)
        app.decide({"video": owned, "kind": "class", "df2_class": 3})  # where the refusal sends it
        with Catalog(copy, read_only=True) as cat:
            classes = {k: _item(cat, k).df2_class for k in (NEW, pid)}
            assert classes[NEW] == 3 and classes[pid] != 3, classes
        app.decide({"video": owned, "kind": "accept"})
        app.undo({"video": owned})  # the page's undo takes it back: held again
        with Catalog(copy, read_only=True) as cat:
            assert _item(cat, NEW).status == Status.NEEDS_REVIEW
        app.decide({"video": owned, "kind": "accept"})
    finally:
        app.close()
    # the owner's entry decides it: the hold is lifted, the product's item untouched
    code, _, err = _review(capsys, *base, "--accept", owned, "--note", "checked")  # as the page's note says
    assert code == 0, err
    for path in (catalog_copy, copy):
        with Catalog(path, read_only=True) as cat:
            assert (_item(cat, NEW).status, _item(cat, NEW).reason) == (Status.ACCEPTED, None)
            assert _item(cat, pid).status == Status.ACCEPTED and _item(cat, own).reason is None
    # X is not held now (the flag in P_1's file stays): a verdict on P_1 decides X, not the product
    code, listed, err = _review(capsys, *base, "--json")
    rows = {r["video"]: r for r in json.loads(listed)["needs_review"]}
    assert rows[merged]["reason"].endswith(f"--accept/--reject {merged} decides {NEW}"), rows[merged]
    code, said, err = _review(capsys, *base, "--accept", merged, "--note", "checked")
    assert code == 0 and f"decided on item {NEW}" in said, (code, said, err)
    code, said, err = _review(capsys, *base, "--reject", merged)
    assert (code, said.strip()) == (
        0,
        f"reject: {merged} (item {NEW}'s video, brought into product {pid}: decided on item {NEW})",
    ), (code, said, err)
    with Catalog(catalog_copy, read_only=True) as cat:
        assert _item(cat, NEW).status == Status.REJECTED
        assert (_item(cat, own).status, _item(cat, own).reason) == (Status.ACCEPTED, None)
        routed = [d for d in list_decisions(cat) if d.video == f"videos/{merged}.mp4"]
        kinds = [(d.product_id, d.kind) for d in routed]  # the note goes with the verdict, to X
        assert kinds == [(NEW, "accept"), (NEW, "note"), (NEW, "reject")], routed
    code, listed, err = _review(capsys, *base, "--all", "--json")
    rows = {r["video"]: r for r in json.loads(listed)["needs_review"]}
    assert rows[merged]["decision"] == "reject", rows[merged]
    # the page: the same note; its verdict buttons refused, naming the command; its undo takes it back
    app = ReviewApp(out, catalog_copy, sample_rate=0.0)
    reads = []
    counted = video_items_module.read_entry_rows
    monkeypatch.setattr(video_items_module, "read_entry_rows", lambda p: reads.append(p) or counted(p))
    try:
        queued = {i["stem"]: i for i in app.queue_json()["items"]}
        assert queued[merged]["reason"] == rows[merged]["reason"], (queued[merged], rows[merged])
        _edits_refused(app, catalog_copy, merged, merged, pid)
        for kind in ("accept", "reject"):
            with pytest.raises(BadRequest) as refused:
                app.decide({"video": merged, "kind": kind})
            said = str(refused.value)
            assert f"records it on {NEW}" in said and f"--reject {merged} (or --accept {merged})" in said
            assert len(said.splitlines()) == 1, said
        assert len(reads) == 1, reads  # entries.jsonl read once for the page's 7 refused decisions
        app.undo({"decision_id": routed[-1].id})
        with Catalog(catalog_copy, read_only=True) as cat:
            assert _item(cat, NEW).status == Status.ACCEPTED  # the accept of P_1 left
    finally:
        app.close()
    # the command line's undo takes it back on X too, and the list shows the verdict left
    code, _, err = _review(capsys, *base, "--reject", merged)
    assert code == 0, err
    code, said, err = _review(capsys, *base, "--undo", merged)
    assert code == 0 and said.startswith(f"undo reject: {merged} (decision "), (code, said, err)
    assert said.strip().endswith(f"taken back on item {NEW}); now accept"), said
    code, listed, err = _review(capsys, *base, "--all", "--json")
    assert {r["video"]: r for r in json.loads(listed)["needs_review"]}[merged]["decision"] == "accept"
    assert read_decisions(out)[merged]["decision"] == "accept"  # the log's last word (the builder's)
    with Catalog(catalog_copy, read_only=True) as cat:
        assert _item(cat, NEW).status == Status.ACCEPTED
    code, _, err = _review(capsys, *base, "--undo", f"{pid}_0")  # none live: refused, one line
    assert code == 2 and f"{pid}_0: no decision to undo (none is live)" in err, (code, err)
    code, _, err = _review(capsys, *base, "--reject", merged)
    assert code == 0, err
    # a verdict on P_1 stored on P (as before the routing), then one on X (as the command line
    # stores it): the list shows the latest, though it meets P's review last (X's is older)
    video = f"videos/{merged}.mp4"
    with Catalog(catalog_copy) as cat:
        record_decision(cat, video=video, product_id=pid, kind="accept")
        record_decision(cat, video=video, product_id=NEW, kind="reject")
    code, listed, err = _review(capsys, *base, "--all", "--json")
    assert {r["video"]: r for r in json.loads(listed)["needs_review"]}[merged]["decision"] == "reject"
    # the next publish: P with its own video, X's gone with X
    with Catalog(catalog_copy) as cat:
        publish(cat, root_copy, out)
        assert _item(cat, own).status == Status.ACCEPTED
    assert _published(out)[pid] == [own] and NEW not in _published(out), _published(out)
