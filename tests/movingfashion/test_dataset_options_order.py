"""``MovingFashionDataset``'s argument checks (``dataset_args.dataset_options``) run in one fixed
order, so a call with several bad arguments is always refused for the same one first: the order
the checks had inside ``__init__`` before they moved out of it (the messages are pinned
elsewhere; this pins which one comes first)."""

from __future__ import annotations

import inspect
import itertools

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset
from movingfashion.dataset_args import DatasetOptions, dataset_options
from schemas.errors import MFError


def _bad_calls(tmp_path) -> list[tuple[dict, str]]:
    """One bad call per check, in the order they run: (keyword arguments, the error's ``where``)."""
    copy, cache, folder = tmp_path / "no-copy", tmp_path / "no-cache", tmp_path / "no-dataset"
    return [
        ({"backend": "nope"}, "backend"),
        ({"root": folder}, str(folder)),  # the split is looked for: a DataFormatError
        ({"crop": "box"}, "crop"),
        ({"on_bad": "ignore"}, "on_bad"),
        ({"frames": 0}, "frames"),
        ({"sampler": "nope"}, "sampler"),
        ({"transform": 1}, "transform"),
        ({"crop_size": 0}, "crop_size"),
        ({"frame_size": 0}, "frame_size"),
        ({"shop_size": 0}, "shop_size"),
        ({"context": -2}, "context"),
        ({"videos": "some"}, "videos"),
        ({"box_tolerance": -1}, "box_tolerance"),
        ({"quality": {"w_size": -1}}, "quality"),
        ({"dtype": torch.int64}, "dtype"),
        ({"cache_size": 0}, "cache_size"),
        ({"seed": -1}, "seed"),
        ({"training_copy": tmp_path, "crop_cache": tmp_path}, "training_copy"),
        ({"training_copy": copy}, str(copy)),
        ({"crop_cache": cache}, str(cache)),
        ({"partition": "nope"}, "partition"),
        ({"classes": ["nope"]}, "classes"),
    ]


def _make(tiny_dataset, root=None, **kw) -> MovingFashionDataset:
    return MovingFashionDataset(root or tiny_dataset, "train", **kw)


def test_two_bad_arguments_are_refused_for_the_one_checked_first(tiny_dataset, tmp_path):
    calls = _bad_calls(tmp_path)
    for kw, where in calls:  # each alone: the check that names it
        with pytest.raises(MFError) as exc:
            _make(tiny_dataset, **kw)
        assert exc.value.where == where, (kw, exc.value)
    for (first, where), (later, _) in itertools.combinations(calls, 2):
        if first.keys() & later.keys() or {"training_copy", "crop_cache"} <= first.keys() | later.keys():
            continue  # one argument twice, or a copy and a cache given together: one bad call
        with pytest.raises(MFError) as exc:
            _make(tiny_dataset, **later, **first)
        assert exc.value.where == where, (first, later, exc.value)


def test_the_options_record_is_frozen(tiny_dataset):
    defaults = {
        name: p.default
        for name, p in inspect.signature(MovingFashionDataset.__init__).parameters.items()
        if name not in ("self", "root", "split", "empty_tracklet_hint", "split_rows", "full_tracklet_files")
    }
    o = dataset_options(tiny_dataset, "train", **defaults)
    assert (
        isinstance(o, DatasetOptions) and o.crop_size == (224, 224) and o.train and o.videos_mode == "random"
    )
    with pytest.raises(AttributeError):
        o.frames = 3
