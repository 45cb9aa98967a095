"""The review page (headless Chromium) follows a catalog that changes while it is open, and keeps
its filters in the address: an item a `mf clean` rerun holds joins the list, an accepted one stays
in it, one a rerun lets go is named with why when the page comes back to it; the filters chosen
survive a reload (and travel in a shared link), and unknown values in the address are named, not
obeyed, and rendered as text."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.catalog import Catalog
from schemas.items import Status
from tests.annotations.review.conftest import running
from tests.annotations.review.test_browser import PAYLOAD, Page, browser  # noqa: F401 - the fixture


def _listed(pg: Page) -> list[str]:
    return pg.p.eval_on_selector_all("#queue li", "els => els.map((e) => e.dataset.stem)")


def _set(setup, pid: str, status: Status, reason: str | None) -> None:
    """What a `mf clean` rerun does to an item, in a connection of its own."""
    with Catalog(setup.catalog) as cat:
        cat.set_item_state(setup.facts["source"][pid], pid, status=status, reason=reason)


def _other_products(setup) -> list[str]:
    f = setup.facts
    flagged_pids = {f["product"][s] for s in f["flagged"]}
    out: list[str] = []
    for s in f["videos"]:
        pid = f["product"][s]
        if pid not in flagged_pids and pid not in out:
            out.append(pid)
    return out


def test_the_list_follows_the_catalog_and_keeps_what_was_decided(browser, review_setup):  # noqa: F811
    f = review_setup.facts
    held, released = _other_products(review_setup)[:2]
    held_stem = next(s for s in f["videos"] if f["product"][s] == held)
    released_stem = next(s for s in f["videos"] if f["product"][s] == released)
    with running(review_setup, sample_rate=0.0) as srv:
        pg = Page(browser, srv.url)
        try:
            assert sorted(_listed(pg)) == sorted(f["flagged"])
            # a clean rerun holds two items while the page is open: the next queue load lists them
            _set(review_setup, held, Status.NEEDS_REVIEW, "association: planted")
            _set(review_setup, released, Status.NEEDS_REVIEW, "association: planted too")
            pg.decide("n", text="first look")
            pg.p.wait_for_selector(f"#queue li[data-stem='{held_stem}']")
            assert released_stem in _listed(pg)
            # accepted: the catalog lets its hold go, the video stays in the list, marked accepted
            pg.p.click(f"#queue li[data-stem='{held_stem}']")
            pg.p.wait_for_selector(f"body[data-video='{held_stem}']")
            assert pg.text("#flag") == "flagged: association: planted"
            pg.decide("a")
            row = f"#queue li[data-stem='{held_stem}']"
            pg.p.wait_for_selector(row + " .badge.accept")
            assert "kept for their decisions" in pg.text("#sample")
            pg.p.click(row)
            pg.p.wait_for_selector(f"body[data-video='{held_stem}']")
            assert pg.text("#flag").startswith("reviewed: not flagged (any more)")
            # a rerun lets the other one go while the page shows it: back on the page, it says why
            pg.p.click(f"#queue li[data-stem='{released_stem}']")
            pg.p.wait_for_selector(f"body[data-video='{released_stem}']")
            _set(review_setup, released, Status.ACCEPTED, None)
            pg.p.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            pg.p.wait_for_selector("body:not([data-video])")
            assert pg.text("#flag").startswith(f"{released_stem} left the review queue: the catalog now has")
            assert pg.text("#status").startswith(f"{released_stem} left the review queue")
            assert released_stem not in _listed(pg) and held_stem in _listed(pg)
            pg.press("c")  # no video to decide on: said, nothing sent, no script error
            assert pg.text("#status").startswith("no video shown to decide on")
            assert pg.p.is_hidden("#form")
            pg.press("j")  # on to the list's first video
            pg.p.wait_for_selector(f"body[data-video='{_listed(pg)[0]}']")
            assert pg.errors == [] and pg.dialogs == []
        finally:
            pg.close()


def test_the_filters_are_kept_in_the_address(browser, review_setup):  # noqa: F811
    f = review_setup.facts
    reason = "low shop score 0.31"  # the first flagged video's (spaces and a dot in the address)
    first, second = f["flagged"]
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            pg.p.select_option("#f-reason", reason)
            pg.p.select_option("#f-decision", "none")
            query = parse_qs(urlsplit(pg.p.url).query)
            assert query["reason"] == [reason] and query["decision"] == ["none"]
            assert "class" not in query and "partition" not in query  # "any" is left out
            assert _listed(pg) == [first]
            pg.p.reload()
            pg.p.wait_for_selector("body[data-ready='1']")
            assert pg.p.eval_on_selector("#f-reason", "s => s.value") == reason
            assert pg.p.eval_on_selector("#f-decision", "s => s.value") == "none"
            assert _listed(pg) == [first] and pg.current() == first
            # j at the end of the list shown says so
            pg.press("j")
            pg.p.wait_for_function(
                "document.getElementById('status').textContent.startsWith('no next video')"
            )
            # a build stops flagging it: the reason chosen stays (none left), not the whole queue
            vt = read_video_tracklets(tracklet_file(review_setup.dataset, f["video_path"][first]))
            vt.needs_review, vt.review_reason = False, None
            write_video_tracklets(review_setup.dataset, vt)
            pg.p.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
            pg.p.wait_for_function("document.getElementById('shown').textContent === '0 shown'")
            assert pg.p.eval_on_selector("#f-reason", "s => s.value") == reason
            assert pg.p.eval_on_selector("#f-reason", "s => s.selectedOptions[0].textContent") == (
                f"{reason} (none left)"
            )
            assert parse_qs(urlsplit(pg.p.url).query)["reason"] == [reason]
            # back to any: the address drops the filter
            pg.p.select_option("#f-reason", "")
            assert "reason" not in parse_qs(urlsplit(pg.p.url).query)
        finally:
            pg.close()
        # a shared link with values this queue does not offer: named, the menus left at any
        bad = f"{srv.url}&class=999&reason={PAYLOAD}&decision=none"
        pg = Page(browser, bad)
        try:
            status = pg.text("#status")
            assert "class=999" in status and f"reason={PAYLOAD[:60]}" in status, status
            assert pg.p.eval_on_selector("#f-class", "s => s.value") == ""
            assert pg.p.eval_on_selector("#f-reason", "s => s.value") == ""
            assert pg.p.eval_on_selector("#f-decision", "s => s.value") == "none"  # a known one is kept
            assert pg.p.query_selector("#status script, #status img") is None  # text, not markup
            assert sorted(_listed(pg)) == sorted(f["videos"])
            assert pg.errors == [] and pg.dialogs == []
        finally:
            pg.close()
