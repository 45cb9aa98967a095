"""The words of a body that ended early (``truncated_body``): how many of how many bytes came,
and why it stopped in plain words, never the repr of urllib3's exception
(``IncompleteRead(15 bytes read, 85 more expected)``)."""

from __future__ import annotations

import http.client
import socket

import requests
import urllib3

from schemas.errors import FetchError

#: the setting a read timeout comes from (named in the message, so a slow site's fix is plain)
READ_TIMEOUT_SETTING = "http.read_timeout_s"


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


def why_cut(exc: BaseException | None, read_timeout_s: float | None = None) -> str | None:
    """Why a body stopped, in plain words (None: nothing said why); a read timeout names
    ``read_timeout_s`` and its setting when given."""
    if exc is None:
        return None
    chain = _chain(exc)
    timeouts = (TimeoutError, socket.timeout, urllib3.exceptions.ReadTimeoutError, requests.Timeout)
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "the connection was reset"
    if any(isinstance(e, timeouts) for e in chain):
        if read_timeout_s is None:
            return "the read timed out"
        return f"the read timed out: nothing arrived for {read_timeout_s:g} s, {READ_TIMEOUT_SETTING}"
    early = (
        http.client.IncompleteRead,
        urllib3.exceptions.ProtocolError,
        requests.exceptions.ChunkedEncodingError,
    )
    if any(isinstance(e, early) for e in chain):
        return "the connection closed early"
    return f"the connection failed ({type(chain[-1]).__name__})"


def body_ended(
    url: str,
    got: int | None,
    total: int | None,
    exc: BaseException | None = None,
    read_timeout_s: float | None = None,
) -> FetchError:
    """The retryable ``truncated_body`` error of the answer from ``url`` whose body ended after
    ``got`` (None: unknown) of ``total`` (None: not declared) bytes; ``exc``: what stopped it;
    ``read_timeout_s``: the read timeout the answer was read with (named when it ran out)."""
    if got is None:
        said = "the body ended early"
    else:
        said = f"the body ended after {got}" + (f" of {total}" if total is not None else "") + " bytes"
    why = why_cut(exc, read_timeout_s)
    slow = why is not None and READ_TIMEOUT_SETTING in why
    return FetchError(
        said + (f" ({why})" if why else ""),
        where=url,
        reason="truncated_body",
        retryable=True,
        hint="a rerun fetches it again"
        + (f"; raise {READ_TIMEOUT_SETTING} if the site pauses this long" if slow else ""),
    )
