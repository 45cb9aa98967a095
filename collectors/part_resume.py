"""What resuming a cut-off download checks: the ``.part`` kept from an earlier try or run and
its state, ``.<name>.part.json`` beside it (the URL, the server's strong validator, the file's
size and type). One home for the polite client's downloads and yt-dlp's (``collectors.ytdl_net``):
a part is resumed with ``Range`` + ``If-Range`` only while its state shows the server still has
the same file; anything else starts over.
"""

from __future__ import annotations

import contextlib
import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from schemas.atomic import atomic_write_json
from schemas.errors import FetchError
from schemas.text_input import read_json_record


def unlink_quietly(path: Path) -> None:
    """Remove ``path``; one already gone is no error."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@dataclass(frozen=True)
class KeptPart:
    """A ``.part`` kept from an earlier try or run, with what its server said about the file."""

    size: int
    header: str  # the validator's header: ETag or Last-Modified
    validator: str
    total: int | None  # the whole file's size, when the server said it
    content_type: str | None

    @property
    def complete(self) -> bool:
        return self.total is not None and self.size == self.total

    def resume_headers(self) -> dict[str, str]:
        """Ask for the rest, and for the whole file instead should it have changed."""
        return {"Range": f"bytes={self.size}-", "If-Range": self.validator}

    def same_file(self, resp: requests.Response, total: int | None) -> bool:
        """Whether a 206 belongs to the version of the file this part holds the start of."""
        if self.total is not None and total is not None and total != self.total:
            return False
        now = resp.headers.get(self.header)
        return now is None or now.strip() == self.validator


@dataclass(frozen=True)
class Span:
    """Where an answer's body goes: from ``start``; ``total`` the file's size if said; ``partial`` a 206."""

    start: int
    total: int | None
    partial: bool


def state_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def kept_part(part: Path, url: str) -> KeptPart | None:
    """The kept ``.part`` of ``url`` with its resume state, or None: no part, no state (the
    server gave no validator, or an older version of this client kept it), state of another
    URL, or a part longer than the file."""
    try:
        size = part.stat().st_size
    except OSError:
        return None
    state = read_json_record(state_path(part), utf8_only=True)  # None: missing or unreadable
    if not isinstance(state, dict) or state.get("url") != url:
        return None
    header, validator, total = state.get("header"), state.get("validator"), state.get("total")
    if header not in ("ETag", "Last-Modified") or not isinstance(validator, str) or not validator:
        return None
    if total is not None and (not isinstance(total, int) or size > total):
        return None
    ctype = state.get("content_type")
    return KeptPart(size, header, validator, total, ctype if isinstance(ctype, str) else None)


def http_date(value: str | None) -> datetime | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime form) as an aware UTC datetime; None when
    absent or unreadable. A date without a zone (asctime, ``-0000``) is UTC (RFC 9110 5.6.7)."""
    if not value or not value.strip():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


#: How much earlier than the answer's Date a Last-Modified must be to count as strong.
STRONG_DATE_MARGIN = timedelta(seconds=1)


def strong_last_modified(resp: requests.Response) -> str | None:
    """The answer's Last-Modified when it is a strong validator: at least 1 s earlier than the
    answer's own Date (RFC 9110 8.8.2.2), else the file may have changed again within that
    second under the same date. None without a Date, or when either date is unreadable."""
    modified = (resp.headers.get("Last-Modified") or "").strip()
    when, date = http_date(modified), http_date(resp.headers.get("Date"))
    if when is None or date is None or when > date - STRONG_DATE_MARGIN:
        return None
    return modified


def strong_validator(resp: requests.Response) -> tuple[str, str] | tuple[None, None]:
    """(header, value) of the answer's strong validator: its ETag (a weak one cannot be used
    in If-Range), else its Last-Modified when that is strong (:func:`strong_last_modified`);
    (None, None) without one."""
    etag = (resp.headers.get("ETag") or "").strip()
    if etag and not etag.startswith("W/"):
        return "ETag", etag
    modified = strong_last_modified(resp)
    return ("Last-Modified", modified) if modified else (None, None)


def is_identity(resp: requests.Response) -> bool:
    """The body is sent as it is stored (no Content-Encoding): byte offsets match the file's."""
    return (resp.headers.get("Content-Encoding") or "identity").strip().lower() == "identity"


def save_resume_state(part: Path, url: str, resp: requests.Response, total: int | None) -> KeptPart | None:
    """Before a part is filled from the start, write (atomically) what resuming it must find
    again: the URL, the validator, the file's size and type; returns it as the (empty) kept
    part. Nothing, None, when the answer offers no way to check a resume (no strong ETag or
    Last-Modified, e.g. one in the same second as the answer's Date or with no Date to compare,
    ``Accept-Ranges: none``, an encoded body): a transfer cut off then starts over."""
    header, validator = strong_validator(resp)
    no_ranges = (resp.headers.get("Accept-Ranges") or "").strip().lower() == "none"
    if header is None or no_ranges or not is_identity(resp):
        return None
    state = {
        "url": url,
        "header": header,
        "validator": validator,
        "total": total,
        "content_type": resp.headers.get("Content-Type"),
    }
    atomic_write_json(state_path(part), state, sort_keys=True)
    return KeptPart(0, header, validator, total, state["content_type"])


def span_of(resp: requests.Response, kept: KeptPart | None, url: str) -> Span:
    """Where this answer's body goes in the file. A 206 must continue the kept part (or start
    a new one) of the same file; else ``resume_mismatch`` (the part is dropped, fetched again)."""
    if resp.status_code != 206:
        return Span(0, declared_size(resp), False)  # the whole file
    rng = content_range(resp)
    offset = kept.size if kept is not None else 0
    if rng is None or rng[0] != offset or (kept is not None and not kept.same_file(resp, rng[2])):
        raise FetchError(
            f"answer {resp.headers.get('Content-Range')!r} is not the rest of the kept part "
            f"(from byte {offset}, same file)",
            where=url,
            reason="resume_mismatch",
            retryable=True,
        )
    return Span(rng[0], rng[2], True)


def declared_size(resp: requests.Response) -> int | None:
    """The whole file's size a 200 declares (None: not said, or an encoded body)."""
    declared = (resp.headers.get("Content-Length") or "").strip()
    return int(declared) if declared.isdigit() and is_identity(resp) else None


def content_range(resp: requests.Response) -> tuple[int, int, int | None] | None:
    """(first, last, total) of ``Content-Range: bytes first-last/total`` (total None for ``*``)."""
    value = (resp.headers.get("Content-Range") or "").strip()
    unit, _, spec = value.partition(" ")
    span, _, total = spec.strip().partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not (first.isdigit() and last.isdigit()) or int(last) < int(first):
        return None
    if total == "*":
        return int(first), int(last), None
    return (int(first), int(last), int(total)) if total.isdigit() else None


def discard_part(part: Path) -> None:
    """Remove a ``.part`` and its resume state."""
    unlink_quietly(part)
    unlink_quietly(state_path(part))


def keep_if_resumable(part: Path, url: str) -> None:
    """Keep a cut-off part for the next try or run only when it can be resumed (its state says
    which file it is the start of); else it would only take space."""
    if kept_part(part, url) is None:
        discard_part(part)
