"""An export reads and writes one video at a time: at 15K videos holding every video's tracklets
before writing took 4.9 GB (audit_scale D4). Checked by counting the videos read but not yet
released while each format's writer runs, and by the export's counts staying those of the
videos written."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

import annotations.exchange as exchange
import annotations.exchange.common as common
from annotations.exchange import export_dataset
from annotations.exchange.common import select_videos
from tests.annotations.review.review_dataset import make_review_dataset
from tests.heap import only_new_objects_collected


@pytest.fixture
def ds(gt_dataset, tmp_path) -> Path:
    out = tmp_path / "dataset"
    make_review_dataset(gt_dataset, out, tmp_path / "catalog.sqlite")
    return out


@pytest.mark.parametrize("fmt", ["cvat", "mot", "fiftyone"])
def test_every_format_holds_one_video_at_a_time(ds, tmp_path, monkeypatch, fmt):
    alive: list[weakref.ref] = []
    most = [0]
    load = common.load_planned

    def counted(*a, **k):
        got = load(*a, **k)
        gc.collect()
        most[0] = max(most[0], sum(r() is not None for r in alive) + 1)
        if isinstance(got, common.ExportVideo):
            alive.append(weakref.ref(got.vt))
        return got

    monkeypatch.setattr(exchange, "load_planned", counted)
    with only_new_objects_collected():
        res = export_dataset(ds, fmt, tmp_path / fmt, tracks="all")
    videos, left = select_videos(ds, "all")
    assert res["videos"] == len(videos) >= 3 and res["left_out"] == len(left)
    assert res["tracks"] == sum(len(v.tracks) for v in videos)
    assert res["boxes"] == sum(len(v.vt.tracklets[i].boxes) for v in videos for i in v.tracks)
    assert most[0] <= 2, f"{most[0]} videos' tracklets held at once"
