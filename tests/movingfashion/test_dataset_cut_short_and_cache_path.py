"""What the loader says about inputs that are not there or not whole: a crop cache folder that
does not exist (refused) or lacks entries (one warning); a video cut short (named as truncated,
not as a tracklet past its end, and skipped once); a product without tracklets (listed once,
with what to do)."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry
from schemas.errors import ConfigError, MediaError

KW = {"seed": 1, "crop_size": 32, "frames": 6, "dtype": torch.uint8}


# -------------------------------------------------------------------- crop cache folder
def test_a_crop_cache_folder_that_does_not_exist_is_refused_naming_it(tiny_dataset, tmp_path):
    typo = tmp_path / "cache" / "trian"
    with pytest.raises(ConfigError) as err:
        MovingFashionDataset(tiny_dataset, "train", crop_cache=typo, **KW)
    assert str(typo) in str(err.value) and "mf crop-cache" in str(err.value)
    assert not typo.exists()


def test_missing_crop_cache_entries_give_one_warning_with_count_and_example(tiny_dataset, tmp_path, caplog):
    cache = tmp_path / "cc"
    build_crop_cache(MovingFashionDataset(tiny_dataset, "train", **KW), cache, pool=8)
    for f in cache_entry(cache, "videos/102_1.mp4"):
        f.unlink()
    for f in cache_entry(cache, "videos/ab_C_0.mp4"):
        f.unlink()
    with caplog.at_level(logging.INFO, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, videos="all", **KW)
        for i in range(len(ds)):
            ds[i]
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1, warned
    assert "2 of 4 videos have no crop cache entry" in warned[0] and "videos/102_1.mp4" in warned[0]
    assert str(cache) in warned[0] and "mf crop-cache" in warned[0]


def test_a_crop_cache_of_the_other_split_is_named_so_and_not_offered_as_this_splits_folder(
    tiny_dataset, tmp_path, caplog
):
    root = tmp_path / "ds"  # products split as a real dataset's: each in one split
    shutil.copytree(tiny_dataset, root)
    train = json.loads((root / "train.json").read_text())
    (root / "test.json").write_text(json.dumps({"ab_C": train.pop("ab_C")}))
    (root / "train.json").write_text(json.dumps(train))
    cache = tmp_path / "cache" / "test"
    build_crop_cache(MovingFashionDataset(root, "test", **KW), cache, pool=8)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        MovingFashionDataset(root, "train", crop_cache=cache, **KW)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1, warned
    assert str(cache) in warned[0] and "crop cache of another split" in warned[0] and "test.json" in warned[0]
    assert f"--out {cache}" not in warned[0] and "--split train --out OTHER_FOLDER" in warned[0]


def test_a_crop_cache_not_built_yet_still_offers_its_folder(tiny_dataset, tmp_path, caplog):
    cache = tmp_path / "cache" / "train"
    cache.mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "another split" not in warned[0], warned
    assert f"--split train --out {cache}" in warned[0]


def test_a_complete_crop_cache_warns_nothing(tiny_dataset, tmp_path, caplog):
    cache = tmp_path / "cc"
    build_crop_cache(MovingFashionDataset(tiny_dataset, "train", **KW), cache, pool=8)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        MovingFashionDataset(tiny_dataset, "train", crop_cache=cache, **KW)[0]
    assert not caplog.records


# -------------------------------------------------------------------- a video cut short
def _cut(root, name, *, last_decodes):
    """Cut a video's bytes short, as a cut-off copy leaves it: at the first length (from 20% of
    the file up) where it still opens and its last frame decodes, or does not; returns its frames."""
    from movingfashion.media.readers import decode, open_reader

    video = root / "videos" / f"{name}.mp4"
    data = video.read_bytes()
    for pct in range(20, 100, 2):
        video.write_bytes(data[: len(data) * pct // 100])
        try:
            reader = open_reader(video)
        except MediaError:
            continue
        n = len(reader)
        try:
            decode(reader, [n - 1])
            ok = True
        except MediaError:
            ok = False
        finally:
            reader.close()
        if ok == last_decodes:
            return n
    raise AssertionError(f"no cut of {video} that opens with its last frame decoding={last_decodes}")


@pytest.fixture
def cut_short(tiny_dataset, tmp_path):
    """``tiny_dataset`` with 101's only video (60 frames, boxed 5..54) cut short: it opens, its
    last frame does not decode (the auditor's case: a truncated copy)."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    _cut(root, "101_0", last_decodes=False)
    return root


def test_a_truncated_video_is_named_as_such_not_as_a_tracklet_past_its_end(cut_short):
    ds = MovingFashionDataset(cut_short, "train", **KW)
    with pytest.raises(MediaError) as err:
        ds[ds.product_ids.index("101")]
    text = str(err.value)
    assert "product '101'" in text and "videos/101_0.mp4" in text and "truncated or damaged" in text
    assert "re-download or re-encode" in text and "past the video's last frame" not in text
    strict = MovingFashionDataset(cut_short, "train", **KW)
    with pytest.raises(MediaError, match="truncated or damaged"):
        strict.check()


def test_a_truncated_video_is_skipped_once_not_once_per_boxed_frame(cut_short):
    ds = MovingFashionDataset(cut_short, "train", on_bad="skip", **KW)
    for _ in range(3):
        for i in range(len(ds)):
            assert ds[i]["product_id"] != "101"
    mine = [why for pid, why in ds.skipped if pid == "101"]
    assert len(mine) == 1 and "truncated or damaged" in mine[0], mine  # was one per boxed frame
    ds.check()  # the same video met again: not listed again (its product, dropped now, is)
    mine = [why for pid, why in ds.skipped if pid == "101"]
    assert len([m for m in mine if "truncated or damaged" in m]) == 1 and len(mine) == 2, mine


def test_a_video_holding_fewer_frames_than_its_header_declares_is_truncated(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    n = _cut(root, "101_0", last_decodes=True)  # whole frames, but not all 60
    assert n < 52
    ds = MovingFashionDataset(root, "train", **KW)
    with pytest.raises(
        MediaError, match=f"truncated or damaged: it holds {n} frames, while its header declares 60"
    ):
        ds.check()


def test_a_few_boxes_past_the_end_of_a_whole_video_still_blame_the_tracklet(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    data = json.loads((root / "train.json").read_text())
    data["101"]["tracklets"][0]["61"] = [10, 40, 40, 80]  # the video holds 60 frames
    (root / "train.json").write_text(json.dumps(data))
    ds = MovingFashionDataset(root, "train", **KW)
    with pytest.raises(Exception, match="frame 61 is past the video's last frame 59"):
        ds.check()


# -------------------------------------------------------------------- no tracklets yet
def test_a_product_without_tracklets_is_listed_once_with_what_to_do(tiny_dataset, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    data = json.loads((root / "train.json").read_text())
    for e in data.values():
        e["tracklets"] = [{} for _ in e["video_paths"]]
    (root / "train.json").write_text(json.dumps(data))
    ds = MovingFashionDataset(root, "train", on_bad="skip", **KW)
    assert len(ds) == 0
    assert sorted(pid for pid, _ in ds.skipped) == ["101", "102", "ab_C"]  # one entry each
    for _, why in ds.skipped:
        assert "no usable video left" in why and "empty tracklet for video 0" in why, why
        assert "run mf-tracklets build first" in why, why
    assert "empty tracklet for video 1 (videos/102_1.mp4)" in dict(ds.skipped)["102"]


# -------------------------------------------------------------------- a whole edit-list cut
def test_boxes_past_an_edit_list_cuts_shown_frames_are_the_tracklets_fault(tmp_path):
    """A stream-copied cut holds every frame its header declares, but its edit list shows fewer:
    the file is whole, so a box past the shown frames is a bad row of the split file (dropped
    with on_bad="skip"), not a truncated video that takes the product with it."""
    import subprocess

    from movingfashion.media.ffmpeg import ffmpeg_exe
    from movingfashion.media.images import write_image
    from movingfashion.media.probe import probe_video, whole_frames
    from movingfashion.media.readers import open_reader
    from schemas.errors import DataFormatError

    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    (root / "imgs").mkdir()
    ff = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    base = tmp_path / "base.mp4"
    subprocess.run([*ff, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=2", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-bf", "2", str(base)], check=True)  # fmt: skip
    cut = root / "videos" / "cut_0.mp4"
    subprocess.run([*ff, "-ss", "0.5", "-i", str(base), "-c", "copy", str(cut)], check=True)
    reader = open_reader(cut)
    shown = len(reader)
    reader.close()
    declared = probe_video(cut).frames
    assert shown < declared == whole_frames(cut)  # an edit list hides some stored frames
    write_image(root / "imgs" / "cut.png", torch.zeros(120, 90, 3, dtype=torch.uint8).numpy())
    boxes = {str(i): [2, 2, 150, 110] for i in range(shown)}
    boxes[str(shown + 2)] = [2, 2, 150, 110]  # past the shown frames, within the stored ones
    record = {
        "video_paths": ["videos/cut_0.mp4"],
        "img_path": "imgs/cut.png",
        "source": 0,
        "tracklets": [boxes],
    }
    (root / "train.json").write_text(json.dumps({"cut": record}))
    (root / "test.json").write_text("{}")
    kw = {**KW, "sampler": "uniform"}
    with pytest.raises(DataFormatError, match="past the video's last frame"):
        MovingFashionDataset(root, "train", on_bad="raise", **kw)[0]
    ds = MovingFashionDataset(root, "train", on_bad="skip", **kw)
    item = ds[0]
    assert item["product_id"] == "cut" and int(item["frame_indices"].max()) < shown
