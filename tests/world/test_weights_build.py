"""The embedded weights' recipe on a synthetic world: YOLO frames, garment crops, staged builds."""

from __future__ import annotations

import pytest
import torch

from movingfashion.models import load_matcher
from tests.damage import assert_same_tree


def test_world_to_yolo_and_crops(small_world, world_truth, tmp_path):
    from movingfashion.world.weights_build import world_crops, world_yolo

    data = world_yolo(small_world, world_truth, tmp_path, every=24)
    labels = list((tmp_path / "yolo" / "labels").rglob("*.txt"))
    images = list((tmp_path / "yolo" / "images").rglob("*.jpg"))
    assert labels and len(labels) == len(images) and data.is_file()
    rows = [ln.split() for p in labels for ln in p.read_text().splitlines()]
    assert rows and all(0 <= int(r[0]) <= 12 and all(0 <= float(x) <= 1 for x in r[1:]) for r in rows)
    crops = world_crops(small_world, world_truth, 32, every=24)
    assert crops.crops.shape[1:] == (3, 32, 32) and crops.crops.dtype == torch.uint8
    # every identity lives in one video (group), and shop images add crops to the product's own garment
    for v in crops.ids.unique().tolist():
        assert len(crops.groups[crops.ids == v].unique()) == 1
    # a second run with a sparser frame step replaces the first run's frames, never adds to them
    world_yolo(small_world, world_truth, tmp_path, every=48)
    again = list((tmp_path / "yolo" / "images").rglob("*.jpg"))
    assert 0 < len(again) < len(images)


def test_detector_labels_every_garment_showing_enough_and_matcher_samples_stay_strict(
    small_world, world_truth, tmp_path
):
    """Every garment with >= DETECTOR_MIN_VISIBLE of it showing gets a YOLO label (a garment in
    frame without one is trained as background): the label count equals the truth's count on the
    sampled frames, and it includes the occluded garments the matcher's samples leave out."""
    from movingfashion.world.truth import load_video_gt
    from movingfashion.world.weights_build import DETECTOR_MIN_VISIBLE, MIN_VISIBLE, _videos, world_yolo

    every = 12
    world_yolo(small_world, world_truth, tmp_path, every=every)
    rows = sum(len(p.read_text().splitlines()) for p in (tmp_path / "yolo" / "labels").rglob("*.txt"))
    want = occluded = 0
    for v in _videos(world_truth):
        gt = load_video_gt(small_world, v)
        for t in range(0, min(v.frames, len(gt.frames)), every):
            for g in gt.frames[t]:
                if g.box is not None and g.visible >= DETECTOR_MIN_VISIBLE:
                    want += 1
                    occluded += g.visible < MIN_VISIBLE
    assert rows == want and occluded > 0.1 * want
    world_yolo(small_world, world_truth, tmp_path, every=every, min_visible=MIN_VISIBLE)
    strict = sum(len(p.read_text().splitlines()) for p in (tmp_path / "yolo" / "labels").rglob("*.txt"))
    assert strict == want - occluded


@pytest.mark.slow
def test_weights_build_stages_continue_and_keep_one_card(small_world, tmp_path):
    import json

    from movingfashion.world.weights_build import build_weights

    out = tmp_path / "weights"
    first = build_weights(small_world, out, skip_detector=True, matcher_steps=2, work=tmp_path / "w")
    second = build_weights(
        small_world,
        out,
        skip_detector=True,
        matcher_steps=2,
        work=tmp_path / "w",
        matcher_init=out / "matcher.pt",
        matcher_lr=5e-4,
    )
    card = json.loads((out / "README.json").read_text())
    assert [h["matcher"]["init"] for h in card["history"]] == ["random", str(out / "matcher.pt")]
    assert card["matcher"]["tag"] == second["matcher"]["tag"] != first["matcher"]["tag"]
    assert load_matcher(out / "matcher.pt", device="cpu").crop_size == 64


