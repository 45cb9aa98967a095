"""``mf evaluate``'s clips: for every T evaluated (5, 10, 20) one frame from each of the T equal
chunks of the query tracklet, the very frames the loader's evaluation RRS takes, whatever the
tracklet's length; the salient picks stay one per chunk too, and Fig. 8 keeps its evenly spaced
frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from movingfashion.sampling import chunk_bounds, get_sampler
from movingfashion.seam.evaluate import salient_indices, sample_indices
from movingfashion.seam.features import BANK_VERSION, build_bank
from schemas.errors import ConfigError
from tests.movingfashion.helpers import box_of, write_image, write_video

#: product -> (video length, first boxed frame, boxed frames): tracklets of several lengths
SPEC = {"a": (12, 2, 7), "b": (30, 3, 23), "c": (50, 4, 41), "d": (64, 0, 64)}
CLIPS = [5, 10, 20]


def _encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.AdaptiveAvgPool2d(2))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    test = {}
    for pid, (n, lo, count) in SPEC.items():
        rel = f"videos/{pid}.mp4"
        write_video(root / rel, n)
        write_image(root / f"imgs/{pid}.jpg", colour=(10 * len(test), 100, 30))
        boxes = {str(f): box_of(f) for f in range(lo, lo + count)}
        test[pid] = {"video_paths": [rel], "img_path": f"imgs/{pid}.jpg", "source": 1, "tracklets": [boxes]}
    (root / "test.json").write_text(json.dumps(test))
    (root / "train.json").write_text("{}")
    return root


@pytest.fixture(scope="module")
def bank(root):
    return build_bank(root, "test", _encoder(), crop_size=32, pool=21, clips=CLIPS, cache_dir=root / "cache")


def _candidates(pid: str) -> list[int]:
    _, lo, count = SPEC[pid]
    return list(range(lo, lo + count))


def _chunk_counts(cand: list[int], frames: list[int], t: int) -> list[int]:
    """How many of ``frames`` fall in each of the T equal chunks of ``cand``."""
    bounds = chunk_bounds(len(cand), t)
    pos = [cand.index(f) for f in frames]
    return np.bincount(np.searchsorted(bounds, pos, side="right") - 1, minlength=t).tolist()


@pytest.mark.parametrize("t", CLIPS)
def test_every_t_takes_the_loaders_rrs_frames_one_per_chunk(bank, t):
    sel = sample_indices(bank, t)
    assert sel.shape == (len(SPEC), t)
    for v, pid in enumerate(bank.product_ids):
        cand = _candidates(pid)
        frames = bank.frames[v, sel[v]].tolist()
        assert frames == get_sampler("rrs")(cand, t, train=False)  # chunk centres, as the loader
        if len(cand) >= t:
            assert _chunk_counts(cand, frames, t) == [1] * t
        else:  # fewer frames than T: each repeated evenly, as the loader does
            assert sorted(set(frames)) == cand


@pytest.mark.parametrize("t", CLIPS)
def test_salient_picks_one_pool_frame_per_chunk(bank, t):
    sel = salient_indices(bank, t)
    for v, pid in enumerate(bank.product_ids):
        cand = _candidates(pid)
        frames = bank.frames[v, sel[v]].tolist()
        if len(cand) >= t:
            assert _chunk_counts(cand, frames, t) == [1] * t
        pool = set(bank.frames[v].tolist())
        assert set(frames) <= pool


def test_fig8_keeps_the_evenly_spaced_frames_and_the_bank_is_versioned(bank):
    assert BANK_VERSION == 8  # banks cached before are built again, never reused
    uniform = bank.slots["uniform"]
    for v, pid in enumerate(bank.product_ids):
        frames = bank.frames[v, uniform[v]].tolist()
        assert frames == get_sampler("uniform")(_candidates(pid), 21, train=False)
        n = SPEC[pid][0]
        assert torch.allclose(bank.positions[v, uniform[v]], torch.tensor(frames, dtype=torch.float32) / n)
    sub = bank.subset([2, 0])
    assert torch.equal(sub.slots["rrs20"], bank.slots["rrs20"][[2, 0]])


def test_a_clip_length_the_bank_does_not_keep_is_refused(bank):
    with pytest.raises(ConfigError, match="keeps no 7-frame clips"):
        sample_indices(bank, 7)


def test_the_cached_bank_keeps_its_slots(bank, root):
    assert set(bank.slots) == {"uniform", "maxconf", *(f"{k}{t}" for k in ("rrs", "salient") for t in CLIPS)}
    again = build_bank(root, "test", _encoder(), crop_size=32, pool=21, clips=CLIPS, cache_dir=root / "cache")
    assert again.key == bank.key and all(torch.equal(again.slots[k], v) for k, v in bank.slots.items())
    plain = build_bank(root, "test", _encoder(), crop_size=32, pool=21, cache_dir=root / "cache")
    assert plain.key != bank.key and plain.slots == {} and plain.fmaps.shape[1] == 21
