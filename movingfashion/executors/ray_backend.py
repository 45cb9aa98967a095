"""The ``ray`` executor: tasks and actors on a Ray cluster (imported only when asked for).

* :meth:`RayExecutor.map` sends the tasks in chunks as Ray tasks (``SPREAD`` over the nodes,
  one CPU each); the function travels once through the object store and is kept per worker
  process. A chunk whose worker dies is split: each of its tasks runs again as a Ray task of its
  own, retried up to ``max_retries`` times, so a death is charged only to the task that dies alone.
* :meth:`RayExecutor.pool` starts one actor per worker (``SPREAD``; ``cpus``/``gpus``/custom
  resources from :class:`~movingfashion.executors.base.WorkerResources`; a GPU share below 1 or
  a whole number of GPUs). A worker no single node can hold is refused at once. Each actor runs
  ``setup()`` once, then tasks one at a time; the driver sends an actor its next task only once
  the previous one is back (see :data:`QUEUE_PER_ACTOR`) and keeps the ``per_key`` cap across the
  cluster. The driver, not Ray, handles a worker's death: the task it was running goes back to
  the queue, up to ``max_retries`` times *per task* (past that it comes back as
  :class:`~movingfashion.executors.base.WorkerLostError`; after a stop, ``cancel_pending``, it
  is cancelled instead, as are the tasks back in the queue); the dead actor is given up (the pool's
  ``on_lost``, default the setup's ``on_lost`` method when it has one, is called with its actor
  id, so that what it held elsewhere, a host slot, is handed back) and a new actor, with its own
  ``setup()``, is started in its place without stopping the others: it gets work once its setup
  has run. A replacement whose setup fails, that does not start within the startup timeout, or
  that the alive nodes cannot hold besides the pool's other workers (its node was lost) is given
  up, and the pool goes on with fewer workers. The pool's first workers start the same way: work
  begins once one is set up (the others get :data:`START_TOGETHER_S`, or as long as the first
  took, to join it); a worker still waiting for room on a busy cluster joins when it gets some,
  instead of holding the whole run back for the startup timeout.

:func:`connect` joins ``--ray-address`` / ``$RAY_ADDRESS`` (checked first: an unreachable address,
or one where no Ray head answers within ``connect_timeout_s``, is a
:class:`~schemas.errors.ConfigError`, exit 2, before anything is written) or starts a local Ray
for the run (stopped at :meth:`RayExecutor.close`). A process already connected to Ray keeps that
connection; an address naming another cluster is then a :class:`~schemas.errors.ConfigError`.
On a cluster, :func:`watch_head` probes the head's GCS port while the executor is open: a head
lost mid-run ends the run after :data:`~movingfashion.executors.head_watch.LOST_AFTER_S` seconds
with one line naming the address and what to do, exit 1 (Ray alone would wait a minute and end
the process with its own log line).
Where no alive node has room for one task or worker, a cluster this process joined (it may
autoscale) is asked for a node of that size and given ``$MF_RAY_SCALE_WAIT_S`` seconds
(:data:`SCALE_WAIT_S`) to add one, with one warning naming its address; then, as at once on a
local Ray this process started, a :class:`~schemas.errors.ConfigError` (:meth:`RayExecutor._room`).
A worker that cannot load what it was sent (its node lacks the toolkit or one of its modules, or
has another version of it) stops a map or a pool with one :class:`~schemas.errors.ConfigError`
naming the node and what was missing (:func:`unloadable`): no task's fault, so none is failed.
While a Ray executor is open, what is printed on stdout goes to stderr (Ray's driver prints a
worker's death there): stdout keeps only the command's result
(:func:`schemas.cli_support.divert_stdout`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import re
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import (
    NodeDiedError,
    OutOfMemoryError,
    RayActorError,
    RayError,
    RaySystemError,
    WorkerCrashedError,
)

from movingfashion.executors.base import (
    GPU_SHARE_HINT,
    Executor,
    Outcome,
    Pool,
    R,
    T,
    TaskResult,
    WorkerLostError,
    WorkerResources,
    describe,
    gpu_share_problem,
)
from movingfashion.executors.head_watch import HeadWatch
from movingfashion.executors.local import _attempt
from schemas.cli_support import (
    divert_stdout,
    escaping_library_logs,
    keeping_sigterm,
    sigterm_interrupts_in_force,
)
from schemas.errors import ConfigError
from schemas.faults import missing_library, reraise_local_fault
from schemas.library_state import private_state_dir
from schemas.redact import redacted_logger

log = redacted_logger(__name__)

#: What a pool call raises when its worker died while running it (an actor task killed for
#: memory comes back as OutOfMemoryError, not as an actor error).
WORKER_DEATHS = (RayActorError, OutOfMemoryError, NodeDiedError, WorkerCrashedError)

#: Times a task is run again after its worker died (a map task: Ray's max_retries; a pool task:
#: counted per task by the driver).
MAX_RETRIES = 3
#: Tasks queued per actor besides the running one: none. With a task queued behind the running
#: one, a death cannot be pinned on a task: a task that finished just before the kill can lose its
#: reply and be retried, and Ray retries a dead actor's tasks in any order, so an innocent task can
#: run out of retries while the task that kills the worker is still being retried. With one task
#: per actor, the task whose call fails is the one that was running. The round trip between two
#: tasks is hidden instead by sending the next tasks before results are handed to the caller.
QUEUE_PER_ACTOR = 0
#: Chunks per worker a map is cut into (load balance vs per-task overhead).
CHUNKS_PER_WORKER = 8
#: Seconds to wait for pool workers to start (their setup included) before going on without them.
STARTUP_TIMEOUT_S = 600.0
#: Seconds the pool's first workers are waited for together once one of them is set up (or as
#: long as that one took, if longer); those still starting then join as they start, until the
#: startup timeout (a busy cluster's CPUs free up later: work must not wait for them).
START_TOGETHER_S = 5.0
#: Seconds between two checks, while replacement workers start, that the alive nodes can still
#: hold them (a lost node's resources are gone): one that cannot fit is given up at once.
REPLACE_CHECK_S = 5.0
#: Seconds ``ray.init`` may take to join a cluster: a port that answers but is not a Ray head
#: (the dashboard's, Ray Client's) would make it retry for many minutes.
CONNECT_TIMEOUT_S = 30.0
#: Seconds a run on a joined cluster waits, when no node has room for one worker, for its
#: autoscaler to add one (asked through a placement group of one worker's size, which an
#: autoscaler counts as demand); :data:`SCALE_WAIT_ENV` overrides it (0: refuse at once, inf: no
#: limit). A local Ray the run started has no autoscaler: refused at once.
SCALE_WAIT_S = 300.0
SCALE_WAIT_ENV = "MF_RAY_SCALE_WAIT_S"
#: Seconds between two looks at the cluster's nodes while waiting for room.
SCALE_POLL_S = 1.0
#: Seconds a map that stops early (an error, the caller gone) waits for its cancelled chunks to
#: end, to collect what they left: a chunk's error never fetched is logged by Ray, on its own
#: line, as an "Unhandled error" (noise after the one error the run stops with).
CANCEL_COLLECT_S = 10.0
#: What to check when no Ray head answers at an address.
PORT_HINT = (
    "check the port: it is the head's GCS port (`ray start --head --port`, 6379 by default), "
    "not the dashboard's (8265) or Ray Client's (10001)"
)


#: What a Ray Client address (``ray://HOST:PORT``) starts with, and the port Ray gives it when it
#: names none (the head's ``--ray-client-server-port``).
CLIENT_PREFIX = "ray://"
CLIENT_PORT = 10001
#: What to check when no Ray Client server answers at a ``ray://`` address.
CLIENT_PORT_HINT = (
    "check the port: a ray:// address names Ray Client's port (`ray start --head "
    f"--ray-client-server-port`, {CLIENT_PORT} by default), not the GCS port (6379); or give the "
    "head's GCS address as HOST:6379, without ray://"
)


def port_hint(address: str) -> str:
    """What to check when nothing Ray answers at ``address`` (a GCS address, or a Ray Client one)."""
    return CLIENT_PORT_HINT if address.startswith(CLIENT_PREFIX) else PORT_HINT


def check_client(address: str, where: str) -> None:
    """A Ray Client address (``ray://``) needs Ray's client package (``ray[client]``: grpcio),
    which the toolkit's ``[ray]`` extra does not install: a :class:`ConfigError` naming the
    option and what to do, before anything is tried (Ray's own error blamed the head)."""
    if not address.startswith(CLIENT_PREFIX):
        return
    try:
        import grpc  # noqa: F401 - what Ray Client needs beyond Ray itself
    except ImportError:
        raise ConfigError(
            f"{address} is a Ray Client address, which needs Ray's client package (not installed here)",
            where=where,
            hint="give the head's GCS address instead, HOST:6379 without ray:// (from a machine that "
            "reaches it), or install the client with `pip install 'ray[client]'`",
        ) from None


# ---------------------------------------------------------------------- connecting
def _endpoint(address: str, where: str) -> tuple[str, int] | None:
    """(host, port) of a ``host:port`` or ``ray://host[:port]`` address (Ray Client's port,
    :data:`CLIENT_PORT`, when it names none, as Ray reads it); None for ``auto``."""
    bare = address.removeprefix(CLIENT_PREFIX).strip()
    if bare in ("auto", ""):
        return None
    if address.startswith(CLIENT_PREFIX) and not re.search(r":\d*$", bare):
        bare = f"{bare}:{CLIENT_PORT}"
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(
            f"cannot read the Ray address {address!r}",
            where=where,
            hint="write it as HOST:PORT, e.g. 10.0.0.5:6379",
        )
    return host.strip("[]"), int(port)


def check_reachable(address: str, where: str, timeout_s: float = 5.0) -> None:
    """A TCP connection to the cluster's address, so a wrong address fails in seconds."""
    endpoint = _endpoint(address, where)
    if endpoint is None:
        return
    try:
        socket.create_connection(endpoint, timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or type(exc).__name__})",
            where=where,
            hint="start one with `ray start --head`, fix the address, or unset it to run a local Ray",
        ) from None


