from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from movingfashion.dataset import MovingFashionDataset, cache_entry
from schemas.errors import ConfigError, DataFormatError, MediaError
from tests.movingfashion.helpers import box_of, read_code


def reference_decode(path):
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return np.stack(out)
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    return (frames.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def test_whole_frames_are_exactly_the_sampled_ones(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", crop="frame", seed=3)
    for i in range(len(ds)):
        item = ds[i]
        _, vi, planned = ds.plan(i)
        idx = item["frame_indices"].tolist()
        assert idx == planned and len(idx) == 10 and item["video_index"] == vi
        assert [read_code(f) for f in to_uint8(item["frames"])] == idx
        ref = reference_decode(tiny_dataset / item["video_path"])[idx]
        assert np.abs(to_uint8(item["frames"]).astype(int) - ref.astype(int)).mean() < 3.0


def test_tracklet_crops_match_a_reference_decode(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", crop="tracklet", seed=5, crop_size=(40, 30))
    item = ds[0]
    idx = item["frame_indices"].tolist()
    assert item["product_id"] == "101" and all(5 <= f <= 54 for f in idx)  # only frames with a box
    assert item["boxes"].tolist() == [box_of(f) for f in idx]
    assert item["frames"].shape == (10, 3, 40, 30)
    ref = reference_decode(tiny_dataset / "videos/101_0.mp4")
    for crop, f in zip(to_uint8(item["frames"]), idx, strict=True):
        x1, y1, x2, y2 = box_of(f)
        expect = cv2.resize(ref[f][y1:y2, x1:x2], (30, 40), interpolation=cv2.INTER_AREA)
        assert np.abs(crop.astype(int) - expect.astype(int)).mean() < 4.0
    # the moving red box fills the crop
    assert to_uint8(item["frames"])[:, 10:30, 5:25, 0].mean() > 150


def test_item_fields(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", seed=0, shop_size=(32, 24))
    item = ds[2]
    assert item["product_id"] == "ab_C" and item["df2_class"] == 9 and item["partition"] == "hard"
    assert item["shop"].shape == (3, 32, 24)
    assert abs(float(item["shop"][1].mean()) - 200 / 255) < 0.02  # the green shop image
    assert item["video_path"] == "videos/ab_C_0.mp4"


def test_evaluation_is_deterministic_and_training_follows_seed_and_epoch(tiny_dataset):
    a = MovingFashionDataset(tiny_dataset, "test", seed=1)
    b = MovingFashionDataset(tiny_dataset, "test", seed=2)
    assert not a.train
    plans = [a.plan(0)[2] for _ in range(3)] + [b.plan(0)[2]]
    assert all(p == plans[0] for p in plans) and a.plan(0)[1] == 0  # fixed first video in eval
    tr = MovingFashionDataset(tiny_dataset, "train", seed=7)
    tr2 = MovingFashionDataset(tiny_dataset, "train", seed=7)
    assert tr.plan(0)[2] == tr2.plan(0)[2]
    first = tr.plan(0)[2]
    tr.set_epoch(1)
    assert tr.plan(0)[2] != first
    assert tr.plan(0)[2] != tr.plan(0 + len(tr))[2]  # PK repeats of one item differ
    # random video choice in training reaches both videos of product 102
    seen = set()
    for e in range(12):
        tr.set_epoch(e)
        seen.add(tr.plan(1)[1])
    assert seen == {0, 1}


def test_videos_all_partition_and_class_filters(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", videos="all", seed=0)
    assert ds.product_ids == ["101", "102", "102", "ab_C"]
    assert [ds.plan(i)[1] for i in range(4)] == [0, 0, 1, 0]
    assert MovingFashionDataset(tiny_dataset, "train", partition="hard").product_ids == ["ab_C"]
    assert MovingFashionDataset(tiny_dataset, "train", classes=["trousers", 1]).product_ids == ["101", "102"]
    with pytest.raises(ConfigError, match="unknown DeepFashion2 class"):
        MovingFashionDataset(tiny_dataset, "train", classes=[14])


@pytest.mark.parametrize("bad", [[True], [1.0], [8.5], True, [None]])
def test_class_filter_refuses_bools_and_fractions_not_reading_them_as_ids(tiny_dataset, bad):
    with pytest.raises(ConfigError, match="a class is an id 1..13 or a name, got") as exc:
        MovingFashionDataset(tiny_dataset, "train", classes=bad)
    assert exc.value.where == "classes"


def test_class_filter_takes_numpy_whole_numbers(tiny_dataset):
    import numpy as np

    ds = MovingFashionDataset(tiny_dataset, "train", classes=[np.int64(8)])
    assert ds.product_ids == MovingFashionDataset(tiny_dataset, "train", classes=[8]).product_ids


def test_class_filter_takes_deepfashion2s_own_names(tiny_dataset):
    """The names DeepFashion2's annotation files write (``category_name``), in any case, pick the
    same classes as the toolkit's; an unknown name's hint lists the names."""
    ours = MovingFashionDataset(tiny_dataset, "train", classes=["trousers", "short_sleeved_shirt", "skirt"])
    theirs = MovingFashionDataset(tiny_dataset, "train", classes=["Trousers", "short sleeve top", "SKIRT"])
    assert theirs.product_ids == ours.product_ids == ["101", "102", "ab_C"]
    with pytest.raises(ConfigError, match="unknown DeepFashion2 class 'long sleeve shirts'") as exc:
        MovingFashionDataset(tiny_dataset, "train", classes=["long sleeve shirts"])
    assert "long_sleeved_shirt" in exc.value.hint


def test_salient_sampler_uses_richer_tracklet_scores(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "test", sampler="salient", frames=3)
    sal = MovingFashionDataset(tiny_dataset, "train", sampler="salient", frames=3, train=False)
    idx = sal.plan(0)[2]  # product 101: 50 boxed frames 5..54 in 3 chunks, score peaks at frame 30
    # chunks: 5..20, 21..37, 38..54 -> best frames are the ones nearest to 30
    assert idx == [20, 30, 38]
    # product 102 has no richer file and equal boxes: all frames tie, RRS's chunk centres win
    rrs = MovingFashionDataset(tiny_dataset, "test", frames=3)
    assert ds.plan(0)[2] == rrs.plan(0)[2] == [6, 19, 33]


def test_dataloader_with_workers_pk_and_collate(tiny_dataset):
    from movingfashion.batching import PKSampler, collate_clips

    ds = MovingFashionDataset(tiny_dataset, "train", frames=4, crop_size=32, shop_size=32, seed=0)
    _ = ds[0], ds[1]  # the parent opens decord readers first: forked workers must not hang on them
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=4,
        sampler=PKSampler(ds, p=2, k=2, seed=0),
        num_workers=2,
        collate_fn=collate_clips,
        timeout=60,
    )
    batches = list(loader)
    assert len(batches) == 1
    b = batches[0]
    assert b["frames"].shape == (4, 4, 3, 32, 32) and b["mask"].all()
    assert b["product_id"][0] == b["product_id"][1] and b["product_id"][2] == b["product_id"][3]
    for j in range(4):  # every decoded clip is the planned one, also inside workers
        assert b["frame_indices"][j].tolist() == ds.plan(int(b["draw"][j]))[2]
        assert ds.product_ids[int(b["index"][j])] == b["product_id"][j]


# ---------------------------------------------------------------------------- bad rows
def _copy(tiny_dataset, tmp_path, edit):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    data = json.loads((root / "train.json").read_text())
    edit(root, data)
    (root / "train.json").write_text(json.dumps(data))
    return root


def test_missing_video(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: (r / "videos/102_1.mp4").unlink())
    with pytest.raises(MediaError, match=r"product '102': video not found: videos/102_1.mp4"):
        MovingFashionDataset(root, "train")
    ds = MovingFashionDataset(root, "train", on_bad="skip", videos="all")
    assert ds.product_ids == ["101", "102", "ab_C"] and len(ds.skipped) == 1


def test_missing_shop_image(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: (r / "imgs/101.jpg").unlink())
    with pytest.raises(MediaError, match=r"product '101': shop image not found") as exc:
        MovingFashionDataset(root, "train")
    assert "imgs/101.jpg" in str(exc.value) and "on_bad='skip'" in str(exc.value)
    assert MovingFashionDataset(root, "train", on_bad="skip").product_ids == ["102", "ab_C"]


def _folder_at(path):
    path.unlink()
    path.mkdir()


def test_a_folder_where_the_video_should_be_is_named_a_folder_not_missing(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: _folder_at(r / "videos/102_1.mp4"))
    with pytest.raises(
        MediaError, match=r"product '102': .*videos/102_1.mp4.* is a folder, not a video file"
    ) as exc:
        MovingFashionDataset(root, "train")  # was "video not found", with the folder right there
    assert exc.value.where == str(root / "videos/102_1.mp4")
    ds = MovingFashionDataset(root, "train", on_bad="skip", videos="all")
    assert [why for _, why in ds.skipped] == [
        f"{root / 'videos/102_1.mp4'}: video_paths[1] 'videos/102_1.mp4' is a folder, not a video file"
    ]


def test_a_folder_where_the_shop_image_should_be_is_named_a_folder_not_missing(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: _folder_at(r / "imgs/101.jpg"))
    with pytest.raises(
        MediaError, match=r"product '101': .*imgs/101.jpg.* is a folder, not an image file"
    ) as exc:
        MovingFashionDataset(root, "train")
    assert exc.value.where == str(root / "imgs/101.jpg")


def test_empty_tracklet(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path, lambda r, d: d["ab_C"]["tracklets"][0].clear())
    with pytest.raises(DataFormatError, match=r"product 'ab_C': empty tracklet"):
        MovingFashionDataset(root, "train")
    assert MovingFashionDataset(root, "train", on_bad="skip").product_ids == ["101", "102"]
    assert "ab_C" in MovingFashionDataset(root, "train", crop="frame").product_ids  # frames need no box


def test_unknown_class(tiny_dataset, tmp_path):
    def edit(r, d):
        rows = [json.loads(x) for x in (r / "entries.jsonl").read_text().splitlines()]
        rows[1]["df2_class"] = 14
        (r / "entries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))

    root = _copy(tiny_dataset, tmp_path, edit)
    with pytest.raises(DataFormatError, match=r"product '102': unknown DeepFashion2 class 14") as exc:
        MovingFashionDataset(root, "train")
    assert "entries.jsonl" in str(exc.value)
    assert MovingFashionDataset(root, "train", on_bad="skip").product_ids == ["101", "ab_C"]


def test_box_outside_frame_known_from_richer_file(tiny_dataset, tmp_path):
    root = _copy(
        tiny_dataset, tmp_path, lambda r, d: d["101"]["tracklets"][0].update({"30": [100, 40, 300, 80]})
    )
    with pytest.raises(DataFormatError, match=r"frame 30: box \[100, 40, 300, 80\] outside the 128x96 frame"):
        MovingFashionDataset(root, "train")
    ds = MovingFashionDataset(root, "train", on_bad="skip", frames=50, sampler="all")
    assert 30 not in ds.plan(0)[2] and len(ds.plan(0)[2]) == 49


def test_box_outside_frame_found_at_decode_time(tiny_dataset, tmp_path):
    # product 'ab_C' has no richer tracklet file: the frame size is only known once decoded
    root = _copy(
        tiny_dataset, tmp_path, lambda r, d: d["ab_C"]["tracklets"][0].update({"7": [0, 0, 20, 500]})
    )
    ds = MovingFashionDataset(root, "train", sampler="all")
    with pytest.raises(DataFormatError, match=r"ab_C.*frame 7: box .* outside the 128x96 frame"):
        ds[2]
    ds = MovingFashionDataset(root, "train", sampler="all", on_bad="skip")
    item = ds[2]
    assert 7 not in item["frame_indices"].tolist() and len(item["frame_indices"]) == 44
    assert [
        read_code(f)
        for f in to_uint8(
            MovingFashionDataset(root, "train", crop="frame", sampler="all", on_bad="skip")[2]["frames"]
        )
    ][:3] == [0, 1, 2]
    assert any("frame 7" in why for _, why in ds.skipped)


@pytest.mark.parametrize("box", [[400, 10, 500, 20], [10, 300, 20, 400], [200, 200, 300, 300]])
def test_a_box_wholly_outside_the_frame_found_at_decode_time(tiny_dataset, tmp_path, box):
    """Nothing of the box is in the 128x96 frame: its crop was empty and OpenCV's resize
    asserted (a raw cv2.error, with on_bad="skip" too) before the boxes were checked."""
    root = _copy(tiny_dataset, tmp_path, lambda r, d: d["ab_C"]["tracklets"][0].update({"7": box}))
    with pytest.raises(DataFormatError, match=r"ab_C.*frame 7: box .* outside the 128x96 frame"):
        MovingFashionDataset(root, "train", sampler="all")[2]
    ds = MovingFashionDataset(root, "train", sampler="all", on_bad="skip")
    item = ds[2]
    assert 7 not in item["frame_indices"].tolist() and item["product_id"] == "ab_C"
    assert any("frame 7" in why for _, why in ds.skipped)


def test_slightly_outside_box_is_clipped(tiny_dataset, tmp_path):
    root = _copy(
        tiny_dataset, tmp_path, lambda r, d: d["101"]["tracklets"][0].update({"30": [-1, 40, 129, 80]})
    )
    ds = MovingFashionDataset(root, "train", frames=50, sampler="all")
    pos = ds.plan(0)[2].index(30)
    assert ds[0]["boxes"][pos].tolist() == [0, 40, 128, 80]


def test_crop_cache_serves_the_same_crops_from_a_fixed_pool(tiny_dataset, tmp_path):
    from movingfashion.dataset import build_crop_cache

    plain = MovingFashionDataset(tiny_dataset, "train", seed=2, crop_size=32, frames=4)
    assert build_crop_cache(plain, tmp_path / "cc", pool=8) == {"built": 4, "already_cached": 0, "failed": 0}
    assert build_crop_cache(plain, tmp_path / "cc", pool=8) == {"built": 0, "already_cached": 4, "failed": 0}
    meta = json.loads(cache_entry(tmp_path / "cc", "videos/101_0.mp4")[1].read_text())
    assert meta["frames"] == [8, 14, 20, 26, 33, 39, 45, 51]  # chunk centres of the 50 boxed frames
    cached = MovingFashionDataset(
        tiny_dataset, "train", seed=2, crop_size=32, frames=4, crop_cache=tmp_path / "cc"
    )
    item = cached[0]
    idx = item["frame_indices"].tolist()
    assert set(idx) <= set(meta["frames"]) and idx == cached.plan(0)[2]
    assert item["boxes"].tolist() == [box_of(f) for f in idx]
    # identical to decoding those frames from the video
    ref = plain._crops(plain._decode(plain.products[0].videos[0], idx), item["boxes"].numpy())
    assert np.array_equal(to_uint8(item["frames"]), ref)
    with pytest.raises(ConfigError, match="crop cache built with") as exc:
        MovingFashionDataset(tiny_dataset, "train", crop_size=64, crop_cache=tmp_path / "cc")[0]
    assert "mf crop-cache --out NEW_FOLDER" in str(exc.value)  # the command, not only the function


def test_full_crop_cache_gives_the_items_decoding_gives(tiny_dataset, tmp_path, monkeypatch):
    """pool=None: every boxed frame cached (built in small chunks); items equal the decoded ones."""
    from movingfashion import crop_cache_build
    from movingfashion.dataset import build_crop_cache

    monkeypatch.setattr(crop_cache_build, "CACHE_DECODE_CHUNK", 7)
    plain = MovingFashionDataset(tiny_dataset, "train", seed=5, crop_size=32, frames=6)
    assert build_crop_cache(plain, tmp_path / "cc", pool=None)["built"] == 4
    meta = json.loads(cache_entry(tmp_path / "cc", "videos/101_0.mp4")[1].read_text())
    assert meta["frames"] == sorted(plain.products[0].videos[0].boxes)
    cached = MovingFashionDataset(
        tiny_dataset, "train", seed=5, crop_size=32, frames=6, crop_cache=tmp_path / "cc"
    )
    for i in range(len(plain)):
        a, b = plain[i], cached[i]
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["boxes"], b["boxes"])


def test_default_backend_gives_the_items_decord_gives(tiny_dataset):
    a = MovingFashionDataset(tiny_dataset, "train", seed=3, crop_size=32, frames=5, backend="decord")
    b = MovingFashionDataset(tiny_dataset, "train", seed=3, crop_size=32, frames=5)
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x["frame_indices"].tolist() == y["frame_indices"].tolist() and torch.equal(
            x["frames"], y["frames"]
        )
    import av

    from movingfashion.media.readers import torchcodec_problem

    path = b.products[0].videos[0].path
    with av.open(str(path)) as c:
        bframes = bool(c.streams.video[0].codec_context.has_b_frames)
    # clips are sparse access: PyAV (it skips non-reference frames), torchcodec when there are none
    first = "torchcodec" if torchcodec_problem() is None and not bframes else "pyav"
    assert b.cache.get(path).backend == first


def test_uint8_output_equals_float_output(tiny_dataset):
    f = MovingFashionDataset(tiny_dataset, "test", crop_size=24, shop_size=24)[0]
    u = MovingFashionDataset(tiny_dataset, "test", crop_size=24, shop_size=24, dtype=torch.uint8)[0]
    assert u["frames"].dtype == torch.uint8 and u["frames"].is_contiguous() and f["frames"].is_contiguous()
    assert torch.equal(u["frames"].float() / 255, f["frames"]) and torch.equal(
        u["shop"].float() / 255, f["shop"]
    )


def test_split_given_as_a_json_path(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, str(tiny_dataset / "test.json"))
    assert ds.product_ids == ["102"] and not ds.train and ds[0]["video_path"] == "videos/102_0.mp4"
    # a split name the folder lacks: the folder and its splits are named (it said "file not
    # found (pass the dataset root or a split JSON)", which the user had done)
    with pytest.raises(DataFormatError, match=r"no split 'validation' \(its splits: train, test\)"):
        MovingFashionDataset(tiny_dataset, "validation")
    with pytest.raises(DataFormatError, match="file not found"):  # a JSON path: as before
        MovingFashionDataset(tiny_dataset, str(tiny_dataset / "validation.json"))


def test_crop_cache_cli_builds_a_full_cache_and_skips_on_rerun(tiny_dataset, tmp_path):
    from click.testing import CliRunner

    from movingfashion.app.cli import cli

    out = tmp_path / "cc"
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "crop-cache",
            "--dataset",
            str(tiny_dataset),
            "--split",
            "train",
            "--out",
            str(out),
            "--crop-size",
            "32",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["built"] == 4 and json.loads(res.output)["pool"] is None
    # the old positional spelling of --dataset still works, with a deprecation warning
    legacy = runner.invoke(
        cli, ["crop-cache", str(tiny_dataset), "--out", str(out), "--crop-size", "32", "--json"]
    )
    assert legacy.exit_code == 0 and "use --dataset instead" in legacy.stderr, legacy.output
    again = json.loads(legacy.stdout)
    assert again["built"] == 0 and again["already_cached"] == 4
    plain = MovingFashionDataset(tiny_dataset, "train", seed=1, crop_size=32, frames=3)
    cached = MovingFashionDataset(tiny_dataset, "train", seed=1, crop_size=32, frames=3, crop_cache=out)
    assert torch.equal(plain[2]["frames"], cached[2]["frames"])
    assert "Example" in runner.invoke(cli, ["crop-cache", "--help"]).output
    with pytest.raises(ConfigError, match="unknown video backend"):
        MovingFashionDataset(tiny_dataset, "train", backend="gpu")


def test_large_whole_frames_without_frame_size_are_said_once(tiny_dataset, monkeypatch, caplog):
    """crop="frame" returns frames as decoded; past LARGE_FRAME_PIXELS (Full HD) one warning
    names the video, the item's size and frame_size; with frame_size nothing is said."""
    import logging

    import movingfashion.dataset as dataset_module

    monkeypatch.setattr(dataset_module, "LARGE_FRAME_PIXELS", 10)  # the tiny videos count as large
    ds = MovingFashionDataset(tiny_dataset, "train", crop="frame", seed=3)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds[0]
        ds[1]
    said = [r.getMessage() for r in caplog.records if "frame_size=(h, w)" in r.getMessage()]
    assert len(said) == 1 and "MB per item" in said[0] and ".mp4" in said[0], said
    caplog.clear()
    sized = MovingFashionDataset(tiny_dataset, "train", crop="frame", seed=3, frame_size=(32, 32))
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        sized[0]
    assert not [r for r in caplog.records if "frame_size=(h, w)" in r.getMessage()]


def test_tracklet_crops_are_the_bytes_of_cropping_whole_frames(tiny_dataset, monkeypatch):
    """The live path converts only each crop's window to RGB (PyAV, 4:2:0, large frames): the
    item's crops are byte for byte those cut from the whole decoded frames, odd window edges
    included."""
    from movingfashion.media import readers
    from movingfashion.media.readers import PyAVReader, decode

    windows = []
    real = PyAVReader._window_rgb

    def counting(self, frame, win):
        windows.append(win)
        return real(self, frame, win)

    monkeypatch.setattr(PyAVReader, "_window_rgb", counting)
    monkeypatch.setattr(readers, "WINDOW_MIN_SAVED", 0)  # as on a large frame
    kw = dict(crop="tracklet", crop_size=(40, 30), context=0.3, frames=6, seed=5, dtype=torch.uint8)
    ds = MovingFashionDataset(tiny_dataset, "train", **kw)
    for i in range(3):
        item = ds[i]
        rec, vi, idx = ds.plan(i)
        video = rec.videos[vi]
        whole = decode(PyAVReader(str(video.path)), idx, as_list=True)
        ref = ds._crops(whole, video.boxes.rows(idx), planar=True)
        assert np.array_equal(item["frames"].numpy(), ref)
        assert item["orig_size"] == whole[0].shape[:2]
    assert windows and any(x % 2 for win in windows for x in win)  # windows converted, odd edges too
