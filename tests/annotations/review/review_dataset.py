"""A dataset to review: the small world's ground-truth dataset with candidate tracklets, flagged
videos and a catalog whose items are the published products (accepted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.catalog import Catalog
from schemas.dataset import Tracklet
from schemas.items import SourceItem, Status

#: videos flagged for review (by position in the sorted list of videos) and their reasons
FLAGGED = {0: "low shop score 0.31", 1: "too few frames in the tracklet (3 of 40 frames with detections)"}


def _candidate(gt: Tracklet, dx: int, w: int, every: int) -> Tracklet:
    boxes = {}
    for f, (x1, y1, x2, y2) in gt.boxes.items():
        nx1 = min(max(0, x1 + dx), w - 2)
        boxes[f] = [nx1, y1, min(w - 1, max(nx1 + 1, x2 + dx)), y2]
    scores = {f: 0.8 for f in boxes if f % every == 0}
    return Tracklet(
        video=gt.video,
        boxes=boxes,
        scores=scores,
        match_scores={f: (0.3 if f % (4 * every) == 0 else 0.7) for f in scores},
        class_id=gt.class_id,
        pivot_frame=min(scores) if scores else None,
        shop_score=0.42,
        mode="inference",
    )


def make_review_dataset(gt_dataset: Path, dst: Path, catalog: Path) -> dict:
    """Copy ``gt_dataset`` to ``dst``; add two inference tracklets per video, flag two videos;
    write a catalog with one accepted item per product. Returns facts the tests check."""
    shutil.copytree(gt_dataset, dst)
    videos = sorted(p.stem for p in (dst / "tracklets").glob("*.json"))
    entries = [json.loads(line) for line in (dst / "entries.jsonl").read_text().splitlines() if line.strip()]
    video_path = {Path(vp).stem: vp for e in entries for vp in e["video_paths"]}
    for n, stem in enumerate(videos):
        vt = read_video_tracklets(tracklet_file(dst, video_path[stem]))
        gt = vt.tracklets[0]
        vt.tracklets = [gt, _candidate(gt, 24, vt.width, 2), _candidate(gt, -30, vt.width, 3)]
        if n in FLAGGED:
            vt.needs_review, vt.review_reason = True, FLAGGED[n]
        write_video_tracklets(dst, vt)
    with Catalog(catalog) as cat:
        for e in entries:
            cat.upsert_items(
                [
                    SourceItem(
                        source=e["source"],
                        source_id=e["product_id"],
                        url=f"world://{e['product_id']}",
                        title=e["metadata"].get("title"),
                        caption=e["metadata"].get("caption"),
                    )
                ],
                status=Status.ACCEPTED,
                product_id=e["product_id"],
                df2_class=e["df2_class"],
                partition=e["partition"],
                split=e["split"],
            )
    return {
        "videos": videos,
        "flagged": [videos[n] for n in sorted(FLAGGED)],
        "video_path": video_path,
        "product": {Path(vp).stem: e["product_id"] for e in entries for vp in e["video_paths"]},
        "source": {e["product_id"]: e["source"] for e in entries},
        "class": {e["product_id"]: e["df2_class"] for e in entries},
    }


def other_catalog(tmp_path: Path) -> Path:
    """A catalog (``tmp_path/other.sqlite``) whose one item is none of the dataset's products."""
    other = tmp_path / "other.sqlite"
    with Catalog(other) as cat:
        cat.upsert_items(
            [
                SourceItem(
                    source="instagram",
                    source_id="CotherAAAAA",
                    url="https://www.instagram.com/p/CotherAAAAA/",
                )
            ],
            status=Status.NEEDS_REVIEW,
        )
    return other
