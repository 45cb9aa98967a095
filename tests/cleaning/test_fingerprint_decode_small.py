"""Fingerprints decode frames shrunk one by one and hash exactly as full-size decode + resize did."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cleaning.config import DedupConfig
from cleaning.fingerprint import decode_size, fingerprint_frames, fingerprint_video, sample_times, to_grey
from movingfashion.media.probe import probe_video
from movingfashion.media.readers import ReaderCache, read_frames


def _reference(path: Path, cfg: DedupConfig):  # noqa: ANN202 - the pre-fix path: decode all, then resize
    info = probe_video(path)
    idx = sample_times(info.frames, info.fps, cfg.step_s, cfg.max_frames)
    w, h = decode_size(info.width, info.height)
    cache = ReaderCache()
    try:
        full = read_frames(path, idx, cache=cache)
    finally:
        cache.clear()
    small = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in full])
    return info, fingerprint_frames(to_grey(small), idx, cfg)


def test_world_video_fingerprints_are_unchanged(small_world: Path) -> None:
    cfg = DedupConfig()
    videos = sorted(small_world.rglob("*.mp4"))[:3]
    assert videos
    for path in videos:
        info, want = _reference(path, cfg)
        got = fingerprint_video(path, info.frames, info.fps, info.width, info.height, cfg)
        assert got.to_json() == want.to_json(), path.name
