"""yt-dlp's network traffic through the polite client.

:func:`polite_youtubedl` makes a ``YoutubeDL`` whose only request handler is ``PoliteRH``: it
sends every request yt-dlp makes (extraction pages, API calls, media downloads, each redirect
hop) over a ``requests`` session whose transport is the run's
:class:`~collectors.transport.PoliteAdapter` - allowed hosts, robots.txt, the per-host rate
and concurrency, the connect/read timeouts; every answer's body capped (a page at
``http.max_page_bytes``, read within ``http.page_timeout_s``; the media of a download at
``http.max_body_bytes``, no slower than ``http.min_rate_bytes_s`` over a minute:
:func:`~collectors.transport.capped`). yt-dlp keeps its own retries (our backoff settings), so the adapter only
gates. A request the rules refuse fails with :class:`PolicyRefused`, which carries the
:class:`~schemas.errors.FetchError` (and its reason) out of yt-dlp.

What the handler cannot see is refused twice. Before yt-dlp starts (:func:`safe_protocol`):
formats whose protocol would be fetched by an external program (ffmpeg for HLS, RTMP, ...) are
dropped, so only direct http(s) media is downloaded. And at download time
(:func:`check_downloader`): yt-dlp's only downloader allowed is its own HTTP one (``HttpFD``,
whose requests go through the handler); any other (ffmpeg for a section of a video, a merge,
a live stream; HLS, DASH, RTMP) is refused with ``unsupported_protocol``, whatever key of the
info dict chose it.

yt-dlp's own waits go through the run's interruptible waits: the spacing of an extractor's
pages (``sleep_interval_requests``) through the client's ``pace`` (a rate wait: a stop ends it,
a wind-down does not), and the waits before its own retries through the caller's
(:meth:`collectors.ytdl.YtdlFetcher.params`: a stop or a wind-down ends them), so a stop never
sits one out.

yt-dlp's download archive records finished ids but never skips one: the catalog decides what
is done. A second Ctrl-C (the client's ``stop``) aborts a transfer between two reads of its
body, with ``interrupted``; yt-dlp keeps its ``.part`` file and the rerun resumes it, as the
polite client resumes its own (:class:`PartResume`): the server's validator (strong ETag, else
a Last-Modified at least 1 s older than the answer's Date) of the file's first answer is kept in ``<part>.json``; a resume sends it in
``If-Range`` and must get the rest of that same file; a part without one, or of another version
of the file, starts over (``resume_mismatch``: the caller drops the part and tries again).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.errors import FetchError, LocalFault
from schemas.faults import as_local_fault

if TYPE_CHECKING:
    import requests

    from collectors.http import PoliteClient
    from collectors.part_resume import KeptPart

#: Format protocols yt-dlp downloads with its own HTTP code (so through the handler).
SAFE_PROTOCOLS = frozenset({"http", "https"})


def safe_protocol(fmt: dict[str, Any]) -> bool:
    """Whether yt-dlp fetches this format (or info dict) over plain http(s) itself."""
    from yt_dlp.utils import determine_protocol

    try:
        return determine_protocol(fmt) in SAFE_PROTOCOLS
    except (KeyError, TypeError, AttributeError):
        return False


def _errors() -> Any:
    from yt_dlp.networking import exceptions

    return exceptions


@functools.cache
def _refused_type() -> type:
    """The yt-dlp request error that carries a :class:`FetchError` out of yt-dlp."""
    errors = _errors()

    class PolicyRefused(errors.RequestError):
        """A request (or download) the polite client refused (``fetch_error`` says why)."""

        def __init__(self, error: FetchError) -> None:
            self.fetch_error = error
            super().__init__(msg=f"refused by the polite client ({error.reason}): {error.message}")

    return PolicyRefused


def refused(error: FetchError) -> Exception:
    """``error`` as the exception yt-dlp lets through (:func:`policy_refusal` finds it again)."""
    return _refused_type()(error)


@functools.cache
def _fault_type() -> type:
    """The yt-dlp request error that carries a :class:`LocalFault` out of yt-dlp (any other
    exception of a request handler, yt-dlp hides in ``NoSupportingHandlers``)."""
    errors = _errors()

    class LocalFaultInRequest(errors.RequestError):
        """This machine failed while a request was handled: disk full, ... (``local_fault``)."""

        def __init__(self, fault: LocalFault) -> None:
            self.local_fault = fault
            super().__init__(msg=str(fault))

    return LocalFaultInRequest


def _checked(resume: PartResume, sent: dict[str, str], res: requests.Response) -> None:
    """``resume.check``, whose local fault (writing the resume state onto a full disk, ...) leaves
    yt-dlp as itself (chained to its ``OSError``: :func:`schemas.faults.as_local_fault` finds it)."""
    from collectors.part_resume import state_path

    try:
        resume.check(sent, res)
    except (LocalFault, OSError) as exc:
        fault = as_local_fault(exc, state_path(resume.part))
        if fault is None:
            raise
        res.close()
        raise _fault_type()(fault) from exc


def check_downloader(info: dict[str, Any], params: dict[str, Any], *, to_stdout: bool = False) -> None:
    """Refuse (:func:`refused`, ``unsupported_protocol``) a download yt-dlp would not make with
    its own HTTP downloader: an external program would fetch it outside the polite client."""
    from yt_dlp.downloader import HttpFD, get_suitable_downloader

    try:
        fd = get_suitable_downloader(dict(info), params, to_stdout=to_stdout)
    except (KeyError, TypeError, AttributeError, ValueError):
        fd = None
    if fd is HttpFD:
        return
    name = getattr(fd, "FD_NAME", None) or "no single downloader"
    where = str(info.get("webpage_url") or info.get("original_url") or info.get("url") or info.get("id"))
    raise refused(
        FetchError(
            f"yt-dlp would fetch this media with {name}, outside the polite client's rules "
            "(a section of a video, a merge, a live stream, HLS, DASH, RTMP and the like)",
            where=where,
            reason="unsupported_protocol",
            hint="only direct http(s) media can be collected",
        )
    )


def policy_refusal(exc: BaseException | None) -> FetchError | None:
    """The :class:`FetchError` behind a yt-dlp error, if the polite client refused a request."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        fetch = getattr(e, "fetch_error", None)
        if isinstance(fetch, FetchError):
            return fetch
        info = getattr(e, "exc_info", None)
        if isinstance(info, tuple) and len(info) > 1:
            stack.append(info[1])
        stack += [getattr(e, "cause", None), e.__cause__, e.__context__]
    return None


