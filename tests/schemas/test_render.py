"""User text is shown as itself wherever the toolkit renders Markdown or HTML."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from movingfashion.seam.report import markdown
from schemas.render import html_text, md_text

NASTY = st.text(max_size=40) | st.sampled_from(
    [
        "<script>alert(1)</script>",
        "a | b",
        "**bold** _x_ `code`",
        "[link](javascript:x)",
        "line\nbreak",
        "&amp;",
        "\\|",
    ]
)
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@settings(max_examples=300, deadline=None)
@given(text=NASTY)
def test_html_text_round_trips_and_carries_no_markup(text):
    out = html_text(text)
    assert html.unescape(out) == text and not set("<>\"'") & set(out)


@settings(max_examples=300, deadline=None)
@given(text=NASTY)
def test_md_text_is_one_literal_line(text):
    out = md_text(text)
    assert "\n" not in out and "\r" not in out and "<" not in out and ">" not in out
    assert not _UNESCAPED_PIPE.search(out.replace("\\\\", ""))
    unescaped = html.unescape(re.sub(r"\\(.)", r"\1", out))
    assert unescaped == re.sub(r"[\r\n\t\f\v\u2028\u2029]+", " ", text)


def test_report_tables_show_names_as_written():
    table = markdown(["Method", "All T-1"], [["<img src=x onerror=alert(1)>| evil", "0.5"], ["SEAM", "0.7"]])
    rows = table.splitlines()
    assert "<img" not in table and "&lt;img src=x onerror=alert(1)&gt;\\| evil" in rows[2]
    assert all(len(_UNESCAPED_PIPE.findall(r.replace("\\\\", ""))) == 3 for r in rows)
    assert rows[3] == "| SEAM | 0.7 |"
