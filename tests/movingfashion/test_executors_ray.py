"""The Ray executor on the session's local Ray: the same outcomes as local, node ids recorded per
task, one state per worker, the per-key cap across workers, workers killed mid-task (a death is
charged to the task that dies alone, each task with its own retries; a dead worker is replaced and
reported, without stopping the others; a replacement whose setup fails or that no alive node can
hold is given up), workers no single node can hold refused at once, stdout kept for the result,
and the address checks (another cluster than the one joined, a port where no Ray head answers)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
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
        (marks / "died").write_text(str(os.getpid()))
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


def test_a_pool_actor_killed_mid_task_is_replaced_and_the_results_are_complete(ray_session, tmp_path):
    with (
        make_executor("ray", workers=2) as ex,
        ex.pool(partial(_stateful, tmp_path), setup=partial(_setup, tmp_path)) as pool,
    ):
        for x in range(8):
            pool.submit(x, tag=x)
        got = {r.tag: r for r in pool.drain()}
    assert {t: r.value[0] for t, r in got.items()} == {x: 100 + x for x in range(8)}
    assert all(r.error is None and r.node for r in got.values())
    assert got[4].value[1] != int((tmp_path / "died").read_text())  # run again in another worker
    # the death is noted (the summary's --json lists it): the task, the dead worker, why
    [retry] = pool.worker_retries
    assert retry["tag"] == 4 and retry["worker"] and retry["reason"]
    # one per worker, and once more for the replacement, unless the other worker ran the rest of
    # the queue (task 4 included) before the replacement was set up
    assert len(list(tmp_path.glob("setup-*"))) in (2, 3)


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
    # the give-up is timed inside the process, from the call on: starting Python and importing
    # Ray, slow on a loaded machine, are not part of the deadline
    code = (
        "import time\n"
        "import ray\n"
        "from movingfashion.executors import make_executor\n"
        "from schemas.errors import ConfigError\n"
        "t0 = time.monotonic()\n"
        "try:\n"
        f"    make_executor('ray', address='{address}', connect_timeout_s=3)\n"
        "except ConfigError as exc:\n"
        "    print('ConfigError:', exc, '| initialised:', ray.is_initialized())\n"
        "print('took:', time.monotonic() - t0)\n"
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
            timeout=300,
        )
    finally:
        server.shutdown()
    took = [float(x.split(":", 1)[1]) for x in run.stdout.splitlines() if x.startswith("took:")]
    assert took and took[0] < 60, run.stdout + run.stderr  # 3 s asked: given up, not retried for minutes
    assert time.monotonic() - t0 < 240, run.stderr  # and the process ended (its start included)
    assert f"ConfigError: --ray-address: no Ray head answered at {address} within 3s" in run.stdout, (
        run.stderr
    )
    assert "6379" in run.stdout and "8265" in run.stdout and "| initialised: False" in run.stdout


def _dies_first_time(marks: Path, victims: set[int], x: int) -> int:
    """``x``, but the worker running a task of ``victims`` is killed on that task's first run."""
    if x in victims and not (marks / f"died-{x}").exists():
        (marks / f"died-{x}").touch()
        os._exit(1)
    return x


def test_each_pool_task_has_its_own_retries_however_many_deaths_came_before(ray_session, tmp_path):
    """The retry budget is the task's, not the worker's: with one retry, two tasks that each
    kill the worker once both come back done."""
    from movingfashion.executors.ray_backend import RayExecutor

    with (
        RayExecutor(workers=1, max_retries=1) as ex,
        ex.pool(partial(_dies_first_time, tmp_path, {1, 3})) as pool,
    ):
        for x in range(5):
            pool.submit(x, tag=x)
        got = {r.tag: (r.value, r.error) for r in pool.drain()}
    assert (tmp_path / "died-1").exists() and (tmp_path / "died-3").exists()
    assert got == {x: (x, None) for x in range(5)}


def _setup_fails_after_a_death(marks: Path) -> int:
    """A setup that fails once, the first time it runs after a worker died (a share not mounted yet)."""
    if (marks / "died").exists() and not (marks / "setup-failed").exists():
        (marks / "setup-failed").touch()
        raise RuntimeError("transient: model share not mounted yet")
    return 100


def _dies_on_3(marks: Path, state: int, x: int) -> int:
    if x == 3 and not (marks / "died").exists():
        (marks / "died").touch()
        os._exit(1)
    deadline = time.monotonic() + 180
    while x > 3 and not (marks / "setup-failed").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the later tasks wait until the replacement's setup has failed
    return state + x


