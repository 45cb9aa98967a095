"""One candidate collected without raising: what the run loop (:mod:`collectors.runner`) and a
cluster worker (:mod:`collectors.cluster`) call per item."""

from __future__ import annotations

import re

from collectors.base import Source
from collectors.core import Candidate, Outcome, gave_up_note, safe_id, status_for
from schemas.errors import CatalogCorrupt, FetchError, LocalFault, MFError
from schemas.faults import as_local_fault, local_reason
from schemas.redact import redacted_logger

log = redacted_logger("collectors")


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
        row = source.ctx.catalog.get_item(str(source.name), sid) if sid != "?" else None
        if row is None:
            return Outcome(sid, str(status_for(exc.reason)), exc.reason)
        state = source.ctx.failure_state(row, exc.reason)
        source.ctx.catalog.set_item_state(str(source.name), sid, **state)
        return Outcome(sid, str(state["status"]), state["reason"], message=gave_up_note(state))
    except MFError as exc:
        return _refused(source, sid, exc)
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the run
        fault = hidden_fault(exc)
        if fault is not None:
            return _local_fault(source, sid, fault)
        log.exception("%s %s: unexpected error", source.name, cand.raw_id)
        return Outcome(sid, "failed", f"internal_error:{type(exc).__name__}")


def error_reason(exc: MFError) -> str:
    """The reason an item failed with ``exc`` (no fetch error) is recorded under: its class in
    snake case, ``PathEscapeError`` -> ``path_escape`` (reasons are lower-case words)."""
    name = re.sub(r"Error$", "", type(exc).__name__) or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _refused(source: Source, sid: str, exc: MFError) -> Outcome:
    """An item refused for a reason of this machine or its input, no fetch (a file where its
    folder goes, a link out of the root): ``failed``, retried by a rerun once it is mended, with
    the error's message, the file at fault and what to do, in the catalog and the problem list."""
    reason = error_reason(exc)
    if sid != "?":
        try:
            if source.ctx.catalog.get_item(str(source.name), sid) is not None:
                source.ctx.catalog.set_item_state(str(source.name), sid, status="failed", reason=reason)
        except MFError as err:
            log.info("%s/%s: not recorded (%s)", source.name, sid, err)
    message = exc.message + (f" ({exc.hint})" if exc.hint else "")
    return Outcome(sid, "failed", reason, path=exc.where, message=message)


def hidden_fault(exc: BaseException) -> LocalFault | None:
    """The local fault behind ``exc``: in its chain (causes, contexts, ``exc_info``), or among
    the ``unexpected_errors`` yt-dlp's ``NoSupportingHandlers`` hides a request handler's
    exceptions in; else None."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo and len(seen) < 32:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, LocalFault):
            return e
        if local_reason(e) is not None or isinstance(e, ImportError):  # a full disk, a missing libGL
            fault = as_local_fault(e)
            if fault is not None:
                return fault
        info = getattr(e, "exc_info", None)
        todo += [e.__cause__, e.__context__, *(info[1:2] if isinstance(info, tuple) else ())]
        todo += [getattr(e, "local_fault", None), *(getattr(e, "unexpected_errors", None) or ())]
    return None


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
