"""What another writer does to a dataset while ``mf-tracklets build`` builds its videos is not
undone when the build writes them: a review pick, an import or an accept of a file made in
between is kept (``kept_human_videos``), and a video a ``mf publish`` removed meanwhile gets no
tracklet file again (``dropped_unlisted``). The build looks again, under the dataset's lock,
right before each write (:class:`annotations.builder.WriteCheck`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import annotations.builder as builder_mod
from annotations.builder import build_dataset_tracklets
from annotations.review.marks import record_decision
from annotations.tracklet_files import (
    BUILD_DIR,
    TRACKLET_DIR,
    build_record_file,
    read_build_record,
    read_video_tracklets,
    tracklet_file,
    write_video_tracklets,
)
from tests.annotations.test_reruns import OTHER, FakeBuilder, two_product_dataset

PA, PB = "videos/pa_0.mp4", "videos/pb_0.mp4"


class RacedBuilder(FakeBuilder):
    """:class:`FakeBuilder` that runs ``meanwhile(dataset)`` once, while it builds ``video``
    (after the build planned its videos, before it writes them): another process's write."""

    def __init__(self, video: str, meanwhile: Callable[[Path], None]) -> None:
        super().__init__()
        self.video, self.meanwhile = video, meanwhile

    def process(self, dataset: Path, job, timings):
        out = super().process(dataset, job, timings)
        if job.video_path == self.video:
            self.meanwhile(dataset)
        return out


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = two_product_dataset(tmp_path / "ds")
    assert build_dataset_tracklets(root, builder=FakeBuilder()).processed == 2
    return root


def _pick(root: Path) -> None:
    """A review pick of pa's second tracklet (as the review page applies it)."""
    vt = read_video_tracklets(tracklet_file(root, PA))
    vt.ground_truth = 1
    write_video_tracklets(root, vt)


def _publish_without_pb(root: Path, *, hold: bool = False) -> None:
    """What ``mf publish`` does to product pb taken down (or held back for review, ``hold``)."""
    data = json.loads((root / "train.json").read_text())
    del data["pb"]
    (root / "train.json").write_text(json.dumps(data))
    if hold:
        rec = {"product_id": "pb", "src": "0" * 64, "recipe": "copy"}
        (root / ".publish-held.json").write_text(json.dumps({PB: rec}))
    else:
        (root / PB).unlink()
        tracklet_file(root, PB).unlink()
        build_record_file(tracklet_file(root, PB)).unlink()


def _no_pending_record(root: Path) -> bool:
    return not any(
        json.loads(p.read_text()).get("pending") for p in (root / TRACKLET_DIR / BUILD_DIR).glob("*.json")
    )


def test_a_review_pick_made_while_the_build_runs_is_kept(ds):
    rep = build_dataset_tracklets(ds, builder=RacedBuilder(PA, _pick), force=True)
    vt = read_video_tracklets(tracklet_file(ds, PA))
    assert vt.ground_truth == 1  # was 0: the rebuilt file replaced the pick
    assert (rep.processed, rep.skipped, rep.kept_human) == (1, 1, 1)
    assert rep.kept_human_videos == [
        {"video": "pa_0", "holds": "review pick", "due": "--force", "when": "while this build ran"}
    ]
    assert json.loads((ds / "train.json").read_text())["pa"]["tracklets"][0]["0"] == OTHER
    assert _no_pending_record(ds)


def test_an_accept_made_while_the_build_runs_keeps_the_file(ds):
    before = tracklet_file(ds, PA).read_bytes()
    rep = build_dataset_tracklets(
        ds, builder=RacedBuilder(PA, lambda root: record_decision(root, "pa_0", "pa", "accept")), force=True
    )
    assert [k["holds"] for k in rep.kept_human_videos] == ["review accept"]
    assert tracklet_file(ds, PA).read_bytes() == before and rep.processed == 1


def test_a_file_rewritten_meanwhile_without_a_persons_work_is_built(ds):
    """Another build (or a flag settled again) rewrote it: nothing of a person's to keep."""
    rewrite = lambda root: write_video_tracklets(root, read_video_tracklets(tracklet_file(root, PA)))  # noqa: E731
    rep = build_dataset_tracklets(ds, builder=RacedBuilder(PA, rewrite), force=True)
    assert (rep.processed, rep.kept_human, rep.dropped_unlisted) == (2, 0, [])


def test_a_video_publish_removed_while_the_build_runs_gets_no_file(ds):
    rep = build_dataset_tracklets(ds, builder=RacedBuilder(PB, _publish_without_pb), force=True)
    assert not tracklet_file(ds, PB).exists()  # was there again: mf verify failed for good
    assert not build_record_file(tracklet_file(ds, PB)).exists()
    assert rep.dropped_unlisted == [PB] and rep.processed == 1
    assert list(json.loads((ds / "train.json").read_text())) == ["pa"]
    assert _no_pending_record(ds)


def test_a_video_publish_holds_back_meanwhile_keeps_its_rebuilt_file(ds):
    rep = build_dataset_tracklets(
        ds, builder=RacedBuilder(PB, lambda root: _publish_without_pb(root, hold=True)), force=True
    )
    assert rep.dropped_unlisted == [] and rep.processed == 2
    assert read_build_record(tracklet_file(ds, PB))["ground_truth"]


def test_the_split_files_are_read_again_only_when_they_change(ds, monkeypatch):
    reads: list[Path] = []
    light = builder_mod.listed_videos
    monkeypatch.setattr(builder_mod, "listed_videos", lambda root: reads.append(root) or light(root))
    build_dataset_tracklets(ds, builder=FakeBuilder(), force=True)
    assert len(reads) == 1  # two videos written, one read
    reads.clear()
    rep = build_dataset_tracklets(ds, builder=RacedBuilder(PB, _publish_without_pb), force=True)
    assert len(reads) == 2 and rep.dropped_unlisted == [PB]  # read again once train.json changed


def test_the_staging_folder_goes_with_the_build_and_a_killed_builds_one_at_the_next(ds):
    import socket

    parent = ds / TRACKLET_DIR / BUILD_DIR
    dead = parent / f"{builder_mod.STAGING_PREFIX}{socket.gethostname()}-{2**22 + 7}-abc"  # no such pid
    live = parent / f"{builder_mod.STAGING_PREFIX}{socket.gethostname()}-{os.getpid()}-xyz"
    for d in (dead, live):
        (d / TRACKLET_DIR).mkdir(parents=True)
        (d / TRACKLET_DIR / "pa_0.json").write_text("{}")
    build_dataset_tracklets(ds, builder=FakeBuilder(), force=True)
    assert sorted(p.name for p in parent.iterdir() if p.is_dir()) == [live.name]
