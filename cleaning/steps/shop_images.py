"""Step ``shop_images``: give every item one shop image and find duplicate shop images.

An item without a collected or recovered shop image gets one picked among its carousel
``candidate-shop`` images (:mod:`cleaning.shop_pick`, by the association check's matcher,
by colour when the check is switched off; url ``candidate:<path>``); when the best two score closer than ``pick_margin`` the
item goes to needs_review, and so does a pick the matcher does not back (below
``shop_pick.min_class_score`` on the item's class, or beaten there by more than ``matcher_lead``). Duplicate shop images (pHash + colour thumbnail, then the pixels:
``image_pixel_tolerance``) only get ``duplicate_of`` (they group items into one product). An item left without a shop image goes to
needs_review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cleaning.associations import PairScorer, reviewer_accepted
from cleaning.config import ShopPickConfig
from cleaning.dedup import ImageRecord, colour_signature, find_image_duplicates, image_difference
from cleaning.phash import phash
from cleaning.scorers import scorer_tag
from cleaning.shop_pick import Pick, pick_shop, unbacked_pick
from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import (
    CleaningState,
    ItemState,
    item_key,
)
from movingfashion.executors import Outcome
from movingfashion.media.images import read_image
from schemas.items import CANDIDATE_URL, SPLITSCREEN_URL, AssetKind, MediaAsset, Status

#: reason of a pick the matcher does not back (:func:`cleaning.shop_pick.unbacked_pick`)
UNBACKED_PICK = "shop: the matcher does not back the pick"
#: reason of a carousel none of whose product shots matches the video
NO_MATCHING_CANDIDATE = "association: no carousel candidate matches the video"
#: reason of a pick between candidates that score too close to call
TOO_ALIKE = "shop: candidates too alike to pick one"
#: the reasons (prefixes) this step holds an item for its pick with: the picker's own holds, told
#: apart from the association check's ``association:`` flags (``mf stats --world`` says which caught
#: a wrong pair)
PICKER_HOLDS = (NO_MATCHING_CANDIDATE, UNBACKED_PICK, TOO_ALIKE)


@dataclass(frozen=True)
class PickTask:
    video: Path
    candidates: tuple[Path, ...]
    scorer: PairScorer | None
    category: int | None = None  # the item's DeepFashion2 class (taxonomy), ranked on when given
    cfg: ShopPickConfig | None = None  # the pick's thresholds (``shop_pick``; None: the defaults)


def pick_file(task: PickTask) -> dict[str, Any]:
    """The cached form of a pick: ``{"index", "scores", "plain", "method", "match_scores"}``."""
    pick = pick_shop(task.video, list(task.candidates), task.scorer, task.category, task.cfg)
    return {
        "index": pick.index,
        "scores": pick.scores,
        "plain": pick.plain,
        "method": pick.method,
        "match_scores": pick.match_scores,
        "class_match_scores": pick.class_match_scores,
    }


@dataclass(frozen=True)
class SignatureTask:
    path: Path
    crop_fraction: float


def signature_file(task: SignatureTask) -> tuple[str, list[int]]:
    """pHash (hex) and 4x4 colour thumbnail of an image."""
    img = read_image(task.path)
    return format(phash(img, task.crop_fraction), "016x"), colour_signature(img).tolist()


def _pick_entry_ok(entry: Any, n: int) -> bool:
    """True when a cached pick has the shape :func:`pick_file` gives for ``n`` candidates."""
    if not isinstance(entry, dict) or not isinstance(entry.get("method"), str):
        return False
    index, scores, plain = entry.get("index"), entry.get("scores"), entry.get("plain")
    lists = [entry.get("match_scores"), entry.get("class_match_scores")]
    return (
        isinstance(index, int)
        and 0 <= index < n
        and isinstance(scores, list)
        and isinstance(plain, list)
        and len(scores) == len(plain) == n
        and all(isinstance(x, int | float) for x in scores)
        and all(
            m is None or (isinstance(m, list) and all(isinstance(x, int | float) for x in m)) for m in lists
        )
    )


def _signature_ok(hex_hash: Any, colour: Any) -> bool:
    """True when a cached shop image signature (pHash hex, colour thumbnail) can be read."""
    try:
        int(hex_hash, 16)
        return isinstance(colour, list) and np.array(colour, np.uint8).size > 0
    except (TypeError, ValueError, OverflowError):
        return False


@dataclass
class _PickJob:
    item: ItemState
    candidates: list[MediaAsset]
    video: MediaAsset
    cache_key: str
    cached: dict[str, Any] | None


class ShopImagesStep(Step):
    name = "shop_images"
    requires = ("probe",)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        picked = self._pick(state, ctx)
        shop_items = self._find_duplicates(state, ctx)
        for it in state.live():
            if it.status not in (Status.REJECTED, Status.DUPLICATE) and it.key not in shop_items:
                it.decide(Status.NEEDS_REVIEW, "shop: no shop image (none collected, not split-screen)")
        return StepReport(
            {
                "shops_picked_from_candidates": picked,
                "duplicate_shop_images": len(state.shop_duplicate_of),
            }
        )

    # -- pick one among carousel candidates ------------------------------------------------
    def _pick_jobs(self, state: CleaningState, ctx: StepContext) -> list[_PickJob]:
        recovered = {
            item_key(a.source, a.source_id)
            for a in state.derived
            if (a.url or "").startswith(SPLITSCREEN_URL)
        }
        by_owner = state.videos_by_owner()
        scorer = ctx.pair_scorer()
        tag = scorer_tag(scorer) if scorer is not None else "colour"
        jobs = []
        for it in state.live():
            if it.status == Status.REJECTED or it.key in recovered or it.has_shop():
                continue
            cands = sorted(
                (a for a in it.assets if a.kind == AssetKind.CANDIDATE_SHOP and a.status == Status.ACCEPTED),
                key=lambda a: a.path,
            )
            vids = sorted(by_owner.get(it.key, []))
            if not cands or not vids:
                continue
            video = state.videos[vids[0]].asset
            ckey = "pick2:" + ",".join(a.sha256 or a.path for a in cands) + f":{tag}"
            if self._category(it, ctx) is not None:
                ckey += f":c{it.df2_class}"
            if (
                ctx.cfg.shop_pick != ShopPickConfig()
            ):  # other thresholds: another pick (defaults keep old keys)
                ckey += ":" + json.dumps(ctx.cfg.shop_pick.model_dump(mode="json"), sort_keys=True)
            cached = ctx.cache.get(video.sha256, ckey) if tag else None
            if not _pick_entry_ok(cached, len(cands)):
                cached = None  # not cached, or a damaged entry: picked again
            jobs.append(_PickJob(it, cands, video, ckey, cached))
        return jobs

    def _pick(self, state: CleaningState, ctx: StepContext) -> int:
        jobs = self._pick_jobs(state, ctx)
        todo = [j for j in jobs if j.cached is None]
        scorer = ctx.pair_scorer()
        tasks = [
            PickTask(
                ctx.path(j.video.path),
                tuple(ctx.path(a.path) for a in j.candidates),
                scorer,
                self._category(j.item, ctx),
                ctx.cfg.shop_pick,
            )
            for j in todo
        ]

        def record(i: int, out: Outcome[dict[str, Any]]) -> None:
            if out.ok and (scorer is None or scorer_tag(scorer)):
                ctx.cache.put(todo[i].video.sha256, todo[i].cache_key, out.value)

        outcomes = ctx.map(pick_file, tasks, desc="shop pick", unit="item", record=record)
        fresh = dict(zip((j.item.key for j in todo), outcomes, strict=True))
        # a pick a reviewer accepted (after seeing the candidates, perhaps choosing another one) is
        # not flagged again: the accept settled it, as it settles the association check's flags
        reviewed = {item_key(*k) for k in reviewer_accepted(ctx.catalog)} if jobs else set()
        picked = 0
        for j in jobs:
            pick = j.cached
            if pick is None:
                out = fresh[j.item.key]
                if not out.ok:
                    state.fail(j.item.key, self.name, str(out.error))
                    continue
                pick = out.value
            self._take(state, ctx, j, pick, reviewed=j.item.key in reviewed)
            picked += 1
        return picked

    @staticmethod
    def _category(it: ItemState, ctx: StepContext) -> int | None:
        """The class the pick ranks on: the taxonomy's, when it ran first and ``match_by_class``."""
        return it.df2_class if ctx.cfg.match_by_class else None

    @staticmethod
    def _take(
        state: CleaningState, ctx: StepContext, job: _PickJob, pick: dict[str, Any], *, reviewed: bool = False
    ) -> None:
        scores, method = pick["scores"], pick["method"]
        it = job.item
        match = pick.get("match_scores")
        why = unbacked_pick(
            Pick(pick["index"], scores, pick["plain"], method, match, pick.get("class_match_scores")),
            ctx.cfg.shop_pick,
        )
        ranked = sorted((sc for sc, plain in zip(scores, pick["plain"], strict=True) if plain), reverse=True)
        shots = [m for m, plain in zip(match or [], pick["plain"], strict=False) if plain] or match
        if reviewed:
            pass  # accepted in review: the pick is recorded, the item is not flagged again
        elif it.status == Status.ACCEPTED and shots and max(shots) < ctx.cfg.match_threshold:
            it.decide(
                Status.NEEDS_REVIEW,
                f"{NO_MATCHING_CANDIDATE} (best product shot match "
                f"score {max(shots)} < {ctx.cfg.match_threshold}; match scores {match})",
            )
        elif it.status == Status.ACCEPTED and why:
            on = pick.get("class_match_scores") or match
            it.decide(
                Status.NEEDS_REVIEW,
                f"{UNBACKED_PICK} ({why}; by {method}, scores {scores}, matcher scores {on})",
            )
        elif (
            it.status == Status.ACCEPTED and len(ranked) >= 2 and ranked[0] - ranked[1] < ctx.cfg.pick_margin
        ):
            it.decide(Status.NEEDS_REVIEW, f"{TOO_ALIKE} (by {method}, scores {scores})")
        c = job.candidates[pick["index"]]
        state.derived.append(
            c.model_copy(
                update={
                    "kind": AssetKind.SHOP,
                    "url": f"{CANDIDATE_URL}{c.path}",
                    "reason": f"shop: picked among {len(job.candidates)} candidates by "
                    f"{method} (scores {scores})",
                }
            )
        )

    # -- duplicate shop images --------------------------------------------------------------
    def _find_duplicates(self, state: CleaningState, ctx: StepContext) -> set[str]:
        """Cluster the items' shop images; returns the keys of the items that have one."""
        shops = self._shops(state)
        todo: dict[str, MediaAsset] = {}
        for a in shops.values():
            if not _signature_ok(ctx.cache.get(a.sha256, "phash"), ctx.cache.get(a.sha256, "colour")):
                todo.setdefault(a.sha256, a)
        tasks = [SignatureTask(ctx.path(a.path), ctx.cfg.dedup.crop_fraction) for a in todo.values()]
        shas = list(todo)

        def record(i: int, out: Outcome[tuple[str, list[int]]]) -> None:
            if out.ok:
                ctx.cache.put(shas[i], "phash", out.value[0])
                ctx.cache.put(shas[i], "colour", out.value[1])

        outcomes = ctx.map(signature_file, tasks, desc="shop images", unit="image", record=record)
        for sha, out in zip(todo, outcomes, strict=True):
            if not out.ok:
                for key in [k for k, a in shops.items() if a.sha256 == sha]:
                    state.fail(key, self.name, f"{shops.pop(key).path}: {out.error}")
        records = [
            ImageRecord(
                a.path,
                a.sha256,
                int(ctx.cache.get(a.sha256, "phash"), 16),
                a.probe.width,
                a.probe.height,
                state.partition(a),
                np.array(ctx.cache.get(a.sha256, "colour"), np.uint8),
            )
            for a in shops.values()
        ]
        tol = ctx.cfg.dedup.image_pixel_tolerance
        same = None
        if tol is not None:

            def same(a: ImageRecord, b: ImageRecord) -> bool:
                return image_difference(read_image(ctx.path(a.key)), read_image(ctx.path(b.key))) <= tol

        state.shop_duplicate_of = dict(find_image_duplicates(records, ctx.cfg.dedup, same).duplicate_of)
        return set(shops)

    @staticmethod
    def _shops(state: CleaningState) -> dict[str, MediaAsset]:
        """Item key -> its shop image: the first accepted one, collected before derived."""
        shops: dict[str, MediaAsset] = {}
        for a in [a for it in state.live() for a in it.assets] + state.derived:
            key = item_key(a.source, a.source_id)
            if a.kind == AssetKind.SHOP and a.status == Status.ACCEPTED and key not in shops:
                shops[key] = a
        return {k: a for k, a in shops.items() if state.items[k].failure is None}
