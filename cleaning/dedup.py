"""Duplicate detection: exact copies, near-duplicate, re-posted and partial (sub-clip) videos, shop images.

* Exact: equal SHA-256.
* Near-duplicate, re-posted and partial videos, in two stages.

  1. Candidates (no all-pairs comparison). Every video is fingerprinted
     (:mod:`cleaning.fingerprint`): per sampled frame, the 64-bit hash of the picture inside any
     letterbox/pillarbox bars, of its mirror image, of it turned 90, 180 and 270 degrees
     (``match_rotated``), of those turns mirrored (``match_mirrored_rotated``) and of its top and
     bottom parts go into one
     multi-index hashing index per kind of view (:class:`cleaning.mih.MultiIndexHash`: chunks
     sized to the index, a video's pairs with itself left out early); the hashes of a grid of
     smaller windows of up to ``query_frames`` frames per video query it within ``index_radius``
     bits. Each (video pair, window, view) with at least ``min_shared_frames`` matching frames
     gives a time map (:mod:`cleaning.timealign`: offset and speed) and a hash score, the
     fraction of the window's frames within ``frame_distance`` bits of the mapped frames.
     A crop or zoom matches one of the windows, a copy cropped to fill another aspect (1:1, 4:5,
     9:16...: two borders cut) one of the video's fill windows (``fill_aspects``), a copy fitted
     over a blurred, enlarged copy of itself has the fill cut off like bars
     (``strip_blurred_fill``), a mirrored copy the mirrored view, a rotated
     copy (a phone clip re-encoded turned, or its rotation tag dropped) a turned view, a copy
     both mirrored and turned (a vertical flip among them) a mirrored turned view, bars are
     trimmed, a caption band spares one of the parts, a speed change is a slope of the time map,
     a copy played backwards a negative slope (``match_reversed``).
  2. Verification on pixels (:mod:`cleaning.verify`) when the records carry their files: the best
     ``max_hypotheses`` alignments are registered and compared frame by frame; the pair is a
     duplicate when one scores at least ``verify_threshold``. Without files the hash score must
     reach ``min_matched_fraction``. A verified pair's evidence can be kept between runs by the
     SHA-256 of its two videos (:class:`PairCache`), so a rerun decodes nothing to verify it again;
     it is kept stamped with :data:`PAIR_EVIDENCE_VERSION` and the dedup config, and evidence of
     another stamp (an older release's comparison, other thresholds) is verified again.

  A pair is a re-encode when the alignment covers at least 90% of both videos, else a sub-clip.
* Shop images: pHash within ``image_distance`` and 4x4 colour thumbnails within
  ``image_colour_tolerance`` (pHash sees structure only: two products of one cut in two colours
  would otherwise collide), then the pixels of the pair within ``image_pixel_tolerance``
  (:func:`image_difference`: studio shots of other products of one cut on one background pass
  both hashes).

Pairs are clustered with union-find. **Keep rule** (one per cluster): first the caller's
preference (``prefer``: the cleaning step puts videos whose item can be accepted first, so a usable
item is never lost as the duplicate of one without a shop image or rejected), then the longest
video, then the highest resolution, then Regular over Hard, then the smallest key. Images: the
highest resolution, then Regular over Hard, then the smallest key.
"""

from __future__ import annotations

import contextlib
import heapq
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from cleaning.config import DedupConfig
from cleaning.fingerprint import VideoFingerprint, decode_size, to_grey
from cleaning.mih import MultiIndexHash, UnionFind
from cleaning.timealign import TimeMap, fit_time_map, speed_grid
from cleaning.verify import FrameLoader, Hypothesis, Side, verify_pair
from cleaning.views import FULL, Window, part_windows, window_grid
from schemas.errors import MediaError
from schemas.taxonomy import Partition


@dataclass
class VideoRecord:
    """What dedup needs to know of one video (``path``: its file, for verification on pixels)."""

    key: str
    sha256: str
    fingerprint: VideoFingerprint
    frames: int
    fps: float
    width: int
    height: int
    partition: Partition = Partition.HARD
    path: str | os.PathLike[str] | None = None
    #: digest of the video stream's coded pictures: equal for one stream in two containers or
    #: with two rotation tags (None: not known)
    stream: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.fingerprint, VideoFingerprint):  # a bare hash sequence
            self.fingerprint = VideoFingerprint(np.asarray(self.fingerprint, dtype=np.uint64))

    @property
    def hashes(self) -> np.ndarray:
        return self.fingerprint.hashes

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
    matched_fraction: float = 1.0  # hash score of the alignment
    offset: int = 0  # samples
    score: float | None = None  # verification score (None: not verified on pixels)
    speed: float = 1.0  # b plays this many times as fast as a (negative: backwards)
    #: how one shows the other: reversed, mirror, rotated (``rotated 90``: b shows a turned 90
    #: degrees clockwise; 180, 270; ``mirror, rotated 90``: b shows a mirrored, then turned 90
    #: degrees clockwise, and a shows b so too), window, part (empty: the whole picture)
    transform: str = ""