def _range_of(headers: dict[str, str]) -> tuple[int | None, int | None]:
    """(start, end) of a request's ``Range: bytes=start-[end]``; (None, None) without one."""
    from yt_dlp.utils import parse_http_range

    value = next((v for k, v in headers.items() if k.lower() == "range"), None)
    start, end, _ = parse_http_range(value)
    return start, end


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


class PartResume:
    """The file yt-dlp's HTTP downloader is writing into ``part`` from ``url``, resumed only as
    the polite client resumes its own: with the validator of the file's first answer (kept in
    ``<part>.json``) in ``If-Range``, and only into a 206 of that same file."""

    def __init__(self, part: Path, url: str) -> None:
        self.part = part
        self.url = url
        self.kept: KeptPart | None = None

    def begin(self) -> None:
        """Before the downloader sizes the part: keep it only when its state says which version
        of the file it is the start of (a complete one is fetched again: it was never checked)."""
        from collectors.part_resume import discard_part, kept_part  # lazy: --help loads no requests

        kept = kept_part(self.part, self.url)
        if kept is None or kept.complete:
            discard_part(self.part)
            kept = None
        self.kept = kept

    def end(self) -> None:
        """After the download: the state goes once its part has (renamed into place or dropped)."""
        from collectors.part_resume import state_path, unlink_quietly

        if not self.part.exists():
            unlink_quietly(state_path(self.part))

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        """A request's headers: a resume carries ``If-Range`` (the whole file comes back should
        the file have changed); one with nothing to check against asks for the whole file."""
        start, end = _range_of(headers)
        if not start:
            return headers
        out = _without(headers, "If-Range")
        if self.kept is not None:
            out["If-Range"] = self.kept.validator
        elif end is None:  # not a chunk: the downloader starts over on the 200
            out = _without(out, "Range")
        return out

    def check(self, sent: dict[str, str], res: requests.Response) -> None:
        """Raise ``resume_mismatch`` (:func:`refused`) unless ``res`` continues the part with the
        same file, or is the file from its start (the part is then dropped, its validator kept)."""
        from collectors.part_resume import content_range, declared_size, discard_part, save_resume_state

        start, end = _range_of(sent)
        rng = content_range(res) if res.status_code == 206 else None
        if res.status_code == 416 and start:
            self._mismatch(res, "the server has no such range (the file changed)")
        if res.status_code == 206 and (rng is None or rng[0] != (start or 0)):
            self._mismatch(res, f"the server sent another range ({res.headers.get('Content-Range')!r})")
        if rng is not None and rng[0] > 0:
            if self.kept is not None and not self.kept.same_file(res, rng[2]):
                self._mismatch(res, "the range belongs to another version of the file")
            return
        if res.status_code not in (200, 206):
            return
        if start and end is not None:  # a chunk the downloader cannot restart from zero
            self._mismatch(res, "the whole file came back for a chunk of it")
        discard_part(self.part)  # the file from its start: a kept part is replaced
        total = rng[2] if rng is not None else declared_size(res)
        self.kept = save_resume_state(self.part, self.url, res, total)

    def _mismatch(self, res: requests.Response, why: str) -> None:
        res.close()
        raise refused(
            FetchError(
                f"cannot resume the kept part: {why}",
                where=self.url,
                reason="resume_mismatch",
                retryable=True,
            )
        )


