"""Multi-index hashing over 64-bit codes, and union-find clustering.

Near-neighbour search without comparing all pairs: every code is split into ``m`` substrings
(chunks of 64/m bits) with one sorted table per chunk. Two codes within Hamming distance
``r`` agree to within ``r // m`` bits on at least one chunk (pigeonhole), so probing every
chunk value within ``r // m`` bits of the query's chunk finds every true neighbour; the
candidates are then verified with the full 64-bit distance. Work per query is about
``probes * (1 + n / 2**(64/m))`` (:func:`probes`: every chunk value within ``r // m`` bits)
instead of ``n``. When that is not less (a radius too large for the chunk count, or few codes),
the index compares every code instead: same answer, bounded memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import numpy as np

#: most chunk values one query may probe (all chunks together); :class:`cleaning.config.DedupConfig`
#: refuses an ``index_chunks``/``index_radius`` pair above it (the 64-bit masks alone would fill
#: the memory: 1 chunk and radius 7 is 7.3e8 of them)
MAX_PROBES = 100_000


def _spans(m: int) -> list[tuple[int, int]]:
    """The bit ranges ``[lo, hi)`` of the ``m`` chunks of a 64-bit code."""
    return list(itertools.pairwise(np.linspace(0, 64, m + 1).astype(int).tolist()))


def _ball(bits: int, radius: int) -> int:
    """How many values of ``bits`` bits lie within ``radius`` bits of one."""
    return sum(math.comb(bits, k) for k in range(min(radius, bits) + 1))


def probes(m: int, radius: int) -> int:
    """Chunk values an index of ``m`` chunks probes per query for ``radius`` (all chunks together)."""
    return sum(_ball(hi - lo, radius // m) for lo, hi in _spans(m))


def _masks(bits: int, radius: int) -> np.ndarray:
    out = [0]
    for r in range(1, radius + 1):
        for combo in itertools.combinations(range(bits), r):
            out.append(sum(1 << b for b in combo))
    return np.array(out, dtype=np.uint64)


class MultiIndexHash:
    """An index of uint64 codes answering "every pair within radius r" and radius queries."""

    def __init__(self, codes: np.ndarray, m: int = 4) -> None:
        if not 1 <= m <= 16:
            raise ValueError("m must be 1..16")
        self.codes = np.ascontiguousarray(codes, dtype=np.uint64)
        self.m = m
        self.spans = _spans(m)
        # per chunk: the code indices sorted by chunk value, and where each value's run starts
        # (a dense offset table for chunks up to 22 bits, else binary search in the sorted values)
        self.tables: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        for lo, hi in self.spans:
            chunk = self._chunk(self.codes, lo, hi)
            order = np.argsort(chunk, kind="stable")
            starts = None
            if hi - lo <= 22:
                counts = np.bincount(chunk.astype(np.int64), minlength=1 << (hi - lo))
                starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self.tables.append((chunk[order], order, starts))

    @staticmethod
    def _chunk(codes: np.ndarray, lo: int, hi: int) -> np.ndarray:
        return (codes >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)

    def _compares_all(self, radius: int) -> bool:
        """True when probing for ``radius`` costs at least as much as comparing every code (each
        chunk's ball of values times the codes per value; see the module docstring)."""
        balls = [_ball(hi - lo, radius // self.m) for lo, hi in self.spans]
        if sum(balls) > MAX_PROBES:
            return True
        n = len(self.codes)
        return sum(b * (1 + n / 2 ** (hi - lo)) for b, (lo, hi) in zip(balls, self.spans, strict=True)) >= n

    def _candidates(self, queries: np.ndarray, radius: int) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        sub = radius // self.m
        for (lo, hi), (sorted_vals, order, starts) in zip(self.spans, self.tables, strict=True):
            qchunk = self._chunk(queries, lo, hi)
            for mask in _masks(hi - lo, sub):
                probe = qchunk ^ mask
                if starts is not None:
                    p = probe.astype(np.int64)
                    left, right = starts[p], starts[p + 1]
                else:
                    left = np.searchsorted(sorted_vals, probe, side="left")
                    right = np.searchsorted(sorted_vals, probe, side="right")
                counts = right - left
                hit = np.nonzero(counts)[0]
                if hit.size == 0:
                    continue
                c = counts[hit]
                q_idx = np.repeat(hit, c)
                pos = np.repeat(left[hit] - np.cumsum(c) + c, c) + np.arange(c.sum())
                yield q_idx, order[pos]

    def pairs(self, radius: int) -> np.ndarray:
        """Every pair ``(i, j)``, ``i < j``, of indexed codes within ``radius``: int64 ``[P, 2]``, sorted."""
        if self._compares_all(radius):
            return all_pairs(self.codes, radius)
        found = []
        for qi, di in self._candidates(self.codes, radius):
            keep = qi < di
            qi, di = qi[keep], di[keep]
            close = np.bitwise_count(self.codes[qi] ^ self.codes[di]) <= radius
            if close.any():
                found.append(qi[close].astype(np.int64) * len(self.codes) + di[close])
        if not found:
            return np.zeros((0, 2), np.int64)
        flat = np.unique(np.concatenate(found))
        return np.stack([flat // len(self.codes), flat % len(self.codes)], axis=1)

    def query(self, queries: np.ndarray, radius: int) -> np.ndarray:
        """Every ``(query index, indexed code index)`` within ``radius``: int64 ``[P, 2]``, sorted."""
        q = np.ascontiguousarray(queries, dtype=np.uint64)
        if self._compares_all(radius):
            return _query_all(q, self.codes, radius)
        found = []
        for qi, di in self._candidates(q, radius):
            close = np.bitwise_count(q[qi] ^ self.codes[di]) <= radius
            if close.any():
                found.append(qi[close].astype(np.int64) * len(self.codes) + di[close])
        if not found:
            return np.zeros((0, 2), np.int64)
        flat = np.unique(np.concatenate(found))
        return np.stack([flat // len(self.codes), flat % len(self.codes)], axis=1)


def all_pairs(
    codes: np.ndarray, radius: int, rows: np.ndarray | None = None, block: int | None = None
) -> np.ndarray:
    """Brute-force baseline: pairs ``(i, j)``, ``i < j``, within ``radius`` (only rows ``rows`` if given).

    Rows are processed in blocks of about 4M distances (cache-friendly, bounded memory).
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    block = block or max(1, 4_000_000 // max(1, len(codes)))
    rows = np.arange(len(codes)) if rows is None else np.asarray(rows)
    out = []
    for start in range(0, len(rows), block):
        r = rows[start : start + block]
        d = np.bitwise_count(codes[r, None] ^ codes[None, :])
        i, j = np.nonzero(d <= radius)
        i = r[i]
        keep = i < j
        out.append(np.stack([i[keep], j[keep]], axis=1))
    res = np.concatenate(out) if out else np.zeros((0, 2), np.int64)
    order = np.lexsort((res[:, 1], res[:, 0]))
    return res[order].astype(np.int64)


def _query_all(queries: np.ndarray, codes: np.ndarray, radius: int) -> np.ndarray:
    """Brute-force :meth:`MultiIndexHash.query`: every ``(query, code)`` within ``radius``, sorted,
    in blocks of about 4M distances."""
    block = max(1, 4_000_000 // max(1, len(codes)))
    out = [np.zeros((0, 2), np.int64)]
    for start in range(0, len(queries), block):
        d = np.bitwise_count(queries[start : start + block, None] ^ codes[None, :])
        i, j = np.nonzero(d <= radius)
        out.append(np.stack([i + start, j], axis=1).astype(np.int64))
    return np.concatenate(out)


class UnionFind:
    """Disjoint sets over hashable keys (path halving, union by size)."""

    def __init__(self, keys: Iterable[object] = ()) -> None:
        self.parent: dict[object, object] = {}
        self.size: dict[object, int] = {}
        for k in keys:
            self.add(k)

    def add(self, key: object) -> None:
        if key not in self.parent:
            self.parent[key] = key
            self.size[key] = 1

    def find(self, key: object) -> object:
        self.add(key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def groups(self) -> list[list[object]]:
        """Every set with more than one member, members in insertion order."""
        out: dict[object, list[object]] = {}
        for k in self.parent:
            out.setdefault(self.find(k), []).append(k)
        return [g for g in out.values() if len(g) > 1]