def test_weights_build_repairs_a_matcher_whose_variances_overflowed(small_world, tmp_path):
    """--recalibrate-matcher: the float16-overflowed checkpoint loads only for repair, comes out
    finite with every other weight unchanged, and the card records the stage."""
    import json

    from click.testing import CliRunner

    from movingfashion.models import SingleFrameMatcher
    from movingfashion.world.weights_build import main

    torch.manual_seed(0)
    broken = SingleFrameMatcher(crop_size=64).eval()
    broken.save(tmp_path / "ok.pt")
    ckpt = torch.load(tmp_path / "ok.pt", weights_only=True)
    var = ckpt["state_dict"]["f.bn.running_var"].half()
    var[::2] = float("inf")
    ckpt["state_dict"]["f.bn.running_var"] = var
    torch.save(ckpt, tmp_path / "broken.pt")
    out = tmp_path / "repaired"
    res = CliRunner().invoke(
        main,
        [
            "--world",
            str(small_world),
            "--out",
            str(out),
            "--skip-detector",
            "--recalibrate-matcher",
            str(tmp_path / "broken.pt"),
            "--bn-batches",
            "3",
            "--lost-dims-weight",
            "0.25",
        ],
    )
    assert res.exit_code == 0, res.output
    fixed = load_matcher(out / "matcher.pt", device="cpu")  # refuses non-finite values
    before = load_matcher(tmp_path / "broken.pt", device="cpu", allow_nonfinite=True).state_dict()
    after = fixed.state_dict()
    assert torch.isfinite(after["f.bn.running_var"]).all() and after["f.bn.running_var"].min() > 0
    stats = ("f.bn.running_mean", "f.bn.running_var", "f.bn.num_batches_tracked", "m.fc.weight")
    assert all(torch.equal(after[k], v) for k, v in before.items() if k not in stats)
    # m's weights on the 128 dimensions whose statistics were lost are scaled, the rest kept
    w0, w1 = before["m.fc.weight"], after["m.fc.weight"]
    assert torch.equal(w1[:, 1::2], w0[:, 1::2]) and torch.allclose(w1[:, ::2], 0.25 * w0[:, ::2], atol=1e-7)
    card = json.loads((out / "README.json").read_text())
    stage = card["matcher"]
    assert stage["nonfinite_before"] == {"f.bn.running_var": "128 of 256"} and stage["batches"] == 3
    assert stage["modules"] == ["f.bn"] and card["history"][-1]["matcher"]["tag"] == fixed.tag
    assert stage["lost_dims"] == 128 and stage["lost_dims_weight"] == 0.25


def test_world_roi_features_are_world_crops_samples_pooled_from_the_detector(small_world, world_truth):
    """The RoI matcher trains on the crop matcher's samples (same boxes, identities, groups, shop
    anchors), pooled from the frozen detector's own maps; the head trains and round-trips."""
    from movingfashion.models.detectors import build_detector
    from movingfashion.models.pretrain import train_roi_matcher
    from movingfashion.world.weights_build import world_crops, world_roi_features

    det = build_detector("ultralytics")
    feats = world_roi_features(small_world, world_truth, det, pool=2, every=48)
    crops = world_crops(small_world, world_truth, 16, every=48)
    assert feats.crops.shape == (len(crops), 3 + 64 + 128 + 256, 2, 2) and feats.crops.dtype == torch.float16
    for name in ("ids", "groups", "anchors"):
        assert torch.equal(getattr(feats, name), getattr(crops, name)), name
    assert bool(torch.isfinite(feats.crops).all())
    cap = det.feature_capture()
    m = train_roi_matcher(feats, channels=cap.channels, strides=cap.strides, detector=det.version, steps=3)
    cap.close()
    assert m.pool == 2 and m.detector == det.version and not m.training


