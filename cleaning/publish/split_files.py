"""Writing train.json / test.json in the official format (:func:`_write_official_splits`),
keeping the tracklets already built for videos made from the same collected file and recipe,
and those of videos held back before."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cleaning.publish.state import _made_from
from cleaning.publish.tracklet_file import read_tracklet_file
from schemas.atomic import json_bytes, write_if_changed
from schemas.dataset import DatasetEntry, Split
from schemas.official import OfficialEntry, OfficialSplit, dump_official
from schemas.taxonomy import PARTITION_SOURCE_CODE
from schemas.tracklet_names import shared_videos


def _kept_tracklets(
    e: DatasetEntry,
    prev: OfficialEntry | None,
    old_state: Mapping[str, Any],
    new_state: Mapping[str, Any],
) -> list[Any]:
    """The tracklets of each of ``e``'s videos that an earlier publish's entry of the product,
    ``prev``, holds for the same video: the file made from the same collected video with the
    same recipe (whatever its index now: a new video may come before it), or, where either
    publish recorded nothing, the same list of paths; ``{}`` for the others."""
    if prev is None:
        return [{} for _ in e.video_paths]
    same_paths = prev.video_paths == e.video_paths and len(prev.tracklets) == len(e.video_paths)
    out: list[Any] = []
    for i, rel in enumerate(e.video_paths):
        now = _made_from(new_state, rel)
        got: Any = {}
        for j, old_rel in enumerate(prev.video_paths[: len(prev.tracklets)]):
            was = _made_from(old_state, old_rel)
            if (now is not None and was is not None and now == was) or (
                (now is None or was is None) and same_paths and i == j
            ):
                got = prev.tracklets[j]
                break
        out.append(got)
    return out


def _held_tracklets(
    out: Path,
    e: DatasetEntry,
    trk: list[Any],
    old_held: Mapping[str, Any],
    new_state: Mapping[str, Any],
    shared: frozenset[str],
) -> list[Any]:
    """``trk`` (:func:`_kept_tracklets`), with the ground truth of the tracklet file the last
    publish kept for a video of ``e`` it held back (``old_held``) where ``trk`` has none, when
    this publish made the video from the same collected file with the same recipe (``shared``:
    the videos several products of this publish list, whose files are per product)."""
    got = list(trk)
    for i, rel in enumerate(e.video_paths):
        rec = old_held.get(rel)
        if got[i] or rec is None or rec["product_id"] != e.product_id:
            continue
        if _made_from(old_held, rel) == _made_from(new_state, rel):
            got[i] = _kept_file_tracklet(out, rel, e.product_id, shared=rel in shared)
    return got


def _kept_file_tracklet(out: Path, video: str, product_id: str, *, shared: bool) -> dict[str, Any]:
    """The ground truth of the video's tracklet file for ``product_id`` (``tracklets/<video
    stem>.json``, or ``<video stem>@<product>.json`` when several products list it: ``shared``,
    :func:`schemas.tracklet_names.tracklet_stem`) in the official form, when the file reads and
    is about ``video`` and ``product_id``; ``{}`` otherwise (the builder builds it)."""
    vt = read_tracklet_file(out, video, product_id, shared=shared)
    return vt.official() if vt is not None else {}


def _write_official_splits(
    out: Path,
    entries: list[DatasetEntry],
    old_splits: dict[str, OfficialSplit],
    old_state: Mapping[str, Any] | None = None,
    new_state: Mapping[str, Any] | None = None,
    old_held: Mapping[str, Any] | None = None,
    without_tracklets: list[str] | None = None,
) -> set[str]:
    """train.json / test.json, each written only when its bytes change, and the videos they list
    now (those listed with no tracklet box are appended to ``without_tracklets``); tracklets already
    written for unchanged videos are kept
    (:func:`_kept_tracklets`; ``old_state`` / ``new_state``: the previous and this publish's
    records of the media files), and those of the videos the last publish held back taken from
    the tracklet files it kept (:func:`_held_tracklets`, ``old_held``); a product's keys that
    are no field of the format stay as the earlier split files held them."""
    old_state, new_state, old_held = old_state or {}, new_state or {}, old_held or {}
    shared = shared_videos((e.product_id, e.video_paths) for e in entries)
    listed: set[str] = set()
    for split in (Split.TRAIN, Split.TEST):
        path = out / f"{split}.json"
        old = old_splits.get(str(split), {})
        official = {}
        for e in entries:
            if e.split != split:
                continue
            trk = _kept_tracklets(e, old.get(e.product_id), old_state, new_state)
            trk = _held_tracklets(out, e, trk, old_held, new_state, shared)
            if without_tracklets is not None:
                without_tracklets.extend(rel for rel, t in zip(e.video_paths, trk, strict=True) if not t)
            # keys of the product's entry that are no field of the format (added by hand or by
            # another tool) stay, in their place, wherever the product was listed before
            prev = old.get(e.product_id) or next(
                (s[e.product_id] for s in old_splits.values() if e.product_id in s), None
            )
            official[e.product_id] = OfficialEntry(
                video_paths=e.video_paths,
                img_path=e.img_path,
                source=PARTITION_SOURCE_CODE[e.partition],
                tracklets=trk,
                **((prev.model_extra or {}) if prev is not None else {}),
            )
            if prev is not None:
                official[e.product_id]._key_order = prev._key_order
            listed.update(e.video_paths)
        write_if_changed(path, json_bytes(path, dump_official(official), indent=None))
    return listed
