"""One polite HTTP client shared by every source.

Per host: a token bucket (rate) and a semaphore (requests in flight), kept by the client's
*gate*: :class:`LocalGate` for the threads of one process, or a cluster-wide one
(:mod:`collectors.cluster`) so the limits hold across machines; robots.txt is read once per
origin through the gate too. Every request: allowed
host, robots.txt (unless switched off), identifying User-Agent, connect/read timeouts,
retries with exponential backoff and jitter that honour ``Retry-After``, redirects followed
by hand and refused when they leave the allowed hosts. Downloads stream into a kept
``.<name>.part`` file (resumed with ``Range`` when the server answers 206), are capped in
size, checked (content type, decodes) and renamed into place only when good. A local fault
while writing (disk full, no permission, no file handle left) is not the body's fault: it raises
:class:`~schemas.errors.LocalFault` (the ``.part`` file removed), never ``truncated_body``.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import os
import random
import threading
import time
import urllib.robotparser
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from collectors.checks import ext_for, probe_file
from collectors.config import HttpConfig, normalize_host
from collectors.hosts import HostPolicy
from schemas.atomic import sha256_file
from schemas.errors import FetchError, LocalFault
from schemas.faults import as_local_fault, local_faults
from schemas.items import ImageProbe, VideoProbe

log = logging.getLogger("collectors.http")

_REDIRECTS = {301, 302, 303, 307, 308}


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
#: (everything allowed), ("disallow_all", None) = the server refused it (401/403).
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
    origin. Each thread waits out its own ``Retry-After`` (the client's backoff), so ``pause``
    does nothing here."""

    def __init__(self, cfg: HttpConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg, self.sleep = cfg, sleep
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
        wait = bucket.reserve()
        if wait > 0:
            self.sleep(wait)
        slot.acquire()
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
        pass


def parse_robots(origin: str, rule: RobotsRule) -> urllib.robotparser.RobotFileParser | None:
    """A parser for a shared robots rule (None: everything allowed)."""
    kind, text = rule
    if kind == "none":
        return None
    parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
    if kind == "disallow_all":
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


class PoliteClient:
    """The shared HTTP client. Thread-safe; one per collection run."""

    def __init__(
        self,
        cfg: HttpConfig | None = None,
        *,
        policy: HostPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 16,
        stop: threading.Event | None = None,
        gate: HostGate | None = None,
    ) -> None:
        self.cfg = cfg or HttpConfig()
        self.policy = policy or HostPolicy(any_host=True)
        self.sleep = sleep
        self.stop = stop or threading.Event()
        self.gate: HostGate = gate or LocalGate(self.cfg, sleep)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.cfg.user_agent
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self.stats: Counter[str] = Counter()
        if not self.cfg.respect_robots:
            log.warning("robots.txt is NOT honoured (--ignore-robots): make sure the site allows this")

    # -- bookkeeping ---------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.stats[key] += n

    def close(self) -> None:
        self.session.close()

    # -- robots.txt ----------------------------------------------------------------
    def robots_allows(self, url: str) -> bool:
        if not self.cfg.respect_robots:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            known = origin in self._robots
            parser = self._robots.get(origin)
        if not known:
            parser = parse_robots(origin, self.gate.robots(origin, lambda: self._load_robots(origin)))
            with self._lock:
                self._robots[origin] = parser
        return True if parser is None else parser.can_fetch(self.cfg.user_agent, url)

    def _load_robots(self, origin: str) -> RobotsRule:
        """Fetch an origin's robots.txt (called once per origin by the gate) and apply its
        Crawl-delay to the gate."""
        url = origin + "/robots.txt"
        try:
            with self._open("GET", url, check_robots=False) as resp:
                text = self._read_capped(resp, self.cfg.max_page_bytes).decode("utf-8", "replace")
        except FetchError as exc:
            if exc.reason in ("http_401", "http_403"):
                return ("disallow_all", None)
            if exc.reason.startswith("http_4"):
                return ("none", None)  # no robots.txt: everything allowed
            log.warning("robots.txt unavailable at %s (%s): proceeding politely", url, exc.reason)
            return ("none", None)
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
        ``foreign_redirect`` for a redirect target) or a URL robots.txt disallows."""
        if not self.policy.allows(url):
            raise FetchError(
                f"host of {url!r} is not allowed for this source",
                where=where or url,
                reason="foreign_redirect" if redirected else "host_not_allowed",
                hint="add the host to the source's config if it is trusted",
            )
        if check_robots and not self.robots_allows(url):
            raise FetchError(
                "robots.txt disallows this URL",
                where=url,
                reason="robots_disallowed",
                hint="use --ignore-robots only where the site permits it",
            )

    @contextlib.contextmanager
    def turn(self, url: str) -> Iterator[None]:
        """Wait for the host's rate token, then hold one of its concurrency slots (the gate's)."""
        with self.gate.turn(normalize_host(urlsplit(url).netloc)):
            self._count("requests")
            yield

    def count_retry(self) -> None:
        """Count a retry made on this client's behalf (a library session's transport)."""
        self._count("retries")

    def backoff(self, attempt: int, retry_after: str | None, url: str | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): ``Retry-After`` when the server
        gave one (capped; the gate pauses ``url``'s host that long), else exponential backoff
        with jitter."""
        return self._backoff(attempt, retry_after, url)

    # -- requests ------------------------------------------------------------------
    def _backoff(self, attempt: int, retry_after: str | None, url: str | None = None) -> float:
        if retry_after:
            wait = _parse_retry_after(retry_after)
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
            hop_url, retry_after = url, None
            for hop in range(self.cfg.max_redirects + 1):
                self.admit(hop_url, where=url, redirected=hop > 0, check_robots=check_robots)
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
                        retry_after = resp.headers.get("Retry-After")
                        resp.close()
                        break
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
                delay = self._backoff(attempt, retry_after, url)
                log.info("retrying %s in %.2fs after %s", url, delay, last_reason)
                self.sleep(delay)
        raise FetchError(
            f"gave up after {self.cfg.max_retries + 1} attempts ({last_reason} {last_detail})".strip(),
            where=url,
            reason=f"{last_reason}_exhausted",
            retryable=True,
            hint="the site is busy or down; rerun later to resume",
        )

    def _read_capped(self, resp: requests.Response, cap: int) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(
                f"response of {declared} bytes exceeds the {cap}-byte cap", where=resp.url, reason="too_large"
            )
        chunks, total = [], 0
        try:
            for chunk in _iter_body(resp, self.cfg.chunk_bytes):
                total += len(chunk)
                if total > cap:
                    raise FetchError(
                        f"response exceeds the {cap}-byte cap", where=resp.url, reason="too_large"
                    )
                chunks.append(chunk)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchError(
                f"body cut off: {exc}", where=resp.url, reason="truncated_body", retryable=True
            ) from None
        body = b"".join(chunks)
        if declared and declared.isdigit() and len(body) < int(declared):
            raise FetchError(
                f"got {len(body)} of {declared} bytes",
                where=resp.url,
                reason="truncated_body",
                retryable=True,
            )
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
                    self.sleep(self._backoff(attempt, None))
        assert last is not None
        raise last

    def get_text(self, url: str) -> str:
        body, ctype, _ = self.get_bytes(url)
        charset = "utf-8"
        if ctype and "charset=" in ctype:
            charset = ctype.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
        try:
            return body.decode(charset, "replace")
        except LookupError:
            return body.decode("utf-8", "replace")

    def exists(self, url: str) -> bool:
        """HEAD ``url``: True on 2xx, False on 404/410; other failures raise :class:`FetchError`."""
        try:
            with self._open("HEAD", url):
                return True
        except FetchError as exc:
            if exc.reason in ("http_404", "http_410"):
                return False
            raise

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
            raise FetchError(
                f"content type {ctype!r} is not a {expect}", where=url, reason="content_type_mismatch"
            )
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

        The body streams into ``folder/.<stem>.part`` (fsynced); an interrupted transfer is
        resumed with ``Range`` on the next attempt or run. Only a complete file that passes
        the content checks is renamed into place; anything bad is deleted.
        """
        folder = Path(folder)
        with local_faults(folder):
            folder.mkdir(parents=True, exist_ok=True)
        part = folder / f".{stem}.part"
        accepted = self.cfg.video_content_types if expect == "video" else self.cfg.image_content_types
        resumed = False
        content_type: str | None = None
        last: FetchError | None = None
        ranges_ok = True
        fresh_start = True  # one start from zero when the server refuses the range of a kept .part
        attempt = -1
        while attempt < self.cfg.max_retries:
            attempt += 1
            offset = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={offset}-"} if offset else None
            try:
                with self._open("GET", url, headers=headers) as resp:
                    content_type = resp.headers.get("Content-Type")
                    ranges_ok = (
                        resp.headers.get("Accept-Ranges", "").lower() == "bytes" or resp.status_code == 206
                    )
                    if resp.status_code == 416 and offset:
                        _unlink(part)  # our part is not a prefix the server recognises: start over
                        raise FetchError(
                            "range not satisfiable", where=url, reason="range_refused", retryable=True
                        )
                    if not _type_ok(content_type, accepted):
                        _unlink(part)
                        raise FetchError(
                            f"content type {content_type!r} is not a {expect}",
                            where=url,
                            reason="content_type_mismatch",
                        )
                    mode = "wb"
                    if offset and resp.status_code == 206 and _range_start(resp) == offset:
                        mode, resumed = "ab", True
                        self._count("resumed")
                    else:
                        offset = 0  # full body (200, or a range we did not ask for): start over
                    self._stream_to(resp, part, mode, offset, url)
                last = None
                break
            except FetchError as exc:
                if exc.reason == "http_416" and offset and fresh_start:
                    # a .part the server has no more bytes for: complete (a run killed before the
                    # rename) or not a prefix of this file; start over, this try does not count
                    fresh_start = False
                    _unlink(part)
                    attempt -= 1
                    continue
                if not exc.retryable or exc.reason == "interrupted":
                    if exc.reason != "interrupted" and exc.reason != "truncated_body":
                        _unlink(part)
                    raise
                if exc.reason.endswith("_exhausted"):
                    raise
                last = exc
                if attempt < self.cfg.max_retries:
                    self._count("retries")
                    self.sleep(self._backoff(attempt, None))
        if last is not None:
            if not ranges_ok:
                _unlink(part)  # the server cannot resume it: a kept prefix would be useless
            raise last
        return self._finish(part, folder, stem, url, expect, content_type, resumed)

    def _stream_to(self, resp: requests.Response, part: Path, mode: str, offset: int, url: str) -> None:
        cap = self.cfg.max_body_bytes
        declared = resp.headers.get("Content-Length")
        expected = offset + int(declared) if declared and declared.isdigit() else None
        if expected is not None and expected > cap:
            _unlink(part)
            raise FetchError(
                f"{expected} bytes exceed the {cap}-byte cap",
                where=url,
                reason="too_large",
                hint="raise http.max_body_bytes if the file is legitimate",
            )
        written = offset
        fh = _open_part(part, mode)
        try:
            body = _iter_body(resp, self.cfg.chunk_bytes)
            while True:
                try:
                    chunk = next(body, None)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    _sync_part(fh, part)  # keep what arrived: the next attempt resumes after it
                    raise FetchError(
                        f"body cut off after {written} bytes: {exc}",
                        where=url,
                        reason="truncated_body",
                        retryable=True,
                    ) from None
                if chunk is None:
                    break
                written += len(chunk)
                if written > cap:
                    fh.close()
                    _unlink(part)
                    raise FetchError(
                        f"body exceeds the {cap}-byte cap",
                        where=url,
                        reason="too_large",
                        hint="raise http.max_body_bytes if the file is legitimate",
                    )
                _write_part(fh, part, chunk)
                self._count("bytes", len(chunk))
                if self.stop.is_set():
                    _sync_part(fh, part)
                    raise FetchError(
                        "collection interrupted", where=url, reason="interrupted", retryable=True
                    )
            _sync_part(fh, part)
        finally:
            with contextlib.suppress(OSError):
                fh.close()
        if expected is not None and written < expected:
            raise FetchError(
                f"got {written} of {expected} bytes", where=url, reason="truncated_body", retryable=True
            )
        if written == 0:
            _unlink(part)
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
    ) -> Download:
        try:
            probe = probe_file(part, expect)
        except FetchError:
            _unlink(part)
            raise
        ext = ext_for(url, content_type, expect)
        final = folder / f"{stem}.{ext}"
        try:
            with local_faults(final):
                digest = sha256_file(part)
                size = part.stat().st_size
                os.replace(part, final)
        except LocalFault:
            _unlink(part)
            raise
        _fsync_dir(folder)
        self._count("files")
        return Download(final, url, digest, size, content_type, probe, resumed)


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
    if fault is None:
        raise exc
    raise fault from None


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


def _type_ok(content_type: str | None, accepted: list[str]) -> bool:
    if not content_type:
        return True  # no claim to contradict; the decode check decides
    ctype = content_type.split(";")[0].strip().lower()
    return any(ctype.startswith(a) for a in accepted)


def _range_start(resp: requests.Response) -> int | None:
    value = resp.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
