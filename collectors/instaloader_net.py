"""instaloader's network traffic through the polite client.

instaloader makes its own ``requests`` sessions (anonymous, logged in from a session file, and
short-lived copies for GraphQL and the iPhone API on ``i.instagram.com``). Here:

* :func:`guard_instaloader` (once per process) makes every session instaloader's context module
  creates start with a :class:`~collectors.transport.RefusingAdapter`, and makes its session
  copies keep the transport of the session they copy - so nothing it sends can miss the rules;
* :func:`bind_context` gives one instaloader context the run's
  :class:`~collectors.transport.PoliteAdapter` (allowed hosts, robots.txt, rate limit,
  ``Retry-After``; Instagram's API hosts mapped onto ``--base-url`` when given) and refuses
  password logins (only saved session files are used).
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterable
from typing import Any

import requests

from collectors.transport import PoliteAdapter, RefusingAdapter, adapter_of, bind
from schemas.errors import ConfigError

#: Hosts instaloader sends its queries to (www: web/GraphQL, i: the iPhone API).
INSTAGRAM_API_HOSTS = ("www.instagram.com", "instagram.com", "i.instagram.com")

_guard_lock = threading.Lock()


class _RefusingSession(requests.Session):
    """A ``requests.Session`` that sends nothing until a polite adapter is bound to it."""

    def __init__(self) -> None:
        super().__init__()
        bind(self, RefusingAdapter())


def guard_instaloader() -> None:
    """Make instaloader's sessions fail closed and its session copies keep their transport."""
    import instaloader.instaloadercontext as ilc

    with _guard_lock:
        if getattr(ilc, "_mf_guarded", False):
            return
        shim = types.ModuleType("requests")
        shim.__dict__.update(requests.__dict__)
        shim.Session = _RefusingSession  # type: ignore[attr-defined]
        ilc.requests = shim  # type: ignore[attr-defined]
        original_copy = ilc.copy_session

        def copy_session(session: requests.Session, request_timeout: float | None = None) -> requests.Session:
            new = original_copy(session, request_timeout)
            adapter = adapter_of(session)
            if adapter is not None:
                bind(new, adapter)
            return new

        ilc.copy_session = copy_session  # type: ignore[assignment]
        ilc._mf_guarded = True  # type: ignore[attr-defined]


def api_host_map(api_base: str | None, hosts: Iterable[str] = INSTAGRAM_API_HOSTS) -> dict[str, str]:
    """Instagram's API hosts -> ``api_base`` (a mirror, e.g. the loopback world), or nothing."""
    return {h: api_base for h in hosts} if api_base else {}


def bind_context(context: Any, adapter: PoliteAdapter) -> None:
    """Send everything ``context`` (an ``InstaloaderContext``) sends through ``adapter``."""
    guard_instaloader()
    bind(context._session, adapter)
    cls = type(context)

    def get_anonymous_session() -> requests.Session:
        return bind(cls.get_anonymous_session(context), adapter)

    def load_session(username: str, sessiondata: dict[str, Any]) -> None:
        cls.load_session(context, username, sessiondata)
        bind(context._session, adapter)

    def refuse_login(*_: Any, **__: Any) -> None:
        raise ConfigError(
            "logging in with a password is not supported",
            where="--login",
            hint="create a session file with `instaloader --login YOUR_USER` and pass --session-file",
        )

    context.get_anonymous_session = get_anonymous_session
    context.load_session = load_session
    context.login = refuse_login
    context.two_factor_login = refuse_login