def connect(
    address: str | None,
    *,
    where: str = "--ray-address",
    num_cpus: int | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> bool:
    """Join the cluster at ``address`` or start a local Ray; True when this call did either
    (the caller disconnects at the end), False when this process was connected already (to
    that cluster: an ``address`` naming another one is a :class:`ConfigError`). Joining takes
    at most ``timeout_s`` seconds."""
    if ray.is_initialized():
        check_connected_to(address, where)
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if not sys.stderr.isatty():  # a log file: Ray's "(raylet) ..." lines without colour codes
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    if address and address != "local":
        check_client(address, where)
        check_reachable(address, where)
        _init_within(timeout_s, address, where, quiet)
        return True
    # a command's SIGTERM stays an interrupt (exit 143), during the start too, not Ray's sys.exit
    held: list[int] = []
    with keeping_sigterm(), _sigterm_held_during_start(held):
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **quiet, **_local_ray_state())
    if held:  # the start finished: stop it whole, then unwind as the command's SIGTERM does
        shutdown_keeping_sigterm()
        signal.raise_signal(signal.SIGTERM)
    return True


#: the variables by which a user chose Ray's token authentication; none set: a token per local Ray
RAY_AUTH_VARIABLES = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")


def _local_ray_state() -> dict[str, Any]:
    """What a local Ray the toolkit starts keeps where, beyond its own processes.

    - Its session folder (logs, sockets): in this process's private folder under a short
      temporary path (a long ``$TMPDIR`` made Ray's socket paths exceed the 107 bytes of an AF_UNIX
      address: an uncaught 50-line traceback), removed after Ray stopped, instead of one more
      ``/tmp/ray/session_*`` per run.
    - Its auth token: Ray 2.60 turns token authentication on for a local cluster and writes the
      token to ``~/.ray/auth_token``, readable by every user of the machine, where later drivers
      find it. Here the token of a cluster nobody else joins is a random one in this process's
      environment (inherited by Ray's processes), unless the user chose one (:data:`RAY_AUTH_VARIABLES`).
    """
    if not any(v in os.environ for v in RAY_AUTH_VARIABLES):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    global _RAY_TEMP
    if _RAY_TEMP is None:
        atexit.register(_remove_ray_temp, os.getpid())
    _RAY_TEMP = private_state_dir("ray", short=True, remove_at_exit=False)  # made again once removed
    return {"_temp_dir": str(_RAY_TEMP)}


