"""``on_bad="skip"``: bad rows are validated one by one and listed, undecodable media are skipped
(deterministically, in any DataLoader worker) and listed; never the whole split."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from movingfashion.batching import collate_clips
from movingfashion.dataset import MovingFashionDataset
from schemas.errors import DataFormatError, MediaError
from schemas.paths import PathEscapeError


def _copy(tiny_dataset, tmp_path, edit=None):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    if edit is not None:
        data = json.loads((root / "train.json").read_text())
        edit(root, data)
        (root / "train.json").write_text(json.dumps(data))
    return root


def test_a_row_missing_a_field_is_skipped_and_listed_not_the_split(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: d["102"].pop("img_path"))
    with pytest.raises(DataFormatError, match=r"product '102': field 'img_path'"):
        MovingFashionDataset(root, "train")
    ds = MovingFashionDataset(root, "train", on_bad="skip")
    assert ds.product_ids == ["101", "ab_C"]
    assert [pid for pid, _ in ds.skipped] == ["102"] and "img_path" in ds.skipped[0][1]
    assert ds[1]["product_id"] == "ab_C"


def test_a_malformed_field_and_a_row_that_is_no_object_are_skipped(tiny_dataset, tmp_path):
    def edit(r, d):
        d["101"]["tracklets"][0]["7"] = [50, 50, 10, 10]  # x2 < x1
        d["zz"] = "not an object"

    root = _copy(tiny_dataset, tmp_path, edit)
    ds = MovingFashionDataset(root, "train", on_bad="skip")
    assert ds.product_ids == ["102", "ab_C"]
    assert sorted(pid for pid, _ in ds.skipped) == ["101", "zz"]


def test_a_path_escaping_the_root_is_skipped_and_listed(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: d["101"].update(img_path="../../../../etc/passwd"))
    with pytest.raises(PathEscapeError):
        MovingFashionDataset(root, "train")
    ds = MovingFashionDataset(root, "train", on_bad="skip")
    assert "101" not in ds.product_ids and ds.product_ids == ["102", "ab_C"]
    assert ds.skipped[0][0] == "101" and "img_path" in ds.skipped[0][1]


def test_a_malformed_entries_line_is_skipped_and_listed(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    with open(root / "entries.jsonl", "a") as fh:
        fh.write("{not json\n")
    with pytest.raises(DataFormatError, match="line 4"):
        MovingFashionDataset(root, "train")
    ds = MovingFashionDataset(root, "train", on_bad="skip")
    assert (
        ds.product_ids == ["101", "102", "ab_C"]
        and ds.skipped == [("line 4", ds.skipped[0][1])]
        and "malformed JSON" in ds.skipped[0][1]
    )


@pytest.fixture()
def bad_video(tiny_dataset, tmp_path):
    """The tiny dataset with videos/102_1.mp4 (item 2 of videos="all") replaced by noise."""
    root = _copy(tiny_dataset, tmp_path)
    (root / "videos/102_1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    return root


def _ds(root, **kw):
    return MovingFashionDataset(
        root, "train", videos="all", frames=4, crop_size=32, shop_size=32, seed=0, **kw
    )


def test_undecodable_video_raises_by_default(bad_video):
    ds = _ds(bad_video)
    assert ds[1]["video_path"] == "videos/102_0.mp4"
    with pytest.raises(MediaError, match="102_1.mp4"):
        ds[2]


def test_undecodable_video_gives_the_next_good_item_deterministically(bad_video):
    ds = _ds(bad_video, on_bad="skip")
    item = ds[2]
    assert item["index"] == 3 and item["video_path"] == "videos/ab_C_0.mp4"
    assert [s["video_path"] for s in item["skipped"]] == ["videos/102_1.mp4"]
    assert item["skipped"][0]["product_id"] == "102" and item["skipped"][0]["index"] == 2
    again = _ds(bad_video, on_bad="skip")[3]
    assert torch.equal(item["frames"], again["frames"]) and "skipped" not in again
    assert [pid for pid, _ in ds.skipped] == ["102"]  # listed once however often it is met
    ds[2]
    assert len(ds.skipped) == 1


def test_a_2_worker_dataloader_finishes_the_epoch_and_lists_the_skip(bad_video):
    ds = _ds(bad_video, on_bad="skip", train=True)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=2, num_workers=2, collate_fn=collate_clips, timeout=60
    )
    batches = list(loader)
    assert [b["index"].tolist() for b in batches] == [[0, 1], [3, 3]]
    assert "skipped" not in batches[0]
    assert [s["video_path"] for s in batches[1]["skipped"]] == ["videos/102_1.mp4"]
    assert ds.skipped == []  # the worker's own list stays in the worker ...
    for b in batches:
        ds.note_skips(b)
    assert [pid for pid, _ in ds.skipped] == ["102"]  # ... and the epoch's summary is in the main one
    # the same clips as without workers
    single = [collate_clips([ds[i] for i in (0, 1)]), collate_clips([ds[i] for i in (2, 3)])]
    for a, b in zip(batches, single, strict=True):
        assert torch.equal(a["frames"], b["frames"])


def test_every_item_undecodable_is_one_clear_error(bad_video):
    for name in ("101_0", "102_0", "ab_C_0"):
        shutil.copyfile(bad_video / "videos/102_1.mp4", bad_video / f"videos/{name}.mp4")
    ds = _ds(bad_video, on_bad="skip")
    with pytest.raises(MediaError, match="none of the 4 items loads"):
        ds[0]
    assert sorted({pid for pid, _ in ds.skipped}) == ["101", "102", "ab_C"]


def test_a_video_that_stops_decoding_mid_run_is_listed_once_over_epochs(tiny_dataset, tmp_path, monkeypatch):
    """A video that fails to decode after the dataset opened it (cut short while in use: the
    decoder's message names the frames drawn, which differ every epoch) was listed and warned
    about once per epoch, although each bad file is listed once."""
    root = _copy(tiny_dataset, tmp_path)
    ds = MovingFashionDataset(root, "train", on_bad="skip", seed=0, frames=4)
    real = MovingFashionDataset._decode_list

    def cut_short(self, video, idx, reader=None, **kw):
        if video.rel_path == "videos/101_0.mp4":
            raise MediaError(f"cannot decode frames {sorted(set(idx))}", where=str(video.path))
        return real(self, video, idx, reader, **kw)

    monkeypatch.setattr(MovingFashionDataset, "_decode_list", cut_short)
    for epoch in range(4):
        ds.set_epoch(epoch)
        assert "101" not in [ds[i]["product_id"] for i in range(len(ds))]
    listed = [reason for pid, reason in ds.skipped if pid == "101"]
    assert len(listed) == 1 and "101_0.mp4" in listed[0], ds.skipped
    # and in the main process, from the records a DataLoader worker's copy sends with its items
    worker = MovingFashionDataset(root, "train", on_bad="skip", seed=0, frames=4)
    main = MovingFashionDataset(root, "train", on_bad="skip", seed=0, frames=4)
    for epoch in range(3):
        worker.set_epoch(epoch)
        for i in range(len(worker)):
            main.note_skips(worker[i])
    assert len([r for pid, r in main.skipped if pid == "101"]) == 1, main.skipped


def test_each_video_of_a_product_that_fails_is_listed_once(tiny_dataset, tmp_path, monkeypatch):
    """Product 102 has two videos, drawn at random in training, and neither decodes: each is
    listed once (a failure of the second video was filed under the first, and hid its own)."""
    root = _copy(tiny_dataset, tmp_path)
    ds = MovingFashionDataset(root, "train", on_bad="skip", seed=0, frames=4)
    assert ds.videos_mode == "random"
    real = MovingFashionDataset._decode_list

    def broken(self, video, idx, reader=None, **kw):
        if video.rel_path.startswith("videos/102_"):
            raise MediaError(f"cannot decode frames {sorted(set(idx))}", where=str(video.path))
        return real(self, video, idx, reader, **kw)

    monkeypatch.setattr(MovingFashionDataset, "_decode_list", broken)
    i = ds.product_ids.index("102")
    for epoch in range(12):  # enough draws for both videos
        ds.set_epoch(epoch)
        ds[i]
    listed = sorted(
        next(v for v in ("102_0.mp4", "102_1.mp4") if v in r) for pid, r in ds.skipped if pid == "102"
    )
    assert listed == ["102_0.mp4", "102_1.mp4"], ds.skipped


def test_a_video_deleted_after_the_dataset_is_made_names_its_product(tiny_dataset, tmp_path):
    """Mid-training, a removed video was "video file not found" naming the file only, with no
    word of on_bad="skip" (the same file missing when the dataset is made names the product and
    the option); an unreadable one the same (not tested here: every backend takes seconds)."""
    root = _copy(tiny_dataset, tmp_path)
    ds = MovingFashionDataset(root, "train", frames=2, train=False)
    gone = ds.plan(0)[0]
    (root / gone.videos[0].rel_path).unlink()
    with pytest.raises(MediaError, match="video file not found") as err:
        ds[0]
    assert f"product '{gone.product_id}'" in str(err.value) and "on_bad='skip'" in (err.value.hint or "")
    skip = MovingFashionDataset(_copy(tiny_dataset, tmp_path / "again"), "train", frames=2, on_bad="skip")
    (skip.root / skip.plan(0)[0].videos[0].rel_path).unlink()
    item = skip[0]
    assert (
        item["skipped"][0]["product_id"] == gone.product_id and "on_bad" not in item["skipped"][0]["reason"]
    )