class _Active:
    """The download a ``YoutubeDL`` is making now (its handler checks that download's requests)."""

    def __init__(self) -> None:
        self.resume: PartResume | None = None


def _handler_class(
    client: PoliteClient,
    active: _Active | None = None,
    min_rate: float = 0.0,
    host_map: Mapping[str, str] | None = None,
) -> type:
    import http.client

    import requests
    import urllib3
    from yt_dlp.networking.common import RequestHandler, Response

    from collectors.transport import PoliteAdapter, bind, capped, map_host

    errors = _errors()

    class PoliteResponse(Response):
        def __init__(self, res: requests.Response) -> None:
            super().__init__(
                fp=res.raw, headers=res.headers, url=res.url, status=res.status_code, reason=res.reason
            )
            self._res = res

        def read(self, amt: int | None = None) -> bytes:
            if client.stop.is_set():  # a second Ctrl-C (or a fault that stops the run)
                raise refused(
                    FetchError("collection interrupted", where=self.url, reason="interrupted", retryable=True)
                )
            try:
                if amt is None:
                    return b"".join(iter(lambda: self.fp.read(1 << 20, decode_content=True), b""))
                return self.fp.read(amt, decode_content=True)
            except FetchError as e:  # the body's cap or a page's time (transport.CappedBody)
                raise refused(e) from e
            except urllib3.exceptions.ProtocolError as e:
                partial = next(
                    (
                        a
                        for a in (e.__context__, e.__cause__, *e.args)
                        if isinstance(a, http.client.IncompleteRead)
                    ),
                    None,
                )
                if partial is not None:
                    got = partial.partial if isinstance(partial.partial, int) else len(partial.partial)
                    raise errors.IncompleteRead(partial=got, expected=partial.expected) from e
                raise errors.TransportError(cause=e) from e
            except urllib3.exceptions.HTTPError as e:
                raise errors.TransportError(cause=e) from e

        def close(self) -> None:
            self._res.close()
            super().close()

    class PoliteRH(RequestHandler):
        """yt-dlp's one request handler: everything over the polite client's transport."""

        _SUPPORTED_URL_SCHEMES = ("http", "https")
        _SUPPORTED_PROXY_SCHEMES = None  # the session's own settings apply, as for our client
        _SUPPORTED_FEATURES = None

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            adapter = PoliteAdapter(
                client,
                host_map=host_map,
                retry=False,
                cap=client.cfg.max_body_bytes,
                page=False,
                min_rate=min_rate,
            )
            self.session = bind(requests.Session(), adapter)

        def _check_extensions(self, extensions: dict[str, Any]) -> None:
            super()._check_extensions(extensions)
            for key in ("cookiejar", "timeout", "legacy_ssl", "keep_header_casing", "impersonate"):
                extensions.pop(key, None)

        def _prepare_headers(self, request: Any, headers: Any) -> None:
            headers.setdefault("Accept-Encoding", "gzip, deflate")

        def close(self) -> None:
            self.session.close()

        def _send(self, request: Any) -> Any:
            self.session.cookies = self._get_cookiejar(request)
            headers = self._get_headers(request)
            resume = active.resume if active is not None and request.method == "GET" else None
            if resume is not None:  # a request of the media download: resumed only if checked
                headers = resume.headers(headers)
            loop = False
            try:
                if host_map and map_host(request.url, host_map) != request.url:
                    # a mirror answers for the real host: the allow-list still judges the real one
                    client.admit(request.url, check_robots=False)
                res = self.session.request(
                    method=request.method,
                    url=request.url,
                    data=request.data,
                    headers=headers,
                    timeout=self._calculate_timeout(request),
                    allow_redirects=True,
                    stream=True,
                )
            except FetchError as e:
                raise refused(e) from e
            except requests.exceptions.TooManyRedirects as e:
                res, loop = e.response, True
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                raise errors.TransportError(cause=e) from e
            except urllib3.exceptions.HTTPError as e:
                raise errors.TransportError(cause=e) from e
            except requests.exceptions.RequestException as e:
                raise errors.RequestError(cause=e) from e
            if resume is not None:
                _checked(resume, headers, res)
            else:  # a page (an extractor's webpage or API answer): a page's cap and time
                try:
                    capped(
                        res,
                        client.cfg.max_page_bytes,
                        method=request.method,
                        deadline_s=client.cfg.page_timeout_s,
                        refuse_declared=False,  # the generic extractor reads a media URL's start
                    )
                except FetchError as e:
                    raise refused(e) from e
            out = PoliteResponse(res)
            if not 200 <= out.status < 300:
                raise errors.HTTPError(out, redirect_loop=loop)
            return out

    return PoliteRH


