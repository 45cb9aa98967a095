"""Step ``split_screen``: find videos made of a still half (the shop picture) and a moving half.

A split-screen video gets the moving half as its ``crop``; an item without a collected shop
image gets the still half of its first split-screen video (in path order) as one
(:func:`recovered_shop_path`: one file per video, beside it; url ``splitscreen:<video>``).
Detections are cached by SHA-256 (:mod:`cleaning.splitscreen` explains
the rule), and so is the SHA-256 of the still each video gave (``recovered_shop``): a file that
is missing, or was not made from the video's current content (the video was collected again),
is detected and written again (atomically). The detection hands the still half back and this
process writes it (workers on other machines write nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cleaning.config import SplitScreenConfig
from cleaning.splitscreen import detect_split_screen_file
from cleaning.steps.base import Step, StepContext, StepReport
from cleaning.steps.state import CleaningState, VideoState
from movingfashion.executors import Outcome
from movingfashion.media.images import read_image, write_image
from schemas.atomic import sha256_file, sweep_partials
from schemas.faults import reraise_local_fault
from schemas.geometry import Box
from schemas.items import SPLITSCREEN_URL, AssetKind, Crop, ImageProbe, MediaAsset, Status

#: file name of a shop image recovered from a split-screen video, beside the video ``video.mp4``
#: (the collectors' name of an item's only or first video; another video's adds its stem)
RECOVERED_SHOP_NAME = "shop-recovered.png"


@dataclass(frozen=True)
class SplitScreenTask:
    path: Path
    frames: int
    cfg: SplitScreenConfig
    #: where the still half goes when the video is split and the file does not exist yet
    shop_png: Path | None = None


@dataclass(frozen=True)
class Detection:
    """A detection's cached form (``found``, layout and boxes) and, when the task asked for it,
    the still half to save as the item's shop image."""

    result: dict[str, Any]
    still_image: np.ndarray | None = None


def detect_file(task: SplitScreenTask) -> Detection:
    """Detect a split-screen layout in one video (writes nothing)."""
    det = detect_split_screen_file(task.path, task.frames, task.cfg)
    if det is None:
        return Detection({"found": False})
    result = {
        "found": True,
        "layout": det.layout,
        "still_half": det.still_half,
        "still_box": det.still_box,
        "moving_box": det.moving_box,
    }
    return Detection(result, det.still_image if task.shop_png is not None else None)


def recovered_shop_path(video_path: str) -> str:
    """Where a video's still half is saved: ``shop-recovered.png`` beside ``video.mp4``,
    ``shop-recovered-<stem>.png`` beside any other video, so two videos of one item (Instagram's
    ``video.mp4``, ``video-2.mp4``) never write one file."""
    video = Path(video_path)
    name = RECOVERED_SHOP_NAME if video.stem == "video" else f"shop-recovered-{video.stem}.png"
    return str(video.parent / name)


def split_entry_ok(entry: Any) -> bool:
    """True when a cached detection has the shape :func:`detect_file` gives (else it is a miss)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("found"), bool):
        return False
    if not entry["found"]:
        return True
    boxes = [entry.get("moving_box"), entry.get("still_box")]
    return all(
        isinstance(b, list) and len(b) == 4 and all(isinstance(x, int | float) for x in b) for b in boxes
    )


def _made_from(ctx: StepContext, v: VideoState, shop: Path) -> bool:
    """True when ``shop`` exists and is the still this video's current content gave (its SHA-256
    is the one cached under the video's SHA-256 when it was written)."""
    made = ctx.cache.get(v.asset.sha256, "recovered_shop")
    if not isinstance(made, str) or not shop.is_file():
        return False
    try:
        return sha256_file(shop) == made
    except OSError:
        return False


def _stills_wanted(state: CleaningState, ctx: StepContext, paths: list[str]) -> set[str]:
    """The videos whose still half may become their item's shop image: of an item without one,
    its videos in path order up to the first one cached as split-screen (whose still it takes,
    unless an earlier one not detected yet turns out split)."""
    wanted: set[str] = set()
    settled: set[str] = set()
    for path in paths:
        v = state.videos[path]
        if v.owner in settled or state.items[v.owner].has_shop():
            continue
        wanted.add(path)
        cached = ctx.cache.get(v.asset.sha256, "splitscreen")
        if split_entry_ok(cached) and cached["found"]:
            settled.add(v.owner)
    return wanted


