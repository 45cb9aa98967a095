"""Step ``probe`` on a rerun: files are stat'ed again and hashed again only when they changed, so
an overwritten video is rejected and a deleted one makes its item fail (listed, decided nothing:
``mf-collect`` fetches it again); a damaged cached probe is probed again."""

from __future__ import annotations

import cleaning.steps.probe as probe_step
from cleaning.steps.probe import ProbeStep
from cleaning.steps.state import CleaningState
from schemas.atomic import sha256_file
from schemas.items import AssetKind, Status
from tests.cleaning.media_helpers import scene, write_mp4
from tests.cleaning.steps.conftest import collected, fresh_context, item


def _state(ctx, names=("a", "b", "c")):
    """Items whose videos the collector recorded with SHA-256 and size (as mf-collect does)."""
    items = []
    for name in names:
        it = item(name)
        rel = f"tiktok/{name}/video.mp4"
        a = collected(it, AssetKind.VIDEO, rel)
        it.collected[-1] = a.model_copy(update={"sha256": _first_sha[rel], "size": _first_size[rel]})
        items.append(it)
    return CleaningState(items={it.key: it for it in items})


_first_sha: dict[str, str] = {}
_first_size: dict[str, int] = {}


def _collect(ctx, names=("a", "b", "c")):
    for i, name in enumerate(names):
        rel = f"tiktok/{name}/video.mp4"
        write_mp4(ctx.root / rel, scene(i + 1, n=30))
        _first_sha[rel] = sha256_file(ctx.root / rel)
        _first_size[rel] = (ctx.root / rel).stat().st_size


def test_a_rerun_fails_a_deleted_video_and_rejects_an_overwritten_one(ctx):
    _collect(ctx)
    first = _state(ctx)
    ProbeStep().run(first, ctx)
    assert [it.status for it in first.items.values()] == [Status.ACCEPTED] * 3
    (ctx.root / "tiktok/a/video.mp4").unlink()
    (ctx.root / "tiktok/b/video.mp4").write_bytes(b"not a video at all")
    later = fresh_context(ctx)
    state = _state(later)
    report = ProbeStep().run(state, later)
    a, b, c = state.items.values()
    # gone from the disk: not a verdict on the content (was: rejected for good, and mf-collect
    # skipped it even with --retry-rejected); the item is listed and its catalog rows stay
    assert a.status == Status.ACCEPTED and [f.item for f in state.failures()] == ["tiktok/a"]
    assert state.failures()[0].step == "probe" and "run mf-collect again" in state.failures()[0].error
    assert b.status == Status.REJECTED and b.reason.startswith("probe: no valid video (corrupt")
    # the damaged file is named with what to do (was: the reason alone, and a bare count)
    assert b.reason.endswith(": tiktok/b/video.mp4; " + probe_step.REDOWNLOAD)
    assert "mf-collect --retry-rejected" in probe_step.REDOWNLOAD
    assert (
        b.assets[0].sha256
        == sha256_file(later.root / "tiktok/b/video.mp4")
        != _first_sha["tiktok/b/video.mp4"]
    )
    assert b.assets[0].size == len(b"not a video at all")
    assert c.status == Status.ACCEPTED and list(state.videos) == ["tiktok/c/video.mp4"]
    assert report.counts == {
        "probe_rejected": {"corrupt": 1},
        "damaged_videos": {"files": ["tiktok/b/video.mp4"], "fix": probe_step.REDOWNLOAD},
    }


def test_a_same_size_overwrite_is_found_by_its_modification_time(ctx):
    _collect(ctx, ("a",))
    ProbeStep().run(_state(ctx, ("a",)), ctx)
    path = ctx.root / "tiktok/a/video.mp4"
    path.write_bytes(b"\x00" * path.stat().st_size)  # same size, new mtime
    later = fresh_context(ctx)
    state = _state(later, ("a",))
    ProbeStep().run(state, later)
    assert state.items["tiktok/a"].status == Status.REJECTED
    assert state.items["tiktok/a"].assets[0].sha256 == sha256_file(path)


def test_an_unchanged_collection_is_not_hashed_again(ctx, monkeypatch):
    _collect(ctx)
    ProbeStep().run(_state(ctx), ctx)
    later = fresh_context(ctx)
    hashed = []
    real = probe_step.sha256_file
    monkeypatch.setattr(probe_step, "sha256_file", lambda p: hashed.append(p) or real(p))
    state = _state(later)
    ProbeStep().run(state, later)
    assert hashed == [] and len(state.videos) == 3


def test_a_damaged_cached_probe_is_probed_again(ctx):
    _collect(ctx, ("a",))
    ProbeStep().run(_state(ctx, ("a",)), ctx)
    sha = _first_sha["tiktok/a/video.mp4"]
    ctx.cache.put(sha, "probe", {"ok": False})  # no reason, no probe
    later = fresh_context(ctx)
    state = _state(later, ("a",))
    ProbeStep().run(state, later)
    assert state.items["tiktok/a"].status == Status.ACCEPTED
    assert (
        later.cache.get(sha, "probe")["ok"] is True and state.videos["tiktok/a/video.mp4"].probe.frames == 30
    )


def _replace_same_size(path) -> None:
    """Other content of the same size (a new modification time)."""
    data = path.read_bytes()
    path.write_bytes(data[:100] + bytes(255 - b for b in data[100:200]) + data[200:])


def test_a_same_size_replacement_before_the_first_clean_gets_its_own_sha(ctx):
    """With no record of the file, a size equal to the catalog's kept the collector's SHA-256,
    and every result of the new bytes was cached under the old one (audit_stale D1)."""
    _collect(ctx, ("a",))
    path = ctx.root / "tiktok/a/video.mp4"
    _replace_same_size(path)
    state = _state(ctx, ("a",))
    ProbeStep().run(state, ctx)
    sha = state.items["tiktok/a"].assets[0].sha256
    assert sha == sha256_file(path) != _first_sha["tiktok/a/video.mp4"]


def test_a_threshold_change_keeps_the_file_records(ctx, monkeypatch):
    """The records of files are no results: new thresholds (another cache tag) drop every
    result but keep them, so an unchanged file is not hashed again and a replaced one still is."""
    from cleaning.config import CleaningConfig
    from cleaning.steps.base import StepContext
    from cleaning.steps.cache import ResultCache
    from movingfashion.executors.local import LocalExecutor

    _collect(ctx, ("a", "b"))
    ProbeStep().run(_state(ctx, ("a", "b")), ctx)
    ctx.cache.save()
    _replace_same_size(ctx.root / "tiktok/b/video.mp4")
    cfg = CleaningConfig.model_validate({"probe": {"min_frames": 2}})
    cache = ResultCache(ctx.cache.path, cfg)
    assert cache.tag != ctx.cache.tag
    later = StepContext(ctx.catalog, ctx.root, cfg, cache, LocalExecutor())
    hashed = []
    real = probe_step.sha256_file
    monkeypatch.setattr(
        probe_step, "sha256_file", lambda p: hashed.append(p.name if hasattr(p, "name") else p) or real(p)
    )
    state = _state(later, ("a", "b"))
    ProbeStep().run(state, later)
    assert len(hashed) == 1  # b only
    assert state.items["tiktok/b"].assets[0].sha256 == sha256_file(ctx.root / "tiktok/b/video.mp4")
    assert state.items["tiktok/a"].assets[0].sha256 == _first_sha["tiktok/a/video.mp4"]
