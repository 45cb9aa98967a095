"""The review page on unusual videos: non-square pixels (SAR 2:1) and a variable frame rate.

Boxes are in stored pixels and frames are indexed in display order; the page must draw a box
over its garment whatever the display aspect, and seek frame ``i`` to the time it is shown.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from tests.annotations.review.conftest import ReviewSetup, running
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture

DROP = (10, 25)  # frames dropped by the VFR copy, timestamps of the rest kept


def _ffmpeg(src: Path, dst: Path, *vf: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), *vf,
         "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(dst)],
        check=True,
    )  # fmt: skip


def _first(setup: ReviewSetup) -> tuple[str, Path]:
    """The video the page opens first (the first flagged one) and its file."""
    stem = setup.facts["flagged"][0]
    return stem, setup.dataset / setup.facts["video_path"][stem]


def make_anamorphic(setup: ReviewSetup) -> str:
    """Store the first video at half width with SAR 2:1 (shown as before); boxes halved in x."""
    stem, path = _first(setup)
    tmp = path.with_name("orig.mp4")
    path.rename(tmp)
    _ffmpeg(tmp, path, "-vf", "scale=iw/2:ih,setsar=2/1")
    tmp.unlink()
    tf = tracklet_file(setup.dataset, setup.facts["video_path"][stem])
    vt = read_video_tracklets(tf)
    vt.width //= 2
    for t in vt.tracklets:
        t.boxes = {f: [b[0] / 2, b[1], b[2] / 2, b[3]] for f, b in t.boxes.items()}
    write_video_tracklets(setup.dataset, vt)
    return stem


def make_vfr(setup: ReviewSetup) -> tuple[str, list[float]]:
    """Drop frames DROP of the first video, timestamps kept; renumber its boxes. Returns the
    stem and the new file's frame times."""
    stem, path = _first(setup)
    tmp = path.with_name("orig.mp4")
    path.rename(tmp)
    _ffmpeg(tmp, path, "-vf", f"select='not(between(n,{DROP[0]},{DROP[1]}))'", "-fps_mode", "vfr")
    tmp.unlink()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        times = sorted(float(p.pts * s.time_base) for p in c.demux(s) if p.pts is not None and p.size)
    gone = DROP[1] - DROP[0] + 1
    tf = tracklet_file(setup.dataset, setup.facts["video_path"][stem])
    vt = read_video_tracklets(tf)
    vt.frames = len(times)

    def new(f: int) -> int | None:
        return f if f < DROP[0] else (None if f <= DROP[1] else f - gone)

    for t in vt.tracklets:
        t.boxes = {new(f): b for f, b in t.boxes.items() if new(f) is not None}
        t.scores = {new(f): v for f, v in t.scores.items() if new(f) is not None}
        t.match_scores = {new(f): v for f, v in t.match_scores.items() if new(f) is not None}
        if t.pivot_frame is not None:
            t.pivot_frame = min(t.scores) if t.scores else None
    write_video_tracklets(setup.dataset, vt)
    return stem, times


def test_item_json_sends_frame_times_and_pixel_aspect(review_setup):
    """Constant rate: no times (the page steps by fps as before), square pixels; a VFR file:
    its frames' times; an anamorphic file: its SAR, and crop strips widened by it."""
    import cv2

    from annotations.review.server import ReviewApp

    stem, _ = _first(review_setup)
    app = ReviewApp(review_setup.dataset, review_setup.catalog, sample_rate=1.0)
    try:
        d = app.item_json(stem)
        assert d["frame_times"] is None and d["sar"] == 1.0
        square = app.crops(stem, 0)
    finally:
        app.close()
    stem, times = make_vfr(review_setup)
    app = ReviewApp(review_setup.dataset, review_setup.catalog, sample_rate=1.0)
    try:
        d = app.item_json(stem)
        assert d["frame_times"] == pytest.approx(times, abs=1e-5)
        assert d["frames"] == len(times)
    finally:
        app.close()
    make_anamorphic(review_setup)
    app = ReviewApp(review_setup.dataset, review_setup.catalog, sample_rate=1.0)
    try:
        assert app.item_json(stem)["sar"] == 2.0
        wide = app.crops(stem, 0)
    finally:
        app.close()
    w0 = cv2.imdecode(np.frombuffer(square, np.uint8), cv2.IMREAD_COLOR).shape[1]
    w1 = cv2.imdecode(np.frombuffer(wide, np.uint8), cv2.IMREAD_COLOR).shape[1]
    assert abs(w1 - w0) <= 0.1 * w0  # the crops keep the garment's shape, not half as wide


