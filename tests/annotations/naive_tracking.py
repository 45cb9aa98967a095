"""Per-pair reference of the tracker (:mod:`annotations.tracking`): one match-head call per
detection pair. The tests check the vectorised tracker gives the same tracklets;
``benchmarks/bench_tracklets.py`` measures it as the baseline."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from annotations.config import TrackerConfig
from annotations.tracking import TrackResult, VideoDetections
from movingfashion.models import MatchHead
from schemas.geometry import box_iou

#: the most chains the continuity reference tries one by one before it recurses instead
BRUTE_FORCE_CHAINS = 50_000


def _pair_score(head: MatchHead, a: torch.Tensor, b: torch.Tensor) -> float:
    with torch.no_grad():
        return float(head.score(a[None], b[None])[0])


def _naive_propagate(
    dets: VideoDetections,
    head: MatchHead,
    remaining: list[bool],
    pivot: int,
    threshold: float,
    item_class: int | None = None,
    bonus: float = 0.0,
    continuity: float = 0.0,
) -> TrackResult:
    best: dict[int, tuple[float, float, int]] = {}
    cands: dict[int, list[tuple[float, float, int]]] = {}
    for j in range(len(dets)):
        if not remaining[j] or dets.frames[j] == dets.frames[pivot]:
            continue
        s = _pair_score(head, dets.embeddings[pivot], dets.embeddings[j])
        key = s + (bonus if item_class is not None and dets.classes[j] == item_class else 0.0)
        f = int(dets.frames[j])
        if s >= threshold:
            cands.setdefault(f, []).append((key, s, j))
        if s >= threshold and (f not in best or key > best[f][0]):
            best[f] = (key, s, j)
    if continuity > 0:
        best = _best_chains(dets, cands, pivot, continuity)
    members = sorted([(int(dets.frames[pivot]), pivot, 1.0)] + [(f, j, s) for f, (_, s, j) in best.items()])
    return TrackResult(
        pivot=pivot,
        members=np.array([m[1] for m in members], np.int64),
        match_scores=np.array([m[2] for m in members], np.float32),
    )


def _best_chains(
    dets: VideoDetections, cands: dict[int, list[tuple[float, float, int]]], pivot: int, weight: float
) -> dict[int, tuple[float, float, int]]:
    """``continuity``: each side of the pivot, the chain of one candidate per frame with the largest
    sum of keys plus ``weight`` x the IoU of consecutive boxes: every chain tried when there are at
    most :data:`BRUTE_FORCE_CHAINS`, else a suffix recursion one pair at a time (the vectorised
    tracker runs its programme from the pivot outward)."""
    out: dict[int, tuple[float, float, int]] = {}
    pf = int(dets.frames[pivot])

    def iou(a: int, b: int) -> float:
        return box_iou(list(dets.boxes[a]), list(dets.boxes[b]))

    for side in (1, -1):
        order = sorted((f for f in cands if (f - pf) * side > 0), key=lambda f: f * side)
        if not order:
            continue
        if np.prod([len(cands[f]) for f in order], dtype=float) <= BRUTE_FORCE_CHAINS:
            best_total, best_chain = -np.inf, ()
            for chain in itertools.product(*(cands[f] for f in order)):
                total, prev = 0.0, pivot
                for key, _, j in chain:
                    total += key + weight * iou(prev, j)
                    prev = j
                if total > best_total:
                    best_total, best_chain = total, chain
        else:
            # tail[c]: the best total of the chain from candidate c (included) to the far end
            tail: dict[int, tuple[float, tuple]] = {c[2]: (c[0], (c,)) for c in cands[order[-1]]}
            for k in range(len(order) - 2, -1, -1):
                nxt = cands[order[k + 1]]
                new = {}
                for c in cands[order[k]]:
                    t, rest = max((tail[n[2]][0] + weight * iou(c[2], n[2]), tail[n[2]][1]) for n in nxt)
                    new[c[2]] = (c[0] + t, (c, *rest))
                tail = new
            best_chain = max(
                ((t + weight * iou(pivot, c[2]), chain) for c in cands[order[0]] for t, chain in [tail[c[2]]])
            )[1]
        out.update({int(dets.frames[c[2]]): c for c in best_chain})
    return out


def _naive_continue(
    dets: VideoDetections, head: MatchHead, tr: TrackResult, may_join: list[bool], cfg: TrackerConfig
) -> TrackResult:
    """``continue_iou``: the tracklet continued outward from its end detections, one frame at a time."""
    if cfg.continue_iou <= 0 or not len(tr.members):
        return tr
    frames = [int(f) for f in dets.frames]
    taken = {frames[m] for m in tr.members}
    rows = [(frames[m], int(m), float(s)) for m, s in zip(tr.members, tr.match_scores, strict=True)]
    for step in (1, -1):
        end = max(tr.members, key=lambda m: frames[m] * step)
        for g in sorted({f for f in frames if (f - frames[end]) * step > 0}, key=lambda f: f * step):
            if g in taken:
                break
            cand = [i for i in range(len(dets)) if frames[i] == g and may_join[i]]
            if not cand:
                break
            ious = [box_iou(list(dets.boxes[i]), list(dets.boxes[end])) for i in cand]
            i = cand[ious.index(max(ious))]
            if max(ious) < cfg.continue_iou:
                break
            match = _pair_score(head, dets.embeddings[end], dets.embeddings[i])
            if cfg.continue_match > 0 and match < cfg.continue_match:
                break
            rows.append((g, i, _pair_score(head, dets.embeddings[tr.pivot], dets.embeddings[i])))
            end = i
    rows.sort(key=lambda r: r[0])
    return TrackResult(
        pivot=tr.pivot,
        members=np.array([r[1] for r in rows], np.int64),
        match_scores=np.array([r[2] for r in rows], np.float32),
        shop_score=tr.shop_score,
    )


def naive_inference_tracking(
    dets: VideoDetections, head: MatchHead, config: TrackerConfig | None = None
) -> list[TrackResult]:
    """Reference implementation: one match-head call per detection pair."""
    cfg = config or TrackerConfig()
    remaining = [True] * len(dets)
    out = []
    while any(remaining):
        pivot = max((i for i in range(len(dets)) if remaining[i]), key=lambda i: (dets.scores[i], -i))
        tr = _naive_propagate(dets, head, remaining, pivot, cfg.match_threshold)
        for j in tr.members:
            remaining[j] = False
        if len(tr.members) >= cfg.min_length:
            out.append(tr)
    return out


def naive_training_tracking(
    dets: VideoDetections,
    head: MatchHead,
    shop_embedding: torch.Tensor,
    config: TrackerConfig | None = None,
    item_class: int | None = None,
) -> TrackResult | None:
    """Reference implementation of training tracking, one pair at a time."""
    cfg = config or TrackerConfig()
    best, rank, pivot = -1.0, -np.inf, -1
    shop = [_pair_score(head, shop_embedding.reshape(-1), dets.embeddings[i]) for i in range(len(dets))]
    same = [item_class is not None and int(c) == item_class for c in dets.classes]
    by_class = cfg.class_members_min > 0 and sum(same) >= cfg.class_members_min
    may_join = [s >= cfg.member_shop_threshold for s in shop]
    shop_ok = list(may_join)
    for i, s in enumerate(shop):
        if s < cfg.shop_threshold:
            continue
        r = s + (cfg.class_bonus if item_class is not None and dets.classes[i] == item_class else 0.0)
        r += cfg.pivot_det_weight * float(dets.scores[i])
        if r > rank:
            best, rank, pivot = s, r, i
    if pivot < 0:
        return None
    if by_class:  # the product-class tracklet, then other classes overlapping one of its boxes
        first = _naive_propagate(
            dets,
            head,
            [m and c for m, c in zip(may_join, same, strict=True)],
            pivot,
            cfg.match_threshold,
            item_class,
            cfg.class_bonus,
            cfg.continuity,
        )
        boxes = [list(dets.boxes[j]) for j in first.members]
        may_join = [
            m and (c or max(box_iou(list(dets.boxes[i]), b) for b in boxes) >= cfg.other_class_iou)
            for i, (m, c) in enumerate(zip(may_join, same, strict=True))
        ]
    tr = _naive_propagate(
        dets, head, may_join, pivot, cfg.match_threshold, item_class, cfg.class_bonus, cfg.continuity
    )
    tr = _naive_continue(dets, head, tr, shop_ok, cfg)
    tr.shop_score = best
    return tr
