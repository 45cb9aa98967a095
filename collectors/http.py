"""One polite HTTP client shared by every source.

Per host: a token bucket (rate) and a semaphore (requests in flight), kept by the client's
*gate*: :class:`LocalGate` for the threads of one process, or a cluster-wide one
(:mod:`collectors.cluster`) so the limits hold across machines; robots.txt is read once per
origin through the gate too. Every request: allowed
host, robots.txt (unless switched off), identifying User-Agent, connect/read timeouts,
retries with exponential backoff and jitter that honour ``Retry-After``, redirects followed
by hand and refused when they leave the allowed hosts; a robots.txt that cannot be read (5xx,
429, timeout, connection error) allows nothing on its origin for the run (RFC 9309). Downloads
stream into a kept ``.<name>.part`` file, its server's strong validator (ETag, else a
Last-Modified at least 1 s older than the answer's Date) and size beside it in
``.<name>.part.json``; a kept part is resumed with ``Range`` and ``If-Range`` only when that
validator says the file is the same, and a file is complete only at its full
size (a 206 shorter than the rest is followed by requests for what is missing). Downloads are
capped in size, checked (content type, decodes) and renamed into place only when good. A local fault
while writing (disk full, no permission, no file handle left) is not the body's fault: it raises
:class:`~schemas.errors.LocalFault` (the ``.part`` file removed), never ``truncated_body``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
import urllib.robotparser
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from collectors.body_cut import body_ended
from collectors.checks import (
    FILE_VANISHED,
    HTML_REASON,
    ext_for,
    hash_unchanged,
    html_in_place_of,
    probe_unchanged,
    vanished,
)
from collectors.config import HttpConfig, normalize_host
from collectors.hosts import HostPolicy
from collectors.part_resume import (
    discard_part,
    http_date,
    is_identity,
    keep_if_resumable,
    kept_part,
    save_resume_state,
    span_of,
    state_path,
    strong_validator,
    unlink_quietly,
)
from collectors.transport import page_timeout_error
from schemas.atomic import sweep_partials
from schemas.errors import FetchError, LocalFault
from schemas.faults import as_local_fault, local_faults
from schemas.items import ImageProbe, VideoProbe
from schemas.redact import redacted_logger

log = redacted_logger("collectors.http")
#: urllib3 logs each request this client sends (``"GET /aweme/v1/...?iid=..." 200``, at DEBUG):
#: its records are redacted at the source too, whatever handler shows them
redacted_logger("urllib3.connectionpool")

_REDIRECTS = {301, 302, 303, 307, 308}

#: Seconds between two looks at the run's wind-down during a wait for a host's pause or a backoff
HOLD_POLL_S = 0.1

#: Reasons of a HEAD the server does not implement (405 Method Not Allowed, 501 Not
#: Implemented): they say nothing about the URL, so a GET has to decide.
HEAD_REFUSED = frozenset({"http_405", "http_501"})

#: Reasons that end a download try because a kept ``.part`` cannot be continued (the server has
#: no range for it, or the range it sent belongs to another version of the file): the part is
#: dropped and the file fetched again from its start, once per download without counting a try.
_START_OVER = frozenset({"http_416", "resume_mismatch"})


class TokenBucket:
    """Thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.stamp = clock()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1.0
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


#: robots.txt of an origin as gates share it: ("text", body), ("none", None) = no robots.txt
#: (everything allowed), ("disallow_all", "http_401"/"http_403") = the server refused it,
#: ("unreachable", reason) = it could not be read (5xx or 429 after the retries, timeout,
#: connection error): nothing on the origin is fetched for the rest of the run (RFC 9309
#: 2.3.1.4), each refusal names robots.txt and the reason, and a rerun reads it again.
RobotsRule = tuple[str, str | None]


class HostGate(Protocol):
    """Who decides when a request to a host may go: the per-host rate and concurrency, the
    robots.txt of each origin (fetched once), Crawl-delay and Retry-After."""

    def turn(self, host: str) -> contextlib.AbstractContextManager[None]:
        """Wait for the host's rate token, then hold one of its concurrency slots."""
        ...

    def robots(self, origin: str, fetch: Callable[[], RobotsRule]) -> RobotsRule:
        """The origin's robots.txt; ``fetch()`` is called by exactly one caller."""
        ...

    def slow_down(self, host: str, delay_s: float) -> None:
        """Crawl-delay: at most one request every ``delay_s`` seconds to the host."""
        ...

    def pause(self, host: str, seconds: float) -> None:
        """Retry-After: no request to the host for ``seconds`` (callers that share the gate)."""
        ...


