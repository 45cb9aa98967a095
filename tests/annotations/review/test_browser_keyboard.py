"""The review page with the keyboard alone and a screen reader (headless Chromium): a focused
button takes Space and Enter, no letter key decides or moves on while a form is open (what it
holds would be lost), Caps Lock does not silence the shortcuts and they can be turned off, the
queue list is reached with Tab and walked with the arrows, the class chooser has a name, and
moving to another video is announced."""

from __future__ import annotations

from schemas.catalog import Catalog
from schemas.review import list_decisions
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture
from tests.annotations.review.test_browser_feedback import review_page


def _kinds(setup) -> list[str]:
    with Catalog(setup.catalog) as cat:
        return [d.kind for d in list_decisions(cat)]


def test_space_on_a_focused_button_presses_it_and_does_not_play(browser, review_setup):  # noqa: F811
    first = review_setup.facts["flagged"][0]
    with review_page(browser, review_setup) as (srv, pg):
        pg.p.focus("button[data-act='accept']")
        pg.decide(" ")  # Space on the accept button: the page counts a stored write
        assert _kinds(review_setup) == ["accept"]
        assert pg.p.evaluate("document.getElementById('video').paused")
        assert pg.current() != first  # an accept moves on, as with a


def test_no_letter_key_acts_while_a_form_is_open(browser, review_setup):  # noqa: F811
    with review_page(browser, review_setup) as (srv, pg):
        first = pg.current()
        pg.press("r")
        pg.p.wait_for_selector("#form:not([hidden])")
        pg.p.keyboard.type("wrong garment")
        pg.p.focus("#form button[type='submit']")  # the reviewer tabbed to "save"
        pg.press("j", "a", "k", "u", "t")
        pg.p.wait_for_timeout(300)
        assert pg.current() == first and _kinds(review_setup) == []
        assert pg.p.input_value("#form-input") == "wrong garment"  # what was typed is still there
        pg.decide(" ")  # Space presses the focused save button: the reject, with its reason
        with Catalog(review_setup.catalog) as cat:
            (d,) = list_decisions(cat)
        assert (d.kind, d.reason) == ("reject", "wrong garment")


def test_caps_lock_works_and_the_shortcuts_can_be_turned_off(browser, review_setup):  # noqa: F811
    with review_page(browser, review_setup) as (srv, pg):
        pg.p.uncheck("#shortcuts")
        pg.p.focus("#title")
        before = pg.current()
        pg.press("a", "j")
        pg.p.wait_for_timeout(300)
        assert _kinds(review_setup) == [] and pg.current() == before
        pg.p.check("#shortcuts")
        pg.p.focus("#title")
        pg.decide("Shift+A")  # "A", as Caps Lock types it
        assert _kinds(review_setup) == ["accept"]
    with review_page(browser, review_setup) as (srv, pg):  # the choice is kept across reloads
        assert pg.p.is_checked("#shortcuts")


def test_the_queue_list_is_one_tab_stop_walked_with_the_arrows(browser, review_setup):  # noqa: F811
    with review_page(browser, review_setup) as (srv, pg):
        stems = pg.p.eval_on_selector_all("#queue li", "els => els.map((e) => e.dataset.stem)")
        assert len(stems) >= 3
        tabbable = pg.p.eval_on_selector_all(
            "#queue button.row", "els => els.filter((e) => e.tabIndex === 0).length"
        )
        assert tabbable == 1  # the list is one stop in the Tab order, not one per row
        pg.p.focus("#queue li[aria-current='true'] button.row")
        pg.press("ArrowDown", "ArrowDown")
        assert pg.p.evaluate("document.activeElement.closest('li').dataset.stem") == stems[2]
        assert pg.current() == stems[0]  # moving the focus opens nothing
        pg.press("Enter")
        pg.p.wait_for_selector(f"body[data-video='{stems[2]}']")
        # the row keeps the focus through the rebuild, and says its flag in words
        assert pg.p.evaluate("document.activeElement.closest('li').dataset.stem") == stems[2]
        text = pg.p.evaluate("document.activeElement.textContent")
        assert ("flagged: " in text or "QA sample: " in text) and stems[2] in text
        # the new video is announced (the status line keeps saying what was saved)
        announced = pg.text("#announce")
        assert announced.startswith("now showing 3 of ") and stems[2] in announced


def test_the_class_chooser_is_named_by_its_label(browser, review_setup):  # noqa: F811
    with review_page(browser, review_setup) as (srv, pg):
        pg.p.focus("#title")
        pg.press("c")
        pg.p.wait_for_selector("#form:not([hidden])")
        assert pg.p.get_by_role("combobox", name="DeepFashion2 class").count() == 1
        assert pg.p.evaluate("document.activeElement.id") == "form-select"


def test_space_after_a_mouse_click_on_accept_plays_and_decides_nothing_more(browser, review_setup):  # noqa: F811
    """A click on accept moves on to the next video with the focus still on accept: Space (play)
    then accepted that video unseen."""
    with review_page(browser, review_setup) as (srv, pg):
        pg.p.wait_for_function("document.getElementById('video').readyState >= 1")
        pg.p.click("button[data-act='accept']")
        pg.saved += 1
        pg.wait_saved(pg.saved)
        second = pg.current()
        pg.p.wait_for_function("document.getElementById('video').readyState >= 2")
        pg.press(" ")
        pg.p.wait_for_function("!document.getElementById('video').paused")
        pg.p.wait_for_timeout(300)
        assert _kinds(review_setup) == ["accept"] and pg.current() == second
        # the keyboard's Enter on a focused button keeps the focus there (the control used)
        pg.p.focus("button[data-act='accept']")
        pg.decide("Enter")
        assert pg.p.evaluate("document.activeElement.dataset.act") == "accept"
