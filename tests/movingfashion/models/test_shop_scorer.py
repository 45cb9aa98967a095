"""The video <-> shop image score (cleaning's association check) with the embedded weights."""

from __future__ import annotations

import pytest

from movingfashion.models.shop_scorer import VideoShopScorer
from schemas.official import read_official


@pytest.mark.slow
def test_video_shop_scorer_prefers_the_right_shop(gt_dataset):
    train = read_official(gt_dataset / "train.json")
    entries = list(train.values())[:8]
    scorer = VideoShopScorer(frames=6)
    wins = pairs = 0
    for i, e in enumerate(entries):
        right = scorer.score(gt_dataset / e.video_paths[0], gt_dataset / e.img_path)
        for k in (1, 2):  # two wrong shops per video
            other = entries[(i + k) % len(entries)]
            wrong = scorer.score(gt_dataset / e.video_paths[0], gt_dataset / other.img_path)
            assert 0 <= wrong <= 1 and 0 <= right <= 1
            wins, pairs = wins + (right > wrong), pairs + 1
    # 89-90% on 132 pairs of an unseen 44-product world with the embedded weights
    assert wins / pairs >= 0.75, f"right shop scored higher in {wins}/{pairs} pairs"


class _TwoGarments:
    """A detector that boxes the left half of every frame as class 1 (a top) and the right half as
    class 8 (trousers)."""

    version = "two-garments"

    def detect(self, frames):
        import numpy as np

        from movingfashion.models.detectors.base import FrameDetections

        h, w = frames[0].shape[:2]
        boxes = np.array([[0, 0, w // 2, h], [w // 2, 0, w, h]], np.float32)
        return [FrameDetections(boxes, np.full(2, 0.9, np.float32), np.array([1, 8])) for _ in frames]


class _ColourMatcher:
    """Scores two crops by how close their mean colours are (1 = the same colour)."""

    crop_size = 16
    tag = "colour"

    def embed(self, crops):
        return crops.mean(dim=(2, 3))

    def score_matrix(self, a, b):
        import torch

        return (1 - torch.cdist(a, b) / 3**0.5).clamp(0, 1)


def test_category_scores_only_the_items_class_when_the_video_has_it(tmp_path):
    """The demo world's wrong pair: a grey top's shop image on a video of a red top over grey
    trousers. Every detection: the trousers match it; the item's class (1, tops): the red top does
    not. A class the video never shows falls back to every detection."""
    import cv2
    import numpy as np

    from movingfashion.media.images import write_image

    video = tmp_path / "v.mp4"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :32] = (0, 0, 220)  # BGR red: the top, left half
    frame[:, 32:] = (128, 128, 128)  # grey trousers, right half
    for _ in range(6):
        out.write(frame)
    out.release()
    shop = tmp_path / "shop.png"
    write_image(shop, np.full((40, 32, 3), 128, np.uint8))  # a grey top
    scorer = VideoShopScorer.__new__(VideoShopScorer)
    scorer.frames, scorer.keep, scorer._videos, scorer._shops = 4, 8, {}, {}
    scorer._models = (_TwoGarments(), _ColourMatcher())
    anything = scorer.score(video, shop)
    assert anything > 0.95  # the grey trousers
    assert scorer.score(video, shop, category=1) < 0.6  # the red top: not this shop image
    assert scorer.score(video, shop, category=8) == pytest.approx(anything)
    assert scorer.score(video, shop, category=10) == pytest.approx(anything)  # no dress: every box


def test_the_cache_key_names_the_weights_by_content_not_by_file_name(tmp_path):
    """The same detector weights under another file name re-scored every association pair
    (audit_stale D6)."""
    import shutil

    from movingfashion.models.detectors.ultralytics_backend import default_detector_path

    same = tmp_path / "renamed.pt"
    shutil.copy(default_detector_path(), same)
    renamed = VideoShopScorer(weights=same)
    assert renamed.tag == VideoShopScorer().tag
    assert "renamed.pt" not in renamed.tag and renamed.detector.weights_id in renamed.tag