#: the session folder of the local Ray this process started last (None: none started)
_RAY_TEMP: Path | None = None


def _remove_ray_temp(pid: int) -> None:
    """At exit of the process that started the local Ray: stop it, then remove its session
    folder (exit hooks run last-registered first, so Ray's own shutdown hook would come after)."""
    if os.getpid() == pid and _RAY_TEMP is not None:
        shutdown_keeping_sigterm()


def shutdown_keeping_sigterm() -> None:
    """``ray.shutdown()`` with the SIGTERM handler Python has in force put back as soon as Ray
    dropped it: freeing the driver's core worker resets the C-level handler to the default
    (while Python still names its own), so that a SIGTERM while Ray then stops its processes
    (1-2 s), or any time after, killed the command outright (exit -15, no "interrupted" line,
    Ray's agents left for a minute). In the main thread only; elsewhere a plain shutdown. The
    session folder of a local Ray this process started is removed after."""
    try:
        if threading.current_thread() is threading.main_thread():
            _shutdown_in_main_thread()
        else:
            ray.shutdown()
    finally:
        if _RAY_TEMP is not None:
            shutil.rmtree(_RAY_TEMP, ignore_errors=True)


def _shutdown_in_main_thread() -> None:
    """:func:`shutdown_keeping_sigterm` in the main thread, where the handler can be put back."""
    handler = signal.getsignal(signal.SIGTERM)
    node = getattr(getattr(getattr(ray, "_private", None), "worker", None), "_global_node", None)
    kill = getattr(node, "kill_all_processes", None)
    if handler is not None and kill is not None:

        def kill_keeping(*args: Any, **kwargs: Any) -> Any:
            signal.signal(signal.SIGTERM, handler)  # right after the core worker went
            return kill(*args, **kwargs)

        node.kill_all_processes = kill_keeping
    try:
        ray.shutdown()
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


