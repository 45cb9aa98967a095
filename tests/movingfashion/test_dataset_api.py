"""What training code meets first: iteration, empty datasets, the item's index, split files of
other names, and constructor arguments checked where they are given (not at the first item)."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch

from movingfashion.batching import PKSampler
from movingfashion.dataset import MovingFashionDataset, crop_window
from schemas.errors import ConfigError


def test_iterating_gives_every_item_once(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", frames=2, seed=0)
    items = list(ds)  # was endless: indices past the end wrap for the samplers
    assert [it["index"] for it in items] == list(range(len(ds)))
    assert [it["product_id"] for it in items] == ds.product_ids


def test_the_item_index_is_its_position_even_for_a_samplers_repeat(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", frames=2, seed=0)
    n = len(ds)
    for raw in list(PKSampler(ds, 2, 3))[:6]:
        item = ds[raw]
        assert 0 <= item["index"] < n and ds.product_ids[item["index"]] == item["product_id"]
    assert ds[n + 1]["index"] == 1


def test_an_empty_dataset_says_so(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "test", classes=["sling_dress"])
    assert len(ds) == 0 and list(ds) == []
    with pytest.raises(IndexError, match="empty"):
        ds[0]
    with pytest.raises(IndexError, match="empty"):
        ds.plan(0)


def test_an_empty_dataset_warns_once_when_made_naming_the_split_file_and_the_filters(
    tiny_dataset, tmp_path, caplog
):
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(tiny_dataset, "test", classes=["sling_dress"], partition="hard")
    assert len(ds) == 0  # was made without a word; the DataLoader said "num_samples=0" later
    [record] = caplog.records
    assert str(tiny_dataset / "test.json") in record.getMessage()
    assert "classes=['sling_dress'] and partition='hard' keep none of its" in record.getMessage()
    caplog.clear()
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "train.json").write_text("{}")
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(root, "train", frames=2, seed=0)
    assert len(ds) == 0
    [record] = caplog.records
    assert record.getMessage().startswith(
        f"{root / 'train.json'}: the dataset is empty: the split file lists no product"
    )


def test_skips_and_filters_that_empty_a_dataset_blame_the_filters(tiny_dataset, tmp_path, caplog):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "imgs/101.jpg").unlink()
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(root, "train", frames=2, seed=0, on_bad="skip", classes=["sling_dress"])
    assert len(ds) == 0 and [pid for pid, _ in ds.skipped] == ["101"]
    skips, empty = (r.getMessage() for r in caplog.records)
    assert "none of its products has a usable video" not in skips  # the others had one
    assert "classes=['sling_dress'] keep none of its 2 products" in empty


def test_a_dataset_with_items_says_nothing_about_being_empty(tiny_dataset, caplog):
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(tiny_dataset, "test")
    assert len(ds) > 0 and "empty" not in caplog.text


def test_a_slice_is_refused_with_the_way_to_take_part_of_it(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", frames=2, seed=0)
    with pytest.raises(TypeError, match="Subset"):
        ds[0:2]
    assert ds[torch.tensor(1)]["index"] == 1


@pytest.mark.parametrize("index", [torch.tensor(1.7), torch.tensor([0, 1]), torch.tensor(True)])
def test_a_tensor_index_that_is_no_integer_is_refused(tiny_dataset, index):
    """``tensor(1.7)`` was read as index 1, and a tensor of several indices failed as torch's
    "only one element tensors can be converted"; both now say what an index is."""
    ds = MovingFashionDataset(tiny_dataset, "train", frames=2, seed=0)
    with pytest.raises(TypeError, match="dataset indices are integers.*Subset"):
        ds[index]


def test_a_split_file_of_another_name_warns_and_train_true_samples_it_as_training(
    tiny_dataset, tmp_path, caplog
):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    shutil.copy(root / "train.json", root / "train_small.json")
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(root, str(root / "train_small.json"), frames=2, seed=0)
    assert not ds.train and "train=True" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        trained = MovingFashionDataset(root, str(root / "train_small.json"), frames=2, seed=0, train=True)
        MovingFashionDataset(root, "train", frames=2, seed=0)
    assert trained.train and trained.videos_mode == "random" and "train=True" not in caplog.text


def test_a_relative_split_file_is_found_in_the_root(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no train.json here
    ds = MovingFashionDataset(tiny_dataset, "train.json", frames=2, seed=0)
    assert ds.split_path == tiny_dataset / "train.json" and len(ds) > 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"frames": 2.7}, "frames"),
        ({"frames": True}, "frames"),
        ({"frames": 0}, "frames"),
        ({"crop_size": 0}, "crop_size"),
        ({"crop_size": (224,)}, "crop_size"),
        ({"shop_size": -5}, "shop_size"),
        ({"frame_size": (0, 10)}, "frame_size"),
        ({"seed": -1}, "seed"),
        ({"dtype": torch.int64}, "dtype"),
        ({"dtype": "uint8"}, "dtype"),
        ({"cache_size": -1}, "cache_size"),
        ({"context": -1.5}, "context"),
        ({"context": float("nan")}, "context"),
        ({"partition": "easy"}, "partition"),
        ({"quality": {"no_such_weight": 1.0}}, "quality"),
        ({"box_tolerance": float("nan")}, "box_tolerance"),  # turned every outside-box check off
        ({"box_tolerance": float("inf")}, "box_tolerance"),  # clipped every box into the frame
        ({"box_tolerance": -1.0}, "box_tolerance"),  # not a number of pixels outside the frame
        ({"box_tolerance": "2"}, "box_tolerance"),  # a ValueError/TypeError from float() at best
        ({"videos": "random", "train": False}, "videos"),  # was the first video, silently
    ],
)
def test_bad_arguments_are_refused_at_once_naming_them(tiny_dataset, kwargs, field):
    with pytest.raises(ConfigError) as ei:
        MovingFashionDataset(tiny_dataset, "train", **kwargs)
    assert ei.value.where == field


def test_a_split_as_a_path_is_taken_and_a_split_file_as_the_root_is_refused_saying_so(tiny_dataset):
    from pathlib import PurePosixPath

    from schemas.errors import DataFormatError

    ds = MovingFashionDataset(tiny_dataset, PurePosixPath("train"), frames=2, seed=0)  # was an AttributeError
    assert ds.split_path == tiny_dataset / "train.json"
    with pytest.raises(DataFormatError, match="not a dataset folder") as err:
        MovingFashionDataset(tiny_dataset / "train.json", "train", frames=2)  # said "train.json/train.json"
    assert err.value.where == str(tiny_dataset / "train.json") and str(tiny_dataset) in str(err.value)


def test_good_arguments_in_other_forms_are_taken(tiny_dataset):
    from movingfashion.sampling import QualityConfig

    ds = MovingFashionDataset(
        tiny_dataset,
        "train",
        frames=2.0,
        crop_size=(32, 48),
        dtype=torch.uint8,
        quality={},
        context=-0.2,
        seed=0,
    )
    assert ds.frames == 2 and ds.crop_size == (32, 48) and ds.quality == QualityConfig()
    assert ds[0]["frames"].shape == (2, 3, 32, 48) and ds[0]["frames"].dtype == torch.uint8
    with pytest.raises(ConfigError, match="epoch"):
        ds.set_epoch(-1)


def flip_both(frames, boxes):
    """A torchvision v2 horizontal flip of the frames and their boxes together (``transforms``)."""
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    h, w = frames.shape[-2:]
    out_frames, out_boxes = v2.RandomHorizontalFlip(p=1.0)(
        tv_tensors.Video(frames), tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w))
    )
    return out_frames.as_subclass(torch.Tensor), out_boxes.as_subclass(torch.Tensor)


def test_transforms_move_frames_and_boxes_together(tiny_dataset):
    """``transform`` sees frames only (a flip there left the boxes where they were); ``transforms``
    takes both, as torchvision's detection datasets do, and a v2 pipeline flips both."""
    both = flip_both

    kw = dict(crop="frame", frames=3, seed=0, train=False)
    plain = MovingFashionDataset(tiny_dataset, "test", **kw)[0]
    flipped = MovingFashionDataset(tiny_dataset, "test", transforms=both, **kw)[0]
    w = plain["frames"].shape[-1]
    assert torch.equal(flipped["frames"], plain["frames"].flip(-1))
    x1, y1, x2, y2 = plain["boxes"].unbind(-1)
    assert torch.allclose(flipped["boxes"], torch.stack([w - x2, y1, w - x1, y2], -1))


