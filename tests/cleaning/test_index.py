"""Perceptual hashes, the multi-index hashing index and union-find."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

import cleaning.mih as mih
from cleaning.mih import MultiIndexHash, UnionFind, all_pairs, probes
from cleaning.phash import hamming, phash
from tests.cleaning.media_helpers import scene


def _codes(n: int, planted: int, radius: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    for _ in range(planted):
        i, j = rng.choice(n, 2, replace=False)
        c = codes[i]
        for b in rng.choice(64, int(rng.integers(0, radius + 2)), replace=False):
            c ^= np.uint64(1) << np.uint64(b)
        codes[j] = c
    return codes


@pytest.mark.parametrize("m,radius", [(4, 7), (4, 3), (5, 9), (2, 3), (8, 7)])
def test_index_finds_exactly_the_brute_force_pairs(m, radius):
    codes = _codes(3000, 60, radius, seed=m * 10 + radius)
    got = MultiIndexHash(codes, m).pairs(radius)
    want = all_pairs(codes, radius)
    assert len(want) >= 40  # planted pairs exist (some are planted one bit too far on purpose)
    np.testing.assert_array_equal(got, want)


def test_query_returns_neighbours_of_new_codes():
    codes = _codes(2000, 0, 0, seed=3)
    idx = MultiIndexHash(codes, 4)
    q = codes[[5, 17]] ^ np.uint64(0b1011)  # 3 bits away
    hits = idx.query(q, 4)
    assert {(0, 5), (1, 17)} <= {tuple(map(int, h)) for h in hits}
    assert all(hamming(q[a], codes[b]) <= 4 for a, b in hits)


def test_probes_count_the_chunk_values_a_query_visits():
    assert probes(4, 7) == 4 * (1 + 16)  # 16-bit chunks, within 1 bit
    assert probes(8, 7) == 8  # 8-bit chunks, the exact value only
    assert probes(1, 7) == sum(math.comb(64, k) for k in range(8))  # about 7.3e8


@pytest.mark.parametrize("m,radius", [(1, 7), (4, 32), (2, 12)])
def test_a_radius_too_wide_for_the_chunks_compares_every_code_instead(monkeypatch, m, radius):
    """Listing every chunk value within radius // m bits would not end (1 chunk, radius 7: 7.3e8
    masks): the index compares all codes instead, with the same answer."""

    def no_masks(bits, r):
        raise AssertionError(f"listed the masks of {bits} bits within {r}")

    monkeypatch.setattr(mih, "_masks", no_masks)
    codes = _codes(400, 30, 7, seed=m + radius)
    np.testing.assert_array_equal(MultiIndexHash(codes, m).pairs(radius), all_pairs(codes, radius))
    q = codes[:25] ^ np.uint64(0b101)
    want = np.argwhere(np.bitwise_count(q[:, None] ^ codes[None, :]) <= radius)
    np.testing.assert_array_equal(MultiIndexHash(codes, m).query(q, radius), want)


def test_the_index_is_used_where_it_pays_off(monkeypatch):
    def no_brute_force(*args, **kwargs):
        raise AssertionError("compared every code")

    monkeypatch.setattr(mih, "all_pairs", no_brute_force)
    monkeypatch.setattr(mih, "_query_all", no_brute_force)
    codes = _codes(3000, 60, 7, seed=1)
    idx = MultiIndexHash(codes, 4)
    assert len(idx.pairs(7)) >= 40 and len(idx.query(codes[:10], 7)) >= 10


def test_union_find_groups():
    uf = UnionFind(["a", "b", "c", "d", "e"])
    uf.union("a", "b")
    uf.union("c", "d")
    uf.union("b", "d")
    assert sorted(sorted(g) for g in uf.groups()) == [["a", "b", "c", "d"]]
    assert uf.find("e") == "e"


def test_phash_is_robust_to_edits_and_separates_different_images():
    a, b = scene(1, 1, 320, 240)[0], scene(2, 1, 320, 240)[0]
    h = phash(a)
    resized = cv2.resize(a, (200, 150), interpolation=cv2.INTER_AREA)
    brighter = np.clip(a.astype(np.int32) * 1.15, 0, 255).astype(np.uint8)
    cropped = cv2.resize(a[6:-6, 6:-6], (320, 240))
    ok, jpg = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, 40])
    recompressed = cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED)
    for edited in (resized, brighter, cropped, recompressed):
        assert hamming(h, phash(edited)) <= 12
    assert hamming(h, phash(b)) > 16
