"""A truncated shop JPEG is damaged media as a truncated video is: the item is rejected naming the
file and what to do (``mf-collect --retry-rejected`` downloads it again), listed in the report;
it went to needs_review as "no shop image (none collected)" and no retry collected it again."""

from __future__ import annotations

import numpy as np
from PIL import Image

from cleaning.steps.probe import REDOWNLOAD, ProbeStep
from cleaning.steps.state import CleaningState
from schemas.items import DAMAGED_MEDIA_PREFIXES, AssetKind, Status
from tests.cleaning.media_helpers import scene, write_mp4
from tests.cleaning.steps.conftest import collected, item


def _shop(path, truncated: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(path, quality=90)
    if truncated:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_truncated_shop_jpeg_rejects_its_item_naming_it_and_the_retry(ctx):
    items = []
    for name, truncated in (("whole", False), ("cut", True)):
        it = item(name)
        write_mp4(ctx.root / f"tiktok/{name}/video.mp4", scene(1, n=30))
        collected(it, AssetKind.VIDEO, f"tiktok/{name}/video.mp4")
        _shop(ctx.root / f"tiktok/{name}/shop.jpg", truncated)
        collected(it, AssetKind.SHOP, f"tiktok/{name}/shop.jpg")
        items.append(it)
    state = CleaningState(items={it.key: it for it in items})
    report = ProbeStep().run(state, ctx)
    whole, cut = state.items.values()
    assert whole.status == Status.ACCEPTED
    assert cut.status == Status.REJECTED and cut.reason.startswith(DAMAGED_MEDIA_PREFIXES), cut.reason
    assert "tiktok/cut/shop.jpg" in cut.reason and cut.reason.endswith(REDOWNLOAD), cut.reason
    assert report.counts["damaged_shop_images"] == {"files": ["tiktok/cut/shop.jpg"], "fix": REDOWNLOAD}
    assert list(state.videos) == ["tiktok/whole/video.mp4"]
