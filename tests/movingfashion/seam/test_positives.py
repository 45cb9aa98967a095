"""Phase-2 positives: per frame, the box that matches the shop image best, not the dataset's box."""

from __future__ import annotations

import numpy as np
import torch

from movingfashion.media.ffmpeg import encode_frames
from movingfashion.seam.positives import best_match_boxes, candidates, pick_best
from schemas.dataset import Tracklet, VideoTracklets

RED, BLUE = (220, 30, 30), (30, 30, 220)
LEFT, RIGHT = [8.0, 8.0, 40.0, 56.0], [56.0, 8.0, 88.0, 56.0]


class ColourMatcher:
    """Stands in for f, m: the score of a crop is how close its mean colour is to the shop's."""

    crop_size = 16

    def scores(self, crops: torch.Tensor, shop: torch.Tensor) -> torch.Tensor:
        d = (crops.mean((2, 3)) - shop.mean((1, 2))[None]).norm(dim=1)
        return torch.exp(-4 * d)


def _video(path, item_left: list[bool]):
    """Frames with a red item and a blue garment; ``item_left[t]``: the item is on the left."""
    frames = []
    for left in item_left:
        img = np.full((64, 96, 3), 128, np.uint8)
        for box, colour in ((LEFT, RED if left else BLUE), (RIGHT, BLUE if left else RED)):
            x1, y1, x2, y2 = map(int, box)
            img[y1:y2, x1:x2] = colour
        frames.append(img)
    return encode_frames(frames, path, fps=10, crf=10)


def test_each_frame_takes_the_detection_that_matches_the_shop_best(tmp_path):
    item_left = [True, False, True, False, True, True]
    video = _video(tmp_path / "v.mp4", item_left)
    own = {t: LEFT for t in range(6)}  # the dataset's tracklet stays on the left: wrong in frames 1, 3
    rich = VideoTracklets(
        product_id="p",
        video="v.mp4",
        frames=6,
        width=96,
        height=64,
        tracklets=[
            Tracklet(video="v.mp4", boxes=own, mode="training"),
            Tracklet(video="v.mp4", boxes={t: RIGHT for t in range(6)}, mode="inference"),
        ],
        ground_truth=0,
    )
    shop = torch.zeros(3, 16, 16)
    shop[0], shop[1], shop[2] = 220 / 255, 30 / 255, 30 / 255
    boxes, changed = best_match_boxes(video, list(range(6)), own, rich, shop, ColourMatcher())
    truth = {t: LEFT if left else RIGHT for t, left in enumerate(item_left)}
    assert boxes == truth
    assert changed == {1, 3}
    # a threshold no detection reaches keeps the dataset's boxes
    kept, none = best_match_boxes(video, list(range(6)), own, rich, shop, ColourMatcher(), threshold=1.1)
    assert kept == own and none == set()


def test_candidates_and_threshold():
    own = {0: LEFT, 1: LEFT}
    rich = VideoTracklets(
        product_id="p",
        video="v.mp4",
        frames=2,
        width=96,
        height=64,
        tracklets=[
            Tracklet(video="v.mp4", boxes=own),
            Tracklet(video="v.mp4", boxes={1: RIGHT}),
        ],
    )
    assert candidates(0, own, rich) == [LEFT]  # the dataset's box is not counted twice
    assert candidates(1, own, rich) == [LEFT, RIGHT]
    assert candidates(1, own, None) == [LEFT]
    assert pick_best([0.05, 0.09], 0.1) == 0 and pick_best([0.05, 0.5], 0.1) == 1
    assert pick_best([0.3, 0.2], 0.1) == 0


def test_shop_matcher_scores_with_the_single_frame_heads():
    """ShopMatcher: encoder -> f (eval) -> m's score, the same numbers as the heads give directly."""
    from movingfashion.seam.positives import ShopMatcher
    from tests.movingfashion.seam.conftest import tiny_model

    model = tiny_model("full")
    torch.manual_seed(0)
    encoder = torch.nn.Conv2d(3, 8, kernel_size=8, stride=8)  # 16x16 crops -> [8, 2, 2] maps
    crops, shop = torch.rand(5, 3, 16, 16), torch.rand(3, 16, 16)
    got = ShopMatcher(encoder, model.f, model.m, 16).scores(crops, shop)
    with torch.no_grad():
        model.f.eval()
        want = model.m.score_matrix(model.f(encoder(crops)), model.f(encoder(shop[None])))[:, 0]
    assert got.shape == (5,) and torch.allclose(got, want, atol=1e-6)
    assert ((got >= 0) & (got <= 1)).all()
