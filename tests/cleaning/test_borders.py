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
    assert content_box(grey_pair)[0] == 71
