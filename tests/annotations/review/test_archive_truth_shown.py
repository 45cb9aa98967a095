"""The review page on the real archive as downloaded (no ``tracklets/``): each video shows the
ground truth its split file holds, not "no tracklets"."""

from __future__ import annotations

import json

from annotations.review.server import ReviewApp
from tests.movingfashion.helpers import make_archive


def test_a_video_without_a_tracklet_file_shows_the_split_files_ground_truth(tmp_path):
    root = make_archive(tmp_path / "mf")
    truth = json.loads((root / "test.json").read_text())["r2"]["tracklets"][0]
    app = ReviewApp(root, root / ".review.sqlite", sample_rate=1.0, create_catalog=True)
    try:
        (row,) = [d for d in app.queue_json()["items"] if d["stem"] == "r2_0"]
        assert (row["tracklets"], row["ground_truth"]) == (1, 0)
        assert "split file's ground truth is shown" in row["reason"]
        item = app.item_json("r2_0")
        assert item["ground_truth"] == 0 and item["frames"] == len(truth)
        (shown,) = item["tracklets"]
        assert shown["mode"] == "ground-truth"
        assert shown["boxes"] == {k: [float(v) for v in b] for k, b in truth.items()}
        assert app.crops("r2_0", 0)[:2] == b"\xff\xd8"  # a JPEG strip of its crops
    finally:
        app.close()
