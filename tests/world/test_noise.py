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


def test_every_frame_with_corrupted_pixels_records_its_kind_even_without_a_box():
    """A Hard clip's 'away' shot hides the item: before, a blurred frame there was recorded as clean
    (noise None) because the tracker had no box. Pixels differing from the clean render always
    carry their kind now; identical pixels with no box stay None."""
    cfg = NoiseConfig(frames=0.5, kinds={k: 1.0 for k in NOISE_KINDS if k != "lookalike"})
    unboxed = set()
    for seed in (3, 4, 5):
        for spec in [s for s in plan_world(24, seed, WorldConfig()) if s.source == "tiktok"][:4]:
            if spec.kind != "clothing" or spec.duplicate_of or not spec.has_video:
                continue
            plain = hard_scene(spec, np.random.default_rng([seed, spec.index, 3]), (144, 256), 30)
            noisy = hard_scene(spec, np.random.default_rng([seed, spec.index, 3]), (144, 256), 30)
            tracker = NoisyTracker(noisy, spec, cfg, np.random.default_rng(seed))
            for t in range(30):
                img0, _ = plain.frame(t)
                img, _, box, _, kind = tracker.frame(t)
                if not np.array_equal(img, img0):
                    assert kind == tracker.kinds[t] is not None, (seed, spec.product_id, t)
                    if box is None:
                        unboxed.add(kind)
                elif box is None:
                    assert kind is None
    assert "blur" in unboxed  # the case that was lost


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
        for t, k in enumerate(gt.noise):  # no box: only pixels can be corrupted (blur, occlusion)
            assert gt.tracked[t] is not None or k in (None, "blur", "occlusion")
        total += sum(b is not None for b in gt.tracked)
        corrupted += sum(b is not None and k is not None for b, k in zip(gt.tracked, gt.noise, strict=True))
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


class _ScriptedDetector:
    """Returns, for each frame it is given, the detections scripted for that frame's pixels."""

    name, version = "scripted", "v1"

    def __init__(self, by_frame: dict[bytes, list[tuple[list[float], float]]]) -> None:
        from movingfashion.models.detectors.base import DetectorConfig

        self.by_frame = by_frame
        self.frames_seen = 0
        self.config = DetectorConfig(batch=5)  # a few batches per video

    def detect(self, frames):
        from movingfashion.models.detectors.base import FrameDetections

        out = []
        for f in frames:
            self.frames_seen += 1
            dets = self.by_frame.get(f.tobytes(), [])
            out.append(
                FrameDetections(
                    np.array([b for b, _ in dets], np.float32).reshape(-1, 4),
                    np.array([c for _, c in dets], np.float32),
                    np.ones(len(dets), np.int64),
                )
            )
        return out


def _script(frames, tracked):
    """Per tracked frame: t % 3 == 0 nothing; t % 3 == 1 the tracker's box nudged (IoU > 0.5)
    and a far box; t % 3 == 2 only a box beside it (IoU < 0.5). Confidence 0.2 + t / 100."""
    by_frame, expect = {}, {}
    for t, b in tracked.items():
        w = b[2] - b[0]
        beside = [b[0] + 0.6 * w, b[1], b[2] + 0.6 * w, b[3]]
        if t % 3 == 1:
            near = [b[0] + 0.05 * w, b[1], b[2] + 0.05 * w, b[3]]
            by_frame[frames[t].tobytes()] = [([0.0, 0.0, 2.0, 2.0], 0.9), (near, 0.2 + t / 100)]
            expect[t] = ([round(v, 1) for v in near], round(0.2 + t / 100, 4))
        elif t % 3 == 2:
            by_frame[frames[t].tobytes()] = [(beside, 0.95)]
    return by_frame, expect


