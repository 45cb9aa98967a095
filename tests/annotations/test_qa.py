"""``reference_boxes``: true boxes from any reference dataset in the official format, lined up
with the dataset's videos and moved by the crops both recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.qa import crop_offset, reference_boxes
from schemas.errors import DataFormatError


def _dataset(root: Path, products: dict[str, list[dict]], crops: dict[str, list] | None = None) -> Path:
    """A minimal official-format folder: train.json (+ entries.jsonl with source_crops)."""
    root.mkdir(parents=True)
    official = {
        pid: {
            "video_paths": [f"videos/{pid}_{i}.mp4" for i in range(len(trk))],
            "img_path": f"shop/{pid}.jpg",
            "source": 1,
            "tracklets": trk,
        }
        for pid, trk in products.items()
    }
    (root / "train.json").write_text(json.dumps(official))
    if crops is not None:
        rows = [
            {
                "product_id": pid,
                "df2_class": 1,
                "partition": "regular",
                "split": "train",
                "video_paths": official[pid]["video_paths"],
                "img_path": official[pid]["img_path"],
                "metadata": {"source_crops": c},
            }
            for pid, c in crops.items()
        ]
        (root / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_pairs_videos_by_product_and_index(tmp_path):
    ref = _dataset(tmp_path / "ref", {"A": [{"0": [10, 10, 50, 90]}, {"3": [0, 0, 8, 8]}], "B": [{}]})
    ds = _dataset(tmp_path / "ds", {"A": [{}, {}], "B": [{}], "C": [{}]})
    got = reference_boxes(ds, ref)
    assert got == {"videos/A_0.mp4": {0: [10, 10, 50, 90]}, "videos/A_1.mp4": {3: [0, 0, 8, 8]}}
    # B has no reference boxes, C is not in the reference: both left out (QA lists them missing)


def test_boxes_follow_the_crops_of_both_datasets(tmp_path):
    # the reference video was cropped at (100, 0) of the source, the dataset's is the full frame
    ref = _dataset(
        tmp_path / "ref",
        {"A": [{"0": [10, 10, 50, 90]}, {"0": [1, 2, 3, 4]}]},
        crops={"A": [[100, 0, 420, 480], None]},
    )
    full = _dataset(tmp_path / "full", {"A": [{}, {}]}, crops={"A": [None, None]})
    assert reference_boxes(full, ref)["videos/A_0.mp4"] == {0: [110, 10, 150, 90]}
    assert reference_boxes(full, ref)["videos/A_1.mp4"] == {0: [1, 2, 3, 4]}
    # the dataset cropped too, 4 px further right (a detected box a little off the true one)
    near = _dataset(tmp_path / "near", {"A": [{}, {}]}, crops={"A": [[103.6, 0.2, 420, 480], None]})
    assert reference_boxes(near, ref)["videos/A_0.mp4"] == {0: [6, 10, 46, 90]}
    # no entries.jsonl in the dataset: its videos are taken as uncropped
    bare = _dataset(tmp_path / "bare", {"A": [{}, {}]})
    assert reference_boxes(bare, ref)["videos/A_0.mp4"] == {0: [110, 10, 150, 90]}
    assert crop_offset([100, 0, 1, 1], None) == (-100.0, 0.0)


def test_a_reference_without_tracklets_or_files_is_refused(tmp_path):
    ds = _dataset(tmp_path / "ds", {"A": [{}]})
    empty = _dataset(tmp_path / "empty", {"A": [{}]})
    with pytest.raises(DataFormatError, match="no ground-truth tracklets") as exc:
        reference_boxes(ds, empty)
    assert str(empty) in str(exc.value)
    with pytest.raises(DataFormatError, match="no train.json or test.json"):
        reference_boxes(ds, tmp_path)


@pytest.mark.parametrize("crops", [[["a", 0, 5, 5]], [[0, 0, 5]], "0,0,5,5", [[0, 0, float("nan"), 5]]])
def test_malformed_source_crops_name_the_file_and_product(tmp_path, crops):
    from annotations.qa import source_crops

    ds = _dataset(tmp_path / "ds", {"A": [{"0": [1, 1, 9, 9]}]}, crops={"A": crops})
    with pytest.raises(DataFormatError, match="product 'A': metadata.source_crops") as exc:
        source_crops(ds)
    assert str(ds / "entries.jsonl") in str(exc.value)
    good = _dataset(tmp_path / "good", {"A": [{"0": [1, 1, 9, 9]}]}, crops={"A": [[2, 3, 50, 60]]})
    assert source_crops(good) == {"A": [[2, 3, 50, 60]]}


def test_a_source_prefixed_product_id_pairs_with_the_references_bare_id(tmp_path):
    ds = _dataset(tmp_path / "ds", {"tiktok-7003": [{"0": [1, 1, 9, 9]}], "netaporter-9": [{}]})
    ref = _dataset(tmp_path / "ref", {"7003": [{"0": [2, 2, 8, 8]}], "other-9": [{"0": [0, 0, 5, 5]}]})
    # the mf clean prefix is only dropped for a real source name, and only when the bare id exists
    assert reference_boxes(ds, ref) == {"videos/tiktok-7003_0.mp4": {0: [2.0, 2.0, 8.0, 8.0]}}
