"""The review page's title and caption with real-world text: a long title without spaces
(TikTok hashtags run together) wraps inside its column, and right-to-left text gets its own
direction. Renders the shipped index.html + review.css in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from tests.annotations.review.test_browser import CHROMIUM_ARGS, require_chromium

STATIC = Path(__file__).resolve().parents[3] / "annotations" / "review" / "static"
TITLE = (
    "#ootd#fashion#style#outfitinspo#grwm#summerdress#silkdress#fyp#viral#foryoupage#tiktokfashion#styleinspo"
)


def test_a_long_unbroken_title_and_caption_wrap_in_the_column_and_read_in_their_direction():
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page.goto((STATIC / "index.html").as_uri())
            page.add_style_tag(path=str(STATIC / "review.css"))  # the page links it from the server
            res = page.evaluate(
                """([t, c]) => {
                const h = document.getElementById('title'), p = document.getElementById('caption');
                h.textContent = t; p.textContent = c;
                const doc = document.documentElement;
                return {page: doc.scrollWidth, view: doc.clientWidth, hs: h.scrollWidth, hw: h.clientWidth,
                        ps: p.scrollWidth, pw: p.clientWidth, hdir: h.dir, pdir: p.dir};
            }""",
                [TITLE, "\U0001f60d" * 120],
            )
        finally:
            browser.close()
    assert res["page"] <= res["view"], res
    assert res["hs"] <= res["hw"] + 1 and res["ps"] <= res["pw"] + 1, res
    assert res["hdir"] == "auto" and res["pdir"] == "auto", res
