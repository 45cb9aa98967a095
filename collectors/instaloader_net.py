"""instaloader's network traffic through the polite client.

instaloader makes its own ``requests`` sessions (anonymous, logged in from a session file, and
short-lived copies for GraphQL and the iPhone API on ``i.instagram.com``). Here:

* :func:`guard_instaloader` (once per process) makes every session instaloader's context module
  creates start with a :class:`~collectors.transport.RefusingAdapter`, and makes its session
  copies keep the transport of the session they copy - so nothing it sends can miss the rules;
* :func:`bind_context` gives one instaloader context the run's
  :class:`~collectors.transport.PoliteAdapter` (allowed hosts, robots.txt, rate limit,
  ``Retry-After``; Instagram's API hosts mapped onto ``--base-url`` when given) and refuses
  password logins (only saved session files are used). In that context:

  - a JSON query answered with a web page (a login wall, a "please wait" page) fails at once,
    ``html_instead_of_json`` naming the URL and what to do, where instaloader would ask twice
    more (a page that is HTML stays HTML: :func:`refuse_html_answer`);
  - instaloader's own pause before each query (``instagram.query_sleep``, up to 15 s) is the
    polite client's :meth:`~collectors.http.PoliteClient.hold`: a stop or a wind-down (Ctrl-C)
    ends it, and the query fails ``interrupted`` instead of going out;
  - instaloader's error lines (a query it retries, a failure it skips), which it prints on
    stderr as they are, are logged instead (``collectors.instagram``, WARNING): redacted and
    escaped as the toolkit's own lines are;
  - each thread's last JSON answers (or the query data a page embeds: a profile's page) are kept
    (:func:`last_answer`, :func:`recent_answers`), and the text of its last page
    (:func:`last_page_text`), so a post or profile answered as missing can be told from an answer
    whose shape changed, or from a page that is no profile's (a login wall).
"""

from __future__ import annotations

import random
import threading
import types
from collections import deque
from collections.abc import Iterable
from typing import Any

import requests

from collectors.transport import PoliteAdapter, RefusingAdapter, adapter_of, bind
from schemas.errors import ConfigError, FetchError
from schemas.redact import redact, redacted_logger

log = redacted_logger("collectors.instagram")

#: Hosts instaloader sends its queries to (www: web/GraphQL, i: the iPhone API).
INSTAGRAM_API_HOSTS = ("www.instagram.com", "instagram.com", "i.instagram.com")

_guard_lock = threading.Lock()

#: the reason of a JSON query answered with a web page (a login wall, a "please wait" page)
HTML_INSTEAD_OF_JSON = "html_instead_of_json"
#: per thread: how deep inside instaloader's ``get_json`` (where an answer must be JSON)
_json_query = threading.local()
#: a byte-order mark and whitespace before an answer's first character
_LEADING = b"\xef\xbb\xbf \t\r\n"
#: how many of a thread's last answers are kept (:func:`recent_answers`)
KEPT_ANSWERS = 4
#: how much of a page's text is kept (:func:`last_page_text`)
KEPT_PAGE_CHARS = 256 * 1024


def refuse_html_answer(url: str, resp: requests.Response) -> None:
    """Fail at once, ``html_instead_of_json`` (naming ``url`` and what to do), a 2xx answer to
    one of instaloader's JSON queries (:func:`bind_context`) that is a web page: a login wall or
    a "please wait" page stays one, so instaloader's two more tries would only ask again. Other
    answers (and requests outside a JSON query, e.g. the start page) pass untouched."""
    if not getattr(_json_query, "depth", 0) or not 200 <= resp.status_code < 300:
        return
    if not resp.content.lstrip(_LEADING).startswith(b"<"):
        return
    resp.close()
    raise FetchError(
        f"Instagram answered a web page instead of JSON at {url} (a login wall, a 'please wait' page, "
        "or a changed site)",
        where=url,
        reason=HTML_INSTEAD_OF_JSON,
        hint="log in with a session file (--session-file FILE --login USER, made by `instaloader --login`), "
        "or wait and rerun later (the item is tried again); if it lasts with a login, the site changed: "
        "update the toolkit",
    )


def last_answer(context: Any) -> tuple[str, Any] | None:
    """This thread's last JSON answer in ``context`` (bound by :func:`bind_context`): the URL
    asked and the decoded answer (for a page: the list of query data it embeds); None when the
    last query got none."""
    state = getattr(context, "_mf_answers", None)
    return getattr(state, "last", None)


def recent_answers(context: Any) -> list[tuple[str, Any]]:
    """This thread's last few answers in ``context`` (:data:`KEPT_ANSWERS`), newest first: an
    answer instaloader read before a fallback query of its own (a search after a failed profile
    query) is still there."""
    state = getattr(context, "_mf_answers", None)
    return list(reversed(getattr(state, "history", ())))


def last_page_text(context: Any) -> str | None:
    """The start of the text of the last page (not a JSON query) this thread read in ``context``
    (:data:`KEPT_PAGE_CHARS`); None when none was read."""
    state = getattr(context, "_mf_answers", None)
    return getattr(state, "page_text", None)


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
    if adapter.check is None:
        adapter.check = refuse_html_answer
    cls = type(context)
    answers = threading.local()
    context._mf_answers = answers

    def keep(answer: tuple[str, Any]) -> None:
        answers.last = answer
        if not hasattr(answers, "history"):
            answers.history = deque(maxlen=KEPT_ANSWERS)
        answers.history.append(answer)

    def get_json(
        path: str, params: dict[str, Any], host: str = "www.instagram.com", *a: Any, **kw: Any
    ) -> Any:
        answers.last = None
        _json_query.depth = getattr(_json_query, "depth", 0) + 1
        try:
            answer = cls.get_json(context, path, params, host, *a, **kw)
        finally:
            _json_query.depth -= 1
        keep((f"https://{host}/{path}", answer))
        return answer

    def get_page(session: requests.Session, path: str) -> str:
        answers.page_text = None
        text = cls._get_page(context, session, path)
        answers.page_text = text[:KEPT_PAGE_CHARS]
        return text

    def get_page_data(path: str) -> Any:
        answers.last = None  # a page that fails (a 404) leaves no answer
        data = cls.get_page_data(context, path)
        keep((f"https://www.instagram.com/{path}", data))
        return data

    def do_sleep() -> None:
        if context.sleep:  # instaloader's own pause (as its do_sleep), heard by Ctrl-C
            pause = min(random.expovariate(0.6), 15.0)
            adapter.client.hold(pause, "instaloader's pause before a query (instagram.query_sleep)")

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

    def error(msg: str, repeat_at_end: bool = True) -> None:
        # instaloader prints these on stderr as they are (a query's URL, a request's failure):
        # logged instead, so they show redacted and escaped as the toolkit's own lines do
        log.warning("instaloader: %s", msg)
        if repeat_at_end:
            context.error_log.append(redact(msg))

    context.get_json = get_json
    context.get_page_data = get_page_data
    context._get_page = get_page
    context.do_sleep = do_sleep
    context.get_anonymous_session = get_anonymous_session
    context.load_session = load_session
    context.login = refuse_login
    context.error = error
    context.two_factor_login = refuse_login
