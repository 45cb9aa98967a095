"""Tracklet noise of the synthetic world: off by default (nothing changes), additive when on, and
every corrupted frame recorded with what the truth says about it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movingfashion.sampling import crop_sharpness
from movingfashion.world.catalog import plan_world
from movingfashion.world.config import NOISE_KINDS, NoiseConfig, WorldConfig, preset_config
from movingfashion.world.generate import _params
from movingfashion.world.noise import BACKGROUND, NoisyTracker, plan_kinds
from movingfashion.world.scenes import hard_scene, regular_scene
from movingfashion.world.truth import VideoGroundTruth, WorldVideo, load_video_gt, load_world
from schemas.geometry import box_iou


def _clothing(specs, source=None):
    return next(
        s
        for s in specs
        if s.kind == "clothing"
        and s.has_video
        and not s.duplicate_of
        and (source is None or s.source == source)
    )


def test_knob_off_leaves_plan_params_and_truth_files_as_they_were():
    base = plan_world(24, 0, WorldConfig())
    hard = plan_world(24, 0, preset_config("hard"))
    assert [(s.product_id, s.duplicate_of, s.meta) for s in hard] == [
        (s.product_id, s.duplicate_of, s.meta) for s in base
    ]
    assert "noise" not in _params(24, 0, True, WorldConfig())["config"]
    assert _params(24, 0, True, preset_config("hard"))["config"]["noise"]["frames"] == 0.35
    gt = VideoGroundTruth(video_id="v", product_id="p", frames=[])
    assert set(json.loads(gt.model_dump_json())) == {"video_id", "product_id", "frames"}
    row = dict(
        video_id="v",
        product_id="p",
        source="tiktok",
        partition="hard",
        path="media/videos/v.mp4",
        sha256="0" * 64,
        frames=1,
        fps=30.0,
        width=2,
        height=2,
        codec="h264",
        gt="gt/v.json",
    )
    assert "noisy_frames" not in json.loads(WorldVideo(**row).model_dump_json())
    assert json.loads(WorldVideo(**row, noisy_frames=3).model_dump_json())["noisy_frames"] == 3


def test_noise_config_is_checked():
    with pytest.raises(ValueError, match="unknown noise kind"):
        NoiseConfig(kinds={"smoke": 1.0})
    with pytest.raises(ValueError, match="positive weight"):
        NoiseConfig(frames=0.3, kinds=dict.fromkeys(NOISE_KINDS, 0.0))
    assert not WorldConfig().noise.enabled and preset_config("hard").noise.enabled


def test_stretches_cover_the_asked_share_without_touching():
    cfg = NoiseConfig(frames=0.35)
    kinds = plan_kinds(90, cfg, np.random.default_rng(4))
    bad = [k is not None for k in kinds]
    assert abs(sum(bad) / 90 - 0.35) <= 0.05
    runs, t = [], 0
    while t < 90:
        e = t
        while e < 90 and kinds[e] == kinds[t]:
            e += 1
        if kinds[t] is not None:
            runs.append(e - t)
            assert t == 0 or kinds[t - 1] is None  # stretches never touch
        t = e
    assert all(1 <= r <= cfg.burst[1] for r in runs)
    assert plan_kinds(90, NoiseConfig(), np.random.default_rng(4)) == [None] * 90


@pytest.mark.parametrize("maker,source", [(regular_scene, "netaporter"), (hard_scene, "tiktok")])
def test_clean_frames_are_the_default_pixels_and_corrupted_ones_are_what_they_say(maker, source):
    specs = plan_world(24, 3, WorldConfig())
    spec = _clothing(specs, source)
    size, n = ((320, 384) if maker is regular_scene else (288, 512)), 40
    plain = maker(spec, np.random.default_rng([3, spec.index, 3]), size, n)
    noisy = maker(spec, np.random.default_rng([3, spec.index, 3]), size, n)
    # without the look-alike passer-by (the one knob that changes every frame)
    cfg = NoiseConfig(frames=0.5, kinds={k: 1.0 for k in NOISE_KINDS if k != "lookalike"})
    tracker = NoisyTracker(noisy, spec, cfg, np.random.default_rng(9))
    assert tracker.lookalike is None and any(tracker.kinds)
    checked = set()
    for t in range(n):
        img0, gts0 = plain.frame(t)
        img, gts, box, conf, kind = tracker.frame(t)
        item0 = next(g for g in gts0 if g["product_id"] == spec.product_id)
        item = next(g for g in gts if g["product_id"] == spec.product_id)
        planned = tracker.kinds[t]
        if planned is None:
            assert np.array_equal(img, img0) and gts == gts0
            if item["box"] is not None and item["visible"] > 0:
                assert kind is None and box == pytest.approx(item["box"], abs=0.06) and 0 < conf < 1
            continue
        assert box is None or 0 < conf < 1
        if kind == "occlusion" and item0["visible"] > 0.3:
            assert item["visible"] < item0["visible"] - 0.2  # something stands in front of it
            checked.add(kind)
        elif kind == "blur" and item0["box"] is not None:
            assert crop_sharpness(img[None]) < 0.7 * crop_sharpness(img0[None])
            assert gts == gts0 and box == pytest.approx(item["box"], abs=0.06)
            checked.add(kind)
        elif kind == "out_of_frame":
            assert item["box"] is None or item["visible"] < 0.5 * max(item0["visible"], 1e-6)
            checked.add(kind)
        elif kind in ("other_garment", BACKGROUND) and box is not None and item["box"] is not None:
            assert box_iou(box, item["box"]) < 0.5  # the tracker is on something else
            checked.add(kind)
    assert len(checked) >= 2, checked


def test_lookalike_passer_by_wears_a_near_twin_and_gets_the_box():
    specs = plan_world(24, 5, WorldConfig())
    spec = _clothing(specs, "netaporter")
    scene = regular_scene(spec, np.random.default_rng([5, spec.index, 3]), (320, 384), 48)
    actors = len(scene.actors)
    tracker = NoisyTracker(
        scene, spec, NoiseConfig(frames=0.6, kinds={"lookalike": 1.0}), np.random.default_rng(2)
    )
    assert len(scene.actors) == actors + 1 and tracker.lookalike is not None
    twin = next(g for pid, g in scene.actors[-1].person.outfit if g.df2_class == spec.garment.df2_class)
    assert (twin.colour, twin.df2_class) == (
        spec.garment.colour,
        spec.garment.df2_class,
    ) and twin != spec.garment
    hits = 0
    for t in range(48):
        _, gts, box, _, kind = tracker.frame(t)
        if kind == "lookalike":
            look = next(g for g in gts if g["person"] == len(scene.actors) - 1 and g["box"] == box)
            assert look["product_id"].startswith("other-")
            hits += 1
    assert hits > 0


@pytest.mark.slow
def test_noisy_world_records_every_corrupted_frame(noisy_world):
    truth = load_world(noisy_world)
    noisy = [v for v in truth.videos if v.noisy_frames is not None]
    assert noisy and all(not v.duplicate_of for v in noisy)
    total = corrupted = 0
    for v in noisy:
        gt = load_video_gt(noisy_world, v)
        assert len(gt.tracked) == len(gt.noise) == len(gt.confidence) == len(gt.frames) == v.frames
        assert sum(k is not None for k in gt.noise) == v.noisy_frames
        for t, k in enumerate(gt.noise):
            assert (gt.tracked[t] is None) <= (k is None)  # a corrupted frame always has a box
        total += sum(b is not None for b in gt.tracked)
        corrupted += v.noisy_frames
    assert 0.2 < corrupted / total < 0.5


@pytest.mark.slow
def test_detected_tracklets_leave_out_the_boxes_on_nothing(noisy_world):
    """The "detected" source: the tracker's boxes without the frames where a tracklet linked from
    detections has no box (camera swung away, box on the background); every other corruption stays."""
    from movingfashion.world.gt_dataset import UNDETECTED_KINDS, video_tracklets

    truth = load_world(noisy_world)
    dropped = kept = 0
    for v in (v for v in truth.videos if v.noisy_frames):
        gt = load_video_gt(noisy_world, v)
        tracked, _ = video_tracklets(gt, "videos/v.mp4", 1, None, "tracked")
        detected, official = video_tracklets(gt, "videos/v.mp4", 1, None, "detected")
        kinds = gt.frame_noise()
        assert set(tracked[0].boxes) - set(detected[0].boxes) == {
            t for t in tracked[0].boxes if kinds.get(t) in UNDETECTED_KINDS
        }
        assert official == detected[0].boxes and detected[1].boxes == detected[0].boxes  # query too
        assert not set(detected[0].noise.values()) & set(UNDETECTED_KINDS)
        dropped += len(tracked[0].boxes) - len(detected[0].boxes)
        kept += sum(k not in UNDETECTED_KINDS for k in detected[0].noise.values())
    assert dropped > 0 and kept > 0
