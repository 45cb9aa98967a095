"""Split-screen detection, still-half recovery and the cropped re-encode."""

from __future__ import annotations

import numpy as np
import pytest

from cleaning.config import SplitScreenConfig
from cleaning.probe import probe_video
from cleaning.splitscreen import detect_split_screen, detect_split_screen_file, still_detail
from movingfashion.media.ffmpeg import transcode
from schemas.atomic import sha256_file
from tests.cleaning.media_helpers import scene, split_screen, write_mp4


@pytest.mark.parametrize(
    "layout,still_first,half",
    [
        ("left-right", True, "left"),
        ("left-right", False, "right"),
        ("top-bottom", True, "top"),
        ("top-bottom", False, "bottom"),
    ],
)
def test_detects_every_layout_and_recovers_the_still(tmp_path, layout, still_first, half):
    frames, still = split_screen(4, layout, still_first, 60, 240, 180)
    path = write_mp4(tmp_path / "s.mp4", frames)
    res = detect_split_screen_file(path, 60)
    assert res is not None and res.layout == layout and res.still_half == half
    assert res.still_image.shape == still.shape
    assert np.abs(res.still_image.astype(int) - still.astype(int)).mean() < 3.0
    w, h = 240, 180
    full = {
        "left": [0, 0, w // 2, h],
        "right": [w // 2, 0, w, h],
        "top": [0, 0, w, h // 2],
        "bottom": [0, h // 2, w, h],
    }
    assert res.still_box == full[half]
    assert res.moving_box == full[{"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[half]]


def test_ordinary_videos_are_not_split(tmp_path):
    assert detect_split_screen_file(write_mp4(tmp_path / "n.mp4", scene(5, 60, 240, 180)), 60) is None
    # a video that is still everywhere (a slideshow frame) is not split-screen either
    static = np.broadcast_to(scene(6, 1, 240, 180)[0], (30, 180, 240, 3)).copy()
    assert detect_split_screen(static) is None


@pytest.mark.parametrize("value", [0, 128, 255])
@pytest.mark.parametrize("half", ["top", "left"])
def test_a_blank_half_over_a_moving_one_is_not_a_split_screen(tmp_path, value, half):
    frames = scene(3, 60, 160, 240).copy()
    if half == "top":
        frames[:, :120] = value  # a black bar, a grey or white card above the street video
    else:
        frames[:, :, :80] = value
    path = write_mp4(tmp_path / "b.mp4", frames)
    assert detect_split_screen_file(path, 60) is None
    # it is the still half's lack of content that decides: without the check it passes for one
    res = detect_split_screen_file(path, 60, SplitScreenConfig(min_still_detail=0))
    assert res is not None and res.still_half == half
    assert still_detail(res.still_image) < SplitScreenConfig().min_still_detail


def test_a_pale_garment_on_a_pale_background_is_a_still_with_content(tmp_path):
    # grey levels alike (cream and pink on light grey), colours not: the shop picture still counts
    still = np.full((120, 80, 3), 226, np.uint8)
    still[20:100, 20:60] = (250, 222, 208)
    still[40:60, 20:60] = (246, 204, 214)
    assert still.astype(float).mean(axis=2).std() < SplitScreenConfig().min_still_detail
    moving = scene(8, 60, 80, 120)
    frames = np.concatenate([moving, np.broadcast_to(still, moving.shape)], axis=2)
    res = detect_split_screen_file(write_mp4(tmp_path / "p.mp4", frames), 60)
    assert res is not None and res.still_half == "right"


def test_publish_crop_is_h264_of_the_moving_half_and_deterministic(tmp_path):
    frames, _ = split_screen(7, "left-right", True, 45, 240, 180)
    src = write_mp4(tmp_path / "s.mp4", frames)
    transcode(src, tmp_path / "a.mp4", crop=[120, 0, 240, 180])
    transcode(src, tmp_path / "b.mp4", crop=[120, 0, 240, 180])
    assert sha256_file(tmp_path / "a.mp4") == sha256_file(tmp_path / "b.mp4")
    p = probe_video(tmp_path / "a.mp4").probe
    assert (p.width, p.height, p.frames, p.codec) == (120, 180, 45, "h264")
    assert detect_split_screen_file(tmp_path / "a.mp4", 45) is None  # only the street half is left
