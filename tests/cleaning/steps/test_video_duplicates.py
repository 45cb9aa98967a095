"""Step ``video_duplicates`` on a state made in the test: a re-encode is found, a different video is not."""

from __future__ import annotations

import cleaning.steps.video_duplicates as dup_step
from cleaning.steps.state import CleaningState
from cleaning.steps.video_duplicates import VideoDuplicatesStep
from schemas.items import Status
from tests.cleaning.media_helpers import scene, write_mp4
from tests.cleaning.steps.conftest import fresh_context, item, probed_video


def _state(ctx):
    a, b, c = item("a"), item("b"), item("c")
    frames = scene(7, n=60)
    if not (ctx.root / "tiktok/b/video.mp4").exists():
        # b: the same clip encoded again at another quality (other bytes, same content)
        write_mp4(ctx.root / "tiktok/b/video.mp4", frames, crf=35)
    videos = [
        probed_video(ctx, a, frames),
        probed_video(ctx, b, frames),
        probed_video(ctx, c, scene(8, n=60)),
    ]
    state = CleaningState(items={it.key: it for it in (a, b, c)})
    state.videos = {v.asset.path: v for v in videos}
    return state


def test_a_reencoded_video_makes_its_item_a_duplicate(ctx):
    state = _state(ctx)
    report = VideoDuplicatesStep().run(state, ctx)
    a, b, c = (state.items[k] for k in ("tiktok/a", "tiktok/b", "tiktok/c"))
    # equal length, size and partition: the smaller key is kept
    assert (b.status, b.duplicate_of) == (Status.DUPLICATE, "tiktok/a")
    assert b.reason == "dedup: reencode duplicate of tiktok/a"
    assert a.status == c.status == Status.ACCEPTED
    vb = state.videos["tiktok/b/video.mp4"]
    assert vb.asset.status == Status.DUPLICATE and vb.asset.duplicate_of == "tiktok/a/video.mp4"
    assert report.counts == {
        "duplicate_videos": {"reencode": 1},
        "duplicate_clusters": 1,
        "pairs_recomputed": 0,
        "duplicates_of_review_rejected": 0,
    }


def test_frame_hashes_are_cached(ctx, monkeypatch):
    VideoDuplicatesStep().run(_state(ctx), ctx)
    later = fresh_context(ctx)

    def boom(*a, **k):
        raise AssertionError("hashed again")

    monkeypatch.setattr(dup_step, "fingerprint_video", boom)
    state = _state(later)
    VideoDuplicatesStep().run(state, later)
    assert state.failures() == [] and state.items["tiktok/b"].status == Status.DUPLICATE


def test_a_video_that_does_not_decode_everywhere_is_rejected(ctx):
    state = _state(ctx)
    (ctx.root / "tiktok/c/video.mp4").write_bytes(b"\x00" * 100)  # probed fine, broken since
    VideoDuplicatesStep().run(state, ctx)
    c = state.items["tiktok/c"]
    assert c.status == Status.REJECTED and c.reason == "probe: no valid video (none decodes fully)"
    assert "tiktok/c/video.mp4" not in state.videos
    assert c.assets[0].status == Status.REJECTED and c.assets[0].reason.startswith("probe: corrupt")
