"""The videos whose tracklet files publish keeps though it lists them in no split file: those
of products held back for review (:func:`held_videos`) and of products that failed in this
run (:func:`failed_videos`), recorded in ``.publish-held.json``."""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Mapping
from pathlib import Path
from typing import Any

from cleaning.publish.products import _Group, _key
from cleaning.publish.recipes import _video_recipe
from cleaning.publish.tracklet_file import read_tracklet_file
from movingfashion.archive.verify import HELD_TRACKLETS
from schemas.atomic import write_if_changed
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry
from schemas.items import AssetKind, Status
from schemas.official import VIDEO_DIR, OfficialSplit
from schemas.review import apply_review, held_for_review


def held_videos(
    catalog: Catalog,
    entries: list[DatasetEntry],
    recorded: Mapping[str, Any],
    *,
    dataset: Path | None = None,
    known: Container[str] = (),
) -> dict[str, dict[str, str]]:
    """The videos of the products this publish holds back for review whose tracklet files it
    keeps: those :func:`schemas.review.held_for_review` names (under their publish names) of the
    items that are ``needs_review``, or accepted and still unpublished (not rejected in review),
    and that a publish made (``recorded``: the previous state and held records) from the
    collected file and recipe the catalog holds now. Video -> its product and how it was made
    (the :data:`HELD_TRACKLETS` record). A product taken down (rejected) or a video replaced
    is not held: its files go.

    With ``dataset``, a held video no record names (neither ``recorded`` nor ``known``, the
    media files publish wrote) whose tracklet file there is about it and its product is held
    too, as made from the catalog's collected file and recipe: the file an older toolkit kept
    when it held the video back, before held videos were recorded (:func:`_older_held_file`)."""
    published = {e.product_id for e in entries}
    for e in entries:
        published.update(str(m) for m in e.metadata.get("merged_product_ids", []))
    held = [
        h
        for h in held_for_review(catalog, published)
        if h.row.status in (Status.NEEDS_REVIEW, Status.ACCEPTED)
    ]
    kept = {_key(r) for r in apply_review(catalog, [h.row for h in held])}  # rejected in review: out
    out: dict[str, dict[str, str]] = {}
    for h in held:
        if _key(h.row) not in kept:
            continue
        for rel, asset in h.videos:
            rec = recorded.get(rel)
            # "item": the source id of the item it came from (a world scorer maps it by that; the
            # product id has the source's prefix, local-..., tiktok-...)
            if rec and asset.sha256 in (None, rec["src"]) and rec["recipe"] == _video_recipe(asset):
                out[rel] = {
                    "product_id": h.product_id,
                    "src": rec["src"],
                    "recipe": rec["recipe"],
                    "item": h.row.item.source_id,
                }
            elif (
                rec is None
                and rel not in known
                and asset.sha256 is not None
                and dataset is not None
                and _older_held_file(dataset, rel, h.product_id)
            ):
                out[rel] = {
                    "product_id": h.product_id,
                    "src": asset.sha256,
                    "recipe": _video_recipe(asset),
                    "item": h.row.item.source_id,
                }
    return out


def failed_videos(
    groups: Iterable[_Group],
    old_splits: Mapping[str, OfficialSplit],
    state: Mapping[str, Any],
    old_held: Mapping[str, Any],
) -> dict[str, dict[str, str]]:
    """The videos of the products that failed in this publish (``groups``) whose tracklet files it
    keeps, recorded as :func:`held_videos` records them: each video an earlier publish listed for
    the product (``old_splits``) and made (``state``), and each one the last publish kept for it
    (``old_held``: it failed then too). Their ground truth comes back with the first publish
    that makes the video again from the same collected file and recipe (:func:`_held_tracklets`)
    instead of being built and reviewed again."""
    out: dict[str, dict[str, str]] = {}
    for g in groups:
        items = {
            a.sha256: r.item.source_id
            for r in g.rows
            for a in g.assets.get(_key(r), [])
            if a.kind == AssetKind.VIDEO and a.sha256
        }
        listed = [
            rel for split in old_splits.values() if (e := split.get(g.product_id)) for rel in e.video_paths
        ]
        for rel in listed:
            rec = state.get(rel)
            if rec and rel.startswith(f"{VIDEO_DIR}/"):
                out[rel] = {
                    "product_id": g.product_id,
                    "src": rec["src"],
                    "recipe": rec["recipe"],
                    "item": items.get(rec["src"], g.rep.item.source_id),
                }
        out.update({rel: dict(rec) for rel, rec in old_held.items() if rec["product_id"] == g.product_id})
    return out


def _older_held_file(dataset: Path, video: str, product_id: str) -> bool:
    """Whether the tracklet file of held-back ``video`` (``tracklets/<video stem>.json``: a held
    video is listed by no split file, so its file is not per product,
    :func:`schemas.tracklet_names.tracklet_stem`) reads as a tracklet file about ``video`` and
    ``product_id`` (:func:`_kept_file_tracklet` reads it so once the product is accepted); a
    symlinked one, unreadable or not a tracklet file, is left to the sweep / mf verify."""
    return read_tracklet_file(dataset, video, product_id, shared=False, no_links=True) is not None


def _write_held(out: Path, held: Mapping[str, Any]) -> None:
    """Record the held-back videos whose tracklet files publish keeps (:data:`HELD_TRACKLETS`;
    none: no file)."""
    path = out / HELD_TRACKLETS
    if held:
        write_if_changed(path, json.dumps(held, indent=1, sort_keys=True).encode() + b"\n")
    else:
        path.unlink(missing_ok=True)
