"""yt-dlp as a library, and the source base shared by the TikTok and URL-list sources.

yt-dlp extracts (pages, playlists, saved info JSON files) and downloads with its own HTTP
downloader, configured from our politeness settings (User-Agent, timeouts, retries with
backoff, bandwidth cap, size cap); every request it sends goes over the polite client's
transport (allowed hosts, robots.txt, rate limits: ``collectors.ytdl_net``). Before any
download, every format URL must be on an allowed host and plain http(s); other formats are
dropped, and an info dict that would make yt-dlp hand the download to ffmpeg (a section of the
video: ``section_start``/``section_end``) is refused; at download time any downloader but
yt-dlp's own HTTP one is refused as well (``unsupported_protocol``). The file yt-dlp writes (a
hidden name in the item folder) is then checked (decodes, size) and moved into the layout by
the context. A cut-off download keeps its ``.part`` for the next try or run, which resumes it
only as the polite client resumes its own: with the server's validator in ``If-Range`` and
into the rest of that same file, else from the start (:class:`~collectors.ytdl_net.PartResume`).
Its ``download_archive`` (``ROOT/<source>/.ytdlp-archive.txt``, written by
downloads only) records finished ids; it never makes yt-dlp skip one: the catalog decides what
is done.

:class:`YtdlSource` is what the yt-dlp sources share: playlist expansion, the item from an
info dict, and the media of an item (its video, plus a shop image when one is mapped). A
collected item whose mapped shop image is not the one it was collected with is paired anew by
a rerun (the new image fetched, the old row and file dropped; its video is kept); one that
cleaning has moved on, or that the collector rejected, is only named in a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.base import Found, Source, UnsafeId
from collectors.config import HttpConfig, host_of
from collectors.core import (
    IN_PLACE,
    PAST_COLLECTION,
    Candidate,
    CollectContext,
    answer_changed_shape,
    collector_rejected,
    given_up,
    hashtags_in,
    safe_id,
    status_for,
)
from collectors.hosts import HostPolicy
from collectors.shopmap import ShopRef, lookup
from collectors.ytdl_net import policy_refusal, polite_youtubedl, refused, safe_protocol
from schemas.atomic import sweep_partials
from schemas.errors import DataFormatError, FetchError, LocalFault
from schemas.faults import as_local_fault, local_faults
from schemas.items import AssetKind, MediaAsset, SourceItem, Status
from schemas.redact import add_secrets, redacted_logger

if TYPE_CHECKING:
    from collectors.http import PoliteClient

log = redacted_logger("collectors.ytdl")

#: Info-dict keys not kept as item metadata (big, private or request-specific).
DROP_KEYS = {
    "formats",
    "requested_formats",
    "requested_downloads",
    "http_headers",
    "thumbnails",
    "automatic_captions",
    "subtitles",
    "_version",
    "filepath",
    "_filename",
    "filename",
    "url",
    "fragments",
    "cookies",
    "requested_subtitles",
    "__files_to_move",
    "__postprocessors",
}


class _Log:
    """yt-dlp logger that keeps the messages (to classify failures) and never prints secrets."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, msg: str) -> None:
        if msg.startswith("[download]") and "larger than max-filesize" in msg:
            self.messages.append(msg)

    def info(self, msg: str) -> None:
        self.debug(msg)

    def warning(self, msg: str) -> None:
        self.messages.append(msg)
        log.debug("yt-dlp: %s", msg)

    def error(self, msg: str) -> None:
        self.messages.append(msg)
        log.debug("yt-dlp: %s", msg)


def reason_of(text: str) -> str:
    """A short reason from a yt-dlp message."""
    m = re.search(r"HTTP Error (\d{3})", text)
    if m:
        code = int(m.group(1))
        return f"http_{code}_exhausted" if code in (429, 500, 502, 503, 504) else f"http_{code}"
    low = text.lower()
    if "max-filesize" in low:
        return "too_large"
    if "unsupported url" in low:
        return "unsupported_url"
    if "requested format is not available" in low or "no video formats" in low:
        return "no_formats"
    if "timed out" in low:
        return "timeout_exhausted"
    if "content too short" in low or "incomplete" in low or re.search(r"bytes read, \d+ more expected", low):
        return "truncated_body"
    if "connection" in low or "unable to download" in low:
        return "connection_error_exhausted"
    return "ytdlp_error"