@contextlib.contextmanager
def _sigterm_held_during_start(held: list[int]) -> Iterator[None]:
    """While a command's SIGTERM handler is in force (:func:`sigterm_interrupts_in_force`), a
    SIGTERM during the 5-40 s of a local ``ray.init`` is recorded in ``held`` and acted on once
    the start returned: Ray's handler (``sys.exit(15)``: exit 15, no "interrupted" line) is not
    installed meanwhile, and a start cut short half-way would leave the agents its raylet was
    starting alive for a minute. Without that handler, or on a Ray without its installer
    (``ray._private.utils.set_sigterm_handler``), nothing changes."""
    utils = getattr(getattr(ray, "_private", None), "utils", None)
    install = getattr(utils, "set_sigterm_handler", None)
    if install is None or not sigterm_interrupts_in_force():
        yield
        return
    utils.set_sigterm_handler = lambda handler: None
    before = signal.signal(signal.SIGTERM, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        utils.set_sigterm_handler = install
        signal.signal(signal.SIGTERM, before)


def _init_within(timeout_s: float, address: str, where: str, options: dict[str, Any]) -> None:
    """``ray.init(address)`` in a thread of its own, given up after ``timeout_s``: Ray would
    retry for many minutes on a port where something else answers. Given up, Ray is shut down,
    here and again by the thread should it join later."""
    done, given_up = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def join() -> None:
        try:
            ray.init(address=address, **options)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            failed.append(exc)
        finally:
            done.set()
        if given_up.is_set() and not failed:  # joined after all, too late: nobody will use it
            with contextlib.suppress(Exception):
                ray.shutdown()

    if threading.current_thread() is threading.main_thread() and not sigterm_interrupts_in_force():
        # what ray.init sets up in the main thread: SIGTERM exits (atexit then stops Ray); a
        # command run by run_main keeps its own handler, which unwinds as Ctrl-C does (exit 143)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
    quiet = _DropThreadWarning()
    ray_log = logging.getLogger("ray._private.worker")
    ray_log.addFilter(quiet)
    try:
        threading.Thread(target=join, name="mf-ray-connect", daemon=True).start()
        joined = done.wait(timeout_s)
    finally:
        ray_log.removeFilter(quiet)
    if not joined:
        given_up.set()
        with contextlib.suppress(Exception):
            ray.shutdown()
        raise ConfigError(
            f"no Ray head answered at {address} within {timeout_s:g}s", where=where, hint=port_hint(address)
        )
    if failed:
        raise ConfigError(
            f"cannot join the Ray cluster at {address}: {describe(failed[0]).splitlines()[0]}",
            where=where,
            hint="is a Ray head running there (`ray start --head`), of the same Ray version?",
        ) from None


def watch_head(address: str | None, where: str) -> HeadWatch | None:
    """For a run on a cluster (an address, not a local Ray): a :class:`HeadWatch` on its head's
    GCS port, started, so that a head lost mid-run ends the run with the toolkit's one line."""
    if not address or address == "local":
        return None
    endpoint = None
    with contextlib.suppress(Exception):  # a Ray Client connection has no GCS address
        host, _, port = str(ray.get_runtime_context().gcs_address).rpartition(":")
        endpoint = (host, int(port)) if host else None
    endpoint = endpoint or _endpoint(address, where)
    if endpoint is None:
        return None
    return HeadWatch(endpoint[0], endpoint[1], address, where=where, connected=ray.is_initialized).start()


class _DropThreadWarning(logging.Filter):
    """Ray's warning that ``ray.init`` outside the main thread sets no SIGTERM handler (set here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


def check_connected_to(address: str | None, where: str) -> None:
    """In a process already connected to Ray: a :class:`ConfigError` when ``address`` names
    another cluster than the one joined (no address, ``auto`` or ``local``: the one joined)."""
    if not address or address == "local":
        return
    endpoint = _endpoint(address, where)
    if endpoint is None:
        return
    try:
        current = ray.get_runtime_context().gcs_address
    except Exception:  # noqa: BLE001 - a Ray Client connection has no GCS address to compare
        return
    joined = _endpoint(current, where)
    assert joined is not None
    client = address.startswith("ray://")  # Ray Client's port is not the GCS port: hosts only
    if (client or endpoint[1] == joined[1]) and _hosts(endpoint[0]) & _hosts(joined[0]):
        return
    raise ConfigError(
        f"this process is already connected to the Ray cluster at {current}, not to {address}",
        where=where,
        hint="leave the address out to use the connected cluster, or call ray.shutdown() first",
    )


def _hosts(host: str) -> set[str]:
    """The addresses ``host`` stands for; ``"this machine"`` for loopback and this node's own."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return {host}
    with contextlib.suppress(Exception):
        mine = ray.util.get_node_ip_address()
        if any(ip == mine or ip.startswith("127.") or ip == "::1" for ip in found):
            found.add("this machine")
    return found | {host}


def workers_that_fit(total: dict[str, float], res: WorkerResources) -> int | None:
    """How many workers asking ``res`` fit in one node with ``total`` resources (None when a
    worker reserves nothing). A GPU share of 0.5 fits two workers per GPU."""
    asked = {"CPU": res.cpus, "GPU": res.gpus, **res.custom}
    fits = [int(total.get(k, 0) // v) for k, v in asked.items() if v > 0]
    return min(fits) if fits else None


def nodes_room(
    nodes: list[dict[str, Any]], res: WorkerResources, taken: Counter[str] | None = None
) -> int | None:
    """How many workers asking ``res`` the alive ``nodes`` (as :func:`ray.nodes` lists them) hold,
    each node on its own (a worker cannot span two), less ``taken`` workers per node id (None
    when a worker reserves nothing)."""
    if workers_that_fit({}, res) is None:
        return None
    taken = taken or Counter()
    return sum(
        max(0, (workers_that_fit(n.get("Resources", {}), res) or 0) - taken[n.get("NodeID", "")])
        for n in nodes
        if n.get("Alive")
    )


def _free_now() -> str:
    """What the cluster has free of what it has, CPUs and GPUs ('2 of 2 CPUs free'), for an error
    saying why workers did not start."""
    try:
        free, total = ray.available_resources(), ray.cluster_resources()
    except Exception:  # noqa: BLE001 - the head is gone: nothing to add
        return "the cluster's free resources unknown"
    return (
        ", ".join(f"{free.get(k, 0):g} of {total[k]:g} {k}s free" for k in ("CPU", "GPU") if total.get(k))
        or "the cluster lists no CPU or GPU"
    )


def _started_here() -> bool:
    """Whether the Ray this process is connected to is one it started (``ray.init`` without an
    address: its head runs here, with no autoscaler), not a cluster it joined."""
    node = getattr(getattr(getattr(ray, "_private", None), "worker", None), "_global_node", None)
    return bool(getattr(node, "head", False))


def _gcs_address() -> str:
    """The head's address of the cluster this process is connected to ('the connected one')."""
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # noqa: BLE001 - a Ray Client connection has none
        return "(the connected one)"


def _scale_wait_s() -> float:
    """``$MF_RAY_SCALE_WAIT_S`` (seconds, ``inf``: no limit), else :data:`SCALE_WAIT_S`; a bad
    value is a :class:`ConfigError` naming the variable."""
    from schemas.config import env_seconds

    return env_seconds(
        SCALE_WAIT_ENV,
        SCALE_WAIT_S,
        f"unset it (default {SCALE_WAIT_S:g} s) or give seconds, 0 to refuse at once",
    )


# ---------------------------------------------------------------------- a node that cannot load the work
#: What to do when a worker cannot load what it was sent (the toolkit's code, a task's objects).
LOAD_HINT = (
    "every node needs the toolkit installed, at the same version as the machine running the command, "
    "with the same Python packages (`pip install 'movingfashion-toolkit[ray]'` there, in the Python "
    "`ray start` runs); then run the command again"
)
#: Ray's colour codes (its task names in an error's first line)
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
_NODE_IP = re.compile(r"\bip=([^,)\s]+)")


def ray_line(exc: BaseException) -> str:
    """The first line of a Ray error as :func:`describe` gives it, without Ray's colour codes."""
    return _COLOUR.sub("", describe(exc).splitlines()[0])


def unloadable(exc: BaseException) -> ConfigError | None:
    """The error that stops a run when a worker could not load what it was sent (its node lacks
    the toolkit, one of its modules or libraries, or has another version of it): no item's
    fault, every task sent to that node would fail the same way. It names the node and what the
    worker could not load. None for any other error (a task's own, a worker's death)."""
    cause: str | None = None
    inner = getattr(exc, "cause", None)
    loading = getattr(inner, "client_exc", None)
    if isinstance(exc, RaySystemError) and isinstance(loading, BaseException):
        cause = describe(loading)  # a task's function or arguments failed to unpickle there
    elif isinstance(exc, RayActorError) and getattr(exc, "_actor_init_failed", False):
        text = _COLOUR.sub("", str(exc))
        if "RaySystemError: System error" in text:  # an actor's arguments failed to unpickle there
            cause = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), None)
    if not cause:
        return None
    lib = missing_library(loading) if isinstance(loading, ImportError) else None
    return ConfigError(
        f"a worker on node {_failed_node(exc)} cannot load the work it was sent: " + cause.splitlines()[0],
        where="--executor ray",
        hint=lib.hint if lib is not None and lib.hint else LOAD_HINT,
    )


def _failed_node(exc: BaseException) -> str:
    """The node of the worker that raised ``exc``, as :func:`node_label` names it: from the node
    id the worker recorded (a map's function failed to load in its task), else from the cluster's
    record of the actor (a pool worker's setup failed to load); else the address in Ray's text,
    the only place Ray keeps it for a task whose arguments failed to load before it ran (the
    error it raises then drops the ``ip`` of its :class:`~ray.exceptions.RayTaskError`)."""
    node = getattr(getattr(exc, "cause", None), _NODE_ATTR, None)
    actor = getattr(exc, "actor_id", None) if isinstance(exc, RayActorError) else None
    if node is None and actor:
        with contextlib.suppress(Exception):  # the head is gone, or a Ray without that table
            node = ray._private.state.actors(actor)["Address"]["NodeID"]
    if node:
        return node_label(node)
    found = _NODE_IP.search(_COLOUR.sub("", str(exc)))
    return found.group(1) if found else "(unknown)"


def node_label(node: str) -> str:
    """What a user knows node ``node`` (an id) by: its IP address (``ray.nodes()``) with the start
    of its id; the id when the cluster no longer lists it."""
    with contextlib.suppress(Exception):  # the head is gone: the id is all there is
        for n in ray.nodes():
            if n.get("NodeID") == node and n.get("NodeManagerAddress"):
                return f"{n['NodeManagerAddress']} ({node[:12]})"
    return node


def _cancel_and_collect(refs: list[ray.ObjectRef], wait_s: float = CANCEL_COLLECT_S) -> None:
    """Cancel ``refs`` (tasks a stopped map no longer needs) and fetch what they ended with, up
    to ``wait_s`` seconds: an error never fetched is logged by Ray as an "Unhandled error" (the
    other chunks of a node that cannot load the work fail as the first did)."""
    for ref in refs:
        with contextlib.suppress(Exception):  # already ended: nothing to cancel
            ray.cancel(ref, force=True)
    if not refs:
        return
    with contextlib.suppress(Exception):  # the cluster is gone: nothing left to collect
        ended, _ = ray.wait(refs, num_returns=len(refs), timeout=wait_s)
        for ref in ended:
            with contextlib.suppress(Exception):  # cancelled, or the error already reported
                ray.get(ref, timeout=0)


# ---------------------------------------------------------------------- worker side
#: the attribute of a load error raised in a worker that holds the worker's node id
_NODE_ATTR = "mf_node_id"
_FUNCTIONS: dict[str, Any] = {}


def _function(ref: ray.ObjectRef) -> Any:
    """The mapped function behind ``ref``, fetched once per worker process."""
    key = ref.hex()
    fn = _FUNCTIONS.get(key)
    if fn is None:
        if len(_FUNCTIONS) >= 8:
            _FUNCTIONS.clear()
        fn = _FUNCTIONS[key] = ray.get(ref)
    return fn


@ray.remote
def _run_chunk(box: list[ray.ObjectRef], tasks: list[Any]) -> tuple[str, list[Outcome]]:
    """Run a chunk of mapped tasks; the function ref comes in a list so Ray does not resolve it."""
    node = ray.get_runtime_context().get_node_id()
    try:
        fn = _function(box[0])
    except RaySystemError as exc:  # it cannot be loaded here: the driver names this node
        setattr(exc, _NODE_ATTR, node)
        raise
    return node, [_attempt(fn, t) for t in tasks]


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError with its description."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(describe(exc))


@ray.remote
class _Worker:
    """A pool worker: ``setup()`` once, then ``fn(state, task)`` per task."""

    def __init__(self, fn: Callable[..., Any], setup: Callable[[], Any] | None) -> None:
        self._fn, self._stateful = fn, setup is not None
        self._state: Any = None
        self._error: BaseException | None = None
        self._node = ray.get_runtime_context().get_node_id()
        if setup is not None:
            try:
                self._state = setup()
            except Exception as exc:  # noqa: BLE001 - reported by ready()
                self._error = _portable(exc)

    def ready(self) -> tuple[str, BaseException | None, int, str]:
        return self._node, self._error, os.getpid(), ray.get_runtime_context().get_actor_id()

    def run(self, task: Any) -> tuple[str, Any, BaseException | None]:
        if self._error is not None:
            return self._node, None, self._error
        try:
            value = self._fn(self._state, task) if self._stateful else self._fn(task)
        except Exception as exc:  # noqa: BLE001 - handed to the driver as the task's error
            return self._node, None, _portable(exc)
        return self._node, value, None


# ---------------------------------------------------------------------- driver side
class RayPool(Pool):
    """Actors fed by the driver: per-actor queue depth, per-key cap, results as they finish; a
    dead worker's task queued again (``max_retries`` times per task) and the worker replaced
    without waiting for its replacement."""

    def __init__(
        self,
        fn: Callable[..., Any],
        setup: Callable[[], Any] | None,
        *,
        workers: int,
        per_key: int | None,
        resources: WorkerResources,
        max_retries: int,
        nodes: Counter[str],
        startup_timeout_s: float | None = None,
        on_lost: Callable[[str], Any] | None = None,
    ) -> None:
        """``startup_timeout_s``: how long a worker may take to start (default
        :data:`STARTUP_TIMEOUT_S`, read when the pool is made)."""
        super().__init__()
        if startup_timeout_s is None:
            startup_timeout_s = STARTUP_TIMEOUT_S
        # no restarts by Ray: its budget would be the actor's, spent over all its tasks, and a
        # restart whose setup fails would stay in the pool; the driver retries and replaces
        opts: dict[str, Any] = {
            "num_cpus": resources.cpus,
            "max_restarts": 0,
            "max_task_retries": 0,
            "scheduling_strategy": "SPREAD",
        }
        if resources.gpus:
            opts["num_gpus"] = resources.gpus
        if resources.custom:
            opts["resources"] = dict(resources.custom)
        self.per_key = per_key or 1 << 30
        self.nodes = nodes
        self.max_retries = max_retries
        self._res = resources
        self._on_lost = on_lost if on_lost is not None else getattr(setup, "on_lost", None)
        # the function and the setup travel once through the object store; the pool keeps them in
        # scope, so a replacement can be built
        self._args = (ray.put(fn), ray.put(setup))
        self._opts = opts
        self._actors = [_Worker.options(**opts).remote(*self._args) for _ in range(workers)]
        self._alive = [True] * workers
        self._load = [0] * workers
        self.pids: list[int | None] = [None] * workers
        self.worker_nodes: list[str | None] = [None] * workers
        #: each worker's Ray actor id (what ``on_lost`` is called with)
        self.worker_ids: list[str] = [a._actor_id.hex() for a in self._actors]
        # task, tag, key, times its worker died running it
        self._queue: deque[tuple[Any, Any, str | None, int]] = deque()
        self._inflight: dict[ray.ObjectRef, tuple[int, Any, Any, str | None, int]] = {}
        # replacements starting: their ready() call -> (place, actor, monotonic deadline)
        self._starting: dict[ray.ObjectRef, tuple[int, Any, float]] = {}
        self._room_checked = 0.0  # when the alive nodes' room for them was last checked
        self._keys: Counter[str] = Counter()
        self._ready: deque[TaskResult] = deque()  # finished, not yet handed to the caller
        self._startup_timeout_s = startup_timeout_s
        try:
            self._start(startup_timeout_s)
        except BaseException:
            self.close()
            raise

    def _start(self, timeout_s: float) -> None:
        """Wait for one worker's setup (raise the first setup error; none within ``timeout_s``: a
        :class:`ConfigError`), then briefly for the others (:data:`START_TOGETHER_S`); those still
        starting join the pool as they start (:meth:`_started`), or are given up at the deadline."""
        began = time.monotonic()
        refs = {a.ready.remote(): i for i, a in enumerate(self._actors)}
        self._alive = [False] * len(refs)  # alive once set up
        first, _ = ray.wait(list(refs), num_returns=1, timeout=timeout_s)
        if first:
            together = max(START_TOGETHER_S, time.monotonic() - began)
            left = max(0.0, min(together, began + timeout_s - time.monotonic()))
            ready, late = ray.wait(list(refs), num_returns=len(refs), timeout=left)
        else:
            ready, late = [], list(refs)
        for ref in late:  # killed by close() if the pool does not start
            self._starting[ref] = (refs[ref], self._actors[refs[ref]], began + timeout_s)
        self._room_checked = 0.0  # the cluster's room for them checked at once
        errors: list[BaseException] = []
        for ref in ready:
            i = refs[ref]
            try:
                node, error, pid, self.worker_ids[i] = ray.get(ref)
            except RayError as exc:
                errors.append(
                    unloadable(exc) or WorkerLostError(f"a worker died while starting: {ray_line(exc)}")
                )
                self._drop(i)
                continue
            if error is not None:
                errors.append(error)
                self._drop(i)
                continue
            self._alive[i] = True
            self.worker_nodes[i], self.pids[i] = node, pid
        if errors:
            raise errors[0]
        if not ready:
            raise ConfigError(
                f"no worker started within {timeout_s:.0f}s ({_free_now()})",
                where="--executor ray",
                hint="the cluster lacks the CPUs/GPUs asked for each worker, or other jobs hold them: "
                "wait for them, or ask less per worker",
            )
        if late:
            log.info(
                "%d of %d workers are still starting (waiting for room or their setup); "
                "work begins with %d, the others join as they start",
                len(late),
                len(refs),
                len(ready),
            )

    def _drop(self, i: int, *, lost: bool = True) -> None:
        """Retire worker ``i`` (``lost``: it died or failed, so ``on_lost`` hears of it)."""
        self._alive[i] = False
        with contextlib.suppress(Exception):  # already gone
            ray.kill(self._actors[i], no_restart=True)
        if lost and self._on_lost is not None:
            try:
                self._on_lost(self.worker_ids[i])
            except Exception:  # noqa: BLE001 - a hook's failure must not lose the task's result
                log.warning("on_lost of worker %s failed", self.worker_ids[i], exc_info=True)

    def _replace(self, i: int) -> None:
        """Start a new worker in the place of worker ``i`` (retired), without waiting for it: it
        is given work once its setup has run (:meth:`_started`)."""
        actor = _Worker.options(**self._opts).remote(*self._args)
        deadline = time.monotonic() + self._startup_timeout_s
        self._starting[actor.ready.remote()] = (i, actor, deadline)
        self._room_checked = 0.0  # checked at once

    def _started(self, ref: ray.ObjectRef) -> None:
        """A replacement's setup is done: it takes its place, or is given up when it failed."""
        i, actor, _ = self._starting.pop(ref)
        try:
            node, error, pid, worker_id = ray.get(ref)
        except RayError as exc:
            error = exc
        if error is not None:
            load = unloadable(error)
            self._give_up(actor, f"it did not start: {load.message if load else ray_line(error)}")
            return
        self._actors[i], self._alive[i], self._load[i] = actor, True, 0
        self.pids[i], self.worker_nodes[i], self.worker_ids[i] = pid, node, worker_id

    def _check_starting(self) -> None:
        """Give up the replacements past the startup timeout, and those the alive nodes cannot
        hold besides the pool's live workers (a lost node's share is gone), the newest first."""
        now = time.monotonic()
        for ref, (_, actor, deadline) in list(self._starting.items()):
            if now >= deadline:
                del self._starting[ref]
                self._give_up(actor, f"it did not start within {self._startup_timeout_s:.0f}s")
        if not self._starting or now - self._room_checked < REPLACE_CHECK_S:
            return
        self._room_checked = now
        live = Counter(n for n, alive in zip(self.worker_nodes, self._alive, strict=True) if alive and n)
        room = nodes_room(ray.nodes(), self._res, live)
        if room is None:
            return
        for ref in list(self._starting)[room:][::-1]:
            _, actor, _ = self._starting.pop(ref)
            self._give_up(actor, "no alive node has room for it")

    def _give_up(self, actor: Any, why: str) -> None:
        log.warning("a worker that was starting is given up (%s); going on without it", why)
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)

    @property
    def workers(self) -> int:
        return sum(self._alive)

    def submit(self, task: Any, *, tag: Any = None, key: str | None = None) -> None:
        if self.stopped:
            self.cancelled.append(tag)
            return
        self._queue.append((task, tag, key, 0))
        self._dispatch()

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._inflight) + len(self._ready)

    def _free_actor(self) -> int | None:
        best = None
        for i, alive in enumerate(self._alive):
            if (
                alive
                and self._load[i] <= QUEUE_PER_ACTOR
                and (best is None or self._load[i] < self._load[best])
            ):
                best = i
        return best

    def _dispatch(self) -> None:
        held: list[tuple[Any, Any, str | None, int]] = []
        while self._queue:
            i = self._free_actor()
            if i is None:
                break
            task, tag, key, deaths = self._queue.popleft()
            if key is not None and self._keys[key] >= self.per_key:
                held.append((task, tag, key, deaths))
                continue
            ref = self._actors[i].run.remote(task)
            self._inflight[ref] = (i, task, tag, key, deaths)
            self._load[i] += 1
            if key is not None:
                self._keys[key] += 1
        self._queue.extendleft(reversed(held))

    def results(self, *, block: bool = True) -> Iterator[TaskResult]:
        if not self._ready:
            self._fetch(block)
        while self._ready:  # popped one by one: a caller that stops early finds the rest next time
            yield self._ready.popleft()

    def _fetch(self, block: bool) -> None:
        """Move the finished calls to ``_ready`` (waiting for one with ``block``); take in the
        replacements that have started."""
        self._dispatch()
        while True:
            if self._queue and not any(self._alive) and not self._starting:
                while self._queue:
                    _, tag, _, _ = self._queue.popleft()
                    self._ready.append(TaskResult(tag, error=WorkerLostError("no worker left (all died)")))
            if not self._inflight and not self._queue:
                return
            refs = [*self._inflight, *self._starting]
            if not refs:
                return
            timeout = None if block else 0
            if block and self._starting:  # wake up now and then to check they can still start
                timeout = REPLACE_CHECK_S
            done, _ = ray.wait(refs, num_returns=1, timeout=timeout)
            if done:
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in done:
                if ref in self._starting:
                    self._started(ref)
                elif (res := self._collect(ref)) is not None:
                    self._ready.append(res)
            self._check_starting()
            self._dispatch()  # the freed workers start their next task while the caller handles these
            if self._ready or not block:
                return

    def _collect(self, ref: ray.ObjectRef) -> TaskResult | None:
        """The result of a finished call, its worker freed; None when its worker died and the
        task went back to the queue (the worker retired, a new one started in its place)."""
        i, task, tag, key, deaths = self._inflight.pop(ref)
        self._load[i] -= 1
        if key is not None:
            self._keys[key] -= 1
        try:
            node, value, error = ray.get(ref)
        except WORKER_DEATHS as exc:
            # the task the actor was running (one task per actor at a time) is charged with the
            # death: run again, elsewhere, unless it has killed its worker max_retries times already
            why, worker = ray_line(exc), self.worker_ids[i]
            self._drop(i)
            if self.stopped:  # not run again after a stop: cancelled (a rerun does it), and no
                self.cancelled.append(tag)  # worker started in its place: none would get work
                return None
            self._replace(i)
            if deaths < self.max_retries:
                self.worker_retries.append({"tag": tag, "worker": worker, "reason": why})
                self._queue.appendleft((task, tag, key, deaths + 1))
                return None
            return TaskResult(tag, error=WorkerLostError(f"worker died: {why} ({deaths + 1} times)"))
        except RayError as exc:
            load = unloadable(exc)
            if load is not None:  # the worker's node cannot load the task: stop (a rerun does it)
                self._queue.appendleft((task, tag, key, deaths))
                raise load from None
            return TaskResult(tag, error=WorkerLostError(ray_line(exc)))
        self.nodes[node] += 1
        return TaskResult(tag, value, error, node)

    def cancel_pending(self) -> int:
        self.stopped = True
        self._stop_starting()
        return self._cancel_queued()

    def _stop_starting(self) -> None:
        """Kill the replacements still starting: after a stop none would be given work (a worker
        started and killed at once could hold its CPU for seconds after the kill)."""
        for _, actor, _ in self._starting.values():
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self._starting.clear()

    def _cancel_queued(self) -> int:
        """Cancel the queued tasks (new ones, and those put back after their worker died)."""
        n = len(self._queue)
        self.cancelled.extend(tag for _, tag, _, _ in self._queue)
        self._queue.clear()
        return n

    def close(self) -> None:
        self._cancel_queued()
        self.cancelled.extend(tag for _, _, tag, _, _ in self._inflight.values())  # abandoned
        self.cancelled.extend(res.tag for res in self._ready)  # never handed to the caller
        self._inflight.clear()
        self._ready.clear()
        self._stop_starting()
        for i in range(len(self._actors)):
            if self._alive[i]:
                self._drop(i, lost=False)


