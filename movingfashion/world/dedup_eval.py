"""Near-duplicate video detection scored against a world's truth.

Re-post variants (``WorldVideo.variant``) and the base duplicate kinds are duplicates of their
source; retakes (``WorldVideo.retake_of``: another clip of the same garment on the same wearer)
and every other pair are not. :func:`kind_scores` gives precision and recall per kind from a
:class:`cleaning.dedup.DedupResult`; :func:`score_margin` the gap between the verification scores
(and the aligned Hamming distances) of the duplicates and of the non-duplicates that reached
verification.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleaning.config import DedupConfig
from cleaning.dedup import DedupResult, PairEvidence, VideoRecord
from cleaning.fingerprint import fingerprint_video

from .scoring.metrics import cluster_pairs, group_pairs
from .truth import WorldTruth, WorldVideo


def video_kind(v: WorldVideo) -> str | None:
    """The variant of a re-post, else its duplicate kind, else None (an original or a retake)."""
    if v.variant is not None:
        return str(v.variant)
    return str(v.duplicate_kind) if v.duplicate_kind is not None else None


def world_records(
    world_dir: str | os.PathLike[str], truth: WorldTruth, cfg: DedupConfig | None = None
) -> list[VideoRecord]:
    """Fingerprinted records of every video of a world (keys: video ids; paths set for verification)."""
    out = []
    for v in truth.videos:
        path = Path(world_dir, v.path)
        fp = fingerprint_video(path, v.frames, v.fps, v.width, v.height, cfg)
        out.append(
            VideoRecord(v.video_id, v.sha256, fp, v.frames, v.fps, v.width, v.height, v.partition, path)
        )
    return out


@dataclass(frozen=True)
class TruthPairs:
    """Which pairs of a world are duplicates (clusters of duplicate_of links), direct links, hard negatives."""

    duplicates: frozenset[frozenset[str]]
    direct: dict[frozenset[str], str]  # (re-post, source) -> kind of the re-post
    retakes: frozenset[frozenset[str]]

    @classmethod
    def of(cls, truth: WorldTruth) -> TruthPairs:
        reposts = [v for v in truth.videos if v.duplicate_of]
        direct = {frozenset((v.video_id, v.duplicate_of)): video_kind(v) or "reencode" for v in reposts}
        links = [(v.video_id, str(v.duplicate_of)) for v in reposts]
        dup = frozenset(cluster_pairs(links, (v.video_id for v in truth.videos)))
        ret = frozenset(frozenset((v.video_id, v.retake_of)) for v in truth.videos if v.retake_of)
        return cls(dup, direct, ret)

    def label(self, a: str, b: str) -> str:
        """The kind of a direct duplicate pair, 'duplicate' (same cluster), 'retake' or 'other'."""
        key = frozenset((a, b))
        if key in self.direct:
            return self.direct[key]
        if key in self.duplicates:
            return "duplicate"
        return "retake" if key in self.retakes else "other"


def predicted_pairs(result: DedupResult) -> set[frozenset[str]]:
    """Every pair of keys clustered together."""
    return group_pairs(result.clusters)


def kind_scores(truth: WorldTruth, result: DedupResult) -> dict[str, dict[str, Any]]:
    """Per kind: precision (of predicted pairs with such a video), recall (re-posts joined to their source).

    With the counts behind them, to pool over worlds: ``found`` of ``n`` re-posts joined to their
    source, ``right`` of ``predicted`` pairs. ``precision`` is None when no pair with such a video
    was predicted (nothing to be right or wrong about). Also ``hard_negatives``: retakes merged
    with their source out of all retakes, and ``false_pairs``.
    """
    tp = TruthPairs.of(truth)
    pred = predicted_pairs(result)
    kind = {v.video_id: video_kind(v) for v in truth.videos}
    out: dict[str, dict[str, Any]] = {}
    for k in sorted({x for x in kind.values() if x}):
        vids = [v for v in truth.videos if kind[v.video_id] == k]
        found = sum(frozenset((v.video_id, v.duplicate_of)) in pred for v in vids)
        mine = [p for p in pred if any(kind[x] == k for x in p)]
        right = sum(p in tp.duplicates for p in mine)
        out[k] = {
            "n": len(vids),
            "recall": found / len(vids),
            "precision": right / len(mine) if mine else None,
            "found": found,
            "predicted": len(mine),
            "right": right,
            "missed": sorted(v.video_id for v in vids if frozenset((v.video_id, v.duplicate_of)) not in pred),
        }
    out["hard_negatives"] = {"merged": sum(p in pred for p in tp.retakes), "n": len(tp.retakes)}
    out["false_pairs"] = {"pairs": sorted(tuple(sorted(p)) for p in pred - tp.duplicates)}
    return out


def score_margin(truth: WorldTruth, evidence: list[PairEvidence]) -> dict[str, Any]:
    """Verification scores and aligned distances of direct duplicates vs non-duplicates, and the gaps.

    Pairs of one cluster that are not a direct (re-post, source) link are left out: whether two
    re-posts of one source match each other directly is not asked. Direct duplicates that never
    became candidates count as missing (score None).
    """
    tp = TruthPairs.of(truth)
    seen = {frozenset((e.a, e.b)): e for e in evidence}
    sha = {v.video_id: v.sha256 for v in truth.videos}
    dups = []
    for key, k in sorted(tp.direct.items(), key=lambda x: sorted(x[0])):
        a, b = sorted(key)
        e = seen.get(key)
        if e is None and sha[a] == sha[b]:  # byte-identical: found by its SHA-256, nothing to score
            dups.append({"pair": (a, b), "kind": k, "score": 1.0, "bits": 0.0})
        else:
            score, bits = (e.score, e.bits) if e else (None, None)
            dups.append({"pair": (a, b), "kind": k, "score": score, "bits": bits})
    nondups = [
        {"pair": (e.a, e.b), "kind": tp.label(e.a, e.b), "score": e.score, "bits": e.bits}
        for e in evidence
        if frozenset((e.a, e.b)) not in tp.duplicates
    ]
    scored_d = [d["score"] for d in dups if d["score"] is not None]
    scored_n = [d["score"] for d in nondups if d["score"] is not None]
    worst_dup = min(scored_d) if len(scored_d) == len(dups) and dups else None
    best_non = max(scored_n) if scored_n else None
    bits_d = [d["bits"] for d in dups if d["bits"] is not None]
    bits_n = [d["bits"] for d in nondups]
    return {
        "duplicates": dups,
        "non_duplicates": nondups,
        "hard_negative_candidates": sum(d["kind"] == "retake" for d in nondups),
        "hard_negatives": len(tp.retakes),
        "worst_duplicate_score": worst_dup,
        "best_non_duplicate_score": best_non,
        "score_gap": None if worst_dup is None else worst_dup - (best_non if best_non is not None else -1.0),
        "worst_duplicate_bits": max(bits_d) if bits_d else None,
        "best_non_duplicate_bits": min(bits_n) if bits_n else None,
    }
