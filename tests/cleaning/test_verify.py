"""Two-stage detection on clips made in memory: re-post variants found, a retake of the same set is not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cleaning.config import DedupConfig
from cleaning.dedup import VideoRecord, find_video_duplicates, verification_side, video_pair_evidence
from cleaning.fingerprint import fingerprint_frames
from cleaning.verify import Hypothesis, cell_scores, robust_score, verify_pair
from cleaning.views import FULL
from tests.cleaning.media_helpers import scene
from tests.cleaning.test_fingerprint import grey_samples


def clip(set_seed: int, motion_seed: int, n: int = 60, w: int = 160, h: int = 120) -> np.ndarray:
    """A textured set (``set_seed``) with shapes whose paths come from ``motion_seed``; the camera pans."""
    rng = np.random.default_rng(set_seed)
    base = cv2.resize(rng.integers(0, 255, (h // 6, 2 * w // 6, 3), dtype=np.uint8), (2 * w, h))
    cols = [tuple(int(c) for c in rng.integers(0, 255, 3)) for _ in range(4)]
    m = np.random.default_rng(motion_seed)
    paths = [
        (m.uniform(0, w), m.uniform(0, h), m.uniform(-3, 3), m.uniform(-2, 2), int(m.integers(10, 22)))
        for _ in cols
    ]
    pan = m.uniform(0.5, 1.5)
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        x0 = int(pan * t) % w
        img = base[:, x0 : x0 + w].copy()
        for (x, y, dx, dy, r), c in zip(paths, cols, strict=True):
            cv2.circle(img, (int(x + dx * t) % w, int(y + dy * t) % h), r, c, -1)
        out[t] = img
    return out


def _record(key: str, frames: np.ndarray, cfg: DedupConfig, store: dict) -> VideoRecord:
    g, idx = grey_samples(frames, cfg)
    n, h, w = frames.shape[:3]
    store[key] = frames
    return VideoRecord(key, f"{hash(key):064x}"[-64:], fingerprint_frames(g, idx, cfg), n, 30.0, w, h)


def _loader(store: dict, cfg: DedupConfig):
    def frames(key: str, indices: list[int]) -> np.ndarray:
        clip_frames = store[key]
        return np.stack([grey_samples(clip_frames[[i]], cfg)[0][0] for i in indices])

    return frames


@pytest.fixture(scope="module")
def variants():
    cfg = DedupConfig()
    store: dict = {}
    a, b, c, d = clip(1, 1), clip(2, 2), clip(3, 3), clip(4, 4)
    speed = np.stack([b[int(k * 1.25)] for k in range(int(60 / 1.25))])  # 1.25x: frames dropped
    lb = np.zeros((60, 170, 160, 3), np.uint8)
    lb[:, 30:150] = c
    zoom = np.stack([cv2.resize(f[12:102, 16:136], (160, 120), interpolation=cv2.INTER_AREA) for f in d])
    recs = [
        _record(k, f, cfg, store)
        for k, f in (
            ("a", a),
            ("a-mirror", np.ascontiguousarray(a[:, :, ::-1])),
            ("b", b),
            ("b-speed", speed),
            ("c", c),
            ("c-letterbox", lb),
            ("d", d),
            ("d-zoom", zoom),
            ("d-retake", clip(4, 40)),  # same set, other motion: not a duplicate
            ("e", scene(9, 60, 160, 120)),
        )
    ]
    return recs, _loader(store, cfg), cfg


def test_variants_are_found_and_the_retake_is_not(variants):
    recs, frames, cfg = variants
    res = find_video_duplicates(recs, cfg, frames)
    assert sorted(sorted(c) for c in res.clusters) == [
        ["a", "a-mirror"],
        ["b", "b-speed"],
        ["c", "c-letterbox"],
        ["d", "d-zoom"],
    ]
    pairs = {(p.a, p.b): p for p in res.pairs}
    assert pairs[("a", "a-mirror")].transform.startswith("mirror")
    assert pairs[("b", "b-speed")].speed == pytest.approx(1.25, rel=0.03)
    assert pairs[("b", "b-speed")].kind == "reencode"  # covers the whole source, at another speed
    assert "window" in pairs[("d", "d-zoom")].transform
    assert all(p.score is not None and p.score >= cfg.verify_threshold for p in res.pairs)


def test_scores_separate_duplicates_from_the_retake_with_a_margin(variants):
    recs, frames, cfg = variants
    ev = video_pair_evidence(recs, cfg, frames, exhaustive=True)
    assert {(e.a, e.b) for e in ev} >= {
        ("a", "a-mirror"),
        ("b", "b-speed"),
        ("c", "c-letterbox"),
        ("d", "d-zoom"),
    }
    dup = [e.score for e in ev if e.a[0] == e.b[0] and "retake" not in e.a + e.b]
    assert len(dup) == 4 and min(dup) >= cfg.verify_threshold + 0.05
    assert all(
        e.score is None or e.score <= cfg.verify_threshold - 0.05
        for e in ev
        if e.a[0] != e.b[0] or "retake" in e.b
    )
    # the retake, verified frame by frame at the alignment a copy would have, stays far below the threshold
    by_key = {r.key: r for r in recs}
    same_time = Hypothesis(FULL, FULL, False, 1.0, 0.0)
    for a, b in (("d", "d-retake"), ("a", "e")):
        score = verify_pair(
            verification_side(by_key[a]),
            verification_side(by_key[b]),
            same_time,
            frames,
            cfg,
            exhaustive=True,
        )
        assert score <= cfg.verify_threshold - 0.2, (a, b, score)
    assert (
        verify_pair(verification_side(by_key["d"]), verification_side(by_key["d"]), same_time, frames, cfg)
        > 0.99
    )


def test_hashes_alone_without_frames_find_the_plain_copies(variants):
    recs, _, cfg = variants
    res = find_video_duplicates(recs, cfg)  # no paths, no loader: hash scores decide
    found = {frozenset(c) for c in res.clusters}
    assert frozenset(("a", "a-mirror")) in found and frozenset(("c", "c-letterbox")) in found
    assert not any("d-retake" in c for c in found)


def test_cell_scores_ignore_an_overlay_over_a_few_cells():
    rng = np.random.default_rng(0)
    a = (20 * rng.normal(size=(3, 64, 64))).astype(np.float32)
    b = a.copy()
    b[:, :16, :] = 0.5  # a caption band over the top row of cells
    s = cell_scores(a, b, 4)
    assert s.shape == (3, 16) and np.allclose(s[:, 4:], 1.0, atol=1e-4)
    assert robust_score(a, b, 4, 0.75) == pytest.approx(1.0, abs=1e-4)
    assert robust_score(a, b, 4, 1.0) < 0.8
    assert robust_score(a, (20 * rng.normal(size=(3, 64, 64))).astype(np.float32), 4, 0.75) < 0.3
    # cells flat in both views are no evidence: a copy of a half-flat frame still scores 1
    half = a.copy()
    half[:, 32:] = 7.0
    assert robust_score(half, half + rng.normal(0, 0.2, half.shape).astype(np.float32), 4, 0.75) > 0.99
    assert robust_score(np.zeros_like(a), np.zeros_like(a), 4, 0.75) == 0.0  # nothing informative
