"""The review page in headless Chromium (Debian's package, driven by Playwright).

Keyboard decisions reach the catalog; a server killed between two decisions loses neither;
data with HTML in it renders as text. Without Chromium these tests fail and say how to get it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from schemas.review import apply_review, list_decisions
from tests.annotations.review.conftest import running

CHROMIUM = os.environ.get("MF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
TIMEOUT_MS = 20_000


def require_chromium(path: str = CHROMIUM) -> str:
    """The Chromium executable, or a test failure that says how to install it."""
    if not Path(path).is_file():
        pytest.fail(
            f"Chromium not found at {path}: the browser tests of mf review need Debian's chromium; "
            "run `make test-deps` (apt-get install chromium), or set MF_CHROMIUM to its path",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=exe,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            # Playwright's polling waits evaluate strings, which the page's CSP forbids. Without the
            # CSP an injected handler would also run, so the XSS test checks the rendering itself.
            bypass_csp=True,
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            yield ctx
        finally:
            ctx.close()


def _decided(setup) -> list[tuple[str, str]]:
    """(video, kind) of every live decision the catalog stores, in the order made."""
    with Catalog(setup.catalog) as cat:
        return [(d.video, d.kind) for d in list_decisions(cat)]


class Page:
    """A page of the browser with its dialogs and script errors recorded."""

    def __init__(self, ctx, url: str) -> None:
        self.p = ctx.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.p.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.p.on("pageerror", lambda e: self.errors.append(str(e)))
        # Request interception is switched on before the page loads and stays on (a route that
        # matches nothing): a test's p.route() then only changes which requests Playwright hands
        # to it. Switched on under a loaded page instead, Chromium gives the page new loaders
        # asynchronously, and a key pressed right after p.route() could send its request through
        # the old, unrouted one: the write held "until every key was pressed" went straight to the
        # server (the page said "saved", nothing was held; seen 1 in 12 runs on one loaded core).
        self.p.route("**/__never_requested__", lambda route: route.continue_())
        self.p.goto(url)
        self.p.wait_for_selector("body[data-ready='1']")
        self.saved = 0

    def press(self, *keys: str) -> None:
        for k in keys:
            self.p.keyboard.press(k)

    def decide(self, *keys: str, text: str | None = None) -> None:
        """Press keys (and type text + Enter into the form they open); wait until it is saved."""
        self.press(*keys)
        if text is not None:
            self.p.wait_for_selector("#form:not([hidden])")
            self.p.keyboard.type(text)
            self.p.keyboard.press("Enter")
        self.saved += 1
        self.wait_saved(self.saved)

    def wait_saved(self, n: int) -> None:
        """Wait until the page counts ``n`` stored writes; a timeout says what the page's status
        line showed (a refused write, a reload that failed) instead of only that it timed out."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.p.wait_for_function(f"Number(document.body.dataset.saved || 0) >= {n}")
        except PlaywrightTimeout:
            pytest.fail(
                f"the page did not count {n} saved write(s) in {TIMEOUT_MS} ms; its status line: "
                f"{self.text('#status')!r}; script errors: {self.errors}",
                pytrace=False,
            )

    def state(self) -> dict:
        """What a failed wait needs to say why: the page's status line, whether a write is under
        way, what has the focus, the shortcuts switch, the writes counted and script errors."""
        seen = self.p.evaluate(
            """() => ({status: (document.getElementById('status') || {}).textContent,
                busy: document.body.dataset.busy || null, saved: document.body.dataset.saved || null,
                video: document.body.dataset.video || null,
                focus: document.activeElement ? document.activeElement.tagName + '#' +
                  document.activeElement.id : null,
                shortcuts: (document.getElementById('shortcuts') || {}).checked})"""
        )
        return {**seen, "errors": self.errors, "dialogs": self.dialogs}

    def current(self) -> str:
        return self.p.evaluate("document.body.dataset.video")

    def text(self, sel: str) -> str:
        return self.p.text_content(sel) or ""

    def close(self) -> None:
        self.p.close()


def test_chromium_missing_fails_with_the_fix():
    with pytest.raises(pytest.fail.Exception, match=r"make test-deps"):
        require_chromium("/nonexistent/chromium")


