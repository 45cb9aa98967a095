"""The run loop: discover, collect every candidate through an executor, show progress, sum up.

Discovery runs beside collection (a listing crawl does not hold up the first downloads); the
progress bar gets its total as soon as the number of candidates is known: at once for a list
(URL list, ids, saved structures), when the last listing page is read otherwise. A page
discovery cannot read (:class:`~collectors.core.DiscoveryProblem`, or a remote fault that ends
a source's discovery) is listed as failed with its URL; the rest of the run goes on and its
summary is printed (exit 1). ``--dry-run`` reads the catalog only to tell the items a run would
fetch from those it would skip (:class:`DryRunSummary`).

The executor (:mod:`movingfashion.executors`) runs the items: ``local`` threads share this
process's source, client and catalog; a remote one (``ray``) gives each worker its own copy of
the source, on the cluster's host gates, and sends the catalog writes back for this process to
record (:mod:`collectors.cluster`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from collectors.base import Source
from collectors.core import RETRY_GIVEN_UP, Candidate, DiscoveryProblem, Outcome, Summary, safe_id
from collectors.guard import guarded_collect
from movingfashion.executors import Executor, WorkerLostError, WorkerResources, make_executor
from schemas.cli_support import Terminated, progress_bar
from schemas.errors import CatalogCorrupt, FetchError, LocalFault, MFError
from schemas.items import given_up
from schemas.redact import redacted_logger

log = redacted_logger("collectors")


def lost_reason(error: BaseException) -> str:
    """The failure reason of an item whose task ended in ``error`` instead of an outcome:
    ``worker_lost`` when its worker process died (a crash, out of memory), else
    ``internal_error:<Type>``. Both count as failed: a rerun tries the item again."""
    if isinstance(error, WorkerLostError):
        return "worker_lost"
    return f"internal_error:{type(error).__name__}"


__all__ = ["DryRunSummary", "guarded_collect", "note_problem", "run_collection", "stop_message"]


@dataclass
class DryRunSummary(Summary):
    """What ``--dry-run`` found, with nothing fetched or written: ``items`` a run would collect,
    ``would_skip`` those it would skip before any request (collected already, moved on by
    cleaning, or rejected for good), each with its catalog ``status`` and ``reason``;
    ``skipped`` counts them (``given_up``: those of them given up). ``problems``: pages
    discovery could not read."""

    would_skip: list[dict[str, Any]] = field(default_factory=list)

    def human(self, max_listed: int = 50) -> str:
        text = (
            f"dry run: would collect {len(self.items)} items, skip {len(self.would_skip)} "
            "(collected or rejected for good)"
        )
        text += "".join(f"\n  {i['source_id']}  {i.get('url') or ''}" for i in self.items)
        if self.given_up:
            text += f"\n{self.given_up} of them given up after failing in too many runs: {RETRY_GIVEN_UP}"
        if self.would_skip:
            text += "\nwould skip:" + "".join(
                f"\n  {i['source_id']}  {i['status']}" + (f" ({i['reason']})" if i.get("reason") else "")
                for i in self.would_skip
            )
        for p in self.problems[:max_listed]:
            text += f"\n  {p['status']:<8} {p['source_id']}  {p['reason'] or ''}"
        if len(self.problems) > max_listed:
            text += f"\n  ... and {len(self.problems) - max_listed} more (--json lists all)"
        if self.interrupted:
            text += "\ninterrupted: rerun the same command to resume"
        return text


def note_problem(summary: Summary, problem: DiscoveryProblem) -> None:
    """Count a page discovery could not read as failed (a rerun reads it again), listed in
    ``problems`` with its URL, reason and message, what to do included (``"stage": "discovery"``)."""
    exc = problem.error
    reason = exc.reason if exc is not None else "fetch_failed"
    where = problem.url or (exc.where if exc is not None else None) or "?"
    summary.add(Outcome(where, "failed", reason))
    message = None if exc is None else exc.message + (f" ({exc.hint})" if exc.hint else "")
    summary.problems[-1].update(stage="discovery", url=where, message=message)


def _limited(found: Iterable[Candidate], limit: int | None) -> Iterator[Candidate]:
    """``found`` until ``limit`` candidates came (the problems between them do not count); a
    remote fault that ends it is handed on as a :class:`DiscoveryProblem`."""
    if limit is not None and limit <= 0:
        return
    n = 0
    try:
        for cand in found:
            yield cand
            if not isinstance(cand, DiscoveryProblem):
                n += 1
                if limit is not None and n >= limit:
                    return
    except FetchError as exc:
        if exc.reason == "interrupted":
            return  # the run is stopping: nothing more to find
        log.warning("discovery stopped at %s (%s)", exc.where, exc.reason)
        yield DiscoveryProblem.of(exc)


def stop_message(fault: MFError) -> str:
    """The one line that says why a run stopped early and what to do."""
    if isinstance(fault, LocalFault):
        return (
            f"stopped early: {fault.reason.replace('_', ' ')} at {fault.path or '?'} ({fault.detail}); "
            f"{fault.hint or 'fix it and rerun'} (items not collected yet are tried by the rerun)"
        )
    return f"stopped early: {fault}"


def _take_remote(ctx: Any, got: Any, remote: dict[str, int]) -> Outcome:
    """Record what a cluster worker sent back (:class:`collectors.cluster.Collected`): its catalog
    writes are replayed here, the driver; a local fault or damaged catalog on either side halts
    the run as it does locally."""
    from collectors.cluster import replay

    remote["requests"] += got.requests
    remote["retries"] += got.retries
    out = got.outcome
    try:
        replay(ctx.catalog, got.ops)
    except (LocalFault, CatalogCorrupt) as exc:
        ctx.halt(exc)
        reason = exc.reason if isinstance(exc, LocalFault) else "catalog_damaged"
        return Outcome(out.source_id, "failed", reason, path=exc.path)
    if got.fault is not None:
        ctx.halt(got.fault)
    return out


def _retry_note(retry: dict[str, Any]) -> dict[str, Any]:
    """A pool's note of a task run again after its worker died, as ``--json`` lists it."""
    return {"source_id": str(retry["tag"]), "worker": retry["worker"], "reason": retry["reason"]}


