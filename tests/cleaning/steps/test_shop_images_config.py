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


def _taken(ctx, pick, cfg=None):
    from cleaning.steps.shop_images import _PickJob

    ctx.cfg = cfg or CleaningConfig()
    state = _state()
    (it,) = state.items.values()
    cands = [a for a in it.assets if a.kind == AssetKind.CANDIDATE_SHOP]
    ShopImagesStep._take(state, ctx, _PickJob(it, cands, it.assets[0], "k", None), pick)
    return it


def test_a_pick_the_matcher_does_not_see_on_the_items_class_is_held(ctx):
    """Wrong carousel picks were published: a look-alike whose colours the video shows (colour
    fit 1.0) beat the right shot, and the only product shot among close-ups won by default,
    each with a lead over ``pick_margin`` and some detection of the video matching it (so the
    no-match rule passed), though the matcher scored it 0.30-0.48 on the item's class (right
    picks 0.686-1.0 on the tuning worlds), or 0.12 below another product shot. Such a pick now
    goes to needs_review."""
    from cleaning.steps.shop_images import UNBACKED_PICK

    lookalike = {
        "index": 0,
        "scores": [0.705, 0.518],
        "plain": [True, True],
        "method": "matcher on the item's class+colour",
        "match_scores": [0.82, 0.997],
        "class_match_scores": [0.41, 0.997],
    }
    it = _taken(ctx, lookalike)
    assert it.status == Status.NEEDS_REVIEW and it.reason.startswith(UNBACKED_PICK), it.reason
    assert "0.41 < 0.6" in it.reason
    only_shot = {**lookalike, "plain": [True, False], "class_match_scores": [0.302, 0.95]}
    assert _taken(ctx, only_shot).status == Status.NEEDS_REVIEW
    # without a class the matcher's score on every detection is the one looked at
    anyclass = {**lookalike, "match_scores": [0.5, 0.99], "class_match_scores": None}
    assert _taken(ctx, anyclass).reason.startswith(UNBACKED_PICK)
    # the colour fit overruled the matcher: another shot scores more than matcher_lead above it
    outscored = {**lookalike, "class_match_scores": [0.875, 0.995]}
    assert "a lead over 0.1" in _taken(ctx, outscored).reason
    # a pick the matcher backs on the item's class is kept; the rules switched off keep them all
    right = {**lookalike, "class_match_scores": [0.93, 0.41]}
    assert _taken(ctx, right).status == Status.ACCEPTED
    assert _taken(ctx, {**lookalike, "class_match_scores": [0.9, 0.99]}).status == Status.ACCEPTED
    off = CleaningConfig(shop_pick=ShopPickConfig(min_class_score=None, matcher_lead=None))
    for pick in (lookalike, outscored):
        assert _taken(ctx, pick, off).status == Status.ACCEPTED
