"""Picking the shop image among carousel candidates."""

from __future__ import annotations

import cv2
import numpy as np

from cleaning.shop_pick import colour_coverage, pick_shop, plain_border
from tests.cleaning.media_helpers import write_mp4


def _product_shot(colour, w=120, h=150):
    img = np.full((h, w, 3), 240, np.uint8)
    cv2.rectangle(img, (30, 25), (90, 130), colour, -1)
    return img


def _street(colour, n=30, w=160, h=120):
    rng = np.random.default_rng(0)
    frames = []
    for t in range(n):
        img = np.full((h, w, 3), (90, 110, 100), np.uint8)
        img[:, :, :] += rng.integers(0, 8, (h, w, 1), dtype=np.uint8)
        x = 20 + t * 2
        cv2.rectangle(img, (x, 30), (x + 40, 110), tuple(int(c * 0.8) for c in colour), -1)  # shaded garment
        frames.append(img)
    return np.stack(frames)


def test_plain_border_tells_product_shots_from_close_ups():
    assert plain_border(_product_shot((200, 30, 30)))
    assert not plain_border(np.full((100, 100, 3), (200, 30, 30), np.uint8))  # flat fabric close-up
    noise = np.random.default_rng(1).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    assert not plain_border(noise)


def test_colour_coverage_prefers_the_colour_worn_in_the_video():
    frames = _street((200, 30, 30))
    red, blue = _product_shot((200, 30, 30)), _product_shot((30, 40, 200))
    assert colour_coverage(frames, red) > 0.8 > 0.2 > colour_coverage(frames, blue)


def test_pick_shop_uses_colour_then_a_matcher(tmp_path):
    video = write_mp4(tmp_path / "v.mp4", _street((200, 30, 30)))
    files = []
    for name, img in [
        ("a-decoy", _product_shot((30, 40, 200))),
        ("b-fabric", np.full((90, 90, 3), (200, 30, 30), np.uint8)),
        ("c-shop", _product_shot((200, 30, 30))),
    ]:
        p = tmp_path / f"{name}.png"
        cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        files.append(p)
    pick = pick_shop(video, files)
    assert pick.index == 2 and pick.method == "colour" and pick.plain == [True, False, True]

    class PreferDecoy:
        def score(self, video_path: str, shop_path: str) -> float:
            return 0.9 if "decoy" in shop_path else 0.1

    # with a matcher the pick goes by the mean of its score and the colour fit: a red decoy that
    # the colour cannot tell from the shop image is decided by the matcher
    red_decoy = tmp_path / "a-decoy.png"
    cv2.imwrite(str(red_decoy), cv2.cvtColor(_product_shot((200, 30, 30)), cv2.COLOR_RGB2BGR))
    both = pick_shop(video, files, PreferDecoy())
    assert both.method == "matcher+colour" and both.match_scores == [0.9, 0.1, 0.1]
    assert both.index == 0
    # a matcher alone cannot overrule a colour that is not in the video at all
    blue_decoy = tmp_path / "a-decoy.png"
    cv2.imwrite(str(blue_decoy), cv2.cvtColor(_product_shot((30, 40, 200)), cv2.COLOR_RGB2BGR))
    assert pick_shop(video, files, PreferDecoy()).index == 2
    assert pick_shop(video, []) is None


def test_pick_shop_ranks_on_the_items_class_when_the_matcher_takes_it(tmp_path):
    """Another product's shot (a decoy of another class) that some other garment of the video
    matches is not picked once the matcher looks at the item's class only; the any-class scores
    are kept for the no-match rule."""
    video = write_mp4(tmp_path / "v.mp4", _street((200, 30, 30)))
    files = []
    for name in ("a-decoy", "c-shop"):
        p = tmp_path / f"{name}.png"
        cv2.imwrite(str(p), cv2.cvtColor(_product_shot((200, 30, 30)), cv2.COLOR_RGB2BGR))
        files.append(p)

    class ByClass:
        def score(self, video_path: str, shop_path: str, category: int | None = None) -> float:
            if category is None:  # the video's trousers match the decoy best
                return 0.95 if "decoy" in shop_path else 0.85
            return 0.1 if "decoy" in shop_path else 0.85  # its tops: the shop image only

    anyclass = pick_shop(video, files, ByClass())
    assert anyclass.index == 0 and anyclass.class_match_scores is None
    on_class = pick_shop(video, files, ByClass(), category=1)
    assert on_class.index == 1 and on_class.method == "matcher on the item's class+colour"
    assert on_class.match_scores == [0.95, 0.85] and on_class.class_match_scores == [0.1, 0.85]


def test_the_pick_thresholds_come_from_the_config(tmp_path, monkeypatch):
    import cleaning.shop_pick as shop_pick
    from cleaning.config import ShopPickConfig

    shot = _product_shot((200, 30, 30))  # the object covers 35% of the picture
    assert plain_border(shot)
    assert not plain_border(shot, object_share=(0.5, 0.95))
    assert not plain_border(shot, colour_distance=600)  # nothing is far enough from the border
    noisy = shot.copy()
    noisy[::2, ::2] = 225  # a border varying by ~6.5 grey levels
    assert plain_border(noisy) and not plain_border(noisy, max_std=5.0)

    video = write_mp4(tmp_path / "v.mp4", _street((200, 30, 30)))
    p = tmp_path / "shop.png"
    cv2.imwrite(str(p), cv2.cvtColor(shot, cv2.COLOR_RGB2BGR))
    read = []
    real = shop_pick.read_frames
    monkeypatch.setattr(shop_pick, "read_frames", lambda v, idx: read.append(len(idx)) or real(v, idx))
    assert pick_shop(video, [p]).plain == [True] and read == [8]
    strict = ShopPickConfig(sample_frames=4, object_share=(0.5, 0.95))
    assert pick_shop(video, [p], cfg=strict).plain == [False] and read == [8, 4]
