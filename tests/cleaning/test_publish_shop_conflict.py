"""Two product pages of one source sharing one shop image file but recording different colours
are not merged into one product: publish holds both back for review (``needs_review``, a
``merge:`` reason naming the other item), while a re-listing of the same garment (same colour,
its title and designer written anew, as the synthetic world writes a retake's) still merges."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cleaning.publish import publish
from cleaning.steps.state import MERGE_PREFIX
from schemas.catalog import Catalog
from schemas.errors import MFError
from schemas.items import Status
from schemas.review import record_decision, undo_decision
from tests.cleaning.test_publish_relisting import _relist

NEW = "0000001"


def _relisted(cat: Catalog, root: Path, **update: str) -> tuple[str, str]:
    """A new netaporter item sharing a published item's shop image file, with ``update`` applied
    to its metadata; (the original's key, its product id)."""
    old = next(
        r for r in cat.items(status=Status.ACCEPTED) if r.item.source == "netaporter" and r.item.colour
    )
    _relist(cat, root, str(old.product_id), NEW, str(old.product_id))
    new = cat.get_item("netaporter", NEW)
    assert new is not None
    cat.upsert_item(
        new.item.model_copy(update=update),
        status=Status.ACCEPTED,
        product_id=NEW,
        df2_class=old.df2_class,
        partition=old.partition,
    )
    return f"netaporter/{old.item.source_id}", str(old.product_id)


def test_a_shared_shop_image_on_pages_of_another_colour_is_held_back_not_merged(
    catalog_copy, root_copy, tmp_path
):
    with Catalog(catalog_copy) as cat:
        old_key, pid = _relisted(cat, root_copy, colour="neon green", title="Another shirt")
        res = publish(cat, root_copy, tmp_path / "ds")
        states = {r.item.source_id: (r.status, r.reason or "") for r in cat.items()}
    assert res["verify"]["ok"]
    assert not any(m["item"] == f"netaporter/{NEW}" for m in res["merged"])
    held = {h["item"]: h for h in res["held_back"]}
    for key, other in ((f"netaporter/{NEW}", old_key), (old_key, f"netaporter/{NEW}")):
        assert held[key]["status"] == "needs_review"
        assert held[key]["reason"].startswith(MERGE_PREFIX)
        assert other in held[key]["reason"] and "colour" in held[key]["reason"]
    assert res["held_back_by_reason"]["needs_review/merge"] == 2
    assert states[NEW][0] == Status.NEEDS_REVIEW and "neon green" in states[NEW][1]
    lines = (tmp_path / "ds/entries.jsonl").read_text().splitlines()
    assert not {pid, NEW} & {json.loads(x)["product_id"] for x in lines}


def test_a_relisting_of_the_same_colour_still_merges(catalog_copy, root_copy, tmp_path):
    with Catalog(catalog_copy) as cat:
        old_key, pid = _relisted(cat, root_copy, title="Another title", designer="Another designer")
        res = publish(cat, root_copy, tmp_path / "ds")
    assert res["verify"]["ok"]
    # one product holds both: the item whose key sorts second is published under the other's id
    assert {m["item"] for m in res["merged"]} & {old_key, f"netaporter/{NEW}"}
    assert {m["published_as"] for m in res["merged"]} & {pid, NEW}
    assert not any(h["reason"].startswith(MERGE_PREFIX) for h in res["held_back"])


def test_an_item_held_for_a_conflict_that_is_gone_is_published_again(catalog_copy, root_copy, tmp_path):
    with Catalog(catalog_copy) as cat:
        old_key, pid = _relisted(cat, root_copy, colour="neon green")
        first = publish(cat, root_copy, tmp_path / "ds")
        assert old_key in {h["item"] for h in first["held_back"]}
        cat.set_item_state("netaporter", NEW, status=Status.REJECTED, reason="review: wrong shop image")
        second = publish(cat, root_copy, tmp_path / "ds")
        old = cat.get_item(*old_key.split("/"))
    assert second["verify"]["ok"]
    assert old is not None and old.status == Status.ACCEPTED and old.reason is None
    assert old_key not in {h["item"] for h in second["held_back"]}
    lines = (tmp_path / "ds/entries.jsonl").read_text().splitlines()
    assert pid in {json.loads(x)["product_id"] for x in lines}


def test_the_other_item_held_for_another_reason_still_holds_the_item_back(catalog_copy, root_copy, tmp_path):
    """The other page waits in review for a reason of its own (a tracklet flag): the conflict
    stands (a reviewer may accept it yet), so the item is not published meanwhile, nor released."""
    flag = "tracklets: b_0: low confidence: det_mean 0.5 < 0.9"
    with Catalog(catalog_copy) as cat:
        old_key, pid = _relisted(cat, root_copy, colour="neon green")
        cat.set_item_state("netaporter", NEW, status=Status.NEEDS_REVIEW, reason=flag)
        first = publish(cat, root_copy, tmp_path / "ds")
        publish(cat, root_copy, tmp_path / "ds")
        old = cat.get_item(*old_key.split("/"))
        new = cat.get_item("netaporter", NEW)
    assert first["verify"]["ok"]
    assert (
        old is not None and old.status == Status.NEEDS_REVIEW and (old.reason or "").startswith(MERGE_PREFIX)
    )
    assert new is not None and (new.status, new.reason) == (Status.NEEDS_REVIEW, flag)
    lines = (tmp_path / "ds/entries.jsonl").read_text().splitlines()
    assert pid not in {json.loads(x)["product_id"] for x in lines}


def _state(cat: Catalog, key: str) -> tuple[Status, str | None]:
    row = cat.get_item(*key.split("/"))
    assert row is not None
    return row.status, row.reason


def test_a_release_gives_the_item_back_the_reason_it_had_before_the_hold(catalog_copy, root_copy, tmp_path):
    """An accepted row may carry a reason: the hold keeps it, and the release writes it back."""
    with Catalog(catalog_copy) as cat:
        old_key, _ = _relisted(cat, root_copy, colour="neon green")
        cat.set_item_state(*old_key.split("/"), reason="checked by hand: the tag reads M")
        publish(cat, root_copy, tmp_path / "ds")
        assert _state(cat, old_key)[0] == Status.NEEDS_REVIEW
        cat.set_item_state("netaporter", NEW, status=Status.REJECTED, reason="review: wrong shop image")
        publish(cat, root_copy, tmp_path / "ds")
        assert _state(cat, old_key) == (Status.ACCEPTED, "checked by hand: the tag reads M")


def test_an_accept_from_before_the_conflict_does_not_silence_it(catalog_copy, root_copy, tmp_path):
    """A reviewer accepted the item before the other page shared its shop image: that accept did
    not see the conflict, so the item is held all the same; an accept made while it is held
    (the reviewer saw the ``merge:`` reason) is honoured, and a rerun keeps it so."""
    with Catalog(catalog_copy) as cat:
        old = next(
            r for r in cat.items(status=Status.ACCEPTED) if r.item.source == "netaporter" and r.item.colour
        )
        record_decision(cat, video="videos/before_0.mp4", product_id=str(old.product_id), kind="accept")
        old_key, pid = _relisted(cat, root_copy, colour="neon green")
        assert old_key == f"netaporter/{old.item.source_id}"
        first = publish(cat, root_copy, tmp_path / "ds")
        assert _state(cat, old_key)[0] == Status.NEEDS_REVIEW
        assert old_key in {h["item"] for h in first["held_back"]}
        record_decision(cat, video="videos/after_0.mp4", product_id=pid, kind="accept")
        assert _state(cat, old_key) == (Status.ACCEPTED, None)
        second = publish(cat, root_copy, tmp_path / "ds")
        assert _state(cat, old_key) == (Status.ACCEPTED, None)
        assert _state(cat, f"netaporter/{NEW}")[0] == Status.NEEDS_REVIEW  # the other still disagrees
    assert old_key not in {h["item"] for h in second["held_back"]}
    lines = (tmp_path / "ds/entries.jsonl").read_text().splitlines()
    assert pid in {json.loads(x)["product_id"] for x in lines}


def _snapshot(cat: Catalog) -> list[tuple[str, str, str | None, str]]:
    return [(r.item.source_id, str(r.status), r.reason, r.updated_at) for r in cat.items()]


def test_a_review_action_on_a_held_item_keeps_the_hold_and_a_rerun_changes_nothing(
    catalog_copy, root_copy, tmp_path
):
    """The item has a live decision from before the conflict (an accept); publish holds it. A
    later review action that is no accept of the hold (a class) keeps it held: before, it gave
    the item the state its older decisions made (accepted) and the next publish held it again.
    Undoing an accept made under the hold puts the hold back. A publish with nothing changed
    changes nothing in the catalog."""
    with Catalog(catalog_copy) as cat:
        old = next(
            r for r in cat.items(status=Status.ACCEPTED) if r.item.source == "netaporter" and r.item.colour
        )
        record_decision(cat, video="videos/before_0.mp4", product_id=str(old.product_id), kind="accept")
        old_key, pid = _relisted(cat, root_copy, colour="neon green")
        publish(cat, root_copy, tmp_path / "ds")
        held = _state(cat, old_key)
        assert held[0] == Status.NEEDS_REVIEW and (held[1] or "").startswith(MERGE_PREFIX)
        other_class = 1 if old.df2_class != 1 else 2
        record_decision(cat, video="videos/after_0.mp4", product_id=pid, kind="class", df2_class=other_class)
        assert _state(cat, old_key) == held
        before = _snapshot(cat)
        publish(cat, root_copy, tmp_path / "ds")
        assert _snapshot(cat) == before
        accept, _ = record_decision(cat, video="videos/after_0.mp4", product_id=pid, kind="accept")
        assert _state(cat, old_key) == (Status.ACCEPTED, None)
        undo_decision(cat, accept.id)
        assert _state(cat, old_key) == held
        before = _snapshot(cat)
        publish(cat, root_copy, tmp_path / "ds")
        assert _snapshot(cat) == before


def test_a_refused_publish_leaves_no_hold(catalog_copy, root_copy, tmp_path):
    """A folder published before, now refused (a foreign file at its top level): the conflict
    is not held, since nothing was published; before, the holds were written first."""
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, root_copy, out)
        old_key, _ = _relisted(cat, root_copy, colour="neon green")
        (out / "notes.txt").write_text("mine")
        before = _snapshot(cat)
        with pytest.raises(MFError, match="notes.txt"):
            publish(cat, root_copy, out)
        assert _snapshot(cat) == before
        assert _state(cat, old_key) == (Status.ACCEPTED, None)


