"""``mf-tracklets build`` on Ray writes what it writes locally: the same tracklet files and the same
official JSON, byte for byte, with each video processed by a worker's own detector and matcher, even
when a worker is killed mid-build."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

from annotations.builder import build_dataset_tracklets
from annotations.config import BuildConfig
from movingfashion.executors import make_executor
from tests.ray_fixtures import tree_bytes, tree_difference

#: a few products of the small world's ground-truth dataset, cheap to build twice
PRODUCTS = 3


def small_dataset(gt_dataset, dst):
    shutil.copytree(gt_dataset, dst)
    shutil.rmtree(dst / "tracklets")
    for name in ("train.json", "test.json"):
        data = json.loads((dst / name).read_text())
        (dst / name).write_text(json.dumps(dict(list(data.items())[:PRODUCTS])))
    return dst


def test_tracklets_on_ray_equal_local_even_with_a_worker_killed_mid_build(ray_session, gt_dataset, tmp_path):
    """Once the first video is back, one worker is killed (SIGKILL) while its next videos are in
    flight: a replacement worker starts (its own detector and matcher), its videos run again, and
    the files still equal a local build's byte for byte."""
    cfg = BuildConfig(stride=4)
    local = small_dataset(gt_dataset, tmp_path / "local")
    ray = small_dataset(gt_dataset, tmp_path / "ray")
    rep_local = build_dataset_tracklets(local, config=cfg)
    with make_executor("ray", workers=2) as ex:
        pools, killed = [], []
        make_pool = ex.pool

        def pool(*args, **kwargs):
            pools.append(make_pool(*args, **kwargs))
            return pools[-1]

        def kill_once(job, outcome, rep):
            if not killed and outcome == "done" and pools[0].pending:
                # a worker that has started (one may still be starting on a busy machine)
                killed.append(next(pid for pid in pools[0].pids if pid))
                os.kill(killed[0], signal.SIGKILL)

        ex.pool = pool
        rep_ray = build_dataset_tracklets(ray, config=cfg, executor=ex, on_video=kill_once)
        assert sum(ex.nodes.values()) == rep_ray.processed  # every video came from a worker
    assert killed, "no worker was killed"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # it is gone
    assert rep_local.processed == rep_ray.processed >= 4 and rep_ray.failed == []
    assert (rep_ray.needs_review, rep_ray.frames_detected) == (
        rep_local.needs_review,
        rep_local.frames_detected,
    )
    on_ray, here = tree_bytes(ray), tree_bytes(local)
    assert on_ray == here, tree_difference(on_ray, here)  # a rare mismatch names the values that moved
    # a rerun on Ray skips what is done, without starting workers
    with make_executor("ray") as ex:
        again = build_dataset_tracklets(ray, config=cfg, executor=ex)
    assert again.skipped == rep_ray.processed and again.processed == 0 and not ex.nodes
