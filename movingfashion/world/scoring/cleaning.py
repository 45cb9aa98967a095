"""Score a cleaned catalog against a world's truth (``mf stats --truth WORLD``, the demo).

Duplicate precision/recall over *pairs of videos in one cluster* (so the figures do not depend
on which member the keep rule keeps), recall per duplicate kind, split-screen detection
precision/recall/F1 and how closely the recovered shop images match the world's still halves,
taxonomy accuracy, non-clothing rejection, the carousel shop pick and the wrong-association
check's precision/recall (per planted kind; "not run" when it was switched off). That check is
scored on the wrong pairs the world plants only, a pair counted as caught when cleaning held its
item for it, by the association check or by the carousel picker (``caught_by`` says which);
``published_pairs`` counts every wrong video-shop pair that would be published, whatever made it
(planted, or a carousel pick that chose another product's picture), with the end-to-end pair
precision/recall.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cleaning.associations import REASON as ASSOCIATION_REASON
from cleaning.steps.shop_images import PICKER_HOLDS
from movingfashion.media.images import read_image
from movingfashion.world.scoring.metrics import cluster_pairs, prf
from movingfashion.world.truth import WorldTruth
from schemas.catalog import Catalog
from schemas.items import CANDIDATE_URL, SPLITSCREEN_URL, AssetKind, MediaAsset, Status
from schemas.paths import resolve_under
from schemas.redact import redacted_logger

log = redacted_logger("movingfashion.world.scoring")


def _pick_stats(picks: list[tuple[bool, bool]]) -> dict[str, Any]:
    """Shop images picked among candidates: accuracy overall and over the items left accepted."""
    acc = [ok for ok, accepted in picks if accepted]
    return {
        "picked": len(picks),
        "accuracy": round(sum(ok for ok, _ in picks) / len(picks), 4) if picks else None,
        "accepted": len(acc),
        "accepted_accuracy": round(sum(acc) / len(acc), 4) if acc else None,
    }


def _video_ids(catalog: Catalog, truth: WorldTruth) -> dict[str, str]:
    """Asset path -> world video id (items are world products; videos matched by SHA-256, then order)."""
    out = {}
    for p in truth.products:
        assets = sorted(
            (
                a
                for a in catalog.assets(source=p.source, source_id=p.product_id, kind=AssetKind.VIDEO)
                if a.path
            ),
            key=lambda a: a.path,
        )
        vids = [truth.video(v) for v in p.videos]
        for n, a in enumerate(assets):
            match = [v for v in vids if v.sha256 == a.sha256] or (vids[n : n + 1])
            if match:
                out[a.path] = match[0].video_id
    return out


def recovered_still_figures(diffs: list[float | None]) -> dict[str, Any]:
    """How closely the recovered split-screen stills match the world's: per recovered still its
    mean absolute difference (None: not the world's size). The mean and the worst of those
    diffs over the stills of the right size (None when there is none), and how many were of
    the wrong size."""
    same = [d for d in diffs if d is not None]
    return {
        "recovered_shops": len(diffs),
        "recovered_mean_abs_diff": round(sum(same) / len(same), 3) if same else None,
        "recovered_max_abs_diff": round(max(same), 3) if same else None,
        "recovered_wrong_size": len(diffs) - len(same),
    }


def recall_by_kind(
    videos: Iterable[Any], keys: set[str], found: set[frozenset[str]], field: str = "duplicate_kind"
) -> dict[str, float]:
    """Duplicate recall per kind (exact, reencode, subclip) over the true pairs the overall recall
    counts: both videos collected (in ``keys``); ``found`` the predicted pairs. ``field="variant"``:
    per re-post variant (mirror, rotate_90, frame_rate, ...; duplicates without one left out)."""
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for v in videos:
        kind = getattr(v, field, None)
        if v.duplicate_of and kind is not None and v.video_id in keys and v.duplicate_of in keys:
            by_kind[str(kind)][1] += 1
            by_kind[str(kind)][0] += frozenset((v.video_id, v.duplicate_of)) in found
    return {k: round(a / b, 4) for k, (a, b) in sorted(by_kind.items())}


def score_cleaning(
    catalog: Catalog,
    root: str | os.PathLike[str],
    truth: WorldTruth,
    world_dir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Quality of the cleaning decisions in ``catalog`` against a world's ground truth."""
    root = Path(root)
    vid_of = _video_ids(catalog, truth)
    keys = set(vid_of.values())
    assets: list[MediaAsset] = catalog.assets()
    # duplicates
    true_links = [(v.video_id, v.duplicate_of) for v in truth.videos if v.duplicate_of]
    # clusters over every collected video: two world videos kept as duplicates of a copy of
    # theirs from another source (the world's urls/local fixtures) are one cluster too
    path_links = [
        (a.path, a.duplicate_of) for a in assets if a.kind == AssetKind.VIDEO and a.path and a.duplicate_of
    ]
    path_pairs = cluster_pairs(path_links, {p for link in path_links for p in link})
    pred_links = [(vid_of[a], vid_of[b]) for a, b in map(tuple, path_pairs) if a in vid_of and b in vid_of]
    t_pairs, p_pairs = cluster_pairs(true_links, keys), cluster_pairs(pred_links, keys)
    dup = prf(len(t_pairs & p_pairs), len(p_pairs), len(t_pairs))
    dup["recall_by_kind"] = recall_by_kind(truth.videos, keys, p_pairs)
    by_variant = recall_by_kind(truth.videos, keys, p_pairs, "variant")
    if by_variant:  # a world with re-post variants planted (repost_variants, rotated_reposts, ...)
        dup["recall_by_variant"] = by_variant
    # split-screen
    pred_split = {vid_of[a.path] for a in assets if a.kind == AssetKind.VIDEO and a.crop and a.path in vid_of}
    true_split = {v.video_id for v in truth.videos if v.split_screen and v.video_id in keys}
    split = prf(len(pred_split & true_split), len(pred_split), len(true_split))
    diffs: list[float | None] = []
    if world_dir is not None:
        for a in assets:
            if a.kind == AssetKind.SHOP and (a.url or "").startswith(SPLITSCREEN_URL):
                video_path = a.url.split(":", 1)[1]
                v = truth.video(vid_of[video_path]) if video_path in vid_of else None
                if v and v.split_screen:
                    got = read_image(
                        resolve_under(root, a.path, what="asset path", root_label="the collection root")
                    ).astype(np.float32)
                    want = read_image(Path(world_dir) / v.split_screen.still_image).astype(np.float32)
                    diffs.append(float(np.abs(got - want).mean()) if got.shape == want.shape else None)
    picks = []
    if world_dir is not None:
        from schemas.atomic import sha256_file

        for a in assets:
            if (
                a.kind == AssetKind.SHOP
                and a.status == Status.ACCEPTED
                and (a.url or "").startswith(CANDIDATE_URL)
            ):
                p = next((q for q in truth.products if q.product_id == a.source_id), None)
                if p is not None and "shop" in p.images and not p.wrong_shop:
                    row = catalog.get_item(a.source, a.source_id)
                    picks.append(
                        (
                            a.sha256 == sha256_file(Path(world_dir) / p.images["shop"]),
                            row is not None and row.status == Status.ACCEPTED,
                        )
                    )
    split.update(recovered_still_figures(diffs))
    # taxonomy and non-clothing
    correct = total = 0
    nonclothing = rejected_nc = 0
    wrong_true: set[str] = set()
    by_check: set[str] = set()  # held by the association check (``association:``)
    by_picker: set[str] = set()  # held by the carousel picker for its pick
    before_review = reasons_before_review(catalog)
    for p in truth.products:
        row = catalog.get_item(p.source, p.product_id)
        if row is None:
            continue
        total += 1
        if p.df2_class is None:
            nonclothing += 1
            ok = row.status == Status.REJECTED and (row.reason or "").startswith("taxonomy: non_clothing")
            rejected_nc += ok
            correct += ok
        else:
            correct += row.df2_class == p.df2_class
        if p.wrong_shop and p.videos and row.status != Status.DUPLICATE and p.df2_class is not None:
            wrong_true.add(p.product_id)
        reason = before_review.get((p.source, p.product_id), row.reason) or ""  # what cleaning said
        if reason.startswith(PICKER_HOLDS):  # one of them starts "association:" too: the picker's
            by_picker.add(p.product_id)
        elif reason.startswith(ASSOCIATION_REASON):
            by_check.add(p.product_id)
    in_world = {(str(p.source), p.product_id) for p in truth.products}
    outside = sum((str(r.item.source), r.item.source_id) not in in_world for r in catalog.items())
    if outside:
        log.warning(
            "%d catalog items are not in this world (other batches, other worlds, or a world item"
            " collected again through another source, such as its urls or local fixtures): every figure"
            " below is of the %d items it knows",
            outside,
            total,
        )
    out = {
        # what the figures cover: a catalog grown over several worlds or batches is scored on
        # this world's items only
        "scored_items": total,
        "items_not_in_world": outside,
        "duplicates": dup,
        "split_screen": split,
        "shop_pick": _pick_stats(picks),
        "taxonomy_accuracy": round(correct / total, 4) if total else None,
        "nonclothing": {"products": nonclothing, "rejected_with_reason": rejected_nc},
    }
    pairs = published_pair_scores(catalog, truth, world_dir, before_review)
    out["wrong_association"] = association_scores(
        catalog,
        truth,
        wrong_true,
        by_check,
        held_by_picker=by_picker,
        unplanted_wrong=set(pairs["wrong_pick_items"]),
    )
    out["published_pairs"] = pairs
    out["product_groups"] = product_group_scores(catalog, truth)
    return out


def reasons_before_review(catalog: Catalog) -> dict[tuple[str, str], str | None]:
    """(source, source_id) -> the item's reason before the review reject that now stands on it
    (a reject replaces cleaning's flag, ``association: ...``, with its own reason)."""
    from schemas.review import list_decisions

    out: dict[tuple[str, str], str | None] = {}
    for d in list_decisions(catalog):  # live decisions in id order: the latest verdict wins
        if d.source and d.source_id and d.kind in ("accept", "reject"):
            if d.kind == "reject":
                out[(d.source, d.source_id)] = (d.prev or {}).get("reason")
            else:
                out.pop((d.source, d.source_id), None)
    return out


def product_group_scores(catalog: Catalog, truth: WorldTruth) -> dict[str, Any]:
    """The accepted items grouped into products the way ``mf publish`` groups them (one shop
    image: :func:`cleaning.publish.product_groups`), against the world: a product whose items
    show other garments (not retakes or re-posts of one clip) would publish wrong video/shop
    pairs. ``mixed`` lists those products' item ids."""
    from cleaning.publish import product_groups

    def garment(pid: str) -> str | None:
        p = next((q for q in truth.products if q.product_id == pid), None)
        if p is None or not p.videos:
            return None
        v = truth.video(p.videos[0])
        return v.retake_of or v.duplicate_of or v.video_id

    groups = [g for g in product_groups(catalog, catalog.items(status=Status.ACCEPTED)) if len(g.rows) > 1]
    mixed = [
        sorted(r.item.source_id for r in g.rows)
        for g in groups
        if len({garment(r.item.source_id) for r in g.rows}) > 1
    ]
    return {"multi_item_products": len(groups), "mixed": len(mixed), "mixed_items": mixed}


def association_scores(
    catalog: Catalog,
    truth: WorldTruth,
    wrong_true: set[str],
    wrong_pred: set[str],
    *,
    held_by_picker: set[str] | frozenset[str] = frozenset(),
    unplanted_wrong: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Precision/recall of cleaning's holds on the planted wrong pairs ``wrong_true``, and recall
    per planted kind (shop, carousel, split_screen); ``{"status": "not run", ...}`` when the
    catalog says the association check did not run (``mf clean --no-association``, or a catalog
    cleaned before the check existed).

    A pair counts as caught when its item was held for it: flagged by the association check
    (``wrong_pred``: an ``association:`` reason) or held by the carousel picker
    (``held_by_picker``: :data:`cleaning.steps.shop_images.PICKER_HOLDS`, needs_review for its
    pick). ``caught_by`` and ``false_flags_by`` name the items of each mechanism, and
    ``association_check`` gives the check's own precision/recall (its flags alone), so neither
    hides the other. A hold on a wrong pair the world did not plant (``unplanted_wrong``: a pick
    of another item's picture, ``published_pairs``' ``pick``) is a right hold, outside this
    recall's pairs: listed in ``held_unplanted``, not counted a false flag."""
    meta = catalog.get_meta("associations") or {}
    if not meta.get("ran"):
        return {
            "status": "not run",
            "why": meta.get("why", "no association check recorded in the catalog"),
            "actual": len(wrong_true),
        }
    check, picker = set(wrong_pred), set(held_by_picker) - set(wrong_pred)
    held = check | picker
    scored = held - (set(unplanted_wrong) - wrong_true)  # the holds precision is taken over
    out: dict[str, Any] = {
        "status": "run",
        **prf(len(wrong_true & held), len(scored), len(wrong_true)),
    }
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in truth.products:
        if p.product_id in wrong_true:
            k = p.wrong_shop_kind or "shop"
            kinds[k][1] += 1
            kinds[k][0] += p.product_id in held
    out["recall_by_kind"] = {k: round(a / b, 4) for k, (a, b) in sorted(kinds.items())}
    out["missed"] = sorted(wrong_true - held)
    out["false_flags"] = sorted(scored - wrong_true)
    out["caught_by"] = {
        "association_check": sorted(wrong_true & check),
        "picker": sorted(wrong_true & picker),
    }
    out["false_flags_by"] = {
        "association_check": sorted((check & scored) - wrong_true),
        "picker": sorted((picker & scored) - wrong_true),
    }
    out["held_unplanted"] = sorted(held - scored)
    out["association_check"] = prf(len(wrong_true & check), len(check & scored), len(wrong_true))
    out["threshold"] = meta.get("threshold")
    out["scorer"] = meta.get("scorer")
    return out


#: reasons (cleaning's, before any review) that hold an item for its video-shop pair: the
#: association check's flags, a carousel pick too close to call and one the matcher does not back
#: (``cleaning.steps.shop_images.UNBACKED_PICK``)
PAIR_FLAG_PREFIXES = ("association:", "shop: candidates too alike", "shop: the matcher does not back")


def published_pair_scores(
    catalog: Catalog,
    truth: WorldTruth,
    world_dir: str | os.PathLike[str] | None,
    before_review: dict[tuple[str, str], str | None] | None = None,
) -> dict[str, Any]:
    """Every video-shop pair the catalog holds, scored end to end against the world, whatever
    made a pair wrong: a shop image the world planted (``planted``) or a carousel candidate the
    picker (or a reviewer) chose that is not the product's own shop image (``pick``; judged by
    SHA-256 against the world's file, so only with ``world_dir``).

    Scored: the world's clothing products with a video, not duplicates, whose item has a shop
    image (the one ``mf publish`` would use: a reviewer's candidate in place of cleaning's pick).
    ``published`` are those left accepted; ``published_wrong`` the wrong ones among them (the
    figure a maintainer signs); ``precision`` the share of published pairs that are right,
    ``recall`` the share of right pairs that are published; ``flags`` the precision/recall of
    cleaning's pair flags (association check, too-close pick) over all wrong pairs, picker's
    mistakes included; ``wrong_held`` the wrong pairs held back for any reason."""
    from schemas.atomic import sha256_file
    from schemas.review import review_shops, with_review_shop

    before_review = reasons_before_review(catalog) if before_review is None else before_review
    chosen = review_shops(catalog)
    true_sha: dict[str, str | None] = {}
    wrong: dict[str, str] = {}  # product id -> cause
    right: set[str] = set()
    published: set[str] = set()
    flagged: set[str] = set()
    for p in truth.products:
        row = catalog.get_item(p.source, p.product_id)
        if row is None or p.df2_class is None or not p.videos or row.status == Status.DUPLICATE:
            continue
        assets = with_review_shop(
            catalog.assets(source=p.source, source_id=p.product_id),
            chosen.get((str(p.source), p.product_id)),
        )
        shops = sorted(
            (a for a in assets if a.kind == AssetKind.SHOP and a.status == Status.ACCEPTED and a.path),
            key=lambda a: ((a.url or "").startswith(SPLITSCREEN_URL), a.path),
        )
        if not shops:
            continue  # no pair (yet): nothing that could be published
        shop = shops[0]
        if p.wrong_shop:
            wrong[p.product_id] = "planted"
        elif (shop.url or "").startswith(CANDIDATE_URL):
            if world_dir is None or "shop" not in p.images:
                continue  # a pick that cannot be judged without the world's files
            if p.product_id not in true_sha:
                true_sha[p.product_id] = sha256_file(Path(world_dir) / p.images["shop"])
            if shop.sha256 != true_sha[p.product_id]:
                wrong[p.product_id] = "pick"
            else:
                right.add(p.product_id)
        else:
            right.add(p.product_id)
        if row.status == Status.ACCEPTED:
            published.add(p.product_id)
        reason = before_review.get((p.source, p.product_id), row.reason)
        if (reason or "").startswith(PAIR_FLAG_PREFIXES):
            flagged.add(p.product_id)
    bad = set(wrong)
    published_wrong = published & bad
    by_cause: dict[str, dict[str, int]] = {}
    for pid, cause in sorted(wrong.items()):
        c = by_cause.setdefault(cause, {"wrong": 0, "published": 0})
        c["wrong"] += 1
        c["published"] += pid in published
    return {
        "pairs": len(bad) + len(right),
        "wrong": len(bad),
        "published": len(published),
        "published_wrong": len(published_wrong),
        "published_wrong_items": sorted(published_wrong),
        "wrong_held": len(bad - published),
        "by_cause": by_cause,
        # the wrong pairs no world plants: a carousel pick of another product's picture
        "wrong_pick_items": sorted(pid for pid, cause in wrong.items() if cause == "pick"),
        "precision": round(len(published - bad) / len(published), 4) if published else None,
        "recall": round(len(published & right) / len(right), 4) if right else None,
        "flags": prf(len(bad & flagged), len(flagged), len(bad)),
    }
