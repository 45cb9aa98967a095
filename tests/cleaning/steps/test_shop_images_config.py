"""Step ``shop_images``: the carousel pick's thresholds (``shop_pick``) are part of its cache key,
so changing them picks again; the defaults keep the keys earlier runs cached under."""

from __future__ import annotations

from cleaning.config import CleaningConfig, ShopPickConfig
from cleaning.steps.shop_images import ShopImagesStep
from cleaning.steps.state import CleaningState, VideoState
from schemas.items import AssetKind, MediaAsset, Status, VideoProbe
from tests.cleaning.steps.conftest import item


def _state():
    it = item("carousel", source="instagram")
    video = MediaAsset(
        source="instagram",
        source_id="carousel",
        kind=AssetKind.VIDEO,
        path="instagram/carousel/video.mp4",
        sha256="f" * 64,
        probe=VideoProbe(frames=30, fps=30.0, width=64, height=64, duration_s=1.0),
        status=Status.ACCEPTED,
    )
    cands = [
        MediaAsset(
            source="instagram",
            source_id="carousel",
            kind=AssetKind.CANDIDATE_SHOP,
            path=f"instagram/carousel/candidate-{i}.jpg",
            sha256=str(i) * 64,
            status=Status.ACCEPTED,
        )
        for i in range(2)
    ]
    it.assets = [video, *cands]
    state = CleaningState(items={it.key: it})
    state.videos = {video.path: VideoState(video, it.key)}
    return state


def _key(ctx, cfg):
    ctx.cfg = cfg
    (job,) = ShopImagesStep()._pick_jobs(_state(), ctx)
    return job.cache_key


def test_changing_the_pick_thresholds_changes_the_pick_cache_key(ctx):
    default = _key(ctx, CleaningConfig(association_check=False))
    assert default == "pick2:" + "0" * 64 + "," + "1" * 64 + ":colour"  # as before the setting existed
    other = _key(ctx, CleaningConfig(association_check=False, shop_pick=ShopPickConfig(plain_border_std=5)))
    assert other != default and other.startswith(default)
    assert _key(ctx, CleaningConfig(association_check=False, shop_pick=ShopPickConfig())) == default
