"""The cached evidence of a video pair is stamped with the comparison's version and the dedup
config: evidence an older release (or another version) kept is verified again and counted in
``pairs_recomputed``, evidence of this version is reused."""

from __future__ import annotations

from typing import Any

import cleaning.dedup as dedup
from cleaning.steps.base import StepContext
from cleaning.steps.state import CleaningState
from cleaning.steps.video_duplicates import VideoDuplicatesStep
from tests.cleaning.media_helpers import scene, write_mp4
from tests.cleaning.steps.conftest import fresh_context, item, probed_video

A, B = "tiktok/a/video.mp4", "tiktok/b/video.mp4"


def _pair(ctx: StepContext) -> CleaningState:
    """Items a and b carrying one clip (b's encoded again: other bytes, verified on pixels)."""
    a, b = item("a"), item("b")
    frames = scene(7, n=60)
    if not (ctx.root / B).exists():
        write_mp4(ctx.root / B, frames, crf=35)
    state = CleaningState(items={a.key: a, b.key: b})
    state.videos = {v.asset.path: v for v in (probed_video(ctx, a, frames), probed_video(ctx, b, frames))}
    return state


def _key(state: CleaningState) -> tuple[str, str]:
    return state.videos[A].asset.sha256, f"pair:{state.videos[B].asset.sha256}"


def _counting_verify(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = dedup.verify_pair

    def counted(*a: Any, **k: Any) -> float | None:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(dedup, "verify_pair", counted)
    return calls


def _rerun(
    ctx: StepContext, monkeypatch, edit
) -> tuple[CleaningState, StepContext, dict[str, Any], list[int]]:
    """A first run, ``edit(cache, sha, what)`` of its cache, then a later run: (its state, its
    context, its report's counts, the pairs it verified)."""
    first = _pair(ctx)
    VideoDuplicatesStep().run(first, ctx)
    edit(ctx.cache, *_key(first))
    later = fresh_context(ctx)
    calls = _counting_verify(monkeypatch)
    state = _pair(later)
    counts = VideoDuplicatesStep().run(state, later).counts
    return state, later, counts, calls


def test_evidence_an_older_release_kept_is_verified_again(ctx, monkeypatch):
    """An unstamped entry (what the cache held before the stamp) saying "not a duplicate" is not
    believed: the pair is verified again and found a duplicate."""

    def legacy(cache, sha: str, what: str) -> None:
        kept = cache.get(sha, what)["evidence"]
        cache.put(sha, what, {**kept, "duplicate": False, "score": 0.05})

    state, _, counts, calls = _rerun(ctx, monkeypatch, legacy)
    assert calls, "the stale pair was not verified again"
    assert counts["pairs_recomputed"] == 1
    assert state.items["tiktok/b"].duplicate_of == "tiktok/a"


def test_evidence_of_another_version_is_verified_again(ctx, monkeypatch):
    def other_version(cache, sha: str, what: str) -> None:
        kept = cache.get(sha, what)
        stamp = {**kept["stamp"], "version": dedup.PAIR_EVIDENCE_VERSION + 1}
        cache.put(sha, what, {"stamp": stamp, "evidence": {**kept["evidence"], "duplicate": False}})

    state, later, counts, calls = _rerun(ctx, monkeypatch, other_version)
    assert calls and counts["pairs_recomputed"] == 1
    assert state.items["tiktok/b"].duplicate_of == "tiktok/a"
    # written again under this version
    entry = later.cache.get(*_key(state))
    assert entry["stamp"] == dedup.pair_stamp(ctx.cfg.dedup) and entry["evidence"]["duplicate"] is True


def test_evidence_of_this_version_is_reused(ctx, monkeypatch):
    state, _, counts, calls = _rerun(ctx, monkeypatch, lambda cache, sha, what: None)
    assert calls == [] and counts["pairs_recomputed"] == 0
    assert state.items["tiktok/b"].duplicate_of == "tiktok/a"


def test_the_stamp_holds_the_dedup_config():
    from cleaning.config import DedupConfig

    assert dedup.pair_stamp(DedupConfig()) != dedup.pair_stamp(DedupConfig(verify_threshold=0.99))
