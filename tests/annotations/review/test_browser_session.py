"""A review session as a maintainer works through it (headless Chromium): a flag reason is said
in plain words, a reload mid-review comes back on the video it showed, and an undo in one tab
never takes back another tab's decision unseen."""

from __future__ import annotations

from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.catalog import Catalog
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture
from tests.annotations.review.test_browser_feedback import review_page


def test_a_low_confidence_flag_is_said_in_plain_words(browser, review_setup):  # noqa: F811
    f = review_setup.facts
    first = f["flagged"][0]
    vt = read_video_tracklets(tracklet_file(review_setup.dataset, f["video_path"][first]))
    vt.review_reason = "low confidence: det_mean 0.349 < 0.359"  # as the builder's rules write it
    write_video_tracklets(review_setup.dataset, vt)
    with review_page(browser, review_setup) as (_srv, pg):
        assert pg.current() == first
        assert pg.text("#flag") == (
            "flagged: low confidence: the mean detector confidence of the tracklet's detections is 0.349,"
            " below the flag threshold 0.359 (det_mean)"
        )
        assert "mean detector confidence" in pg.text("#announce")
        # the reason filter still groups by the reason's kind
        kinds = pg.p.evaluate("[...document.querySelectorAll('#f-reason option')].map(o => o.value)")
        assert "low confidence" in kinds


def test_a_reload_mid_review_comes_back_on_the_video_shown(browser, review_setup):  # noqa: F811
    first, second = review_setup.facts["flagged"]
    with review_page(browser, review_setup) as (_srv, pg):
        assert pg.current() == first
        pg.decide("a")  # accepted: the page moves on to the second video
        assert pg.current() == second
        pg.p.reload()
        pg.p.wait_for_selector("body[data-ready='1']")
        assert pg.current() == second  # not back at the first, already decided one
        assert pg.text("#state") == "not reviewed yet"
        assert pg.text("#progress").startswith("1 of ")
        assert pg.errors == []


def test_undo_in_one_tab_never_takes_back_another_tabs_decision_unseen(browser, review_setup):  # noqa: F811
    """Two tabs on one video: B accepts it; A, still showing it undecided and with nothing of its
    own to undo, presses u: refused (409), B's accept stays and A shows it; u again, now seen,
    undoes it."""
    f = review_setup.facts
    first = f["flagged"][0]
    with running(review_setup) as srv:
        a, b = Page(browser, srv.url), Page(browser, srv.url)
        try:
            assert a.current() == b.current() == first
            b.decide("a")
            a.press("u")
            a.p.wait_for_function("document.getElementById('status').textContent.startsWith('not undone')")
            assert "another page or reviewer made its accept" in a.text("#status")
            a.p.wait_for_function("document.getElementById('state').textContent === 'accepted'")
            with Catalog(review_setup.catalog) as cat:
                assert [d.kind for d in list_decisions(cat)] == ["accept"]  # B's accept kept
            a.decide("u")  # now the page showed the accept: a deliberate undo
        finally:
            a.close()
            b.close()
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat) == []
        assert [d.kind for d in list_decisions(cat, include_undone=True)] == ["accept"]


def _overflow(pg: Page) -> dict:
    """How far the page scrolls sideways, and which of the texts written by people run past their box."""
    return pg.p.evaluate(
        """() => ({page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            wide: [...document.querySelectorAll('#state, #notes li, #status, #queue .stem')]
              .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id || e.className)})"""
    )


def test_a_long_unbroken_note_or_rejection_reason_wraps_in_its_column(browser, review_setup):  # noqa: F811
    word = "W" * 400  # a pasted URL or hash: no place to break
    first = review_setup.facts["flagged"][0]
    with review_page(browser, review_setup) as (_srv, pg):
        pg.decide("n", text="note " + word)
        assert pg.text("#notes li") == "note " + word
        assert _overflow(pg) == {"page": 0, "wide": []}
        pg.decide("r", text=word)  # the page moves on; back to the rejected video
        pg.press("k")
        pg.p.wait_for_function(f"document.body.dataset.video === {first!r}")
        assert pg.text("#state") == "rejected: " + word
        assert _overflow(pg) == {"page": 0, "wide": []}


def test_a_held_back_item_whose_collected_files_are_not_found_names_both(browser, review_setup, tmp_path):  # noqa: F811
    """mf review without the right --root: the held-back item's video and shop image are not in
    the collection folder; the page says so for each (before: the video only, the shop image's
    box was left empty without a word)."""
    from tests.annotations.review.test_held_back import _cleaning_flagged

    stem = _cleaning_flagged(review_setup, "CheldAAAAAA", review_setup.facts["videos"][2])
    elsewhere = tmp_path / "not-the-collection"
    elsewhere.mkdir()
    with running(review_setup, sample_rate=0.0, collection=elsewhere) as srv:
        pg = Page(browser, srv.url)
        try:
            pg.p.click(f"#queue li[data-stem='{stem}']")
            pg.p.wait_for_selector(f"body[data-video='{stem}']")
            assert "video and shop image not found (mf review --root: the collection folder)" in pg.text(
                "#meta"
            )
            assert pg.p.get_attribute("#shop", "alt") == "no shop image found"
            assert pg.errors == []
        finally:
            pg.close()
