"""One build of a shard at a time: a second mf-tracklets build of the same shard of a dataset
stops at once naming the first (exit 2) instead of building every video again beside it; the
other shards of the folder are not held back by it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from annotations.builder import build_dataset_tracklets
from annotations.tracklet_files import TRACKLET_DIR
from schemas.atomic import LockBusy, file_lock
from tests.annotations.test_shard_marks import CONFIG, _mini
from tests.mf_cli import run_mf


def _held(path: Path, release: threading.Event, ready: threading.Event) -> None:
    with file_lock(path):  # the first build, in another thread
        ready.set()
        release.wait(60)


def test_a_second_build_of_the_same_shard_stops_naming_the_first(gt_dataset, tmp_path, capsys):
    ds = _mini(gt_dataset, tmp_path / "ds", n_products=1)
    release, ready = threading.Event(), threading.Event()
    lock = ds / ".build-0of1.lock"
    t = threading.Thread(target=_held, args=(lock, release, ready))
    t.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockBusy, match="another mf-tracklets build of this shard"):
            build_dataset_tracklets(ds, config=CONFIG)
        code, _, err = run_mf(["tracklets", "build", "--dataset", str(ds)], capsys)
        assert code == 2 and "another mf-tracklets build of this shard" in err
        assert not list((ds / TRACKLET_DIR).glob("*.json"))  # nothing was built
        # another shard is not this one's business
        rep = build_dataset_tracklets(ds, config=CONFIG, shard=(1, 2))
        assert rep.failed == []
    finally:
        release.set()
        t.join()
    rep = build_dataset_tracklets(ds, config=CONFIG)  # once the first has ended
    assert rep.failed == [] and list((ds / TRACKLET_DIR).glob("*.json"))
