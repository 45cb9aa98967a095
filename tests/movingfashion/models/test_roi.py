"""RoI matching: descriptors pooled from the detector's own forward pass (no second forward), the
pooling against the hooked maps done by hand, checkpoints, and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import roi_align

from movingfashion.models.detectors import DetectorConfig, build_detector
from movingfashion.models.roi import (
    RoIEmbedder,
    RoIMatcher,
    default_roi_matcher_path,
    load_roi_matcher,
    pool_boxes,
)
from schemas.errors import ConfigError, ModelError


@pytest.fixture(scope="module")
def yolo():
    return build_detector("ultralytics", None, DetectorConfig(conf=0.05, batch=4, device="cpu"))


def _frames(n: int = 3, h: int = 150, w: int = 260) -> np.ndarray:
    """Frames with coloured rectangles (something for the detector to see), deterministic."""
    rng = np.random.default_rng(0)
    out = np.full((n, h, w, 3), 200, np.uint8)
    for i in range(n):
        for _ in range(3):
            x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
            out[i, y0 : y0 + 50, x0 : x0 + 40] = rng.integers(0, 255, 3)
    return out


def _trained_stats(m: RoIMatcher) -> RoIMatcher:
    """Non-trivial batch-norm statistics, so eval mode is exercised; eval mode."""
    torch.manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


def test_descriptors_equal_pooling_the_hooked_maps_by_hand(yolo):
    from ultralytics.utils.ops import scale_boxes

    cap = yolo.feature_capture()
    torch.manual_seed(0)
    m = _trained_stats(RoIMatcher(cap.channels, cap.strides, detector=yolo.version))
    cap.close()
    emb = RoIEmbedder(m, yolo)
    frames = _frames()
    # boxes chosen in the network's input pixels, mapped to the frames by ultralytics' own inverse
    inp = np.array([[20.0, 30.0, 120.0, 140.0], [150.0, 40.0, 250.0, 100.0]], np.float32)
    emb.capture.clear()
    yolo.detect(frames)
    maps = emb.capture.calls[0]
    in_hw = tuple(maps[0].shape[-2:])
    orig = scale_boxes(in_hw, torch.from_numpy(inp.copy()), frames.shape[1:3]).numpy()
    got = emb.embed_boxes(frames, [orig, np.zeros((0, 4), np.float32), orig[:1]])
    # by hand: RoIAlign of every captured level at the input-pixel boxes, then the head
    rois = torch.cat([torch.tensor([[0.0], [0.0], [2.0]]), torch.from_numpy(inp[[0, 1, 0]])], dim=1)
    pooled = torch.cat(
        [
            roi_align(level, rois, (m.pool, m.pool), spatial_scale=1 / s, sampling_ratio=2, aligned=True)
            for level, s in zip(maps, cap.strides, strict=True)
        ],
        dim=1,
    )
    with torch.no_grad():
        ref = m.head(pooled)
    assert got.shape == (3, m.dim)
    assert float((got - ref).abs().max()) < 1e-3 * float(ref.abs().max())
    # level 0 is the network's input image: the pooled image cells of a box are its pixels' colours
    assert maps[0].shape[1] == 3 and float(maps[0].min()) >= 0 and float(maps[0].max()) <= 1
    emb.close()


def test_hooks_add_no_second_forward(yolo):
    net = yolo.model.predictor.model.model if yolo.model.predictor else yolo.network()
    calls = []
    h = net.register_forward_pre_hook(lambda mod, args: calls.append(1))
    try:
        frames = _frames(6)
        yolo.detect(frames)
        plain = len(calls)
        cap = yolo.feature_capture()
        m = RoIMatcher(cap.channels, cap.strides, detector=yolo.version).eval()
        cap.close()
        emb = RoIEmbedder(m, yolo)
        calls.clear()
        dets, desc = emb.detect(frames)
        assert len(calls) == plain == 2  # 6 frames in batches of 4: two forwards, with or without RoI
        assert emb.capture.forwards == plain
        assert len(desc) == sum(len(d) for d in dets)
        emb.close()
        calls.clear()
        yolo.detect(frames)  # hooks removed: nothing kept
        assert len(calls) == plain and emb.capture.forwards == 0
    finally:
        h.remove()


def test_feature_pass_fills_the_capture_as_detect_does_without_the_detect_head(yolo):
    """A shop image (any size) and a batch of frames: ``feature_pass`` leaves the capture holding
    the very maps ``detect`` leaves (bit for bit, the same forwards), without running the Detect
    head, so ``embed_images`` gives the descriptors it gave through ``detect``."""
    net = yolo.network()
    head_calls = []
    h = net.model[-1].register_forward_pre_hook(lambda mod, args: head_calls.append(1))
    cap = yolo.feature_capture()
    m = RoIMatcher(cap.channels, cap.strides, detector=yolo.version).eval()
    cap.close()
    emb = RoIEmbedder(m, yolo)
    shop = _frames(1, 97, 61)[0]
    try:
        for images in ([shop], _frames(6)):
            emb.capture.clear()
            yolo.detect(images)
            by_detect = [list(call) for call in emb.capture.calls]
            emb.capture.clear()
            head_calls.clear()
            yolo.feature_pass(images)
            assert head_calls == [] and emb.capture.forwards == len(by_detect) >= 1
            for a, b in zip(by_detect, emb.capture.calls, strict=True):
                assert [t.shape for t in a] == [t.shape for t in b]
                assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
        head_calls.clear()
        got = emb.embed_images([shop])
        assert head_calls == []
        emb.capture.clear()
        yolo.detect([shop])
        whole = [np.array([[0, 0, shop.shape[1], shop.shape[0]]], np.float32)]
        assert torch.equal(got, emb.embed_boxes([shop], whole))
    finally:
        h.remove()
        emb.close()


def test_embedder_refuses_other_detector_weights_and_levels(yolo):
    cap = yolo.feature_capture()
    chans, strides = cap.channels, cap.strides
    cap.close()
    with pytest.raises(ConfigError, match="trained on detector"):
        RoIEmbedder(RoIMatcher(chans, strides, detector="ultralytics:other.pt:0"), yolo)
    with pytest.raises(ConfigError, match="expects levels"):
        RoIEmbedder(RoIMatcher((3, 8), (1.0, 8.0)), yolo)


def test_fasterrcnn_capture_one_forward_and_boxes_in_resized_pixels():
    det = build_detector(
        "fasterrcnn", config=DetectorConfig(conf=0.0, imgsz=96, max_det=3, device="cpu"), allow_random=True
    )
    cap = det.feature_capture()
    assert cap.channels == (3, 256, 256, 256, 256) and cap.strides == (1.0, 4.0, 8.0, 16.0, 32.0)
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 100, 3), dtype=np.uint8)
    det.detect(frames)
    assert cap.forwards == 1
    img = cap.calls[0][0]
    # the short side resized to 96 (torchvision's transform): the whole frame maps onto it
    whole = cap.to_input(np.array([[0, 0, 100, 120]], np.float32), 1, (120, 100))
    assert whole[0, 2] == pytest.approx(96, abs=0.5) and whole[0, 3] <= img.shape[-2] + 0.5
    pooled = pool_boxes(cap, [np.array([[10, 10, 60, 90]], np.float32)] * 2, [(120, 100)] * 2, 2)
    assert pooled.shape == (2, 3 + 4 * 256, 2, 2)
    cap.close()


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    torch.manual_seed(0)
    m = _trained_stats(RoIMatcher((3, 8, 16), (1.0, 8.0, 16.0), pool=2, reduce=4, dim=16, detector="d:1"))
    x = torch.rand(5, 27, 2, 2)
    with torch.no_grad():
        before = m.embed_pooled(x)
    tag = m.save(tmp_path / "r.pt")
    back = load_roi_matcher(tmp_path / "r.pt", device="cpu")
    assert back.tag == tag != "mf-roi-matcher/v1:untrained"
    assert back.config() == m.config()
    with torch.no_grad():
        assert torch.equal(back.embed_pooled(x), before)
    ckpt = torch.load(tmp_path / "r.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values() if v.is_floating_point())
    with torch.no_grad():
        m.head.fc[1].running_var[0] = float("inf")
    with pytest.raises(ModelError, match="non-finite"):
        m.save(tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelError, match="corrupt"):
        load_roi_matcher(tmp_path / "junk.pt")


def test_shipped_roi_matcher_is_small_float32_finite_and_fits_the_embedded_detector(yolo):
    path = default_roi_matcher_path()
    assert path.stat().st_size < 600 * 1024
    ckpt = torch.load(path, weights_only=True)
    for k, v in ckpt["state_dict"].items():
        if v.is_floating_point():
            assert v.dtype == torch.float32, k
            assert bool(torch.isfinite(v).all()), k
    m = load_roi_matcher(None, device="cpu")
    assert m.detector == yolo.version  # trained on the embedded detector's features
    assert m.head.macs() * 100 < 119_000_000  # >= 100x cheaper per box than a 64 px crop
    RoIEmbedder(m, yolo).close()


def test_auto_picks_roi_only_for_the_detector_it_was_trained_on(yolo, tmp_path):
    from movingfashion.models import SingleFrameMatcher
    from movingfashion.models.matchers import matcher_for

    assert isinstance(matcher_for(yolo, "auto", device="cpu"), RoIMatcher)
    other = build_detector("ultralytics", "yolov8n.yaml", DetectorConfig(device="cpu"), allow_random=True)
    assert isinstance(matcher_for(other, "auto", device="cpu"), SingleFrameMatcher)
    assert isinstance(
        matcher_for(other, "roi", device="cpu"), RoIMatcher
    )  # asked for: RoIEmbedder refuses it
    # a checkpoint given: its kind decides
    cap = yolo.feature_capture()
    RoIMatcher(cap.channels, cap.strides).save(tmp_path / "r.pt")
    cap.close()
    assert isinstance(matcher_for(other, "auto", tmp_path / "r.pt", device="cpu"), RoIMatcher)


def test_renamed_copy_of_the_shipped_detector_keeps_the_roi_matcher(yolo, tmp_path):
    """Byte-identical weights under another file name are the same weights: ``auto`` still picks
    the RoI matcher trained on them, and the embedder accepts them."""
    import shutil

    from movingfashion.models.detectors import default_detector_path
    from movingfashion.models.matchers import matcher_for, roi_fits

    copy = tmp_path / "my_detector.pt"
    shutil.copyfile(default_detector_path(), copy)
    renamed = build_detector("ultralytics", copy, DetectorConfig(device="cpu"))
    m = matcher_for(renamed, "auto", device="cpu")
    assert isinstance(m, RoIMatcher) and m.detector == yolo.version and roi_fits(m, renamed)
    RoIEmbedder(m, renamed).close()
    assert renamed.version != yolo.version and renamed.weights_id == yolo.weights_id