class SplitScreenStep(Step):
    name = "split_screen"
    requires = ("probe",)

    def run(self, state: CleaningState, ctx: StepContext) -> StepReport:
        paths = sorted(state.videos)
        fresh = self._detect(state, ctx, paths)
        recovered: set[str] = set()
        n_split = 0
        for path in paths:
            v = state.videos.get(path)
            if v is None:  # its item failed
                continue
            out = fresh.get(path)
            if out is not None and not out.ok:
                state.fail(v.owner, self.name, f"{path}: {out.error}")
                continue
            res = ctx.cache.get(v.asset.sha256, "splitscreen")
            if out is not None and not split_entry_ok(res):  # not cached, or a damaged entry
                res = out.value.result
                ctx.cache.put(v.asset.sha256, "splitscreen", res)
            if not res["found"]:
                continue
            n_split += 1
            v.asset = v.asset.model_copy(update={"crop": Crop(box=Box(res["moving_box"]))})
            if v.owner not in recovered and self._recover_shop(state, ctx, v):
                recovered.add(v.owner)
        return StepReport({"split_screen_videos": n_split, "shops_recovered": len(recovered)})

    def _detect(self, state: CleaningState, ctx: StepContext, paths: list[str]) -> dict[str, Outcome]:
        """Detect on every video without a cached result, and where a still it may give its item
        (:func:`_stills_wanted`) is missing."""
        wanted = _stills_wanted(state, ctx, paths)
        tasks: dict[str, SplitScreenTask] = {}
        # a still half a killed run left half-written: swept from each item folder once
        sweep_partials(*{ctx.path(recovered_shop_path(p)).parent for p in wanted})
        for path in paths:
            v = state.videos[path]
            cached = ctx.cache.get(v.asset.sha256, "splitscreen")
            shop = ctx.path(recovered_shop_path(path)) if path in wanted else None
            if not split_entry_ok(cached) or (
                cached["found"] and shop is not None and not _made_from(ctx, v, shop)
            ):
                tasks[path] = SplitScreenTask(ctx.path(path), v.probe.frames, ctx.cfg.splitscreen, shop)
        todo = list(tasks.values())
        shas = [state.videos[path].asset.sha256 for path in tasks]

        def record(i: int, out: Outcome[Detection]) -> None:
            """Save the still half first (replacing a file made from another video), then cache
            its SHA-256 and the detection (a cached split without its file is detected again)."""
            if not out.ok:
                return
            shop = todo[i].shop_png
            if out.value.still_image is not None and shop is not None:
                data = write_image(shop, out.value.still_image)  # atomic
                ctx.cache.put(shas[i], "recovered_shop", hashlib.sha256(data).hexdigest())
            ctx.cache.put(shas[i], "splitscreen", out.value.result)

        outcomes = ctx.map(detect_file, todo, desc="split-screen", record=record)
        return dict(zip(tasks, outcomes, strict=True))

    def _recover_shop(self, state: CleaningState, ctx: StepContext, v: VideoState) -> bool:
        """The still half becomes the shop image of an item that has none; False when it cannot."""
        it = state.items[v.owner]
        if it.has_shop():
            return False
        rel = recovered_shop_path(v.asset.path)
        full = ctx.path(rel)
        if not full.is_file():  # the detection behind a cached result no longer finds a split
            return False
        try:
            sha = sha256_file(full)
            if sha != ctx.cache.get(v.asset.sha256, "recovered_shop"):
                return False  # not the still of this video's content (never asked of it)
            h, w = read_image(full).shape[:2]
            size = full.stat().st_size
        except Exception as exc:  # noqa: BLE001 - listed as the item's failure
            reraise_local_fault(exc, full)
            state.fail(v.owner, self.name, f"{rel}: {exc}")
            return False
        state.derived.append(
            MediaAsset(
                source=v.asset.source,
                source_id=v.asset.source_id,
                kind=AssetKind.SHOP,
                url=f"{SPLITSCREEN_URL}{v.asset.path}",
                path=rel,
                sha256=sha,
                size=size,
                content_type="image/png",
                probe=ImageProbe(width=w, height=h),
                status=Status.ACCEPTED,
            )
        )
        return True