def test_tracklet_crops_carry_their_boxes_in_crop_pixels_and_transforms_move_those(tiny_dataset):
    """With ``crop="tracklet"`` the boxes are in source pixels, the crops are not: ``crop_boxes``
    says where each box lies in its crop, and ``transforms`` gets (and flips) those, so a v2
    pipeline on the crops stays right; ``boxes`` stay the source's."""
    both = flip_both

    kw = dict(crop="tracklet", crop_size=(32, 48), frames=3, seed=0, train=False)
    tight = MovingFashionDataset(tiny_dataset, "test", **kw)[0]
    assert torch.equal(tight["crop_boxes"], torch.tensor([[0.0, 0.0, 48.0, 32.0]] * 3))  # the box is the crop
    wide = MovingFashionDataset(tiny_dataset, "test", context=0.5, **kw)[0]
    flipped = MovingFashionDataset(tiny_dataset, "test", context=0.5, transforms=both, **kw)[0]
    assert torch.equal(flipped["boxes"], wide["boxes"])  # source pixels, untouched
    assert torch.equal(flipped["frames"], wide["frames"].flip(-1))
    x1, y1, x2, y2 = wide["crop_boxes"].unbind(-1)
    assert (x1 > 0).any() and (x2 < 48).any()  # room around the box in some crop
    assert torch.allclose(flipped["crop_boxes"], torch.stack([48 - x2, y1, 48 - x1, y2], -1))
    h, w = wide["orig_size"]
    for box, crop_box in zip(wide["boxes"].tolist(), wide["crop_boxes"].tolist(), strict=True):
        xa, ya, xb, yb = crop_window(box, (h, w), 0.5)  # the window cut, mapped back: the source box
        back = [xa + crop_box[0] * (xb - xa) / 48, ya + crop_box[1] * (yb - ya) / 32]
        assert back == pytest.approx([max(box[0], 0), max(box[1], 0)], abs=1e-3)


