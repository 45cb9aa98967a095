"""The review queue of the real archive as downloaded reads each product's paths from the split
files, not their boxes (15K products x ~390 boxes: ~13 s of a ~14.6 s build): the same queue as
one built from the whole files' validated read."""

from __future__ import annotations

import annotations.review.queue as queue
import schemas.official as official
from annotations.review.queue import build_queue
from annotations.tracklet_files import load_splits
from tests.movingfashion.helpers import edit_split, make_archive


def _extras(data: dict) -> None:  # an empty tracklet, a product without tracklets, an extra key
    data["r2"]["tracklets"][0] = {}
    data["r2"]["note"] = {"tracklets": [{"0": [1, 2, 3, 4]}]}
    del data["h2"]["tracklets"]


def _items(q: queue.Queue) -> list[tuple]:
    return [
        (
            it.as_dict(),
            it.reason,
            it.split_truth,
            dict((it.split_boxes or {}).items()) if it.split_truth else None,
        )
        for it in q.items
    ]


def test_the_queue_equals_the_one_built_from_the_whole_files(tmp_path, monkeypatch):
    root = make_archive(tmp_path / "mf")
    edit_split(root, "test", _extras)
    lazy = build_queue(root, sample_rate=1.0)

    from schemas.official import OfficialHead

    def heads_of_full_read(dataset):
        return {
            name: {
                pid: OfficialHead(tuple(e.video_paths), e.img_path, e.source, tuple(map(bool, e.tracklets)))
                for pid, e in split.items()
            }
            for name, split in load_splits(dataset).items()
        }

    monkeypatch.setattr(queue, "load_split_heads_rows", lambda dataset: (heads_of_full_read(dataset), []))
    full = build_queue(root, sample_rate=1.0)
    assert _items(lazy) == _items(full) and len(lazy.items) == 5
    assert (lazy.flagged, lazy.accepted, lazy.sampled) == (full.flagged, full.accepted, full.sampled)
    assert any(it.split_truth is None and not it.has_file for it in lazy.items)  # r2's empty tracklet


def test_building_the_queue_parses_no_split_file_whole(tmp_path, monkeypatch):
    root = make_archive(tmp_path / "mf")
    parsed: list[object] = []
    real = official._load
    monkeypatch.setattr(official, "_load", lambda p: parsed.append(p) or real(p))
    q = build_queue(root, sample_rate=1.0)
    assert parsed == [] and len(q.items) == 5
    assert q.by_stem["r2_0"].split_boxes and parsed == []  # one video's boxes: that entry alone
