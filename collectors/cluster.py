"""Collecting on a Ray cluster (``mf-collect --executor ray``); imported only then.

* **Politeness holds cluster-wide.** One :class:`HostGate` actor per host is the only authority
  on that host's rate (token bucket) and requests in flight (slots, held as leases); it also
  keeps the origin's robots.txt, fetched by exactly one worker and read by all, and pauses the
  host for everyone when one worker gets a ``Retry-After``. A gate never waits: it says how
  long to, and the caller waits on its side (so a stop ends the wait, as locally). Every client of the run (the
  driver's, for discovery, and each worker's) talks to hosts through a :class:`RayGate` on
  these actors. A worker that dies has its leases handed back by the driver
  (:meth:`WorkerSetup.on_lost`, called by the pool before it starts a new worker in its place),
  and a gate whose slots stay taken checks now and then that their holders are alive.
* **A stop reaches the workers.** When the run stops (a local fault, a second Ctrl-C), the
  driver sets the run's :class:`StopSignal`; each worker's client then stops as a local run's
  does: a Retry-After pause or a backoff ends at once and the item comes back ``interrupted``.
  The first Ctrl-C winds the run down through the same signal (:meth:`StopSignal.wind_down`): a
  worker's wait for a host's pause, a backoff or a Retry-After ends and its item comes back
  ``interrupted``, while its rate-token waits and transfers go on (a running download finishes).
* **Only the driver writes the catalog.** A worker reads the rows of the item it collects from
  a read-only :class:`CatalogReader` actor beside the catalog (on the driver's node); its writes
  go into a scratch copy (so the task reads its own writes) and into a list of operations the
  driver replays on the catalog when the result comes back (:func:`replay`). Files are written
  under ``--root``, which must be the same shared folder on every node; ``--root`` and the
  source's file options (``--shop-map``, ``--session-file``) are made absolute for the workers,
  so a relative path names the same file as on the driver (on a folder every node sees).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from collectors.base import Source
from collectors.config import CollectConfig, HttpConfig, normalize_host
from collectors.core import Candidate, CollectContext, Outcome
from collectors.guard import guarded_collect
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient, RobotsRule, TokenBucket
from collectors.registry import source_class
from schemas.catalog import ITEM_COLUMNS, Catalog
from schemas.errors import CatalogError, MFError
from schemas.items import MediaAsset, SourceItem
from schemas.redact import redacted_logger

log = redacted_logger("collectors.cluster")
#: Seconds a worker may take to fetch a robots.txt before another worker takes over.
ROBOTS_CLAIM_S = 120.0
#: Seconds a request waits for a host slot before the gate checks that the slots' holders live.
HOLDER_CHECK_S = 10.0
#: Seconds a worker's stop listener waits on the run's stop signal per call (a long poll).
STOP_POLL_S = 30.0
#: Seconds a worker's stop listener waits before asking again when the stop signal did not answer.
STOP_RETRY_S = 5.0


# ---------------------------------------------------------------------- host gates
@ray.remote(num_cpus=0, max_concurrency=10_000)
class HostGate:
    """The one authority on a host's pacing for the whole cluster (an async actor)."""

    def __init__(self, rate: float, burst: int, concurrency: int, check_s: float = HOLDER_CHECK_S) -> None:
        self.bucket = TokenBucket(rate, burst)
        self.concurrency = concurrency
        self.check_s = check_s
        self.slots: asyncio.Semaphore | None = None
        self.paused_until = 0.0
        self.leases: dict[int, str] = {}
        self.next_lease = 0
        self.rules: dict[str, RobotsRule] = {}
        self.claims: dict[str, tuple[str, float]] = {}

    async def acquire(self, holder: str, reserved: bool = False) -> tuple[int, float, bool]:
        """A turn on the host, never waited out here (a wait would hold up nobody else, but no
        stop could end it): ``(0, wait, paused)`` when the caller must first wait ``wait``
        seconds for its rate token (``paused`` False) or the host's pause (True; a Retry-After,
        which a wind-down ends) (its token is then reserved: it asks again with ``reserved``),
        else ``(lease, left, True)`` once a slot is free, ``left`` the seconds of a pause set
        while it waited for the slot (the caller waits them holding the slot)."""
        if not reserved:
            rate, paused = self.bucket.reserve(), self.paused_until - time.monotonic()
            if max(rate, paused) > 0:
                return 0, max(rate, paused), paused > 0 and paused >= rate
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.concurrency)
        while True:
            try:
                await asyncio.wait_for(self.slots.acquire(), self.check_s)
                break
            except TimeoutError:  # a holder that died without a word would keep its slot for ever
                for gone in {h for h in self.leases.values() if _dead(h)}:
                    await self.forget(gone)
        self.next_lease += 1
        self.leases[self.next_lease] = holder
        return self.next_lease, self.paused_until - time.monotonic(), True

    async def release(self, lease: int) -> None:
        if self.leases.pop(lease, None) is not None and self.slots is not None:
            self.slots.release()

    async def forget(self, holder: str) -> int:
        """Hand back every lease and robots claim of ``holder`` (a worker that died)."""
        mine = [lease for lease, h in self.leases.items() if h == holder]
        for lease in mine:
            await self.release(lease)
        for origin in [o for o, (h, _) in self.claims.items() if h == holder]:
            del self.claims[origin]
        return len(mine)

    async def holders(self) -> list[str]:
        return sorted(set(self.leases.values()))

    async def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    async def slow_down(self, delay_s: float) -> None:
        self.bucket.rate = min(self.bucket.rate, 1.0 / delay_s)
        self.bucket.burst = 1
        self.bucket.tokens = min(self.bucket.tokens, 1.0)

    async def robots(self, origin: str, holder: str) -> RobotsRule | None:
        """The origin's robots rule; None tells the caller to fetch it (one caller at a time)."""
        while origin not in self.rules:
            claim = self.claims.get(origin)
            if claim is None or time.monotonic() > claim[1]:
                self.claims[origin] = (holder, time.monotonic() + ROBOTS_CLAIM_S)
                return None
            await asyncio.sleep(0.02)
        return self.rules[origin]

    async def put_robots(self, origin: str, rule: RobotsRule | None) -> None:
        """The fetched rule (None: the fetch failed, let another worker try)."""
        self.claims.pop(origin, None)
        if rule is not None:
            self.rules[origin] = rule

    async def stats(self) -> dict[str, Any]:
        return {"leases": len(self.leases), "rules": sorted(self.rules), "rate": self.bucket.rate}


