"""``mf-collect SOURCE --recheck``: ask the source again about the items already collected.

A dataset made of other people's posts and products must drop what its owners took down, and a
collection rerun never notices it: it skips collected items before any request. A recheck asks
the site about each collected item of the source once, through the source's own way of reading
an item (:meth:`~collectors.base.Source.describe`: the product page, the post; the polite client,
its pacing and its allow-list), and downloads nothing:

- an item the site answers as gone (:data:`GONE`: HTTP 404 or 410, a post not found, a product
  page that now redirects to no product) is rejected, reason ``gone: <why>``, so ``mf clean``
  leaves it rejected and the next ``mf publish`` drops it from the split files (it lists it held
  back, ``rejected/gone``); ``--retry-rejected`` collects it again should it come back;
- an item the site still has keeps its status and files (``still there``);
- an item the site did not answer about (a timeout, a 5xx, a refusal) is listed as failed and
  keeps its state: a rerun asks again.

Items of the catalog asked: those collected and not rejected (downloaded, accepted, duplicate,
needs review), in catalog order, each by its id (the source makes its URL on the site the config
names); with ``limit``, the next ``limit`` after those the last limited run asked, so repeated
runs go round the whole source. Every answer is in before anything is written, and when more than
``recheck_max_gone_share`` of them say gone (at least :data:`MIN_SUSPECT`, or any number when none
answered still there), nothing is marked: a site that answers 404 for everything has moved or put
up a wall. Each gone item is also logged in the
catalog's events (stage ``recheck``) with the URL asked. Sources that cannot be asked item by
item (:attr:`~collectors.base.Source.recheck_note`) refuse before anything is asked.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from collectors.base import Source
from collectors.core import Candidate, Outcome, Summary
from collectors.guard import error_reason
from collectors.runner import Progress
from schemas.errors import ConfigError, FetchError, LocalFault, MFError
from schemas.items import GONE_PREFIX, Status

#: reasons a site gives for an item it no longer has
GONE = frozenset({"http_404", "http_410", "not_found", "product_moved", "post_not_found"})
#: item statuses a recheck asks about (collected, not rejected)
RECHECKED = (Status.DOWNLOADED, Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW)
#: catalog event stage of the items a recheck found gone
STAGE = "recheck"
#: gone answers below this many are taken for a site that answers 404 for everything only when
#: no item answered still there
MIN_SUSPECT = 5
#: catalog meta key (+ source name) of the last item a ``--limit`` recheck asked
CURSOR = "recheck_cursor:"


@dataclass
class RecheckSummary(Summary):
    """What a recheck found: ``ok`` items still there, ``rejected`` items gone (each in ``gone``:
    ``source_id``, ``reason``, ``url``, the ``status`` it had), ``failed`` items the site did not
    answer about (in ``problems``, with the rest; a rerun asks again)."""

    recheck: bool = True
    gone: list[dict[str, Any]] = field(default_factory=list)

    def human(self, max_listed: int = 50) -> str:
        text = (
            f"{self.source} recheck: {self.ok + self.rejected + self.failed} items asked, {self.ok} still "
            f"there, {self.rejected} gone, {self.failed} not answered; "
            f"{self.requests} requests in {self.seconds:.1f}s"
        )
        for g in self.gone[:max_listed]:
            text += f"\n  gone     {g['source_id']}  {g['reason']}  {g['url'] or ''} (was {g['status']})"
        for p in [p for p in self.problems if p["status"] == "failed"][:max_listed]:
            text += f"\n  failed   {p['source_id']}  {p['reason'] or ''}  {p['message'] or ''}"
        if self.gone:
            text += "\nthe next mf publish leaves the gone items out (--retry-rejected collects one again if it comes back)"
        return text


def recheck_items(
    source: Source, *, limit: int | None = None, workers: int = 4, show_progress: bool | None = None
) -> RecheckSummary:
    """Ask ``source``'s site about every collected item of it (see the module docstring).

    Every answer is in before anything is written: when more than ``recheck_max_gone_share``
    of the items asked answer gone, and at least :data:`MIN_SUSPECT` of them do or none answered
    still there, none is marked and :class:`~schemas.errors.FetchError` says why (a site that
    answers 404 for everything has moved or put up a wall; it has not taken everything down).
    With ``limit``, the catalog remembers the last item asked (:func:`_next_rows`)."""
    if source.recheck_note:
        raise ConfigError(
            f"{source.name} items cannot be rechecked: {source.recheck_note}", where="--recheck"
        )
    ctx = source.ctx
    summary = RecheckSummary(source=str(source.name))
    rows = _next_rows(ctx.catalog, str(source.name), limit)
    t0 = time.perf_counter()
    progress = Progress(f"{source.name} (recheck)", show_progress)
    progress.total(len(rows))
    answers: list[Outcome] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="recheck") as pool:
            pending: set[Future[Outcome]] = set()
            todo = iter(rows)
            try:
                while True:
                    for row in todo:
                        pending.add(pool.submit(_ask, source, row.item.source_id, str(row.status)))
                        if len(pending) >= 2 * workers:
                            break
                    if not pending:
                        break
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        answers.append(fut.result())
                        progress.update(summary)
            except KeyboardInterrupt:
                summary.interrupted = True
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        progress.close()
        summary.requests = ctx.client.stats["requests"]
        summary.seconds = round(time.perf_counter() - t0, 3)
    gone = sum(a.status == "rejected" for a in answers)
    there = sum(a.status == "ok" for a in answers)
    share = ctx.cfg.recheck_max_gone_share
    if gone > share * len(answers) and (gone >= MIN_SUSPECT or there == 0):
        raise FetchError(
            f"{gone} of the {len(answers)} {source.name} items asked answer gone and {there} still "
            f"there (more than recheck_max_gone_share {share:g}): none is marked",
            where=str(source.name),
            hint="check that the site answers for items it still has (--base-url, a login, a "
            "moved site); a real mass takedown: raise recheck_max_gone_share in --config",
            reason="too_many_gone",
        )
    for out in answers:
        _take(ctx, summary, out)
    if limit is not None and rows:  # the next limited run goes on after the last item asked
        ctx.catalog.set_meta(f"{CURSOR}{source.name}", rows[-1].item.source_id)
    return summary


def _next_rows(catalog: Any, source: str, limit: int | None) -> list[Any]:
    """The items a recheck asks: all of them, or with ``limit`` the next ``limit`` after the
    last one an earlier limited run asked (catalog order, wrapping around), so runs of
    ``--limit N`` go through the whole source."""
    rows = catalog.items(source=source, status=[str(s) for s in RECHECKED])
    if limit is None:
        return rows
    after = catalog.get_meta(f"{CURSOR}{source}")
    start = next((i for i, r in enumerate(rows) if after is not None and r.item.source_id > after), 0)
    return (rows[start:] + rows[:start])[:limit]


def _ask(source: Source, sid: str, status: str) -> Outcome:
    """Describe one item at its site: ok (still there), rejected (gone) or failed (no answer).
    Asked by id (the source makes its page's URL on the site the config names: a URL recorded
    on a mirror or an earlier ``--base-url`` is not asked)."""
    url = source.page_url(sid)
    try:
        source.describe(sid, Candidate(sid, None))
    except FetchError as exc:
        where = exc.where if exc.where and "://" in exc.where else url  # the page, not a bare id
        if exc.reason in GONE:
            return Outcome(sid, "rejected", exc.reason, url=where, kind="page", message=status)
        return Outcome(sid, "failed", exc.reason, url=where, kind="page", message=exc.message)
    except LocalFault:
        raise
    except MFError as exc:  # the page answered but does not read as the item (a malformed page)
        return Outcome(sid, "failed", error_reason(exc), url=url, kind="page", message=exc.message)
    return Outcome(sid, "ok", url=url)


def _take(ctx: Any, summary: RecheckSummary, out: Outcome) -> None:
    """Count one answer; a gone item is rejected in the catalog (its event names the URL)."""
    if out.status == "rejected":
        was = out.message
        ctx.catalog.set_item_state(
            str(summary.source), out.source_id, status=Status.REJECTED, reason=f"{GONE_PREFIX}{out.reason}"
        )
        ctx.catalog.log_event(
            STAGE, f"gone at the source ({out.reason}): {out.url} (was {was})", summary.source, out.source_id
        )
        summary.gone.append({"source_id": out.source_id, "reason": out.reason, "url": out.url, "status": was})
        out = Outcome(
            out.source_id, "rejected", out.reason, url=out.url, kind="page", message=f"gone (was {was})"
        )
    summary.add(out)
