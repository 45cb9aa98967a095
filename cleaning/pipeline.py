"""`mf clean`: probe -> video duplicates -> split-screen -> shop pick / shop duplicates -> taxonomy
-> associations.

Shop images: a collected ``shop`` asset is used as is; else the still half of a split-screen
video is saved as one; else one of the carousel ``candidate-shop`` images is picked
(:mod:`cleaning.shop_pick`; too-close scores -> needs_review); else needs_review. Duplicate shop
images only get ``duplicate_of`` (the items keep their videos) and group items for the splits.

Every eligible item ends ``accepted``, ``rejected`` (reason), ``duplicate`` (``duplicate_of``)
or ``needs_review`` (reason). Precedence when several apply: bad media > non-clothing >
duplicate > needs_review > accepted (a non-clothing duplicate is rejected and still records
``duplicate_of``). Reasons start with the step that set them (``probe:``, ``dedup:``,
``splitscreen:``, ``taxonomy:``, ``association:``, ``shop:``) so reruns recognise their own
decisions; items rejected or failed by the collectors are left alone.

Ids: items are ``<source>/<source_id>``; assets are their path relative to the collection root.
Probes, frame hashes and split-screen results are cached by SHA-256 in
``<catalog stem>.cleaning-cache.json`` beside the catalog, so a rerun decodes nothing new.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cleaning.associations import PairScorer, check_associations
from cleaning.config import CleaningConfig
from cleaning.dedup import (
    ImageRecord,
    VideoRecord,
    colour_signature,
    find_image_duplicates,
    find_video_duplicates,
)
from cleaning.fingerprint import fingerprint_video
from cleaning.media import read_image
from cleaning.phash import phash
from cleaning.probe import probe_image, probe_video
from cleaning.shop_pick import Pick, pick_shop
from cleaning.splitscreen import detect_split_screen_file, save_png
from cleaning.taxonomy import classify_item, coverage, load_rules
from schemas.atomic import atomic_write_json, sha256_file
from schemas.catalog import Catalog
from schemas.errors import MediaError
from schemas.geometry import Box
from schemas.items import (
    SOURCE_PARTITION,
    AssetKind,
    Crop,
    ImageProbe,
    MediaAsset,
    SourceItem,
    Status,
    VideoProbe,
)
from schemas.taxonomy import Partition

STEPS = ("probe:", "dedup:", "splitscreen:", "taxonomy:", "association:", "shop:")
ELIGIBLE = {Status.DOWNLOADED, Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW}
IMAGE_KINDS = {AssetKind.SHOP, AssetKind.FRONT, AssetKind.REAR, AssetKind.FABRIC, AssetKind.CANDIDATE_SHOP}
SPLITSCREEN_URL = "splitscreen:"
CANDIDATE_URL = "candidate:"
DERIVED = (SPLITSCREEN_URL, CANDIDATE_URL)
#: file name of a shop image recovered from a split-screen video, beside the video
RECOVERED_SHOP_NAME = "shop-recovered.png"


def item_key(source: str, source_id: str) -> str:
    return f"{source}/{source_id}"


def cache_path(catalog: Catalog) -> Path:
    return catalog.path.with_name(f"{catalog.path.stem}.cleaning-cache.json")


class _Cache:
    """Per-file results keyed by SHA-256 (and the config that produced them)."""

    def __init__(self, path: Path, cfg: CleaningConfig) -> None:
        self.path = path
        self.tag = json.dumps(
            [cfg.probe.model_dump(), cfg.dedup.model_dump(), cfg.splitscreen.model_dump()], sort_keys=True
        )
        self.data: dict[str, Any] = {}
        self.dirty = False
        if path.exists():
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                if raw.get("tag") == self.tag:
                    self.data = raw.get("entries", {})
            except (json.JSONDecodeError, AttributeError):
                self.data = {}

    def get(self, sha: str, what: str) -> Any:
        return self.data.get(sha, {}).get(what)

    def put(self, sha: str, what: str, value: Any) -> None:
        self.data.setdefault(sha, {})[what] = value
        self.dirty = True

    def save(self) -> None:
        if self.dirty:
            atomic_write_json(self.path, {"tag": self.tag, "entries": self.data}, indent=None, sort_keys=True)


@dataclass
class _ItemState:
    row_item: SourceItem
    status: Status = Status.ACCEPTED
    reason: str | None = None
    duplicate_of: str | None = None
    df2_class: int | None = None


def _eligible(row) -> bool:
    if row.status in ELIGIBLE:
        return True
    return row.status == Status.REJECTED and (row.reason or "").startswith(STEPS)


def _partition(source: str) -> Partition:
    return SOURCE_PARTITION.get(source, Partition.HARD)


def clean(
    catalog: Catalog,
    root: str | os.PathLike[str],
    cfg: CleaningConfig | None = None,
    scorer: PairScorer | None = None,
    *,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Run every cleaning step over the catalog and write the decisions back; returns a report."""
    from schemas.cli_support import progress

    cfg = cfg or CleaningConfig()
    root = Path(root)
    cache = _Cache(cache_path(catalog), cfg)
    rules = load_rules(cfg.taxonomy_rules)
    rows = [r for r in catalog.items() if _eligible(r)]
    states = {item_key(r.item.source, r.item.source_id): _ItemState(r.item) for r in rows}
    assets_of: dict[str, list[MediaAsset]] = {}
    updated: list[MediaAsset] = []
    report: dict[str, Any] = {"items": len(rows)}

    # -- 1. probe ----------------------------------------------------------------------
    probe_rejects: Counter[str] = Counter()
    derived_before: list[MediaAsset] = []
    videos: list[VideoRecord] = []
    video_asset: dict[str, MediaAsset] = {}
    video_owner: dict[str, str] = {}
    for r in progress(rows, desc="probe", unit="item", disable=None if show_progress else True):
        key = item_key(r.item.source, r.item.source_id)
        all_assets = catalog.assets(source=r.item.source, source_id=r.item.source_id)
        derived_before.extend(a for a in all_assets if (a.url or "").startswith(DERIVED))
        assets = [a for a in all_assets if not (a.url or "").startswith(DERIVED)]
        good_videos = []
        first_reason = None
        mine: list[MediaAsset] = []
        for a in assets:
            if not a.path or (a.kind != AssetKind.VIDEO and a.kind not in IMAGE_KINDS):
                continue
            path = root / a.path
            sha = a.sha256 or (sha256_file(path) if path.is_file() else None)
            res = cache.get(sha, "probe") if sha else None
            if res is None:
                pr = (
                    probe_video(path, cfg.probe)
                    if a.kind == AssetKind.VIDEO
                    else probe_image(path, cfg.probe)
                )
                res = {"ok": pr.ok, "reason": pr.reason, "probe": pr.probe.model_dump() if pr.probe else None}
                if sha:
                    cache.put(sha, "probe", res)
            probe_model = VideoProbe if a.kind == AssetKind.VIDEO else ImageProbe
            probe_obj = probe_model.model_validate(res["probe"]) if res["probe"] else None
            a = a.model_copy(
                update={
                    "sha256": sha,
                    "probe": probe_obj,
                    "crop": None,
                    "duplicate_of": None,
                    "status": Status.ACCEPTED if res["ok"] else Status.REJECTED,
                    "reason": None if res["ok"] else f"probe: {res['reason']}",
                }
            )
            if not res["ok"]:
                probe_rejects[res["reason"].split(":")[0]] += 1
                first_reason = first_reason or (a.kind, res["reason"])
            if a.kind == AssetKind.VIDEO and res["ok"]:
                good_videos.append(a)
            mine.append(a)
        updated.extend(mine)
        assets_of[key] = mine
        st = states[key]
        if not good_videos:
            why = (
                f"{first_reason[1]}"
                if first_reason and first_reason[0] == AssetKind.VIDEO
                else "no video file"
            )
            st.status, st.reason = Status.REJECTED, f"probe: no valid video ({why})"
            continue
        for a in good_videos:
            p: VideoProbe = a.probe  # type: ignore[assignment]
            hashes = cache.get(a.sha256, "hashes")
            if hashes is None:
                try:
                    h = fingerprint_video(root / a.path, p.frames, p.fps, p.width, p.height, cfg.dedup)
                except MediaError as exc:  # decodes at the probe points but not everywhere
                    cache.put(
                        a.sha256, "probe", {"ok": False, "reason": f"corrupt: {exc.message}", "probe": None}
                    )
                    bad = a.model_copy(
                        update={"status": Status.REJECTED, "reason": f"probe: corrupt: {exc.message}"}
                    )
                    updated[updated.index(a)] = bad
                    continue
                cache.put(a.sha256, "hashes", [format(int(x), "016x") for x in h])
            else:
                h = np.array([int(x, 16) for x in hashes], dtype=np.uint64)
            videos.append(
                VideoRecord(a.path, a.sha256, h, p.frames, p.fps, p.width, p.height, _partition(a.source))
            )
            video_asset[a.path] = a
            video_owner[a.path] = key
    report["probe_rejected"] = dict(probe_rejects)

    # -- 2. duplicate videos -------------------------------------------------------------
    dup = find_video_duplicates(videos, cfg.dedup)
    for path, kept in dup.duplicate_of.items():
        a = video_asset[path]
        video_asset[path] = a.model_copy(
            update={
                "status": Status.DUPLICATE,
                "duplicate_of": kept,
                "reason": f"dedup: {dup.kind[path]} duplicate of {kept}",
            }
        )
    videos_of: dict[str, list[str]] = defaultdict(list)
    for p, o in video_owner.items():
        videos_of[o].append(p)
    for key, st in states.items():
        if st.status == Status.REJECTED:
            continue
        mine = videos_of.get(key, [])
        if not mine:
            st.status, st.reason = Status.REJECTED, "probe: no valid video (none decodes fully)"
        elif all(p in dup.duplicate_of for p in mine):
            kept = dup.duplicate_of[mine[0]]
            st.status, st.duplicate_of = Status.DUPLICATE, video_owner[kept]
            st.reason = f"dedup: {dup.kind[mine[0]]} duplicate of {video_owner[kept]}"
    report["duplicate_videos"] = dict(Counter(dup.kind.values()))
    report["duplicate_clusters"] = len(dup.clusters)

    # -- 3. split-screen -----------------------------------------------------------------
    recovered: list[MediaAsset] = []
    recovered_items: set[str] = set()
    n_split = 0
    quiet = None if show_progress else True
    for path in progress(sorted(video_asset), desc="split-screen", unit="video", disable=quiet):
        a = video_asset[path]
        res = cache.get(a.sha256, "splitscreen")
        det = None
        if res is None:
            det = detect_split_screen_file(root / path, a.probe.frames, cfg.splitscreen)
            res = {"found": det is not None}
            if det is not None:
                res.update(
                    layout=det.layout,
                    still_half=det.still_half,
                    still_box=det.still_box,
                    moving_box=det.moving_box,
                )
            cache.put(a.sha256, "splitscreen", res)
        if not res["found"]:
            continue
        n_split += 1
        video_asset[path] = a.model_copy(update={"crop": Crop(box=Box(res["moving_box"]))})
        key = video_owner[path]
        has_shop = any(x.kind == AssetKind.SHOP and x.status == Status.ACCEPTED for x in assets_of[key])
        if has_shop or key in recovered_items:
            continue
        # the item has no shop image: the still half becomes one (never overwrites a collected file)
        shop_rel = str(Path(path).parent / RECOVERED_SHOP_NAME)
        if not (root / shop_rel).is_file():
            det = det or detect_split_screen_file(root / path, a.probe.frames, cfg.splitscreen)
            if det is None:
                continue
            save_png(root / shop_rel, det.still_image)
        h, w = read_image(root / shop_rel).shape[:2]
        recovered_items.add(key)
        recovered.append(
            MediaAsset(
                source=a.source,
                source_id=a.source_id,
                kind=AssetKind.SHOP,
                url=f"{SPLITSCREEN_URL}{path}",
                path=shop_rel,
                sha256=sha256_file(root / shop_rel),
                size=(root / shop_rel).stat().st_size,
                content_type="image/png",
                probe=ImageProbe(width=w, height=h),
                status=Status.ACCEPTED,
            )
        )
    report["split_screen_videos"] = n_split
    report["shops_recovered"] = len(recovered)

    # -- 4. shop images: pick one among carousel candidates, find duplicates -------------------
    picked = 0
    for key, st in states.items():
        if st.status == Status.REJECTED or key in recovered_items:
            continue
        mine = assets_of.get(key, [])
        if any(x.kind == AssetKind.SHOP and x.status == Status.ACCEPTED for x in mine):
            continue
        cands = sorted(
            (x for x in mine if x.kind == AssetKind.CANDIDATE_SHOP and x.status == Status.ACCEPTED),
            key=lambda x: x.path,
        )
        vids = sorted(p for p in videos_of.get(key, []))
        if not cands or not vids:
            continue
        vsha = video_asset[vids[0]].sha256
        ckey = "pick:" + ",".join(x.sha256 or x.path for x in cands) + (":matcher" if scorer else ":colour")
        cached = None if scorer is not None else cache.get(vsha, ckey)
        if cached is None:
            pick = pick_shop(root / vids[0], [root / c.path for c in cands], scorer)
            cached = {"index": pick.index, "scores": pick.scores, "plain": pick.plain, "method": pick.method}
            if scorer is None:
                cache.put(vsha, ckey, cached)
        c = cands[cached["index"]]
        pick = Pick(cached["index"], cached["scores"], cached["plain"], cached["method"])
        ranked = sorted((sc for sc, pl in zip(pick.scores, pick.plain, strict=True) if pl), reverse=True)
        if st.status == Status.ACCEPTED and len(ranked) >= 2 and ranked[0] - ranked[1] < cfg.pick_margin:
            st.status, st.reason = (
                Status.NEEDS_REVIEW,
                f"shop: candidates too alike to pick one (by {pick.method}, scores {pick.scores})",
            )
        recovered.append(
            c.model_copy(
                update={
                    "kind": AssetKind.SHOP,
                    "url": f"{CANDIDATE_URL}{c.path}",
                    "reason": f"shop: picked among {len(cands)} candidates by "
                    f"{pick.method} (scores {pick.scores})",
                }
            )
        )
        picked += 1
    report["shops_picked_from_candidates"] = picked
    final_assets = [x for x in updated if x.kind != AssetKind.VIDEO] + list(video_asset.values()) + recovered
    final_assets += [x for x in updated if x.kind == AssetKind.VIDEO and x.path not in video_asset]
    new_keys = {(x.source, x.source_id, x.kind, x.url) for x in recovered}
    for old in derived_before:  # a derived shop image of an earlier run that no longer applies
        if (old.source, old.source_id, old.kind, old.url) not in new_keys:
            final_assets.append(
                old.model_copy(
                    update={"status": Status.REJECTED, "reason": "shop: superseded by a later run"}
                )
            )
    shops: list[ImageRecord] = []
    shop_asset: dict[str, MediaAsset] = {}
    shop_items: set[str] = set()
    for x in final_assets:
        if x.kind == AssetKind.SHOP and x.status == Status.ACCEPTED:
            key = item_key(x.source, x.source_id)
            if key in states and key not in shop_items:
                shop_items.add(key)
                code, colour = cache.get(x.sha256, "phash"), cache.get(x.sha256, "colour")
                if code is None or colour is None:
                    img = read_image(root / x.path)
                    code = format(phash(img, cfg.dedup.crop_fraction), "016x")
                    colour = colour_signature(img).tolist()
                    cache.put(x.sha256, "phash", code)
                    cache.put(x.sha256, "colour", colour)
                shops.append(
                    ImageRecord(
                        x.path,
                        x.sha256,
                        int(code, 16),
                        x.probe.width,
                        x.probe.height,
                        _partition(x.source),
                        np.array(colour, np.uint8),
                    )
                )
                shop_asset[x.path] = x
    img_dup = find_image_duplicates(shops, cfg.dedup)
    for i, x in enumerate(final_assets):
        if x.path in img_dup.duplicate_of and x.kind == AssetKind.SHOP:
            kept = img_dup.duplicate_of[x.path]
            final_assets[i] = x.model_copy(update={"duplicate_of": kept})
    report["duplicate_shop_images"] = len(img_dup.duplicate_of)
    for key, st in states.items():
        if st.status not in (Status.REJECTED, Status.DUPLICATE) and key not in shop_items:
            st.status, st.reason = (
                Status.NEEDS_REVIEW,
                "shop: no shop image (none collected, not split-screen)",
            )

    # -- 5. taxonomy ---------------------------------------------------------------------
    tax = []
    for _key, st in states.items():
        res = classify_item(st.row_item, rules)
        tax.append(res)
        st.df2_class = res.df2_class
        if st.status == Status.REJECTED:
            continue
        if res.status == "rejected":
            st.status, st.reason = Status.REJECTED, res.reason
        elif st.status == Status.DUPLICATE:
            continue
        elif res.status == "needs_review" and st.status == Status.ACCEPTED:
            st.status, st.reason = Status.NEEDS_REVIEW, res.reason
    report["taxonomy"] = coverage(tax)

    # -- 6. write back ---------------------------------------------------------------------
    catalog.upsert_assets(final_assets)
    taken: Counter[str] = Counter(st.row_item.source_id for st in states.values())
    for _key, st in states.items():
        it = st.row_item
        pid = it.source_id if taken[it.source_id] == 1 else f"{it.source}-{it.source_id}"
        catalog.set_item_state(
            it.source,
            it.source_id,
            status=st.status,
            reason=st.reason,
            duplicate_of=st.duplicate_of,
            product_id=pid,
            partition=str(_partition(it.source)),
            df2_class=st.df2_class,
        )
    cache.save()

    # -- 7. associations (optional) --------------------------------------------------------
    if scorer is not None:
        flags = check_associations(catalog, root, scorer, cfg.match_threshold)
        report["association_flagged"] = len({(f.source, f.source_id) for f in flags})
    report["status"] = dict(sorted(Counter(str(st.status) for st in states.values()).items()))
    if scorer is not None:
        report["status"] = dict(
            sorted(
                Counter(
                    str(catalog.get_item(st.row_item.source, st.row_item.source_id).status)
                    for st in states.values()
                ).items()
            )
        )
    catalog.log_event("clean", json.dumps({k: report[k] for k in ("items", "status")}, sort_keys=True))
    return report


def duplicate_groups(catalog: Catalog) -> dict[str, str]:
    """Item key -> the item key it ultimately follows (its duplicate representative, or itself).

    Items linked by duplicate shop images are grouped too (their shop images must not land in
    different splits). Used by :mod:`cleaning.splits`.
    """
    from cleaning.mih import UnionFind

    uf = UnionFind()
    owner_of_path: dict[str, str] = {}
    assets = catalog.assets()
    for a in assets:
        if a.path:
            owner_of_path[a.path] = item_key(a.source, a.source_id)
    for r in catalog.items():
        key = item_key(r.item.source, r.item.source_id)
        uf.add(key)
        if r.duplicate_of:
            uf.union(key, r.duplicate_of)
    for a in assets:
        if a.duplicate_of and a.duplicate_of in owner_of_path:
            uf.union(item_key(a.source, a.source_id), owner_of_path[a.duplicate_of])
    groups: dict[object, list[str]] = defaultdict(list)
    for k in list(uf.parent):
        groups[uf.find(k)].append(str(k))
    out = {}
    for members in groups.values():
        rep = min(members)
        for m in members:
            out[m] = rep
    return out
