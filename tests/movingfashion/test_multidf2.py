"""Multi-DeepFashion2: shop item + user images of the same pair and style, as MovingFashion items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movingfashion.multidf2 import MultiDeepFashion2Dataset, build_multidf2
from schemas.errors import ConfigError


def test_multidf2_sequences_group_pair_and_style(df2_root):
    seqs = {s["id"]: s for s in build_multidf2(df2_root, "validation")}
    assert set(seqs) == {"1_1", "1_2", "2_1"}
    assert [f["image"] for f in seqs["1_1"]["frames"]] == [
        f"validation/image/00000{i}.jpg" for i in (2, 3, 4)
    ]
    assert seqs["1_2"]["df2_class"] == 9 and len(seqs["1_2"]["frames"]) == 1
    assert len(seqs["2_1"]["frames"]) == 12  # the style-0 image 000019 is not a positive
    assert seqs["2_1"]["shop"] == {"image": "validation/image/000006.jpg", "box": [0, 0, 50, 50]}


def _colour(img_t):  # uniform test images: value = (num * 13) % 256
    return int(round(float(img_t.mean()) * 255))


def test_multidf2_dataset_items(df2_root):
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=5, seed=0, crop_size=16, shop_size=16)
    assert ds.product_ids == ["1_1", "1_2", "2_1"] and not ds.train
    item = ds[0]  # 3 user images, 5 frames: all three, repeated evenly
    idx = item["frame_indices"].tolist()
    assert idx == [0, 0, 1, 1, 2]
    assert [_colour(f) for f in item["frames"]] == [((i + 2) * 13) % 256 for i in idx]
    assert item["frames"].shape == (5, 3, 16, 16) and _colour(item["shop"]) == 13
    assert item["df2_class"] == 8 and item["partition"] == "multidf2"
    assert ds[0]["frame_indices"].tolist() == idx  # evaluation: same repeats every time
    long = ds[2]["frame_indices"].tolist()
    assert long == [1, 3, 5, 8, 10]  # 12 images, chunks 0-1,2-3,4-6,7-8,9-11: centres
    tr = MultiDeepFashion2Dataset(df2_root, "validation", frames=5, seed=0, train=True)
    draws = {tuple(tr.plan(2))}
    for e in range(1, 8):
        tr.set_epoch(e)
        draws.add(tuple(tr.plan(2)))
    assert len(draws) > 1 and all(len(d) == 5 and list(d) == sorted(set(d)) for d in draws)


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("sampler", ["rrs", "uniform", "salient"])
def test_a_short_sequence_repeats_its_images_evenly_as_a_short_video_does(df2_root, train, sampler):
    """With fewer user images than frames, Multi-DF2 repeated images drawn at random (the same
    image three times, another once) where MovingFashionDataset's samplers repeat a short
    video's frames evenly, in order: both now take the samplers' one rule."""
    from movingfashion.sampling import get_sampler

    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=7, seed=0, sampler=sampler, train=train)
    for epoch in range(3):  # "1_1": 3 user images; the same even repeats in every epoch
        ds.set_epoch(epoch)
        assert ds.plan(0) == get_sampler(sampler)(range(3), 7) == [0, 0, 0, 1, 1, 2, 2]


def test_multidf2_whole_images_scale_boxes(df2_root):
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=1, crop="frame", frame_size=(50, 60))
    item = ds[1]  # 000005, 105 x 120, box [5, 5, 40, 30]
    assert item["frames"].shape == (1, 3, 50, 60)
    assert np.allclose(item["boxes"][0].numpy(), [2.5, 5 * 50 / 105, 20, 30 * 50 / 105], atol=1e-4)


def test_multidf2_items_batch_with_movingfashion_items(df2_root, tiny_dataset):
    from movingfashion.batching import collate_clips
    from movingfashion.dataset import MovingFashionDataset

    kw = {"frames": 4, "seed": 0, "crop_size": 16, "shop_size": 16}
    m = MultiDeepFashion2Dataset(df2_root, "validation", dtype=torch.uint8, **kw)
    f = MovingFashionDataset(tiny_dataset, "train", dtype=torch.uint8, **kw)
    item = m[0]
    assert item["frames"].dtype == torch.uint8 and item["shop"].dtype == torch.uint8
    assert _colour(item["shop"].float() / 255) == 13  # the same pixels as the float item
    assert item["orig_size"] == tuple(m._load(m.sequences[0]["frames"][0]["image"], None)[1])
    for batch in (collate_clips([f[0], m[0]]), collate_clips([m[0], f[0]])):
        assert batch["frames"].shape == (2, 4, 3, 16, 16) and len(batch["orig_size"]) == 2
        assert sorted(map(str, batch["image_paths"])).count("None") == 1


def test_an_index_loads_only_under_the_split_it_was_built_for(df2_root, tmp_path):
    import json

    import pytest

    from movingfashion.multidf2 import write_multidf2
    from schemas.errors import DataFormatError

    index = tmp_path / "m.json"
    write_multidf2(df2_root, "validation", index)
    assert len(MultiDeepFashion2Dataset(df2_root, "validation", index=index)) == 3
    with pytest.raises(DataFormatError, match="built for split 'validation'.*asked for split 'train'") as err:
        MultiDeepFashion2Dataset(df2_root, "train", index=index)
    assert str(index) in str(err.value) and "--split train" in (err.value.hint or "")
    index.write_text(json.dumps([1, 2]))
    with pytest.raises(DataFormatError, match="not a Multi-DeepFashion2 index"):
        MultiDeepFashion2Dataset(df2_root, "validation", index=index)


def _exif_rotated_df2(root):
    """Two JPEGs stored 200 wide x 100 high, tagged "rotate 90 to display", a red item at the
    annotated box (in stored pixels, as DeepFashion2 and its annotation tool draw them)."""
    import json

    from PIL import Image

    for sub in ("annos", "image"):
        (root / "validation" / sub).mkdir(parents=True)
    box = [150, 10, 190, 40]
    for n, source in ((1, "shop"), (2, "user")):
        a = np.zeros((100, 200, 3), np.uint8)
        a[box[1] : box[3], box[0] : box[2]] = (255, 0, 0)
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(a).save(root / f"validation/image/{n:06d}.jpg", exif=exif, quality=95)
        item = {"category_id": 1, "style": 1, "bounding_box": box, "landmarks": [], "segmentation": []}
        (root / f"validation/annos/{n:06d}.json").write_text(
            json.dumps({"source": source, "pair_id": 1, "item1": item})
        )
    return root


def test_exif_rotated_images_are_cropped_in_stored_pixels_like_coco_and_yolo(tmp_path):
    from movingfashion.deepfashion2 import to_coco
    from movingfashion.media.images import image_size, read_image

    root = _exif_rotated_df2(tmp_path / "df2")
    coco = to_coco(root, "validation")
    assert (coco["images"][1]["width"], coco["images"][1]["height"]) == (200, 100)
    assert image_size(root / "validation/image/000002.jpg") == (200, 100)
    assert read_image(root / "validation/image/000002.jpg", orientation="stored").shape[:2] == (100, 200)
    ds = MultiDeepFashion2Dataset(
        root, "validation", frames=1, crop_size=16, shop_size=16, shop_crop=True, seed=0
    )
    item = ds[0]
    for crop in (item["frames"][0], item["shop"]):
        r, g, b = (float(crop[c].mean()) for c in range(3))
        assert r > 0.9 and g < 0.1 and b < 0.1  # the red item, not a corner of the rotated picture


def test_a_box_outside_its_image_names_the_file_and_the_box(df2_root):
    import pytest

    from schemas.errors import DataFormatError

    seqs = build_multidf2(df2_root, "validation")
    seqs = seqs[1:2]  # "1_2": one user image, 000005 (120 x 105)
    seqs[0]["frames"][0]["box"] = [500, 10, 520, 40]
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=1, index=seqs, seed=0, crop_size=16)
    with pytest.raises(
        DataFormatError, match=r"000005\.jpg: box \[500, 10, 520, 40\] lies outside the 120x105"
    ):
        ds[0]


def test_multidf2_negative_indices_count_from_the_end(df2_root):
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=5, seed=0, crop_size=16, shop_size=16)
    last = ds[-1]
    ref = ds[len(ds) - 1]
    assert last["index"] == len(ds) - 1 and last["product_id"] == "2_1"
    assert last["frame_indices"].tolist() == ref["frame_indices"].tolist() == ds.plan(-1)
    assert torch.equal(last["frames"], ref["frames"])
    assert ds[-len(ds)]["product_id"] == "1_1"
    with pytest.raises(IndexError):
        ds[-len(ds) - 1]


def test_multidf2_classes_by_name_or_id_and_unknown_ones_refused(df2_root):
    def ids(classes):
        return MultiDeepFashion2Dataset(df2_root, "validation", classes=classes).product_ids

    assert ids(["trousers"]) == ids([8]) == ids(["8"]) == ["1_1"]
    assert ids(["vest", 9]) == ["1_2", "2_1"]
    for bad in ([99], ["long_sleeved_shirts"], [0]):
        with pytest.raises(ConfigError, match="unknown DeepFashion2 class") as exc:
            ids(bad)
        assert exc.value.where == "classes"


def test_multidf2_evaluation_without_seed_is_the_same_in_every_dataset_object(df2_root):
    # "1_1": 3 user images, 30 frames -> 27 repeats; no seed given
    plans = {tuple(MultiDeepFashion2Dataset(df2_root, "validation", frames=30).plan(0)) for _ in range(4)}
    assert len(plans) == 1
    from movingfashion.multidf2 import EVAL_SEED

    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=30)
    assert ds.seed == EVAL_SEED
    assert ds.plan(0) == MultiDeepFashion2Dataset(df2_root, "validation", frames=30, seed=EVAL_SEED).plan(0)


def test_an_index_takes_a_world_folder_and_refuses_a_root_without_its_images(df2_root, tmp_path):
    """``mf df2 multidf2 --df2 world`` reads the world's df2/, but ``MultiDeepFashion2Dataset(
    "world", ..., index=...)`` (the load its --help shows) looked for world/validation/image/...:
    made without a word, every item then failed "image file not found". Another root, the same."""
    import shutil

    from movingfashion.multidf2 import write_multidf2
    from schemas.errors import DataFormatError

    world = tmp_path / "world"
    shutil.copytree(df2_root, world / "df2")
    index = tmp_path / "m.json"
    write_multidf2(world / "df2", "validation", index)
    ds = MultiDeepFashion2Dataset(world, "validation", index=index)  # as the command takes it
    assert ds.root == world / "df2" and ds[0]["frames"].shape[0] == ds.frames
    assert len(MultiDeepFashion2Dataset(world, "validation")) == len(ds)  # built from df2/ too
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    with pytest.raises(DataFormatError, match="the index's images are not in this DeepFashion2 root") as err:
        MultiDeepFashion2Dataset(elsewhere, "validation", index=index)
    assert err.value.where == str(elsewhere) and str(index) in (err.value.hint or "")


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"frames": "3"}, "frames"),  # was a TypeError comparing str and int
        ({"frames": 2.5}, "frames"),  # was read as 2
        ({"seed": -1}, "seed"),  # was numpy's ValueError in the first item
        ({"transform": 5}, "transform"),  # was "'int' object is not callable" in the first item
        ({"shop_transform": "flip"}, "shop_transform"),
        ({"dtype": torch.int32}, "dtype"),  # was a cast error in the first item
    ],
)
def test_multidf2_arguments_are_checked_when_made_as_movingfashion_checks_them(df2_root, kw, field):
    with pytest.raises(ConfigError) as err:
        MultiDeepFashion2Dataset(df2_root, "validation", **kw)
    assert err.value.where == field


def test_multidf2_repr_indices_empty_dataset_and_epoch_are_checked_as_movingfashion_checks_them(df2_root):
    """repr() was ``<... object at 0x...>``; ``ds[1.0]`` read item 1; indexing a dataset whose
    classes keep no sequence was a ZeroDivisionError; ``set_epoch(-1)`` was numpy's ValueError
    in the next training item."""
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=5, seed=0, crop_size=16)
    text = repr(ds)
    assert "Number of datapoints: 3" in text and str(ds.root) in text
    assert "validation (evaluation)" in text and "5 frames, sampler=rrs" in text
    for bad in (1.0, slice(0, 2), torch.tensor(1.5)):
        with pytest.raises(TypeError, match="dataset indices are integers"):
            ds[bad]
    assert ds[np.int64(1)]["index"] == ds[torch.tensor(1)]["index"] == 1
    with pytest.raises(ConfigError) as err:
        ds.set_epoch(-1)
    assert err.value.where == "epoch"
    empty = MultiDeepFashion2Dataset(df2_root, "validation", classes=["sling"])
    assert len(empty) == 0
    with pytest.raises(IndexError, match="the dataset is empty"):
        empty[0]
