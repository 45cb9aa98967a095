"""Shards of one folder built on several machines: a shard's run killed after writing a video,
before its settle pass, is settled by its rerun (the video's product marked needs_review in the
catalog) even when another shard's run finished in between; no build clears another live or
other-shard run's line of the refresh-pending mark; an import's or a pick's line a build finds at
its start is settled by its whole-folder refresh and cleared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from annotations.builder import build_dataset_tracklets, in_shard, load_splits, video_jobs
from annotations.config import BuildConfig, ReviewConfig
from annotations.refresh_mark import BY_BUILD, BY_PICK, REFRESH_PENDING, pending_by
from annotations.tracklet_files import read_video_tracklets
from schemas.catalog import Catalog
from schemas.items import SourceItem, Status

#: a shop-score bar nobody reaches: every video is flagged
CONFIG = BuildConfig(stride=6, review=ReviewConfig(min_shop_score=1.0))


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def _mini(gt_dataset: Path, dst: Path, n_products: int = 2) -> Path:
    shutil.copytree(gt_dataset, dst, ignore=shutil.ignore_patterns("tracklets"))
    train = json.loads((dst / "train.json").read_text())
    (dst / "train.json").write_text(json.dumps(dict(list(train.items())[:n_products])))
    (dst / "test.json").write_text("{}")
    return dst


def _build(ds: Path, cat: Path, shard: tuple[int, int], kill_after: str | None = None) -> None:
    def on_video(job, outcome, rep) -> None:
        if job.key == kill_after and outcome == "done":
            raise _Killed  # after its file is written, before the flags are settled

    build_dataset_tracklets(ds, config=CONFIG, shard=shard, catalog=cat, on_video=on_video)


def test_a_killed_shards_videos_are_marked_by_its_rerun_after_another_shard_ran(gt_dataset, tmp_path):
    ds, cat = _mini(gt_dataset, tmp_path / "ds"), tmp_path / "cat.sqlite"
    jobs = video_jobs(load_splits(ds))
    victim = jobs[0]
    mine = (0 if in_shard(victim.video_path, (0, 2)) else 1, 2)
    other = (1 - mine[0], 2)
    with Catalog(cat) as c:
        c.upsert_items(
            [
                SourceItem(source="netaporter", source_id=p, url=f"http://x/{p}")
                for p in {j.product_id for j in jobs}
            ],
            status=Status.ACCEPTED,  # published: the builder's flags hold it
        )
    with pytest.raises(_Killed):
        _build(ds, cat, mine, kill_after=victim.key)
    assert read_video_tracklets(victim.tracklet_file(ds)).needs_review  # written, not yet marked
    killed = pending_by(ds)
    assert len(killed) == 1 and next(iter(killed)).startswith(BY_BUILD)  # the killed run's line
    # a pick of another product's video meanwhile (its server killed before its refresh)
    (ds / REFRESH_PENDING).write_text("".join(f"{x}\n" for x in (*killed, BY_PICK)))
    _build(ds, cat, other)  # the other machine's shard, start to end
    after_other = pending_by(ds)
    _build(ds, cat, mine)  # the killed shard's rerun
    with Catalog(cat) as c:
        assert c.get_item("netaporter", victim.product_id).status == Status.NEEDS_REVIEW
    # the other shard left the killed run's line; its whole-folder refresh settled the pick's
    assert after_other == killed
    assert pending_by(ds) == set()  # its own shard's killed line is settled
    _build(ds, cat, (0, 1))  # the settle run over every shard
    assert pending_by(ds) == set()
    with Catalog(cat) as c:
        assert {c.get_item("netaporter", j.product_id).status for j in jobs} == {Status.NEEDS_REVIEW}


def test_an_older_toolkits_build_line_is_settled_by_the_unsharded_run(gt_dataset, tmp_path):
    """A bare ``build`` line (an older toolkit's, killed): a shard's run settles its own videos
    again and leaves the line; the run over every shard settles the rest and clears it."""
    ds, cat = _mini(gt_dataset, tmp_path / "ds", 1), tmp_path / "cat.sqlite"
    jobs = video_jobs(load_splits(ds))
    with Catalog(cat) as c:
        c.upsert_items(
            [SourceItem(source="netaporter", source_id=jobs[0].product_id, url="http://x/p")],
            status=Status.ACCEPTED,  # published: the builder's flags hold it
        )
    build_dataset_tracklets(ds, config=CONFIG)  # its videos written, no catalog mark made
    (ds / REFRESH_PENDING).write_text(f"{BY_BUILD}\n")
    empty = (0, 2) if in_shard(jobs[0].video_path, (1, 2)) else (1, 2)
    _build(ds, cat, empty)
    assert pending_by(ds) == {BY_BUILD}
    _build(ds, cat, (0, 1))
    assert not (ds / REFRESH_PENDING).exists()
    with Catalog(cat) as c:
        assert c.get_item("netaporter", jobs[0].product_id).status == Status.NEEDS_REVIEW
