"""A published folder (``mf publish``'s: tables, card, manifest) with one bad row: the build holds
the product out and builds the rest; the tables cannot be written from a split file with a bad
row, so the folder's description is left for the rerun after the fix (named, not a crash after
every video was built)."""

from __future__ import annotations

import json

import tests.annotations.test_reruns as reruns
from annotations.builder import build_dataset_tracklets
from annotations.tracklet_files import tracklet_file
from movingfashion.archive.describe import described
from movingfashion.archive.verify import verify_dataset
from tests.annotations.test_reruns import FakeBuilder


class _AnyShop(FakeBuilder):
    """:class:`FakeBuilder` for any shop image (the garment of ``imgs/a.jpg``)."""

    def process(self, dataset, job, timings):
        reruns.GARMENT.setdefault(job.img_path, reruns.GARMENT["imgs/a.jpg"])
        return super().process(dataset, job, timings)


def test_a_published_folder_builds_the_rest_and_names_what_it_did_not_refresh(published, monkeypatch):
    ds, _ = published
    monkeypatch.setattr(reruns, "GARMENT", dict(reruns.GARMENT))
    assert described(ds)
    data = json.loads((ds / "train.json").read_text())
    bad, good = list(data)[:2]
    data[bad]["tracklets"][0] = {"0": [30, 2, 10, 4]}
    (ds / "train.json").write_text(json.dumps(data))
    kept = tracklet_file(ds, data[bad]["video_paths"][0])
    before = kept.read_bytes()
    builder = _AnyShop()  # another detector than the published build's: every video is due
    rep = build_dataset_tracklets(ds, builder=builder)
    assert [h["product_id"] for h in rep.held_out] == [bad] and rep.processed == rep.videos >= 2
    assert good in {pid for pid, _ in builder.built} and bad not in {pid for pid, _ in builder.built}
    assert kept.read_bytes() == before  # the held-out product's file is left as it was
    assert rep.not_refreshed is not None and f"product '{bad}'" in rep.not_refreshed
    assert json.loads((ds / "train.json").read_text())[bad] == data[bad]
    assert [b for b in verify_dataset(ds).breaks if b.check == "manifest"]  # not refreshed: said so
    # fixed: the rerun builds it and refreshes the folder: its manifest agrees with its files
    data = json.loads((ds / "train.json").read_text())
    data[bad]["tracklets"][0] = {}
    (ds / "train.json").write_text(json.dumps(data))
    rep = build_dataset_tracklets(ds, builder=_AnyShop())
    assert rep.held_out == [] and rep.not_refreshed is None
    assert [b for b in verify_dataset(ds).breaks if b.check == "manifest"] == []