class RayExecutor(Executor):
    """Tasks and actors on a Ray cluster (see the module docstring)."""

    name = "ray"
    remote = True

    def __init__(
        self,
        workers: int | None = None,
        *,
        address: str | None = None,
        show_progress: bool = False,
        max_retries: int = MAX_RETRIES,
        num_cpus: int | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        """``connect_timeout_s``: how long joining ``address`` may take (default
        :data:`CONNECT_TIMEOUT_S`, 30 s) before it is a :class:`ConfigError`."""
        super().__init__(workers, show_progress=show_progress)
        where = "--ray-address" if address else "RAY_ADDRESS"
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.max_retries = max_retries
        self._owns = self._local = False
        self._watch: HeadWatch | None = None
        # Ray's driver prints a worker's death on stdout (whatever log_to_driver says): stderr
        self._restore_stdout: Callable[[], None] | None = divert_stdout()
        # Ray's driver prints its own log lines ("Unhandled error", quoting a task's exception):
        # escaped as the command's (its workers' output is not forwarded: log_to_driver off)
        self._restore_ray_log: Callable[[], None] | None = escaping_library_logs("ray")
        try:
            self._owns = connect(self.address, where=where, num_cpus=num_cpus, timeout_s=connect_timeout_s)
            #: a Ray this process started (no autoscaler: no node will join)
            self._local = _started_here()
            self.driver_node = ray.get_runtime_context().get_node_id()
            self._watch = watch_head(self.address, where)
        except BaseException:
            self.close()
            raise

    # -- sizes ---------------------------------------------------------------------
    def capacity(self, res: WorkerResources) -> int | None:
        """How many workers of this size the cluster's alive nodes hold, each node on its own (a
        worker cannot span two nodes; None: no limit, nothing reserved)."""
        return nodes_room(ray.nodes(), res)

    def _room(self, res: WorkerResources, what: str = "a worker") -> int | None:
        """:meth:`capacity` for ``res``; a :class:`ConfigError` when no alive node can hold one
        (what is sent would wait for ever, with not a line said). On a joined cluster (it may
        autoscale), it first asks for a node of that size and waits up to ``$MF_RAY_SCALE_WAIT_S``
        seconds (:data:`SCALE_WAIT_S`) for one to join, with one warning naming the address."""
        cap = self.capacity(res)
        if cap != 0:
            return cap
        asked = f"{what} asking {res.cpus:g} CPU, {res.gpus:g} GPU" + "".join(
            f", {v:g} {k}" for k, v in res.custom.items()
        )
        cluster = "the cluster" if self._local else f"the cluster at {self.address or _gcs_address()}"
        wait = 0.0 if self._local else _scale_wait_s()
        if wait > 0 and (cap := self._scale_up(res, asked, cluster, wait)):
            return cap
        cpus = WorkerResources(cpus=res.cpus)
        hint = (
            "the cluster's nodes have no CPU for it: join nodes that have CPUs (`ray start --address "
            "HEAD:6379` on each), or start the head without --num-cpus 0"
            if res.cpus and self.capacity(cpus) == 0
            else "ask less per worker (e.g. --gpus-per-worker 0 on a cluster without GPUs)"
        )
        if wait > 0:
            hint += (
                f"; an autoscaling cluster: let it add such nodes (max_workers), or raise ${SCALE_WAIT_ENV}"
            )
        waited = f" (waited {wait:g}s for a node to join)" if wait > 0 else ""
        raise ConfigError(f"no node of {cluster} can hold {asked}{waited}", where="--executor ray", hint=hint)

    def _scale_up(self, res: WorkerResources, asked: str, cluster: str, wait: float) -> int | None:
        """Ask the cluster's autoscaler for a node that holds one worker of ``res`` (a placement
        group of that size, pending until one does: the demand an autoscaler acts on) and wait
        up to ``wait`` seconds for the alive nodes to hold one; the room then (None: still none).
        Without an autoscaler nothing joins but a node started by hand."""
        from ray.util.placement_group import placement_group, remove_placement_group

        log.warning(
            "no node of %s can hold %s now: waiting up to %s for one to join (an autoscaler adds "
            "one on demand; without one, join a node that has room with `ray start --address`; "
            "$%s sets the wait)",
            cluster,
            asked,
            "ever" if wait == float("inf") else f"{wait:g}s",
            SCALE_WAIT_ENV,
        )
        bundle = {"CPU": res.cpus, "GPU": res.gpus, **res.custom}
        group = None
        with contextlib.suppress(Exception):  # asking is a hint: the wait below decides
            group = placement_group([{k: v for k, v in bundle.items() if v > 0}])
        deadline = time.monotonic() + wait
        try:
            while True:
                cap = self.capacity(res)
                left = deadline - time.monotonic()
                if cap or left <= 0:
                    return cap or None
                time.sleep(min(SCALE_POLL_S, left))
        finally:
            if group is not None:
                with contextlib.suppress(Exception):
                    remove_placement_group(group)

    def gpu_count(self) -> float:
        return float(ray.cluster_resources().get("GPU", 0))

    def node_name(self, node: str | None) -> str | None:
        """The node's IP address (``ray.nodes()``), with the start of its id; the id when the
        cluster no longer lists it."""
        return node_label(node) if node else None

    # -- work ----------------------------------------------------------------------
    def pool(
        self,
        fn: Callable[..., Any],
        *,
        setup: Callable[[], Any] | None = None,
        per_key: int | None = None,
        resources: WorkerResources | None = None,
        workers: int | None = None,
        on_lost: Callable[[str], Any] | None = None,
    ) -> RayPool:
        res = resources or WorkerResources()
        problem = gpu_share_problem(res.gpus)
        if problem is not None:
            raise ConfigError(
                f"cannot give each worker {res.gpus:g} GPU: {problem}",
                where="--gpus-per-worker",
                hint=GPU_SHARE_HINT,
            )
        cap = self._room(res)
        n = workers or self.workers or cap or 4
        if cap is not None and n > cap:
            log.warning("%d workers asked, the cluster holds %d of this size: using %d", n, cap, cap)
            n = cap
        return RayPool(
            fn,
            setup,
            workers=n,
            per_key=per_key,
            resources=res,
            max_retries=self.max_retries,
            nodes=self.nodes,
            on_lost=on_lost,
        )

    def _map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[int, Outcome[R]]]:
        # checked even with --workers: tasks no node can hold would wait for ever, without a line
        room = self._room(WorkerResources(), "a task")
        workers = self.workers or room or 1
        n_chunks = min(len(tasks), workers * CHUNKS_PER_WORKER)
        bounds = [round(k * len(tasks) / n_chunks) for k in range(n_chunks + 1)]
        box = [ray.put(fn)]
        opts: dict[str, Any] = {"num_cpus": 1, "retry_exceptions": False, "scheduling_strategy": "SPREAD"}
        # a chunk is not retried as a whole: the task that killed its worker would kill it again
        # and take the chunk's other tasks down with it; its tasks run again one by one instead
        chunk = _run_chunk.options(max_retries=0, **opts)
        alone = _run_chunk.options(max_retries=self.max_retries, **opts)
        pending = {
            (alone if b - a == 1 else chunk).remote(box, list(tasks[a:b])): range(a, b)
            for a, b in zip(bounds, bounds[1:], strict=False)
            if b > a
        }
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    idx = pending.pop(ref)
                    try:
                        node, outs = ray.get(ref)
                    except RayError as exc:
                        cause = getattr(exc, "cause", None)
                        if isinstance(cause, BaseException):
                            reraise_local_fault(cause)  # a worker's full disk stops the run, as locally
                        load = unloadable(exc)
                        if load is not None:  # a node without the toolkit: no task's fault, stop
                            raise load from None
                        if len(idx) > 1:  # which task killed the worker is not known: each alone
                            pending.update({alone.remote(box, [tasks[i]]): range(i, i + 1) for i in idx})
                            continue
                        yield idx[0], Outcome(error=f"WorkerLostError: {ray_line(exc)}")
                        continue
                    self.nodes[node] += len(idx)
                    for i, out in zip(idx, outs, strict=True):
                        yield i, Outcome(out.value, out.error, node)
        finally:
            _cancel_and_collect(list(pending))

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._owns and ray.is_initialized():
            shutdown_keeping_sigterm()
        self._owns = False
        if self._restore_stdout is not None:
            self._restore_stdout()
            self._restore_stdout = None
        if self._restore_ray_log is not None:
            self._restore_ray_log()
            self._restore_ray_log = None
