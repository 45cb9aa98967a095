"""A crop-cache or training-copy entry is tied to the file it was cut from by its size and a
digest of its two ends (``schemas.atomic.sample_digest``). By size alone, a video replaced by
another of the same size (a re-encode padded, a mirrored copy) kept being served its old crops,
and reruns of ``mf crop-cache`` / ``mf training-copy`` kept them (audit_stale D4)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry
from movingfashion.media.ffmpeg import ffmpeg_exe
from movingfashion.training_copy import build_training_copy, copy_entry
from schemas.atomic import sample_digest

KW = {"seed": 7, "crop_size": 48, "frames": 6, "dtype": torch.uint8}
VIDEO = "videos/101_0.mp4"


@pytest.fixture
def dataset(tiny_dataset, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(tiny_dataset, ds)
    return ds


def replace_same_size(path, tmp_path) -> None:
    """``path`` becomes its mirror image, re-encoded smaller and padded to the old size."""
    mirrored = tmp_path / "mirrored.mp4"
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(path), "-vf", "hflip"]
    subprocess.run([*cmd, "-c:v", "libx264", "-crf", "45", str(mirrored)], check=True)
    data, size = mirrored.read_bytes(), path.stat().st_size
    assert len(data) < size  # the case this test is about
    path.write_bytes(data + b"\0" * (size - len(data)))


def _item(ds, **kw) -> dict:
    d = MovingFashionDataset(ds, "train", **KW, **kw)
    i = next(i for i, r in enumerate(d.products) if r.videos[0].rel_path == VIDEO)
    return d[i]


@pytest.mark.parametrize("kind", ["crop_cache", "training_copy"])
def test_a_same_size_replacement_is_not_served_from_the_old_entry(dataset, tmp_path, caplog, kind):
    live = MovingFashionDataset(dataset, "train", **KW)
    out = tmp_path / kind
    build = build_crop_cache if kind == "crop_cache" else build_training_copy
    build(live, out)
    meta_path = cache_entry(out, VIDEO)[1] if kind == "crop_cache" else copy_entry(out, VIDEO)[1]
    assert json.loads(meta_path.read_text())["video_sample"] == sample_digest(dataset / VIDEO)
    replace_same_size(dataset / VIDEO, tmp_path)
    with caplog.at_level(logging.WARNING):
        got = _item(dataset, **{kind: out})
    assert "changed since" in caplog.text and "101_0" in caplog.text
    want = _item(dataset)  # the live crops of the new file
    assert torch.equal(got["frames"], want["frames"])
    again = build(MovingFashionDataset(dataset, "train", **KW), out)
    assert again["built"] == 1, again  # the rerun rebuilds that entry only


def test_the_digest_survives_a_copy_and_sees_other_bytes_of_the_same_size(tmp_path):
    a = tmp_path / "a.bin"
    a.write_bytes(bytes(range(256)) * 1000)
    b = tmp_path / "b.bin"
    shutil.copy(a, b)  # a new modification time, the same bytes
    assert sample_digest(a) == sample_digest(b)
    for at in (10, a.stat().st_size - 10):
        data = bytearray(a.read_bytes())
        data[at] ^= 0xFF
        b.write_bytes(bytes(data))
        assert sample_digest(b) != sample_digest(a)