def _dead(holder: str) -> bool:
    """Whether ``holder`` names a Ray actor that has died for good (a restarting one is alive;
    a holder that is no actor, the driver, is alive)."""
    try:
        from ray._private.state import actors

        return actors(actor_id=holder).get("State") == "DEAD"
    except Exception:  # noqa: BLE001 - not an actor id, or no answer: taken as alive
        return False


#: The levels of a :class:`StopSignal`: the run goes on, winds down (the first Ctrl-C), stops.
RUNNING, WINDING_DOWN, STOPPED = 0, 1, 2


@ray.remote(num_cpus=0, max_concurrency=10_000)
class StopSignal:
    """Set by the driver when the run winds down (the first Ctrl-C: :meth:`wind_down`) or stops
    (:meth:`set`) (an async actor): each worker's client hears of it (:func:`hear_stop`) and
    ends its waits (and, on a stop, its transfers) as a local run's client does."""

    def __init__(self) -> None:
        self.winding = asyncio.Event()
        self.stopped = asyncio.Event()

    async def set(self) -> None:
        self.winding.set()
        self.stopped.set()

    async def wind_down(self) -> None:
        self.winding.set()

    def _level(self) -> int:
        return STOPPED if self.stopped.is_set() else WINDING_DOWN if self.winding.is_set() else RUNNING

    async def wait(self, timeout_s: float, level: int = STOPPED) -> int:
        """The signal's level (:data:`STOPPED` when the run stopped), waiting up to
        ``timeout_s`` seconds for it to reach ``level``."""
        event = self.stopped if level >= STOPPED else self.winding
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)
        return self._level()


def hear_stop(
    signal: Any, stop: threading.Event, poll_s: float = STOP_POLL_S, winddown: threading.Event | None = None
) -> threading.Thread:
    """A daemon thread that sets ``winddown`` (a worker's client's, when given) once ``signal``
    winds down and ``stop`` once it is set; it ends then, when ``stop`` was set here, or when
    the signal is gone (the run ended). Any other failure to ask (the signal's node unreachable
    for a while) is logged once and asked again after a pause: the worker still hears a later
    stop."""

    def listen() -> None:
        told = False
        while not stop.is_set():
            want = STOPPED if winddown is None or winddown.is_set() else WINDING_DOWN
            try:
                level = ray.get(signal.wait.remote(poll_s, want))
                if level >= WINDING_DOWN and winddown is not None:
                    winddown.set()
                if level >= STOPPED:
                    stop.set()
            except ray.exceptions.ActorDiedError:  # the signal actor is gone: the run is over
                return
            except Exception as exc:  # noqa: BLE001 - not heard this time: asked again
                if not told:
                    told = True
                    log.warning("cannot hear the run's stop signal yet (asked again): %s", exc)
                stop.wait(min(poll_s, STOP_RETRY_S))

    thread = threading.Thread(target=listen, name="mf-stop-listener", daemon=True)
    thread.start()
    return thread