def _open_first(browser, srv, stem: str) -> Page:  # noqa: F811 - the fixture
    pg = Page(browser, srv.url)
    assert pg.current() == stem
    pg.p.wait_for_function("document.getElementById('video').readyState >= 2")
    return pg


def _go(pg: Page, f: int) -> None:
    """Step the page to frame ``f`` with the arrow keys."""
    cur = int(pg.p.evaluate("document.getElementById('frame').dataset.frame"))
    for _ in range(abs(f - cur)):
        pg.press("ArrowRight" if f > cur else "ArrowLeft")
    pg.p.wait_for_selector(f"#frame[data-frame='{f}']")


def test_boxes_of_a_non_square_pixel_video_are_drawn_over_the_garment(browser, review_setup):  # noqa: F811
    stem = make_anamorphic(review_setup)
    vt = read_video_tracklets(tracklet_file(review_setup.dataset, review_setup.facts["video_path"][stem]))
    with running(review_setup, sample_rate=1.0) as srv:
        pg = _open_first(browser, srv, stem)
        try:
            f = sorted(vt.tracklets[0].boxes)[len(vt.tracklets[0].boxes) // 2]
            _go(pg, f)
            ow, oh = pg.p.evaluate(
                "[document.getElementById('overlay').width, document.getElementById('overlay').height]"
            )
            assert ow / oh == pytest.approx(2 * vt.width / vt.height, rel=0.05)  # shown at display aspect
            x1, y1, x2, y2 = vt.tracklets[0].boxes[f]
            sx, sy = ow / vt.width, oh / vt.height
            # the painted rectangle's bounding box (yellow: the world's boxes are "interpolated")
            drawn = pg.p.evaluate(
                """() => { const o = document.getElementById('overlay');
                  const d = o.getContext('2d').getImageData(0, 0, o.width, o.height).data;
                  let a = 1e9, b = 1e9, c = -1, e = -1;
                  for (let y = 0; y < o.height; y++) for (let x = 0; x < o.width; x++) {
                    const i = (y * o.width + x) * 4;
                    if (d[i + 3] > 200 && d[i] > 200 && d[i + 1] > 150 && d[i + 2] < 80) {
                      a = Math.min(a, x); b = Math.min(b, y); c = Math.max(c, x); e = Math.max(e, y); } }
                  return [a, b, c, e]; }"""
            )
            want = [x1 * sx, y1 * sy, x2 * sx, y2 * sy]
            assert drawn == pytest.approx(want, abs=6), (drawn, want)
            assert pg.errors == []
        finally:
            pg.close()


def test_a_variable_frame_rate_video_shows_each_frame_at_its_own_time(browser, review_setup):  # noqa: F811
    stem, times = make_vfr(review_setup)
    with running(review_setup, sample_rate=1.0) as srv:
        pg = _open_first(browser, srv, stem)
        try:
            assert pg.text("#frame").endswith(f"/ {len(times) - 1}")
            for f in (5, 15, len(times) - 2):
                _go(pg, f)
                pg.p.wait_for_function(
                    f"(() => {{ const t = document.getElementById('video').currentTime;"
                    f" return t > {times[f]} && t < {times[f + 1]}; }})()"
                )
            assert pg.errors == []
        finally:
            pg.close()


def test_an_edit_list_cut_times_only_the_frames_it_shows(tmp_path):
    """A stream-copied cut keeps, flagged discard, the frames before its start that the first
    shown frame depends on; they were timed as frames 0, 1... so the page sought every frame of
    such a video to an earlier one. The times are those of the frames the decoder puts out."""
    from annotations.review.media import video_timing

    src, cut = tmp_path / "src.mp4", tmp_path / "cut.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=96x64:rate=25", "-t", "3", "-c:v", "libx264", "-g", "25", "-bf", "2", str(src)],
        check=True,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", "1.1", "-i", str(src), "-t", "1",
         "-c", "copy", str(cut)],
        check=True,
    )  # fmt: skip
    with av.open(str(cut)) as container:
        hidden = sum(p.is_discard for p in container.demux(video=0) if p.size)
    with av.open(str(cut)) as container:
        shown = [round(float(f.time), 6) for f in container.decode(video=0)]
    assert hidden > 0 and len(shown) > 10  # the case this test is about
    times = video_timing(cut, 25.0).frame_times
    expected = None if np.allclose(shown, np.arange(len(shown)) / 25.0, atol=0.01) else shown
    assert times == expected