def test_keyboard_review_reaches_the_catalog(browser, review_setup):
    f = review_setup.facts
    first, second = f["flagged"]
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            assert pg.current() == first
            assert pg.text("#progress") == f"0 of {len(f['videos'])} reviewed"
            assert "QA sample: 100%" in pg.text("#sample") and "2 flagged" in pg.text("#sample")
            # frame stepping: arrows move one frame (shift: ten); the video seeks to the frame's middle
            pg.p.wait_for_function("document.getElementById('video').readyState >= 2")
            pg.press("ArrowRight", "ArrowRight", "ArrowRight")
            pg.p.wait_for_selector("#frame[data-frame='3']")
            pg.press("Shift+ArrowRight", "ArrowLeft")
            pg.p.wait_for_selector("#frame[data-frame='12']")
            pg.p.wait_for_function(
                "Math.abs(document.getElementById('video').currentTime - 12.5 / 30) < 1e-3"
            )
            # the ground-truth box of frame 12 is drawn on the canvas over the video
            vt = read_video_tracklets(tracklet_file(review_setup.dataset, f["video_path"][first]))
            x1, y1, x2, y2 = vt.tracklets[0].boxes[12]
            # pixels of the box's left edge painted in the colour of its kind (no detector score in
            # the world's ground truth: "interpolated", yellow #f1c40f)
            column = """([x, ya, yb, w]) => { const c = document.getElementById('overlay'); const s = c.width / w;
                const d = c.getContext('2d').getImageData(Math.round(x * s), Math.round(ya * s), 1,
                                                         Math.max(1, Math.round((yb - ya) * s))).data;
                let n = 0; for (let i = 0; i < d.length; i += 4)
                    n += d[i + 3] > 200 && d[i] > 200 && d[i + 1] > 150 && d[i + 2] < 80; return n; }"""
            scale = pg.p.evaluate("document.getElementById('overlay').width") / vt.width
            assert pg.p.evaluate(column, [x1, y1, y2, vt.width]) > 0.4 * (y2 - y1) * scale
            assert pg.p.evaluate(column, [(x1 + x2) / 2, y1 + 5, y2 - 5, vt.width]) == 0  # not inside
            pg.p.wait_for_function("document.getElementById('crops').naturalWidth > 0")  # the crop strip
            # the timeline: frame 12 coloured as the shown tracklet's kind there (interpolated: dark
            # yellow #9a7d0a, at least 3:1 on the timeline's white, and a bar of its own height)
            rgb = pg.p.evaluate(
                """(n) => { const c = document.getElementById('timeline');
                   const x = Math.floor((12.1 * c.width) / n);  // inside frame 12, left of the frame marker
                   return [...c.getContext('2d').getImageData(x, c.height / 2, 1, 1).data].slice(0, 3); }""",
                vt.frames,
            )
            assert rgb == [0x9A, 0x7D, 0x0A]
            # space plays, space again pauses on a frame the label names
            pg.press(" ")
            pg.p.wait_for_function("!document.getElementById('video').paused")
            pg.p.wait_for_timeout(300)
            pg.press(" ")
            pg.p.wait_for_function("document.getElementById('video').paused")
            pg.p.wait_for_function(
                "Math.abs(document.getElementById('video').currentTime * 30 - 0.5"
                " - Number(document.getElementById('frame').dataset.frame)) < 1e-3"
            )
            assert int(pg.p.get_attribute("#frame", "data-frame")) >= 12
            # accept (a), reject with a reason (r), re-pick another tracklet (t, p)
            pg.decide("a")
            assert pg.current() == second
            pg.decide("r", text="blurry: the skirt is hidden")
            third = pg.current()
            assert third not in (first, second)
            pg.press("t")
            pg.p.wait_for_selector("#candidates li.shown >> text=#1 inference")
            pg.decide("p")
            assert pg.text("#progress") == f"2 of {len(f['videos'])} reviewed"
            assert "ground truth picked: #1" in pg.text("#state")
            with Catalog(review_setup.catalog) as cat:
                got = [(d.video, d.kind, d.reason, d.tracklet) for d in list_decisions(cat)]
                assert got == [
                    (f["video_path"][first], "accept", None, None),
                    (f["video_path"][second], "reject", "blurry: the skirt is hidden", None),
                    (f["video_path"][third], "tracklet", None, 1),
                ]
                p1, p2 = f["product"][first], f["product"][second]
                assert cat.get_item(f["source"][p1], p1).status == Status.ACCEPTED
                assert cat.get_item(f["source"][p2], p2).status == Status.REJECTED
                # what mf publish will take: the rejected product is out
                kept = {r.product_id for r in apply_review(cat, cat.items(status=Status.ACCEPTED))}
                assert p1 in kept and p2 not in kept
            vp3 = f["video_path"][third]
            vt3 = read_video_tracklets(tracklet_file(review_setup.dataset, vp3))
            assert vt3.ground_truth == 1
            split = read_official(review_setup.dataset / "train.json") | read_official(
                review_setup.dataset / "test.json"
            )
            entry = split[f["product"][third]]
            assert entry.tracklets[entry.video_paths.index(vp3)] == vt3.tracklets[1].official()
            # undo (u) takes the pick back; change class (c, arrow, Enter)
            pg.decide("u")
            assert read_video_tracklets(tracklet_file(review_setup.dataset, vp3)).ground_truth == 0
            old_class = f["class"][f["product"][third]]
            pg.press("c")
            pg.p.wait_for_selector("#form-select:focus")
            pg.decide("ArrowDown", "Enter")
            with Catalog(review_setup.catalog) as cat:
                d = list_decisions(cat)[-1]
                assert (d.kind, d.df2_class, d.video) == ("class", old_class + 1, vp3)
                assert [x.kind for x in list_decisions(cat, include_undone=True)].count("tracklet") == 1
            assert pg.dialogs == [] and pg.errors == []
        finally:
            pg.close()


