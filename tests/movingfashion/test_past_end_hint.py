"""Tracklet frames past a video's last frame: the loader and ``mf verify`` give one hint, right
for the archive's own ground truth too (a build keeps it, so dropping the frames is the fix;
before, both said to rebuild with ``mf-tracklets build --force``, which left those frames)."""

from __future__ import annotations

import json

import pytest

from movingfashion.archive.verify import verify_dataset
from movingfashion.dataset import MovingFashionDataset
from schemas.errors import DataFormatError
from tests.movingfashion.helpers import edit_split, make_archive


def _past_the_end(tmp_path):
    root = make_archive(tmp_path / "mf")  # no tracklets/: the split file's tracklet is the archive's
    n = len(json.loads((root / "test.json").read_text())["h2"]["tracklets"][0])  # a box on every frame
    edit_split(root, "test", lambda d: d["h2"]["tracklets"][0].update({str(n): [10, 40, 40, 80]}))
    return root, n


def test_the_loader_and_verify_say_to_drop_the_frames_and_what_a_build_keeps(tmp_path):
    root, n = _past_the_end(tmp_path)
    ds = MovingFashionDataset(root, "test", frames=4, crop="tracklet")
    with pytest.raises(DataFormatError, match=f"frame {n} is past the video's last frame") as e:
        ds.check()
    hint = e.value.hint
    assert hint.startswith("drop those frames from the split file's tracklet"), hint
    assert "not the archive's own ground truth" in hint and "--discard-corrections" in hint, hint
    (found,) = [b for b in verify_dataset(root).check("tracklets").breaks if b.product == "h2"]
    assert found.fix == hint.removesuffix("; or pass on_bad='skip' to drop such rows")
