"""Re-posts filling a frame of another aspect are duplicates: zoomed in to fill it (two borders
cut: a landscape clip cropped to portrait) or fitted into it over a blurred, enlarged copy of
itself (TikTok's and Instagram's fill); the fill is cut off like bars and pairs nothing else
(world truth: planted crop_fill and blur_fill re-posts, retakes, every other video's box)."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from cleaning.borders import blurred_fill_box, content_box
from cleaning.config import DedupConfig
from cleaning.dedup import find_video_duplicates
from cleaning.views import Window, fill_windows
from tests.cleaning.media_helpers import reencode, write_mp4
from tests.cleaning.test_dedup import _record

#: the detector as it was before fills were looked for
OFF = DedupConfig(fill_aspects=[], strip_blurred_fill=False)


def _records(clips, cfg):
    from dataclasses import replace

    from cleaning.fingerprint import fingerprint_video

    out = []
    for k, p in sorted(clips.items()):
        r = _record(p, k)
        out.append(replace(r, fingerprint=fingerprint_video(p, r.frames, r.fps, r.width, r.height, cfg)))
    return out


#: ffmpeg filters re-posting a 16:9 clip in a 9:16 frame (144x256)
TIKTOK_BLUR = (
    "split[a][b];[a]scale=456:256,crop=144:256,boxblur=12[bg];[b]scale=144:82[fg];"
    "[bg][fg]overlay=0:(H-h)/2,format=yuv420p"
)
TIKTOK_CROP = "crop=ih*9/16:ih:(iw-ow)*0.52:0,scale=144:256"
#: the bars' way: the clip fitted into the frame over black, which the fill must not be taken for
TIKTOK_BARS = "scale=144:82,pad=144:256:0:(oh-ih)/2:black"


def smooth_scene(seed: int, n: int = 60, w: int = 256, h: int = 144) -> np.ndarray:
    """A softly shaded room with a few moving shapes (a camera's picture, not texture noise)."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.integers(30, 225, (max(2, h // 36), max(2, w // 36), 3), dtype=np.uint8),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    shapes = [
        (rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, rng.uniform(-2, 2), rng.uniform(-1, 1))
        for _ in range(5)
    ]
    colours = [tuple(int(c) for c in rng.integers(0, 255, 3)) for _ in shapes]
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        img = base.copy()
        for (x, y, dx, dy), col in zip(shapes, colours, strict=True):
            cx, cy = int(x + dx * t) % w, int(y + dy * t) % h
            cv2.rectangle(img, (cx - 9, cy - 14), (cx + 9, cy + 14), col, -1)
            cv2.circle(img, (cx, cy - 20), 6, col, -1)
        out[t] = img
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("fills")
    src = {f"src{s}": write_mp4(d / f"src{s}.mp4", smooth_scene(60 + s)) for s in range(3)}
    return {
        **src,
        "blur0": reencode(src["src0"], d / "blur0.mp4", TIKTOK_BLUR),
        "crop1": reencode(src["src1"], d / "crop1.mp4", TIKTOK_CROP),
        "bars2": reencode(src["src2"], d / "bars2.mp4", TIKTOK_BARS),
    }


