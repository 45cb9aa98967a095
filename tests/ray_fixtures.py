"""Ray for the tests.

``ray_session``: one local Ray (2 CPUs, no dashboard, no usage stats) for each run of consecutive
tests that ask for it: started by the first, kept while the next test asks for it too (pytest's
``nextitem``, :func:`pytest_runtest_teardown`), shut down after the last of the run (or at the end
of the session), so no other test shares its process with Ray's threads and a test that needs
Ray *not* to run in-process (a CLI joining another cluster) never finds it running; one Ray
serves all the Ray test modules, instead of a start and a shutdown (5 to 19 s) per module. Pool
workers get :data:`TEST_STARTUP_TIMEOUT_S` to start while it runs (a worker that cannot start fails
its test with the pool's own error, well within pytest's timeout). When a module's last test
using it ends, a module that left CPUs taken says so in the run's warnings, and the Ray is
restarted for the next module, which would otherwise wait for them unexplained; a test that shut
the Ray down gets the next one a fresh one. Its address is ``ray_session_address`` so a CLI run in
a subprocess joins it instead of starting its own.
``two_nodes``: a real two-node cluster on loopback for one test (``ray start --head`` and ``ray
start --address``, each a ``--block`` process in its own session with one CPU and its own custom
resource), stopped at the end (SIGTERM, then SIGKILL of the nodes' process groups) even when the
test fails. ``local_crop_cache``: the crop cache of the small world's dataset built locally once,
the reference every Ray-built cache is compared with.

Tests using it run last, in their collected order (``pytest_collection_modifyitems``), so they
are consecutive and one Ray serves them all. Under pytest-xdist (``make test``, where they are one
group handed to one worker, tests/conftest.py) each worker process keeps that order for the tests
it is given, and a worker that runs one starts its own Ray.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from tests.damage import tree_bytes, tree_difference  # noqa: F401 (the Ray modules import them from here)

ROOT = Path(__file__).resolve().parents[1]
RAY_CLI = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]
#: Ray's settings for the test clusters: no token authentication (loopback only), no usage
#: statistics (nothing leaves the machine, and no time is spent asking)
RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}
CLUSTER_ENV = {**os.environ, **RAY_ENV, "PYTHONPATH": str(ROOT)}

#: The session's Ray: small, so it leaves the machine's cores to the rest of the suite.
RAY_INIT = {"num_cpus": 2, "include_dashboard": False}


#: Seconds a pool worker may take to start in the tests (the toolkit's default is 600 s, pytest's
#: timeout per test too): a worker that cannot start fails its test with the pool's own error.
TEST_STARTUP_TIMEOUT_S = 240.0
#: Seconds the session's Ray is given, when a module's tests end, to free the CPUs they used.
FREED_WAIT_S = 20.0


class _SessionRay:
    """The Ray that :func:`ray_session` started, while it runs: the patch that gives pool workers
    :data:`TEST_STARTUP_TIMEOUT_S` (undone at its shutdown)."""

    patch: pytest.MonkeyPatch | None = None

    @classmethod
    def start(cls):
        import ray

        from movingfashion.executors import ray_backend

        for k, v in RAY_ENV.items():
            os.environ.setdefault(k, v)
        ray.init(address="local", object_store_memory=200 * 1024**2, log_to_driver=False, **RAY_INIT)
        cls.patch = pytest.MonkeyPatch()
        cls.patch.setattr(ray_backend, "STARTUP_TIMEOUT_S", TEST_STARTUP_TIMEOUT_S)
        return ray

    @classmethod
    def stop(cls) -> None:
        import ray

        patch, cls.patch = cls.patch, None
        try:
            ray.shutdown()
        finally:
            if patch is not None:
                patch.undo()


@pytest.fixture()
def ray_session():
    """The ``ray`` module, initialised: the Ray the previous test used when it asked for it too
    and left it running, else a new one (:class:`_SessionRay`, stopped by
    :func:`pytest_runtest_teardown`)."""
    import ray

    if _SessionRay.patch is not None and ray.is_initialized():
        return ray
    if _SessionRay.patch is not None:  # a test shut it down
        _SessionRay.stop()
    return _SessionRay.start()


def _uses_ray_session(item: pytest.Item | None) -> bool:
    return item is not None and "ray_session" in getattr(item, "fixturenames", ())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a test's teardown, with the session's Ray running: when the test was its module's
    last one using it, checks that no CPUs are left taken (and restarts Ray for the next module
    if some are); stops it unless the next test asks for it too."""
    try:
        return (yield)
    finally:
        if _SessionRay.patch is not None:
            import ray

            keep = _uses_ray_session(nextitem)
            if getattr(item, "path", None) != getattr(nextitem, "path", None) and ray.is_initialized():
                module = item.nodeid.split("::")[0]
                keep = _report_taken_cpus(ray, module, restart=keep) and keep
            if not keep:
                _SessionRay.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The session's Ray stopped if a test left it running (an interrupted run)."""
    if _SessionRay.patch is not None:
        _SessionRay.stop()


