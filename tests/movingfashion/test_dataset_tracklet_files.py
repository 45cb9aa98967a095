"""The dataset reads the tracklet files of its split's videos only, and of each only what it uses
(frame count and size, the ground-truth tracklet's scores), with the choice of file of before."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from movingfashion.dataset import MovingFashionDataset
from schemas.dataset import VideoTracklets

KW = {"frames": 4, "crop_size": 32}


def _copy(tiny_dataset, tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    return root


def test_only_the_split_videos_files_are_read(tiny_dataset, tmp_path, caplog):
    """Another split's or no video's file is not read (the whole folder was parsed before: minutes
    and gigabytes at the archive's size)."""
    root = _copy(tiny_dataset, tmp_path)
    (root / "tracklets" / "zz_other.json").write_text("{not json")
    (root / "tracklets" / "999_0.json").write_text('{"product_id": "999"}')  # a video no row lists
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(root, "train", **KW)
    assert "not a VideoTracklets file" not in caplog.text
    video = ds.products[ds.product_ids.index("101")].videos[0]
    full = VideoTracklets.model_validate_json((root / "tracklets" / "101_0.json").read_text())
    assert (video.width, video.height, video.recorded_frames) == (full.width, full.height, full.frames)
    assert video.confidences == {int(k): v for k, v in full.tracklets[0].scores.items()} != {}


def test_a_bad_ground_truth_frame_key_still_ignores_the_file(tiny_dataset, tmp_path, caplog):
    root = _copy(tiny_dataset, tmp_path)
    path = root / "tracklets" / "101_0.json"
    data = json.loads(path.read_text())
    data["tracklets"][0]["scores"]["07"] = 0.5
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(root, "train", **KW)
    assert f"{path}: ignored, not a VideoTracklets file" in caplog.text
    assert ds.products[ds.product_ids.index("101")].videos[0].confidences == {}


def test_a_tracklet_file_that_does_not_parse_is_named_without_an_empty_field(tiny_dataset, tmp_path, caplog):
    root = _copy(tiny_dataset, tmp_path)
    path = root / "tracklets" / "101_0.json"
    path.write_text("{")
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        MovingFashionDataset(root, "train", **KW)
    assert f"{path}: ignored, not a VideoTracklets file (Invalid JSON: EOF" in caplog.text


def _old_choice(folder: Path, rel: str, pid: str, shared: set[str]) -> VideoTracklets | None:
    """The choice of file before (every file of the folder parsed up front), for comparison; a
    product's own ``@`` file only of a video several products list (``shared``, video paths): of
    any other it is a leftover of when it was shared, not read (it was read first before)."""
    out: dict = {}
    for p in sorted(folder.glob("*.json")):
        vt = VideoTracklets.model_validate_json(p.read_text())
        stem, name = Path(vt.video).stem, Path(vt.video).name
        if p.stem == stem:
            out[name] = vt
        if p.stem == stem or (p.stem == f"{stem}@{vt.product_id}" and rel in shared):
            out.setdefault((name, vt.product_id), vt)
            if p.stem != stem:
                out[(name, vt.product_id)] = vt
    if rel in shared:
        out.pop(Path(rel).name, None)
    return out.get((Path(rel).name, pid)) or out.get(Path(rel).name)


def _file(folder: Path, stem: str, video: str, product: str, frames: int) -> None:
    vt = {"product_id": product, "video": video, "frames": frames, "width": 8, "height": 8, "tracklets": []}
    (folder / f"{stem}.json").write_text(json.dumps(vt))


@pytest.mark.parametrize("shared", [False, True])
def test_the_file_chosen_for_a_video_and_product_is_the_one_chosen_before(tmp_path, shared):
    from movingfashion.richer_files import _RicherFiles

    folder = tmp_path / "tracklets"
    folder.mkdir()
    _file(folder, "a", "videos/a.mp4", "P", 1)  # the video's file, naming product P
    _file(folder, "a@Q", "videos/a.mp4", "Q", 2)  # Q's own file of it
    _file(folder, "a@R", "videos/a.mp4", "S", 3)  # named R, but about S: nobody's
    _file(folder, "b", "videos/b.mov", "P", 4)  # another video of the same stem
    _file(folder, "c@P", "videos/c.mp4", "P", 5)  # only an own file
    names = {"videos/a.mp4", "clips/a.mp4", "videos/b.mp4", "videos/c.mp4"} if shared else set()
    files = _RicherFiles(folder, names)
    for rel in (
        "videos/a.mp4",
        "clips/a.mp4",
        "videos/b.mp4",
        "videos/b.mov",
        "videos/c.mp4",
        "videos/d.mp4",
    ):
        for pid in ("P", "Q", "R", "S"):
            old = _old_choice(folder, rel, pid, names)
            new = files.get(rel, pid)
            assert (old and old.frames) == (new and new.frames), (rel, pid)