def test_a_replacement_whose_setup_fails_is_given_up_and_fails_no_task(ray_session, tmp_path):
    with (
        make_executor("ray", workers=2) as ex,
        ex.pool(partial(_dies_on_3, tmp_path), setup=partial(_setup_fails_after_a_death, tmp_path)) as pool,
    ):
        for x in range(8):
            pool.submit(x, tag=x)
        got = {r.tag: (r.value, r.error) for r in pool.drain()}
        workers = pool.workers
    assert (tmp_path / "setup-failed").exists()
    assert got == {x: (100 + x, None) for x in range(8)}  # task 3 too: run again on the other worker
    assert workers == 1  # the replacement that could not start is given up


def _slow(x: int) -> int:
    time.sleep(0.1)
    return x


def test_a_replacement_no_alive_node_can_hold_does_not_stall_the_pool(ray_session, tmp_path, caplog):
    """A lost node's workers cannot be replaced (its resources are gone): the survivors go on
    with the queue at once instead of waiting for a replacement that never starts."""
    from movingfashion.executors import WorkerResources
    from movingfashion.executors.ray_backend import RayExecutor

    with (
        RayExecutor(workers=2, max_retries=0) as ex,
        ex.pool(partial(_dies_first_time, tmp_path, {2})) as pool,
    ):
        # from now on a replacement asks for what only the lost node had
        pool._opts = {**pool._opts, "resources": {"mf_lost_node": 1}}
        pool._res = WorkerResources(cpus=1, custom={"mf_lost_node": 1})
        pool._startup_timeout_s = 300  # far beyond the bound below: a stall cannot pass
        t0 = time.monotonic()
        for x in range(10):
            pool.submit(x, tag=x)
        got = {r.tag: (r.value, r.error) for r in pool.drain()}
        elapsed = time.monotonic() - t0
        workers = pool.workers
    assert isinstance(got.pop(2)[1], WorkerLostError)
    assert got == {x: (x, None) for x in range(10) if x != 2}  # the survivor ran the rest
    assert elapsed < 120 and workers == 1  # not stalled until the startup timeout (300 s)
    assert "no alive node has room for it" in caplog.text


def test_a_worker_no_single_node_can_hold_is_refused_at_once(ray_session, monkeypatch):
    """Two nodes of one GPU each: two GPUs in all, but a 2-GPU worker fits on neither; a GPU share
    Ray cannot give (above 1, not whole) is refused too, both before any worker is started."""
    import ray

    from movingfashion.executors import WorkerResources, ray_backend
    from movingfashion.executors.ray_backend import nodes_room

    nodes = [{"NodeID": f"n{i}", "Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}} for i in range(2)] + [
        {"NodeID": "gone", "Alive": False, "Resources": {"CPU": 8.0, "GPU": 8.0}}
    ]
    assert nodes_room(nodes, WorkerResources(1, 2)) == 0
    assert nodes_room(nodes, WorkerResources(1, 1)) == 2
    assert nodes_room(nodes, WorkerResources(1, 0.5)) == 4
    assert nodes_room(nodes, WorkerResources(1, 0.5), Counter({"n0": 1})) == 3
    assert nodes_room(nodes, WorkerResources(0, 0)) is None
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 8.0, "GPU": 2.0})

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started")

    monkeypatch.setattr(ray_backend, "RayPool", no_pool)
    with make_executor("ray") as ex:
        assert ex.capacity(WorkerResources(1, 1)) == 2
        with pytest.raises(ConfigError, match="no node of the cluster can hold a worker asking 1 CPU, 2 GPU"):
            ex.pool(_work, resources=WorkerResources(1, 2))
        with pytest.raises(ConfigError, match="not a whole number") as exc:
            ex.pool(_work, resources=WorkerResources(1, 1.5))
    assert "--gpus-per-worker" in str(exc.value) and "below 1" in str(exc.value)