@pytest.mark.parametrize("crop", ["frame", "tracklet"])
def test_a_torchvision_v2_pipeline_passed_as_it_is_moves_the_boxes_with_the_frames(tiny_dataset, crop):
    """A torchvision user passes ``transforms=v2.Compose([...])`` as for torchvision's detection
    datasets: it flipped the frames and, given the boxes as a plain tensor, passed them through
    unflipped. The boxes reach it as ``BoundingBoxes``, so both move; the item holds plain tensors."""
    from torchvision.transforms import v2

    key = "crop_boxes" if crop == "tracklet" else "boxes"
    kw = dict(crop=crop, crop_size=(32, 48), context=0.5, frames=3, seed=0, train=False)
    plain = MovingFashionDataset(tiny_dataset, "test", **kw)[0]
    pipeline = v2.Compose([v2.RandomHorizontalFlip(p=1.0)])
    flipped = MovingFashionDataset(tiny_dataset, "test", transforms=pipeline, **kw)[0]
    w = plain["frames"].shape[-1]
    assert torch.equal(flipped["frames"], plain["frames"].flip(-1))
    x1, y1, x2, y2 = plain[key].unbind(-1)
    assert torch.allclose(flipped[key], torch.stack([w - x2, y1, w - x1, y2], -1))
    assert type(flipped["frames"]) is torch.Tensor and type(flipped[key]) is torch.Tensor
    # a resize scales the boxes to the new size
    small = MovingFashionDataset(tiny_dataset, "test", transforms=v2.Resize((16, 24)), **kw)[0]
    assert small["frames"].shape[-2:] == (16, 24)
    sx, sy = 24 / plain["frames"].shape[-1], 16 / plain["frames"].shape[-2]
    assert torch.allclose(small[key], plain[key] * torch.tensor([sx, sy, sx, sy]), atol=1e-4)


def test_repr_shows_what_the_dataset_serves(tiny_dataset):
    """As torchvision's datasets: the class, its size, root, split and clip settings, not an address."""
    ds = MovingFashionDataset(
        tiny_dataset, "train", frames=5, crop_size=(32, 48), transform=torch.nn.Identity()
    )
    text = repr(ds)
    assert text.startswith("Dataset MovingFashionDataset\n") and " at 0x" not in text
    for part in (
        f"Number of datapoints: {len(ds)}",
        f"Root location: {tiny_dataset}",
        "Split: train.json (training, videos=random)",
        "Clip: 5 frames, sampler=rrs, crop=tracklet, crop_size=(32, 48), dtype=torch.float32",
        "transform: Identity()",
    ):
        assert part in text
    assert "Split: test.json (evaluation, videos=first)" in repr(MovingFashionDataset(tiny_dataset, "test"))


@pytest.mark.parametrize("name", ["transform", "shop_transform", "transforms"])
def test_a_transform_that_is_not_callable_is_refused_when_the_dataset_is_made(tiny_dataset, name):
    """Not at the first item, in a DataLoader worker, as "'str' object is not callable"."""
    with pytest.raises(ConfigError, match=f"{name} must be callable") as exc:
        MovingFashionDataset(tiny_dataset, "train", **{name: "RandomHorizontalFlip"})
    assert exc.value.where == name


def test_filtered_ids_names_what_the_filters_left_out_read_only(tiny_dataset, tmp_path):
    """The public record of what ``partition``/``classes`` left out (``split_errors.unusable``
    reads it to tell a filtered-empty dataset from one whose every row was skipped)."""
    from movingfashion.split_errors import unusable

    ds = MovingFashionDataset(tiny_dataset, "test", classes=["sling_dress"], partition="hard")
    assert len(ds) == 0 and ds.filtered_ids == set(json.loads((tiny_dataset / "test.json").read_text()))
    assert isinstance(ds.filtered_ids, frozenset) and not unusable(ds)
    with pytest.raises(AttributeError):
        ds.filtered_ids = frozenset()
    assert MovingFashionDataset(tiny_dataset, "test").filtered_ids == frozenset()
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "imgs/101.jpg").unlink()  # 101 skipped, the others left out by the filter: not unusable
    ds = MovingFashionDataset(root, "train", on_bad="skip", classes=["sling_dress"])
    assert len(ds) == 0 and ds.skipped and ds.filtered_ids == {"102", "ab_C"} and not unusable(ds)
    shutil.rmtree(root / "videos")  # every product skipped, the filter never reached
    ds = MovingFashionDataset(root, "train", on_bad="skip", classes=["sling_dress"])
    assert len(ds) == 0 and ds.filtered_ids == frozenset() and unusable(ds)
