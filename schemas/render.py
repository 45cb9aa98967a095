"""Show user text as itself: escaping for the Markdown, HTML and CSV the toolkit writes.

Review notes, titles, captions, product ids and names read from files are stored as given;
whatever renders them into Markdown (datasheets, reports), HTML (review pages), a plot
(matplotlib text) or a CSV a spreadsheet opens escapes them here, so text like ``<script>``,
``| a |``, ``$x$`` or ``=HYPERLINK(...)`` is shown, never interpreted.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")
_BACKTICKS = re.compile(r"`+")
_CR = re.compile(r"\r\n?")
#: A plain decimal number (``-0.03``, ``+1``, ``2e-5``): a spreadsheet reads it as a number, not a formula.
_CSV_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: What makes a spreadsheet read a cell as a formula (or strip it into one): OWASP's list.
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Characters a web URL may not hold as they are (RFC 3986): space, controls and ``< > " \ ` { } | ^``.
_NOT_IN_URL = re.compile(r"[\x00-\x20\x7f<>\"\\`{}|^]")
#: What :func:`md_url` leaves as it is besides letters, digits and ``_.-~``: URL delimiters, not
#: the ``( ) < > ' "`` that could end a Markdown link destination or an HTML attribute.
_URL_SAFE = "!#$%&*+,/:;=?@[]"


def html_text(value: object) -> str:
    """``value`` as HTML text or attribute value (``& < > " '`` escaped)."""
    return html.escape(str(value), quote=True)


def plot_text(value: object) -> str:
    """``value`` as matplotlib text (a title, an axis label, a legend entry) shown as itself:
    every ``$`` escaped, so a product id or a method name such as ``$x^2$`` is never read as
    mathtext (and ``$\\foo$`` never fails the plot with a mathtext parse error)."""
    return str(value).replace("$", r"\$")


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


#: An inline link or image ``[label](target "title")``: its label (no unescaped brackets), its
#: target (``<...>`` or without spaces, one level of parentheses) and an optional title.
_MD_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<label>(?:[^\[\]\\]|\\.)*)\]"
    r"\(\s*(?P<target><[^<>\n]*>|(?:[^\s()\\]|\\.|\((?:[^\s()\\]|\\.)*\))*)"
    r"(?:\s+(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\)))?\s*\)"
)
#: A link reference definition ``[label]: target "title"`` on a line of its own.
_MD_DEFINITION = re.compile(
    r"^(?P<indent> {0,3})\[(?P<dlabel>(?:[^\[\]\\\n]|\\.)+)\]:[ \t]*(?P<dtarget><[^<>\n]*>|\S+)"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$",
    re.MULTILINE,
)
#: In text outside the links kept: a backslash escape (kept), or a ``]`` that would open a link
#: target ``](`` or a reference definition ``]:`` (escaped, so no other link can form).
_LINK_OPENER = re.compile(r"\\.|\](?=[(:])", re.DOTALL)
#: A relative path inside the dataset folder (``imgs/x.jpg``, ``datasheet.md#class``, ``#layout``):
#: no scheme, no leading ``/``, no ``&`` an entity could hide a scheme in.
_RELATIVE = re.compile(r"(?:[A-Za-z0-9_.~+=,@%-]+(?:/[A-Za-z0-9_.~+=,@%-]+)*/?)?(?:#[A-Za-z0-9_.~%-]*)?")
_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def link_target(raw: str) -> str:
    """A Markdown link target as a renderer reads it: ``<...>`` unwrapped, backslash escapes and
    character references (``&#106;``, ``&colon;``) decoded."""
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1]
    return html.unescape(_MD_ESCAPE.sub(r"\1", raw))


def md_target_problem(target: str) -> str | None:
    """Why ``target`` (as :func:`link_target` decodes it) may not be a link of a page the
    toolkit writes (None when it may): a web URL (:func:`web_url_problem`) or a relative path
    inside the dataset (no scheme such as ``javascript:``, ``data:``, no ``/`` or ``..`` start)."""
    if web_url_problem(target) is None:
        return None
    if target and _RELATIVE.fullmatch(target) and ".." not in unquote(target.split("#")[0]).split("/"):
        return None
    return "is neither an http(s) URL nor a relative path inside the dataset"


def md_user_markdown(value: object) -> str:
    """A maintainer's Markdown (a dataset description) to put in a page: its formatting kept, its
    HTML shown as text (:func:`no_html`), its links and images kept only when they go to a web
    URL or a relative path inside the dataset (:func:`md_target_problem`); any other link
    (``javascript:``, ``data:``, ``vbscript:``, in any case or character references) is shown as
    its label alone, and no other link can form (``](`` and ``]:`` of the text are escaped)."""
    text = str(value)
    out: list[str] = []
    at = 0
    for m in _LINK_SPANS.finditer(text):
        if m.group("esc") is not None:
            continue  # an escaped character is text (``\\[x](...)`` is no link)
        out.append(_plain(text[at : m.start()]))
        out.append(_kept_link(m))
        at = m.end()
    out.append(_plain(text[at:]))
    return "".join(out)


_LINK_SPANS = re.compile(
    rf"(?P<esc>\\.)|(?:{_MD_LINK.pattern})|(?:{_MD_DEFINITION.pattern})", re.MULTILINE | re.DOTALL
)


def _plain(text: str) -> str:
    """Text outside links: HTML escaped, link openers escaped."""
    return _LINK_OPENER.sub(lambda m: m.group() if m.group().startswith("\\") else "\\]", no_html(text))


def _kept_link(m: re.Match[str]) -> str:
    """A matched link, image or definition: rewritten with its decoded target when that may be
    linked (title dropped), else its label as text (a definition: dropped to its label)."""
    target = link_target(m.group("target") if m.group("target") is not None else m.group("dtarget"))
    label = m.group("label") if m.group("label") is not None else m.group("dlabel")
    if md_target_problem(target) is not None:
        return _plain(label)
    if m.group("dlabel") is not None:
        return f"{m.group('indent')}[{_plain(label)}]: {md_url(target)}"
    return f"{m.group('bang')}[{_plain(label)}]({md_url(target)})"


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


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in the number it takes: ``counted(1, "video")`` is ``"1 video"``,
    ``counted(3, "entry", "entries")`` is ``"3 entries"`` (the plural defaults to ``noun + "s"``)."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs: a cell starting with
    ``= + - @``, a tab or a CR gets a leading ``'`` (``=HYPERLINK(...)`` becomes
    ``'=HYPERLINK(...)``). A plain number (``-0.03``, ``+1e-3``) and the lone ``-`` the tables
    write for "no value" stay as they are; so does every other cell."""
    text = str(value)
    if not text.startswith(_CSV_FORMULA_START) or text == "-" or _CSV_NUMBER.fullmatch(text):
        return text
    return "'" + text


def csv_table(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """A CSV file's text (``\\n`` line ends, quoting as :mod:`csv` does) whose every cell went
    through :func:`csv_cell`: the one way the toolkit writes a CSV of its data. A row with a CR in
    a cell is quoted whole (:mod:`csv` leaves a CR unquoted when lines end ``\\n``, and a reader
    would split the row there)."""
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in (header, *rows):
        cells = [csv_cell(c) for c in row]
        (quoted if any("\r" in c for c in cells) else plain).writerow(cells)
    return buf.getvalue()
