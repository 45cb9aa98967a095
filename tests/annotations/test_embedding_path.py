"""The builder's embedding path: crops cut per decoded batch and embedded in batches across them
give the embeddings of the whole video's crops embedded at once; the crop size is part of the
matcher's name in the tracklet files (no world needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import annotations.builder as builder_mod
from annotations.builder import TrackletBuilder
from annotations.config import BuildConfig
from movingfashion.media.video_source import VideoSource, frame_indices
from movingfashion.models import SingleFrameMatcher, crops_from_frames
from movingfashion.models.detectors.base import Detector, DetectorConfig, FrameDetections
from schemas import activity
from tests.movingfashion.helpers import box_of, write_video


class TruthDetector(Detector):
    """Boxes from the coded frames themselves (the moving box, plus a second one on odd frames)."""

    name = "truth"
    version = "truth:1"

    def _detect_batch(self, frames: np.ndarray) -> list[FrameDetections]:
        from tests.movingfashion.helpers import read_code

        out = []
        for f in frames:
            i = read_code(f)
            boxes = [box_of(i)] + ([[90.0, 5.0, 127.0, 60.0]] if i % 2 else [])
            k = len(boxes)
            out.append(
                FrameDetections(
                    np.array(boxes, np.float32), np.full(k, 0.9, np.float32), np.ones(k, np.int64)
                )
            )
        return out


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("emb") / "v.mp4", 40)


def _matcher() -> SingleFrameMatcher:
    torch.manual_seed(0)
    m = SingleFrameMatcher()
    # random but non-trivial batch-norm statistics, so folding them is exercised
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


@pytest.mark.parametrize("embed_batch", [1, 5, 1000])
def test_batched_embeddings_equal_the_whole_video_at_once(video, monkeypatch, embed_batch):
    monkeypatch.setattr(builder_mod, "EMBED_BATCH", embed_batch)
    cfg = BuildConfig(stride=3, detector=DetectorConfig(batch=4, device="cpu"))
    b = TrackletBuilder(TruthDetector(cfg.detector), _matcher(), cfg)
    timings = dict.fromkeys(("decode_wait", "detect", "embed"), 0.0)
    with VideoSource(video) as src:
        dets, idx = b.detect_video(src, timings)
        frames = src.get_batch(idx)
    assert idx == frame_indices(40, 3, last=True)
    # one row per detection, in frame order: the moving box, then the second box on odd frames
    assert dets.frames.tolist() == [i for i in idx for _ in range(1 + i % 2)]
    assert len(dets.embeddings) == len(dets) == sum(1 + i % 2 for i in idx)
    boxes = [np.array([box_of(i)] + ([[90.0, 5.0, 127.0, 60.0]] if i % 2 else []), np.float32) for i in idx]
    with torch.no_grad():
        ref = b.matcher.embed(crops_from_frames(frames, boxes, 64))
    assert float((dets.embeddings - ref).abs().max()) < 1e-4 * float(ref.abs().max())
    assert timings["crop"] > 0 and timings["embed"] > 0


def test_embed_size_is_used_and_named(video):
    m = _matcher()
    plain = TrackletBuilder(TruthDetector(), m, BuildConfig())
    small = TrackletBuilder(TruthDetector(), m, BuildConfig(embed_size=32))
    same = TrackletBuilder(TruthDetector(), m, BuildConfig(embed_size=64))
    assert plain.embed_size == same.embed_size == 64 and small.embed_size == 32
    assert plain.matcher_tag == same.matcher_tag == m.tag
    assert small.matcher_tag == f"{m.tag}@32px"
    with VideoSource(video) as src:
        d64, idx = plain.detect_video(src, {"decode_wait": 0.0, "detect": 0.0, "embed": 0.0})
        d32, _ = small.detect_video(src, {"decode_wait": 0.0, "detect": 0.0, "embed": 0.0})
        frames = src.get_batch(idx)
    boxes = [d for d in TruthDetector().detect(frames)]
    with torch.no_grad():
        ref32 = m.embed(crops_from_frames(frames, [x.boxes for x in boxes], 32))
    assert float((d32.embeddings - ref32).abs().max()) < 1e-4 * float(ref32.abs().max())
    # another size, other embeddings (this untrained matcher's vary little: well above rounding)
    assert float((d64.embeddings - d32.embeddings).abs().max()) > 1e-2 * float(ref32.abs().max())
    with pytest.raises(ValueError):
        BuildConfig(embed_size=40)  # not a multiple of 16


def test_a_video_shows_its_frames_detected_while_it_runs(video):
    cfg = BuildConfig(stride=3, detector=DetectorConfig(batch=4, device="cpu"))
    b = TrackletBuilder(TruthDetector(cfg.detector), _matcher(), cfg)
    seen: list[str] = []
    stop = activity.listen(lambda: seen.append(activity.current() or ""))
    try:
        with VideoSource(video) as src:
            _, idx = b.detect_video(src, dict.fromkeys(("decode_wait", "detect", "embed"), 0.0))
    finally:
        stop()
    n = len(idx)
    name = Path(video).name
    assert seen[0] == f"0% of {name} (0/{n} frames detected)"
    counts = [int(t.split(" (")[1].split("/")[0]) for t in seen[:-1]]
    assert counts == sorted(counts) and counts[-1] == n and len(counts) > 2  # batch by batch
    assert seen[-1] == "" and activity.current() is None
