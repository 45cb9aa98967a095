"""The review page tells the reviewer what happens and works for everyone (headless Chromium):
a write under way says so (and that it waits), a missing video is named as missing, controls
and states have text, the page reflows in a narrow window, the focus is never dropped, and a
refused write shows what the catalog holds."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from schemas.catalog import Catalog
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture
from tests.annotations.review.test_server import _post


@contextlib.contextmanager
def review_page(ctx, setup) -> Iterator[tuple[Any, Page]]:
    """A review server on ``setup`` and the page open on it (closed on leaving)."""
    with running(setup) as srv:
        pg = Page(ctx, srv.url)
        try:
            yield srv, pg
        finally:
            pg.close()


def test_a_write_under_way_says_it_is_saving_then_waiting(browser, review_setup):  # noqa: F811
    with review_page(browser, review_setup) as (srv, pg):
        held: list = []
        pg.p.route("**/api/decision*", lambda route: held.append(route))
        pg.press("a")
        pg.p.wait_for_function("document.getElementById('status').textContent.startsWith('saving')")
        pg.p.wait_for_function("document.getElementById('status').textContent.includes('still waiting')")
        held[0].fulfill(
            status=503, content_type="application/json", body=json.dumps({"error": "catalog: lock held"})
        )
        pg.p.wait_for_function("document.getElementById('status').textContent.startsWith('not saved: ')")
        assert "catalog: lock held" in pg.text("#status") and pg.errors == []


def test_a_missing_video_file_is_reported_as_not_found(browser, review_setup):  # noqa: F811
    f = review_setup.facts
    second = f["flagged"][1]
    with running(review_setup) as srv:
        (review_setup.dataset / f["video_path"][second]).unlink()
        pg = Page(browser, srv.url)
        try:
            pg.press("j")
            pg.p.wait_for_selector(f"body[data-video='{second}']")
            pg.p.wait_for_function("document.getElementById('status').textContent.includes('not found')")
            text = pg.text("#status")
            assert "404" in text and f["video_path"][second] in text and "codec" not in text
        finally:
            pg.close()


def test_controls_and_states_have_text_names(browser, review_setup):  # noqa: F811
    first = review_setup.facts["flagged"][0]
    with review_page(browser, review_setup) as (srv, pg):
        for name in ("previous frame", "next frame", "play"):
            assert pg.p.get_by_role("button", name=name, exact=True).count() == 1
        assert first in (pg.p.get_attribute("#video", "aria-label") or "")
        assert pg.p.get_attribute("#queue li[aria-current='true']", "data-stem") == first
        assert pg.p.locator("#queue li[aria-current]").count() == 1
        # the world's ground truth has no detector scores: its frames are "interpolated"
        pg.p.wait_for_function("document.getElementById('frame-kind').textContent.includes('interpolated')")
        label = pg.p.get_by_role("img", name="timeline", exact=False).get_attribute("aria-label") or ""
        assert "interpolated" in label and "frame" in label


def test_no_sideways_scroll_in_a_narrow_window(browser, review_setup):  # noqa: F811
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with review_page(browser, review_setup) as (srv, pg):
        pg.p.wait_for_function("document.getElementById('video').readyState >= 1")
        for width in (800, 640):
            pg.p.set_viewport_size({"width": width, "height": 900})
            # the page's resize handler runs when the browser gets to it (later on a loaded
            # machine): wait for the reflow it must bring, then check it
            fits = (
                "(w) => document.documentElement.scrollWidth <= w"
                " && document.getElementById('video').getBoundingClientRect().right <= w"
            )
            with contextlib.suppress(PlaywrightTimeout):
                pg.p.wait_for_function(fits, arg=width)
            wide = pg.p.evaluate("document.documentElement.scrollWidth")
            right = pg.p.evaluate("document.getElementById('video').getBoundingClientRect().right")
            assert wide <= width and right <= width, (width, wide, right)


def test_the_focus_stays_on_the_control_used(browser, review_setup):  # noqa: F811
    with review_page(browser, review_setup) as (srv, pg):
        pg.p.focus("button[data-act='accept']")
        pg.decide("Enter")
        assert pg.p.evaluate("document.activeElement.dataset.act") == "accept"
        pg.decide("r", text="too dark")  # the form's field had it: back to the button
        assert pg.p.evaluate("document.activeElement.dataset.act") == "accept"
        pg.p.focus("#title")
        pg.decide("n", text="a note")
        assert pg.p.evaluate("document.activeElement.id") == "title"


def test_a_refused_undo_shows_the_stored_state_and_keeps_the_decision_to_undo(browser, review_setup):  # noqa: F811
    f = review_setup.facts
    first = f["flagged"][0]
    with review_page(browser, review_setup) as (srv, pg):
        pg.decide("a")  # on first; the page moves on
        # another tab rejects the first video meanwhile
        assert _post(srv, "/api/decision", {"video": first, "kind": "reject", "reason": "blur"})[0] == 200
        pg.press("k")
        pg.p.wait_for_selector(f"body[data-video='{first}']")
        for _ in range(2):  # refused both times: the accept has a later decision
            pg.press("u")
            pg.p.wait_for_function("document.getElementById('status').textContent.startsWith('not undone')")
            pg.p.wait_for_function("document.getElementById('state').textContent.startsWith('rejected')")
            pg.p.wait_for_function("!document.body.dataset.busy")
            badge = pg.p.text_content(f"#queue li[data-stem='{first}'] .badge")
            assert badge == "rejected"
            pg.p.evaluate("document.getElementById('status').textContent = ''")
    with Catalog(review_setup.catalog) as cat:
        assert [(d.kind, d.undone_at) for d in list_decisions(cat, include_undone=True)] == [
            ("accept", None),
            ("reject", None),
        ]
