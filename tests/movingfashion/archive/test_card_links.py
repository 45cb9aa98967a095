"""The dataset card keeps a maintainer's Markdown but links only to web URLs or to paths inside
the dataset: a ``javascript:``, ``data:`` or ``vbscript:`` link (in any case, or hidden behind a
character reference or a backslash) shows its label as text; raw HTML is shown, not run."""

from __future__ import annotations

import re

import pytest

from movingfashion.archive.card import dataset_card, datasheet
from movingfashion.archive.tables import Tables
from schemas.dataset import DatasetInfo
from schemas.render import md_user_markdown

BAD_TARGETS = [
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "JavaScript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript&colon;alert(1)",
    "javascript\\:alert(1)",
    "<javascript:alert(1)>",
    " javascript:alert(1) 'title'",
    "java&#x09;script:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "//evil.example/x",
    "/etc/passwd",
    "../outside.md",
    "%2e%2e/outside.md",
    "file:///etc/passwd",
]
#: What a rendered link to a script could still be made of in the output.
_SCRIPT_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data|file|&|/|\.\.)", re.IGNORECASE)


def _card(description: str) -> str:
    tables = Tables(pairs={}, box_counts={})
    body = dataset_card(DatasetInfo(description=description), tables, "2024-01-01", datasheet(tables))
    return body.split("\n---\n", 1)[1]


@pytest.mark.parametrize("target", BAD_TARGETS)
@pytest.mark.parametrize("bang", ["", "!"])
def test_a_link_that_is_not_http_shows_its_label_as_text(target, bang):
    body = _card(f"Read {bang}[the terms]({target}) first.")
    assert "Read the terms first." in body
    assert not _SCRIPT_LINK.search(body)


@pytest.mark.parametrize("target", BAD_TARGETS)
def test_a_reference_definition_that_is_not_http_links_nothing(target):
    out = md_user_markdown(f"See [terms][t].\n\n[t]: {target.strip()}\n")
    assert "[t]:" not in out and not _SCRIPT_LINK.search(out)


def test_web_links_and_paths_inside_the_dataset_are_kept_with_the_rest_of_the_markdown():
    text = (
        'A **bold** [paper](https://arxiv.org/abs/2110.02627 "title") with [the sheet](datasheet.md#class),'
        " [layout](#layout) and ![a shop image](imgs/p1.jpg).\n\n[ref]: https://example.org/x"
    )
    out = md_user_markdown(text)
    assert "A **bold** [paper](https://arxiv.org/abs/2110.02627) with [the sheet](datasheet.md#class)," in out
    assert "[layout](#layout) and ![a shop image](imgs/p1.jpg)." in out
    assert out.endswith("[ref]: https://example.org/x")


def test_raw_html_and_unmatched_link_syntax_are_shown_as_text():
    out = md_user_markdown(
        '<a href="javascript:alert(1)">x</a> <script>alert(1)</script> [a [b] c](javascript:x) '
        "[![i](https://example.org/i.png)](javascript:x) \\[x](javascript:y) <javascript:alert(1)>"
    )
    assert "<" not in out and ">" not in out
    assert '&lt;a href="javascript:alert(1)"&gt;' in out and "&lt;script&gt;" in out
    assert not re.search(r"(?<!\\)\]\(javascript", out)  # every `](` left in the text is escaped
    assert "![i](https://example.org/i.png)" in out


def test_the_card_keeps_the_description_s_safe_links():
    body = _card(
        "Made from [MovingFashion](https://github.com/HumaticsLAB/SEAM-Match-RCNN) [x](javascript:alert(1))"
    )
    assert "Made from [MovingFashion](https://github.com/HumaticsLAB/SEAM-Match-RCNN) x" in body
