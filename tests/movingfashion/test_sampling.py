from __future__ import annotations

import numpy as np
import pytest

from movingfashion.sampling import (
    SAMPLERS,
    QualityConfig,
    SalientSampler,
    chunk_bounds,
    frame_quality,
    get_sampler,
)
from schemas.errors import ConfigError


@pytest.mark.parametrize("n", [10, 11, 37, 100, 391])
def test_rrs_one_frame_from_every_chunk(n):
    rrs = get_sampler("rrs")
    cand = list(range(1000, 1000 + 2 * n, 2))  # non-contiguous candidates (tracklet frames)
    b = chunk_bounds(n, 10)
    for s in range(30):
        got = rrs(cand, 10, train=True, generator=np.random.default_rng(s))
        assert len(got) == 10
        pos = [cand.index(f) for f in got]
        for i, p in enumerate(pos):
            assert b[i] <= p < b[i + 1], (i, p, b)


def test_rrs_training_covers_whole_chunks():
    rrs = get_sampler("rrs")
    seen = set()
    for s in range(400):
        seen.update(rrs(range(50), 10, train=True, generator=np.random.default_rng(s)))
    assert seen == set(range(50))


def test_rrs_evaluation_is_deterministic_chunk_centre():
    rrs = get_sampler("rrs")
    a = rrs(range(100), 10, train=False, generator=np.random.default_rng(1))
    b = rrs(range(100), 10, train=False, generator=np.random.default_rng(2))
    assert a == b == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]


def test_few_candidates_repeat_to_length():
    for name in ("rrs", "uniform", "salient"):
        got = get_sampler(name)([3, 7, 9], 10, train=True, generator=np.random.default_rng(0))
        assert len(got) == 10 and set(got) == {3, 7, 9} and got == sorted(got)


def test_uniform_and_all():
    assert get_sampler("uniform")(range(10, 20), 4) == [10, 13, 16, 19]
    assert get_sampler("all")([5, 1, 3], 10) == [1, 3, 5]
    assert not SAMPLERS["all"].fixed_length


def test_salient_picks_best_frame_per_chunk_and_spreads():
    cand = list(range(100))
    scores = {f: (1.0 if f in (3, 17, 41) else 0.1) for f in cand}
    got = SalientSampler()(cand, 10, train=False, scores=scores)
    assert len(got) == 10 and got[0] == 3 and got[1] == 17 and got[4] == 41
    assert all(b[i] <= p < b[i + 1] for b in [chunk_bounds(100, 10)] for i, p in enumerate(got))
    # training prefers high scores but stays random
    hits = sum(
        SalientSampler()(cand, 10, train=True, generator=np.random.default_rng(s), scores=scores)[0] == 3
        for s in range(50)
    )
    assert hits > 40


def test_unknown_sampler_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown frame sampler"):
        get_sampler("nope")


def test_frame_quality_terms():
    boxes = {0: [10, 10, 50, 50], 1: [0, 10, 40, 50], 2: [10, 10, 30, 30], 3: [10, 10, 50, 50]}
    q = frame_quality(boxes, 100, 100, {0: 0.9, 1: 0.9, 2: 0.9, 3: 0.2})
    assert q[0] > q[1]  # cut by the left border
    assert q[0] > q[2]  # smaller box
    assert q[0] > q[3]  # lower confidence
    only_size = frame_quality(
        boxes, 100, 100, None, QualityConfig(w_confidence=0, w_complete=0, w_size=1, w_shape=0, w_steady=0)
    )
    assert only_size[2] == pytest.approx(0.25)


def test_salient_ties_go_to_the_chunk_centre_so_flat_scores_are_rrs():
    rrs = get_sampler("rrs")
    for cand, num in ((list(range(100)), 5), (list(range(3, 50, 2)), 7), (list(range(11)), 4)):
        want = rrs(cand, num, train=False)
        assert SalientSampler()(cand, num, train=False) == want  # no scores
        assert SalientSampler()(cand, num, train=False, scores={c: 0.7 for c in cand}) == want
    # a tie between two best frames of a chunk: the one nearer the centre (50 of 40..59)
    cand = list(range(100))
    scores = {f: (1.0 if f in (41, 52) else 0.1) for f in cand}
    assert SalientSampler()(cand, 5, train=False, scores=scores)[2] == 52
    scores = {f: (1.0 if f in (48, 52) else 0.1) for f in cand}  # as near: the earlier
    assert SalientSampler()(cand, 5, train=False, scores=scores)[2] == 48


@pytest.mark.parametrize("name", ["rrs", "uniform", "all", "salient"])
def test_a_sampler_takes_the_frames_a_key_can_name_and_no_more(name):
    """The one frame limit, schemas.official.MAX_FRAMES: frames 0 .. 10**9 - 1 (what 9-digit keys
    name). The samplers had their own, 2**31 - 1, and took frames 10**9 .. 2**31 - 1."""
    from schemas.errors import DataFormatError
    from schemas.official import MAX_FRAMES

    sampler = get_sampler(name)
    assert sampler([0, MAX_FRAMES - 1], 2, train=False) == [0, MAX_FRAMES - 1]
    with pytest.raises(
        DataFormatError, match=r"frame 1000000000 is not a frame of any video \(0\.\.999999999\)"
    ):
        sampler([0, MAX_FRAMES], 2, train=False)


@pytest.mark.parametrize(
    "cand",
    [
        [5, 3, 9, 3],  # a list of ints, unsorted, a repeat: the numpy path
        np.array([7, 1, 4], dtype=np.int32),
        [2.9, 1.2],  # floats: int() truncates
        [True, 3],
        [2**70, 1],  # past int64: int() names it as given
        [-4, 1],
    ],
)
def test_candidates_are_checked_alike_on_both_paths(cand):
    """_check's numpy sort of integer lists gives what int() on each gave, errors included."""
    from movingfashion.sampling import MAX_FRAMES, _check

    want = sorted(int(c) for c in cand)
    if want[0] < 0 or want[-1] >= MAX_FRAMES:
        bad = want[0] if want[0] < 0 else want[-1]
        with pytest.raises(Exception, match=f"frame {bad} is not a frame"):
            _check(cand, 3)
        return
    got = _check(cand, 3)
    assert got.dtype == np.int64 and got.tolist() == want
