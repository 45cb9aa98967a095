"""Duplicate detection: exact copies, near-duplicate and partial (sub-clip) videos, shop images.

* Exact: equal SHA-256.
* Near-duplicate and partial videos: every video is a sequence of 64-bit frame hashes
  (:mod:`cleaning.fingerprint`). All frame hashes go into one multi-index hashing table
  (:class:`cleaning.mih.MultiIndexHash`); video pairs sharing at least ``min_shared_frames``
  near-identical frames become candidates (no all-pairs comparison). A candidate is verified
  by aligning the two sequences: for each offset suggested by the shared frames, count the
  shorter video's frames whose hash lies within ``frame_distance`` of the longer video's frame
  at that offset; the pair is a duplicate when the best fraction reaches ``min_matched_fraction``.
  It is a sub-clip when the shorter covers less than 90% of the longer, else a re-encode.
* Shop images: pHash within ``image_distance`` and 4x4 colour thumbnails within
  ``image_colour_tolerance`` (pHash sees structure only: two products of one cut in two colours
  would otherwise collide).

Pairs are clustered with union-find. **Keep rule** (one per cluster): the longest video, then
the highest resolution, then Regular over Hard, then the smallest key. Images: the highest
resolution, then Regular over Hard, then the smallest key.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from cleaning.config import DedupConfig
from cleaning.mih import MultiIndexHash, UnionFind
from schemas.taxonomy import Partition


@dataclass
class VideoRecord:
    """What dedup needs to know of one video."""

    key: str
    sha256: str
    hashes: np.ndarray
    frames: int
    fps: float
    width: int
    height: int
    partition: Partition = Partition.HARD

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps > 0 else float(self.frames)


@dataclass
class ImageRecord:
    """One image: pHash (structure) plus a 4x4 RGB thumbnail (colour, which pHash ignores)."""

    key: str
    sha256: str
    hash: int
    width: int
    height: int
    partition: Partition = Partition.HARD
    colour: np.ndarray | None = None


def colour_signature(image: np.ndarray) -> np.ndarray:
    """4x4 RGB thumbnail (uint8, 48 values) of an image."""
    import cv2

    return cv2.resize(np.ascontiguousarray(image), (4, 4), interpolation=cv2.INTER_AREA).reshape(-1)


@dataclass(frozen=True)
class DuplicatePair:
    a: str
    b: str
    kind: str  # exact | reencode | subclip | image
    matched_fraction: float = 1.0
    offset: int = 0


@dataclass
class DedupResult:
    """``duplicate_of[key] = kept key`` for every non-kept member; ``kind[key]`` how it duplicates."""

    pairs: list[DuplicatePair] = field(default_factory=list)
    duplicate_of: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    clusters: list[list[str]] = field(default_factory=list)


def align(short: np.ndarray, long: np.ndarray, offsets: list[int], max_distance: int) -> tuple[float, int]:
    """Best (fraction of ``short`` frames matched, offset) over candidate offsets of ``short`` in ``long``."""
    best = (0.0, 0)
    n = len(short)
    if n == 0:
        return best
    for off in offsets:
        i = np.arange(n)
        j = i + off
        ok = (j >= 0) & (j < len(long))
        if not ok.any():
            continue
        d = np.bitwise_count(short[i[ok]] ^ long[j[ok]])
        frac = float((d <= max_distance).sum()) / n
        if frac > best[0]:
            best = (frac, off)
    return best


def _video_rank(v: VideoRecord) -> tuple:
    return (-round(v.duration, 3), -(v.width * v.height), v.partition != Partition.REGULAR, v.key)


def _image_rank(v: ImageRecord) -> tuple:
    return (-(v.width * v.height), v.partition != Partition.REGULAR, v.key)


def _clusters(keys: list[str], pairs: list[DuplicatePair], rank) -> DedupResult:
    uf = UnionFind(keys)
    for p in pairs:
        uf.union(p.a, p.b)
    res = DedupResult(pairs=pairs)
    kind_of: dict[str, str] = {}
    for p in pairs:
        for k in (p.a, p.b):
            prev = kind_of.get(k)
            # the most specific evidence wins: exact > reencode > subclip > image
            order = ["exact", "reencode", "subclip", "image"]
            if prev is None or order.index(p.kind) < order.index(prev):
                kind_of[k] = p.kind
    for group in uf.groups():
        members = sorted(group, key=rank)
        res.clusters.append([str(m) for m in members])
        for m in members[1:]:
            res.duplicate_of[str(m)] = str(members[0])
            res.kind[str(m)] = kind_of.get(str(m), "reencode")
    return res


def find_video_duplicates(videos: list[VideoRecord], cfg: DedupConfig | None = None) -> DedupResult:
    """Cluster duplicate videos (exact, re-encoded, sub-clips) and pick one to keep per cluster."""
    cfg = cfg or DedupConfig()
    by_key = {v.key: v for v in videos}
    pairs: dict[tuple[str, str], DuplicatePair] = {}
    by_sha: dict[str, list[str]] = defaultdict(list)
    for v in videos:
        if v.sha256:
            by_sha[v.sha256].append(v.key)
    for keys in by_sha.values():
        for other in keys[1:]:
            a, b = sorted((keys[0], other))
            pairs[(a, b)] = DuplicatePair(a, b, "exact")

    owners = np.concatenate([np.full(len(v.hashes), i) for i, v in enumerate(videos)] or [np.zeros(0, int)])
    pos = np.concatenate([np.arange(len(v.hashes)) for v in videos] or [np.zeros(0, int)])
    codes = np.concatenate([v.hashes for v in videos] or [np.zeros(0, np.uint64)]).astype(np.uint64)
    if len(codes):
        frame_pairs = MultiIndexHash(codes, cfg.index_chunks).pairs(cfg.index_radius)
        votes: dict[tuple[int, int], Counter] = defaultdict(Counter)
        for i, j in frame_pairs:
            vi, vj = int(owners[i]), int(owners[j])
            if vi == vj:
                continue
            if vi > vj:
                vi, vj, i, j = vj, vi, j, i
            votes[(vi, vj)][int(pos[j] - pos[i])] += 1
        for (vi, vj), offsets in votes.items():
            a, b = videos[vi], videos[vj]
            key = tuple(sorted((a.key, b.key)))
            if key in pairs or sum(offsets.values()) < min(
                cfg.min_shared_frames, len(a.hashes), len(b.hashes)
            ):
                continue
            # align the shorter sequence inside the longer; offsets are b-position minus a-position
            if len(a.hashes) <= len(b.hashes):
                short, long, sign = a.hashes, b.hashes, 1
            else:
                short, long, sign = b.hashes, a.hashes, -1
            cands = sorted({sign * o + d for o, _ in offsets.most_common(5) for d in (-1, 0, 1)})
            frac, off = align(short, long, cands, cfg.frame_distance)
            if frac >= cfg.min_matched_fraction:
                kind = "reencode" if len(short) >= 0.9 * len(long) else "subclip"
                pairs[key] = DuplicatePair(key[0], key[1], kind, round(frac, 4), off)
    return _clusters(
        [v.key for v in videos],
        sorted(pairs.values(), key=lambda p: (p.a, p.b)),
        lambda k: _video_rank(by_key[k]),
    )


def find_image_duplicates(images: list[ImageRecord], cfg: DedupConfig | None = None) -> DedupResult:
    """Cluster duplicate images (equal bytes or pHash within ``image_distance``)."""
    cfg = cfg or DedupConfig()
    by_key = {v.key: v for v in images}
    pairs: dict[tuple[str, str], DuplicatePair] = {}
    if images:
        codes = np.array([im.hash for im in images], dtype=np.uint64)
        for i, j in MultiIndexHash(codes, cfg.index_chunks).pairs(cfg.image_distance):
            ci, cj = images[i].colour, images[j].colour
            if (
                ci is not None
                and cj is not None
                and np.abs(ci.astype(np.int32) - cj.astype(np.int32)).mean() > cfg.image_colour_tolerance
            ):
                continue
            a, b = sorted((images[i].key, images[j].key))
            kind = "exact" if images[i].sha256 and images[i].sha256 == images[j].sha256 else "image"
            pairs[(a, b)] = DuplicatePair(a, b, kind)
        by_sha: dict[str, list[str]] = defaultdict(list)
        for im in images:
            by_sha[im.sha256].append(im.key)
        for keys in by_sha.values():
            for other in keys[1:]:
                a, b = sorted((keys[0], other))
                pairs[(a, b)] = DuplicatePair(a, b, "exact")
    return _clusters(
        [im.key for im in images],
        sorted(pairs.values(), key=lambda p: (p.a, p.b)),
        lambda k: _image_rank(by_key[k]),
    )
