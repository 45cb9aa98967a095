"""A collector rerun that collects an accepted item again (one of its files was gone or damaged)
leaves its intact files' rows ``accepted`` and the item ``downloaded``; the next ``mf clean``
decides it again from its result cache (by SHA-256, the files vouched for by size and
modification time): it hashes, probes, fingerprints or scores none of its unchanged files."""

from __future__ import annotations

from cleaning.pipeline import clean
from cleaning.steps.base import StepContext
from schemas.catalog import Catalog
from schemas.items import Status


def test_a_recollected_accepted_item_is_cleaned_from_the_cache(catalog_copy, cleaned_world, monkeypatch):
    mapped: list[tuple[str, int]] = []
    real = StepContext.map

    def spy(self, fn, tasks, **kw):
        mapped.append((kw["desc"], len(tasks)))
        return real(self, fn, tasks, **kw)

    with Catalog(catalog_copy) as cat:
        row = cat.items(status=Status.ACCEPTED, source="netaporter")[0]
        src, sid = str(row.item.source), row.item.source_id
        assets = cat.assets(source=src, source_id=sid)
        # as the collector leaves it (seen on the small world: one image deleted, mf-collect run
        # again): the file it fetched again (same bytes) downloaded, the rest accepted as cleaning
        # left them, the item downloaded; here the file keeps its modification time (a new one
        # costs one SHA-256 of that file, no probe)
        again = next(a for a in assets if a.kind != "video")
        cat.upsert_assets([again.model_copy(update={"status": Status.DOWNLOADED, "probe": None})])
        cat.set_item_state(src, sid, status=Status.DOWNLOADED, reason=None)
        monkeypatch.setattr(StepContext, "map", spy)
        clean(cat, cleaned_world.root)
        after = cat.get_item(src, sid)
        rows = {a.path: a.status for a in cat.assets(source=src, source_id=sid)}
    assert after.status == row.status and after.product_id == row.product_id, after
    assert rows == {a.path: a.status for a in assets}
    assert [m for m in mapped if m[1]] == [], mapped  # nothing hashed, probed, decoded or scored
