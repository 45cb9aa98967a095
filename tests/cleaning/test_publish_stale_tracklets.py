"""A republish removes the tracklet files (with their build records and contact sheets) of the
videos it no longer publishes, a product taken down, and keeps every other video's."""

from __future__ import annotations

import json
from pathlib import Path

from annotations.tracklet_files import build_record_file, write_video_tracklets
from cleaning.publish import publish
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import verify_dataset
from movingfashion.media.probe import probe_video
from schemas.catalog import Catalog
from schemas.dataset import Tracklet, VideoTracklets
from schemas.items import Status
from schemas.official import read_official


def _tracklet_files_of(out: Path, pid: str, video: str, *, flagged: bool = False) -> list[Path]:
    """Write a product's tracklet file of ``video`` (one box; ``flagged``: needs_review, low
    confidence), its build record and its sheet."""
    info = probe_video(out / video)  # the file's size is its video's (mf verify checks it)
    vt = VideoTracklets(
        product_id=pid,
        video=video,
        frames=info.frames,
        width=info.width,
        height=info.height,
        tracklets=[Tracklet(video=video, boxes={0: [1.0, 2.0, 30.0, 40.0]})],
        ground_truth=0,
        needs_review=flagged,
        review_reason="low confidence" if flagged else None,
    )
    path = write_video_tracklets(out, vt, shared=False)
    record = build_record_file(path)
    record.parent.mkdir(exist_ok=True)
    record.write_text(json.dumps({"video": video}))
    sheet = out / "tracklets" / "sheets" / f"{path.stem}.png"
    sheet.parent.mkdir(exist_ok=True)
    sheet.write_bytes(b"\x89PNG\r\n\x1a\n")
    return [path, record, sheet]


def test_a_product_taken_down_leaves_no_tracklet_file(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        train = read_official(out / "train.json")
        kept, gone = sorted(train)[:2]
        files = {
            pid: [f for v in train[pid].video_paths for f in _tracklet_files_of(out, pid, v)]
            for pid in (kept, gone)
        }
        assert refresh(out) and verify_dataset(out).ok  # the tracklet files are part of the dataset
        row = next(r for r in cat.items() if r.product_id == gone)
        cat.set_item_state(
            row.item.source, row.item.source_id, status=Status.REJECTED, reason="test: taken down"
        )
        res = publish(cat, cleaned_world.root, out)
    assert gone not in read_official(out / "train.json")
    # named with its split and why (was only a count of files removed)
    assert res["withdrawn"] == [{"product": gone, "split": "train", "why": "rejected: test: taken down"}]
    assert [f for f in files[gone] if f.exists()] == []  # its boxes, records and sheets went with its videos
    assert all(f.is_file() for f in files[kept])
    listed = json.loads((out / "manifest.json").read_text())["files"]
    assert not {f.relative_to(out).as_posix() for f in files[gone]} & set(listed)
    assert res["verify"]["ok"], res["verify"]["breaks"]


def test_only_the_files_of_videos_removed_or_made_anew_go(tmp_path):
    """A video made from another collected file keeps its name but not its old tracklets; a video
    whose stem merely starts the same (``p_10`` beside ``p_1``) and other files are kept."""
    from cleaning.publish.sweep import _remove_stale_tracklets, _stale_tracklet_videos

    folder = tmp_path / "tracklets"
    names = [
        "p_0.json",
        "p_0@q.json",
        "p_1.json",
        "p_10.json",
        "x_0.json",
        ".build/p_0.json",
        "sheets/p_0.png",
    ]
    names += [".build/p_10.json", "sheets/p_10.png", "notes.txt"]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    old = {f"videos/p_{n}.mp4": {"src": f"sha{n}", "recipe": "copy"} for n in (0, 1, 10)}
    new = {"videos/p_0.mp4": {"src": "sha1", "recipe": "copy"}, "videos/p_10.mp4": old["videos/p_10.mp4"]}
    stale = {"videos/p_1.mp4", "imgs/p_1.jpg"}  # p_1 went; p_0 is now made from p_1's old file
    videos = _stale_tracklet_videos(stale, old, new)
    assert videos == {"videos/p_0.mp4", "videos/p_1.mp4"}
    assert _remove_stale_tracklets(tmp_path, videos) == 3
    left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert left == [".build/p_10.json", "notes.txt", "p_10.json", "sheets/p_10.png", "x_0.json"]
