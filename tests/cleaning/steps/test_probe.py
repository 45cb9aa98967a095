"""Step ``probe`` on items made in the test: valid, corrupt, and a path leaving the root."""

from __future__ import annotations

import pytest

import cleaning.steps.probe as probe_step
from cleaning.steps.probe import REDOWNLOAD, ProbeStep
from cleaning.steps.state import CleaningState
from schemas.items import AssetKind, Status
from tests.cleaning.media_helpers import scene, write_mp4
from tests.cleaning.steps.conftest import collected, fresh_context, item


def _state(ctx):
    good, broken, escaping, imageonly = item("good"), item("broken"), item("escaping"), item("imageonly")
    if not (ctx.root / "tiktok/good/video.mp4").exists():
        write_mp4(ctx.root / "tiktok/good/video.mp4", scene(1, n=30))
    collected(good, AssetKind.VIDEO, "tiktok/good/video.mp4")
    (ctx.root / "tiktok/broken").mkdir(parents=True, exist_ok=True)
    (ctx.root / "tiktok/broken/video.mp4").write_bytes(b"\x00" * 1000)
    collected(broken, AssetKind.VIDEO, "tiktok/broken/video.mp4")
    collected(escaping, AssetKind.VIDEO, "../outside/video.mp4")
    collected(imageonly, AssetKind.SHOP, "tiktok/imageonly/shop.jpg")  # missing file, no video
    return CleaningState(items={it.key: it for it in (good, broken, escaping, imageonly)})


def test_probe_accepts_rejects_and_lists_what_it_cannot_touch(ctx):
    state = _state(ctx)
    report = ProbeStep().run(state, ctx)
    good, broken, escaping, imageonly = state.items.values()
    assert good.status == Status.ACCEPTED and list(state.videos) == ["tiktok/good/video.mp4"]
    video = state.videos["tiktok/good/video.mp4"]
    assert video.owner == "tiktok/good" and video.probe.frames == 30 and video.asset.sha256
    assert broken.status == Status.REJECTED and broken.reason.startswith("probe: no valid video (corrupt")
    assert broken.assets[0].status == Status.REJECTED and broken.assets[0].reason.startswith("probe: corrupt")
    # its collected shop image is not on the disk: listed (mf-collect fetches it again), not rejected
    assert [f.item for f in state.failures()] == ["tiktok/escaping", "tiktok/imageonly"]
    assert state.failures()[0].step == "probe" and "outside the collection root" in state.failures()[0].error
    assert "missing" in state.failures()[1].error and "mf-collect" in state.failures()[1].error
    assert report.counts == {
        "probe_rejected": {"corrupt": 1},
        "damaged_videos": {"files": ["tiktok/broken/video.mp4"], "fix": REDOWNLOAD},
    }


def test_a_rerun_takes_probes_from_the_cache(ctx, monkeypatch):
    ProbeStep().run(_state(ctx), ctx)
    later = fresh_context(ctx)

    def boom(*a, **k):
        raise AssertionError("probed again")

    monkeypatch.setattr(probe_step, "probe_video", boom)
    state = _state(later)
    ProbeStep().run(state, later)
    assert [f.item for f in state.failures()] == ["tiktok/escaping", "tiktok/imageonly"]
    assert state.items["tiktok/good"].status == Status.ACCEPTED


@pytest.mark.parametrize("rel", ["../x.mp4", "/etc/passwd", "tiktok/../../x.mp4"])
def test_paths_outside_the_root_are_refused(ctx, rel):
    from schemas.paths import PathEscapeError

    with pytest.raises(PathEscapeError, match="outside the collection root") as err:
        ctx.path(rel)
    assert err.value.value == rel and err.value.root == str(ctx.root)
    assert ctx.path("tiktok/a/../b/video.mp4") == ctx.root / "tiktok/b/video.mp4"
