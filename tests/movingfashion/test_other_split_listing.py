"""Opening one split learns the other split's videos (which videos the two share, so which
tracklet file a product reads) from that file's listing kept beside it
(``schemas.official.listing_file``), not by parsing its boxes again in each new process; a
changed file is parsed again, and the records are those of a whole parse."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from movingfashion.dataset import MovingFashionDataset
from schemas import official
from tests.movingfashion.helpers import H, W


def _tracklet_file(root, stem: str, score: float) -> None:
    """``tracklets/<stem>.json`` of product 102's first video, every frame scored ``score``."""
    boxes = json.loads((root / "train.json").read_text())["102"]["tracklets"][0]
    vt = {
        "product_id": "102",
        "video": "videos/102_0.mp4",
        "frames": 40,
        "width": W,
        "height": H,
        "ground_truth": 0,
        "tracklets": [{"video": "videos/102_0.mp4", "boxes": boxes, "scores": dict.fromkeys(boxes, score)}],
    }
    (root / "tracklets" / f"{stem}.json").write_text(json.dumps(vt))


@pytest.fixture
def root(tiny_dataset, tmp_path):
    """The tiny folder (test.json: product 102 of train.json), with two tracklet files of
    102's first video: ``102_0.json`` (scores 0.25), read while no other product lists the
    video, and ``102_0@102.json`` (scores 0.75), read once another product lists it too."""
    out = tmp_path / "ds"
    shutil.copytree(tiny_dataset, out)
    for p in out.glob(".*.listing.json"):  # what opening the shared folder left: none to start
        p.unlink()
    _tracklet_file(out, "102_0", 0.25)
    _tracklet_file(out, "102_0@102", 0.75)
    return out


def listing_file(split):
    """Where ``schemas.official.listing_file`` keeps a split file's listing: beside it, hidden."""
    return split.with_name(f".{split.name}.listing.json")


def _new_process() -> None:
    """Forget what this process kept of the split files (as a new process starts)."""
    with official._listings_lock:
        official._listings.clear()
        official._entry_spans.clear()


def _records_digest(ds: MovingFashionDataset) -> str:
    """Every video record's product, path, frames, boxes and confidences."""
    return ds.records_digest()


def test_the_records_digest_changes_with_one_box_and_one_tracklet_file(root):
    """The digest the tests compare sees one coordinate moved and one confidence changed."""
    want = _records_digest(MovingFashionDataset(root, "train"))
    assert _records_digest(MovingFashionDataset(root, "train")) == want
    train = json.loads((root / "train.json").read_text())
    key = next(iter(train["101"]["tracklets"][0]))
    train["101"]["tracklets"][0][key][0] += 1
    (root / "train.json").write_text(json.dumps(train))
    _new_process()
    moved = _records_digest(MovingFashionDataset(root, "train"))
    assert moved != want
    _tracklet_file(root, "102_0", 0.5)
    _new_process()
    assert _records_digest(MovingFashionDataset(root, "train")) not in (want, moved)


def _score(ds: MovingFashionDataset) -> float:
    """The confidence of 102's first video: which tracklet file the dataset read."""
    (video,) = [v for rec in ds.products for v in rec.videos if v.rel_path == "videos/102_0.mp4"]
    return set(video.confidences.values()).pop()


@pytest.mark.parametrize("first", ["train", "test"])
def test_a_new_process_opens_the_test_split_without_parsing_train(root, split_loads, first):
    """After one open of either split, a new process's test split reads train.json's listing
    (a small file), and its records are those of parsing train.json."""
    parsed = MovingFashionDataset(root, "test")  # no listing yet: train.json parsed
    assert split_loads.count("train.json") == 1
    want = _records_digest(parsed)
    _new_process()
    MovingFashionDataset(root, first)
    _new_process()
    split_loads.clear()
    ds = MovingFashionDataset(root, "test")
    assert split_loads == ["test.json"]
    assert _records_digest(ds) == want and _score(ds) == 0.25
    assert listing_file(root / "train.json").is_file()


def _add_shared_video(root) -> None:
    """train.json gets product 555, listing the test split's video videos/102_0.mp4."""
    train = json.loads((root / "train.json").read_text())
    train["555"] = {**train["101"], "video_paths": ["videos/102_0.mp4"]}
    (root / "train.json").write_text(json.dumps(train))


@pytest.mark.parametrize("same_times", [False, True])
def test_a_changed_train_json_is_seen_by_the_next_test_split_open(root, split_loads, same_times):
    """A video added to both splits makes the test split read 102's own tracklet file; the file's
    listing kept before is not taken (also when the rewrite keeps its modification time)."""
    MovingFashionDataset(root, "train")
    _new_process()
    split_loads.clear()
    assert _score(MovingFashionDataset(root, "test")) == 0.25
    assert "train.json" not in split_loads  # the listing kept, taken
    st = (root / "train.json").stat()
    _add_shared_video(root)
    if same_times:
        os.utime(root / "train.json", ns=(st.st_atime_ns, st.st_mtime_ns))
    _new_process()
    split_loads.clear()
    ds = MovingFashionDataset(root, "test")
    assert split_loads.count("train.json") == 1
    assert _score(ds) == 0.75
    _new_process()
    split_loads.clear()
    assert _score(MovingFashionDataset(root, "test")) == 0.75  # the new listing, kept
    assert "train.json" not in split_loads


def test_a_listing_that_does_not_read_or_a_folder_not_written_parses_the_file(root, split_loads, monkeypatch):
    MovingFashionDataset(root, "train")
    kept = listing_file(root / "train.json")
    kept.write_text('{"version": 1, "identity": [], "products": 3}')
    _new_process()
    split_loads.clear()
    ds = MovingFashionDataset(root, "test")
    assert split_loads.count("train.json") == 1 and _score(ds) == 0.25
    data = json.loads(kept.read_text())  # written again, for this version
    assert data["identity"] and [p[0] for p in data["products"]] == ["101", "102", "ab_C"]
    kept.unlink()

    def refused(*_a: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(official, "write_if_changed", refused)  # a read-only folder
    _new_process()
    assert _score(MovingFashionDataset(root, "test")) == 0.25
    assert not kept.exists()


def test_the_listing_file_is_where_the_tests_look():
    assert official.listing_file(Path("/d/train.json")) == listing_file(Path("/d/train.json"))


def test_a_split_file_outside_the_folder_gets_no_listing_beside_it(root, tmp_path):
    """Only the folder's train.json and test.json are another split's: a split file given by its
    path elsewhere is not written beside (its own split's listing is kept as before)."""
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    shutil.copy(root / "test.json", elsewhere / "small.json")
    MovingFashionDataset(root, elsewhere / "small.json", train=False)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["small.json"]
    assert listing_file(root / "train.json").is_file()  # the other split, parsed: kept
    MovingFashionDataset(root, "test")
    assert listing_file(root / "test.json").is_file()
