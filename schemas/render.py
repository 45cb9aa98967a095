"""Show user text as itself: escaping for the Markdown and HTML the toolkit writes.

Review notes, titles, captions, product ids and names read from files are stored as given;
whatever renders them into Markdown (datasheets, reports) or HTML (review pages) escapes them
here, so text like ``<script>`` or ``| a |`` is shown, never interpreted.
"""

from __future__ import annotations

import html
import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
_BREAKS = re.compile(r"[\r\n\t\f\v\u2028\u2029]+")


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
