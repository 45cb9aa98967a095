"""An item's ``video_index`` is the video's position in the product's ``video_paths``, also when
``on_bad="skip"`` dropped a video before it (an empty tracklet in the real archive)."""

from __future__ import annotations

from movingfashion.dataset import MovingFashionDataset
from tests.movingfashion.helpers import edit_split, make_archive


def test_video_index_names_the_split_files_video_after_an_earlier_one_was_skipped(tmp_path):
    root = make_archive(tmp_path / "mf")

    def empty_first(data: dict) -> None:
        data["r1"]["tracklets"][0] = {}

    edit_split(root, "train", empty_first)
    ds = MovingFashionDataset(root, "train", frames=4, crop="tracklet", on_bad="skip", videos="all")
    assert [pid for pid, _ in ds.skipped] == ["r1"]
    items = {ds[i]["video_path"]: ds[i]["video_index"] for i in range(len(ds))}
    assert items == {"videos/r1_1.mp4": 1, "videos/h1_0.mp4": 0}
