"""A build orders a reviewer's accept against its own work by the review sources' own order (the
log's record number, the catalog's decision id), not by wall clocks: an accept made while it
runs is seen though the recorder's clock is behind (a step back, another host), and a file built
after an accept is not kept as that accept's though the recorder's clock was ahead."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import annotations.review.marks as marks
import schemas.review as review
from annotations.builder import REVIEW_SEEN, build_dataset_tracklets
from annotations.config import BuildConfig
from annotations.tracklet_files import build_record_file, read_build_record, tracklet_file
from schemas.catalog import Catalog
from tests.annotations.test_builder_races import PA, RacedBuilder
from tests.annotations.test_reruns import FakeBuilder, two_product_dataset


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = two_product_dataset(tmp_path / "ds")
    assert build_dataset_tracklets(root, builder=FakeBuilder()).processed == 2
    return root


@contextmanager
def _clock(seconds: float) -> Iterator[None]:
    """The review recorders' wall clock ``seconds`` off (a step, or another host's clock)."""
    real = marks.datetime
    off = dt.timedelta(seconds=seconds)

    class Off(real):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
            return real.now(tz) + off

    with pytest.MonkeyPatch.context() as m:
        m.setattr(marks, "datetime", Off)
        m.setattr(review, "_now", lambda: (real.now(dt.UTC) + off).isoformat(timespec="microseconds"))
        yield


def _accept(root: Path, seconds: float = 0.0, catalog: Path | None = None) -> None:
    """pa_0 accepted (``mf-tracklets review --accept``; with ``catalog``, stored there too)."""
    with _clock(seconds):
        marks.record_decision(root, "pa_0", "pa", "accept", catalog=catalog, video_path=PA)


def test_an_accept_made_while_the_build_runs_with_a_clock_behind_keeps_the_file(ds: Path):
    before = tracklet_file(ds, PA).read_bytes()
    rep = build_dataset_tracklets(ds, builder=RacedBuilder(PA, lambda root: _accept(root, -60)), force=True)
    assert [k["holds"] for k in rep.kept_human_videos] == ["review accept"]  # was: [] (overwritten)
    assert tracklet_file(ds, PA).read_bytes() == before


def test_a_catalog_accept_made_while_the_build_runs_with_a_clock_behind_keeps_the_file(
    ds: Path, tmp_path: Path
):
    """Only the catalog holds it (the page's accept); its latest verdict is the latest by id, not
    by time: an earlier reject dated later by a clock ahead does not hide it."""
    cat = tmp_path / "catalog.sqlite"
    Catalog(cat).close()
    with Catalog(cat) as db, _clock(+3600):
        review.record_decision(db, video=PA, product_id="pa", kind="reject", reason="noisy")

    def meanwhile(root: Path) -> None:
        with Catalog(cat) as db, _clock(-60):
            review.record_decision(db, video=PA, product_id="pa", kind="accept")

    rep = build_dataset_tracklets(ds, builder=RacedBuilder(PA, meanwhile), force=True, catalog=cat)
    assert [k["holds"] for k in rep.kept_human_videos] == ["review accept"]  # was: []


def test_an_accept_after_the_build_with_a_clock_behind_keeps_the_file_at_the_next_build(ds: Path):
    _accept(ds, -3600)  # the reviewer's host an hour behind: dated before the build record
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=2)))
    assert rep.kept_human_videos == [
        {"video": "pa_0", "holds": "review accept", "due": "build settings changed (stride)"}
    ]  # was: [] (built again over the accepted file)


def test_a_file_built_after_an_accept_with_a_clock_ahead_is_not_kept_as_its(ds: Path):
    _accept(ds, +3600)  # the reviewer's host an hour ahead: dated after the next build
    build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=2)), discard_corrections=True)
    assert read_build_record(tracklet_file(ds, PA))[REVIEW_SEEN] == {"log": 1}
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=3)))
    assert rep.kept_human == 0 and rep.processed == 2  # was: pa_0 kept as "review accept"


def test_an_older_build_record_falls_back_to_the_clocks(ds: Path):
    """A build record without :data:`REVIEW_SEEN` (an older toolkit's): the accept's time against
    the record file's mtime, as before."""
    p = tracklet_file(ds, PA)
    record = read_build_record(p)
    del record[REVIEW_SEEN]
    build_record_file(p).write_text(json.dumps(record))
    _accept(ds, -3600)  # dated before the record: taken as an accept of an older file
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=2)))
    assert rep.kept_human == 0 and rep.processed == 2