def test_roi_head_trains_on_a_faster_rcnn_and_the_builder_takes_it(small_world, gt_dataset, tmp_path):
    """The RoI matcher is not YOLO-only: ``--roi-matcher-only --detector fasterrcnn`` trains a head
    on a Faster R-CNN's FPN features (here a small random-initialised one: no weights ship), the
    head names that detector, ``auto`` picks it for that detector only, and the tracklet builder
    runs the RoI path with it."""
    import json
    import shutil

    from annotations.builder import build_dataset_tracklets
    from annotations.config import BuildConfig
    from annotations.tracklet_files import load_results
    from movingfashion.models import SingleFrameMatcher
    from movingfashion.models.detectors import DetectorConfig, build_detector
    from movingfashion.models.matchers import matcher_for, roi_fits
    from movingfashion.models.roi import RoIMatcher, load_roi_matcher
    from movingfashion.world.weights_build import build_roi_matcher

    torch.manual_seed(0)
    frcnn = tmp_path / "frcnn.pt"
    cfg = DetectorConfig(device="cpu", imgsz=64, conf=0.0, max_det=5)
    det = build_detector("fasterrcnn", None, cfg, allow_random=True)
    torch.save(det.model.state_dict(), frcnn)
    det = build_detector("fasterrcnn", frcnn, cfg)
    # R50 on the CPU: few proposals per frame keep the builder's part of the test short
    det.model.rpn._pre_nms_top_n["testing"], det.model.rpn._post_nms_top_n["testing"] = 60, 30
    out = tmp_path / "roi"
    entry = build_roi_matcher(
        small_world, out, detector="fasterrcnn", detector_weights=frcnn, detector_imgsz=64, steps=40, every=48
    )
    head = load_roi_matcher(out / "roi_matcher.pt", device="cpu")
    assert entry["detector"] == det.version == head.detector
    assert head.head.channels[-4:] == (256, 256, 256, 256) and roi_fits(head, det)
    # trained on the features: frame -> shop retrieval on them beats chance by far
    assert entry["train_frame_to_shop_top1"] > 5 / entry["identities"], entry
    assert json.loads((out / "README.json").read_text())["roi_matcher"]["tag"] == entry["tag"]
    # auto: the head for this Faster R-CNN, the crop matcher for the embedded YOLO
    assert isinstance(matcher_for(det, "auto", out / "roi_matcher.pt", device="cpu"), RoIMatcher)
    yolo = build_detector("ultralytics", None, DetectorConfig(device="cpu"))
    assert not roi_fits(head, yolo)
    assert isinstance(matcher_for(yolo, "auto", None, device="cpu"), (RoIMatcher, SingleFrameMatcher))
    # the builder's RoI path on this detector: two videos, the path recorded in the files
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds, ignore=shutil.ignore_patterns("tracklets"))
    train = json.loads((ds / "train.json").read_text())
    (ds / "train.json").write_text(json.dumps(dict(list(train.items())[:2])))
    (ds / "test.json").write_text("{}")
    from annotations.builder import TrackletBuilder

    # no crop fallback: every video must take the RoI path (the fallback has its own tests, and
    # whether this random-weight head matches a shop image at all varies from run to run)
    builder = TrackletBuilder(det, head, BuildConfig(stride=15, embed_source="roi", roi_fallback=False))
    rep = build_dataset_tracklets(ds, config=builder.config, builder=builder)
    assert rep.failed == [] and rep.processed == rep.videos >= 2
    assert rep.timings["crop"] == 0 and rep.timings["embed"] > 0
    results = load_results(ds)
    assert builder.embed_source == "roi" and builder.matcher_tag == head.tag
    assert len(results) == rep.videos and all(
        r.matcher == head.tag and r.detector == det.version for r in results
    )


def test_the_output_folder_is_named_never_the_installed_package(tmp_path):
    """`--out` has no default: run from an installed toolkit, the old default wrote a toy model
    over the shipped weights in site-packages."""
    from click.testing import CliRunner

    from movingfashion.models import default_matcher_path
    from movingfashion.world.weights_build import main

    shipped = {p.name: p.read_bytes() for p in default_matcher_path().parent.iterdir() if p.is_file()}
    res = CliRunner().invoke(main, ["--world", str(tmp_path / "no-world"), "--roi-matcher-only"])
    assert res.exit_code == 2 and "Missing option '--out'" in res.output
    assert "--out" in CliRunner().invoke(main, ["--help"]).output
    assert_same_tree(
        {p.name: p.read_bytes() for p in default_matcher_path().parent.iterdir() if p.is_file()}, shipped
    )
