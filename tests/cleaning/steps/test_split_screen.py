"""Step ``split_screen`` on a state made in the test: crops, a recovered shop image, the cache."""

from __future__ import annotations

import os

import numpy as np

import cleaning.steps.split_screen as split_step
from cleaning.steps.split_screen import SplitScreenStep
from cleaning.steps.state import CleaningState
from movingfashion.media.images import read_image
from movingfashion.media.readers import _DEFAULT_CACHES
from schemas.items import AssetKind, Status
from tests.cleaning.media_helpers import scene, split_screen
from tests.cleaning.steps.conftest import collected, fresh_context, item, probed_video

W, H = 160, 120


def _state(ctx):
    split, with_shop, plain = item("split"), item("withshop"), item("plain")
    frames, still = split_screen(3, "left-right", True, 48, W, H)
    videos = [
        probed_video(ctx, split, frames),
        probed_video(ctx, with_shop, split_screen(4, "top-bottom", False, 48, W, H)[0]),
        probed_video(ctx, plain, scene(5, n=48)),
    ]
    shop = collected(with_shop, AssetKind.SHOP, "tiktok/withshop/shop.jpg")
    with_shop.assets.append(shop.model_copy(update={"status": Status.ACCEPTED}))
    state = CleaningState(items={it.key: it for it in (split, with_shop, plain)})
    state.videos = {v.asset.path: v for v in videos}
    return state, still