@ray.remote(num_cpus=0)
class GateRegistry:
    """Makes (once) and hands out the :class:`HostGate` of each host."""

    def __init__(self, cfg: HttpConfig) -> None:
        self.cfg = cfg
        self.gates: dict[str, Any] = {}

    def gate(self, host: str) -> Any:
        if host not in self.gates:
            c = self.cfg
            self.gates[host] = HostGate.remote(c.rate_per_host, c.burst_per_host, c.max_concurrency_per_host)
        return self.gates[host]

    def hosts(self) -> list[str]:
        return sorted(self.gates)

    def forget(self, holder: str) -> int:
        return sum(ray.get([g.forget.remote(holder) for g in self.gates.values()]))


class RayGate:
    """A client's side of the cluster's host gates (implements :class:`collectors.http.HostGate`).

    The waits a gate asks for are waited here, as :class:`~collectors.http.LocalGate` does: a
    rate token's with ``sleep`` (the client's ends when the run stops), a host's pause with
    ``hold`` (default ``sleep``; the client's raises ``interrupted`` when the run stops or winds
    down meanwhile)."""

    def __init__(
        self,
        registry: Any,
        holder: str,
        sleep: Callable[[float], None] = time.sleep,
        hold: Callable[[float], None] | None = None,
    ) -> None:
        self.registry, self.holder, self.sleep = registry, holder, sleep
        self.hold: Callable[[float], None] = hold if hold is not None else sleep
        self._gates: dict[str, Any] = {}

    def _gate(self, host: str) -> Any:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = ray.get(self.registry.gate.remote(host))
        return gate

    @contextlib.contextmanager
    def turn(self, host: str) -> Iterator[None]:
        gate = self._gate(host)
        lease, wait, paused = ray.get(gate.acquire.remote(self.holder))
        if not lease:  # a rate token to wait for, or a Retry-After pause: waited on this side
            (self.hold if paused else self.sleep)(wait)
            lease, wait, _ = ray.get(gate.acquire.remote(self.holder, True))
        try:
            if wait > 0:  # paused while this caller waited for the slot (its holder got a 429)
                self.hold(wait)
            yield
        finally:
            gate.release.remote(lease)

    def robots(self, origin: str, fetch: Callable[[], RobotsRule]) -> RobotsRule:
        gate = self._gate(normalize_host(urlsplit(origin).netloc))
        while True:
            rule = ray.get(gate.robots.remote(origin, self.holder))
            if rule is not None:
                return rule
            try:
                rule = fetch()
            except BaseException:
                ray.get(gate.put_robots.remote(origin, None))
                raise
            ray.get(gate.put_robots.remote(origin, rule))
            return rule

    def slow_down(self, host: str, delay_s: float) -> None:
        ray.get(self._gate(host).slow_down.remote(delay_s))

    def pause(self, host: str, seconds: float) -> None:
        # waited for, like slow_down: a worker's next turn on the host must already see the pause
        ray.get(self._gate(host).pause.remote(seconds))


# ---------------------------------------------------------------------- the catalog
@ray.remote(num_cpus=0)
class CatalogReader:
    """Reads the driver's catalog (read-only), one item with its assets at a time."""

    def __init__(self, path: str) -> None:
        self.catalog = Catalog(path, read_only=True)

    def item(self, source: str, source_id: str) -> tuple[Any, list[MediaAsset]]:
        return self.catalog.get_item(source, source_id), self.catalog.assets(
            source=source, source_id=source_id
        )


#: Catalog writes a collect task may make; the driver replays exactly these.
WRITES = ("upsert_items", "upsert_assets", "delete_assets", "set_item_state", "log_event")


