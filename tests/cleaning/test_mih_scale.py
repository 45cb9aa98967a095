"""The multi-index hashing search at scale: chunks sized to the index, queries in bounded blocks,
identical codes searched once and one owner's pairs left out before they are expanded, with
the very answer of a brute-force Hamming search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cleaning.mih as mih
from cleaning.dedup import VideoRecord, _compatible, _index_views, _query_views
from cleaning.fingerprint import VideoFingerprint
from cleaning.mih import MAX_PROBES, MultiIndexHash, all_pairs, probes


def _near_codes(n: int, radius: int, seed: int) -> np.ndarray:
    """Random codes, a third of them a few bits from another and a sixth exact repeats."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    src = rng.integers(0, n, n // 3)
    for k, i in enumerate(src):
        flips = rng.choice(64, int(rng.integers(0, radius + 2)), replace=False)
        codes[(i + 1 + k) % n] = codes[i] ^ np.bitwise_or.reduce(np.uint64(1) << flips.astype(np.uint64))
    codes[rng.integers(0, n, n // 6)] = codes[rng.integers(0, n, n // 6)]
    return codes


def _brute(q: np.ndarray, codes: np.ndarray, radius: int, qown=None, iown=None) -> np.ndarray:
    near = np.bitwise_count(q[:, None] ^ codes[None, :]) <= radius
    if qown is not None:
        near &= qown[:, None] != iown[None, :]
    return np.argwhere(near)


@pytest.mark.parametrize(
    "n,radius,m",
    [(200, 7, None), (3000, 7, None), (3000, 7, 4), (6000, 5, 3), (4000, 12, None), (2500, 3, 2)],
)
def test_the_search_returns_exactly_the_brute_force_pairs(n, radius, m):
    codes = _near_codes(n, radius, seed=n + radius)
    rng = np.random.default_rng(radius)
    q = np.concatenate([codes[rng.integers(0, n, n // 2)] ^ np.uint64(0b1001), codes[:50]])
    iown, qown = rng.integers(0, 40, n), rng.integers(0, 40, len(q))
    want = _brute(q, codes, radius)
    assert len(want) > n // 4
    np.testing.assert_array_equal(MultiIndexHash(codes, m).query(q, radius), want)
    got = MultiIndexHash(codes, m, owners=iown).query(q, radius, owners=qown)
    np.testing.assert_array_equal(got, _brute(q, codes, radius, qown, iown))
    np.testing.assert_array_equal(MultiIndexHash(codes, m).pairs(radius), all_pairs(codes, radius))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 400),
    st.integers(0, 14),
    st.sampled_from([None, 1, 2, 3, 4, 5, 8, 16]),
    st.integers(1, 6),
)
def test_any_codes_radius_and_chunks_find_the_brute_force_pairs(seed, n, radius, m, owners):
    if m is not None and probes(m, radius) > MAX_PROBES:
        m = None  # the index would compare every code: covered by test_index
    codes = _near_codes(max(n, 1), radius, seed)[:n]
    rng = np.random.default_rng(seed)
    q = codes[rng.integers(0, max(n, 1), n // 2)] ^ (
        np.uint64(1) << rng.integers(0, 64, n // 2).astype(np.uint64)
    )
    iown, qown = rng.integers(0, owners, n), rng.integers(0, owners, len(q))
    np.testing.assert_array_equal(MultiIndexHash(codes, m).query(q, radius), _brute(q, codes, radius))
    got = MultiIndexHash(codes, m, owners=iown).query(q, radius, owners=qown)
    np.testing.assert_array_equal(got, _brute(q, codes, radius, qown, iown))


def test_small_blocks_give_the_same_pairs(monkeypatch):
    codes = _near_codes(3000, 7, seed=5)
    want = MultiIndexHash(codes, 4).query(codes[::3], 7)
    monkeypatch.setattr(mih, "BLOCK", 64)  # a few queries and candidates at a time
    np.testing.assert_array_equal(MultiIndexHash(codes, 4).query(codes[::3], 7), want)
    np.testing.assert_array_equal(MultiIndexHash(codes, 4).pairs(7), all_pairs(codes, 7))


def test_chunks_follow_the_index_size():
    """About 64 / log2(n) chunks: a probed bucket keeps about one code however large the index
    grows (4 chunks of 16 bits held n / 65536 codes per bucket: a search quadratic in n)."""
    from cleaning.mih import choose_chunks, search_cost

    assert choose_chunks(1_000, 7) is None or choose_chunks(1_000, 7) >= 5
    assert choose_chunks(100_000, 7) == 4
    assert choose_chunks(2_000_000, 7) == 3
    assert choose_chunks(20_000_000, 7) == 3
    for n in (10**5, 10**6, 10**7):
        m = choose_chunks(n, 7)
        assert m is not None and search_cost(n, m, 7) <= search_cost(n, 4, 7)
    assert search_cost(10**7, 3, 7) < search_cost(10**7, 4, 7) / 2
    assert search_cost(10**6, 1, 7) == float("inf")  # above MAX_PROBES: never chosen


def test_identical_codes_are_indexed_once_and_one_owners_pairs_never_expanded(monkeypatch):
    """A static clip: 2,000 identical codes of one video, queried by its own 500 identical codes
    and by another video's. Its own 1,000,000 pairs are never built."""
    code = np.uint64(0x0123456789ABCDEF)
    codes = np.concatenate([np.full(2000, code), np.array([code ^ np.uint64(3)])])
    owners = np.r_[np.zeros(2000, np.int64), 1]
    idx = MultiIndexHash(codes, owners=owners)
    assert len(idx.values) == 2
    largest = []
    ranges = mih._ranges

    def spy(starts, ends):
        which, pos = ranges(starts, ends)
        largest.append(len(pos))
        return which, pos

    monkeypatch.setattr(mih, "_ranges", spy)
    q = np.full(500, code)
    assert idx.query(q, 7, owners=np.zeros(500, np.int64)).tolist() == [[i, 2000] for i in range(500)]
    assert max(largest) <= 1000
    got = idx.query(q[:3], 7, owners=np.full(3, 7))
    assert len(got) == 3 * 2001


def _fingerprint(rng: np.random.Generator, base: np.ndarray | None = None) -> VideoFingerprint:
    T, Q, K = 60, 12, 5
    h = rng.integers(0, 2**64, T, dtype=np.uint64) if base is None else base ^ np.uint64(0b101)
    h[10:30] = h[10]  # a still stretch: repeated codes
    parts = np.stack([h ^ np.uint64(1 << 40), h ^ np.uint64(1 << 50)], 1)
    query = np.linspace(0, T - 1, Q).round().astype(np.int64)
    views = np.stack([h[query]] + [h[query] ^ np.uint64(1 << (20 + k)) for k in range(K - 1)], 1)
    return VideoFingerprint(
        hashes=h, times=np.arange(T) * 2, mirrored=h[::-1].copy(), parts=parts, query=query, views=views
    )


def test_frame_hits_are_the_compatible_pairs_of_two_videos_within_the_radius():
    from cleaning.dedup import _frame_hits

    rng = np.random.default_rng(3)
    fps: list[VideoFingerprint] = []
    for i in range(12):
        fps.append(_fingerprint(rng, fps[i - 3].hashes if i % 4 == 3 else None))
    videos = [VideoRecord(f"v{i}", f"{i:064x}", f, 60, 30.0, 64, 80) for i, f in enumerate(fps)]
    index, queries = _index_views(videos), _query_views(videos)
    icodes, iowner, _, iview = index
    qcodes, qowner, _, qview = queries
    near = np.bitwise_count(qcodes[:, None] ^ icodes[None, :]) <= 7
    near &= (qowner[:, None] != iowner[None, :]) & _compatible(qview[:, None], iview[None, :])
    want = np.argwhere(near)
    assert len(want) > 100
    np.testing.assert_array_equal(_frame_hits(index, queries, 7), want)