def test_split_videos_get_the_moving_half_and_a_shopless_item_the_still_half(ctx):
    state, still = _state(ctx)
    report = SplitScreenStep().run(state, ctx)
    crops = {p: (v.asset.crop.box if v.asset.crop else None) for p, v in state.videos.items()}
    assert crops == {
        "tiktok/split/video.mp4": [W // 2, 0, W, H],  # still on the left
        "tiktok/withshop/video.mp4": [0, 0, W, H // 2],  # still at the bottom
        "tiktok/plain/video.mp4": None,
    }
    assert [(a.source_id, a.kind, a.url, a.path) for a in state.derived] == [
        ("split", AssetKind.SHOP, "splitscreen:tiktok/split/video.mp4", "tiktok/split/shop-recovered.png")
    ]
    got = read_image(ctx.root / state.derived[0].path).astype(float)
    assert got.shape == still.shape and np.abs(got - still.astype(float)).mean() < 6.0
    assert state.derived[0].probe.width == W // 2 and state.derived[0].status == Status.ACCEPTED
    assert not (ctx.root / "tiktok/withshop/shop-recovered.png").exists()  # it has a shop image
    assert report.counts == {"split_screen_videos": 2, "shops_recovered": 1}


def test_a_rerun_uses_the_cache_and_remakes_a_deleted_shop_image(ctx, monkeypatch):
    SplitScreenStep().run(_state(ctx)[0], ctx)
    later = fresh_context(ctx)
    calls = []
    real = split_step.detect_split_screen_file
    monkeypatch.setattr(split_step, "detect_split_screen_file", lambda p, *a: calls.append(p) or real(p, *a))
    state, _ = _state(later)
    SplitScreenStep().run(state, later)
    assert calls == [] and len(state.derived) == 1
    (later.root / "tiktok/split/shop-recovered.png").unlink()
    state, still = _state(later)
    SplitScreenStep().run(state, later)
    assert calls == [later.root / "tiktok/split/video.mp4"] and len(state.derived) == 1
    got = read_image(later.root / "tiktok/split/shop-recovered.png").astype(float)
    assert np.abs(got - still.astype(float)).mean() < 6.0


def test_a_recollected_video_replaces_the_stale_recovered_shop_image(ctx):
    SplitScreenStep().run(_state(ctx)[0], ctx)
    old_still = read_image(ctx.root / "tiktok/split/shop-recovered.png").astype(float)
    # the item's video is collected again: another split-screen clip, another garment's still
    new_frames, new_still = split_screen(9, "left-right", True, 48, W, H)
    (ctx.root / "tiktok/split/video.mp4").unlink()
    for readers in _DEFAULT_CACHES.values():  # a rerun is a new process: no reader of the old file
        readers.clear()
    later = fresh_context(ctx)
    split = item("split")
    v = probed_video(later, split, new_frames)
    state = CleaningState(items={split.key: split}, videos={v.asset.path: v})
    SplitScreenStep().run(state, later)
    got = read_image(later.root / "tiktok/split/shop-recovered.png").astype(float)
    assert np.abs(got - new_still.astype(float)).mean() < 6.0
    assert np.abs(got - old_still).mean() > 10.0
    assert [a.path for a in state.derived] == ["tiktok/split/shop-recovered.png"]
    assert state.derived[0].sha256 == later.cache.get(v.asset.sha256, "recovered_shop")


def test_a_damaged_cached_detection_is_detected_again(ctx):
    state, _ = _state(ctx)
    SplitScreenStep().run(state, ctx)
    sha = state.videos["tiktok/split/video.mp4"].asset.sha256
    ctx.cache.put(sha, "splitscreen", {"found": True})  # no boxes
    later = fresh_context(ctx)
    state, _ = _state(later)
    report = SplitScreenStep().run(state, later)
    assert state.videos["tiktok/split/video.mp4"].asset.crop.box == [W // 2, 0, W, H]
    assert report.counts == {"split_screen_videos": 2, "shops_recovered": 1}


def _two_split_videos(ctx):
    """An item without a shop image holding two split-screen videos with different stills."""
    multi = item("multi")
    first, first_still = split_screen(11, "left-right", True, 48, W, H)
    second, second_still = split_screen(22, "left-right", True, 48, W, H)
    videos = [probed_video(ctx, multi, first), probed_video(ctx, multi, second, name="video-2.mp4")]
    state = CleaningState(items={multi.key: multi}, videos={v.asset.path: v for v in videos})
    return state, first_still, second_still


def test_two_split_videos_of_one_item_keep_their_own_stills_and_a_rerun_changes_nothing(ctx, monkeypatch):
    state, first_still, second_still = _two_split_videos(ctx)
    report = SplitScreenStep().run(state, ctx)
    assert report.counts == {"split_screen_videos": 2, "shops_recovered": 1}
    assert all(v.asset.crop is not None for v in state.videos.values())
    # the item takes the still of its first split video in path order, from that video's own file
    [shop] = state.derived
    assert (shop.url, shop.path) == (
        "splitscreen:tiktok/multi/video-2.mp4",
        "tiktok/multi/shop-recovered-video-2.png",
    )
    got = read_image(ctx.root / shop.path).astype(float)
    assert np.abs(got - second_still.astype(float)).mean() < 6.0
    assert np.abs(got - first_still.astype(float)).mean() > 10.0
    assert shop.sha256 == ctx.cache.get(
        state.videos["tiktok/multi/video-2.mp4"].asset.sha256, "recovered_shop"
    )

    later = fresh_context(ctx)
    calls = []
    real = split_step.detect_split_screen_file
    monkeypatch.setattr(split_step, "detect_split_screen_file", lambda p, *a: calls.append(p) or real(p, *a))
    again, _, _ = _two_split_videos(later)
    SplitScreenStep().run(again, later)
    assert calls == []  # nothing detected again
    assert [(a.url, a.path, a.sha256) for a in again.derived] == [(shop.url, shop.path, shop.sha256)]


def test_a_blank_half_over_a_moving_one_is_no_split_screen(ctx):
    blank = item("blank")
    frames = scene(3, 48, W, 2 * H).copy()
    frames[:, :H] = 0  # a black bar above the street video
    v = probed_video(ctx, blank, frames)
    state = CleaningState(items={blank.key: blank}, videos={v.asset.path: v})
    report = SplitScreenStep().run(state, ctx)
    assert report.counts == {"split_screen_videos": 0, "shops_recovered": 0}
    assert v.asset.crop is None and state.derived == []
    assert not (ctx.root / "tiktok/blank/shop-recovered.png").exists()


def test_a_rerun_removes_the_still_half_a_killed_run_left_half_written(ctx):
    """A clean killed while it wrote a recovered shop image left ``.shop-recovered.png.<host>-<pid>
    .<random>.part`` in the item's folder for good; a rerun removes it (a live writer's stays)."""
    import subprocess
    import sys

    from schemas.atomic import host_tag

    SplitScreenStep().run(_state(ctx)[0], ctx)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    folder = ctx.root / "tiktok/split"
    dead = folder / f".shop-recovered.png.{host_tag()}-{int(gone.stdout)}.k1ll3d.part"
    live = folder / f".shop-recovered.png.{host_tag()}-{os.getpid()}.w0rk1n.part"
    for p in (dead, live):
        p.write_bytes(b"\x89PNG half")
    SplitScreenStep().run(_state(fresh_context(ctx))[0], fresh_context(ctx))
    assert not dead.exists() and live.exists()