@dataclass
class DedupResult:
    """``duplicate_of[key] = kept key`` for every non-kept member; ``kind[key]`` how it duplicates."""

    pairs: list[DuplicatePair] = field(default_factory=list)
    duplicate_of: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    clusters: list[list[str]] = field(default_factory=list)
    #: candidate pairs whose kept evidence had another stamp (version or config): verified again
    pairs_recomputed: int = 0


def _video_rank(v: VideoRecord) -> tuple:
    return (-round(v.duration, 3), -(v.width * v.height), v.partition != Partition.REGULAR, v.key)


def _image_rank(v: ImageRecord) -> tuple:
    return (-(v.width * v.height), v.partition != Partition.REGULAR, v.key)


#: duplicate kinds, most specific first
KIND_ORDER = ("exact", "reencode", "subclip", "image")


def _kinds_from(kept: str, links: dict[str, list[tuple[str, int]]]) -> dict[str, str]:
    """How each video linked to ``kept`` duplicates it: the least specific kind on its most
    specific path of pairs to ``kept`` (a re-encode's byte copy is a re-encode of ``kept``, not
    an exact duplicate because it is one of the re-encode)."""
    best = {kept: -1}
    heap = [(-1, kept)]
    while heap:
        level, key = heapq.heappop(heap)
        if level > best[key]:
            continue
        for other, kind in links.get(key, ()):
            worst = max(level, kind)
            if worst < best.get(other, len(KIND_ORDER)):
                best[other] = worst
                heapq.heappush(heap, (worst, other))
    return {k: KIND_ORDER[v] for k, v in best.items() if k != kept}


def _clusters(keys: list[str], pairs: list[DuplicatePair], rank) -> DedupResult:
    uf = UnionFind(keys)
    links: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for p in pairs:
        uf.union(p.a, p.b)
        links[p.a].append((p.b, KIND_ORDER.index(p.kind)))
        links[p.b].append((p.a, KIND_ORDER.index(p.kind)))
    res = DedupResult(pairs=pairs)
    for group in uf.groups():
        members = sorted(group, key=rank)
        res.clusters.append([str(m) for m in members])
        kind_of = _kinds_from(members[0], links) if len(members) > 1 else {}
        for m in members[1:]:
            res.duplicate_of[str(m)] = str(members[0])
            res.kind[str(m)] = kind_of.get(m, "reencode")
    return res


# index views (per sampled frame) and the query views that may match them; _TURNED[k - 1]: the
# box turned k quarter turns counter-clockwise (np.rot90); _MIRROR_TURNED[k - 1]: that turn
# mirrored left-right (np.fliplr(np.rot90(box, k)))
_FULL, _MIRROR, _TOP, _BOTTOM = 0, 1, 2, 3
_TURNED = (4, 5, 6)
_MIRROR_TURNED = (7, 8, 9)
_N_VIEWS = 10
#: index views a window of the content box may match
_WHOLE_VIEWS = (_FULL, _MIRROR, *_TURNED, *_MIRROR_TURNED)


@dataclass(frozen=True)
class _Candidate:
    """One alignment of a pair: video ``a``'s query view shows video ``b``'s index view."""

    a: int
    b: int
    qview: int  # window index, or -1 (top part) / -2 (bottom part)
    iview: int  # _FULL, _MIRROR, _TOP, _BOTTOM or one of _TURNED or _MIRROR_TURNED
    tmap: TimeMap
    hash_score: float
    bits: float  # median Hamming distance of the aligned frames
    coverage: tuple[float, float]  # share of a's and of b's samples inside the aligned span


