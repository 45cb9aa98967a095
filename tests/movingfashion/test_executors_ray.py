"""The Ray executor on the session's local Ray: the same outcomes as local, node ids recorded per
task, one state per worker, the per-key cap across workers, and workers killed mid-task."""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from pathlib import Path

import pytest

from movingfashion.executors import LocalExecutor, WorkerLostError, make_executor
from schemas.errors import MediaError, ModelError


def _work(x: int) -> int:
    if x == 3:
        raise MediaError("cannot decode", where=f"video{x}.mp4")
    return x * x


def _die_once(marks: Path, victim: int, x: int) -> int:
    """``_work``, but the worker running task ``victim`` is killed on its first attempt."""
    if x == victim and not (marks / f"died-{x}").exists():
        (marks / f"died-{x}").write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return _work(x)


def _always_die(victim: int, state: int, x: int) -> int:
    if x == victim:
        os.kill(os.getpid(), signal.SIGKILL)
    return state + x


def _setup(marks: Path) -> int:
    (marks / f"setup-{os.getpid()}-{time.monotonic_ns()}").touch()
    return 100


def _stateful(marks: Path, state: int, x: int) -> tuple[int, int]:
    if x == 4 and not (marks / "died").exists():
        (marks / "died").touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return state + x, os.getpid()


def _timed(state: int, x: int) -> tuple[float, float]:
    t0 = time.monotonic()
    time.sleep(0.15)
    return t0, time.monotonic()


def _bad_setup() -> None:
    raise ModelError("weights are not a checkpoint", where="detector.pt")


def test_map_gives_the_local_outcomes_and_records_the_nodes(ray_session):
    tasks = list(range(12))
    with make_executor("ray") as ex:
        got = ex.map(_work, tasks, desc="test")
        assert got == LocalExecutor().map(_work, tasks, desc="test")
        assert got[3].error == "video3.mp4: cannot decode"
        assert sum(ex.nodes.values()) == len(tasks)
        assert set(ex.nodes) == {ray_session.get_runtime_context().get_node_id()}
        assert ex.report()["nodes"] == dict(ex.nodes)


def test_a_worker_killed_mid_task_is_retried_and_the_map_is_complete(ray_session, tmp_path):
    tasks = list(range(10))
    with make_executor("ray") as ex:
        got = ex.map(partial(_die_once, tmp_path, 6), tasks, desc="test")
    assert (tmp_path / "died-6").exists()  # the worker did die once
    assert got == LocalExecutor().map(_work, tasks, desc="test")


def test_a_pool_actor_killed_mid_task_restarts_with_its_state_and_the_results_are_complete(
    ray_session, tmp_path
):
    with (
        make_executor("ray", workers=2) as ex,
        ex.pool(partial(_stateful, tmp_path), setup=partial(_setup, tmp_path)) as pool,
    ):
        for x in range(8):
            pool.submit(x, tag=x)
        got = {r.tag: r for r in pool.drain()}
    assert (tmp_path / "died").exists()
    assert {t: r.value[0] for t, r in got.items()} == {x: 100 + x for x in range(8)}
    assert all(r.error is None and r.node for r in got.values())
    setups = list(tmp_path.glob("setup-*"))
    assert len(setups) == 3  # one per worker, and once more for the restarted one


def test_a_worker_that_keeps_dying_fails_only_its_task(ray_session):
    from movingfashion.executors.ray_backend import RayExecutor

    with (
        RayExecutor(workers=2, max_retries=1) as ex,
        ex.pool(partial(_always_die, 2), setup=partial(int, 1)) as pool,
    ):
        for x in range(5):
            pool.submit(x, tag=x)
        # one task per worker at a time: a task queued behind the killing one could lose its reply
        # and be blamed for the death (Ray retries a dead actor's tasks in any order)
        assert pool.pending == 5 and sorted(pool._load) == [1, 1]
        got = {r.tag: r for r in pool.drain()}
    assert isinstance(got[2].error, WorkerLostError)
    assert {t: r.value for t, r in got.items() if t != 2} == {0: 1, 1: 2, 3: 4, 4: 5}


def test_the_per_key_cap_holds_across_workers(ray_session):
    with make_executor("ray", workers=2) as ex, ex.pool(_timed, setup=partial(int, 0), per_key=1) as pool:
        for x in range(4):
            pool.submit(x, tag=x, key="one-host")
        spans = sorted(r.value for r in pool.drain())
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False)), spans  # never two at once


def test_a_setup_error_is_raised_as_the_worker_raised_it(ray_session):
    with make_executor("ray", workers=1) as ex, pytest.raises(ModelError, match="detector.pt"):
        ex.pool(_work, setup=_bad_setup)


def test_workers_that_fit_count_cpus_gpu_shares_and_custom_resources():
    from movingfashion.executors import WorkerResources
    from movingfashion.executors.ray_backend import workers_that_fit

    cluster = {"CPU": 16.0, "GPU": 2.0, "big_disk": 1.0}
    assert workers_that_fit(cluster, WorkerResources()) == 16
    assert workers_that_fit(cluster, WorkerResources(cpus=1, gpus=1)) == 2
    assert workers_that_fit(cluster, WorkerResources(cpus=1, gpus=0.5)) == 4  # two per GPU
    assert workers_that_fit(cluster, WorkerResources(cpus=1, custom={"big_disk": 1})) == 1
    assert workers_that_fit(cluster, WorkerResources(cpus=0)) is None  # nothing reserved: no limit
    assert workers_that_fit({"CPU": 2.0}, WorkerResources(cpus=1, gpus=1)) == 0  # no GPU: none fits


def test_a_worker_no_node_can_hold_is_refused_at_once(ray_session):
    from movingfashion.executors import WorkerResources
    from schemas.errors import ConfigError

    with make_executor("ray") as ex, pytest.raises(ConfigError, match="asking 1 CPU, 1 GPU") as exc:
        ex.pool(_work, resources=WorkerResources(cpus=1, gpus=1))
    assert "--gpus-per-worker 0" in str(exc.value)
