"""Multi-index hashing over 64-bit codes, and union-find clustering.

Near-neighbour search without comparing all pairs: every code is split into ``m`` substrings
(chunks of 64/m bits) with one sorted table per chunk. Two codes within Hamming distance
``r`` agree to within ``r // m`` bits on at least one chunk (pigeonhole, whatever ``m``), so
probing every chunk value within ``r // m`` bits of the query's chunk finds every true
neighbour; the candidates are then verified with the full 64-bit distance. Work per query is
about ``sum over chunks of ball * (1 + n / 2**bits)`` (:func:`search_cost`; ``ball``: the chunk
values within ``r // m`` bits) instead of ``n``. Without a fixed ``m`` the index picks the
cheapest for its size and the radius (:func:`choose_chunks`: about ``64 / log2(n)`` chunks, so a
probed bucket keeps about one code however large the index grows). When no ``m`` costs less
than comparing every code (a radius too large for the chunks, or few codes), the index compares
every code instead: same answer, bounded memory.

Identical codes are indexed once, queries run in blocks (the candidate arrays stay bounded),
and with ``owners`` the pairs of one owner (frames of one video) are dropped before they are
expanded.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

import numpy as np

#: most chunk values one query may probe (all chunks together); :class:`cleaning.config.DedupConfig`
#: refuses an ``index_chunks``/``index_radius`` pair above it (the 64-bit masks alone would fill
#: the memory: 1 chunk and radius 7 is 7.3e8 of them)
MAX_PROBES = 100_000
#: chunks up to this many bits get a dense offset table (2**22 + 1 int64: 32 MB), wider ones a
#: binary search in the sorted values
DENSE_BITS = 22
#: about this many probes (queries x chunk values) or candidates are held at once
BLOCK = 1 << 20


def _spans(m: int) -> list[tuple[int, int]]:
    """The bit ranges ``[lo, hi)`` of the ``m`` chunks of a 64-bit code."""
    return list(itertools.pairwise(np.linspace(0, 64, m + 1).astype(int).tolist()))


def _ball(bits: int, radius: int) -> int:
    """How many values of ``bits`` bits lie within ``radius`` bits of one."""
    return sum(math.comb(bits, k) for k in range(min(radius, bits) + 1))


def probes(m: int, radius: int) -> int:
    """Chunk values an index of ``m`` chunks probes per query for ``radius`` (all chunks together)."""
    return sum(_ball(hi - lo, radius // m) for lo, hi in _spans(m))


def search_cost(n: int, m: int, radius: int) -> float:
    """Estimated work per query of an index of ``n`` distinct codes in ``m`` chunks: every probe
    (a binary search for a chunk wider than :data:`DENSE_BITS`) and every candidate it yields;
    ``inf`` above :data:`MAX_PROBES` probes."""
    if probes(m, radius) > MAX_PROBES:
        return math.inf
    cost = 0.0
    for lo, hi in _spans(m):
        ball = _ball(hi - lo, radius // m)
        look = 1.0 if hi - lo <= DENSE_BITS else max(1.0, math.log2(max(n, 2)))
        cost += ball * (look + n / 2 ** (hi - lo))
    return cost


def choose_chunks(n: int, radius: int) -> int | None:
    """The chunk count (1..16) searching ``n`` distinct codes within ``radius`` costs least with
    (:func:`search_cost`: about ``64 / log2(n)``), or None when comparing every code is cheaper."""
    cost, m = min((search_cost(n, m, radius), m) for m in range(1, 17))
    return m if cost < n else None


def _masks(bits: int, radius: int) -> np.ndarray:
    out = [0]
    for r in range(1, radius + 1):
        for combo in itertools.combinations(range(bits), r):
            out.append(sum(1 << b for b in combo))
    return np.array(out, dtype=np.uint64)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every position of the ranges ``[starts[i], ends[i])``: (range number i, position)."""
    counts = np.maximum(ends - starts, 0)
    total = int(counts.sum())
    which = np.repeat(np.arange(len(counts)), counts)
    if not total:
        return which, np.zeros(0, np.int64)
    pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    return which, pos.astype(np.int64, copy=False)


def _pieces(counts: np.ndarray, limit: int) -> Iterator[slice]:
    """Consecutive slices of ``counts`` summing to about ``limit`` each (one item may exceed it)."""
    cum = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = cum[start - 1] if start else 0
        end = max(start + 1, int(np.searchsorted(cum, base + limit, side="right")))
        yield slice(start, end)
        start = end


