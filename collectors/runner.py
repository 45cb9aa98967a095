"""The run loop: discover, collect every candidate through an executor, show progress, sum up.

Discovery runs beside collection (a listing crawl does not hold up the first downloads); the
progress bar gets its total as soon as the number of candidates is known: at once for a list
(URL list, ids, saved structures), when the last listing page is read otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from collectors.base import Source
from collectors.core import Candidate, Outcome, Summary, safe_id, status_for
from collectors.executor import make_executor
from schemas.cli_support import progress_bar
from schemas.errors import CatalogCorrupt, FetchError, LocalFault, MFError
from schemas.faults import as_local_fault, local_reason

log = logging.getLogger("collectors")


def guarded_collect(source: Source, cand: Candidate) -> Outcome:
    """``source.collect`` that never raises: a bug or bad input becomes a failed item; a local
    fault (disk full, ...) or a damaged catalog also halts the run (:meth:`CollectContext.halt`)."""
    sid = safe_id(cand.raw_id) or "?"
    try:
        return source.collect(cand)
    except CatalogCorrupt as exc:
        source.ctx.halt(exc)
        return Outcome(sid, "failed", "catalog_damaged", path=exc.path)
    except LocalFault as exc:
        return _local_fault(source, sid, exc)
    except FetchError as exc:
        catalog = source.ctx.catalog
        if sid != "?" and catalog.get_item(str(source.name), sid) is not None:
            catalog.set_item_state(str(source.name), sid, status=status_for(exc.reason), reason=exc.reason)
        return Outcome(sid, str(status_for(exc.reason)), exc.reason)
    except MFError as exc:
        log.warning("%s %s: %s", source.name, cand.raw_id, exc)
        return Outcome(sid, "failed", type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the run
        if local_reason(exc) is not None:
            fault = as_local_fault(exc)
            assert fault is not None
            return _local_fault(source, sid, fault)
        log.exception("%s %s: unexpected error", source.name, cand.raw_id)
        return Outcome(sid, "failed", f"internal_error:{type(exc).__name__}")


def _local_fault(source: Source, sid: str, fault: LocalFault) -> Outcome:
    """Halt the run; record the item ``failed`` with the fault's reason when the catalog still
    takes writes (a rerun retries it either way: it is not done)."""
    ctx = source.ctx
    ctx.halt(fault)
    if sid != "?":
        try:
            if ctx.catalog.get_item(str(source.name), sid) is not None:
                ctx.catalog.set_item_state(str(source.name), sid, status="failed", reason=fault.reason)
        except MFError as exc:
            log.info("%s/%s: not recorded (%s)", source.name, sid, exc)
    return Outcome(sid, "failed", fault.reason, path=fault.path)


def stop_message(fault: MFError) -> str:
    """The one line that says why a run stopped early and what to do."""
    if isinstance(fault, LocalFault):
        return (
            f"stopped early: {fault.reason.replace('_', ' ')} at {fault.path or '?'} ({fault.detail}); "
            f"{fault.hint or 'fix it and rerun'} (items not collected yet are tried by the rerun)"
        )
    return f"stopped early: {fault}"


class Progress:
    """The run's bar on stderr: items done out of the total once known; ok, failed (network or
    server trouble, retried by a rerun), rejected (refused for good: content checks, not a
    video, too large, ...) and skipped counted apart."""

    def __init__(self, name: str, show: bool | None) -> None:
        if show is None:
            show = sys.stderr.isatty()
        self.bar: Any = progress_bar(desc=f"collect {name}", unit="item", disable=False) if show else None

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
    """Candidates of ``source.discover`` produced by a thread into a queue; ``total`` once known."""

    #: what :meth:`next` returns after the last candidate
    END: Any = object()

    def __init__(self, found: Iterable[Candidate], limit: int | None) -> None:
        self.total: int | None = None
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        if isinstance(found, Sequence):  # known up front
            items = list(found[:limit] if limit is not None else found)
            self.total = len(items)
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
            for cand in islice(found, limit) if limit is not None else found:
                if self._halt.is_set():
                    return
                self._queue.put(cand)
                n += 1
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


def run_collection(
    source: Source,
    targets: Sequence[str],
    *,
    limit: int | None = None,
    dry_run: bool = False,
    executor: str = "local",
    workers: int = 4,
    show_progress: bool | None = None,
) -> Summary:
    """Discover, then collect every candidate with ``workers`` tasks at once; returns the summary.

    Ctrl-C: no new task is started, running ones finish (their files stay atomic), the
    summary says ``interrupted`` and :class:`KeyboardInterrupt` is raised again by the CLI.
    """
    ctx = source.ctx
    summary = Summary(source=str(source.name), dry_run=dry_run)
    t0 = time.perf_counter()
    found = source.discover(targets)
    if dry_run:
        for cand in islice(found, limit) if limit is not None else found:
            summary.items.append(
                {"source_id": safe_id(cand.raw_id) or f"unsafe:{cand.raw_id!r}", "url": cand.url}
            )
        summary.requests = ctx.client.stats["requests"]
        summary.seconds = time.perf_counter() - t0
        return summary
    progress = Progress(str(source.name), show_progress)
    pool = make_executor(executor, workers, per_key=ctx.cfg.http.max_concurrency_per_host)
    discovery = Discovery(found, limit)

    def take(block: bool) -> None:
        for res in pool.results(block=block):
            out = res.value if res.error is None else Outcome(str(res.tag), "failed", "internal_error")
            if out.reason == "interrupted" and ctx.fault is not None:
                out.reason = "stopped"  # aborted because the run stopped; its .part is resumed
            summary.add(out)
            progress.update(summary)

    try:
        while True:
            if ctx.fault is not None:  # a local fault fails every item alike: stop early
                discovery.halt()
                pool.cancel_pending()
                break
            if discovery.total is not None:
                progress.total(discovery.total)
            if pool.pending >= 2 * workers:
                take(block=True)
                continue
            cand = discovery.next(timeout=0.05 if pool.pending else 1.0)
            if cand is Discovery.END:
                break
            if isinstance(cand, Candidate):
                pool.submit(lambda c=cand: guarded_collect(source, c), tag=cand.raw_id, key=cand.key)
            take(block=False)
        if discovery.total is not None:
            progress.total(discovery.total)
        while pool.pending:
            take(block=True)
    except KeyboardInterrupt:
        summary.interrupted = True
        discovery.halt()
        pool.cancel_pending()
        try:
            while pool.pending:
                take(block=True)
        except KeyboardInterrupt:
            ctx.stop.set()  # second Ctrl-C: abort transfers, keep resumable .part files
            while pool.pending:
                take(block=True)
    finally:
        discovery.halt()
        pool.close()
        progress.close()
        summary.requests = ctx.client.stats["requests"]
        summary.retries = ctx.client.stats["retries"]
        summary.seconds = round(time.perf_counter() - t0, 3)
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