class LocalGate:
    """The gate of one process: a token bucket and a semaphore per host, robots.txt once per
    origin. A ``Retry-After`` pauses the host for every thread (:meth:`pause`), not only for the
    one whose request got it. ``sleep`` waits for a rate token (the client's ends when the run
    stops); ``hold`` (default ``sleep``) waits out a host's pause, and may raise instead (the
    client's raises ``interrupted`` when the run stops or winds down meanwhile: the first Ctrl-C
    does not sit out a pause of minutes)."""

    def __init__(
        self,
        cfg: HttpConfig,
        sleep: Callable[[float], None] = time.sleep,
        *,
        clock: Callable[[], float] = time.monotonic,
        hold: Callable[[float], None] | None = None,
    ) -> None:
        self.cfg, self.sleep, self.clock = cfg, sleep, clock
        self.hold: Callable[[float], None] = hold if hold is not None else sleep
        self._paused: dict[str, float] = {}  # host -> clock() before which nothing goes to it
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._robots: dict[str, RobotsRule] = {}
        self._robots_locks: dict[str, threading.Lock] = {}

    def _host_state(self, host: str) -> tuple[TokenBucket, threading.BoundedSemaphore]:
        with self._lock:
            if host not in self._buckets:
                self._buckets[host] = TokenBucket(self.cfg.rate_per_host, self.cfg.burst_per_host)
                self._slots[host] = threading.BoundedSemaphore(self.cfg.max_concurrency_per_host)
            return self._buckets[host], self._slots[host]

    @contextlib.contextmanager
    def turn(self, host: str) -> Iterator[None]:
        bucket, slot = self._host_state(host)
        rate, paused = bucket.reserve(), self._paused.get(host, 0.0) - self.clock()
        if paused > 0 and paused >= rate:
            self.hold(paused)  # the host's pause (a Retry-After, a 429/503's backoff)
        elif rate > 0:
            self.sleep(rate)  # the host's rate token: a short wait, sat out also when winding down
        slot.acquire()
        left = self._paused.get(host, 0.0) - self.clock()
        if left > 0:  # paused while this thread waited for the slot (its holder got a 429)
            try:
                self.hold(left)
            except BaseException:
                slot.release()
                raise
        try:
            yield
        finally:
            slot.release()

    def robots(self, origin: str, fetch: Callable[[], RobotsRule]) -> RobotsRule:
        with self._lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._robots:
                self._robots[origin] = fetch()
            return self._robots[origin]

    def slow_down(self, host: str, delay_s: float) -> None:
        bucket, _ = self._host_state(host)
        with bucket.lock:
            bucket.rate = min(bucket.rate, 1.0 / float(delay_s))
            bucket.burst = 1
            bucket.tokens = min(bucket.tokens, 1.0)

    def pause(self, host: str, seconds: float) -> None:
        with self._lock:
            self._paused[host] = max(self._paused.get(host, 0.0), self.clock() + seconds)


def _unreachable(reason: str) -> bool:
    """A robots.txt fetch that failed this way says nothing about the rules (RFC 9309 2.3.1.4:
    a server error, 429 after the retries, a timeout, a connection error or a cut-off body)."""
    base = reason.removesuffix("_exhausted")
    return base in ("timeout", "connection_error", "truncated_body", "http_429") or base.startswith("http_5")


def parse_robots(origin: str, rule: RobotsRule) -> urllib.robotparser.RobotFileParser | None:
    """A parser for a shared robots rule (None: everything allowed)."""
    kind, text = rule
    if kind == "none":
        return None
    parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
    if kind in ("disallow_all", "unreachable"):
        parser.disallow_all = True
    else:
        parser.parse((text or "").splitlines())
    return parser


@dataclass
class Download:
    """A file fetched, checked and renamed into place."""

    path: Path
    url: str
    sha256: str
    size: int
    content_type: str | None
    probe: VideoProbe | ImageProbe | None
    resumed: bool = False
    #: the server's strong validator of the file, ``(header, value)`` (ETag, else a strong
    #: Last-Modified; :func:`~collectors.part_resume.strong_validator`); None when it gave none
    validator: tuple[str, str] | None = None


