"""Show user text as itself: escaping for the Markdown and HTML the toolkit writes.

Review notes, titles, captions, product ids and names read from files are stored as given;
whatever renders them into Markdown (datasheets, reports) or HTML (review pages) escapes them
here, so text like ``<script>`` or ``| a |`` is shown, never interpreted.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")
_BACKTICKS = re.compile(r"`+")
_CR = re.compile(r"\r\n?")
#: Characters a web URL may not hold as they are (RFC 3986): space, controls and ``< > " \ ` { } | ^``.
_NOT_IN_URL = re.compile(r"[\x00-\x20\x7f<>\"\\`{}|^]")
#: What :func:`md_url` leaves as it is besides letters, digits and ``_.-~``: URL delimiters, not
#: the ``( ) < > ' "`` that could end a Markdown link destination or an HTML attribute.
_URL_SAFE = "!#$%&*+,/:;=?@[]"


def html_text(value: object) -> str:
    """``value`` as HTML text or attribute value (``& < > " '`` escaped)."""
    return html.escape(str(value), quote=True)


def md_text(value: object) -> str:
    """``value`` as one line of literal Markdown (safe in a table cell): HTML specials become
    entities, Markdown specials are backslash-escaped and line breaks become spaces."""
    text = html.escape(_BREAKS.sub(" ", str(value)), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def no_html(value: object) -> str:
    """``value`` as Markdown whose own formatting is kept but whose HTML is shown as text
    (``& < >`` escaped): for a maintainer's description, which may use Markdown but must not
    carry tags a card viewer would run."""
    return html.escape(str(value), quote=False)


def web_url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute ``http(s)://host/...`` URL that can be shown as a link
    (None when it is one): another scheme (``javascript:``), no host, or characters a URL writes
    percent-encoded (space, ``<``, ``>``, ``"``, ...)."""
    bad = _NOT_IN_URL.search(value)
    if bad:
        return f"holds {bad.group()!r} at {bad.start()} (write it percent-encoded: %{ord(bad.group()):02X})"
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        return str(exc)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "is not an http:// or https:// URL with a host"
    return None


def md_url(value: object) -> str:
    """``value`` as a Markdown link destination that cannot end early: space, controls, ``( ) < >``,
    quotes and backslashes percent-encoded (an existing ``%XX`` kept). It does not check the
    scheme: link only what :func:`web_url_problem` accepts."""
    return quote(str(value), safe=_URL_SAFE)


def md_link(text: object, url: str) -> str:
    """A Markdown link showing ``text`` literally, to ``url`` when it is a web URL
    (:func:`web_url_problem`); any other ``url`` (``javascript:...``) is shown as text, not linked."""
    if web_url_problem(url) is None:
        return f"[{md_text(text)}]({md_url(url)})"
    return f"{md_text(text)} ({md_text(url)})"


def code_block(value: object, lang: str = "") -> str:
    """``value`` as a fenced Markdown code block shown literally: its fence is longer than any run
    of backticks in it, so no line of it closes the block early (no HTML escaping needed inside).
    Its line endings are written ``\\n`` (a trailing ``\\r`` would join the fence's line end)."""
    text = _CR.sub("\n", str(value))
    fence = "`" * max(3, 1 + max((len(m) for m in _BACKTICKS.findall(text)), default=0))
    return f"{fence}{lang}\n{text}\n{fence}"
