"""Training randomness reaches persistent DataLoader workers; frames past a video's real end are
checked before decoding; negative indices; a damaged crop-cache entry falls back to live decoding."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import shutil

import pytest
import torch
from torch.utils.data import DataLoader

from movingfashion.batching import collate_clips, loader_settings
from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry

KW = {"seed": 3, "crop_size": 32, "frames": 4, "dtype": torch.uint8}


def _epoch_frames(loader, ds, epoch):
    ds.set_epoch(epoch)
    return {
        i: f for b in loader for i, f in zip(b["draw"].tolist(), b["frame_indices"].tolist(), strict=True)
    }


def test_persistent_workers_see_every_new_epoch(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", **KW)
    order = list(range(2 * len(ds)))
    settings = {**loader_settings(2), "prefetch_factor": 2}
    assert settings["persistent_workers"]
    # workers from a fresh forkserver: a fork of this test process inherits the locks of threads
    # other tests left running (a loopback server) and hung for 5 min once in a loaded full run;
    # the shared epoch reaches workers started this way too (it is pickled as shared memory)
    loader = DataLoader(
        ds,
        batch_size=2,
        sampler=order,
        collate_fn=collate_clips,
        multiprocessing_context="forkserver",
        **settings,
    )
    got = [_epoch_frames(loader, ds, e) for e in range(3)]
    for e, frames in enumerate(got):  # what the workers drew is what the main process plans
        ds.set_epoch(e)
        assert frames == {i: ds.plan(i)[2] for i in order}
    assert got[0] != got[1] and got[1] != got[2]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_dataset_keeps_its_epoch_in_shared_memory(tiny_dataset, how):
    """``copy.deepcopy(ds)`` (a validation copy with other transforms) or a dataset pickled to disk
    and loaded again: its epoch must live in shared memory, or the DataLoader workers forked from
    it (persistent ones) never see its ``set_epoch`` and draw epoch 0's clips every epoch."""
    ds = MovingFashionDataset(tiny_dataset, "train", **KW)
    ds.set_epoch(4)
    copied = copy.deepcopy(ds) if how == "deepcopy" else pickle.loads(pickle.dumps(ds))
    assert copied.epoch == 4 and copied._epoch._value.is_shared()
    copied.set_epoch(5)
    assert (ds.epoch, copied.epoch) == (4, 5)  # a copy of its own, not the original's


def _tracklet_file(root, edit):
    path = root / "tracklets" / "101_0.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_a_frame_count_the_tracklet_file_overstates_is_corrected_on_first_use(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    _tracklet_file(root, lambda d: d.update(frames=100))  # the video holds 60
    ds = MovingFashionDataset(root, "train", crop="frame", frame_size=32, sampler="uniform", frames=10)
    i = ds.product_ids.index("101")
    item = ds[i]  # raised MediaError (frame past the end) on every call before the fix
    assert item["product_id"] == "101" and max(item["frame_indices"].tolist()) < 60
    assert ds.products[ds._index[i][0]].videos[0].num_frames == 60