def _start_server(setup, port: int = 0) -> tuple[subprocess.Popen, str]:
    cmd = [
        sys.executable,
        "-m",
        "movingfashion",
        "review",
        "--dataset",
        str(setup.dataset),
        "--catalog",
        str(setup.catalog),
        "--port",
        str(port),
        "--sample",
        "0",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("review page: "):
            return proc, line.split(": ", 1)[1].strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the review server did not start: {line!r} {proc.stderr.read()}")


def test_a_killed_server_loses_no_decision(browser, review_setup):
    f = review_setup.facts
    first, second = f["flagged"]
    proc, url = _start_server(review_setup)
    pg = Page(browser, url)
    try:
        assert pg.current() == first
        pg.decide("a")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        # a second server on the same catalog: the first decision is there, the next one is added
        proc2, url2 = _start_server(review_setup)
        try:
            pg.p.goto(url2)
            pg.p.wait_for_selector("body[data-ready='1']")
            pg.saved = 0
            assert pg.current() == first and pg.text("#state") == "accepted"
            assert pg.text("#progress") == "1 of 2 reviewed"
            pg.press("j")
            pg.p.wait_for_selector(f"body[data-video='{second}']")
            pg.decide("r", text="too noisy")
        finally:
            os.kill(proc2.pid, signal.SIGKILL)
            proc2.wait(timeout=10)
    finally:
        pg.close()
    with Catalog(review_setup.catalog) as cat:
        assert cat.integrity_ok()
        assert [(d.video, d.kind, d.reason) for d in list_decisions(cat)] == [
            (f["video_path"][first], "accept", None),
            (f["video_path"][second], "reject", "too noisy"),
        ]
        p2 = f["product"][second]
        assert cat.get_item(f["source"][p2], p2).status == Status.REJECTED


def test_data_with_html_renders_as_text(browser, review_setup):
    f = review_setup.facts
    first = f["flagged"][0]
    pid = f["product"][first]
    ds = review_setup.dataset
    rows = [json.loads(x) for x in (ds / "entries.jsonl").read_text().splitlines() if x.strip()]
    for r in rows:
        if r["product_id"] == pid:
            r["metadata"].update(title=PAYLOAD, caption="caption " + PAYLOAD, designer=PAYLOAD)
    (ds / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    vt = read_video_tracklets(tracklet_file(ds, f["video_path"][first]))
    vt.review_reason = "reason " + PAYLOAD
    write_video_tracklets(ds, vt)
    with running(review_setup) as srv:
        pg = Page(browser, srv.url)
        try:
            assert pg.current() == first
            pg.decide("n", text="note " + PAYLOAD)
            pg.p.wait_for_selector("#notes li")
            assert pg.text("#title") == PAYLOAD
            assert pg.text("#caption") == "caption " + PAYLOAD
            assert PAYLOAD in pg.text("#meta")
            assert pg.text("#flag") == "flagged: reason " + PAYLOAD
            assert pg.text("#notes li") == "note " + PAYLOAD
            options = pg.p.evaluate(
                "[...document.querySelectorAll('#f-reason option')].map(o => o.textContent)"
            )
            assert "reason " + PAYLOAD + " (1)" in options  # a reason without a colon is its own kind
            time.sleep(0.3)  # give an injected handler the chance to fire
            injected = pg.p.evaluate(
                """() => ({imgs: document.querySelectorAll('img[src="x"], img[onerror]').length,
                          scripts: [...document.scripts].map(s => s.getAttribute('src')),
                          handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length})"""
            )
            assert injected == {"imgs": 0, "scripts": ["/static/review.js"], "handlers": 0}
            assert pg.dialogs == [] and pg.errors == []
        finally:
            pg.close()
    with Catalog(review_setup.catalog) as cat:
        assert list_decisions(cat)[-1].note == "note " + PAYLOAD  # stored as typed


def test_a_key_pressed_again_while_a_decision_is_saved_is_ignored(browser, review_setup):
    """`a` twice before the page moved on: one accept (of the video shown), and the page lands
    on the next video, not past it; a `j` pressed meanwhile is ignored too."""
    f = review_setup.facts
    first, second = f["flagged"]
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            assert pg.current() == first
            held: list = []  # the first write is held until every key was pressed, however loaded
            pg.p.route("**/api/decision*", lambda route: held.append(route))  # the machine is
            pg.press("a", "a", "j")
            deadline = time.monotonic() + 30  # the first write leaves however loaded the machine
            while not held and time.monotonic() < deadline:
                pg.p.wait_for_timeout(50)
            assert held, f"the first decision was never sent; the page: {pg.state()}"
            pg.p.wait_for_timeout(300)  # keys a page would act on are handled meanwhile
            assert len(held) == 1, "a second decision was sent while the first was under way"
            held[0].continue_()
            pg.p.unroute("**/api/decision*")
            pg.wait_saved(1)
            pg.p.wait_for_function("!document.body.dataset.busy")
            pg.p.wait_for_timeout(500)  # a second write, were one sent, would land meanwhile
            assert pg.current() == second and pg.p.evaluate("document.body.dataset.saved") == "1"
            pg.saved = 1
            pg.decide("a")  # the page takes keys again once the write is done
            assert pg.current() not in (first, second)
            assert pg.errors == []
        finally:
            pg.close()
    assert _decided(review_setup) == [
        (f["video_path"][first], "accept"),
        (f["video_path"][second], "accept"),
    ]


def test_a_stored_decision_whose_reload_fails_says_saved_not_unsaved(browser, review_setup):
    """The write is stored, then reloading the queue fails (a dropped connection): the page says
    the decision was saved and how to see it, never "not saved", and takes keys again."""
    f = review_setup.facts
    first = f["flagged"][0]
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            assert pg.current() == first
            pg.p.route("**/api/queue*", lambda route: route.abort("connectionreset"))
            pg.press("a")
            pg.wait_saved(1)
            shown = pg.text("#status")
            assert shown.startswith("saved: accept " + first) and "could not reload" in shown, shown
            assert "not saved" not in shown
            pg.p.unroute("**/api/queue*")
            pg.p.wait_for_function("!document.body.dataset.busy")
        finally:
            pg.close()
    assert _decided(review_setup) == [(f["video_path"][first], "accept")]


def test_an_item_publish_held_back_shows_its_collected_files_and_is_accepted(browser, review_setup):
    """An item cleaning flagged, never published: the page plays its collected video and shows
    its collected shop image (from the collection folder), says it is held back, and an accept
    reaches the catalog (the next mf publish has it)."""
    from tests.annotations.review.test_held_back import _cleaning_flagged

    stem = _cleaning_flagged(review_setup, "CheldAAAAAA", review_setup.facts["videos"][2])
    with running(review_setup, sample_rate=0.0) as srv:
        pg = Page(browser, srv.url)
        try:
            pg.p.click(f"#queue li[data-stem='{stem}']")
            pg.p.wait_for_selector(f"body[data-video='{stem}']")
            pg.p.wait_for_function("document.getElementById('video').readyState >= 2")
            pg.p.wait_for_function("document.getElementById('shop').naturalWidth > 0")
            assert "/api/file?" in pg.p.get_attribute("#video", "src")
            assert "held back by mf publish" in pg.text("#meta")
            assert pg.text("#flag").startswith("flagged: shop: candidates too alike")
            pg.decide("a")
            assert pg.dialogs == [] and pg.errors == []
        finally:
            pg.close()
    with Catalog(review_setup.catalog) as cat:
        assert cat.get_item("instagram", "CheldAAAAAA").status == Status.ACCEPTED


def test_a_failed_load_keeps_decisions_on_the_video_shown(browser, review_setup):
    """Moving to the next video fails (a dropped connection): the page stays on the video it
    shows, says so, and the decision made next goes to that video, never to the one that did
    not load; with the server gone, the page says it cannot reach it."""
    f = review_setup.facts
    first, second = f["flagged"]
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            assert pg.current() == first
            pg.p.wait_for_function("!document.body.dataset.busy")
            pg.p.route("**/api/item?*", lambda route: route.abort("connectionreset"))
            pg.press("j")
            pg.p.wait_for_function(
                "document.getElementById('status').textContent.startsWith('cannot load')",
                timeout=3 * TIMEOUT_MS,  # a loaded machine: the aborted request may take a while
            )
            shown = pg.text("#status")
            assert second in shown and "still shows " + first in shown, shown
            assert "cannot reach the review server" in shown, shown
            assert pg.current() == first
            pg.p.unroute("**/api/item?*")
            pg.decide("a")
        finally:
            pg.close()
    assert _decided(review_setup) == [(f["video_path"][first], "accept")]


def test_a_stale_page_cannot_overturn_another_pages_verdict_unseen(browser, review_setup):
    """Two pages on one video: A accepts; B, still showing it undecided, rejects: refused (409),
    B says so and shows the accept; B's reject made again, now seeing it, is stored."""
    f = review_setup.facts
    first = f["flagged"][0]
    with running(review_setup, sample_rate=1.0) as srv:
        a, b = Page(browser, srv.url), Page(browser, srv.url)
        try:
            assert a.current() == b.current() == first
            a.decide("a")
            b.press("r")
            b.p.wait_for_selector("#form:not([hidden])")
            b.p.keyboard.type("too blurry")
            b.p.keyboard.press("Enter")
            b.p.wait_for_function("document.getElementById('status').textContent.startsWith('not saved')")
            shown = b.text("#status")
            assert "was accepted by another page" in shown and "undecided" in shown, shown
            b.p.wait_for_function("document.getElementById('state').textContent === 'accepted'")
            assert b.current() == first
            b.decide("r", text="too blurry")  # now the page saw the accept: a deliberate change
        finally:
            a.close()
            b.close()
    assert _decided(review_setup) == [
        (f["video_path"][first], "accept"),
        (f["video_path"][first], "reject"),
    ]


def test_the_page_shows_a_look_alike_picks_candidates_and_marks_the_pick(browser, review_setup):
    from tests.annotations.review.test_held_back import with_candidates

    stem, _ = with_candidates(review_setup)
    with running(review_setup, sample_rate=0.0) as srv:
        pg = Page(browser, srv.url)
        try:
            pg.p.click(f"#queue li[data-stem='{stem}']")
            pg.p.wait_for_selector(f"body[data-video='{stem}']")
            pg.p.wait_for_function(
                "[...document.querySelectorAll('#shop-candidates img')].filter((i) => i.naturalWidth > 0).length === 3"
            )
            caps = pg.p.eval_on_selector_all(
                "#shop-candidates figcaption", "els => els.map((e) => e.textContent)"
            )
            assert [c.split(" (")[0] for c in caps] == [f"candidate {n} of 3" for n in (1, 2, 3)]
            assert "cleaning's pick" in caps[2] and all("pick" not in c for c in caps[:2])
            assert pg.p.is_visible("#shop-candidates")
            pg.p.click(f"#queue li[data-stem='{review_setup.facts['flagged'][0]}']")
            pg.p.wait_for_selector(f"body[data-video='{review_setup.facts['flagged'][0]}']")
            assert not pg.p.is_visible("#shop-candidates")  # an item without candidates shows none
            assert pg.errors == []
        finally:
            pg.close()


def test_choosing_another_candidate_makes_it_the_shop_image_and_u_undoes_it(browser, review_setup):
    from tests.annotations.review.test_held_back import with_candidates

    stem, rels = with_candidates(review_setup)
    caption = "#shop-candidates figure:nth-child({}) figcaption"
    with running(review_setup, sample_rate=0.0) as srv:
        pg = Page(browser, srv.url)
        try:
            pg.p.click(f"#queue li[data-stem='{stem}']")
            pg.p.wait_for_selector(f"body[data-video='{stem}']")
            assert pg.p.locator("#shop-candidates button.use-candidate").count() == 2  # not on the pick
            assert "cleaning's pick" in pg.text(caption.format(3))
            pg.p.click("#shop-candidates figure:nth-child(1) button.use-candidate")
            pg.wait_saved(1)
            pg.p.wait_for_function(
                "document.querySelector('#shop-candidates figure:nth-child(1)').classList.contains('picked')"
            )
            assert "chosen in review" in pg.text(caption.format(1))
            assert pg.p.locator("#shop-candidates figure:nth-child(1) button").count() == 0
            assert pg.current() == stem  # a choice does not move on: accept or reject follows
            pg.press("u")
            pg.wait_saved(2)
            pg.p.wait_for_function(
                "document.querySelector('#shop-candidates figure:nth-child(3)').classList.contains('picked')"
            )
            assert "cleaning's pick" in pg.text(caption.format(3))
            assert pg.errors == []
        finally:
            pg.close()
    with Catalog(review_setup.catalog) as cat:
        made = list_decisions(cat, include_undone=True)
    assert [(d.kind, d.shop, d.undone_at is not None) for d in made] == [("shop", rels[0], True)]


def test_the_reason_filter_offers_kinds_of_reason_not_every_reason(browser, review_setup):
    """Two videos flagged "low confidence: det_mean <score> < ..." with different scores are one
    entry of the filter, with its count, and choosing it keeps exactly those two."""
    f = review_setup.facts
    ds = review_setup.dataset
    for stem, score in zip(f["flagged"], ("0.349", "0.232"), strict=True):
        vt = read_video_tracklets(tracklet_file(ds, f["video_path"][stem]))
        vt.review_reason = f"low confidence: det_mean {score} < 0.359"
        write_video_tracklets(ds, vt)
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            options = pg.p.evaluate(
                "[...document.querySelectorAll('#f-reason option')].map(o => o.textContent)"
            )
            assert options == ["any", "(QA sample)", "low confidence (2)"], options
            pg.p.select_option("#f-reason", "low confidence")
            shown = pg.p.eval_on_selector_all("#queue li", "els => els.map((e) => e.dataset.stem)")
            assert sorted(shown) == sorted(f["flagged"])
            assert pg.errors == []
        finally:
            pg.close()


def test_the_filter_menus_follow_a_queue_that_changed(browser, review_setup):
    """A build that flags another video with a new kind of reason while the page is open: the
    reason menu offers it after the next decision reloads the queue, and the choice made stays."""
    f = review_setup.facts
    ds = review_setup.dataset
    with running(review_setup, sample_rate=0.0) as srv:
        pg = Page(browser, srv.url)
        try:
            kinds = pg.p.evaluate("[...document.querySelectorAll('#f-reason option')].map(o => o.value)")
            assert "fragmented" not in kinds, kinds
            other = next(p for p in sorted((ds / "tracklets").glob("*.json")) if p.stem not in f["flagged"])
            vt = read_video_tracklets(other)
            vt.needs_review, vt.review_reason = True, "fragmented: 4 pieces"
            write_video_tracklets(ds, vt)
            pg.p.select_option("#f-decision", "none")
            pg.decide("a")
            pg.p.wait_for_function(
                "[...document.querySelectorAll('#f-reason option')].some((o) => o.value === 'fragmented')"
            )
            assert pg.p.eval_on_selector("#f-decision", "s => s.value") == "none"  # kept
            pg.p.select_option("#f-reason", "fragmented")
            shown = pg.p.eval_on_selector_all("#queue li", "els => els.map((e) => e.dataset.stem)")
            assert shown == [other.stem]
            assert pg.errors == []
        finally:
            pg.close()


def test_a_stored_decision_whose_next_video_does_not_load_still_says_saved(browser, review_setup):
    f = review_setup.facts
    first = f["flagged"][0]
    with running(review_setup, sample_rate=1.0) as srv:
        pg = Page(browser, srv.url)
        try:
            assert pg.current() == first
            pg.p.wait_for_function("!document.body.dataset.busy")
            pg.p.route("**/api/item?*", lambda route: route.abort("connectionreset"))
            pg.press("a")
            pg.wait_saved(1)
            shown = pg.text("#status")
            assert shown.startswith("saved: accept " + first) and "cannot load" in shown, shown
            assert pg.current() == first
            pg.p.unroute("**/api/item?*")
        finally:
            pg.close()
    assert _decided(review_setup) == [(f["video_path"][first], "accept")]
