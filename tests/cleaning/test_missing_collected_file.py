"""A collected file deleted from the disk is local state, not a verdict on its content: ``mf clean``
lists its item as failed (naming the file and ``mf-collect``) and decides nothing, ``mf-collect``
fetches it again, and the next ``mf clean`` accepts the item (was: rejected ``missing`` for good,
and skipped by ``mf-collect`` even with ``--retry-rejected``)."""

from __future__ import annotations

import hashlib

from cleaning.config import CleaningConfig
from cleaning.pipeline import clean
from collectors.api import collect
from schemas.catalog import Catalog
from schemas.items import AssetKind, Status
from tests.collectors.test_world import cfg_for


def test_a_deleted_video_is_fetched_again_then_accepted(world_server, tmp_path):
    fx = world_server.write_fixtures(tmp_path / "fixtures")
    out, cat_path = tmp_path / "out", tmp_path / "catalog.sqlite"
    cfg = cfg_for(world_server.base_url)
    assert collect("netaporter", [fx["sitemap"]], root=out, catalog=cat_path, cfg=cfg).failed == 0
    probe_only = CleaningConfig(steps=["probe"])
    with Catalog(cat_path) as cat:
        assert clean(cat, out, probe_only)["failed"] == []
        assert all(r.status != Status.REJECTED for r in cat.items())
        row = cat.items()[0]
        status = row.status
        (video,) = cat.assets(source=row.item.source, source_id=row.item.source_id, kind=AssetKind.VIDEO)
    key = f"{row.item.source}/{row.item.source_id}"
    original = hashlib.sha256((out / video.path).read_bytes()).hexdigest()
    (out / video.path).unlink()

    with Catalog(cat_path) as cat:
        report = clean(cat, out, probe_only)
        assert [f["item"] for f in report["failed"]] == [key]
        assert video.path in report["failed"][0]["error"] and "mf-collect" in report["failed"][0]["error"]
        assert cat.get_item(str(row.item.source), row.item.source_id).status == status  # nothing decided

    again = collect("netaporter", [fx["sitemap"]], root=out, catalog=cat_path, cfg=cfg)
    assert again.failed == 0 and again.ok == 1  # only the item whose file was gone
    assert hashlib.sha256((out / video.path).read_bytes()).hexdigest() == original
    with Catalog(cat_path) as cat:
        assert clean(cat, out, probe_only)["failed"] == []
        assert cat.get_item(str(row.item.source), row.item.source_id).status != Status.REJECTED
