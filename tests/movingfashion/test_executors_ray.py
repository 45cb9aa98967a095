"""The Ray executor on the session's local Ray: the same outcomes as local, node ids recorded per
task, one state per worker, the per-key cap across workers, workers killed mid-task (a death is
charged to the task that dies alone; a worker lost for good is replaced and reported), stdout kept
for the result, and the address checks (another cluster than the one joined, a port where no Ray
head answers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from movingfashion.executors import LocalExecutor, WorkerLostError, make_executor
from schemas.errors import ConfigError, MediaError, ModelError


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


def _die_on(victim: int, x: int) -> int:
    if x == victim:
        os._exit(1)  # a decoder segfault, an out-of-memory kill
    return x * x


def test_a_map_charges_a_death_only_to_the_task_that_dies_alone(ray_session):
    from movingfashion.executors.ray_backend import RayExecutor

    with RayExecutor(workers=1, max_retries=0) as ex:  # 8 chunks of 2 tasks
        got = ex.map(partial(_die_on, 5), list(range(16)), desc="test")
    assert [i for i, o in enumerate(got) if not o.ok] == [5]  # not 4, its chunk's other task
    assert got[5].error.startswith("WorkerLostError: ")
    assert [o.value for i, o in enumerate(got) if i != 5] == [x * x for x in range(16) if x != 5]


def _whoami(victim: int, state: int, x: int) -> tuple[int, str]:
    import ray

    if x == victim:
        os._exit(1)
    return state + x, ray.get_runtime_context().get_actor_id()


@dataclass
class _Setup:
    """A pool setup that hears of the workers lost for good (in the driver)."""

    lost: list[str] = field(default_factory=list)

    def __call__(self) -> int:
        return 100

    def on_lost(self, worker_id: str) -> None:
        self.lost.append(worker_id)


def test_a_worker_lost_for_good_is_reported_and_replaced(ray_session):
    from movingfashion.executors.ray_backend import RayExecutor

    setup = _Setup()
    with RayExecutor(workers=1, max_retries=0) as ex, ex.pool(partial(_whoami, 2), setup=setup) as pool:
        for x in range(5):
            pool.submit(x, tag=x)
        got = {r.tag: r for r in pool.drain()}
    assert isinstance(got[2].error, WorkerLostError)
    # the worker that died is reported with its actor id (what it held the gates' slots as) ...
    first = {got[x].value[1] for x in (0, 1)}
    assert setup.lost == list(first)
    # ... and a new worker, set up as the first, runs the tasks after it
    assert {t: r.value[0] for t, r in got.items() if t != 2} == {0: 100, 1: 101, 3: 103, 4: 104}
    assert {got[x].value[1] for x in (3, 4)}.isdisjoint(first)


def test_stdout_holds_only_the_result_while_ray_prints_a_worker_death(ray_session, capsys):
    from schemas.cli_support import emit

    with make_executor("ray", workers=1) as ex:
        # as Ray's driver thread does (listen_error_messages prints on sys.stdout)
        printer = threading.Thread(target=print, args=("(raylet) A worker died or was killed",))
        printer.start()
        printer.join()
        assert ex.map(abs, [-1], desc="test")[0].value == 1
        emit({"done": True}, True)
    out, err = capsys.readouterr()
    assert json.loads(out) == {"done": True}
    assert "(raylet) A worker died" in err
    print("after")  # stdout is stdout again once the executor is closed
    assert capsys.readouterr().out == "after\n"


def test_an_address_other_than_the_cluster_joined_is_refused(ray_session, ray_session_address):
    with pytest.raises(ConfigError, match="already connected to the Ray cluster") as exc:
        make_executor("ray", address="127.0.0.1:1")
    assert "127.0.0.1:1" in str(exc.value) and "--ray-address" in str(exc.value)
    with make_executor("ray", address=ray_session_address) as ex:  # the same one: joined
        assert ex.map(abs, [-2], desc="test")[0].value == 2
    port = ray_session_address.rsplit(":", 1)[1]
    with make_executor("ray", address=f"localhost:{port}"):  # the same one, by another name
        pass
    assert ray_session.is_initialized()


def test_a_port_where_no_ray_head_answers_is_exit_2_within_the_deadline(tmp_path):
    """A web server where the Ray head should be (the dashboard's port, say): the TCP check
    passes and Ray would retry for many minutes; the executor gives up after its deadline."""
    server = HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    # in a process of its own: the given-up join goes on retrying in its thread for a while
    code = (
        "import ray\n"
        "from movingfashion.executors import make_executor\n"
        "from schemas.errors import ConfigError\n"
        "try:\n"
        f"    make_executor('ray', address='{address}', connect_timeout_s=3)\n"
        "except ConfigError as exc:\n"
        "    print('ConfigError:', exc, '| initialised:', ray.is_initialized())\n"
    )
    from tests.ray_fixtures import CLUSTER_ENV, ROOT

    t0 = time.monotonic()
    try:
        run = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=CLUSTER_ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    assert time.monotonic() - t0 < 60, run.stderr
    assert f"ConfigError: --ray-address: no Ray head answered at {address} within 3s" in run.stdout, (
        run.stderr
    )
    assert "6379" in run.stdout and "8265" in run.stdout and "| initialised: False" in run.stdout