class CatalogView:
    """The catalog as a collect worker sees it (see the module docstring).

    Reads and writes are per item: the item's rows are copied from the reader into a scratch
    catalog on first touch; every write is applied there and recorded for :func:`replay`.
    """

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.ops: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._scratch: Catalog | None = None
        self._loaded: set[tuple[str, str]] = set()

    def begin(self) -> None:
        """A fresh view for the next task."""
        self.end()
        self._scratch = Catalog(":memory:")

    def end(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        """The writes the task made (for the driver); the view is empty afterwards."""
        ops, self.ops = self.ops, []
        if self._scratch is not None:
            self._scratch.close()
        self._scratch, self._loaded = None, set()
        return ops

    @property
    def scratch(self) -> Catalog:
        if self._scratch is None:
            self.begin()
        assert self._scratch is not None
        return self._scratch

    def _load(self, source: Any, source_id: str) -> None:
        key = (str(source), source_id)
        if key in self._loaded:
            return
        row, assets = ray.get(self.reader.item.remote(*key))
        if row is not None:
            state = {c: getattr(row, c) for c in ITEM_COLUMNS}
            self.scratch.upsert_items([row.item], **state)
        if assets:
            self.scratch.upsert_assets(assets)
        self._loaded.add(key)

    def _write(self, name: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.scratch, name)(*args, **kwargs)
        self.ops.append((name, args, kwargs))
        return result

    # -- reads -----------------------------------------------------------------------
    def get_item(self, source: str, source_id: str) -> Any:
        self._load(source, source_id)
        return self.scratch.get_item(source, source_id)

    def assets(
        self,
        *,
        source: str | None = None,
        source_id: str | None = None,
        kind: Any = None,
        status: str | None = None,
    ) -> list[MediaAsset]:
        if source is None or source_id is None:
            raise CatalogError("a collect worker reads the assets of one item at a time", where="catalog")
        self._load(source, source_id)
        return self.scratch.assets(source=source, source_id=source_id, kind=kind, status=status)

    # -- writes ----------------------------------------------------------------------
    def upsert_items(self, items: Iterable[SourceItem], **state: Any) -> int:
        rows = list(items)
        for it in rows:
            self._load(it.source, it.source_id)
        return self._write("upsert_items", rows, **state)

    def upsert_item(self, item: SourceItem, **state: Any) -> None:
        self.upsert_items([item], **state)

    def upsert_assets(self, assets: Iterable[MediaAsset]) -> int:
        rows = list(assets)
        for a in rows:
            self._load(a.source, a.source_id)
        return self._write("upsert_assets", rows)

    def upsert_asset(self, asset: MediaAsset) -> None:
        self.upsert_assets([asset])

    def delete_assets(self, assets: Iterable[MediaAsset]) -> int:
        rows = list(assets)
        for a in rows:
            self._load(a.source, a.source_id)
        return self._write("delete_assets", rows)

    def set_item_state(self, source: str, source_id: str, **state: Any) -> None:
        self._load(source, source_id)
        self._write("set_item_state", source, source_id, **state)

    def log_event(
        self, stage: str, message: str, source: str | None = None, source_id: str | None = None
    ) -> None:
        self.ops.append(("log_event", (stage, message, source, source_id), {}))


def replay(catalog: Any, ops: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
    """Apply a worker's recorded writes to the catalog, in the order the worker made them."""
    for name, args, kwargs in ops:
        if name not in WRITES:
            raise CatalogError(f"a worker asked for catalog operation {name!r}", where="catalog")
        getattr(catalog, name)(*args, **kwargs)


# ---------------------------------------------------------------------- the workers
@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to make its own copy of the run's source."""

    source: str
    options: dict[str, Any]
    cfg: CollectConfig
    root: str
    retry_rejected: bool
    policy: HostPolicy
    reader: Any
    gates: Any
    retry_given_up: bool = False
    stop: Any = None  # the run's StopSignal (None: the worker hears of no stop)
    force_refetch: bool = False


@dataclass
class CollectWorker:
    """A worker's state: its source (own client, own catalog view)."""

    source: Source
    view: CatalogView
    client: PoliteClient


@dataclass
class Collected:
    """What a worker sends back for one candidate."""

    outcome: Outcome
    ops: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    fault: MFError | None = None  # the local fault or catalog damage that halted this worker


@dataclass(frozen=True)
class WorkerSetup:
    """The pool's setup (:func:`start_worker`), with :meth:`on_lost` for the pool to call."""

    spec: WorkerSpec

    def __call__(self) -> CollectWorker:
        return start_worker(self.spec)

    def on_lost(self, worker_id: str) -> None:
        """A worker that died (its replacement is another actor): its host slots and robots.txt
        claims go back to the gates."""
        self.spec.gates.forget.remote(worker_id)


def start_worker(spec: WorkerSpec) -> CollectWorker:
    """Pool setup on a worker: a client on the cluster's gates and the source on a catalog view.
    It first hands back what an earlier incarnation of the same actor held (should Ray restart it)."""
    holder = ray.get_runtime_context().get_actor_id() or f"pid-{os.getpid()}"
    ray.get(spec.gates.forget.remote(holder))
    client = worker_client(spec.cfg.http, spec.policy, spec.gates, holder, spec.stop)
    view = CatalogView(spec.reader)
    ctx = CollectContext(
        spec.root,
        view,  # type: ignore[arg-type]
        spec.cfg,
        client,
        retry_rejected=spec.retry_rejected,
        retry_given_up=spec.retry_given_up,
        force_refetch=spec.force_refetch,
    )
    return CollectWorker(source_class(spec.source)(ctx, **spec.options), view, client)


def worker_client(http: HttpConfig, policy: HostPolicy, gates: Any, holder: str, stop: Any) -> PoliteClient:
    """A worker's client on the cluster's gates: the gates' waits are its own (ended when it
    stops; a host's pause also when it winds down) and it winds down or stops when the run's
    ``stop`` signal does (None: only by itself)."""
    gate = RayGate(gates, holder)
    client = PoliteClient(http, policy=policy, pool_size=8, gate=gate)
    gate.sleep, gate.hold = client.pace, client.hold
    if stop is not None:
        hear_stop(stop, client.stop, winddown=client.winddown)
    return client


def collect_remote(worker: CollectWorker, cand: Candidate) -> Collected:
    """Collect one (packed) candidate; the catalog writes come back as operations."""
    worker.view.begin()
    stats = worker.client.stats
    requests, retries = stats["requests"], stats["retries"]
    out = guarded_collect(worker.source, worker.source.unpack(cand))
    ops = worker.view.end()
    return Collected(
        out, ops, stats["requests"] - requests, stats["retries"] - retries, worker.source.ctx.fault
    )


def absolute_files(source: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` of ``source`` with its file options (``--shop-map``, ``--session-file``) made
    absolute: a worker opens them from the folder its Ray node was started in, not the driver's."""
    files = {o.keyword for o in source_class(source).options if o.kind == "file"}
    return {k: str(Path(v).absolute()) if k in files and v else v for k, v in options.items()}


class CollectCluster:
    """The Ray side of one run: the gate registry and the catalog reader (both ended by close)."""

    def __init__(self, http: HttpConfig) -> None:
        self.driver_node = ray.get_runtime_context().get_node_id()
        self.gates = GateRegistry.remote(http)
        self.stop_signal = StopSignal.remote()
        self.reader: Any = None

    def gate(
        self, sleep: Callable[[float], None] = time.sleep, hold: Callable[[float], None] | None = None
    ) -> RayGate:
        """The gate of the driver's own client (discovery), waiting with its ``sleep`` (rate)
        and ``hold`` (a host's pause)."""
        return RayGate(self.gates, f"driver-{os.getpid()}", sleep, hold)

    def stop(self) -> None:
        """The run stops: every worker's client ends its waits (a Retry-After pause, a backoff)
        and transfers as a local run's client does when the run stops; the items come back
        ``interrupted``, for a rerun."""
        with contextlib.suppress(Exception):
            ray.get(self.stop_signal.set.remote(), timeout=10)

    def wind_down(self) -> None:
        """The run winds down (the first Ctrl-C): every worker's client ends its waits for a
        host's pause, a backoff or a Retry-After (those items come back ``interrupted``, for a
        rerun); rate-token waits and transfers go on."""
        with contextlib.suppress(Exception):
            ray.get(self.stop_signal.wind_down.remote(), timeout=10)

    def worker_setup(self, source: Source, options: dict[str, Any]) -> WorkerSetup:
        """The pool setup making workers like ``source`` (its catalog read beside the driver)."""
        ctx = source.ctx
        catalog_path = Path(ctx.catalog.path).absolute()
        here = NodeAffinitySchedulingStrategy(self.driver_node, soft=False)
        self.reader = CatalogReader.options(scheduling_strategy=here).remote(str(catalog_path))
        spec = WorkerSpec(
            str(source.name),
            absolute_files(str(source.name), options),
            ctx.cfg,
            str(Path(ctx.root).absolute()),
            ctx.retry_rejected,
            source.client.policy,
            self.reader,
            self.gates,
            retry_given_up=ctx.retry_given_up,
            stop=self.stop_signal,
            force_refetch=ctx.force_refetch,
        )
        return WorkerSetup(spec)

    def close(self) -> None:
        for actor in (self.reader, self.gates, self.stop_signal):
            if actor is not None:
                with contextlib.suppress(Exception):
                    ray.kill(actor)