class PoliteClient:
    """The shared HTTP client. Thread-safe; one per collection run."""

    def __init__(
        self,
        cfg: HttpConfig | None = None,
        *,
        policy: HostPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        pool_size: int = 16,
        stop: threading.Event | None = None,
        gate: HostGate | None = None,
        winddown: threading.Event | None = None,
    ) -> None:
        self.cfg = cfg or HttpConfig()
        self.policy = policy or HostPolicy(any_host=True)
        #: set when the run stops (a second Ctrl-C, SIGTERM's, a local fault): every wait ends and
        #: transfers in flight are aborted (their ``.part`` kept for the rerun)
        self.stop = stop or threading.Event()
        #: set when the run winds down (the first Ctrl-C): a wait for a host's pause, a backoff or
        #: a Retry-After ends at once and its request gives up ``interrupted`` (retryable: a rerun
        #: collects the item); rate-token waits, requests and transfers in flight go on
        self.winddown = winddown or threading.Event()
        #: waits between tries (backoff, Retry-After) and for a host's pause: they end as soon as
        #: the run stops or winds down, so Ctrl-C or SIGTERM never sits out a Retry-After of
        #: minutes (tests pass their own); :meth:`hold` waits with it and then says whether to go on
        self.sleep: Callable[[float], None] = sleep if sleep is not None else self._hold
        #: waits for a host's rate token (short): they end only when the run stops
        self.pace: Callable[[float], None] = sleep if sleep is not None else self._wait
        self.gate: HostGate = gate or LocalGate(self.cfg, self.pace, hold=self.hold)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.cfg.user_agent
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._robots: dict[str, tuple[urllib.robotparser.RobotFileParser | None, str | None]] = {}
        self.stats: Counter[str] = Counter()
        #: per host, the answers in a row that refused this client (403, 429 past the retries)
        self._refusals: Counter[str] = Counter()
        #: a 403 body saying its URL only is refused (http.item_refusal_pattern): not counted
        self._item_refusal_re = (
            re.compile(self.cfg.item_refusal_pattern) if self.cfg.item_refusal_pattern else None
        )
        if not self.cfg.respect_robots:
            log.warning("robots.txt is NOT honoured (--ignore-robots): make sure the site allows this")

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the run stops first."""
        self.stop.wait(max(0.0, seconds))

    def _hold(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the run stops or winds down first (a wind-down is
        heard within :data:`HOLD_POLL_S`; a stop at once)."""
        deadline = time.monotonic() + max(0.0, seconds)
        while not self.winddown.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.stop.wait(min(left, HOLD_POLL_S)):
                return

    def hold(self, seconds: float, where: str | None = None) -> None:
        """Wait out a host's pause, a backoff or a Retry-After (:attr:`sleep`), then raise
        :class:`FetchError` ``interrupted`` (retryable) when the run stopped or is winding down
        (the first Ctrl-C): no further try goes out, and a rerun collects the item."""
        self.sleep(seconds)
        self.check_stop(where or "a paused host", winding=True)

    def check_stop(self, where: str, *, winding: bool = False) -> None:
        """Raise :class:`FetchError` ``interrupted`` when the run stopped, or (``winding``: after
        a wait for a pause, a backoff or a Retry-After) when it is winding down."""
        if self.stop.is_set() or (winding and self.winddown.is_set()):
            raise FetchError("collection interrupted", where=where, reason="interrupted", retryable=True)

    # -- bookkeeping ---------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def close(self) -> None:
        self.session.close()

    # -- robots.txt ----------------------------------------------------------------
    def robots_allows(self, url: str) -> bool:
        """Whether robots.txt lets this client fetch ``url`` (one that cannot be read: never)."""
        if not self.cfg.respect_robots:
            return True
        parser, _ = self._robots_of(url)
        return True if parser is None else parser.can_fetch(self.cfg.user_agent, url)

    def _robots_of(self, url: str) -> tuple[urllib.robotparser.RobotFileParser | None, str | None]:
        """The parser of ``url``'s origin (None: everything allowed) and, when its robots.txt
        could not be read or was refused (401/403), why (read once per origin through the gate)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            known = self._robots.get(origin)
        if known is None:
            rule = self.gate.robots(origin, lambda: self._load_robots(origin))
            known = (
                parse_robots(origin, rule),
                rule[1] if rule[0] in ("unreachable", "disallow_all") else None,
            )
            with self._lock:
                self._robots[origin] = known
        return known

    def _check_robots(self, url: str, where: str | None) -> None:
        """Refuse ``url`` when robots.txt disallows it, or could not be read this run."""
        if self.robots_allows(url):
            return
        _, why = self._robots_of(url)
        if why is not None:
            parts = urlsplit(url)
            refused = why in ("http_401", "http_403")  # a client blocked, not rules
            raise FetchError(
                f"robots.txt of {parts.scheme}://{parts.netloc} "
                + (
                    f"answered {why.removeprefix('http_')} (read as: nothing may be fetched); "
                    "the site may be blocking this client"
                    if refused
                    else f"could not be read ({why}): nothing on that site is fetched in this run (RFC 9309)"
                ),
                where=where or url,
                reason=f"robots_txt_{why.removesuffix('_exhausted')}",
                hint=("rerun later or from another network" if refused else "rerun later")
                + ": robots.txt is read again and the item retried",
            )
        raise FetchError(
            "robots.txt disallows this URL",
            where=url,
            reason="robots_disallowed",
            hint="use --ignore-robots only where the site permits it",
        )

    def _load_robots(self, origin: str) -> RobotsRule:
        """Fetch an origin's robots.txt (called once per origin by the gate) and apply its
        Crawl-delay to the gate.

        RFC 9309 2.3.1: 2xx -> its rules; 401/403 -> everything disallowed (this client's
        choice); any other 4xx -> no robots.txt, everything allowed; 5xx or 429 after the
        retries, a timeout or a connection error -> unreachable, everything disallowed for
        this run.
        """
        url = origin + "/robots.txt"
        try:
            with self._open("GET", url, check_robots=False) as resp:
                text = self._read_capped(resp, self.cfg.max_page_bytes).decode("utf-8", "replace")
        except FetchError as exc:
            if exc.reason in ("interrupted", "host_blocked"):
                raise  # not an answer: nothing is kept for the origin (never read as "no robots.txt")
            if exc.reason in ("http_401", "http_403"):
                return ("disallow_all", exc.reason)  # said as such: a blocked client, not a rule
            if _unreachable(exc.reason):
                log.warning(
                    "robots.txt unreachable at %s (%s): nothing on %s is fetched in this run; rerun later",
                    url,
                    exc.reason,
                    origin,
                )
                return ("unreachable", exc.reason)
            if not exc.reason.startswith("http_4"):
                log.warning("robots.txt unusable at %s (%s): taken as absent", url, exc.reason)
            return ("none", None)  # no robots.txt: everything allowed
        parser = parse_robots(origin, ("text", text))
        delay = parser.crawl_delay(self.cfg.user_agent) if parser is not None else None
        if delay:
            self.gate.slow_down(normalize_host(urlsplit(origin).netloc), float(delay))
            log.info("%s asks for Crawl-delay %ss: pacing this host accordingly", origin, delay)
        return ("text", text)

    # -- the gates of every request (also those of libraries' own sessions) -----------
    def admit(
        self, url: str, *, where: str | None = None, redirected: bool = False, check_robots: bool = True
    ) -> None:
        """Refuse a request the rules forbid: a host off the allow-list (``host_not_allowed``, or
        ``foreign_redirect`` for a redirect target), a URL robots.txt disallows
        (``robots_disallowed``), or any URL of an origin whose robots.txt could not be read
        (``robots_txt_<why>``, e.g. ``robots_txt_http_503``: a rerun tries again)."""
        if not self.policy.allows(url):
            raise FetchError(
                f"host of {url!r} is not allowed for this source",
                where=where or url,
                reason="foreign_redirect" if redirected else "host_not_allowed",
                hint="add the host to the source's config if it is trusted",
            )
        if check_robots:
            self._check_robots(url, where)

    @contextlib.contextmanager
    def turn(self, url: str) -> Iterator[None]:
        """Wait for the host's rate token, then hold one of its concurrency slots (the gate's).
        A wait for the host's pause that the run's stop or wind-down ended raises ``interrupted``."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.gate.turn(normalize_host(urlsplit(url).netloc)))
            except FetchError as exc:
                if exc.reason != "interrupted":
                    raise
                raise FetchError(exc.message, where=url, reason="interrupted", retryable=True) from None
            if self.stop.is_set():  # stopped while waiting for the host: no request goes out
                raise FetchError("collection interrupted", where=url, reason="interrupted", retryable=True)
            self._count("requests")
            yield

    def count_retry(self) -> None:
        """Count a retry made on this client's behalf (a library session's transport)."""
        self._count("retries")

    def backoff(
        self, attempt: int, retry_after: str | None, url: str | None = None, date: str | None = None
    ) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): ``Retry-After`` when the server
        gave one (capped; the gate pauses ``url``'s host that long; an HTTP-date is measured
        against the answer's ``date`` header when given), else exponential backoff with jitter."""
        return self._backoff(attempt, retry_after, url, date)

    def busy(
        self, attempt: int, status: int, url: str, retry_after: str | None = None, date: str | None = None
    ) -> float:
        """Seconds to wait before retry ``attempt`` after a busy answer (``status`` one of
        ``http.retry_statuses``) of ``url`` (:meth:`backoff`). A ``Retry-After`` pauses the host
        that long; a 429 or 503 without one pauses it for the backoff's delay: every thread's
        requests to that host back off, not only this one (our own requests and libraries')."""
        delay = self._backoff(attempt, retry_after, url, date)
        if not retry_after and status in (429, 503):
            self.gate.pause(normalize_host(urlsplit(url).netloc), delay)
        return delay

    # -- a host that blocks this client ---------------------------------------------
    def note_answer(self, url: str, refused: bool) -> None:
        """Count a refusal of ``url``'s host (403, or 429 past the retries), or clear its count
        (any other answer); said once when the host reaches ``block_after``."""
        host = normalize_host(urlsplit(url).netloc)
        with self._lock:
            blocked = self.cfg.block_after and self._refusals.get(host, 0) >= self.cfg.block_after
            if not refused:
                if not blocked:  # a block lasts the run: an answer in flight when it began lifts none
                    self._refusals.pop(host, None)
                return
            self._refusals[host] += 1
            n = self._refusals[host]
        if n == self.cfg.block_after:
            log.warning(
                "%s answered 403/429 %d times in a row: it looks like it blocks this client, and"
                " nothing more is asked of it in this run (rerun later, or lower http.rate_per_host)",
                host,
                n,
            )

    def refuse_if_blocked(self, url: str, where: str) -> None:
        """Raise ``host_blocked`` (retryable) when ``url``'s host refused the last
        ``http.block_after`` answers (403, or 429 past the retries): it is not asked again."""
        host = normalize_host(urlsplit(url).netloc)
        with self._lock:
            n = self._refusals.get(host, 0)
        if self.cfg.block_after and n >= self.cfg.block_after:
            raise FetchError(
                f"{host} refused the last {n} requests (403/429): not asked again in this run",
                where=where,
                reason="host_blocked",
                retryable=True,
                hint="rerun later (the item is retried), or lower http.rate_per_host",
            )

    # -- requests ------------------------------------------------------------------
    def _backoff(
        self, attempt: int, retry_after: str | None, url: str | None = None, date: str | None = None
    ) -> float:
        if retry_after:
            wait = _parse_retry_after(retry_after, date)
            if wait is not None:
                wait = min(wait, self.cfg.retry_after_max_s)
                if url is not None:
                    self.gate.pause(normalize_host(urlsplit(url).netloc), wait)
                return wait
        base = min(self.cfg.backoff_base_s * (2**attempt), self.cfg.backoff_max_s)
        return base * (1.0 + self.cfg.jitter * random.random())

    @contextlib.contextmanager
    def _open(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, check_robots: bool = True
    ) -> Iterator[requests.Response]:
        """A response to ``method url`` after policy, redirects and retries; holds a host slot."""
        last_reason, last_detail = "fetch_failed", ""
        for attempt in range(self.cfg.max_retries + 1):
            if self.stop.is_set():
                raise FetchError("collection interrupted", where=url, reason="interrupted", retryable=True)
            hop_url, retry_after, date = url, None, None
            delay: float | None = None  # the wait before the next try, once an answer set it
            for hop in range(self.cfg.max_redirects + 1):
                self.admit(hop_url, where=url, redirected=hop > 0, check_robots=check_robots)
                self.refuse_if_blocked(hop_url, url)
                with self.turn(hop_url):
                    try:
                        resp = self.session.request(
                            method,
                            hop_url,
                            headers=headers,
                            stream=True,
                            allow_redirects=False,
                            timeout=(self.cfg.connect_timeout_s, self.cfg.read_timeout_s),
                        )
                    except requests.Timeout as exc:
                        last_reason, last_detail = "timeout", str(exc)
                        break
                    except requests.RequestException as exc:
                        fault = as_local_fault(exc)
                        if fault is not None:  # e.g. no file handle left for a socket
                            raise fault from None
                        last_reason, last_detail = "connection_error", str(exc)
                        break
                    if resp.status_code in _REDIRECTS and resp.headers.get("Location"):
                        hop_url = urljoin(hop_url, resp.headers["Location"])
                        resp.close()
                        continue
                    if resp.status_code in self.cfg.retry_statuses:
                        last_reason, last_detail = f"http_{resp.status_code}", resp.reason or ""
                        retry_after, date = resp.headers.get("Retry-After"), resp.headers.get("Date")
                        resp.close()
                        # the host pauses before this slot is released: a request waiting for
                        # the slot must not go out first; the host that answered pauses
                        delay = self.busy(attempt, resp.status_code, hop_url, retry_after, date)
                        break
                    refusal = self._item_refusal(resp) if resp.status_code == 403 else None
                    # a 403 counts towards the host's block, save one refusing this URL only
                    self.note_answer(hop_url, refused=resp.status_code == 403 and refusal is None)
                    if refusal is not None:
                        resp.close()
                        raise FetchError(
                            f"HTTP 403 {resp.reason or ''}: the site refused this URL only ({refusal!r})",
                            where=hop_url,
                            reason="http_403",
                            hint="its signature is no longer valid: read the item again for fresh URLs (an "
                            "Instagram post by its shortcode or URL, not an old saved structure); the host is "
                            "not taken as blocking this client",
                        )
                    if resp.status_code >= 400:
                        resp.close()
                        raise FetchError(
                            f"HTTP {resp.status_code} {resp.reason or ''}".strip(),
                            where=hop_url,
                            reason=f"http_{resp.status_code}",
                            retryable=False,
                        )
                    try:
                        yield resp
                    finally:
                        resp.close()
                    return
            else:
                raise FetchError(
                    f"more than {self.cfg.max_redirects} redirects", where=url, reason="too_many_redirects"
                )
            if attempt < self.cfg.max_retries:
                self._count("retries")
                if delay is None:  # a timeout or a connection error: no answer said how long
                    delay = self._backoff(attempt, None)
                log.info("retrying %s in %.2fs after %s", url, delay, last_reason)
                self.hold(delay, url)  # a wind-down (first Ctrl-C) ends it: interrupted
        if last_reason == "http_429":
            self.note_answer(hop_url, refused=True)
        raise FetchError(
            f"gave up after {self.cfg.max_retries + 1} attempts ({last_reason} {last_detail})".strip(),
            where=url,
            reason=f"{last_reason}_exhausted",
            retryable=True,
            hint="the site is busy or down; rerun later to resume",
        )

    def _item_refusal(self, resp: requests.Response) -> str | None:
        """What a 403's body says when it refuses its URL only (``http.item_refusal_pattern``
        matches its first KiB: an expired signed media URL), else None (the client refused)."""
        if not self._item_refusal_re:
            return None
        try:
            head = resp.raw.read(_REFUSAL_BYTES, decode_content=True) or b""
        except Exception:  # noqa: BLE001 - an unreadable body says nothing: a plain 403
            return None
        found = self._item_refusal_re.search(head.decode("utf-8", "replace"))
        return found.group(0) if found else None

    def _read_capped(self, resp: requests.Response, cap: int) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(
                f"response of {declared} bytes exceeds the {cap}-byte cap", where=resp.url, reason="too_large"
            )
        chunks, total = [], 0
        deadline = time.monotonic() + self.cfg.page_timeout_s
        try:
            for chunk in _iter_body(resp, self.cfg.chunk_bytes):
                total += len(chunk)
                if total > cap:
                    raise FetchError(
                        f"response exceeds the {cap}-byte cap", where=resp.url, reason="too_large"
                    )
                chunks.append(chunk)
                if self.stop.is_set():
                    raise FetchError(
                        "collection interrupted", where=resp.url, reason="interrupted", retryable=True
                    )
                if time.monotonic() > deadline:
                    raise page_timeout_error(resp.url, self.cfg.page_timeout_s, total)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            sent = _sent_bytes(resp, total)
            total_said = int(declared) if declared and declared.isdigit() else None
            raise body_ended(resp.url, sent, total_said, exc, self.cfg.read_timeout_s) from None
        body = b"".join(chunks)
        sent = _sent_bytes(resp, len(body))
        if declared and declared.isdigit() and sent is not None and sent < int(declared):
            raise body_ended(resp.url, sent, int(declared))
        return body

    def get_bytes(self, url: str, *, cap: int | None = None) -> tuple[bytes, str | None, str]:
        """GET a small document (page, JSON). Returns (body, content type, final URL)."""
        cap = cap or self.cfg.max_page_bytes
        last: FetchError | None = None
        for attempt in range(self.cfg.max_retries + 1):
            try:
                with self._open("GET", url) as resp:
                    return self._read_capped(resp, cap), resp.headers.get("Content-Type"), resp.url
            except FetchError as exc:
                if exc.reason != "truncated_body":
                    raise
                last = exc
                if attempt < self.cfg.max_retries:
                    self.hold(self._backoff(attempt, None), url)
        assert last is not None
        raise last

    def get_text(self, url: str) -> str:
        body, ctype, _ = self.get_bytes(url)
        return decode_text(body, ctype)

    def exists(self, url: str) -> bool:
        """HEAD ``url``: True on 2xx, False on 404/410; other failures raise :class:`FetchError`."""
        try:
            with self._open("HEAD", url):
                return True
        except FetchError as exc:
            if exc.reason in ("http_404", "http_410"):
                return False
            raise

    def head(self, url: str, headers: dict[str, str] | None = None) -> requests.Response:
        """HEAD ``url`` as every request goes (policy, robots.txt, redirects, retries) with
        ``headers`` (a conditional ``If-None-Match``, say): the answer, closed (its status and
        headers; a 304 is an answer too). A 4xx raises :class:`FetchError` as for a GET."""
        with self._open("HEAD", url, headers=headers) as resp:
            return resp

    def head_check(self, url: str, expect: str | None) -> None:
        """HEAD a URL: policy and redirects as for a GET, then (``expect`` = ``video``/``image``)
        the declared content type and size."""
        with self._open("HEAD", url) as resp:
            ctype = resp.headers.get("Content-Type")
            size = resp.headers.get("Content-Length")
        if expect is None:
            return
        accepted = self.cfg.video_content_types if expect == "video" else self.cfg.image_content_types
        if not _type_ok(ctype, accepted):
            raise not_media(ctype, expect, url)
        if size and size.isdigit() and int(size) > self.cfg.max_body_bytes:
            raise FetchError(
                f"{size} bytes exceed the {self.cfg.max_body_bytes}-byte cap",
                where=url,
                reason="too_large",
                hint="raise http.max_body_bytes if the file is legitimate",
            )

    # -- downloads -----------------------------------------------------------------
    def download(self, url: str, folder: str | os.PathLike[str], stem: str, expect: str) -> Download:
        """Fetch ``url`` into ``folder/<stem>.<ext>`` (``expect``: ``video`` or ``image``).

        The body streams into ``folder/.<stem>.part`` (fsynced), with ``.<stem>.part.json``
        beside it: the server's validator (a strong ETag, else Last-Modified), the file's size
        and content type. An interrupted transfer is resumed on the next try or run with
        ``Range`` and ``If-Range``, and only when its answer is the rest of the same file (206
        from the part's size, the same total and validator); anything else (no validator kept,
        a 200, another total or ETag) starts over from zero. A 206 that stops short of the
        file's end is followed by requests for the rest (at most ``max_range_rounds``; then
        ``truncated_body``, retried), so the content checks only ever see a complete file. Only
        a file that passes them is renamed into place; anything bad is deleted. A part written
        by another process too (one not of this size when opened to append: ``part_changed``,
        retried from its new end; one grown past the file: fetched again from the start) is
        never appended twice, and one that vanished under its check is ``file_vanished``
        (retried), never a content reason. (One run at a time per item makes these rare:
        :meth:`collectors.core.CollectContext.claim`.)
        """
        folder = Path(folder)
        with local_faults(folder):
            folder.mkdir(parents=True, exist_ok=True)
            sweep_partials(folder)  # a killed run's half-written .part.json state: never kept
        part = folder / f".{stem}.part"
        accepted = self.cfg.video_content_types if expect == "video" else self.cfg.image_content_types
        resumed = False
        content_type: str | None = None
        validator: tuple[str, str] | None = None
        last: FetchError | None = None
        fresh_start = True  # one start from zero when a kept .part cannot be continued
        attempt = -1
        while attempt < self.cfg.max_retries:
            attempt += 1
            try:
                content_type, resumed_now, validator = self._transfer(url, part, accepted, expect)
                resumed = resumed or resumed_now
                last = None
                break
            except FetchError as exc:
                if exc.reason in _START_OVER and fresh_start:
                    # a .part complete already (a run killed before the rename), not a prefix
                    # of this file, or of another version of it: start over, this try does not count
                    fresh_start = False
                    discard_part(part)
                    attempt -= 1
                    continue
                # a bot check or login wall lasts minutes: the rerun retries it, not this try loop
                if not exc.retryable or exc.reason in ("interrupted", HTML_REASON):
                    if exc.reason not in ("interrupted", "truncated_body"):
                        discard_part(part)
                    else:
                        keep_if_resumable(part, url)
                    raise
                if exc.reason.endswith("_exhausted"):
                    keep_if_resumable(part, url)
                    raise
                last = exc
                if attempt < self.cfg.max_retries:
                    self._count("retries")
                    try:
                        self.hold(self._backoff(attempt, None), url)
                    except FetchError:  # the run stopped or winds down: what arrived is kept
                        keep_if_resumable(part, url)
                        raise
        if last is not None:
            keep_if_resumable(part, url)
            raise last
        return self._finish(part, folder, stem, url, expect, content_type, resumed, validator)

    def _transfer(
        self, url: str, part: Path, accepted: list[str], expect: str
    ) -> tuple[str | None, bool, tuple[str, str] | None]:
        """One try at ``url``: the rest of a kept ``.part`` or the whole file, in as many
        answers as the server takes (each 206 ending short of the file is followed by a request
        for the rest). Returns (content type, whether a kept part was continued, the file's
        strong validator: the last answer's, else the kept part's)."""
        resumed = False
        content_type: str | None = None
        validator: tuple[str, str] | None = None
        for _ in range(self.cfg.max_range_rounds):
            kept = kept_part(part, url)
            if kept is None:
                discard_part(part)  # nothing to check it against: it may belong to another version
            elif kept.complete:  # a run was stopped before the rename
                return kept.content_type, resumed, (kept.header, kept.validator)
            headers = kept.resume_headers() if kept is not None and kept.size else None
            with self._open("GET", url, headers=headers) as resp:
                content_type = resp.headers.get("Content-Type")
                header, value = strong_validator(resp)
                validator = (header, value) if header and value else None
                if validator is None and kept is not None and resp.status_code == 206:
                    validator = (kept.header, kept.validator)
                if not _type_ok(content_type, accepted):
                    discard_part(part)
                    raise not_media(content_type, expect, url)
                span = span_of(resp, kept, url)
                if span.start:
                    resumed = True
                    self._count("resumed")
                else:
                    discard_part(part)  # the file from its start: a kept part is replaced
                    save_resume_state(part, url, resp, span.total)
                self._stream_to(resp, part, "ab" if span.start else "wb", span.start, url)
            total = span.total if span.total is not None else (kept.total if kept is not None else None)
            if total is not None and _size(part) > total:
                raise FetchError(  # written into by someone else too: start over (once)
                    f"part grew to {_size(part)} bytes, past the file's {total}",
                    where=url,
                    reason="resume_mismatch",
                    retryable=True,
                )
            if span.partial and total is not None and _size(part) < total:
                continue  # a 206 that ended before the end of the file: ask for the rest
            if total is not None and _size(part) < total:
                raise body_ended(url, _size(part), total)
            return content_type, resumed, validator
        raise FetchError(
            f"file still incomplete after {self.cfg.max_range_rounds} partial answers "
            f"({_size(part)} bytes so far)",
            where=url,
            reason="truncated_body",
            retryable=True,
            hint="the server sends the file in small ranges; raise http.max_range_rounds or rerun to go on",
        )

    def _stream_to(self, resp: requests.Response, part: Path, mode: str, offset: int, url: str) -> None:
        cap = self.cfg.max_body_bytes
        declared = resp.headers.get("Content-Length")
        expected = offset + int(declared) if declared and declared.isdigit() else None
        if expected is not None and expected > cap:
            discard_part(part)
            raise FetchError(
                f"{expected} bytes exceed the {cap}-byte cap",
                where=url,
                reason="too_large",
                hint="raise http.max_body_bytes if the file is legitimate",
            )
        written = offset
        fh = _open_part(part, mode)
        try:
            if os.fstat(fh.fileno()).st_size != offset:
                raise FetchError(  # never append to a part another writer changed since it was read
                    f"the kept part is no longer {offset} bytes long (another run writing it?)",
                    where=url,
                    reason="part_changed",
                    retryable=True,
                )
            body = _iter_body(resp, self.cfg.chunk_bytes)
            rate = _RateFloor(self.cfg.min_rate_bytes_s)

            def kept(message: str, reason: str, hint: str | None = None) -> FetchError:
                """A retryable failure that keeps what arrived: the next attempt resumes after it."""
                _sync_part(fh, part)
                return FetchError(message, where=url, reason=reason, retryable=True, hint=hint)

            while True:
                try:
                    chunk = next(body, None)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    cut = body_ended(url, written, expected, exc, self.cfg.read_timeout_s)
                    raise kept(cut.message, "truncated_body", cut.hint) from None
                if chunk is None:
                    break
                written += len(chunk)
                if written > cap:
                    fh.close()
                    discard_part(part)
                    raise FetchError(
                        f"body exceeds the {cap}-byte cap",
                        where=url,
                        reason="too_large",
                        hint="raise http.max_body_bytes if the file is legitimate",
                    )
                _write_part(fh, part, chunk)
                self._count("bytes", len(chunk))
                if rate.too_slow(len(chunk)):
                    raise kept(
                        f"slower than {self.cfg.min_rate_bytes_s:g} bytes/s for a minute (after {written} bytes)",
                        "timeout",
                        "the site answers very slowly; rerun later to resume, or lower http.min_rate_bytes_s",
                    )
                if self.stop.is_set():
                    raise kept("collection interrupted", "interrupted")
            _sync_part(fh, part)
        finally:
            with contextlib.suppress(OSError):
                fh.close()
        sent = _sent_bytes(resp, written - offset)
        if expected is not None and sent is not None and offset + sent < expected:
            raise body_ended(url, offset + sent, expected)
        if written == 0:
            discard_part(part)
            raise FetchError("empty body", where=url, reason="empty_body")

    def _finish(
        self,
        part: Path,
        folder: Path,
        stem: str,
        url: str,
        expect: str,
        content_type: str | None,
        resumed: bool,
        validator: tuple[str, str] | None = None,
    ) -> Download:
        """Check the complete ``part`` and rename it into place. A part that vanished or changed
        meanwhile raises ``file_vanished`` (retryable) and is left alone: it is not this run's
        any more, and its content says nothing about the site's file."""
        try:
            probe, seen = probe_unchanged(part, expect)
        except FetchError as exc:
            if exc.reason != FILE_VANISHED:
                discard_part(part)
            if exc.reason == HTML_REASON:  # named by its URL, as a page served as text/html is
                raise html_in_place_of(expect, url, content_type) from None
            raise
        ext = ext_for(url, content_type, expect, part)
        final = folder / f"{stem}.{ext}"
        try:
            with local_faults(final):
                digest, size = hash_unchanged(part, seen)
                try:
                    os.replace(part, final)
                except FileNotFoundError:
                    raise vanished(part) from None
            unlink_quietly(state_path(part))
        except LocalFault:
            discard_part(part)
            raise
        _fsync_dir(folder)
        self._count("files")
        return Download(final, url, digest, size, content_type, probe, resumed, validator)


def _open_part(part: Path, mode: str):  # noqa: ANN202 - a binary file object
    """Open the ``.part`` file; a local fault (no permission, no file handle) raises LocalFault."""
    with local_faults(part):
        return open(part, mode)  # noqa: SIM115 - closed by the caller


def _write_part(fh, part: Path, chunk: bytes) -> None:  # noqa: ANN001
    """Append a chunk; a local fault (disk full, ...) removes the ``.part`` and raises LocalFault."""
    try:
        fh.write(chunk)
    except OSError as exc:
        _drop_part(fh, part, exc)


def _sync_part(fh, part: Path) -> None:  # noqa: ANN001
    """Flush and fsync what was written (a kept ``.part`` is resumed from its size)."""
    if fh.closed:
        return
    try:
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        _drop_part(fh, part, exc)


def _drop_part(fh, part: Path, exc: OSError) -> None:  # noqa: ANN001
    fault = as_local_fault(exc, part)
    with contextlib.suppress(OSError):
        fh.close()  # may fail flushing the rest of the buffer: the file goes anyway
    with contextlib.suppress(OSError):
        part.unlink()  # a partial file the disk could not hold would only take the space the rerun needs
    with contextlib.suppress(OSError):
        state_path(part).unlink()
    if fault is None:
        raise exc
    raise fault from None


class _RateFloor:
    """Whether a transfer fell under ``floor`` bytes/s over a whole window of ``window_s``."""

    def __init__(self, floor: float, window_s: float = 60.0) -> None:
        self.floor, self.window_s = floor, window_s
        self.start, self.got = time.monotonic(), 0

    def too_slow(self, n: int) -> bool:
        self.got += n
        elapsed = time.monotonic() - self.start
        if elapsed < self.window_s:
            return False
        slow = self.floor > 0 and self.got < self.floor * elapsed
        self.start, self.got = time.monotonic(), 0
        return slow


def _iter_body(resp: requests.Response, size: int) -> Iterator[bytes]:
    """Body chunks, each returned as soon as one socket read gives it (so a cut-off
    transfer still hands over what arrived before the error)."""
    raw = resp.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:
        yield from resp.iter_content(size)
        return
    while True:
        chunk = read1(size, decode_content=True)
        if not chunk:
            break
        yield chunk


#: a charset an HTML page declares in its first bytes: ``<meta charset="...">`` or the
#: ``http-equiv="Content-Type"`` form (``content="text/html; charset=..."``)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode_text(body: bytes, content_type: str | None) -> str:
    """A page's text: decoded with the charset its Content-Type names, else the one a byte-order
    mark or the page's own ``<meta charset>`` (in its first 4 KB) declares, else UTF-8 (also for
    a charset Python does not know), undecodable bytes replaced."""
    charset = "utf-8"
    if content_type and "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip("\"'") or "utf-8"
    elif body.startswith(b"\xef\xbb\xbf"):
        charset = "utf-8-sig"
    elif (m := _META_CHARSET.search(body[:4096])) is not None:
        charset = m.group(1).decode("ascii")
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def _type_ok(content_type: str | None, accepted: list[str]) -> bool:
    if not content_type:
        return True  # no claim to contradict; the decode check decides
    ctype = content_type.split(";")[0].strip().lower()
    return any(ctype.startswith(a) for a in accepted)