def polite_youtubedl(
    params: dict[str, Any], client: PoliteClient, host_map: Mapping[str, str] | None = None
) -> Any:
    """A ``yt_dlp.YoutubeDL`` whose only way to the network is ``client``'s rules; requests for
    the hosts of ``host_map`` go to its base URLs instead (:func:`collectors.transport.map_host`),
    once the real host passed the allow-list."""
    import yt_dlp

    active = _Active()
    # a media body slower than http.min_rate_bytes_s over a minute fails 'timeout' (its part kept
    # for the rerun), as the polite client's own downloads; a rate limit asked of yt-dlp lowers it
    min_rate = client.cfg.min_rate_bytes_s
    if params.get("ratelimit"):
        min_rate = min(min_rate, float(params["ratelimit"]) / 2)
    handler = _handler_class(client, active, min_rate, host_map)

    class PoliteYoutubeDL(yt_dlp.YoutubeDL):
        #: whether a page was asked for yet (see :attr:`_first_webpage_request`)
        _asked_a_page = False

        @property
        def _first_webpage_request(self) -> bool:
            """yt-dlp's extractors ``time.sleep`` ``sleep_interval_requests`` before every page
            but the first, deaf to a stop; here that spacing is waited with the client's
            :attr:`~collectors.http.PoliteClient.pace` (as a rate-token wait: it ends when the run
            stops, and the request is then refused ``interrupted``), and yt-dlp told every page
            is its first, so it sleeps no more."""
            if self._asked_a_page:
                client.pace(float(self.params.get("sleep_interval_requests") or 0))
            return True

        @_first_webpage_request.setter
        def _first_webpage_request(self, first: bool) -> None:
            self._asked_a_page = not first

        def build_request_director(self, handlers: Any, preferences: Any = None) -> Any:
            return super().build_request_director([handler], None)

        def dl(self, name: str, info: dict[str, Any], subtitle: bool = False, test: bool = False) -> Any:
            """Every download yt-dlp makes passes here: only its own HTTP downloader may run, and
            it resumes its ``<name>.part`` only as :class:`PartResume` allows."""
            if info.get("url"):
                check_downloader(info, self.params, to_stdout=name == "-")
            if not info.get("url") or test or name == "-":
                return super().dl(name, info, subtitle=subtitle, test=test)
            resume = PartResume(Path(f"{name}.part"), str(info["url"]))  # HttpFD's temp_name
            resume.begin()
            active.resume = resume
            try:
                return super().dl(name, info, subtitle=subtitle, test=test)
            finally:
                active.resume = None
                resume.end()

        def in_download_archive(self, info_dict: dict[str, Any]) -> bool:
            return False  # the archive is a record; the catalog decides what is done

    return PoliteYoutubeDL(params)
