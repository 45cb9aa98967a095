"""The training copy: same frame indices as the live path, pixels within tolerance, deterministic,
and a corrupt or stale copy falls back to live decoding with one warning naming the file."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import torch

from movingfashion.dataset import MovingFashionDataset
from movingfashion.training_copy import TOLERANCE, build_training_copy, copy_entry
from schemas.errors import ConfigError

KW = {"seed": 7, "crop_size": 48, "frames": 6, "dtype": torch.uint8}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float() - b.float()) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def copy_dir(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("copy")
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    counts = build_training_copy(live, out)
    assert (counts["built"], counts["already_copied"], counts["failed"]) == (4, 0, 0)
    assert counts["frames_outside_tolerance"] == 0
    return out


def items(ds, n=None):
    return [ds[i] for i in range(n if n is not None else 3 * len(ds))]


def test_copy_gives_the_live_frame_indices_and_pixels_within_tolerance(tiny_dataset, copy_dir):
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=copy_dir, **KW)
    worst_err, worst_psnr = 0.0, 99.0
    for a, b in zip(items(live), items(fast), strict=True):
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        assert a["video_path"] == b["video_path"] and a["orig_size"] == b["orig_size"]
        assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["shop"], b["shop"])
        assert a["frames"].shape == b["frames"].shape and b["frames"].dtype == torch.uint8
        err = float((a["frames"].float() - b["frames"].float()).abs().mean())
        worst_err, worst_psnr = max(worst_err, err), min(worst_psnr, psnr(a["frames"], b["frames"]))
    assert worst_err <= TOLERANCE["mean_abs_error"] and worst_psnr >= TOLERANCE["psnr_db"]
    assert worst_err > 0  # lossy: the copy really is what was read, not the live decode


def test_copy_covers_every_boxed_frame_and_is_deterministic(tiny_dataset, copy_dir, tmp_path):
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    video = live.products[0].videos[0]
    meta = json.loads(copy_entry(copy_dir, video.rel_path)[1].read_text())
    assert meta["frames"] == sorted(video.boxes)
    assert len(meta["offsets"]) == len(meta["frames"]) + 1
    again = tmp_path / "again"
    build_training_copy(live, again)
    for f in sorted(copy_dir.iterdir()):
        assert (again / f.name).read_bytes() == f.read_bytes(), f.name
    assert build_training_copy(live, again)["already_copied"] == 4


def test_whole_frame_copy_matches_the_live_frames(tiny_dataset, tmp_path):
    kw = {**KW, "crop": "frame", "frame_size": (48, 64)}
    live = MovingFashionDataset(tiny_dataset, "test", **kw)
    build_training_copy(live, tmp_path / "c")
    fast = MovingFashionDataset(tiny_dataset, "test", training_copy=tmp_path / "c", **kw)
    for a, b in zip(items(live), items(fast), strict=True):
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        assert torch.allclose(a["boxes"], b["boxes"], equal_nan=True)
        assert float((a["frames"].float() - b["frames"].float()).abs().mean()) <= TOLERANCE["mean_abs_error"]


def test_corrupt_copy_falls_back_to_live_decoding_with_one_warning(tiny_dataset, copy_dir, tmp_path, caplog):
    bad = tmp_path / "bad"
    shutil.copytree(copy_dir, bad)
    data, _ = copy_entry(bad, "videos/101_0.mp4")
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # damage a frame in the middle
    data.write_bytes(bytes(raw))
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=bad, **KW)
    pid = live.products[0].product_id
    idx = [i for i in range(3 * len(live)) if live.plan(i)[0].product_id == pid]
    with caplog.at_level(logging.WARNING, logger="movingfashion.training_copy"):
        got = [fast[i] for i in idx]
    warnings = [r.getMessage() for r in caplog.records if r.name == "movingfashion.training_copy"]
    assert len(warnings) == 1 and str(data) in warnings[0] and "CRC" in warnings[0]
    for i, b in zip(idx, got, strict=True):  # after the failure the video is decoded live: exact
        a = live[i]
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
    assert torch.equal(live[idx[-1]]["frames"], got[-1]["frames"])


@pytest.mark.parametrize("damage", ["index", "truncate", "tracklet"])
def test_unusable_copy_is_named_once_and_items_are_live(tiny_dataset, copy_dir, tmp_path, caplog, damage):
    bad = tmp_path / "bad"
    shutil.copytree(copy_dir, bad)
    data, index = copy_entry(bad, "videos/101_0.mp4")
    root = tiny_dataset
    if damage == "index":
        index.write_text(index.read_text()[:40])
    elif damage == "truncate":
        data.write_bytes(data.read_bytes()[:-10])
    else:  # a tracklet edited since the copy was made
        root = tmp_path / "ds"
        shutil.copytree(tiny_dataset, root)
        train = json.loads((root / "train.json").read_text())
        train["101"]["tracklets"][0]["20"] = [10, 10, 60, 70]
        (root / "train.json").write_text(json.dumps(train))
        (root / "tracklets").exists() and shutil.rmtree(root / "tracklets")
    live = MovingFashionDataset(root, "train", **KW)
    fast = MovingFashionDataset(root, "train", training_copy=bad, **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.training_copy"):
        got = items(fast)
    warnings = [r.getMessage() for r in caplog.records if r.name == "movingfashion.training_copy"]
    assert len(warnings) == 1 and str(data) in warnings[0]
    for a, b in zip(items(live), got, strict=True):
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        if a["video_path"] == "videos/101_0.mp4":
            assert torch.equal(a["frames"], b["frames"])


def test_copy_built_with_other_settings_is_refused(tiny_dataset, copy_dir):
    other = MovingFashionDataset(tiny_dataset, "train", seed=7, crop_size=40, training_copy=copy_dir)
    with pytest.raises(ConfigError, match="training copy cut with") as exc:
        other[0]
    assert "videos%2F" in str(exc.value) and ".mp4.json" in str(exc.value)  # names the entry file
    assert (
        "mf training-copy --out NEW_FOLDER" in exc.value.hint
        and "settings the copy was cut with" in exc.value.hint
    )


def test_copy_through_dataloader_workers(tiny_dataset, copy_dir):
    from movingfashion.batching import collate_clips

    fast = MovingFashionDataset(tiny_dataset, "train", training_copy=copy_dir, **KW)
    ref = [fast[i]["frames"] for i in range(8)]
    dl = torch.utils.data.DataLoader(
        fast, batch_size=4, sampler=list(range(8)), num_workers=2, collate_fn=collate_clips
    )
    got = [c for batch in dl for c in batch["frames"]]
    assert all(torch.equal(a, b) for a, b in zip(ref, got, strict=True))


def test_mf_training_copy_command(tiny_dataset, tmp_path):
    from click.testing import CliRunner

    from movingfashion.app.cli import cli

    out = tmp_path / "copy"
    args = ["training-copy", "--dataset", str(tiny_dataset), "--out", str(out), "--crop-size", "48", "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["built"] == 4 and len(list(out.glob("*.jpgs"))) == 4
    again = CliRunner().invoke(cli, args)
    assert json.loads(again.output)["already_copied"] == 4
    bad = CliRunner().invoke(cli, ["training-copy", "--dataset", str(tmp_path / "nope"), "--out", str(out)])
    # the entry point turns this error into one line and exit 2 (tests/test_cli_conventions.py)
    assert bad.exit_code != 0 and "dataset folder not found" in str(bad.exception)
    assert str(tmp_path / "nope") in str(bad.exception)


def _worst(live, fast):
    """Worst (mean absolute error, PSNR) of a clip read from a copy against the live clip."""
    worst_err, worst_psnr = 0.0, 99.0
    for a, b in zip(items(live), items(fast), strict=True):
        worst_err = max(worst_err, float((a["frames"].float() - b["frames"].float()).abs().mean()))
        worst_psnr = min(worst_psnr, psnr(a["frames"], b["frames"]))
    return worst_err, worst_psnr


def test_every_frame_is_kept_within_the_tolerance_whatever_the_quality(tiny_dataset, tmp_path):
    live = MovingFashionDataset(tiny_dataset, "train", **KW)
    # without the check a low quality misses the tolerance (so the check below has work to do)
    build_training_copy(live, tmp_path / "raw", quality=10, tolerance=None)
    raw = MovingFashionDataset(tiny_dataset, "train", training_copy=tmp_path / "raw", **KW)
    err, db = _worst(live, raw)
    assert err > TOLERANCE["mean_abs_error"] or db < TOLERANCE["psnr_db"]
    counts = build_training_copy(live, tmp_path / "checked", quality=10)
    assert counts["frames_raised"] > 0 and counts["frames_outside_tolerance"] == 0
    checked = MovingFashionDataset(tiny_dataset, "train", training_copy=tmp_path / "checked", **KW)
    err, db = _worst(live, checked)
    assert err <= TOLERANCE["mean_abs_error"] and db >= TOLERANCE["psnr_db"]
    # the tolerance is part of what a rerun compares: a copy built without it is built again
    assert build_training_copy(live, tmp_path / "raw", quality=10)["built"] == 4


def test_an_undecodable_video_is_listed_and_the_others_are_copied(tiny_dataset, tmp_path):
    from schemas.errors import MediaError

    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    (root / "videos" / "101_0.mp4").write_bytes(b"not a video")
    skip = MovingFashionDataset(root, "train", on_bad="skip", **KW)
    counts = build_training_copy(skip, tmp_path / "c")
    assert (counts["built"], counts["failed"]) == (3, 1)
    assert [pid for pid, _ in skip.skipped] == ["101"] and "101_0.mp4" in skip.skipped[0][1]
    assert not copy_entry(tmp_path / "c", "videos/101_0.mp4")[1].exists()
    with pytest.raises(MediaError, match="101_0.mp4"):
        build_training_copy(MovingFashionDataset(root, "train", **KW), tmp_path / "c2")


def test_fine_colour_detail_is_stored_without_chroma_subsampling():
    from movingfashion.training_copy import _encode, encode_within, frame_error, within

    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 0::2] = (230, 20, 40)  # one-pixel columns of saturated red and blue:
    img[:, 1::2] = (20, 40, 230)  # 4:2:0 averages their colours away at any quality
    assert not within(frame_error(img, _encode(img, 100)), TOLERANCE)
    blob, above, ok = encode_within(img, 90, TOLERANCE)
    assert ok and above and within(frame_error(img, blob), TOLERANCE)
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert encode_within(flat, 90, TOLERANCE)[1:] == (False, True)  # nothing to raise
