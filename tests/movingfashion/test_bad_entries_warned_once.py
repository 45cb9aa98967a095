"""A damaged training-copy or crop-cache entry is named in one warning per dataset: the process
that makes the dataset checks every entry, and DataLoader workers (new ones every epoch, without
persistent workers) do not warn about it again."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from movingfashion.batching import collate_clips
from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry
from movingfashion.training_copy import build_training_copy, copy_entry

KW = {"seed": 3, "crop_size": 32, "frames": 4, "dtype": torch.uint8}
VIDEO = "videos/101_0.mp4"  # product 101's one video
NEEDLE = {"training_copy": "training copy not used", "crop_cache": "crop cache entry unusable"}


def _log_to(folder: Path, _worker: int) -> None:
    """DataLoader worker init: the worker's warnings go to a file of its own."""
    handler = logging.FileHandler(folder / f"worker-{os.getpid()}.log")
    handler.setLevel(logging.WARNING)
    logging.getLogger("movingfashion").addHandler(handler)


def _truncated_entry(tiny_dataset: Path, tmp_path: Path, kind: str) -> Path:
    """A training copy or crop cache of the split, :data:`VIDEO`'s data cut to its first 1000 bytes."""
    folder = tmp_path / kind
    ds = MovingFashionDataset(tiny_dataset, "train", **KW)
    if kind == "training_copy":
        build_training_copy(ds, folder)
        data = copy_entry(folder, VIDEO)[0]
    else:
        build_crop_cache(ds, folder, pool=None)
        data = cache_entry(folder, VIDEO)[0]
    data.write_bytes(data.read_bytes()[:1000])
    return folder


@pytest.mark.parametrize("kind", ["training_copy", "crop_cache"])
def test_a_truncated_entry_is_named_once_not_by_every_worker_every_epoch(
    tiny_dataset, tmp_path, caplog, kind
):
    folder = _truncated_entry(tiny_dataset, tmp_path, kind)
    logs = tmp_path / "logs"
    logs.mkdir()
    with caplog.at_level(logging.WARNING, logger="movingfashion"):
        ds = MovingFashionDataset(tiny_dataset, "train", **{kind: folder}, **KW)
    here = [r.getMessage() for r in caplog.records if NEEDLE[kind] in r.getMessage()]
    assert len(here) == 1 and "101_0" in here[0]  # named when the dataset is made
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    init = functools.partial(_log_to, logs)
    for epoch in range(2):  # new workers every epoch
        ds.set_epoch(epoch)
        live.set_epoch(epoch)
        loader = DataLoader(ds, batch_size=1, num_workers=2, collate_fn=collate_clips, worker_init_fn=init)
        for i, batch in enumerate(loader):
            assert batch["frame_indices"][0].tolist() == live[i]["frame_indices"].tolist()
            if batch["video_path"][0] == VIDEO:  # decoded live, the same frames
                ref = live[i]["frames"]
                assert np.array_equal(batch["frames"][0].numpy(), ref.numpy())
    worker_lines = [line for p in logs.iterdir() for line in p.read_text().splitlines()]
    assert len(list(logs.iterdir())) == 4  # 2 workers x 2 epochs logged
    assert not [line for line in worker_lines if NEEDLE[kind] in line]
