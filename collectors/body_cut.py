"""The words of a body that ended early (``truncated_body``): how many of how many bytes came,
and why it stopped in plain words, never the repr of urllib3's exception
(``IncompleteRead(15 bytes read, 85 more expected)``)."""

from __future__ import annotations

import http.client
import socket

import requests
import urllib3

from schemas.errors import FetchError


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (its cause, its context, exceptions among its args), outermost first."""
    out: list[BaseException] = []
    todo = [exc]
    while todo and len(out) < 16:
        e = todo.pop(0)
        if e in out:
            continue
        out.append(e)
        todo += [a for a in e.args if isinstance(a, BaseException)]
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
    return out


def why_cut(exc: BaseException | None) -> str | None:
    """Why a body stopped, in plain words (None: nothing said why)."""
    if exc is None:
        return None
    chain = _chain(exc)
    timeouts = (TimeoutError, socket.timeout, urllib3.exceptions.ReadTimeoutError, requests.Timeout)
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "the connection was reset"
    if any(isinstance(e, timeouts) for e in chain):
        return "the read timed out"
    early = (
        http.client.IncompleteRead,
        urllib3.exceptions.ProtocolError,
        requests.exceptions.ChunkedEncodingError,
    )
    if any(isinstance(e, early) for e in chain):
        return "the connection closed early"
    return f"the connection failed ({type(chain[-1]).__name__})"


def body_ended(url: str, got: int | None, total: int | None, exc: BaseException | None = None) -> FetchError:
    """The retryable ``truncated_body`` error of the answer from ``url`` whose body ended after
    ``got`` (None: unknown) of ``total`` (None: not declared) bytes; ``exc``: what stopped it."""
    if got is None:
        said = "the body ended early"
    else:
        said = f"the body ended after {got}" + (f" of {total}" if total is not None else "") + " bytes"
    why = why_cut(exc)
    return FetchError(
        said + (f" ({why})" if why else ""),
        where=url,
        reason="truncated_body",
        retryable=True,
        hint="a rerun fetches it again",
    )