class YtdlFetcher:
    """Extract and download with yt-dlp under our politeness and host rules."""

    def __init__(
        self,
        http: HttpConfig,
        policy: HostPolicy,
        *,
        fmt: str = "best[ext=mp4]/best",
        archive: str | os.PathLike[str] | None = None,
        ratelimit: int | None = None,
        client: PoliteClient | None = None,
        sleep: Any = None,
        host_map: Mapping[str, str] | None = None,
        extractor_args: Mapping[str, Mapping[str, list[str]]] | None = None,
    ) -> None:
        self.http = http
        #: yt-dlp's ``extractor_args`` (extractor key -> argument -> values): ``tiktok.extractor_args``
        self.extractor_args = {k: dict(v) for k, v in (extractor_args or {}).items() if v}
        add_secrets(_secret_values(self.extractor_args))  # never shown: schemas.redact
        #: real hosts (``.domain`` keys: a domain and the names under it) -> the base URL that
        #: answers for them (a mirror, the loopback world): ``tiktok.api_base``
        self.host_map = dict(host_map or {})
        self.policy = policy
        self.fmt = fmt
        self.archive = str(archive) if archive else None
        self.ratelimit = ratelimit
        if client is None:  # yt-dlp never talks to the network on its own
            from collectors.http import PoliteClient

            client = PoliteClient(http, policy=policy, sleep=sleep)
        self.client = client  # yt-dlp's transport and the pre-flight checks of media URLs
        self.sleep = sleep if sleep is not None else client.sleep  # ends when the run stops or winds down

    def params(self, *, where: str = "", **extra: Any) -> dict[str, Any]:
        """yt-dlp's options for one extraction or download (``where``: its URL, named should a
        stop end one of yt-dlp's own retry waits); ``extra`` adds or replaces options."""
        wait = self._retry_wait(where)
        p: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": _Log(),
            "format": self.fmt,
            "http_headers": {"User-Agent": self.http.user_agent},
            "socket_timeout": self.http.read_timeout_s,
            "retries": self.http.max_retries,
            "fragment_retries": self.http.max_retries,
            "extractor_retries": self.http.max_retries,
            "retry_sleep_functions": {"http": wait, "fragment": wait, "extractor": wait},
            "sleep_interval_requests": 1.0 / self.http.rate_per_host,
            "max_filesize": self.http.max_body_bytes,
            "continuedl": True,
            "overwrites": False,
            "cachedir": False,
            "noplaylist": False,
            "ignoreerrors": False,
            "writeinfojson": False,
            "check_formats": False,
        }
        if self.ratelimit:
            p["ratelimit"] = self.ratelimit
        if self.extractor_args:
            p["extractor_args"] = {
                k: {a: list(v) for a, v in args.items()} for k, args in self.extractor_args.items()
            }
        with contextlib.suppress(Exception):
            from movingfashion.media.ffmpeg import ffmpeg_exe

            p["ffmpeg_location"] = ffmpeg_exe()
        p.update(extra)
        return p

    def _sleep_for(self, n: int) -> float:
        return min(self.http.backoff_base_s * (2**n), self.http.backoff_max_s)

    def _retry_wait(self, where: str) -> Callable[..., float]:
        """yt-dlp's wait before its own retry ``n`` (HTTP, fragment, extractor), waited here with
        :attr:`sleep` instead of yt-dlp's ``time.sleep``, deaf to Ctrl-C: it ends as soon as the
        run stops or winds down, and then no further try goes out (``interrupted``, carried out
        of yt-dlp as the polite client's refusal). Returns 0: yt-dlp has nothing left to sleep."""

        def wait(n: int) -> float:
            self.sleep(self._sleep_for(n))
            try:
                self._check_stop(where)
            except FetchError as exc:
                raise refused(exc) from None
            return 0.0

        return wait

    def extract(
        self,
        url: str,
        *,
        process: bool = True,
        warnings: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """yt-dlp's info dict for a URL (no download). ``process=False`` keeps playlists lazy.
        ``warnings``: yt-dlp's warnings of this extraction are added to it; ``extra``: options
        that replace the fetcher's (:meth:`params`) for this extraction.

        Busy answers (429/5xx) are retried with backoff, honouring Retry-After when present.
        """
        import yt_dlp

        for attempt in range(self.http.max_retries + 1):
            logger = _Log()
            try:
                with polite_youtubedl(
                    self.params(where=url, logger=logger, **extra), self.client, self.host_map
                ) as ydl:
                    info = ydl.extract_info(url, download=False, process=process)
                break
            except yt_dlp.utils.DownloadError as exc:
                _raise_refusal(exc)
                reason = reason_of(str(exc))
                if attempt < self.http.max_retries and reason.startswith(("http_429", "http_5")):
                    wait = _retry_after(exc)
                    self.sleep(
                        min(
                            wait if wait is not None else self._sleep_for(attempt),
                            self.http.retry_after_max_s,
                        )
                    )
                    self._check_stop(url)
                    continue
                raise FetchError(
                    f"yt-dlp could not extract: {_clean(str(exc))}", where=url, reason=reason, retryable=True
                ) from None
            except Exception as exc:  # a refusal yt-dlp did not wrap (its extractors pass it through)
                _raise_refusal(exc)
                raise
            finally:
                if warnings is not None:
                    warnings.extend(logger.messages)
        if info is None:
            raise FetchError("yt-dlp returned nothing", where=url, reason="ytdlp_error")
        return info

    def download(self, info: dict[str, Any], folder: Path, *, stem: str = "video") -> Path:
        """Download the best allowed format of ``info`` into ``folder/.<stem>.ytdl.<ext>``; return it.

        A pre-flight HEAD through the polite client checks each direct media URL first
        (robots, rate limit, redirects kept on allowed hosts, content type, declared size);
        busy answers (429/5xx) that yt-dlp gives up on are retried here with backoff.
        """
        info = allowed_formats(info, self.policy)
        info = self._wait_until_available(info)
        self.preflight(info)
        last: FetchError | None = None
        for attempt in range(self.http.max_retries + 1):
            try:
                return self._download_fresh(info, folder, stem)
            except FetchError as exc:
                if not (exc.reason.startswith(("http_429", "http_5")) or exc.reason == "truncated_body"):
                    raise
                last = exc
                if attempt < self.http.max_retries:
                    wait = (
                        exc.retry_after
                        if getattr(exc, "retry_after", None) is not None
                        else self._sleep_for(attempt)
                    )
                    self.sleep(min(wait, self.http.retry_after_max_s))
                    self._check_stop(str(info.get("webpage_url") or info.get("url") or ""))
        assert last is not None
        raise last

    def _wait_until_available(self, info: dict[str, Any]) -> dict[str, Any]:
        """``info`` without ``available_at`` (a format's earliest download time), waited out here:
        yt-dlp would sleep until then without a cap and deaf to Ctrl-C. A time further away than
        ``http.retry_after_max_s`` fails the item ``not_yet_available`` (a rerun tries again)."""
        entries = [info, *(f for f in info.get("formats") or () if isinstance(f, dict))]
        times = [float(e["available_at"]) for e in entries if isinstance(e.get("available_at"), int | float)]
        wait = max(times, default=0.0) - time.time()
        if wait > self.http.retry_after_max_s:
            when = datetime.fromtimestamp(max(times), tz=UTC).isoformat(timespec="seconds")
            raise FetchError(
                f"the video can be downloaded only from {when} ({wait:.0f}s from now)",
                where=_where(info),
                reason="not_yet_available",
                retryable=True,
                hint="rerun after that time (waits longer than http.retry_after_max_s are not sat out)",
            )
        if wait > 0:
            log.info("%s: waiting %.0fs until the site makes the video available", _where(info), wait)
            self.sleep(wait)
            self._check_stop(_where(info))
        out = {k: v for k, v in info.items() if k != "available_at"}
        if "formats" in out:
            out["formats"] = [
                {k: v for k, v in f.items() if k != "available_at"} if isinstance(f, dict) else f
                for f in out["formats"]
            ]
        return out

    def _check_stop(self, url: str) -> None:
        """After a wait: the run stopped (a second Ctrl-C, SIGTERM) or winds down (the first
        Ctrl-C) meanwhile, so no further try: ``interrupted``, for a rerun."""
        self.client.check_stop(url, winding=True)

    def preflight(self, info: dict[str, Any]) -> None:
        """HEAD the direct http(s) media URL(s) of ``info`` through the polite client."""
        if self.client is None:
            return
        urls = [
            f["url"]
            for f in info.get("formats") or []
            if str(f.get("protocol", "http")).startswith("http")
            and not str(f.get("url", "")).endswith(".m3u8")
        ][:1] or ([info["url"]] if info.get("url") else [])
        for url in urls:
            try:
                self.client.head_check(self._mapped(url), "video")
            except FetchError as exc:
                if exc.reason in ("http_405", "http_501"):
                    continue  # no HEAD on this server: yt-dlp's GET decides
                raise

    def _mapped(self, url: str) -> str:
        """``url`` on the base URL that answers for its host (:attr:`host_map`), or itself."""
        if not self.host_map:
            return url
        from collectors.transport import map_host  # lazy: --help loads no requests

        return map_host(url, self.host_map)

    def _download_fresh(self, info: dict[str, Any], folder: Path, stem: str) -> Path:
        """One try. A kept ``.part`` that turns out not to be the start of the server's file (a
        range of another version: ``resume_mismatch``) is dropped and the file fetched again from
        its start at once, without counting a try (as the polite client does)."""
        try:
            return self._download_once(info, folder, stem)
        except FetchError as exc:
            if exc.reason != "resume_mismatch":
                raise
            log.info("%s: %s; fetching it from the start", _where(info), exc.message)
            _drop_tries(folder, stem)
            return self._download_once(info, folder, stem)

    def _download_once(self, info: dict[str, Any], folder: Path, stem: str) -> Path:
        import yt_dlp

        with local_faults(folder):
            folder.mkdir(parents=True, exist_ok=True)
            sweep_partials(folder)  # a killed run's half-written resume state: never kept
        for stale in folder.glob(f".{stem}.ytdl.*"):  # a finished but unchecked earlier try
            if not stale.name.endswith(_KEPT):
                stale.unlink()
        cap = self.http.max_body_bytes

        def size_guard(d: dict[str, Any]) -> None:
            if (d.get("downloaded_bytes") or 0) > cap:
                raise _TooLarge()

        template = str(folder / f".{stem}.ytdl.").replace("%", "%%") + "%(ext)s"
        params = self.params(
            where=_where(info), outtmpl={"default": template}, paths={}, progress_hooks=[size_guard]
        )
        if self.archive:  # a record of finished ids (the item folder made its parent)
            params["download_archive"] = self.archive
        logger: _Log = params["logger"]
        try:
            with polite_youtubedl(params, self.client, self.host_map) as ydl:
                result = ydl.process_ie_result(info, download=True)
        except _TooLarge:
            _drop_tries(folder, stem)
            raise FetchError(
                f"body exceeds the {cap}-byte cap", where=_where(info), reason="too_large"
            ) from None
        except yt_dlp.utils.DownloadError as exc:
            _raise_refusal(exc, folder, stem)
            _raise_local_fault(exc, folder, stem)
            if isinstance(_cause(exc), _TooLarge):
                _drop_tries(folder, stem)
                raise FetchError(
                    f"body exceeds the {cap}-byte cap", where=_where(info), reason="too_large"
                ) from None
            err = FetchError(
                f"yt-dlp download failed: {_clean(str(exc))}",
                where=_where(info),
                reason=reason_of(str(exc)),
                retryable=True,
            )
            err.retry_after = _retry_after(exc)  # type: ignore[attr-defined]
            raise err from None
        except Exception as exc:  # a refusal yt-dlp did not wrap
            _raise_refusal(exc, folder, stem)
            _raise_local_fault(exc, folder, stem)
            raise
        files = [
            Path(d["filepath"]) for d in (result or {}).get("requested_downloads") or [] if d.get("filepath")
        ]
        files = [f for f in files if f.exists()] or [
            f for f in folder.glob(f".{stem}.ytdl.*") if not f.name.endswith(_KEPT)
        ]
        if not files:
            text = " ".join(logger.messages)
            raise FetchError(
                f"yt-dlp wrote no file ({_clean(text) or 'no message'})",
                where=_where(info),
                reason=reason_of(text) if text else "ytdlp_error",
            )
        path = files[0]
        if path.stat().st_size > self.http.max_body_bytes:
            path.unlink()
            raise FetchError("download exceeds the size cap", where=_where(info), reason="too_large")
        return path


def _entries_of(entries: Any, url: str) -> Iterator[Any]:
    """The entries of a lazy yt-dlp listing (``url``), each page's failure as a
    :class:`FetchError` naming the listing: the polite client's refusal (``interrupted`` too)
    with its own reason, anything yt-dlp raised (a busy page, an answer its extractor cannot
    read) with the reason of its message and its words."""
    import yt_dlp

    it = iter(entries)
    while True:
        try:
            entry = next(it)
        except StopIteration:
            return
        except yt_dlp.utils.YoutubeDLError as exc:  # the polite client's refusals are some too
            refused = policy_refusal(exc)
            if refused is not None:  # its own reason; the line names the listing and the page
                at = refused.where or ""
                said = refused.message if at in refused.message else f"{refused.message} (at {at})"
                raise FetchError(
                    said, where=url, reason=refused.reason, hint=refused.hint, retryable=False
                ) from None
            raise FetchError(
                f"yt-dlp could not read the rest of the listing: {_clean(str(exc))}",
                where=url,
                reason=reason_of(str(exc)),
                hint="the videos listed before are kept; rerun later to read the rest, and if it lasts "
                "update yt-dlp (pip install -U yt-dlp): the site may have changed",
                retryable=True,
            ) from None
        yield entry


def _raise_refusal(exc: BaseException, folder: Path | None = None, stem: str = "") -> None:
    """Re-raise the polite client's refusal behind a yt-dlp error with its own reason. A body
    over its cap (``too_large``, counted by the transport as it is read) is never resumed: the
    try's partial files in ``folder`` go."""
    refused = policy_refusal(exc)
    if refused is not None:
        if refused.reason == "too_large" and folder is not None:
            _drop_tries(folder, stem)
        raise FetchError(
            refused.message, where=refused.where, hint=refused.hint, reason=refused.reason, retryable=False
        ) from None


def _raise_local_fault(exc: BaseException, folder: Path, stem: str) -> None:
    """A local fault behind a yt-dlp error (it could not write: disk full, ...) raises LocalFault;
    its partial files go (they would only take the space a rerun needs)."""
    fault = as_local_fault(exc, folder)
    if fault is None:
        return
    _drop_tries(folder, stem)
    raise fault from None


def _drop_tries(folder: Path, stem: str) -> None:
    """Remove what tries of ``stem`` left in ``folder`` (``.part``, its resume state, a file)."""
    for f in folder.glob(f".{stem}.ytdl.*"):
        with contextlib.suppress(OSError):
            f.unlink()


#: What an unfinished yt-dlp download leaves for the next try: its ``.part`` (with the resume
#: state beside it, :class:`~collectors.ytdl_net.PartResume`) and its ``.ytdl`` notes.
_KEPT = (".part", ".part.json", ".ytdl")


class _TooLarge(Exception):
    """Raised from a progress hook when a download passes the size cap."""


def _cause(exc: BaseException) -> BaseException | None:
    info = getattr(exc, "exc_info", None)
    return info[1] if info else exc.__cause__ or exc.__context__


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the Retry-After of the HTTP error behind a yt-dlp DownloadError asks for, when it
    had one: delay-seconds or an HTTP-date (measured against the answer's own ``Date``)."""
    from collectors.http import parse_retry_after

    cause = _cause(exc)
    response = getattr(cause, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    return parse_retry_after(str(value), headers.get("Date"))


#: Info keys that make yt-dlp hand a download to ffmpeg (which fetches the media itself).
EXTERNAL_KEYS = ("section_start", "section_end")
#: Info keys of an earlier run's format selection: yt-dlp would download their URLs as they
#: are, past the checks here (it selects again from ``formats``).
STALE_KEYS = ("requested_formats", "requested_downloads")


def _external_keys(info: dict[str, Any]) -> list[str]:
    """The keys of ``info`` that would route its download to an external program."""
    return [k for k in EXTERNAL_KEYS if info.get(k) is not None]


def _without_stale(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` without an earlier run's format selection (logged when there was one)."""
    stale = [k for k in STALE_KEYS if k in info]
    if not stale:
        return info
    log.info("%s: ignoring %s of the saved info (formats are selected again)", _where(info), ", ".join(stale))
    return {k: v for k, v in info.items() if k not in STALE_KEYS}


def allowed_formats(info: dict[str, Any], policy: HostPolicy) -> dict[str, Any]:
    """``info`` with only formats whose URLs are on allowed hosts and that yt-dlp fetches over
    plain http(s) itself; refuse when none is left, or when the info asks for a section of the
    video (ffmpeg would fetch it: ``unsupported_protocol``). An earlier selection
    (``requested_formats``) is dropped."""
    info = _without_stale(dict(info))
    external = _external_keys(info)
    if external:
        raise FetchError(
            f"the info asks for a section of the video ({', '.join(external)}): yt-dlp would hand the "
            "download to ffmpeg, which fetches it outside the polite client's rules",
            where=_where(info),
            reason="unsupported_protocol",
            hint=f"remove {' and '.join(external)} from the info JSON to collect the whole video",
        )
    formats = info.get("formats")
    if formats:
        kept = [
            _without_stale(f)
            for f in formats
            if isinstance(f, dict) and f.get("url") and policy.allows(f["url"])
        ]
        if not kept:
            raise FetchError(
                "no format URL is on an allowed host",
                where=_where(info),
                reason="host_not_allowed",
                hint="add the media host to the source's config if it is trusted",
            )
        direct = [f for f in kept if safe_protocol(f) and not _external_keys(f)]
        if not direct:
            raise FetchError(
                "no format is plain http(s) media (HLS, DASH, RTMP and the like are fetched by external "
                "programs, outside the polite client's rules)",
                where=_where(info),
                reason="unsupported_protocol",
                hint="only direct http(s) media can be collected",
            )
        info["formats"] = direct
    elif info.get("url"):
        if not policy.allows(info["url"]):
            raise FetchError(
                "media URL is not on an allowed host", where=_where(info), reason="host_not_allowed"
            )
        if not safe_protocol(info):
            raise FetchError(
                "media is not plain http(s) (it would be fetched outside the polite client's rules)",
                where=_where(info),
                reason="unsupported_protocol",
            )
    else:
        raise FetchError("info has no formats and no url", where=_where(info), reason="no_formats")
    return info


def load_info_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Info dicts of a saved yt-dlp ``.info.json`` (one object, a list, or JSON lines); a file
    with none (empty, ``[]``) is a :class:`DataFormatError` naming it."""
    from schemas.text_input import load_json, read_text_input

    p = Path(path)
    text = read_text_input(p, "info file")
    hint = "not a yt-dlp info JSON: write it with yt-dlp --write-info-json"
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # JSON lines (or no JSON: the one home words it, naming the line)
        lines = enumerate(text.splitlines(), 1)
        data = [load_json(line, f"{p} line {n}", hint=hint) for n, line in lines if line.strip()]
    except (ValueError, RecursionError):  # a 5000-digit number, nesting too deep
        data = load_json(text, str(p), hint=hint)  # raises DataFormatError naming the file
    infos = data if isinstance(data, list) else [data]
    if not infos:  # zero bytes, blank lines or ``[]``: what a killed yt-dlp or a full disk leaves
        raise DataFormatError(
            "info file holds no info object",
            where=str(p),
            hint="a yt-dlp run cut short leaves one empty: write it again with yt-dlp --write-info-json",
        )
    if not all(isinstance(i, dict) for i in infos):
        raise DataFormatError("info JSON must hold objects", where=str(p))
    return infos


def metadata_of(info: dict[str, Any]) -> dict[str, Any]:
    """The info dict as item metadata: huge/private keys dropped, format ids kept."""
    meta = {k: v for k, v in info.items() if k not in DROP_KEYS and not k.startswith("__")}
    if info.get("formats"):
        meta["format_ids"] = [f.get("format_id") for f in info["formats"] if isinstance(f, dict)]
    return json.loads(json.dumps(meta, default=str))


def _where(info: dict[str, Any]) -> str:
    return str(info.get("webpage_url") or info.get("original_url") or info.get("id") or "info")


def _missing_shop(shop: ShopRef) -> FetchError:
    """Why a mapped local shop image was not collected, naming the map row that gave it."""
    return FetchError(
        "shop image file not found" + (f" (named at {shop.where})" if shop.where else ""),
        where=str(shop.path or shop.key),
        hint="put the file there or correct the shop map",
        reason="shop_file_missing",
    )


def _secret_values(extractor_args: Mapping[str, Mapping[str, list[str]]]) -> list[str]:
    """The values of yt-dlp extractor arguments never to be shown: each as given, and an
    ``app_info``'s install id (its first ``/`` field, what TikTok's app API is asked with)."""
    out: list[str] = []
    for args in extractor_args.values():
        for name, values in args.items():
            for value in values:
                out.append(value)
                if name == "app_info":
                    out.append(value.split("/", 1)[0])
    return out


def _clean(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("ERROR: ", "").strip()[:300]


def archive_path(root: str | os.PathLike[str], source: str) -> Path:
    """yt-dlp's download archive of one source: ``ROOT/<source>/.ytdlp-archive.txt``.

    Only the path: nothing is created here (a dry run writes nothing); the first download makes
    the item folder, and so this one, before yt-dlp appends to the file."""
    return Path(root) / str(source) / ".ytdlp-archive.txt"


@dataclass(frozen=True)
class _Packed:
    """A candidate's payload on its way to a worker, with its shop references."""

    payload: Any
    shops: dict[str, ShopRef]


class YtdlSource(Source):
    """The yt-dlp sources' shared hooks: an item per info dict, its video and mapped shop image."""

    def __init__(self, ctx: CollectContext) -> None:
        super().__init__(ctx)
        self.shop_map: dict[str, ShopRef] = {}  # video id or URL -> its shop image
        self.fetcher = YtdlFetcher(
            ctx.cfg.http,
            ctx.client.policy,
            fmt=self.cfg.format,
            archive=archive_path(ctx.root, self.name),
            ratelimit=self.cfg.ratelimit_bytes_s,
            client=ctx.client,
            sleep=ctx.client.sleep,
            host_map=self.host_map(),
            extractor_args=self.extractor_args(),
        )

    def host_map(self) -> dict[str, str]:
        """Real hosts whose requests go to another base URL (a mirror); none here."""
        return {}

    def extractor_args(self) -> dict[str, dict[str, list[str]]]:
        """yt-dlp's ``extractor_args`` for this source's extractions; none here."""
        return {}

    def pack(self, cand: Candidate) -> Candidate:
        """The candidate with the shop references discovery mapped to it (a URL list's second
        column), which a worker's copy of the source does not have."""
        info = cand.payload if isinstance(cand.payload, dict) else {}
        keys = {cand.raw_id, cand.url, info.get("id"), info.get("webpage_url"), info.get("original_url")}
        shops = {str(k): self.shop_map[str(k)] for k in keys if k is not None and str(k) in self.shop_map}
        return replace(cand, payload=_Packed(cand.payload, shops))

    def unpack(self, cand: Candidate) -> Candidate:
        if not isinstance(cand.payload, _Packed):
            return cand
        self.shop_map.update(cand.payload.shops)
        return replace(cand, payload=cand.payload.payload)

    def playlist(self, url: str) -> Iterator[Candidate]:
        """Candidates of a URL yt-dlp expands (a user, a hashtag) or of one video page. yt-dlp
        reads a listing's further pages as its entries are taken: a page that fails then (busy,
        refused, answered in a shape its extractor cannot read) ends the listing with a
        :class:`FetchError` naming the listing's URL, the candidates before it kept."""
        info = self.fetcher.extract(url, process=False)
        entries = info.get("entries")
        if entries is None:
            yield Candidate(
                raw_id=info.get("id"),
                url=info.get("webpage_url") or url,
                key=host_of(url) or None,
                payload=info if info.get("formats") or info.get("url") else None,
            )
            return
        if isinstance(entries, str | bytes | dict) or not hasattr(entries, "__iter__"):
            raise answer_changed_shape("entries", url, found=f"a {type(entries).__name__}, not a list")
        for entry in _entries_of(entries, url):
            if not isinstance(entry, dict):
                continue
            yield Candidate(
                raw_id=entry.get("id"),
                url=entry.get("url") or entry.get("webpage_url"),
                key=host_of(url) or None,
                payload=entry if entry.get("formats") else None,
            )

    def extract(self, sid: str, cand: Candidate) -> dict[str, Any]:
        """The info dict of a candidate discovered without one."""
        return self.fetcher.extract(cand.url or sid)

    def item_from(self, sid: str, info: dict[str, Any], url: str | None) -> SourceItem:
        desc = info.get("description") or None
        tags = [t for t in info.get("tags") or [] if isinstance(t, str)] or hashtags_in(desc)
        return SourceItem(
            source=self.name,
            source_id=sid,
            url=info.get("webpage_url") or url,
            title=info.get("title") or None,
            description=desc,
            caption=desc,
            hashtags=tags,
            designer=None,
            colour=None,
            has_video=True,
            metadata=metadata_of(info),
        )

    def describe(self, sid: str, cand: Candidate) -> Found:
        info = cand.payload if cand.payload is not None else self.extract(sid, cand)
        if info.get("id") is not None and str(info["id"]) != sid:
            real = safe_id(str(info["id"]))
            if real is None:
                raise UnsafeId(str(info["id"]))
            sid = real
        return Found(self.item_from(sid, info, cand.url), cand, info)

    def mapped_shop(self, sid: str, cand: Candidate) -> ShopRef | None:
        """The shop image mapped to a candidate before it is read (by its id, its page URL, the
        candidate's URL or the URL it was asked for), if any."""
        info = cand.payload if isinstance(cand.payload, dict) else {}
        return lookup(self.shop_map, sid, info.get("webpage_url"), cand.url, info.get("original_url"))

    def changed(self, sid: str, cand: Candidate) -> bool:
        """Whether a collected item's mapped shop image is not the one it was collected with
        (a corrected map, or a map given after the first run): it is then paired anew. Items
        cleaning has moved on, or the collector rejected, are only named in a warning."""
        shop = self.mapped_shop(sid, cand)
        if shop is None:
            return False
        recorded = self.ctx.catalog.assets(source=str(self.name), source_id=sid, kind=str(AssetKind.SHOP))
        if any(a.url == shop.key for a in recorded):
            return False
        row = self.ctx.catalog.get_item(str(self.name), sid)
        if row is None:
            return False
        was = ", ".join(sorted(a.url or "?" for a in recorded)) or "none"
        at = f" ({shop.where})" if shop.where else ""
        if row.status == Status.DOWNLOADED:
            log.warning(
                "%s %s: pairing it anew with shop image %s%s (it had %s)", self.name, sid, shop, at, was
            )
            return True
        if collector_rejected(row.status, row.reason):
            todo = "--retry-rejected collects it again with it"
        elif given_up(row.status, row.reason):
            todo = "--retry-given-up collects it again with it"
        elif row.status in PAST_COLLECTION:
            todo = f"cleaning has used the recorded one ({row.status}): not paired anew"
        else:
            return False
        log.warning(
            "%s %s: the shop map names shop image %s%s, it was collected with %s (%s%s); %s",
            self.name,
            sid,
            shop,
            at,
            was,
            row.status,
            f" {row.reason}" if row.reason else "",
            todo,
        )
        return False

    def fetch_media(self, found: Found) -> tuple[list[MediaAsset], set[AssetKind]]:
        item, info, cand = found.item, found.data, found.cand
        key = item.url or cand.url or f"{self.name}:{item.source_id}"
        assets = [self._video(item, info, key)]
        required = {AssetKind.VIDEO}
        shop = lookup(self.shop_map, item.source_id, item.url, cand.url, info.get("original_url"))
        if shop is not None:
            required.add(AssetKind.SHOP)
            assets.append(self._shop(item, shop))
        return assets, required

    def _shop(self, item: SourceItem, shop: ShopRef) -> MediaAsset:
        """The item's mapped shop image (a URL fetched, a file copied); once it is in place, the
        item's other shop rows (an earlier pairing) are dropped."""
        ctx = self.ctx
        if shop.url:
            asset = ctx.fetch_asset(item, AssetKind.SHOP, shop.url, "image")
        elif shop.path is not None and shop.path.is_file():
            asset = ctx.adopt_file(item, AssetKind.SHOP, shop.path, "image", url=shop.key)
        else:
            asset = MediaAsset(
                source=self.name,
                source_id=item.source_id,
                kind=AssetKind.SHOP,
                url=shop.key,
                status=Status.REJECTED,
                reason="shop_file_missing",
            )
            ctx.catalog.upsert_assets([asset])
            ctx.note_failure(asset, _missing_shop(shop), url=str(shop.path or shop.key))
        if asset.status in IN_PLACE:
            rows = ctx.catalog.assets(
                source=str(item.source), source_id=item.source_id, kind=str(AssetKind.SHOP)
            )
            ctx.drop_assets([a for a in rows if a.url != asset.url])
        return asset

    def _video(self, item: SourceItem, info: dict[str, Any], key: str) -> MediaAsset:
        ctx = self.ctx
        known = ctx.known_asset(item.source, item.source_id, AssetKind.VIDEO, key)
        if known is not None:
            return known
        try:
            path = self.fetcher.download(info, ctx.item_dir(item.source, item.source_id))
        except LocalFault as fault:
            ctx.record_fault(item, AssetKind.VIDEO, key, fault)
            raise
        except FetchError as exc:
            log.info("%s/%s video: %s (%s)", item.source, item.source_id, exc.reason, exc.message)
            asset = MediaAsset(
                source=item.source,
                source_id=item.source_id,
                kind=AssetKind.VIDEO,
                url=key,
                status=status_for(exc.reason),
                reason=exc.reason,
            )
            if exc.reason != "interrupted":  # as CollectContext.fetch_asset: the rerun resumes it
                ctx.catalog.upsert_assets([asset])
            ctx.note_failure(asset, exc, exc.where if exc.where and "://" in exc.where else None)
            return asset
        return ctx.adopt_file(
            item,
            AssetKind.VIDEO,
            path,
            "video",
            url=key,
            move=True,
            content_type="video/" + (info.get("ext") or "mp4"),
        )
