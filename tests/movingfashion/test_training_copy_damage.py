"""A damaged training copy: the loader checks each index before it reads it (one warning naming
the file, then the video decodes live, never a crash or a frame the live path would not give),
and ``mf training-copy`` run again writes every entry the loader would refuse, removes what a
killed run left half-written, and a missing copy folder is refused up front."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from movingfashion.dataset import MovingFashionDataset
from movingfashion.training_copy import CopyEntry, CorruptCopy, build_training_copy, copy_entry
from schemas.errors import ConfigError

KW = {"seed": 7, "crop_size": 48, "frames": 6, "dtype": torch.uint8}
VIDEO = "videos/101_0.mp4"  # product 101: 60 frames, boxes on frames 5..54


@pytest.fixture(scope="module")
def built(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("copy")
    assert build_training_copy(MovingFashionDataset(tiny_dataset, "train", **KW), out)["built"] == 4
    return out


def _damage(folder, how: str) -> None:
    """Damage the copy of :data:`VIDEO` in ``folder`` as a bad disk or an interrupted sync would."""
    data, index = copy_entry(folder, VIDEO)
    doc = json.loads(index.read_text())
    if how == "truncated":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        return
    if how == "frame":  # one frame index damaged: 5 -> 95 (past the tracklet, past the video)
        doc["frames"][0] = 95
    elif how == "offset":  # a digit lost: the offsets stop increasing
        k = len(doc["offsets"]) // 2
        doc["offsets"][k] //= 10
    elif how == "box":  # a box of 3 numbers
        doc["boxes"][3] = doc["boxes"][3][:3]
    index.write_text(json.dumps(doc))  # still valid JSON


def _copy_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "movingfashion.training_copy"]


@pytest.mark.parametrize("how", ["frame", "offset", "box", "truncated"])
def test_a_damaged_index_is_named_once_and_its_video_decoded_live(tiny_dataset, built, tmp_path, caplog, how):
    bad = tmp_path / "copy"
    shutil.copytree(built, bad)
    _damage(bad, how)
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=bad, **KW)
    i = live.product_ids.index("101")
    with caplog.at_level(logging.WARNING, logger="movingfashion.training_copy"):
        for epoch in range(6):
            live.set_epoch(epoch)
            fast.set_epoch(epoch)
            a, b = live[i], fast[i]
            assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
            assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["boxes"], b["boxes"])  # live
    warnings = _copy_warnings(caplog)
    assert len(warnings) == 1 and str(copy_entry(bad, VIDEO)[0]) in warnings[0], warnings


def test_a_read_past_the_data_file_is_a_corrupt_copy_not_an_os_error(tmp_path):
    path = tmp_path / "x.jpgs"
    path.write_bytes(b"\xff" * 10)
    fd = os.open(path, os.O_RDONLY)
    try:
        entry = CopyEntry(path, [0, 1], np.array([0, 8, 4]), [0, 0], [[0, 0, 1, 1]] * 2, (4, 4), fd)
        with pytest.raises(CorruptCopy, match="frame 1"):
            entry.read([1])  # a negative length: os.pread raises OSError
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", ["frame", "offset", "box", "truncated"])
def test_a_rerun_writes_a_damaged_entry_again(tiny_dataset, built, tmp_path, caplog, how):
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    _damage(out, how)
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    counts = build_training_copy(live, out)
    assert (counts["built"], counts["already_copied"]) == (1, 3)
    for f in sorted(built.iterdir()):  # the entry is as a first build writes it
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name
    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=out, **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.training_copy"):
        assert [fast[i]["video_path"] for i in range(len(fast))]
    assert _copy_warnings(caplog) == []


def test_a_rerun_removes_the_data_file_a_killed_build_left(tiny_dataset, built, tmp_path):
    from schemas.atomic import host_tag

    out = tmp_path / "copy"
    shutil.copytree(built, out)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    partial = out / f".videos%2F102_0.mp4.jpgs.{host_tag()}-{int(dead.stdout)}.ab12_x.part"
    partial.write_bytes(b"\xff\xd8 half a video's JPEGs")
    counts = build_training_copy(MovingFashionDataset(tiny_dataset, "train", **KW), out)
    assert counts["already_copied"] == 4
    assert not partial.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in built.iterdir())


def test_a_copy_folder_that_does_not_exist_is_refused(tiny_dataset, tmp_path):
    typo = tmp_path / "cpoy"
    with pytest.raises(ConfigError, match="training copy folder not found") as exc:
        MovingFashionDataset(tiny_dataset, "train", training_copy=typo, **KW)
    assert str(typo) in str(exc.value) and "mf training-copy" in str(exc.value)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="training copy is not a folder") as exc:
        MovingFashionDataset(tiny_dataset, "train", training_copy=tmp_path / "file", **KW)
    assert f"--out {tmp_path / 'file'}" not in str(exc.value)  # never a build over that file


@pytest.mark.parametrize(("given", "holds"), [("training_copy", ".npy"), ("crop_cache", ".jpgs")])
def test_the_other_kind_of_folder_is_refused_naming_it(tiny_dataset, tmp_path, given, holds):
    """A crop cache passed as ``training_copy`` (or a copy as ``crop_cache``) was read as a store
    of unreadable entries: one warning per video, every clip decoded live."""
    for stem in ("videos%2F101_0.mp4", "videos%2F102_0.mp4", "videos%2F102_1.mp4"):
        (tmp_path / f"{stem}{holds}").write_bytes(b"")
        (tmp_path / f"{stem}.json").write_text("{}")
    other = "crop_cache" if given == "training_copy" else "training_copy"
    with pytest.raises(ConfigError, match=f"holds a {other.replace('_', ' ')}") as exc:
        MovingFashionDataset(tiny_dataset, "train", **{given: tmp_path}, **KW)
    assert str(tmp_path) in str(exc.value) and f"pass it as {other}=" in str(exc.value)


def test_videos_missing_from_the_copy_are_counted_in_one_warning(tiny_dataset, built, tmp_path, caplog):
    part = tmp_path / "copy"
    shutil.copytree(built, part)
    for rel in (VIDEO, "videos/102_1.mp4"):
        for p in copy_entry(part, rel):
            p.unlink()
    with caplog.at_level(logging.WARNING):
        fast = MovingFashionDataset(tiny_dataset, "train", training_copy=part, videos="all", **KW)
        got = [fast[i]["video_path"] for i in range(len(fast))]
    assert sorted(got) == ["videos/101_0.mp4", "videos/102_0.mp4", "videos/102_1.mp4", "videos/ab_C_0.mp4"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "2 of 4 videos have no training copy entry" in warnings[0] and "mf training-copy" in warnings[0]
