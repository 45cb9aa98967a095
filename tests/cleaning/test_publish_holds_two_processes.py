"""Two ``mf publish`` of one catalog into two folders, in two processes started together (a
barrier), on one SQLite file: each writes the merge holds it decided, and neither drops, undoes
or writes over the other's. Whichever order their reads and writes take (left free, or the first
deciding before the second's catalog change and writing after the second published), the
catalog ends with every item in conflict held, each by a hold record (``MERGE_HOLDS``) that names
the conflict it shows and keeps the reason it had before, so the release that follows once a
conflict is fixed restores it."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import traceback
from pathlib import Path
from typing import Any

import pytest

import cleaning.publish.run
from cleaning.publish import MERGE_HOLDS, hold_shop_conflicts, publish
from cleaning.steps.state import MERGE_PREFIX
from schemas.atomic import atomic_write_bytes
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, Status

COLOURS = {"a": "red", "b": "blue", "c": "green", "d": "black", "e": "white"}
#: shop image bytes of each item: a and b share one, c, d and e another (every item in conflict,
#: before the second publish moves c to a and b's image and after: none is ever publishable, so
#: the test needs no video)
SHOPS = {"a": b"one", "b": b"one", "c": b"two", "d": b"two", "e": b"two"}
#: the conflicts before c has a and b's image, and after
BEFORE = {"a": "b", "b": "a", "c": "de", "d": "ce", "e": "cd"}
AFTER = {"a": "bc", "b": "ac", "c": "ab", "d": "e", "e": "d"}
CHECKED = "checked by hand: the tag reads M"


def _set_shop(cat: Catalog, root: Path, sid: str, data: bytes) -> None:
    """Item ``sid``'s one accepted shop image, collected with bytes ``data``."""
    rel = f"netaporter/{sid}/shop.jpg"
    atomic_write_bytes(root / rel, data)
    cat.upsert_asset(
        MediaAsset(
            source="netaporter",
            source_id=sid,
            kind=AssetKind.SHOP,
            url=f"http://shop/{sid}.jpg",
            path=rel,
            sha256=hashlib.sha256(data).hexdigest(),
            status=Status.ACCEPTED,
        )
    )


def _catalog(path: Path, root: Path) -> None:
    with Catalog(path) as cat:
        for sid, data in SHOPS.items():
            item = SourceItem(
                source="netaporter", source_id=sid, url=f"http://shop/{sid}", colour=COLOURS[sid]
            )
            cat.upsert_items(
                [item], status=Status.ACCEPTED, product_id=sid.upper(), df2_class=1, partition="regular"
            )
            (root / "netaporter" / sid).mkdir(parents=True, exist_ok=True)
            _set_shop(cat, root, sid, data)
        cat.set_item_state("netaporter", "c", reason=CHECKED)  # an accepted row with a reason


def _run(path: str, root: str, out: str, second: bool, barrier: Any, gates: Any, results: Any) -> None:
    """One ``mf publish``. The second first gives c a and b's shop image (a fix made meanwhile:
    the conflicts change). With ``gates`` (decided, published), the first decides its holds and
    says so, the second changes c only then, and the first writes its holds once the second
    published."""
    decided, published = gates or (None, None)
    try:
        if gates is not None and not second:
            write = cleaning.publish.run.hold_shop_conflicts

            def late(*args: Any, **kwargs: Any) -> Any:
                decided.set()
                assert published.wait(timeout=60)
                return write(*args, **kwargs)

            cleaning.publish.run.hold_shop_conflicts = late  # this process only (forked)
        barrier.wait(timeout=60)
        with Catalog(path) as cat:
            if second:
                assert decided is None or decided.wait(timeout=60)
                _set_shop(cat, Path(root), "c", SHOPS["a"])
            res = publish(cat, root, out)
        if published is not None and second:
            published.set()
        results.put((out, sorted(h["item"] for h in res["held_back"]), res["verify"]["ok"], None))
    except BaseException:
        for gate in gates or ():
            gate.set()
        results.put((out, None, None, traceback.format_exc()))


def _state(cat: Catalog, sid: str) -> tuple[str, str | None]:
    row = cat.get_item("netaporter", sid)
    assert row is not None
    return str(row.status), row.reason


@pytest.mark.parametrize("order", ["free", "first decides before the change, writes after"])
def test_two_publishes_in_two_processes_keep_each_others_holds(tmp_path, order):
    path, root = tmp_path / "catalog.sqlite", tmp_path / "collected"
    _catalog(path, root)
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    gates = None if order == "free" else (ctx.Event(), ctx.Event())
    procs = [
        ctx.Process(
            target=_run,
            args=(str(path), str(root), str(tmp_path / f"ds{n}"), n == 1, barrier, gates, results),
        )
        for n in range(2)
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    everything = [f"netaporter/{s}" for s in sorted(SHOPS)]
    for out, held, ok, error in got:
        assert error is None, f"{out}: {error}"
        assert ok and held == everything  # nothing published: every item is in conflict
    with Catalog(path) as cat:
        assert cat.integrity_ok() and not cat.row_problems()
        records = cat.get_meta(MERGE_HOLDS)
        assert sorted(records) == everything
        for sid in sorted(SHOPS):
            status, reason = _state(cat, sid)
            assert status == Status.NEEDS_REVIEW and str(reason).startswith(MERGE_PREFIX)
            rec = records[f"netaporter/{sid}"]
            assert rec["hold"] == reason, f"{sid}: its record is of another hold than the one it shows"
            # held by the second's decision, or (left free) by the first's made before the change,
            # which the second leaves: an item held keeps its hold until a review or a release
            seen = [AFTER] if order != "free" else [AFTER, BEFORE]
            assert rec["with"] in [[f"netaporter/{p}" for p in view[sid]] for view in seen]
        assert records["netaporter/c"]["reason"] == CHECKED
        # the records serve the release: c's shop image fixed, c, d and e go back as they were
        _set_shop(cat, root, "c", b"three")
        _set_shop(cat, root, "d", b"four")
        released = hold_shop_conflicts(cat)["released"]
        assert sorted(released) == [("netaporter", s) for s in "cde"]
        assert _state(cat, "c") == (Status.ACCEPTED, CHECKED)
        assert _state(cat, "d") == _state(cat, "e") == (Status.ACCEPTED, None)
        assert sorted(cat.get_meta(MERGE_HOLDS)) == ["netaporter/a", "netaporter/b"]