def _driver_only_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A module this process imports from a folder the workers' nodes do not have (a node
    without the toolkit, or with another version of it)."""
    import importlib

    name = f"mf_driver_only_{os.getpid()}_{time.monotonic_ns()}"
    (tmp_path / f"{name}.py").write_text(
        "def square(x):\n    return x * x\n\n\ndef setup():\n    return 1\n\n\n"
        "def add(state, x):\n    return state + x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, importlib.import_module(name)


def test_a_node_that_cannot_load_the_work_stops_the_map_naming_the_node_and_the_cause(
    ray_session, tmp_path, monkeypatch
):
    """Not one "WorkerLostError: ray::_run_chunk() (pid=.., ip=..)" per task (colour codes
    included, the cause left out): one error naming the node, what it could not load, and what
    to do."""
    name, module = _driver_only_module(tmp_path, monkeypatch)
    ip = ray_session.util.get_node_ip_address()
    with make_executor("ray") as ex, pytest.raises(ConfigError) as exc:
        ex.map(module.square, list(range(6)), desc="test")
    text = str(exc.value)
    node = ray_session.get_runtime_context().get_node_id()  # the node id the worker recorded, not Ray's text
    assert f"a worker on node {ip} ({node[:12]}) cannot load the work it was sent" in text, text
    assert f"No module named '{name}'" in text and "\x1b" not in text
    assert "--executor ray" in text and "same version" in text


def test_a_map_stopped_by_a_node_that_cannot_load_the_work_leaves_no_unhandled_errors(
    ray_session, tmp_path, monkeypatch
):
    """The other chunks fail to load as the first did: the run stops with one error, and what
    every chunk ended with is collected (a ref Ray returned as ended, or fetched), so Ray does not
    log one "Unhandled error" per chunk left unread once they are dropped."""
    import gc

    import ray._private.worker as ray_worker

    name, module = _driver_only_module(tmp_path, monkeypatch)
    unhandled: list[str] = []
    monkeypatch.setattr(ray_worker, "_unhandled_error_handler", lambda e: unhandled.append(str(e)))
    sent: set[str] = set()
    collected: set[str] = set()
    real_wait, real_get = ray_session.wait, ray_session.get

    def wait(refs, *args, **kwargs):
        sent.update(r.hex() for r in refs)
        ready, rest = real_wait(refs, *args, **kwargs)
        collected.update(r.hex() for r in ready)
        return ready, rest

    def get(refs, *args, **kwargs):
        collected.update(r.hex() for r in (refs if isinstance(refs, list) else [refs]))
        return real_get(refs, *args, **kwargs)

    monkeypatch.setattr(ray_session, "wait", wait)
    monkeypatch.setattr(ray_session, "get", get)
    with make_executor("ray", workers=2) as ex, pytest.raises(ConfigError, match=name):
        ex.map(module.square, list(range(40)), desc="test")
    gc.collect()
    assert len(sent) > 1 and sent <= collected, sorted(sent - collected)
    assert not [u for u in unhandled if name in u], unhandled


def test_a_pool_whose_workers_cannot_load_the_work_names_the_node_and_the_cause(
    ray_session, tmp_path, monkeypatch
):
    """Not a "worker died while starting" traceback (a RuntimeError) without the cause: a
    ConfigError, one line, exit 2. The node is the one the cluster records for the actor."""
    name, module = _driver_only_module(tmp_path, monkeypatch)
    ip = ray_session.util.get_node_ip_address()
    with make_executor("ray", workers=1) as ex, pytest.raises(ConfigError) as exc:
        ex.pool(module.add, setup=module.setup)
    text = str(exc.value)
    node = ray_session.get_runtime_context().get_node_id()  # the node id the worker recorded, not Ray's text
    assert f"a worker on node {ip} ({node[:12]}) cannot load the work it was sent" in text, text
    assert f"No module named '{name}'" in text and "\x1b" not in text
    assert "same version" in text


def test_a_cluster_without_a_cpu_for_a_task_is_refused_at_once_not_waited_on(tmp_path):
    """A head started with ``--num-cpus 0`` and no other node joined (yet): a map's tasks, one CPU
    each, would wait for ever without a line; as a pool's workers, they are refused at once,
    and the hint says what is missing. In a process of its own, with a Ray of no CPU."""
    from tests.ray_fixtures import CLUSTER_ENV, ROOT

    code = (
        "import os, threading\n"
        "from movingfashion.executors.ray_backend import RayExecutor\n"
        "ex = RayExecutor(num_cpus=0)\n"
        "got = {}\n"
        "def run():\n"
        "    try:\n"
        "        got['map'] = ex.map(abs, [-1, -2], desc='t')\n"
        "    except Exception as exc:\n"
        "        got['map'] = f'{type(exc).__name__}: {exc}'\n"
        "    try:\n"
        "        ex.pool(abs)\n"
        "    except Exception as exc:\n"
        "        got['pool'] = f'{type(exc).__name__}: {exc}'\n"
        "    ex.workers = 2\n"  # as --workers 2 gives it: checked all the same
        "    try:\n"
        "        got['workers'] = ex.map(abs, [-1, -2], desc='t')\n"
        "    except Exception as exc:\n"
        "        got['workers'] = f'{type(exc).__name__}: {exc}'\n"
        "t = threading.Thread(target=run, daemon=True)\n"
        "t.start()\n"
        "t.join(60)\n"
        "ex.close()\n"  # stdout is stdout again
        "print('map:', got.get('map', 'still waiting'))\n"
        "print('pool:', got.get('pool', 'still waiting'))\n"
        "print('workers:', got.get('workers', 'still waiting'))\n"
        "os._exit(0)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=CLUSTER_ENV, capture_output=True, text=True, timeout=400
    )
    lines = dict(
        line.split(": ", 1)
        for line in run.stdout.splitlines()
        if line.startswith(("map:", "pool:", "workers:"))
    )
    assert lines.get("map", "").startswith(
        "ConfigError: --executor ray: no node of the cluster can hold a task asking 1 CPU"
    ), run.stdout + run.stderr
    assert "join nodes that have CPUs" in lines["map"]
    assert "no node of the cluster can hold a worker asking 1 CPU" in lines["pool"]
    assert "join nodes that have CPUs" in lines["pool"] and "--gpus-per-worker" not in lines["pool"]
    # a map given a number of workers is refused as well, not left waiting without a line
    assert lines.get("workers") == lines["map"], run.stdout + run.stderr


def test_a_joined_cluster_without_a_cpu_gets_time_to_add_one_then_is_refused_naming_it(tmp_path):
    """A head with no CPU joined by address may autoscale: the run says once that it waits for a
    node with room (asking for one), goes on when one joins, and is refused, naming the
    cluster's address, only once ``$MF_RAY_SCALE_WAIT_S`` passed without one."""
    import tempfile

    from tests.ray_fixtures import CLUSTER_ENV, ROOT, free_port, start_node, stop_nodes

    tmp = Path(tempfile.mkdtemp(prefix="mfray", dir="/tmp"))  # short: Ray's socket paths are limited
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--block", "--object-store-memory", str(80 * 1024**2), "--disable-usage-stats"]
    procs: list[subprocess.Popen] = []

    def node(i: int, *args: str) -> None:
        start_node(procs, tmp / f"node{i}.log", [*args, *common])

    code = (
        "import sys\n"
        "from movingfashion.executors.ray_backend import RayExecutor\n"
        "with RayExecutor(address=sys.argv[1]) as ex:\n"  # stdout goes to stderr meanwhile
        "    try:\n"
        "        got = [o.value for o in ex.map(abs, [-1, -2], desc='t')]\n"
        "    except Exception as exc:\n"
        "        got = f'{type(exc).__name__}: {exc}'\n"
        "print('map:', got)\n"
    )

    def driver(wait: str, err: Path) -> subprocess.Popen:
        env = {**CLUSTER_ENV, "MF_RAY_SCALE_WAIT_S": wait}
        with open(err, "w") as fh:
            return subprocess.Popen(
                [sys.executable, "-c", code, address],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=fh,
                text=True,
            )

    try:
        head = ["--head", "--port", str(port), "--num-cpus", "0", "--include-dashboard", "false"]
        node(0, *head, "--dashboard-port", str(free_port()), "--temp-dir", str(tmp))
        # no node joins: refused once the wait is over, naming the cluster
        out, _ = driver("2", tmp / "refused.err").communicate(timeout=300)
        assert f"ConfigError: --executor ray: no node of the cluster at {address} can hold a task" in out, out
        assert "waited 2s" in out and "MF_RAY_SCALE_WAIT_S" in out, out
        # a node with a CPU joins while it waits (what an autoscaler does on demand): it goes on
        run = driver("300", tmp / "waits.err")
        deadline = time.time() + 120
        while "waiting up to 300s" not in (tmp / "waits.err").read_text():
            assert run.poll() is None and time.time() < deadline, (tmp / "waits.err").read_text()
            time.sleep(0.2)
        assert address in (tmp / "waits.err").read_text()
        node(1, "--address", address, "--num-cpus", "1")
        out, _ = run.communicate(timeout=300)
        assert "map: [1, 2]" in out, out + (tmp / "waits.err").read_text()
    finally:
        stop_nodes(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def test_rays_own_lines_are_escaped_while_the_executor_is_open(ray_session, capfd):
    """Ray's driver prints its own log lines (an "Unhandled error" quoting a task's exception,
    which may quote a site) and a worker's death on stdout: control characters show as escapes
    (Ray's colour codes dropped), as the command's own lines do."""
    import io
    import logging

    ray_log = logging.getLogger("ray._private.worker")
    handlers = [h for h in logging.getLogger("ray").handlers if isinstance(h, logging.StreamHandler)]
    assert handlers  # Ray's own handler: it prints, not the command's
    seen = io.StringIO()
    streams = [h.setStream(seen) for h in handlers]
    try:
        with make_executor("ray"):
            ray_log.error("Unhandled error: \x1b[36mray::t()\x1b[39m FetchError: title \x1b]0;pwned\x07 here")
            print("a worker died: \x1b[2J", flush=True)
        ray_log.error("after: \x1b[2J")  # as Ray had it once the executor closed
    finally:
        for h, stream in zip(handlers, streams, strict=True):
            h.setStream(stream)
    err = capfd.readouterr().err
    assert "a worker died: \\x1b[2J" in err and "\x1b" not in err, err
    logged = seen.getvalue()
    assert "Unhandled error: ray::t() FetchError: title \\x1b]0;pwned\\x07 here" in logged, logged
    assert "after: \x1b[2J" in logged, logged  # raw again: no longer the executor's to escape


def _hold_cpus(ray, cpus: int):
    """An actor of another job holding ``cpus`` of the session's CPUs, once it holds them."""

    @ray.remote(num_cpus=cpus)
    class Holder:
        def ready(self) -> bool:
            return True

    holder = Holder.remote()
    ray.get(holder.ready.remote(), timeout=120)
    return holder


def _pid_after(marks: Path, state: int, x: int) -> int:
    (marks / f"ran-{x}-{os.getpid()}").touch()
    return os.getpid()


def test_a_pool_starts_its_work_with_the_workers_there_is_room_for_and_takes_the_others_later(
    ray_session, tmp_path, monkeypatch
):
    """The session's Ray has 2 CPUs; another job holds one. A pool of 2 runs its tasks on the
    worker that could start at once, instead of waiting the startup timeout for the second (the
    CI failure: a pool start that waited 600 s for a CPU another test still held); once the CPU
    is free, the second worker joins and takes work."""
    import ray

    from movingfashion.executors import ray_backend

    monkeypatch.setattr(ray_backend, "STARTUP_TIMEOUT_S", 240.0)
    monkeypatch.setattr(ray_backend, "START_TOGETHER_S", 1.0)

    holder = _hold_cpus(ray, 1)  # one of the two CPUs is taken
    try:
        with make_executor("ray", workers=2) as ex:
            t0 = time.monotonic()
            pool = ex.pool(partial(_pid_after, tmp_path), setup=partial(_setup, tmp_path))
            try:
                for x in range(4):
                    pool.submit(x, tag=x)
                first = {r.tag: r.value for r in pool.drain()}
                elapsed = time.monotonic() - t0
                assert pool.workers == 1 and len(set(first.values())) == 1
                ray.kill(holder)  # the CPU is free: the second worker starts and joins
                deadline = time.monotonic() + 120
                while pool.workers < 2 and time.monotonic() < deadline:
                    pool.submit(-1, tag=-1)
                    list(pool.drain())
                    time.sleep(0.2)
                assert pool.workers == 2
                for x in range(4, 12):
                    pool.submit(x, tag=x)
                later = {r.tag: r.value for r in pool.drain()}
            finally:
                pool.close()
    finally:
        ray.kill(holder)
    assert sorted(first) == [0, 1, 2, 3] and sorted(later) == list(range(4, 12))
    assert elapsed < 120  # not held back until the startup timeout (240 s)
    assert len(set(later.values())) == 2  # both workers ran tasks


def test_a_pool_no_worker_of_which_can_start_says_what_the_cluster_has_free(ray_session, monkeypatch):
    """Every CPU held by another job: the pool's error, after the startup timeout, says how many
    CPUs are free of how many (before: only 'no worker started', as if the cluster were too small)."""
    import ray

    from movingfashion.executors import ray_backend

    monkeypatch.setattr(ray_backend, "STARTUP_TIMEOUT_S", 5.0)

    holder = _hold_cpus(ray, 2)
    try:
        with make_executor("ray", workers=1) as ex, pytest.raises(ConfigError) as err:
            ex.pool(_work)
    finally:
        ray.kill(holder)
    assert "no worker started within 5s (0 of 2 CPUs free)" in str(err.value)
    assert "other jobs hold them" in err.value.hint