#: content types of a web page: served in place of a video or an image, it is a bot check or a
#: login wall more often than what the URL holds, so it is retried by a rerun, not rejected (a
#: page that claims a media type is told by its first bytes: :func:`collectors.checks.looks_like_html`)
HTML_TYPES = ("text/html", "application/xhtml+xml")
#: how much of a 403's body is read to tell a refused URL from a refused client
_REFUSAL_BYTES = 1024


def not_media(ctype: str | None, expect: str, url: str) -> FetchError:
    """The error for a ``Content-Type`` that is no ``expect`` (video/image): ``rejected``
    (``content_type_mismatch``), or ``failed`` (``html_instead_of_media``, retried by a rerun)
    when it is a web page."""
    if (ctype or "").split(";")[0].strip().lower() in HTML_TYPES:
        return html_in_place_of(expect, url)
    return FetchError(f"content type {ctype!r} is not a {expect}", where=url, reason="content_type_mismatch")


def parse_retry_after(value: str, date: str | None = None) -> float | None:
    """Seconds a ``Retry-After`` asks for: delay-seconds, or an HTTP-date measured against the
    answer's own ``Date`` header (the server's clock; the local clock when absent or unreadable).
    None when unreadable (the caller backs off exponentially)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    ref = http_date(date) or datetime.fromtimestamp(time.time(), UTC)
    return max(0.0, (when - ref).total_seconds())


_parse_retry_after = parse_retry_after


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sent_bytes(resp: requests.Response, decoded: int) -> int | None:
    """How many body bytes came off the wire: what ``Content-Length`` counts. ``decoded`` (the
    bytes read) for an identity body; for an encoded one (gzip makes a short text longer)
    urllib3's count of raw bytes, None when that is unknown."""
    if is_identity(resp):
        return decoded
    tell = getattr(resp.raw, "tell", None)
    try:
        return int(tell()) if callable(tell) else None
    except (OSError, ValueError, TypeError):
        return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