def test_a_publish_refused_once_the_holds_are_made_undoes_them(catalog_copy, root_copy, tmp_path):
    """The plan made again with this run's holds and releases refuses after all (the released
    item carries another product's id): the release is undone, every item's state and the hold
    records are as they were."""
    from cleaning.publish import MERGE_HOLDS

    with Catalog(catalog_copy) as cat:
        old_key, _ = _relisted(cat, root_copy, colour="neon green")
        publish(cat, root_copy, tmp_path / "ds")
        assert _state(cat, f"netaporter/{NEW}")[0] == Status.NEEDS_REVIEW
        cat.set_item_state(*old_key.split("/"), status=Status.REJECTED, reason="review: wrong shop image")
        other = next(r for r in cat.items(status=Status.ACCEPTED) if r.item.source != "netaporter")
        cat.set_item_state("netaporter", NEW, product_id=other.product_id)
        before, records = _snapshot(cat), cat.get_meta(MERGE_HOLDS)
        assert records and f"netaporter/{NEW}" in records
        with pytest.raises(MFError, match="names 2 products"):
            publish(cat, root_copy, tmp_path / "ds")
        assert (_snapshot(cat), cat.get_meta(MERGE_HOLDS)) == (before, records)  # updated_at too


def test_a_publish_failing_on_a_local_fault_once_the_holds_are_made_undoes_them(
    catalog_copy, root_copy, tmp_path, monkeypatch
):
    """The plan made again with this run's holds fails reading the folder with a plain OSError (an
    I/O error, not one of the toolkit's refusals): nothing is published, so the holds are undone
    and the catalog is as it was, ``updated_at`` included."""
    import cleaning.publish.plan as plan_mod
    from cleaning.publish import MERGE_HOLDS

    with Catalog(catalog_copy) as cat:
        _relisted(cat, root_copy, colour="neon green")
        before, records = _snapshot(cat), cat.get_meta(MERGE_HOLDS)
        real, calls = plan_mod.read_held_videos, []

        def read_held_videos(out):
            calls.append(out)
            if len(calls) == 3:  # the plan made again once the holds are written
                raise OSError(5, "Input/output error", str(out))
            return real(out)

        monkeypatch.setattr(plan_mod, "read_held_videos", read_held_videos)
        with pytest.raises(OSError, match="Input/output error"):
            publish(cat, root_copy, tmp_path / "ds")
        assert len(calls) == 3
        assert (_snapshot(cat), cat.get_meta(MERGE_HOLDS)) == (before, records)
