"""A step context on an empty collection root, and items made in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cleaning.config import CleaningConfig
from cleaning.steps.base import StepContext
from cleaning.steps.cache import ResultCache
from cleaning.steps.state import ItemState, VideoState
from movingfashion.executors import LocalExecutor
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, Status, VideoProbe
from tests.cleaning.media_helpers import write_mp4


@pytest.fixture()
def ctx(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    cfg = CleaningConfig()
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        yield StepContext(cat, root, cfg, ResultCache(tmp_path / "cache.json", cfg), LocalExecutor())


def fresh_context(ctx: StepContext) -> StepContext:
    """The same root, config and cache file, as a later run would see them."""
    ctx.cache.save()
    return StepContext(
        ctx.catalog, ctx.root, ctx.cfg, ResultCache(ctx.cache.path, ctx.cfg), LocalExecutor(), ctx.scorer
    )


def item(source_id: str, title: str = "Short sleeve silk blouse", source: str = "tiktok") -> ItemState:
    return ItemState(SourceItem(source=source, source_id=source_id, title=title))


def collected(it: ItemState, kind: AssetKind, rel: str) -> MediaAsset:
    """A downloaded asset of ``it`` at ``rel`` (what a collector records), added to ``it.collected``."""
    a = MediaAsset(
        source=it.item.source,
        source_id=it.item.source_id,
        kind=kind,
        url=f"https://example.com/{rel}",
        path=rel,
        status=Status.DOWNLOADED,
    )
    it.collected.append(a)
    return a


def probed_video(
    ctx: StepContext, it: ItemState, frames: np.ndarray, fps: float = 30.0, name: str = "video.mp4"
) -> VideoState:
    """Write ``frames`` as the item's video ``name`` (unless the file exists) and give it the state
    the probe step would."""
    rel = f"{it.item.source}/{it.item.source_id}/{name}"
    path = ctx.root / rel
    if not path.exists():
        write_mp4(path, frames, fps)
    n, h, w, _ = frames.shape
    a = collected(it, AssetKind.VIDEO, rel).model_copy(
        update={
            "sha256": sha256_file(path),
            "probe": VideoProbe(frames=n, fps=fps, width=w, height=h, duration_s=n / fps),
            "status": Status.ACCEPTED,
        }
    )
    it.assets.append(a)
    return VideoState(a, it.key)