@pytest.mark.slow
def test_linked_tracklets_are_the_detectors_boxes_and_confidences_along_the_tracker(noisy_world):
    """The "linked" source keeps a tracked frame only where a detection overlaps the tracker's box
    at IoU >= 0.5, with that detection's box and confidence (not the world's planted ones)."""
    from movingfashion.media.readers import read_video
    from movingfashion.world.gt_dataset import link_detections, video_tracklets

    truth = load_world(noisy_world)
    v = next(v for v in truth.videos if v.noisy_frames)
    gt = load_video_gt(noisy_world, v)
    frames = read_video(noisy_world / v.path)
    tracked = gt.tracked_boxes()
    by_frame, expect = _script(frames, tracked)
    det = _ScriptedDetector(by_frame)
    boxes, conf = link_detections(frames, tracked, det)
    assert det.frames_seen == len(tracked)
    assert set(boxes) == set(expect)  # boxes in float32, rounded to 0.1 px
    assert all(boxes[t] == pytest.approx(b, abs=0.11) for t, (b, _) in expect.items())
    assert conf == pytest.approx({t: c for t, (_, c) in expect.items()}, abs=1e-4)
    trks, official = video_tracklets(gt, "videos/v.mp4", 1, [10, 0, 500, 500], "linked", (boxes, conf))
    assert official == trks[0].boxes == trks[1].boxes
    assert official == {t: [b[0] - 10, b[1], b[2] - 10, b[3]] for t, b in boxes.items()}
    assert trks[0].scores == conf and trks[0].mode == "training"
    assert set(trks[0].noise) <= set(boxes) and set(trks[0].noise.items()) <= set(gt.frame_noise().items())
    with pytest.raises(ValueError, match="link_detections"):
        video_tracklets(gt, "videos/v.mp4", 1, None, "linked")
    # the published region (a split-screen video's moving half) cuts the boxes before linking
    t = min(expect)
    x2 = int(expect[t][0][2]) - 1
    cut, _ = link_detections(frames, {t: tracked[t]}, det, region=[0, 0, x2, frames.shape[1]])
    assert cut[t][2] == x2 and cut[t][:2] == pytest.approx(expect[t][0][:2], abs=0.11)


@pytest.mark.slow
def test_linked_export_writes_what_the_detector_found(noisy_world, tmp_path):
    """Through ``export_gt_dataset``: the official tracklets and the tracklet files' scores are the
    detector's, and the files name it."""
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.media.readers import read_video
    from movingfashion.world.gt_dataset import export_gt_dataset
    from schemas.dataset import VideoTracklets
    from schemas.official import read_official

    truth = load_world(noisy_world)
    by_frame = {}
    for v in truth.videos:
        tracked = load_video_gt(noisy_world, v).tracked_boxes()
        if tracked:
            by_frame.update(_script(read_video(noisy_world / v.path), tracked)[0])
    out = export_gt_dataset(
        noisy_world, tmp_path / "linked", tracklets="linked", detector=_ScriptedDetector(by_frame)
    )
    files = sorted((out / "tracklets").glob("*.json"))
    checked = 0
    for f in files:
        vt = VideoTracklets.model_validate_json(f.read_text())
        first = vt.tracklets[0]
        if first.mode != "training":
            continue
        assert vt.detector == "world-tracker+scripted:v1"
        assert first.boxes and all(t % 3 == 1 for t in first.boxes)
        assert first.scores == pytest.approx({t: 0.2 + t / 100 for t in first.boxes}, abs=1e-4)
        checked += 1
    assert checked >= 10
    official = {**read_official(out / "train.json"), **read_official(out / "test.json")}
    assert all(int(t) % 3 == 1 for e in official.values() for trk in e.tracklets for t in trk if trk)
    split_screen = {v.product_id for v in truth.videos if v.split_screen is not None}
    assert split_screen & set(official)
    for split in ("train", "test"):  # every box inside its published frame (loading checks it)
        assert len(MovingFashionDataset(out, split=split)) == len(read_official(out / f"{split}.json"))


@pytest.mark.slow
def test_the_embedded_detector_links_clean_frames_and_drops_the_boxes_on_nothing(noisy_world):
    """With the real embedded detector: most frames where the tracker is on the item link, few of
    those where its box is on nothing (camera swung away, background), and the confidences are
    the detector's, not the world's."""
    from movingfashion.media.readers import read_video
    from movingfashion.models.detectors.registry import build_detector
    from movingfashion.world.gt_dataset import UNDETECTED_KINDS, link_detections

    truth = load_world(noisy_world)
    det = build_detector()
    got = {"clean": [0, 0], "nothing": [0, 0]}
    differs = 0
    videos = [v for v in truth.videos if v.noisy_frames]
    for v in videos[:8]:
        gt = load_video_gt(noisy_world, v)
        tracked, kinds = gt.tracked_boxes(), gt.frame_noise()
        boxes, conf = link_detections(read_video(noisy_world / v.path), tracked, det)
        for t in tracked:
            k = kinds.get(t)
            key = "clean" if k is None else "nothing" if k in UNDETECTED_KINDS else None
            if key:
                got[key][0] += t in boxes
                got[key][1] += 1
        differs += sum(abs(c - gt.confidence[t]) > 1e-3 for t, c in conf.items())
        assert all(det.config.conf <= c <= 1 for c in conf.values())
    clean, nothing = (got[k][0] / got[k][1] for k in ("clean", "nothing"))
    assert got["nothing"][1] >= 10, got
    assert clean >= 0.7 and nothing <= 0.3, got
    assert differs > 0.9 * got["clean"][0]