def test_boxes_past_the_real_end_drop_frames_not_the_product(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    data = json.loads((root / "train.json").read_text())
    data["101"]["tracklets"][0]["70"] = [10, 40, 40, 80]  # the video holds 60 frames
    (root / "train.json").write_text(json.dumps(data))
    # the tracklet file says 60 frames too; the frame is checked against the decoded video
    ds = MovingFashionDataset(root, "train", sampler="uniform", on_bad="skip", frames=6, crop_size=32)
    i = ds.product_ids.index("101")
    item = ds[i]
    assert item["product_id"] == "101" and "skipped" not in item
    assert 70 not in item["frame_indices"].tolist()
    assert any(pid == "101" and "frame 70" in why for pid, why in ds.skipped)
    strict = MovingFashionDataset(root, "train", sampler="uniform", frames=6, crop_size=32)
    with pytest.raises(Exception, match="frame 70"):
        strict[strict.product_ids.index("101")]


def test_an_understated_frame_count_does_not_drop_boxes(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    _tracklet_file(root, lambda d: d.update(frames=30))  # the video holds 60, boxed 5..54
    ds = MovingFashionDataset(root, "train", sampler="all", on_bad="skip", frames=4, crop_size=32)
    i = ds.product_ids.index("101")
    assert ds[i]["frame_indices"].tolist() == list(range(5, 55)) and not ds.skipped


def test_negative_indices_count_from_the_end(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", **KW)
    assert ds.train
    last = ds[-1]
    assert (
        last["index"] == len(ds) - 1
        and last["frame_indices"].tolist() == ds[len(ds) - 1]["frame_indices"].tolist()
    )
    with pytest.raises(IndexError):
        ds[-len(ds) - 1]


def test_plan_takes_negative_indices_as_the_items_do(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", **KW)
    rec, vi, frames = ds.plan(-1)
    last = ds[-1]
    assert (rec.product_id, vi, frames) == (
        last["product_id"],
        last["video_index"],
        last["frame_indices"].tolist(),
    )
    assert ds.plan(-1)[2] == ds.plan(len(ds) - 1)[2]
    with pytest.raises(IndexError, match="out of range"):
        ds.plan(-len(ds) - 1)
    with pytest.raises(TypeError, match="Subset"):
        ds.plan(1.5)


@pytest.mark.parametrize("damage", ["truncate", "delete", "meta"])
def test_a_damaged_crop_cache_entry_is_named_once_and_decoded_live(tiny_dataset, tmp_path, caplog, damage):
    kw = {**KW, "train": False}
    live = MovingFashionDataset(tiny_dataset, "train", **kw)
    cache = tmp_path / "cache"
    build_crop_cache(live, cache, pool=None)
    arr, meta = cache_entry(cache, "videos/101_0.mp4")
    if damage == "truncate":
        arr.write_bytes(arr.read_bytes()[: arr.stat().st_size // 2])
    elif damage == "delete":
        arr.unlink()
    else:
        meta.write_text("{not json")
    cached = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **kw)
    i = cached.product_ids.index("101")
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        a, b = cached[i], cached[i]
    assert torch.equal(a["frames"], live[i]["frames"]) and torch.equal(b["frames"], a["frames"])
    named = [r for r in caplog.records if "101_0" in r.getMessage()]
    assert len(named) == 1


def test_an_undecodable_video_is_listed_and_the_rest_cached(tiny_dataset, tmp_path):
    from schemas.errors import MediaError

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    # an older cache of other settings holds the video: its entry must not outlive the failure
    build_crop_cache(
        MovingFashionDataset(root, "train", **{**KW, "crop_size": 24}), tmp_path / "c", pool=None
    )
    assert cache_entry(tmp_path / "c", "videos/101_0.mp4")[1].exists()
    (root / "videos" / "101_0.mp4").write_bytes(b"not a video")
    skip = MovingFashionDataset(root, "train", on_bad="skip", **KW)
    counts = build_crop_cache(skip, tmp_path / "c", pool=None)
    assert (counts["built"], counts["failed"]) == (3, 1)
    assert [pid for pid, _ in skip.skipped] == ["101"] and "101_0.mp4" in skip.skipped[0][1]
    assert not any(p.exists() for p in cache_entry(tmp_path / "c", "videos/101_0.mp4"))
    with pytest.raises(MediaError, match="101_0.mp4"):
        build_crop_cache(MovingFashionDataset(root, "train", **KW), tmp_path / "c2", pool=None)


def test_whole_frame_items_are_planned_on_the_decoded_length_from_the_first_load(tiny_dataset, tmp_path):
    """crop='frame': a tracklet file that understates the video's length (30 of 60 frames) must not
    decide the first load's frames, while later loads use the decoded length."""
    from movingfashion.sampling import get_sampler
    from tests.movingfashion.helpers import read_code

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)

    def understate(d):
        d["frames"] = 30
        d["tracklets"][0]["boxes"] = {k: b for k, b in d["tracklets"][0]["boxes"].items() if int(k) < 30}

    _tracklet_file(root, understate)
    kw = {"crop": "frame", "frame_size": (96, 128), "frames": 6, "seed": 0, "train": False}
    ds = MovingFashionDataset(root, "train", **kw)
    i = ds.product_ids.index("101")
    want = get_sampler("rrs")(list(range(60)), 6, train=False)  # the video holds 60 frames
    assert ds.plan(i)[2] == want  # before any load
    first, second = ds[i], ds[i]
    assert first["frame_indices"].tolist() == second["frame_indices"].tolist() == want
    assert [read_code(f) for f in first["frames"].mul(255).round().byte().permute(0, 2, 3, 1).numpy()] == want


def test_without_a_seed_the_draws_follow_torchs_seed(tiny_dataset):
    """``torch.manual_seed`` before the dataset is made reproduces its clips (each process drew
    its own seed from the OS before: runs and DDP ranks differed whatever torch was seeded with)."""
    plans = []
    for s in (5, 5, 6):
        torch.manual_seed(s)
        ds = MovingFashionDataset(tiny_dataset, "train", frames=4)
        plans.append([ds.plan(i)[2] for i in range(len(ds))])
    assert plans[0] == plans[1] and plans[0] != plans[2]