def test_crop_to_fill_windows_keep_the_whole_height_or_width_of_another_aspect():
    tall = fill_windows(9 / 16, [9 / 16, 0.75, 1.0, 16 / 9], 0.06, 0.1)
    # 9:16 is the box's own aspect; 3:4 keeps 75% of the height, 1:1 56%, 16:9 32%
    assert {round(w.h, 3) for w in tall} == {0.75, 0.562, 0.316} and all(w.w == 1.0 for w in tall)
    for kept in (0.75, 0.5625, 0.3164):
        at = sorted(w.cy for w in tall if abs(w.h - kept) < 1e-3)
        assert at[len(at) // 2] == 0.5 and at[-1] - 0.5 == pytest.approx(0.1 * (1 - kept), abs=1e-3)
        assert max(np.diff(at)) <= 0.06 * kept + 1e-9  # at most 6% of the window apart
    wide = fill_windows(16 / 9, [9 / 16], 0.06, 0.0)
    assert wide == [Window(0.5, 0.5, pytest.approx(0.3164, abs=1e-3), 1.0)]
    assert fill_windows(1.0, [], 0.06, 0.1) == [] and fill_windows(1.0, [0.95], 0.06, 0.1) == []


def test_the_blurred_fill_of_a_tiktok_repost_is_cut_off_like_bars(clips):
    from cleaning.fingerprint import decode_size, sample_times, to_grey
    from movingfashion.media.readers import read_frames

    def grey(key):
        rec = _record(clips[key])
        w, h = decode_size(rec.width, rec.height)
        return to_grey(read_frames(clips[key], sample_times(rec.frames, rec.fps, 0.0667, 600), size=(h, w)))

    g = grey("blur0")  # 128 x 228: the picture (144x82 from line 87 of 256) lines 77-150
    assert content_box(g) == (0, 0, 128, 228)
    x0, y0, x1, y1 = blurred_fill_box(g, content_box(g))
    assert (x0, x1) == (0, 128) and abs(y0 - 77) <= 2 and abs(y1 - 150) <= 2
    for key in ("src0", "crop1"):  # no fill: the box is kept
        g = grey(key)
        assert blurred_fill_box(g, content_box(g)) == content_box(g)


def _fill_over_a_wall(dim: float, n: int = 16, w: int = 64, h: int = 96, ow: int = 170):
    """Grey frames of a portrait clip (a figure walking before a flat wall) fitted into a wider
    frame over a copy of itself enlarged to cover it, blurred and darkened by ``dim`` (as the
    world's blur_fill re-posts are made), and the picture's box."""
    x0, cover = (ow - w) // 2, ow / w
    bw, bh = int(np.ceil(w * cover)), int(np.ceil(h * cover))
    bx, by = (bw - ow) // 2, (bh - h) // 2
    out = []
    for t in range(n):
        pic = np.full((h, w), 170.0, np.float32) + np.linspace(0, 8, h, dtype=np.float32)[:, None]
        cx = 24 + t
        pic[30:80, cx - 8 : cx + 8] = 90.0
        pic[30:80:4, cx - 8 : cx + 8] = 140.0
        pic[18:30, cx - 4 : cx + 4] = 60.0
        back = cv2.resize(pic, (bw, bh), interpolation=cv2.INTER_LINEAR)[by : by + h, bx : bx + ow]
        frame = cv2.GaussianBlur(back, (0, 0), 5.0) * dim
        frame[:, x0 : x0 + w] = pic
        out.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return np.stack(out), (x0, 0, x0 + w, h)


@pytest.mark.parametrize("dim", [1.0, 0.6])
def test_a_darkened_fill_around_a_flat_picture_is_found(dim):
    """Darkened, the fill meets the bright wall at a step; blurring the whole frame spread that
    step into the compared fill, which then did not look like the picture (world 47: a blur_fill
    re-post at 0.6 kept the whole frame as its box)."""
    g, (x0, y0, x1, y1) = _fill_over_a_wall(dim)
    got = blurred_fill_box(g, (0, 0, g.shape[2], g.shape[1]))
    assert got == pytest.approx((x0, y0, x1, y1), abs=2)


def test_reposts_filling_a_portrait_frame_are_duplicates_of_their_landscape_source(clips):
    res = find_video_duplicates(_records(clips, DedupConfig()))
    assert sorted(sorted(c) for c in res.clusters if len(c) > 1) == [
        ["bars2", "src2"],
        ["blur0", "src0"],
        ["crop1", "src1"],
    ]
    pairs = {(p.a, p.b): p for p in res.pairs}
    assert pairs[("crop1", "src1")].transform.startswith("fill window 0.32x1.00")
    assert pairs[("blur0", "src0")].score >= DedupConfig().verify_threshold
    # off, as before: neither is found
    assert sorted(
        sorted(c) for c in find_video_duplicates(_records(clips, OFF), OFF).clusters if len(c) > 1
    ) == [["bars2", "src2"]]


@pytest.mark.slow
def test_world_filled_reposts_are_found_and_nothing_else(dedup_world, world_dedup):
    """The world with every re-post knob (test_dedup_mixed.py): two crop-to-fill and two
    blurred-fill re-posts, two retakes; every other kind's re-posts keep their box too."""
    from movingfashion.world.truth import FILLED_VARIANTS

    world = dedup_world("mixed")
    found = world_dedup(world)
    truth, recs, scores = found.truth, found.records, found.scores
    for kind in [*FILLED_VARIANTS, "exact", "reencode", "subclip"]:
        assert scores[str(kind)]["n"] >= 1
        assert scores[str(kind)]["recall"] == 1.0 and scores[str(kind)]["precision"] == 1.0, (kind, scores)
    assert scores["false_pairs"]["pairs"] == [] and scores["hard_negatives"]["merged"] == 0
    # the fill is found on the blurred-fill re-posts, where the truth put the picture, and nowhere else
    by_id = {v.video_id: v for v in truth.videos}
    plain = world_dedup(world, DedupConfig(strip_blurred_fill=False)).records
    for r, p in zip(recs, plain, strict=True):
        v = by_id[r.key]
        if v.variant == "blur_fill":
            placed = re.match(r"(\d+)x(\d+) at (\d+),(\d+) ", v.variant_detail or "")
            assert placed, v.variant_detail
            iw, ih, x0, y0 = map(int, placed.groups())
            want = (x0 / v.width, y0 / v.height, (x0 + iw) / v.width, (y0 + ih) / v.height)
            assert r.fingerprint.box == pytest.approx(want, abs=0.02), (v.variant_detail, r.fingerprint.box)
        else:
            assert r.fingerprint.box == p.fingerprint.box, v.video_id
