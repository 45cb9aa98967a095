"""Fingerprints of frames made in the test: bars, mirror images and zoomed copies match their source."""

from __future__ import annotations

import cv2
import numpy as np

from cleaning.config import DedupConfig
from cleaning.fingerprint import VideoFingerprint, decode_size, fingerprint_frames, sample_times
from cleaning.phash import hamming
from cleaning.views import FULL, Window, hash_windows, window_grid, window_pixels
from tests.cleaning.media_helpers import scene


def grey_samples(frames: np.ndarray, cfg: DedupConfig, fps: float = 30.0) -> tuple[np.ndarray, list[int]]:
    """The sampled frames of a clip as the fingerprint sees them (grey, decode size)."""
    n, h, w = frames.shape[:3]
    idx = sample_times(n, fps, cfg.step_s, cfg.max_frames)
    size = decode_size(w, h)
    grey = [
        cv2.cvtColor(cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        for i in idx
    ]
    return np.stack(grey), idx


def test_window_grid_and_pixels():
    wins = window_grid([0.9, 0.7], 0.03)
    assert len(wins) == 1 + 2 * 9 and wins[0] == FULL
    box = (10, 20, 110, 220)
    for w in wins:
        x0, y0, x1, y1 = window_pixels(box, w)
        assert 10 <= x0 < x1 <= 110 and 20 <= y0 < y1 <= 220
    assert window_pixels(box, FULL) == box
    assert window_pixels(box, Window(0.5, 0.5, 0.5, 0.5)) == (35, 70, 85, 170)


def test_mirrored_view_hash_is_the_hash_of_the_flipped_frame():
    g = cv2.cvtColor(scene(4, 1, 160, 120)[0], cv2.COLOR_RGB2GRAY)[None]
    box = (0, 0, 160, 120)
    flipped = np.ascontiguousarray(g[:, :, ::-1])
    assert hash_windows(g, box, [FULL], mirror=True)[0, 0] == hash_windows(flipped, box, [FULL])[0, 0]
    assert hamming(hash_windows(g, box, [FULL])[0, 0], hash_windows(flipped, box, [FULL])[0, 0]) > 12


def test_letterboxed_mirrored_and_zoomed_copies_match_a_view_of_the_source():
    cfg = DedupConfig()
    src = scene(5, 40, 160, 120)
    lb = np.zeros((40, 180, 160, 3), np.uint8)  # letterbox: bars above and below
    lb[:, 35:155] = src
    zoom = np.stack([cv2.resize(f[15:105, 20:140], (160, 120), interpolation=cv2.INTER_AREA) for f in src])
    fp = {}
    for name, frames in (("src", src), ("letterbox", lb), ("mirror", src[:, :, ::-1]), ("zoom", zoom)):
        g, idx = grey_samples(np.ascontiguousarray(frames), cfg)
        fp[name] = fingerprint_frames(g, idx, cfg)
    s = fp["src"]
    assert s.box == (0.0, 0.0, 1.0, 1.0)
    assert fp["letterbox"].box[1] > 0.15 and fp["letterbox"].box[3] < 0.9
    assert np.median(hamming(fp["letterbox"].hashes, s.hashes)) <= 4
    assert np.median(hamming(fp["mirror"].hashes, s.mirrored)) <= 2
    assert np.median(hamming(fp["mirror"].hashes, s.hashes)) > 12
    # the zoomed copy (75% of the source) is close to one window of the source's grid, not to its whole frame
    wins = window_grid(cfg.window_scales, cfg.window_shift)
    d = hamming(s.views, fp["zoom"].hashes[s.query][:, None])  # [Q, K]
    best = int(np.argmin(np.median(d, axis=0)))
    assert wins[best].w in (0.7, 0.8) and np.median(d[:, best]) <= 8
    assert np.median(d[:, 0]) > np.median(d[:, best]) + 6


def test_fingerprint_json_round_trip_and_bare_hashes():
    cfg = DedupConfig()
    g, idx = grey_samples(scene(6, 30, 160, 120), cfg)
    fp = fingerprint_frames(g, idx, cfg)
    back = VideoFingerprint.from_json(fp.to_json())
    for name in ("hashes", "times", "mirrored", "parts", "query", "views"):
        assert np.array_equal(getattr(back, name), getattr(fp, name)), name
    assert back.box == fp.box and back.views.shape == (
        len(fp.query),
        len(window_grid(cfg.window_scales, 0.03)) + len(fp.fills),
    )
    assert back.fills == fp.fills and len(fp.fills) > 0  # a 4:3 box: crop-to-fill windows of 1:1, 3:4...
    bare = VideoFingerprint(fp.hashes)
    assert np.array_equal(bare.views[:, 0], fp.hashes) and len(bare.mirrored) == 0
