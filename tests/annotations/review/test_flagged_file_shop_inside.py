"""A flagged tracklet file the split files do not list names its shop image after its product
id; an id such as ``../../secret`` never makes the queue look for (or pick) a file outside the
dataset folder: the candidates are checked by ``schemas.paths`` before any is looked at."""

from __future__ import annotations

import json

from annotations.review.queue import _flagged_files
from schemas.dataset import Tracklet, VideoTracklets


def test_a_hostile_product_id_never_picks_a_shop_image_outside(tmp_path):
    root = tmp_path / "ds"
    (root / "tracklets").mkdir(parents=True)
    (root / "imgs" / "x").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"png")  # outside: what the id's '.png' name would reach
    for pid in ("../../secret", "x/../../../secret"):
        video = "videos/v.mp4"
        vt = VideoTracklets(
            product_id=pid,
            video=video,
            frames=2,
            width=4,
            height=4,
            tracklets=[Tracklet(video=video, boxes={0: (0, 0, 1, 1)})],
            needs_review=True,
        )
        (root / "tracklets" / "v.json").write_text(json.dumps(vt.model_dump(mode="json")))
        (item,) = _flagged_files(root, set(), None, 0, {})
        assert item.shop.endswith(".jpg"), item.shop  # the first name, never the outside one found
        assert item.shop_src is None
