"""What the cleaning steps pass on: one typed state per run instead of loose dictionaries.

:class:`CleaningState` holds one :class:`ItemState` per eligible catalog item (its decision so far
and its assets) and one :class:`VideoState` per accepted video (its asset as the steps update it,
its owner and its fingerprint). Steps read and change this state; only the ``record`` step
writes it to the catalog.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schemas.catalog import Catalog, ItemRow
from schemas.items import (
    DERIVED_URLS,
    SOURCE_PARTITION,
    AssetKind,
    MediaAsset,
    SourceItem,
    Status,
    VideoProbe,
    item_partition,
)
from schemas.items import MERGE_PREFIX as MERGE_PREFIX  # publish's hold reason, re-exported
from schemas.review import rejected_by_review
from schemas.taxonomy import Partition

if TYPE_CHECKING:  # OpenCV behind it: `mf splits`, `mf stats` and every --help load this module
    from cleaning.fingerprint import VideoFingerprint

#: reasons set by cleaning start with these, so a rerun recognises (and redoes) its own decisions;
#: a needs_review with another reason (``tracklets: ...``, a reviewer's) is another stage's, and
#: a rerun keeps it unless cleaning now rejects the item or finds it a duplicate
REASON_PREFIXES = ("probe:", "dedup:", "splitscreen:", "taxonomy:", "association:", "shop:")
#: reason prefix of the association check's flags (kept by ``record`` until the check runs again)
ASSOCIATION_PREFIX = "association:"
ELIGIBLE = {Status.DOWNLOADED, Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW}
#: video asset states of a probed video (kept, or the duplicate of another)
LISTED_VIDEO = {Status.ACCEPTED, Status.DUPLICATE}
IMAGE_KINDS = {AssetKind.SHOP, AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC, AssetKind.CANDIDATE_SHOP}


def item_key(source: str, source_id: str) -> str:
    """``<source>/<source_id>``: how cleaning names an item (also in ``duplicate_of``)."""
    return f"{source}/{source_id}"


def eligible(row: ItemRow) -> bool:
    """Items cleaning (re)decides: downloaded or decided before by cleaning itself."""
    if row.status in ELIGIBLE:
        return True
    return row.status == Status.REJECTED and (row.reason or "").startswith(REASON_PREFIXES)


def left_as_is_why(row: ItemRow) -> str:
    """Why cleaning leaves an item it does not decide (:func:`eligible`) as it is, for the report."""
    if rejected_by_review(row.status, row.reason):
        return "rejected in review"
    if row.status == Status.REJECTED:
        return "rejected by a collector"
    return str(row.status)  # discovered or failed: not collected yet


@dataclass(frozen=True)
class Failure:
    """An item a step could not process (an unexpected error); it is not recorded this run."""

    item: str
    step: str
    error: str


@dataclass
class ItemState:
    """One item: its decision so far and its assets."""

    item: SourceItem
    #: the item's assets as the catalog holds them (without the shop images cleaning derived)
    collected: list[MediaAsset] = field(default_factory=list)
    #: shop images an earlier run derived; those this run does not derive again are superseded
    derived_before: list[MediaAsset] = field(default_factory=list)
    #: this run's checked copies of the collected media (set by the probe step)
    assets: list[MediaAsset] = field(default_factory=list)
    status: Status = Status.ACCEPTED
    reason: str | None = None
    duplicate_of: str | None = None
    df2_class: int | None = None
    failure: Failure | None = None
    #: the split of an item the catalog held accepted before this run (a published product;
    #: None otherwise, a duplicate ``mf splits rebuild`` placed with its group included): it keeps
    #: its video against a copy collected later (``video_duplicates``)
    placed: str | None = None

    @property
    def key(self) -> str:
        return item_key(self.item.source, self.item.source_id)

    @property
    def partition(self) -> Partition:
        """The item's partition (its source's, or the one its manifest row gave)."""
        return item_partition(self.item)

    def decide(self, status: Status, reason: str | None, duplicate_of: str | None = None) -> None:
        self.status, self.reason = status, reason
        if duplicate_of is not None:
            self.duplicate_of = duplicate_of

    def has_shop(self) -> bool:
        """True when a collected shop image passed the probe."""
        return any(a.kind == AssetKind.SHOP and a.status == Status.ACCEPTED for a in self.assets)


@dataclass
class VideoState:
    """One video that passed the probe; ``asset`` is its current version (duplicate, crop...)."""

    asset: MediaAsset
    owner: str
    fingerprint: VideoFingerprint | None = None
    #: SHA-256 of its video stream's packets (:func:`movingfashion.media.probe.video_stream_digest`)
    stream: str | None = None

    @property
    def probe(self) -> VideoProbe:
        return self.asset.probe  # type: ignore[return-value]


@dataclass
class CleaningState:
    """Everything the steps decide in one run, keyed by item key and by video path."""

    items: dict[str, ItemState] = field(default_factory=dict)
    #: accepted videos by path (relative to the collection root), in probe order
    videos: dict[str, VideoState] = field(default_factory=dict)
    #: shop images derived this run (split-screen still halves, carousel picks), in step order
    derived: list[MediaAsset] = field(default_factory=list)
    #: shop image path -> the kept path of its duplicate cluster
    shop_duplicate_of: dict[str, str] = field(default_factory=dict)
    #: items ``record`` left needs_review by an earlier association flag although this run
    #: accepts them: item key -> (status, reason) this run decided, written by ``associations``
    #: once it has checked them again (an interrupted rerun keeps the flag)
    held: dict[str, tuple[Status, str | None]] = field(default_factory=dict)
    #: videos of the items a reviewer rejected (reason ``review: ...``), by path: cleaning does not
    #: decide those items again, but their videos take part in dedup, so that a duplicate of a
    #: rejected video is not accepted without a reviewer seeing it (``video_duplicates``)
    review_rejected: dict[str, VideoState] = field(default_factory=dict)
    #: item key -> its partition, for every item above (a ``local`` item's is its manifest's)
    partitions: dict[str, Partition] = field(default_factory=dict)
    #: the catalog's items this run does not decide, counted by why (:func:`left_as_is_why`)
    left_as_is: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> CleaningState:
        """The eligible items of the catalog, with their assets, each starting accepted."""
        state = cls()
        for row in catalog.items():
            state.partitions[item_key(row.item.source, row.item.source_id)] = item_partition(row.item)
            if rejected_by_review(row.status, row.reason):
                state._add_review_rejected(row, catalog)
            if not eligible(row):
                state.left_as_is[left_as_is_why(row)] += 1
                continue
            assets = catalog.assets(source=row.item.source, source_id=row.item.source_id)
            it = ItemState(
                row.item,
                collected=[a for a in assets if not (a.url or "").startswith(DERIVED_URLS)],
                derived_before=[a for a in assets if (a.url or "").startswith(DERIVED_URLS)],
                placed=row.split if row.status == Status.ACCEPTED else None,
            )
            state.items[it.key] = it
        return state

    def _add_review_rejected(self, row: ItemRow, catalog: Catalog) -> None:
        """Keep the probed videos of an item review rejected (the others say nothing to dedup)."""
        key = item_key(row.item.source, row.item.source_id)
        for a in catalog.assets(source=row.item.source, source_id=row.item.source_id):
            if a.kind == AssetKind.VIDEO and a.sha256 and a.probe is not None and a.status in LISTED_VIDEO:
                self.review_rejected[a.path] = VideoState(a, key)

    def partition(self, asset: MediaAsset) -> Partition:
        """The partition of the item ``asset`` belongs to."""
        key = item_key(asset.source, asset.source_id)
        return self.partitions.get(key) or SOURCE_PARTITION.get(asset.source, Partition.HARD)

    def live(self) -> Iterator[ItemState]:
        """Items still processed (no step failed on them), in catalog order."""
        return (it for it in list(self.items.values()) if it.failure is None)

    def fail(self, key: str, step: str, error: str) -> None:
        """Take an item out of this run: it is listed as failed and its catalog rows stay as they were."""
        it = self.items[key]
        if it.failure is None:
            it.failure = Failure(key, step, error)
            # its videos entered ``videos`` from its own assets (probe): no scan of every video
            for a in it.assets:
                v = self.videos.get(a.path)
                if v is not None and v.owner == key:
                    del self.videos[a.path]

    def failures(self) -> list[Failure]:
        return [it.failure for it in self.items.values() if it.failure is not None]

    def videos_by_owner(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for path, v in self.videos.items():
            out[v.owner].append(path)
        return out

    def final_assets(self) -> list[MediaAsset]:
        """Every asset the run decided about, as it goes into the catalog.

        Collected images, accepted videos, derived shop images, rejected videos, then derived shop
        images of an earlier run that no longer apply (rejected as superseded); duplicate shop
        images carry ``duplicate_of``.
        """
        live = [it for it in self.items.values() if it.failure is None]
        keys = {it.key for it in live}
        probed = [a for it in live for a in it.assets]
        out = [a for a in probed if a.kind != AssetKind.VIDEO]
        out += [v.asset for v in self.videos.values() if v.owner in keys]
        out += [a for a in self.derived if item_key(a.source, a.source_id) in keys]
        out += [a for a in probed if a.kind == AssetKind.VIDEO and a.path not in self.videos]
        new = {(a.source, a.source_id, a.kind, a.url) for a in self.derived}
        for old in (a for it in live for a in it.derived_before):
            if (old.source, old.source_id, old.kind, old.url) not in new:
                out.append(
                    old.model_copy(
                        update={"status": Status.REJECTED, "reason": "shop: superseded by a later run"}
                    )
                )
        dup = self.shop_duplicate_of
        return [
            a.model_copy(update={"duplicate_of": dup[a.path]})
            if a.kind == AssetKind.SHOP and a.path in dup
            else a
            for a in out
        ]
