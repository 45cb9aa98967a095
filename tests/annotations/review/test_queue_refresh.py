"""The running review server's queue follows the dataset: a tracklet build that flags another
video or a publish that changes the split files shows on the next queue request, without a
restart (a restart would give the open pages a new token)."""

from __future__ import annotations

import json
import os

from annotations.review.server import ReviewApp
from annotations.tracklet_files import read_video_tracklets


def test_the_queue_is_built_again_when_the_dataset_changes(review_setup):
    app = ReviewApp(review_setup.dataset, review_setup.catalog, sample_rate=0.0)
    try:
        before = {i["stem"] for i in app.queue_json()["items"]}
        assert before == set(review_setup.facts["flagged"])
        assert not app.refresh_queue()  # nothing changed: the queue is kept
        files = sorted((review_setup.dataset / "tracklets").glob("*.json"))
        other = next(p for p in files if p.stem not in before)
        vt = read_video_tracklets(other)
        vt.needs_review, vt.review_reason = True, "low confidence: planted by the test"
        tmp = other.with_suffix(".tmp")
        tmp.write_text(vt.model_dump_json())
        os.replace(tmp, other)  # as the builder writes: the folder changes
        after = app.queue_json()["items"]
        assert {i["stem"] for i in after} == before | {other.stem}
        assert next(i for i in after if i["stem"] == other.stem)["reason"].startswith("low confidence")
        assert json.loads(json.dumps(app.item_json(other.stem)))["stem"] == other.stem  # it opens
    finally:
        app.close()
