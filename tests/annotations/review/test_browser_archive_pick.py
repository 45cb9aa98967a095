"""The review page on the real archive as downloaded (no ``tracklets/``, headless Chromium): a
video whose only ground truth is its split file's has no tracklet file a pick could rewrite, so
the page does not offer the pick (before, it did, and the pick failed with "no tracklet file");
it says why, as text."""

from __future__ import annotations

from annotations.review.server import NO_FILE_PICK
from schemas.catalog import Catalog
from schemas.review import list_decisions
from tests.annotations.review.conftest import ReviewSetup, running
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture
from tests.movingfashion.helpers import make_archive


def test_no_pick_is_offered_on_a_video_without_a_tracklet_file(browser, tmp_path):  # noqa: F811
    setup = ReviewSetup(make_archive(tmp_path / "mf"), tmp_path / "catalog.sqlite", {})
    with running(setup, sample_rate=1.0, create_catalog=True) as srv:
        pg = Page(browser, srv.url)
        try:
            pg.p.wait_for_selector("#candidates li.gt")  # the split file's ground truth is shown
            assert pg.p.is_disabled("#buttons button[data-act='pick']")
            assert pg.p.get_attribute("#buttons button[data-act='pick']", "title") == NO_FILE_PICK
            pg.press("p")  # the key says why instead of sending a pick bound to fail
            pg.p.wait_for_function(
                "document.getElementById('status').className === 'error'"
                " && document.getElementById('status').textContent.length > 0"
            )
            assert pg.text("#status") == NO_FILE_PICK
            assert pg.p.evaluate("document.querySelectorAll('#status *, #buttons button *').length") == 0
            assert pg.errors == []
        finally:
            pg.close()
    with Catalog(setup.catalog) as cat:
        assert list_decisions(cat) == []  # nothing was sent