class Progress:
    """The run's bar on stderr: items done out of the total once known; ok, failed (network or
    server trouble, retried by a rerun), rejected (refused for good: content checks, not a
    video, too large, ...) and skipped counted apart."""

    def __init__(self, name: str, show: bool | None) -> None:
        # None: a bar on a terminal, plain lines in a log (:func:`progress_bar`); False: nothing
        self.bar: Any = (
            progress_bar(desc=f"collect {name}", unit="item", disable=None if show is None else False)
            if show is not False
            else None
        )

    def total(self, n: int) -> None:
        if self.bar is not None and self.bar.total != n:
            self.bar.total = n
            self.bar.refresh()

    def update(self, summary: Summary) -> None:
        if self.bar is not None:
            self.bar.update(1)
            counts = {k: getattr(summary, k) for k in ("ok", "failed", "rejected", "skipped")}
            self.bar.set_postfix(ordered_dict=counts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Discovery:
    """Candidates of ``source.discover`` produced by a thread into a queue; ``total`` once known.

    A remote fault that ends discovery arrives as a :class:`DiscoveryProblem` (so do the pages
    a source could not read); any other error is raised by :meth:`next` after the last one.
    """

    #: what :meth:`next` returns after the last candidate
    END: Any = object()

    def __init__(self, found: Iterable[Candidate], limit: int | None) -> None:
        self.total: int | None = None
        #: candidates produced so far (all of them once ``total`` is known)
        self.found = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        if isinstance(found, Sequence):  # known up front
            items = list(found[:limit] if limit is not None else found)
            self.total = self.found = len(items)
            for cand in items:
                self._queue.put(cand)
            self._queue.put(self.END)
            return
        self._thread = threading.Thread(
            target=self._run, args=(found, limit), name="mf-collect-discover", daemon=True
        )
        self._thread.start()

    def _run(self, found: Iterable[Candidate], limit: int | None) -> None:
        n = 0
        try:
            for cand in _limited(found, limit):
                if self._halt.is_set():
                    return
                self._queue.put(cand)
                n += not isinstance(cand, DiscoveryProblem)
                self.found = n
            self.total = n
        except BaseException as exc:  # noqa: BLE001 - handed to the run loop, raised there
            self.error = exc
        finally:
            self._queue.put(self.END)

    def next(self, timeout: float) -> Candidate | None | object:
        """The next candidate, ``None`` when none arrived within ``timeout``, or :attr:`END`."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is self.END and self.error is not None:
            raise self.error
        return item

    def halt(self) -> None:
        self._halt.set()


def _same(value: Any) -> Any:
    return value


def run_collection(
    source: Source,
    targets: Sequence[str],
    *,
    limit: int | None = None,
    dry_run: bool = False,
    executor: str | Executor = "local",
    workers: int = 4,
    show_progress: bool | None = None,
    options: dict[str, Any] | None = None,
) -> Summary:
    """Discover, then collect every candidate with ``workers`` tasks at once; returns the summary.

    ``executor``: a backend name or an executor (not closed here). ``options``: the source's
    own options, so that remote workers can make their own copy of it.

    Ctrl-C: no new task is started, running ones finish their requests and transfers (their
    files stay atomic) but one waiting out a host's pause, a backoff or a Retry-After ends at
    once as ``interrupted`` (:meth:`~collectors.core.CollectContext.wind_down`; a rerun collects
    it), the summary says ``interrupted`` and :class:`KeyboardInterrupt` is raised again by the
    CLI. A second Ctrl-C stops the running ones too (their ``.part`` files kept for the rerun).
    """
    t0 = time.perf_counter()
    if dry_run:
        return _dry_run(source, targets, limit, DryRunSummary(source=str(source.name), dry_run=True), t0)
    summary = Summary(source=str(source.name))
    ex = executor if isinstance(executor, Executor) else make_executor(executor, workers=workers)
    try:
        return _run(source, targets, limit, ex, workers, show_progress, options or {}, summary, t0)
    finally:
        if ex is not executor:
            ex.close()


def _dry_run(
    source: Source, targets: Sequence[str], limit: int | None, summary: DryRunSummary, t0: float
) -> DryRunSummary:
    """Discover and sort the candidates into those a run would fetch and those it would skip
    (the catalog, if there is one, read only); nothing is fetched or written."""
    ctx = source.ctx
    for cand in _limited(source.discover(targets), limit):
        if isinstance(cand, DiscoveryProblem):
            note_problem(summary, cand)
            continue
        sid = safe_id(cand.raw_id)
        row = ctx.catalog.get_item(str(source.name), sid) if sid is not None else None
        if sid is not None and row is not None and source.done(sid, cand):
            summary.would_skip.append(
                {"source_id": sid, "url": cand.url, "status": str(row.status), "reason": row.reason}
            )
            summary.skipped += 1
            summary.given_up += given_up(row.status, row.reason)
        else:
            summary.items.append({"source_id": sid or f"unsafe:{cand.raw_id!r}", "url": cand.url})
    summary.requests = ctx.client.stats["requests"]
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary


def _run(
    source: Source,
    targets: Sequence[str],
    limit: int | None,
    ex: Executor,
    workers: int,
    show_progress: bool | None,
    options: dict[str, Any],
    summary: Summary,
    t0: float,
) -> Summary:
    ctx = source.ctx
    cluster: Any = None
    remote = {"requests": 0, "retries": 0}
    if ex.remote:
        from collectors.cluster import CollectCluster, collect_remote

        cluster = CollectCluster(ctx.cfg.http)
        ctx.client.gate = cluster.gate(ctx.client.pace, ctx.client.hold)  # discovery paces with the workers
        fn, setup = collect_remote, cluster.worker_setup(source, options)
    else:
        fn, setup = guarded_collect, partial(_same, source)
    try:
        pool = ex.pool(
            fn,
            setup=setup,
            per_key=ctx.cfg.http.max_concurrency_per_host,
            resources=WorkerResources(cpus=0),
            workers=workers,
        )
        try:
            discovery = Discovery(source.discover(targets), limit)
        except BaseException:
            pool.close()
            raise
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    progress = Progress(str(source.name), show_progress)
    told = [False]
    submitted = 0  # candidates handed to the workers

    def tell_stop() -> None:
        """The run stopped here (a local fault, a second Ctrl-C): the workers elsewhere stop too."""
        if cluster is not None and ctx.stop.is_set() and not told[0]:
            told[0] = True
            cluster.stop()

    def take(block: bool) -> None:
        for res in pool.results(block=block):
            if res.error is not None:
                out = Outcome(str(res.tag), "failed", lost_reason(res.error))
                log.warning("%s: %s (a rerun tries it again): %s", res.tag, out.reason, res.error)
            elif cluster is not None:
                out = _take_remote(ctx, res.value, remote)
            else:
                out = res.value
            if out.reason == "interrupted" and ctx.fault is not None:
                out.reason = "stopped"  # aborted because the run stopped; its .part is resumed
            summary.add(out)
            progress.update(summary)
        tell_stop()

    try:
        while True:
            if ctx.fault is not None:  # a local fault fails every item alike: stop early
                discovery.halt()
                pool.cancel_pending()
                tell_stop()
                break
            if discovery.total is not None:
                progress.total(discovery.total)
            if pool.pending >= 2 * workers:
                take(block=True)
                continue
            cand = discovery.next(timeout=0.05 if pool.pending else 1.0)
            if cand is Discovery.END:
                break
            if isinstance(cand, DiscoveryProblem):
                note_problem(summary, cand)
            elif isinstance(cand, Candidate):
                pool.submit(source.pack(cand) if cluster else cand, tag=cand.raw_id, key=cand.key)
                submitted += 1
            take(block=False)
        if discovery.total is not None:
            progress.total(discovery.total)
        while pool.pending:
            take(block=True)
    except KeyboardInterrupt as stop:
        summary.interrupted = True
        discovery.halt()
        pool.cancel_pending()
        try:
            # waits for a host's pause, a backoff or a Retry-After end now (those items come back
            # interrupted, for the rerun); requests and downloads in flight go on
            ctx.wind_down()
            if pool.pending:  # said at once: finishing them can take minutes on a slow site
                log.warning(
                    "stopping%s: waiting for the %d running item%s to finish; one waiting out a busy"
                    " site's pause stops now and is left for the rerun; press Ctrl-C%s to stop"
                    " them all now (partial downloads are kept and a rerun resumes them)",
                    " (SIGTERM)" if isinstance(stop, Terminated) else "",
                    pool.pending,
                    "" if pool.pending == 1 else "s",
                    # a second SIGTERM is ignored while the first one unwinds (schemas.cli_support)
                    "" if isinstance(stop, Terminated) else " again",
                )
            if cluster is not None:
                cluster.wind_down()  # the workers' clients wind down too
            while pool.pending:
                take(block=True)
        except KeyboardInterrupt:
            ctx.stop.set()  # second Ctrl-C: abort transfers, keep resumable .part files
            tell_stop()
            if cluster is not None:
                pool.close()  # workers elsewhere: stop them (their .part files stay resumable)
            while pool.pending:
                take(block=True)
    finally:
        discovery.halt()
        pool.close()
        summary.cancelled = len(pool.cancelled)  # stopped before they ran: a rerun collects them
        # found but never handed to a worker: the run stopped first, a rerun collects them
        summary.not_started = max(0, discovery.found - submitted)
        if cluster is not None:
            cluster.close()
        progress.close()
        summary.requests = ctx.client.stats["requests"] + remote["requests"]
        summary.retries = ctx.client.stats["retries"] + remote["retries"]
        summary.seconds = round(time.perf_counter() - t0, 3)
        if ex.remote:
            summary.executor = ex.report()
            summary.executor["worker_retries"] = [_retry_note(r) for r in pool.worker_retries]
        if ctx.fault is not None:
            summary.stopped = {
                "reason": getattr(ctx.fault, "reason", "catalog_damaged"),
                "path": getattr(ctx.fault, "path", None),
                "message": stop_message(ctx.fault),
            }
        if not isinstance(ctx.fault, CatalogCorrupt):
            with contextlib.suppress(MFError):
                ctx.catalog.log_event("collect", summary.human().splitlines()[0], source=str(source.name))
    if isinstance(ctx.fault, CatalogCorrupt):
        raise ctx.fault  # one line naming the file and the way back, exit 2
    return summary
