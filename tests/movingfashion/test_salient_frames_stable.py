"""``salient`` sampler on a dataset without tracklet files (the real archive's layout): an item's
frames do not depend on what the process decoded before, and ``plan()``, the live path, the
training copy and the crop cache give the same frames."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache
from movingfashion.sampling import frame_quality, get_sampler
from movingfashion.training_copy import build_training_copy
from tests.movingfashion.helpers import H, W, write_image, write_video

KW = {
    "frames": 5,
    "sampler": "salient",
    "crop": "tracklet",
    "train": False,
    "crop_size": 32,
    "dtype": torch.uint8,
}


def _edge_box(f: int) -> list[int]:
    """Even frames: a big box touching the right edge of the 128 x 96 frame (cut by the border
    once the size is known); odd frames: a smaller one well inside. Unknown size: the big ones
    score best; known size: the inner ones."""
    return [60, 30, W, 90] if f % 2 == 0 else [40, 35, 100, 85]


def _dataset(root: Path) -> Path:
    """Two products, no ``tracklets/`` folder: the frame size is known only from the video."""
    train = {}
    for pid, n in (("p1", 30), ("p2", 24)):
        rel = f"videos/{pid}.mp4"
        write_video(root / rel, n)
        write_image(root / f"imgs/{pid}.jpg")
        train[pid] = {
            "video_paths": [rel],
            "img_path": f"imgs/{pid}.jpg",
            "source": 1,
            "tracklets": [{str(f): _edge_box(f) for f in range(n)}],
        }
    (root / "train.json").write_text(json.dumps(train))
    (root / "test.json").write_text("{}")
    return root


def _frames(ds: MovingFashionDataset) -> list[list[int]]:
    return [ds[i]["frame_indices"].tolist() for i in range(len(ds))]


def test_salient_frames_do_not_depend_on_the_first_decode(tmp_path):
    root = _dataset(tmp_path / "ds")
    live = MovingFashionDataset(root, "train", **KW)
    planned = [live.plan(i)[2] for i in range(len(live))]  # before any decode
    first, second = _frames(live), _frames(live)
    assert planned == first == second == [live.plan(i)[2] for i in range(len(live))]
    for rec, clip in zip(live.products, first, strict=True):  # the video's size counted from the start
        video = rec.videos[0]
        scores = frame_quality(video.boxes, W, H, video.confidences, live.quality)
        assert clip == get_sampler("salient")(sorted(video.boxes), KW["frames"], scores=scores)
        assert video.known_size == (W, H)


def test_training_copy_and_crop_cache_give_the_live_frames(tmp_path):
    root = _dataset(tmp_path / "ds")
    build_training_copy(MovingFashionDataset(root, "train", **KW), tmp_path / "copy")
    build_crop_cache(MovingFashionDataset(root, "train", **KW), tmp_path / "cache", pool=None)
    live = MovingFashionDataset(root, "train", **KW)
    copy = MovingFashionDataset(root, "train", training_copy=tmp_path / "copy", **KW)
    cache = MovingFashionDataset(root, "train", crop_cache=tmp_path / "cache", **KW)
    want = _frames(live)
    assert _frames(copy) == want and _frames(cache) == want
    assert copy.training_copy is not None and not copy.training_copy._bad  # read from the copy
    assert not cache._cache_unused  # read from the cache
    assert _frames(live) == want and _frames(copy) == want  # again, after every decode
