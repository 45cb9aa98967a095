"""User text is shown as itself wherever the toolkit renders Markdown or HTML; a link goes only
to a web address, and a code block holds its text whatever backticks the text has."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from movingfashion.seam.report import markdown
from schemas.render import code_block, html_text, md_link, md_text, md_url, web_url_problem

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


#: A CommonMark line ending: ``\n``, ``\r\n`` or a lone ``\r``.
_LINE_END = re.compile(r"\r\n|\r|\n")


def _fenced(block: str) -> tuple[str, str]:
    """(info string, content) of the fenced block that starts ``block``, closed where CommonMark
    closes it: the first later line of only backticks, at least as many as the opening fence."""
    lines = _LINE_END.split(block)
    opening = re.fullmatch(r"(`{3,})([^`]*)", lines[0])
    assert opening, lines[0]
    n = len(opening.group(1))
    end = next(i for i in range(1, len(lines)) if re.fullmatch(rf" {{0,3}}`{{{n},}}[ \t]*", lines[i]))
    return opening.group(2), "\n".join(lines[1:end])


CODE = st.text(alphabet=st.sampled_from("`~ \n\r<>ab"), max_size=60) | st.sampled_from(
    ["x\n```\n<script>alert(1)</script>\n```", "````", "a\r```\rb", "  ```  \n`````"]
)


@settings(max_examples=300, deadline=None)
@given(text=CODE)
def test_a_code_block_is_closed_by_its_own_fence_only(text):
    info, content = _fenced(code_block(text, "bibtex") + "\nafter the block")
    assert info == "bibtex" and content == "\n".join(_LINE_END.split(text))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40).filter(lambda t: "%" not in t))
def test_md_url_cannot_end_a_link_early_and_keeps_the_address(text):
    out = md_url(text)
    assert not set(out) & set(" <>()\"'\\`\n\r\t") and out.isascii()
    assert unquote(out) == text


def test_md_link_links_web_addresses_only():
    assert md_link("CC_BY", "https://example.org/a)b") == "[CC\\_BY](https://example.org/a%29b)"
    for url in ("javascript:alert(1)", "https://example.org/<img src=x>", "data:text/html,x"):
        out = md_link("<b>x</b>", url)
        assert web_url_problem(url) and "](" not in out and "<" not in out
        assert html.unescape(out.replace("\\", "")) == f"<b>x</b> ({url})"


def test_counted_takes_the_number_of_its_count():
    from schemas.render import counted

    assert [counted(n, "video") for n in (0, 1, 2)] == ["0 videos", "1 video", "2 videos"]
    assert counted(1, "entry", "entries") == "1 entry" and counted(5, "entry", "entries") == "5 entries"