def _grouped(values: np.ndarray, owners: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by (value, owner, row); the distinct values; where each one's rows start."""
    rows = np.arange(len(values))
    order = np.lexsort((rows, values) if owners is None else (rows, owners, values))
    v = values[order]
    first = np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if len(v) else np.zeros(0, np.int64)
    return order, v[first], np.r_[first, len(v)].astype(np.int64)


class MultiIndexHash:
    """An index of uint64 codes answering "every pair within radius r" and radius queries.

    ``m``: chunks per code, or None to choose them per search from the index size and radius
    (:func:`choose_chunks`). ``owners``: one label per code (e.g. its video); a query with owners
    then leaves out the pairs whose query and code have the same one.
    """

    def __init__(self, codes: np.ndarray, m: int | None = None, *, owners: np.ndarray | None = None) -> None:
        if m is not None and not 1 <= m <= 16:
            raise ValueError("m must be 1..16")
        self.codes = np.ascontiguousarray(codes, dtype=np.uint64)
        self.m = m
        self.owners = None if owners is None else np.asarray(owners, dtype=np.int64)
        if self.owners is not None and self.owners.shape != self.codes.shape:
            raise ValueError("owners must hold one label per code")
        # rows grouped by distinct code (then owner): identical codes are searched once
        self.members, self.values, self.starts = _grouped(self.codes, self.owners)
        # (distinct code, owner rank) of each member as one sorted key, to find an owner's run
        self._owner_values = np.zeros(0, np.int64)
        self._member_key = np.zeros(0, np.int64)
        if self.owners is not None:
            self._owner_values = np.unique(self.owners)
            rank = np.searchsorted(self._owner_values, self.owners[self.members])
            value = np.repeat(np.arange(len(self.values)), np.diff(self.starts))
            self._member_key = value * (2 * len(self._owner_values) + 1) + 2 * rank + 1
        self._tables: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = {}

    def chunks(self, radius: int) -> int | None:
        """The chunk count a search within ``radius`` uses; None: it compares every code."""
        n = len(self.values)
        if self.m is None:
            return choose_chunks(n, radius)
        return None if search_cost(n, self.m, radius) >= n else self.m

    def _tables_for(self, m: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Per chunk: the distinct codes' order by chunk value, the sorted values, and where each
        value's run starts (a dense offset table up to :data:`DENSE_BITS` bits, else None)."""
        if m not in self._tables:
            tables = []
            for lo, hi in _spans(m):
                chunk = _chunk(self.values, lo, hi)
                order = np.argsort(chunk, kind="stable")
                starts = None
                if hi - lo <= DENSE_BITS:
                    counts = np.bincount(chunk.astype(np.int64), minlength=1 << (hi - lo))
                    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
                tables.append((chunk[order], order, starts))
            self._tables = {m: tables}  # one layout held at a time
        return self._tables[m]

    def _near(self, queries: np.ndarray, radius: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(query, distinct code) pairs within ``radius``, each once, in blocks of queries."""
        m = self.chunks(radius)
        if m is None:
            hits = _query_all(queries, self.values, radius)
            yield hits[:, 0], hits[:, 1]
            return
        spans = _spans(m)
        tables = self._tables_for(m)
        masks = [_masks(hi - lo, radius // m) for lo, hi in spans]
        step = max(1, BLOCK // max(len(k) for k in masks))
        for start in range(0, len(queries), step):
            q = queries[start : start + step]
            found = []
            for (lo, hi), table, mk in zip(spans, tables, masks, strict=True):
                found.extend(self._probe(q, lo, hi, table, mk, radius))
            if found:
                flat = np.unique(np.concatenate(found))
                yield flat // len(self.values) + start, flat % len(self.values)

    def _probe(
        self,
        q: np.ndarray,
        lo: int,
        hi: int,
        table: tuple[np.ndarray, np.ndarray, np.ndarray | None],
        masks: np.ndarray,
        radius: int,
    ) -> Iterator[np.ndarray]:
        """One chunk's probes of a block of queries: ``query * n + code`` of the verified pairs."""
        sorted_vals, order, starts = table
        chunk = _chunk(q, lo, hi)
        if starts is not None:  # chunk values and masks below 2**22: int64 indices, no copy
            probe = (chunk.astype(np.int64)[:, None] ^ masks.astype(np.int64)[None, :]).ravel()
            left, right = starts[:-1][probe], starts[1:][probe]
        else:
            probe = (chunk[:, None] ^ masks[None, :]).ravel()
            left = np.searchsorted(sorted_vals, probe, side="left")
            right = np.searchsorted(sorted_vals, probe, side="right")
        hit = np.flatnonzero(right > left)
        left, right, qn = left[hit], right[hit], hit // len(masks)
        for part in _pieces(right - left, BLOCK):
            which, pos = _ranges(left[part], right[part])
            qi, di = qn[part][which], order[pos]
            close = np.bitwise_count(q[qi] ^ self.values[di]) <= radius
            if close.any():
                yield qi[close].astype(np.int64) * len(self.values) + di[close]

    def _expand(
        self,
        qv: np.ndarray,
        u: np.ndarray,
        qorder: np.ndarray,
        qstarts: np.ndarray,
        qowners: np.ndarray | None,
    ) -> np.ndarray:
        """(query row, code row) pairs of (distinct query code, distinct code) pairs, leaving out
        the pairs of one owner before expanding them; ``query * len(codes) + code``."""
        if qowners is None:  # no owners: every row of the one with every row of the other
            which, qpos = _ranges(qstarts[qv], qstarts[qv + 1])
            kq, ku = qorder[qpos], u[which]
            which, mpos = _ranges(self.starts[ku], self.starts[ku + 1])
            return kq[which] * len(self.codes) + self.members[mpos]
        which, qpos = _ranges(qstarts[qv], qstarts[qv + 1])
        # per query row: the code's rows of another owner, on either side of its own owner's run
        ku, kq = u[which], qorder[qpos]
        lo_u, hi_u = self.starts[ku], self.starts[ku + 1]
        own = self._owner_key(qowners[kq]) + ku * (2 * len(self._owner_values) + 1)
        eq_lo = np.searchsorted(self._member_key, own, side="left")
        eq_hi = np.searchsorted(self._member_key, own, side="right")
        out = []
        for a, b in ((lo_u, eq_lo), (eq_hi, hi_u)):
            which, mpos = _ranges(a, b)
            out.append(kq[which] * len(self.codes) + self.members[mpos])
        return np.concatenate(out)

    def _owner_key(self, owners: np.ndarray) -> np.ndarray:
        """``2 * rank + 1`` of owners the index holds, an even number between ranks for others."""
        pos = np.searchsorted(self._owner_values, owners)
        held = self._owner_values[np.minimum(pos, max(0, len(self._owner_values) - 1))] == owners
        return 2 * pos + held

    def query(self, queries: np.ndarray, radius: int, *, owners: np.ndarray | None = None) -> np.ndarray:
        """Every ``(query index, indexed code index)`` within ``radius``: int64 ``[P, 2]``, sorted.

        With ``owners`` (one label per query; the index needs owners too) the pairs whose query
        and code have the same owner are left out.
        """
        q = np.ascontiguousarray(queries, dtype=np.uint64)
        if (owners is None) != (self.owners is None):
            raise ValueError("owners must be given to both the index and the query, or to neither")
        qowners = None if owners is None else np.asarray(owners, dtype=np.int64)
        qorder, qvalues, qstarts = _grouped(q, qowners)
        found = [np.zeros(0, np.int64)]
        for qv, u in self._near(qvalues, radius):
            for part in _pieces(np.diff(qstarts)[qv] * np.diff(self.starts)[u], BLOCK):
                found.append(self._expand(qv[part], u[part], qorder, qstarts, qowners))
        flat = np.sort(np.concatenate(found))
        return np.stack([flat // max(1, len(self.codes)), flat % max(1, len(self.codes))], axis=1)

    def pairs(self, radius: int) -> np.ndarray:
        """Every pair ``(i, j)``, ``i < j``, of indexed codes within ``radius``: int64 ``[P, 2]``, sorted."""
        if self.owners is not None:
            raise ValueError("pairs() of an index with owners: use query()")
        hits = self.query(self.codes, radius)
        return hits[hits[:, 0] < hits[:, 1]]


def _chunk(codes: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return (codes >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)


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