class FileFrames:
    """Decodes (and keeps) the grey frames of records that carry a path, at the fingerprint size.

    A clip of at most ``whole_clip`` frames is decoded whole on first use (one sequential pass
    costs about as much as a few seeks); longer ones frame by frame as asked. The frames of the
    ``max_videos`` most recently used videos are kept.
    """

    def __init__(self, videos: list[VideoRecord], max_videos: int = 16, whole_clip: int = 300) -> None:
        self.by_key = {v.key: v for v in videos if v.path is not None}
        self.max_videos = max_videos
        self.whole_clip = whole_clip
        self.cache: dict[str, dict[int, np.ndarray]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self.by_key

    def __call__(self, key: str, indices: list[int]) -> np.ndarray:
        from movingfashion.media.readers import read_frames

        v = self.by_key[key]
        got = self.cache.pop(key, {})
        self.cache[key] = got  # most recently used last
        missing = sorted({int(i) for i in indices} - set(got))
        w, h = decode_size(v.width, v.height)
        if missing and not got and 0 < v.frames <= self.whole_clip:
            whole = list(range(v.frames))
            with contextlib.suppress(MediaError):  # fewer frames than the probe said: decode what is asked
                got.update(zip(whole, to_grey(read_frames(v.path, whole, size=(h, w))), strict=True))  # type: ignore[arg-type]
            missing = sorted({int(i) for i in indices} - set(got))
        if missing:
            got.update(zip(missing, to_grey(read_frames(v.path, missing, size=(h, w))), strict=True))  # type: ignore[arg-type]
        while len(self.cache) > self.max_videos:
            self.cache.pop(next(iter(self.cache)))
        return np.stack([got[int(i)] for i in indices])


def _index_views(
    videos: list[VideoRecord], turned: bool = True, mirror_turned: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes, owner, sample, view = [], [], [], []
    for vi, v in enumerate(videos):
        fp = v.fingerprint
        t = np.arange(len(fp), dtype=np.int64)
        parts = [(fp.hashes, _FULL), (fp.mirrored, _MIRROR)]
        if len(fp.parts) == len(fp):
            parts += [(fp.parts[:, 0], _TOP), (fp.parts[:, 1], _BOTTOM)]
        if turned and len(fp.turned) == len(fp):
            parts += [(fp.turned[:, k], _TURNED[k]) for k in range(3)]
        if mirror_turned and len(fp.mirror_turned) == len(fp):
            parts += [(fp.mirror_turned[:, k], _MIRROR_TURNED[k]) for k in range(3)]
        for c, kind in parts:
            if len(c) == len(fp) and len(c):
                codes.append(c)
                owner.append(np.full(len(c), vi))
                sample.append(t)
                view.append(np.full(len(c), kind))
    if not codes:
        return (np.zeros(0, np.uint64),) + (np.zeros(0, np.int64),) * 3  # type: ignore[return-value]
    return (
        np.concatenate(codes).astype(np.uint64),
        np.concatenate(owner).astype(np.int64),
        np.concatenate(sample).astype(np.int64),
        np.concatenate(view).astype(np.int64),
    )


def _query_views(videos: list[VideoRecord]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes, owner, sample, view = [], [], [], []
    for vi, v in enumerate(videos):
        fp = v.fingerprint
        q, k = fp.views.shape
        if q:
            codes.append(fp.views.reshape(-1))
            owner.append(np.full(q * k, vi))
            sample.append(np.repeat(fp.query, k))
            view.append(np.tile(np.arange(k), q))
        if len(fp.parts) == len(fp) and len(fp.query):
            for col, kind in ((0, -1), (1, -2)):
                codes.append(fp.parts[fp.query, col])
                owner.append(np.full(len(fp.query), vi))
                sample.append(fp.query)
                view.append(np.full(len(fp.query), kind))
    if not codes:
        return (np.zeros(0, np.uint64),) + (np.zeros(0, np.int64),) * 3  # type: ignore[return-value]
    return (
        np.concatenate(codes).astype(np.uint64),
        np.concatenate(owner).astype(np.int64),
        np.concatenate(sample).astype(np.int64),
        np.concatenate(view).astype(np.int64),
    )


def _compatible(qview: np.ndarray, iview: np.ndarray) -> np.ndarray:
    return (
        ((qview >= 0) & np.isin(iview, _WHOLE_VIEWS))
        | ((qview == -1) & (iview == _TOP))
        | ((qview == -2) & (iview == _BOTTOM))
    )


def _codes_of(fp: VideoFingerprint, qview: int) -> tuple[np.ndarray, np.ndarray]:
    """(samples, codes) of a query view of a fingerprint."""
    if qview >= 0:
        return fp.query, fp.views[:, qview]
    return fp.query, fp.parts[fp.query, -1 - qview]


def _target_codes(fp: VideoFingerprint, iview: int) -> np.ndarray:
    """The codes of an index view of a fingerprint."""
    if iview == _FULL:
        return fp.hashes
    if iview == _MIRROR:
        return fp.mirrored
    if iview in _TURNED:
        return fp.turned[:, iview - _TURNED[0]]
    if iview in _MIRROR_TURNED:
        return fp.mirror_turned[:, iview - _MIRROR_TURNED[0]]
    return fp.parts[:, iview - _TOP]


def _hash_score(
    a: VideoFingerprint, b: VideoFingerprint, qview: int, iview: int, tm: TimeMap, cfg: DedupConfig
) -> tuple[float, float]:
    """(share of ``a``'s query frames mapped inside ``b`` within ``frame_distance`` bits, median bits)."""
    samples, codes = _codes_of(a, qview)
    target = _target_codes(b, iview)
    j = tm(samples)
    ok = (j > -0.5) & (j < len(target) - 0.5)
    if ok.sum() < min(3, len(samples)):
        return 0.0, 64.0
    lo = np.clip(np.floor(j[ok]).astype(np.int64), 0, len(target) - 1)
    hi = np.clip(lo + 1, 0, len(target) - 1)
    d = np.minimum(np.bitwise_count(codes[ok] ^ target[lo]), np.bitwise_count(codes[ok] ^ target[hi]))
    return float((d <= cfg.frame_distance).mean()), float(np.median(d))


def _coverage(na: int, nb: int, tm: TimeMap) -> tuple[float, float]:
    i = np.arange(na)
    j = tm(i)
    ok = (j > -0.5) & (j < nb - 0.5)
    if not ok.any() or na == 0 or nb == 0:
        return 0.0, 0.0
    span_b = abs(float(j[ok][-1] - j[ok][0])) + 1
    return float(ok.sum()) / na, min(1.0, span_b / nb)


#: the query views (as :func:`_query_views` labels them) and the index views each may match
_VIEW_CLASSES = (
    (lambda q: q >= 0, _WHOLE_VIEWS),
    (lambda q: q == -1, (_TOP,)),
    (lambda q: q == -2, (_BOTTOM,)),
)


def _frame_hits(
    index: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    queries: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    radius: int,
) -> np.ndarray:
    """Every (query row, index row) within ``radius`` bits of two different videos whose views
    may match (:func:`_compatible`), sorted: one index per class of views, whose chunks suit its
    size (:class:`cleaning.mih.MultiIndexHash`), each video's pairs with itself left out before
    they are expanded."""
    icodes, iowner, _, iview = index
    qcodes, qowner, _, qview = queries
    found = [np.zeros((0, 2), np.int64)]
    for is_query, views in _VIEW_CLASSES:
        qrows = np.flatnonzero(is_query(qview))
        irows = np.flatnonzero(np.isin(iview, views))
        if not len(qrows) or not len(irows):
            continue
        mih = MultiIndexHash(icodes[irows], owners=iowner[irows])
        hits = mih.query(qcodes[qrows], radius, owners=qowner[qrows])
        found.append(np.stack([qrows[hits[:, 0]], irows[hits[:, 1]]], axis=1))
    hits = np.concatenate(found)
    return hits[np.lexsort((hits[:, 1], hits[:, 0]))]


def _candidates(videos: list[VideoRecord], cfg: DedupConfig) -> dict[tuple[int, int], list[_Candidate]]:
    """Alignments of every pair sharing enough near frames, best hash score first, then closest
    aligned frames (median bits), then most supported.

    A short clip's hash score is 1.0 at many offsets (every frame within ``frame_distance`` bits)
    when its source holds one pose a while: the votes of its many windows for the held pose
    outnumber the few whole-frame matches of the true offset, so support alone put the true
    alignment (0 bits) behind ``max_hypotheses`` wrong ones (7.5-9 bits; a 13-frame trim of a
    48-frame clip, world seed 53).

    The matches of all of ``a``'s windows against one of ``b``'s index views vote together for the
    time map; the window whose hashes agree best along it is the hypothesis's window.
    """
    index = _index_views(videos, cfg.match_rotated, cfg.match_mirrored_rotated)
    queries = _query_views(videos)
    icodes, iowner, isample, iview = index
    qcodes, qowner, qsample, qview = queries
    out: dict[tuple[int, int], list[_Candidate]] = defaultdict(list)
    if not len(icodes) or not len(qcodes):
        return out
    hits = _frame_hits(index, queries, cfg.index_radius)
    qi, ii = hits[:, 0], hits[:, 1]
    va, vb = qowner[qi], iowner[ii]
    keep = (va != vb) & _compatible(qview[qi], iview[ii])
    qi, ii, va, vb = qi[keep], ii[keep], va[keep], vb[keep]
    n = len(videos)
    group = (va * n + vb) * _N_VIEWS + iview[ii]
    order = np.lexsort((isample[ii], qsample[qi], group))
    group, qs, js, qv = group[order], qsample[qi][order], isample[ii][order], qview[qi][order]
    bounds = np.flatnonzero(np.diff(group)) + 1
    speeds = speed_grid(cfg.max_speed_change, reverse=cfg.match_reversed)
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(group)], strict=True):
        if hi <= lo:
            continue
        g = int(group[lo])
        iv, (a, b) = g % _N_VIEWS, divmod(g // _N_VIEWS, n)
        fa, fb = videos[a].fingerprint, videos[b].fingerprint
        if len(np.unique(qs[lo:hi])) < min(cfg.min_shared_frames, len(fa.query), len(fb)):
            continue
        views, votes = np.unique(qv[lo:hi], return_counts=True)
        for tm in _time_maps(qs[lo:hi], js[lo:hi], speeds):
            cover = _coverage(len(fa), len(fb), tm)
            if max(cover) < cfg.min_coverage:
                continue
            scored = [
                (*_hash_score(fa, fb, int(k), iv, tm, cfg), int(c), int(k))
                for k, c in zip(views, votes, strict=True)
            ]
            h, bits, _, k = max(scored, key=lambda x: (x[0], -x[1], x[2], -abs(x[3])))
            out[(min(a, b), max(a, b))].append(_Candidate(a, b, k, iv, tm, h, bits, cover))
    for key, cands in out.items():
        cands.sort(key=lambda c: (-c.hash_score, c.bits, -c.tmap.support, c.a, c.b, c.qview, c.iview))
        out[key] = _distinct(cands)
    return out


def _time_maps(i: np.ndarray, j: np.ndarray, speeds: np.ndarray) -> list[TimeMap]:
    """The best-supported time map of a group's matches, and the runners-up worth a hypothesis:
    the best forward map when a backward one wins (a back-and-forth motion must not hide a
    forward copy), and the unchanged speed when a changed one wins and speed 1 is well supported."""
    best = fit_time_map(i, j, speeds)
    if best is None:
        return []
    maps = [best]
    if best.speed < 0:
        forward = fit_time_map(i, j, speeds[speeds > 0])
        if forward is not None:
            maps.append(forward)
    if maps[-1].speed != 1.0:
        same = fit_time_map(i, j, speeds[:1])
        if same is not None and same.support >= maps[-1].support / 2:
            maps.append(same)
    return maps


def _distinct(cands: list[_Candidate]) -> list[_Candidate]:
    """Drop a whole-box alignment at speed 1 already proposed the other way round (the same hypothesis)."""
    seen: set[tuple] = set()
    out = []
    for c in cands:
        if c.qview == 0 and c.iview in _WHOLE_VIEWS and c.tmap.speed == 1.0:
            off = c.tmap.offset if c.a < c.b else -c.tmap.offset  # as seen from the lower index
            view = c.iview
            if view in _TURNED and c.a > c.b:  # k quarter turns one way are 4 - k the other
                view = _TURNED[2 - (view - _TURNED[0])]
            # a mirrored turn is its own inverse: the same view either way round
            sig = (view, round(off))
            if sig in seen:
                continue
            seen.add(sig)
        out.append(c)
    return out


def _describe(c: _Candidate, windows: list[Window], key_order: bool = True) -> str:
    """The transform of a candidate in words; ``key_order``: ``c.a`` is the pair's first key (a
    rotation is named as the second key's picture turned clockwise from the first's)."""
    parts = []
    if c.tmap.speed < 0:
        parts.append("reversed")
    if c.iview == _MIRROR:
        parts.append("mirror")
    if c.iview in _TURNED:
        # a's window shows b's box turned k quarter turns counter-clockwise: b is a turned k clockwise
        k = c.iview - _TURNED[0] + 1
        parts.append(f"rotated {90 * (k if key_order else 4 - k)}")
    if c.iview in _MIRROR_TURNED:
        # a's window is b's box turned k counter-clockwise and mirrored, i.e. b mirrored and then
        # turned k clockwise; a reflection is its own inverse, so b is a mirrored and turned so too
        parts.append(f"mirror, rotated {90 * (c.iview - _MIRROR_TURNED[0] + 1)}")
    if c.qview >= 0 and windows[c.qview] != FULL:
        w = windows[c.qview]
        if w.w == w.h:
            parts.append(f"window {w.w:.2f} at ({w.cx:.2f},{w.cy:.2f})")
        else:  # a crop to fill another aspect
            parts.append(f"fill window {w.w:.2f}x{w.h:.2f} at ({w.cx:.2f},{w.cy:.2f})")
    if c.qview < 0:
        parts.append("top part" if c.qview == -1 else "bottom part")
    return ", ".join(parts)


def _hypothesis(c: _Candidate, windows: list[Window], parts: list[Window]) -> Hypothesis:
    window = windows[c.qview] if c.qview >= 0 else parts[-1 - c.qview]
    target = FULL if c.iview in _WHOLE_VIEWS else parts[c.iview - _TOP]
    if c.iview in _TURNED:
        turns = c.iview - _TURNED[0] + 1
    elif c.iview in _MIRROR_TURNED:  # a's window, mirrored, is b's box turned k counter-clockwise
        turns = c.iview - _MIRROR_TURNED[0] + 1
    else:
        turns = 0
    mirror = c.iview == _MIRROR or c.iview in _MIRROR_TURNED
    return Hypothesis(window, target, mirror, c.tmap.speed, c.tmap.offset, turns)


def verification_side(v: VideoRecord) -> Side:
    """What :func:`cleaning.verify.verify_pair` needs of a record."""
    return Side(v.key, v.fps, v.frames, v.fingerprint.times, v.fingerprint.box)


@dataclass(frozen=True)
class PairEvidence:
    """What the two stages found for a candidate pair ``a < b`` (keys)."""

    a: str
    b: str
    hash_score: float  # share of aligned frames within frame_distance bits (best alignment)
    bits: float  # median Hamming distance of the aligned frames
    score: float | None  # best verification score of the alignments tried (None: not verified)
    duplicate: bool
    kind: str  # reencode | subclip (what the pair would be)
    offset: int  # samples
    speed: float  # b plays this many times as fast as a (negative: backwards)
    transform: str

    def to_json(self) -> dict[str, Any]:
        """What :class:`PairCache` keeps (everything but the keys, which the cache's SHA-256 stand for)."""
        return {k: v for k, v in asdict(self).items() if k not in ("a", "b")}

    @classmethod
    def from_json(cls, a: str, b: str, data: Any) -> PairEvidence | None:
        """The evidence of ``a < b`` kept by :meth:`to_json`; None when ``data`` is not of that shape."""
        if not isinstance(data, dict) or set(data) != _EVIDENCE_FIELDS:
            return None
        num = (int, float)
        ok = (
            all(
                isinstance(data[k], num) and not isinstance(data[k], bool)
                for k in ("hash_score", "bits", "speed")
            )
            and (data["score"] is None or isinstance(data["score"], num))
            and isinstance(data["duplicate"], bool)
            and data["kind"] in ("reencode", "subclip")
            and isinstance(data["offset"], int)
            and isinstance(data["transform"], str)
        )
        return cls(a, b, **data) if ok else None


_EVIDENCE_FIELDS = {"hash_score", "bits", "score", "duplicate", "kind", "offset", "speed", "transform"}


#: Version of the video pair comparison (candidates, time alignment in :mod:`cleaning.timealign`,
#: verification in :mod:`cleaning.verify`, the decision in :func:`video_pair_evidence`). Bump it
#: when the evidence a pair gets changes: kept evidence of another version is verified again.
#: 2: rotated copies (``match_rotated``) are candidates. 3: mirrored and rotated copies
#: (``match_mirrored_rotated``) are candidates, landscape frames are decoded by their shorter side
#: and bars off centre are trimmed (``max_paired_bar``). 4: crop-to-fill windows (``fill_aspects``)
#: are candidates and a blurred fill is cut off (``strip_blurred_fill``). 5: the views' margins
#: are left out of the comparison (``verify_margin``) and a fill is compared with the picture
#: without the picture's seam blurred into it (a darkened fill is found). 6: alignments of equal hash
#: score are verified closest frames first (median bits), then best supported (a short trim of a
#: clip holding one pose was verified only at wrong offsets).
PAIR_EVIDENCE_VERSION = 6


def pair_stamp(cfg: DedupConfig) -> dict[str, Any]:
    """What kept pair evidence depends on besides the two files: the comparison's version and
    the dedup config (its thresholds, windows and fingerprint settings)."""
    return {"version": PAIR_EVIDENCE_VERSION, "config": cfg.model_dump(mode="json")}


def stamped(stamp: dict[str, Any], evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence as :class:`PairCache` keeps it: with the stamp it was computed under."""
    return {"stamp": stamp, "evidence": evidence}


def unstamped(stamp: dict[str, Any], kept: Any) -> tuple[Any, bool]:
    """(the evidence ``kept`` holds, or None; whether it was there but of another stamp, an
    unstamped entry of an older release included: it is computed again)."""
    if kept is None:
        return None, False
    if isinstance(kept, dict) and kept.get("stamp") == stamp:
        return kept.get("evidence"), False
    return None, True


class PairCache(Protocol):
    """Verified :class:`PairEvidence` kept between runs (``cleaning.steps.video_duplicates`` keeps it
    in the result cache), as :func:`stamped` values. ``sha_a`` and ``sha_b`` are the SHA-256 of
    the pair's videos in key order."""

    def get(self, sha_a: str, sha_b: str) -> Any: ...

    def put(self, sha_a: str, sha_b: str, value: dict[str, Any]) -> None: ...


def video_pair_evidence(
    videos: list[VideoRecord],
    cfg: DedupConfig | None = None,
    frames: FrameLoader | None = None,
    *,
    exhaustive: bool = False,
    known: PairCache | None = None,
    counts: Counter[str] | None = None,
) -> list[PairEvidence]:
    """Both stages for every candidate pair, sorted by keys (byte-identical pairs are left out).

    Verification stops at the first alignment reaching ``verify_threshold`` unless ``exhaustive``
    (then ``score`` is the best over all ``max_hypotheses`` alignments and time shifts: what a
    benchmark needs to measure the margin). ``frames`` as in :func:`find_video_duplicates`.
    ``known`` (not with ``exhaustive``): a candidate pair it holds verified evidence of is not
    verified again, and the evidence of every pair verified on pixels is put into it, stamped
    (:func:`pair_stamp`); kept evidence of another stamp is verified again and counted in
    ``counts["pairs_recomputed"]``.
    """
    cfg = cfg or DedupConfig()
    file_frames = FileFrames(videos) if frames is None else None
    windows = window_grid(cfg.window_scales, cfg.window_shift)
    parts = part_windows(cfg.part_fraction)
    known = None if exhaustive else known
    stamp = pair_stamp(cfg)
    counts = Counter() if counts is None else counts
    out = []
    for (x, y), cands in sorted(_candidates(videos, cfg).items()):
        key = sorted((videos[x].key, videos[y].key))
        if videos[x].sha256 and videos[x].sha256 == videos[y].sha256:
            continue  # an exact copy: nothing to verify
        if videos[x].stream and videos[x].stream == videos[y].stream:
            continue  # one stream in two files: exact too
        shas = _pair_shas(videos[x], videos[y])
        if known is not None and shas is not None:
            data, stale = unstamped(stamp, known.get(*shas))
            counts["pairs_recomputed"] += stale
            kept = PairEvidence.from_json(key[0], key[1], data)
            if kept is not None and kept.score is not None:
                out.append(kept)
                continue
        best: tuple[float, _Candidate] | None = None  # (decision value, candidate)
        verified = False
        for c in cands[: cfg.max_hypotheses]:
            va, vb = videos[c.a], videos[c.b]
            wins = [*windows, *va.fingerprint.fills]
            loader = frames or (file_frames if va.key in file_frames and vb.key in file_frames else None)  # type: ignore[operator]
            score = None
            if loader is not None:
                try:
                    score = verify_pair(
                        verification_side(va),
                        verification_side(vb),
                        _hypothesis(c, wins, parts),
                        loader,
                        cfg,
                        exhaustive=exhaustive,
                    )
                except MediaError:  # a frame the probe promised does not decode: decide on hashes
                    score = None
            verified = verified or score is not None
            value = score if score is not None else c.hash_score
            if best is None or value > best[0]:
                best = (value, c)
            ok = (
                score >= cfg.verify_threshold
                if score is not None
                else c.hash_score >= cfg.min_matched_fraction
            )
            if ok and not exhaustive:
                break
        assert best is not None
        value, c = best
        dup = value >= cfg.verify_threshold if verified else value >= cfg.min_matched_fraction
        # samples of key[0] map to samples of key[1] with slope s_ab: key[1] plays 1 / s_ab as fast
        s_ab = c.tmap.speed if videos[c.a].key == key[0] else 1 / c.tmap.speed
        evidence = PairEvidence(
            key[0],
            key[1],
            round(c.hash_score, 4),
            float(c.bits),
            round(value, 4) if verified else None,
            bool(dup),
            "reencode" if min(c.coverage) >= 0.9 else "subclip",
            int(round(c.tmap.offset)),
            round(1 / s_ab, 4),
            _describe(c, [*windows, *videos[c.a].fingerprint.fills], videos[c.a].key == key[0]),
        )
        if known is not None and shas is not None and verified:
            known.put(*shas, stamped(stamp, evidence.to_json()))
        out.append(evidence)
    return out


def _pair_shas(x: VideoRecord, y: VideoRecord) -> tuple[str, str] | None:
    """The SHA-256 of two videos in the order of their keys (None when one is unknown)."""
    if not (x.sha256 and y.sha256):
        return None
    return (x.sha256, y.sha256) if x.key <= y.key else (y.sha256, x.sha256)


def find_video_duplicates(
    videos: list[VideoRecord],
    cfg: DedupConfig | None = None,
    frames: FrameLoader | None = None,
    *,
    prefer: Callable[[VideoRecord], int] | None = None,
    known: PairCache | None = None,
) -> DedupResult:
    """Cluster duplicate videos (exact, re-encoded or re-posted, sub-clips) and pick one to keep per cluster.

    ``frames(key, indices)`` decodes grey frames for verification; by default the files of the
    records that have a ``path`` are read. Pairs without frames are decided on hashes alone.
    ``prefer(video)``: the keep rule's first criterion, lower kept first (see the module
    docstring). ``known``: verified pair evidence kept between runs (:func:`video_pair_evidence`).
    """
    cfg = cfg or DedupConfig()
    by_key = {v.key: v for v in videos}
    pairs: dict[tuple[str, str], DuplicatePair] = {}
    by_sha: dict[str, list[str]] = defaultdict(list)
    for v in videos:
        if v.sha256:
            by_sha[v.sha256].append(v.key)
        if v.stream:  # the same coded pictures in another file (a remux, a rotation tag)
            by_sha["stream:" + v.stream].append(v.key)
    for keys in by_sha.values():
        for other in keys[1:]:
            a, b = sorted((keys[0], other))
            pairs[(a, b)] = DuplicatePair(a, b, "exact")
    counts: Counter[str] = Counter()
    for e in video_pair_evidence(videos, cfg, frames, known=known, counts=counts):
        if e.duplicate and (e.a, e.b) not in pairs:
            pairs[(e.a, e.b)] = DuplicatePair(
                e.a, e.b, e.kind, e.hash_score, e.offset, e.score, e.speed, e.transform
            )
    first = prefer or (lambda v: 0)
    res = _clusters(
        [v.key for v in videos],
        sorted(pairs.values(), key=lambda p: (p.a, p.b)),
        lambda k: (first(by_key[k]), *_video_rank(by_key[k])),
    )
    res.pairs_recomputed = counts["pairs_recomputed"]
    return res


def image_difference(a: np.ndarray, b: np.ndarray, size: tuple[int, int] = (64, 80)) -> float:
    """Mean absolute difference of two images resized to ``size`` (RGB, grey levels): ~0 for
    copies and rescales of one picture, ~1 for a JPEG re-encode, 5 and more for another picture."""
    import cv2

    x = cv2.resize(np.asarray(a), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    y = cv2.resize(np.asarray(b), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    return float(np.abs(x - y).mean())


def find_image_duplicates(
    images: list[ImageRecord],
    cfg: DedupConfig | None = None,
    same_picture: Callable[[ImageRecord, ImageRecord], bool] | None = None,
) -> DedupResult:
    """Cluster duplicate images: equal bytes, or pHash within ``image_distance`` and colour
    thumbnails within ``image_colour_tolerance`` and, when given, ``same_picture`` of the pair (the
    pixels: see ``image_pixel_tolerance``; pHash and colour alone match other products of one cut,
    and union-find chains such pairs into one product)."""
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
            same_bytes = bool(images[i].sha256) and images[i].sha256 == images[j].sha256
            if not same_bytes and same_picture is not None and not same_picture(images[i], images[j]):
                continue
            a, b = sorted((images[i].key, images[j].key))
            kind = "exact" if same_bytes else "image"
            pairs[(a, b)] = DuplicatePair(a, b, kind)
        by_sha: dict[str, list[str]] = defaultdict(list)
        for im in images:
            if im.sha256:  # an unknown hash says nothing about the bytes
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
