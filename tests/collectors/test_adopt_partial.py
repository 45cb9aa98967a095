"""The copy ``CollectContext.adopt_file`` makes of a user's file went through a fixed
``.<kind>.adopt.part`` name that no sweep knew: a run killed mid-copy left it in the item folder
(up to the file's size) for good, and a full disk named it instead of the file being collected.
It is now a temporary file named as ``schemas.atomic.partial_path`` names them: the sweeps
remove it once its writer is gone, the item's next collection first of all."""

from __future__ import annotations

import shutil

import pytest

from collectors import core
from collectors.config import CollectConfig
from collectors.core import CollectContext
from schemas import atomic
from schemas.atomic import sweep_partials
from schemas.catalog import Catalog
from schemas.items import AssetKind, SourceItem, SourceName
from schemas.partials import partial_target


def test_a_copy_a_killed_run_left_is_a_partial_the_sweeps_remove(tmp_path, monkeypatch):
    from tests.collectors.fakesite import jpeg_bytes

    image = tmp_path / "shop.jpg"
    image.write_bytes(jpeg_bytes(3))
    item = SourceItem(source=SourceName.URLS, source_id="ok-1", url="http://x.invalid/ok-1")

    def killed_mid_copy(src, dst):
        with open(dst, "wb") as fh:
            fh.write(b"half")
        raise KeyboardInterrupt

    with Catalog(tmp_path / "c.sqlite") as cat:
        ctx = CollectContext(tmp_path / "root", cat, CollectConfig(), None)
        folder = ctx.item_dir(item.source, item.source_id)
        with monkeypatch.context() as m:
            m.setattr(core.shutil, "copyfile", killed_mid_copy)
            with pytest.raises(KeyboardInterrupt):
                ctx.adopt_file(item, AssetKind.SHOP, image, "image", url=str(image))
        [left] = [p for p in folder.iterdir()]
        assert partial_target(left) == folder / "shop.jpg"  # what a fault met writing it names
        monkeypatch.setattr(atomic, "pid_alive", lambda pid: False)  # its writer is gone
        asset = ctx.adopt_file(item, AssetKind.SHOP, image, "image", url=str(image))  # the next collection
        assert sorted(p.name for p in folder.iterdir()) == ["shop.jpg"] and asset.path.endswith("shop.jpg")
        shutil.copyfile(image, left)  # and any other sweep of the folder
        assert sweep_partials(folder) == 1 and not left.exists()
