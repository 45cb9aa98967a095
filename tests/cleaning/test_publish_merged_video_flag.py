"""A flagged video that another item brought into a product holds that item back, never the
product's own item, and its accept gives the product back whole.

Before: ``mf-tracklets build --catalog`` recorded the flag of the merged product's second video on
the product's item; the next publish held the product back (undoing the merge), and no accept
could lift the hold: it named a video stem the dataset no longer had (``/work/notes/h_walk.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from annotations.config import ReviewConfig
from annotations.settle import settle_flags
from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.dataset import read_entry_rows
from schemas.items import Status
from schemas.official import read_official
from schemas.review import flag_video, held_for_review, published_ids, record_decision
from tests.annotations.test_settle import _write  # the builder's flagged file of a job's video
from tests.cleaning.test_publish_relisting import _relist

NEW = "0000001"


@dataclass
class Job:
    """What the end-of-build pass reads of the builder's job of one video."""

    video_path: str
    product_id: str
    index: int

    @property
    def stem(self) -> str:
        return Path(self.video_path).stem


def _published(out: Path) -> dict[str, list[str]]:
    """Product -> the items its published videos came from (``metadata.video_items``)."""
    split = {**read_official(out / "train.json"), **read_official(out / "test.json")}
    rows = read_entry_rows(out / "entries.jsonl")
    return {pid: list(rows[pid]["metadata"]["video_items"]) for pid in split}


def _item(cat: Catalog, source_id: str):
    return next(r for r in cat.items() if r.item.source_id == source_id)


def merge_and_flag(cat: Catalog, root: Path, out: Path) -> tuple[str, str, list[Job]]:
    """Publish ``out``, let NEW join the first train product with its shop image, publish again,
    and write the builder's files of that product's two videos: the first passing, the second
    (NEW's) flagged. Returns (product id, the product's own item, the two videos' jobs)."""
    publish(cat, root, out)
    pid, other = sorted(read_official(out / "train.json"))[:2]
    own = _item(cat, pid).item.source_id
    _relist(cat, root, pid, NEW, other)  # NEW joins pid with its shop image
    publish(cat, root, out)
    jobs = [Job(f"videos/{pid}_{i}.mp4", pid, i) for i in range(2)]
    _write(out, jobs[0], 0.9)
    _write(out, jobs[1], 0.1)
    return pid, own, jobs


def test_the_flag_of_a_merged_video_holds_its_own_item_and_its_accept_gives_the_product_back(
    catalog_copy, root_copy, tmp_path
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        # the build flags the merged product's second video (NEW's), not its first
        pid, own, jobs = merge_and_flag(cat, root_copy, out)
        merged = _published(out)[pid]
        assert merged == [own, NEW], merged
        # an older builder had recorded that flag on the product's item, under the merged name
        source = _item(cat, pid).item.source
        flag_video(cat, source, own, f"{pid}_1", "low confidence: det_mean 0.1 < 0.2", None)
        assert _item(cat, pid).status == Status.NEEDS_REVIEW
        settled = settle_flags(out, jobs, ReviewConfig(), fresh={0, 1}, cat=cat)
        assert [i for i, _ in settled.flagged] == [1]
        for p in (out / "tracklets").glob(f"{pid}_*.json"):  # stand-ins (not the videos' frames)
            p.unlink()
        # the flag holds the item that owns the video, named as that item's own video; the
        # product's item is released (the older record withdrawn)
        assert (_item(cat, pid).status, _item(cat, pid).reason) == (Status.ACCEPTED, None)
        new = _item(cat, NEW)
        assert new.status == Status.NEEDS_REVIEW and new.reason.startswith(f"tracklets: {NEW}_0: ")
        res = publish(cat, root_copy, out)
        # nothing flagged is published: NEW is held back, pid published with its own video only
        assert {h["item"] for h in res["held_back"]} >= {f"{new.item.source}/{NEW}"}
        assert NEW not in {i for items in _published(out).values() for i in items}
        assert _published(out)[pid] == [own]
        # review lists NEW under its own name with the reason naming that very video
        named = {h.product_id: h for h in held_for_review(cat, set(_published(out)))}
        assert [v for v, _ in named[NEW].videos] == [f"videos/{NEW}_0.mp4"] and not named[NEW].stale
        record_decision(cat, video=f"videos/{NEW}_0.mp4", product_id=NEW, kind="accept")
        assert _item(cat, NEW).status == Status.ACCEPTED
        res = publish(cat, root_copy, out)
    assert res["verify"]["ok"] and not res["failed"], (res["verify"], res["failed"])
    assert _published(out)[pid] == [own, NEW], "the product did not come back whole"
    with Catalog(catalog_copy, read_only=True) as cat:
        rows = read_entry_rows(out / "entries.jsonl")
        assert NEW not in {h.product_id for h in held_for_review(cat, published_ids(_published(out), rows))}
