"""Inputs the fuzz audit found the loader crashing on or misreporting: non-finite tracklet scores,
40-digit frame keys, a path part over 255 bytes, a frame past the end of a whole video, a
tracklet file whose frame size is not the video's."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from movingfashion.dataset import MovingFashionDataset
from movingfashion.sampling import SalientSampler
from movingfashion.split_records import _file_problem
from schemas.errors import DataFormatError, MFError

KW = {"frames": 4, "crop_size": 32, "shop_size": 32, "seed": 0}


def _copy(tiny_dataset, tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    return root


def _edit_train(root: Path, edit) -> None:
    train = json.loads((root / "train.json").read_text())
    edit(train)
    (root / "train.json").write_text(json.dumps(train))


def _load_all(ds: MovingFashionDataset) -> None:
    for i in range(len(ds)):
        ds[i]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "1e400"])
def test_a_non_finite_ground_truth_score_leaves_the_file_out_by_name(tiny_dataset, tmp_path, caplog, literal):
    """Was numpy's bare "Probabilities contain NaN" from the salient sampler, on_bad='skip' too."""
    root = _copy(tiny_dataset, tmp_path)
    path = root / "tracklets" / "101_0.json"
    path.write_text(path.read_text().replace('"scores": {"5": 0.583', f'"scores": {{"5": {literal}', 1))
    assert literal in path.read_text()
    for on_bad in ("raise", "skip"):
        with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
            ds = MovingFashionDataset(root, "train", sampler="salient", on_bad=on_bad, **KW)
        assert f"{path}: ignored, not a VideoTracklets file (tracklets.0.scores.5" in caplog.text
        _load_all(ds)


def test_salient_sampler_names_a_non_finite_score():
    with pytest.raises(DataFormatError, match="frame 3: quality score nan"):
        SalientSampler()(list(range(8)), 2, train=True, scores={3: float("nan")})
    with pytest.raises(DataFormatError, match="frame 0: quality score inf"):
        SalientSampler()(list(range(8)), 2, train=False, scores={0: float("inf")})


def test_a_40_digit_frame_key_is_a_bad_row_not_an_overflow(tiny_dataset, tmp_path):
    root = _copy(tiny_dataset, tmp_path)
    _edit_train(root, lambda t: t["101"]["tracklets"][0].update({"9" * 40: [10, 40, 40, 80]}))
    # the split file's reader refuses a key of more digits than any video's frame count
    # (schemas.official.MAX_FRAME_DIGITS), naming the product, the field and the key cut short
    bad = r"product '101'.*'tracklets'.*frame key '9{24}'\.\.\. is no frame of a video"
    with pytest.raises(DataFormatError, match=bad) as e:
        _load_all(MovingFashionDataset(root, "train", **KW))
    assert e.value.where.endswith("train.json") and "fix or remove that entry" in e.value.hint
    ds = MovingFashionDataset(root, "train", on_bad="skip", **KW)
    _load_all(ds)
    assert "101" not in ds.product_ids
    assert any(pid == "101" and "no frame of a video" in why for pid, why in ds.skipped)


def test_a_path_part_over_255_bytes_is_a_named_bad_row(tiny_dataset, tmp_path):
    """Whichever check meets it first (the split file's row check, or the loader's stat of the
    file), an MFError naming product and field, also with on_bad='skip'; never a bare OSError."""
    root = _copy(tiny_dataset, tmp_path)
    _edit_train(root, lambda t: t["101"].update(video_paths=["videos/" + "x" * 300 + ".mp4"]))
    with pytest.raises(MFError, match=r"product '101'.*video_paths\[0\]"):
        MovingFashionDataset(root, "train", **KW)
    ds = MovingFashionDataset(root, "train", on_bad="skip", **KW)
    assert "101" not in ds.product_ids
    assert any(pid == "101" and "video_paths[0]" in why for pid, why in ds.skipped)


def test_the_loader_stat_turns_a_too_long_name_into_a_reason(tmp_path):
    assert _file_problem(tmp_path / ("x" * 300)) == "cannot be opened (File name too long)"
    assert _file_problem(tmp_path / "missing.mp4") == "not found"
    (tmp_path / "v.mp4").write_bytes(b"x")
    assert _file_problem(tmp_path / "v.mp4") is None
    assert _file_problem(tmp_path, "a video file") == "is a folder, not a video file"  # was "not found"


def test_a_frame_far_past_the_end_of_a_whole_video_blames_the_tracklet(tiny_dataset, tmp_path):
    """Header and decoded frames agree (60): the video is whole, the split file's frame is off."""
    root = _copy(tiny_dataset, tmp_path)
    _edit_train(root, lambda t: t["101"]["tracklets"][0].update({"100000": [10, 40, 40, 80]}))
    ds = MovingFashionDataset(root, "train", videos="first", **KW)
    with pytest.raises(DataFormatError) as e:
        _load_all(ds)
    msg = str(e.value)
    assert "truncated or damaged" not in msg and "re-download" not in msg
    assert "product '101'" in msg and "frame 100000 is past the video's last frame 59" in msg
    assert e.value.where.endswith("train.json") and "mf-tracklets build --force" in e.value.hint


def test_a_tracklet_file_with_a_wrong_frame_size_is_named_not_the_split_file(tiny_dataset, tmp_path, caplog):
    root = _copy(tiny_dataset, tmp_path)
    path = root / "tracklets" / "101_0.json"
    data = json.loads(path.read_text())
    data["width"] = data["height"] = 1
    path.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        ds = MovingFashionDataset(root, "train", **KW)
    assert f"{path}: frame size 1x1 differs from the video's 128x96" in caplog.text
    video = ds.products[ds.product_ids.index("101")].videos[0]
    assert (video.width, video.height) == (128, 96) and len(video.boxes) == 50
    _load_all(ds)