def _report_taken_cpus(ray, module: str, *, restart: bool) -> bool:
    """Whether all the session Ray's CPUs are free once ``module``'s tests ended (given
    :data:`FREED_WAIT_S`); if not, one warning (an actor or a task still running: what a later
    test's pool would otherwise wait for, unexplained), saying so when Ray is restarted for the
    next module."""
    deadline = time.monotonic() + FREED_WAIT_S
    total = ray.cluster_resources().get("CPU", 0)
    while (free := ray.available_resources().get("CPU", 0)) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    if free < total:  # in the run's warnings summary (a hook's stderr is not shown)
        then = "; Ray restarted for the next module" if restart else ""
        warnings.warn(
            f"ray_session: {total - free:g} of {total:g} CPUs still taken when {module}'s tests ended{then}",
            stacklevel=1,
        )
    return free >= total


@pytest.fixture()
def ray_session_address(ray_session) -> str:
    """``HOST:PORT`` of the session's Ray, for a driver in another process (with ``CLUSTER_ENV``)."""
    return ray_session.get_runtime_context().gcs_address


@pytest.fixture(scope="session")
def local_crop_cache(gt_dataset, tmp_path_factory):
    """(folder, counts, skipped rows) of the small world's train crop cache, built locally once
    (tracklet crops of 64 px, a pool of 4 frames: what ``mf crop-cache --pool 4 --crop-size 64``
    builds)."""
    from movingfashion.dataset import MovingFashionDataset, build_crop_cache

    out = tmp_path_factory.mktemp("crop-cache-local")
    ds = MovingFashionDataset(
        gt_dataset, "train", crop="tracklet", crop_size=64, on_bad="skip", shop_size=None
    )
    counts = build_crop_cache(ds, out, pool=4)
    return out, counts, list(ds.skipped)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _started(log: Path) -> bool:
    return log.is_file() and "Ray runtime started" in log.read_text(errors="replace")


@pytest.fixture()
def two_nodes():
    """``HOST:PORT`` of a head node and a second node joined with ``ray start --address``."""
    tmp = Path(tempfile.mkdtemp(prefix="mfray", dir="/tmp"))  # short: Ray's socket paths are limited
    port = free_port()
    common = [
        "--block",
        "--num-cpus",
        "1",
        "--object-store-memory",
        str(80 * 1024**2),
        "--disable-usage-stats",
    ]
    nodes = [
        ["--head", "--port", str(port), "--include-dashboard", "false", "--dashboard-port", str(free_port())]
        + ["--temp-dir", str(tmp), "--resources", '{"mf_head": 1}'],
        ["--address", f"127.0.0.1:{port}", "--resources", '{"mf_node2": 1}'],
    ]
    procs: list[subprocess.Popen] = []
    try:
        for i, args in enumerate(nodes):
            start_node(procs, tmp / f"node{i}.log", [*args, *common])
        yield f"127.0.0.1:{port}"
    finally:
        stop_nodes(procs)
        shutil.rmtree(tmp, ignore_errors=True)


def start_node(procs: list[subprocess.Popen], log: Path, args: list[str]) -> None:
    """``ray start ARGS`` in its own session, logging to ``log``, appended to ``procs``; returns
    once the node runs (a node that exits or takes over 180 s fails the test with its log)."""
    with open(log, "w") as fh:
        procs.append(
            subprocess.Popen(
                [*RAY_CLI, "start", *args],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=CLUSTER_ENV,
                start_new_session=True,
                cwd=ROOT,
            )
        )
    deadline = time.time() + 180
    while not _started(log):
        assert procs[-1].poll() is None, log.read_text()
        assert time.time() < deadline, f"{log.name}: the node did not start:\n{log.read_text()}"
        time.sleep(0.2)


def stop_nodes(procs: list[subprocess.Popen]) -> None:
    """Stop the nodes :func:`start_node` started: SIGTERM, 15 s grace, then SIGKILL their groups."""
    for p in procs:
        with_signal(p, signal.SIGTERM, group=False)
    deadline = time.time() + 15
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.1, deadline - time.time()))
    for p in procs:
        with_signal(p, signal.SIGKILL, group=True)
        p.wait()


def with_signal(p: subprocess.Popen, sig: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, sig) if group else os.kill(p.pid, sig)


def mf(*args: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    code = "from movingfashion.app.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env or CLUSTER_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests using the session's Ray go last, in their collected order."""
    uses_ray = [it for it in items if "ray_session" in getattr(it, "fixturenames", ())]
    if uses_ray:
        others = [it for it in items if "ray_session" not in getattr(it, "fixturenames", ())]
        items[:] = others + uses_ray


def catalog_rows(path) -> dict[str, list[tuple]]:
    """Every row of a catalog, sorted, without row ids and timestamps (what must not depend on
    the executor)."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {}
        for table, drop in (
            ("items", {"id", "created_at", "updated_at"}),
            ("assets", {"id", "created_at", "updated_at"}),
            ("events", {"id", "at"}),
            ("meta", {"updated_at"}),
        ):
            cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] not in drop]
            out[table] = sorted(db.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall(), key=repr)
        return out
    finally:
        db.close()
