"""Letterbox/pillarbox bars found on frames made in the test."""

from __future__ import annotations

import cv2
import numpy as np

from cleaning.borders import content_box
from tests.cleaning.media_helpers import scene


def _grey(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])


def test_letterbox_bars_with_a_caption_are_trimmed_to_the_picture():
    pic = _grey(scene(1, 12, 120, 90))
    padded = np.zeros((12, 150, 120), np.uint8)  # black bars: 37 rows above, 23 below
    padded[:, 37:127] = pic
    for f in padded:
        cv2.putText(f, "wait for it", (4, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1, cv2.LINE_AA)
    assert content_box(padded) == (0, 37, 120, 127)


def test_white_pillarbox_bars_are_trimmed():
    pic = _grey(scene(2, 12, 80, 100))
    padded = np.full((12, 100, 130), 250, np.uint8)
    padded[:, :, 21:101] = pic
    assert content_box(padded) == (21, 0, 101, 100)


def test_a_plain_wall_or_a_moving_dark_edge_is_not_a_bar():
    frames = _grey(scene(3, 12, 120, 90))
    wall = frames.copy()
    wall[:, :20] = 180  # uniform and still, but neither dark nor bright
    assert content_box(wall) == (0, 0, 120, 90)
    dark = frames.copy()
    dark[:, :20] = (np.arange(12) * 3)[:, None, None]  # dark, but changes over time
    assert content_box(dark) == (0, 0, 120, 90)
    assert content_box(frames) == (0, 0, 120, 90)


def test_a_picture_off_centre_between_two_bars_is_found_but_one_bar_alone_is_capped():
    pic = _grey(scene(4, 12, 40, 100))
    padded = np.zeros((12, 100, 178), np.uint8)  # a 2:5 clip in a 16:9 frame, bars of 98 and 40 columns
    padded[:, :, 98:138] = pic
    assert content_box(padded) == (98, 0, 138, 100)
    assert content_box(padded, max_paired_trim=0.4) == (71, 0, 138, 100)  # the older cap: a bar left
    one_side = np.zeros((12, 100, 178), np.uint8)
    one_side[:, :, 138:] = pic  # one bar of 138 columns: no opposite bar, cut at 0.4 as before
    assert content_box(one_side) == (71, 0, 178, 100)
    grey_pair = np.full((12, 100, 178), 250, np.uint8)  # white bar on the left, black on the right
    grey_pair[:, :, 98:] = 0
    grey_pair[:, :, 98:138] = pic
    assert content_box(grey_pair, max_lone_trim=0.4)[0] == 71  # not a pair: each bar alone, capped
    assert content_box(grey_pair)[0] == 98  # the white one alone is flat with a straight edge: a lone bar


def _moving_picture(seed: int, t: int, w: int, h: int) -> np.ndarray:
    """Grey frames of a textured picture drifting sideways (a clip's content)."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(30, 230, (h, w + 2 * t)).astype(np.float32), (0, 0), 2.0)
    return np.stack([base[:, k : k + w] for k in range(t)]).clip(0, 255).astype(np.uint8)


def test_one_captioned_bar_over_40_percent_is_cut_when_flat_with_a_straight_edge_a_wall_is_not():
    """A clip at the top of a tall frame over one large bar (a TikTok re-post layout) was cut at
    0.4 of the height: a fifth of its hashed box was bar."""
    pic = _moving_picture(7, 12, 90, 100)
    for colour, ink, top in ((0, 255, True), (255, 0, False), (18, 255, True)):
        tall = np.full((12, 200, 90), colour, np.uint8)  # the bar: 50% of the height
        rows = slice(0, 100) if top else slice(100, 200)
        tall[:, rows] = pic
        for f in tall:  # a caption across the bar
            cv2.putText(f, "obsessed fit", (2, 150 if top else 50), cv2.FONT_HERSHEY_SIMPLEX, 0.4, ink, 1)
        want = (0, 0, 90, 100) if top else (0, 100, 90, 200)
        assert content_box(tall) == want, colour
        assert content_box(tall, max_lone_trim=0.4) != want  # the old cap
        turned = tall.transpose(0, 2, 1).copy()  # the same beside the clip: a lone pillar bar
        assert content_box(turned) == (want[1], 0, want[3], 90)
    # but a still wall or a still picture beside the clip is not such a bar
    rng = np.random.default_rng(3)
    wall = np.zeros((12, 200, 90), np.uint8)
    wall[:, :100] = pic
    shade = np.linspace(8, 30, 100)[:, None] + rng.normal(0, 3, (100, 90))  # dark, still, shaded, grainy
    wall[:, 100:] = shade.clip(0, 255).astype(np.uint8)
    assert content_box(wall)[3] >= 120  # at most the old 0.4 cut, not the wall's 50%
    still = np.full((12, 200, 90), 250, np.uint8)  # a still bright picture under the clip (split screen)
    still[:, :100] = pic
    still[:, 110:190, 30:60] = (40 + (np.arange(30) % 7) * 10).astype(np.uint8)  # a still striped object
    assert content_box(still)[3] == 120  # the old 0.4 cut, not the still picture's 50%
    assert content_box(still, lone_max_detail=99)[3] == 100  # the flatness test is what tells them apart


def test_a_still_bright_wall_of_a_third_beside_the_clip_is_not_cut_as_a_bar():
    """A crop's still, bright wall of 31% of the width was cut as a bar (world seed 402: the box
    two thirds of the picture, the re-post missed)."""
    pic = _moving_picture(9, 12, 140, 100)
    rng = np.random.default_rng(4)
    frames = np.empty((12, 100, 200), np.uint8)
    frames[:, :, 60:] = pic
    shade = 222 + np.linspace(0, 10, 100)[:, None] + rng.normal(0, 3, (100, 60))  # bright, still, shaded
    frames[:, :, :60] = shade.clip(0, 255).astype(np.uint8)
    assert content_box(frames, lone_check_from=1.0)[0] >= 50  # the old rule cuts the wall
    assert content_box(frames) == (0, 0, 200, 100)
    bar = frames.copy()  # a flat white bar there is still cut
    bar[:, :, :60] = 250
    assert content_box(bar) == (60, 0, 200, 100)
