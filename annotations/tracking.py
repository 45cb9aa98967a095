"""Pivot-and-propagation tracking of Match-RCNN (paper sections 4.1 and 4.4), vectorised.

*Inference tracking*: pivot = the most confident detection left; every other frame
contributes its best-matching remaining detection whose match score with the pivot is at least
``match_threshold`` (at most one per frame); the tracklet's detections are removed and the
loop repeats until none is left. *Training tracking*: the pivot is the detection that best
matches the shop image over the whole video, if that score reaches ``shop_threshold``
(ranked with ``pivot_det_weight`` times the detector's confidence added; among detections of detector confidence >= ``pivot_min_score`` when there are any: a
low-confidence box on part of a garment can match the shop image best); propagation as above,
among the detections that may join (:func:`joinable`): those whose own shop score reaches
``member_shop_threshold`` and, when the detector gives the product's class to at least
``class_members_min`` detections of the video, those of that class plus those of another class
whose box overlaps the product-class tracklet's (IoU >= ``other_class_iou``; options, off by
default: ``other_class_inside``, ``other_class_frames``, :func:`near_members`). When the product's
DeepFashion2 class is known, ``class_bonus`` (0 = the paper's rule) favours detections the
detector gives that class, for the pivot and for the detection kept per frame. The shop item's
tracklet is then continued outward from its ends (:func:`continue_ends`, ``continue_iou``): by the
detection whose box overlaps the end box that matches the end detection, where the match with the
pivot has decayed. One ``[D,D]``
score matrix per video replaces every pairwise call; the only Python loop is over tracklets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from annotations.config import TrackerConfig
from movingfashion.models import MatchHead
from schemas.geometry import box_areas, box_intersections, box_ious


@dataclass
class VideoDetections:
    """All detections of one video, flattened: ``D`` rows."""

    frames: np.ndarray  # int64 [D] frame index
    boxes: np.ndarray  # float32 [D,4]
    scores: np.ndarray  # float32 [D] detector confidence
    classes: np.ndarray  # int64 [D] DF2 ids
    embeddings: torch.Tensor  # float [D,256]

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class TrackResult:
    """One tracklet: ``members`` index the video's detections (sorted by frame)."""

    pivot: int
    members: np.ndarray  # int64 indices
    match_scores: np.ndarray  # float32, score of each member with the pivot (pivot: 1.0)
    shop_score: float | None = None


def _propagate(
    sim_row: np.ndarray,
    frames: np.ndarray,
    remaining: np.ndarray,
    pivot: int,
    threshold: float,
    bonus: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    continuity: float = 0.0,
) -> TrackResult:
    """Pivot + the best remaining detection per other frame with ``sim_row >= threshold``
    (best by ``sim_row``, plus ``bonus`` when given; with ``continuity`` > 0 and ``boxes``, the best
    chain: :func:`_smooth_choice`)."""
    cand = remaining & (sim_row >= threshold) & (frames != frames[pivot])
    idx = np.flatnonzero(cand)
    key = sim_row[idx] if bonus is None else sim_row[idx] + bonus[idx]
    if len(idx) and continuity > 0 and boxes is not None:
        idx = _smooth_choice(idx, frames, key, boxes, pivot, continuity)
    elif len(idx):
        # best per frame: order by frame, then by descending score (stable: first index wins ties)
        order = np.lexsort((-key, frames[idx]))
        idx = idx[order]
        first = np.ones(len(idx), bool)
        first[1:] = frames[idx][1:] != frames[idx][:-1]
        idx = idx[first]
    members = np.concatenate([idx, [pivot]]).astype(np.int64)
    members = members[np.argsort(frames[members], kind="stable")]
    ms = sim_row[members].astype(np.float32)
    ms[members == pivot] = 1.0
    return TrackResult(pivot=int(pivot), members=members, match_scores=ms)


def _smooth_choice(
    idx: np.ndarray, frames: np.ndarray, key: np.ndarray, boxes: np.ndarray, pivot: int, weight: float
) -> np.ndarray:
    """One detection per frame of ``idx`` (candidates, ``key`` their scores), chosen so that the
    chains running out from the pivot maximise the sum of ``key`` plus ``weight`` x the IoU of
    each chosen box with the one chosen on the frame before it (dynamic programming, each side)."""
    fr = frames[idx]
    out = []
    for side in (1, -1):
        mask = (fr - frames[pivot]) * side > 0
        sel, ks = idx[mask], key[mask]
        if not len(sel):
            continue
        steps = np.unique(frames[sel])[::side]
        groups = [np.flatnonzero(frames[sel] == f) for f in steps]
        prev_boxes = boxes[[pivot]]
        prev_score = np.zeros(1)
        back = []
        for g in groups:
            iou = box_ious(prev_boxes[:, None], boxes[sel[g]][None])  # [prev, cur]
            total = prev_score[:, None] + weight * iou
            arg = total.argmax(axis=0)
            back.append(arg)
            prev_score = total[arg, np.arange(len(g))] + ks[g]
            prev_boxes = boxes[sel[g]]
        j = int(prev_score.argmax())
        for g, arg in zip(reversed(groups), reversed(back), strict=True):
            out.append(sel[g][j])
            j = int(arg[j])
    return np.asarray(out, np.int64)


def similarity(head: MatchHead, embeddings: torch.Tensor) -> np.ndarray:
    """The video's ``[D,D]`` match-score matrix, computed once."""
    with torch.no_grad():
        return head.score_matrix(embeddings, embeddings).float().cpu().numpy()


def inference_tracking(
    dets: VideoDetections, head: MatchHead, config: TrackerConfig | None = None, sim: np.ndarray | None = None
) -> list[TrackResult]:
    """Every tracklet of the video (inference mode), most confident pivot first."""
    cfg = config or TrackerConfig()
    n = len(dets)
    if n == 0:
        return []
    sim = similarity(head, dets.embeddings) if sim is None else sim
    remaining = np.ones(n, bool)
    scores = dets.scores.astype(np.float64)
    out = []
    while remaining.any():
        pivot = int(np.argmax(np.where(remaining, scores, -np.inf)))
        tr = _propagate(sim[pivot], dets.frames, remaining, pivot, cfg.match_threshold)
        remaining[tr.members] = False
        if len(tr.members) >= cfg.min_length:
            out.append(tr)
    return out


def shop_scores(embeddings: torch.Tensor, head: MatchHead, shop_embedding: torch.Tensor) -> np.ndarray:
    """Match score of every detection (its embedding, ``[D, E]``) with the shop image, ``[D]``."""
    with torch.no_grad():
        return head.score_matrix(shop_embedding.reshape(1, -1), embeddings)[0].float().cpu().numpy()


def class_bonus(classes: np.ndarray, item_class: int | None, config: TrackerConfig) -> np.ndarray | None:
    """``class_bonus`` where the detector's class is the item's, else 0; None when unused."""
    if item_class is None or config.class_bonus <= 0:
        return None
    return config.class_bonus * (classes == item_class)


#: DeepFashion2 classes worn below a top whose box ``cover_penalty`` weighs (shorts: short enough
#: that the part a top covers is a large share of the box; a skirt's sides often show beside the
#: top up to its tall box, and trousers' right box often reaches a fifth of its height above the
#: top's edge, so both are left out) and those worn over their waistband (tops, outwear, vest, sling)
LOWER_BODY = (7,)
UPPER_BODY = (1, 2, 3, 4, 5, 6)


def covered_share(
    frames: np.ndarray,
    boxes: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    min_score: float,
    min_overlap: float = 0.5,
) -> np.ndarray:
    """For each detection of a :data:`LOWER_BODY` class, the share of its height above the lower edge of a
    detection of an :data:`UPPER_BODY` class in the same frame (detector confidence >= ``min_score``) that
    lies over it: at least ``min_overlap`` of its width under the top's, the top's box starting no
    lower and ending higher than its own; 0 for every other detection, ``[D]`` float."""
    frames = np.asarray(frames)
    out = np.zeros(len(frames))
    lo = np.flatnonzero(np.isin(classes, LOWER_BODY))
    up = np.flatnonzero(np.isin(classes, UPPER_BODY) & (np.asarray(scores) >= min_score))
    if not len(lo) or not len(up):
        return out
    bx = np.asarray(boxes, np.float64).reshape(-1, 4)
    # frame by frame (a long video's bottoms x tops would not fit in memory at once)
    for f in np.intersect1d(frames[lo], frames[up]):
        li, ui = lo[frames[lo] == f], up[frames[up] == f]
        b, u = bx[li][:, None], bx[ui][None]  # [L,1,4], [1,U,4]
        width = np.maximum(b[..., 2] - b[..., 0], 1e-9)
        height = np.maximum(b[..., 3] - b[..., 1], 1e-9)
        across = np.clip(np.minimum(b[..., 2], u[..., 2]) - np.maximum(b[..., 0], u[..., 0]), 0, None)
        over = (across / width >= min_overlap) & (u[..., 1] <= b[..., 1]) & (u[..., 3] < b[..., 3])
        share = np.where(over, np.clip((u[..., 3] - b[..., 1]) / height, 0, 1), 0.0)
        out[li] = share.max(axis=1)
    return out


def candidate_bonus(
    classes: np.ndarray,
    item_class: int | None,
    config: TrackerConfig,
    frames: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
) -> np.ndarray | None:
    """What training tracking adds to each detection's score, for the pivot and for the detection
    kept per frame: :func:`class_bonus`, less ``cover_penalty`` x :func:`covered_share`; None when
    neither is used."""
    bonus = class_bonus(classes, item_class, config)
    if config.cover_penalty <= 0:
        return bonus
    pen = config.cover_penalty * covered_share(frames, boxes, classes, scores, config.cover_min_score)
    return -pen if bonus is None else bonus - pen


def pivot_ranking(
    shop: np.ndarray,
    bonus: np.ndarray | None,
    shop_threshold: float,
    det_scores: np.ndarray | None = None,
    det_weight: float = 0.0,
) -> np.ndarray:
    """Score by which pivot candidates are ranked: the shop score, plus the class bonus, plus
    ``det_weight`` times the detector's confidence (``det_scores``); candidates below
    ``shop_threshold`` get -inf."""
    rank = shop.astype(np.float64) if bonus is None else shop + bonus
    if det_scores is not None and det_weight > 0:
        rank = rank + det_weight * np.asarray(det_scores, np.float64)
    return np.where(shop >= shop_threshold, rank, -np.inf)


def joinable(
    shop: np.ndarray, classes: np.ndarray, item_class: int | None, config: TrackerConfig
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which detections may join the shop item's tracklet (training mode): ``(may, same)``, both
    ``[D]`` bool. ``may``: a shop score of at least ``member_shop_threshold``; ``same``: the
    detections of the product's class when the detector gives it to at least
    ``class_members_min`` detections of the video, else None (any class may join)."""
    may = shop >= config.member_shop_threshold
    if item_class is None or config.class_members_min <= 0:
        return may, None
    same = classes == item_class
    return may, (same if int(same.sum()) >= config.class_members_min else None)


def near_members(
    frames: np.ndarray, boxes: np.ndarray, other: np.ndarray, members: np.ndarray, config: TrackerConfig
) -> np.ndarray:
    """Which of the detections ``other`` (of another class than the product's) lie on the
    product-class tracklet's boxes (``members``; with ``other_class_frames``, those that many frames
    from them at most): IoU >= ``other_class_iou`` with one of them, or, with ``other_class_inside``
    > 0, at least that share of their own box inside one; ``[D]`` bool over all ``boxes``."""
    near = np.zeros(len(boxes), bool)
    if not len(other) or not len(members):
        return near
    a, b = boxes[other][:, None], boxes[members][None]
    close = np.ones((len(other), len(members)), bool)
    if config.other_class_frames is not None:
        close = np.abs(frames[other][:, None] - frames[members][None]) <= config.other_class_frames
    hit = np.where(close, box_ious(a, b), -1.0).max(axis=1) >= config.other_class_iou
    if config.other_class_inside > 0:
        own = np.maximum(box_areas(boxes[other]), 1e-9)[:, None]
        inside = np.where(close, box_intersections(a, b) / own, -1.0)
        hit |= inside.max(axis=1) >= config.other_class_inside
    near[other] = hit
    return near


def training_tracking(
    dets: VideoDetections,
    head: MatchHead,
    shop_embedding: torch.Tensor,
    config: TrackerConfig | None = None,
    sim: np.ndarray | None = None,
    item_class: int | None = None,
) -> TrackResult | None:
    """The shop item's tracklet (training mode), or None when no detection matches the shop well enough.

    ``item_class``: the product's DeepFashion2 class (``class_bonus`` and ``class_members_min``).
    """
    cfg = config or TrackerConfig()
    if len(dets) == 0:
        return None
    s = shop_scores(dets.embeddings, head, shop_embedding)
    bonus = candidate_bonus(dets.classes, item_class, cfg, dets.frames, dets.boxes, dets.scores)
    rank = pivot_ranking(s, bonus, cfg.shop_threshold, dets.scores, cfg.pivot_det_weight)
    if cfg.pivot_min_score > 0:
        sure = np.where(dets.scores >= cfg.pivot_min_score, rank, -np.inf)
        if np.isfinite(sure).any():
            rank = sure
    pivot = int(np.argmax(rank))
    if not np.isfinite(rank[pivot]):
        return None
    if sim is None:
        with torch.no_grad():
            row = (
                head.score_matrix(dets.embeddings[pivot : pivot + 1], dets.embeddings)[0]
                .float()
                .cpu()
                .numpy()
            )
    else:
        row = sim[pivot]
    bx = np.asarray(dets.boxes, np.float64).reshape(-1, 4)
    may, same = joinable(s, dets.classes, item_class, cfg)
    shop_ok = may
    if same is not None:
        # the tracklet of the product's class first; a detection of another class joins only where
        # its box overlaps one of that tracklet's boxes (the item detected under another class)
        first = _propagate(
            row, dets.frames, may & same, pivot, cfg.match_threshold, bonus, bx, cfg.continuity
        )
        near = near_members(dets.frames, bx, np.flatnonzero(may & ~same), first.members, cfg)
        may = may & (same | near)
    tr = _propagate(row, dets.frames, may, pivot, cfg.match_threshold, bonus, bx, cfg.continuity)
    if cfg.continue_iou > 0:
        if sim is None and cfg.continue_match > 0:
            sim = similarity(head, dets.embeddings)
        tr = continue_ends(tr, dets, row, shop_ok, cfg.continue_iou, cfg.continue_match, sim)
    tr.shop_score = float(s[pivot])
    return tr


def continue_ends(
    tr: TrackResult,
    dets: VideoDetections,
    row: np.ndarray,
    may: np.ndarray,
    min_iou: float,
    min_match: float = 0.0,
    sim: np.ndarray | None = None,
) -> TrackResult:
    """``tr`` continued outward from its first and its last detection (``continue_iou``): on each
    next frame with detections, the detection allowed by ``may`` whose box overlaps the end box most
    joins when that IoU is at least ``min_iou`` and its match score with the end detection (``sim``;
    without it, none is asked) at least ``min_match``; each direction stops at the first frame where
    none does. Joined detections keep their match score with the pivot (``row``)."""
    if not len(tr.members):
        return tr
    frames = dets.frames
    boxes = np.asarray(dets.boxes, np.float64).reshape(-1, 4)
    taken = set(frames[tr.members].tolist())
    added: list[int] = []
    for step in (1, -1):
        end = int(tr.members[-1] if step > 0 else tr.members[0])
        later = np.unique(frames[(frames - frames[end]) * step > 0])
        for f in later[::step]:
            if int(f) in taken:
                break
            cand = np.flatnonzero(may & (frames == f))
            if not len(cand):
                break
            iou = box_ious(boxes[cand], boxes[end][None])
            k = int(np.argmax(iou))
            i = int(cand[k])
            if iou[k] < min_iou or (sim is not None and min_match > 0 and sim[end, i] < min_match):
                break
            added.append(i)
            end = i
    if not added:
        return tr
    members = np.concatenate([tr.members, np.asarray(added, np.int64)])
    order = np.argsort(frames[members], kind="stable")
    members = members[order]
    ms = np.concatenate([tr.match_scores, row[added].astype(np.float32)])[order]
    return TrackResult(pivot=tr.pivot, members=members, match_scores=ms, shop_score=tr.shop_score)


def skipped_end_frames(
    first: int, last: int, sampled: Sequence[int], n_frames: int, stride: int
) -> list[int]:
    """The frames a tracklet running from frame ``first`` to frame ``last`` may still reach that the
    detector never ran on (``sampled``: the frames it ran on): those between ``last`` and the next
    sampled frame (or the video's end), and between the sampled frame before ``first`` (or the
    video's start) and ``first``, at most ``stride - 1`` on each side, nearest first."""
    done = set(int(f) for f in sampled)
    out: list[int] = []
    for end, step, stop in ((last, 1, n_frames), (first, -1, -1)):
        f = end + step
        while f != stop and f not in done and abs(f - end) < stride:
            out.append(f)
            f += step
    return out


def extend_into(
    tr: TrackResult,
    dets: VideoDetections,
    extra: VideoDetections,
    head: MatchHead,
    shop_embedding: torch.Tensor,
    config: TrackerConfig,
) -> tuple[TrackResult, VideoDetections]:
    """``tr`` continued into the detections ``extra`` of frames the detector skipped next to its
    ends (:func:`skipped_end_frames`), by :func:`continue_ends`'s rule (``continue_iou``,
    ``continue_match``, ``member_shop_threshold``) and by no other detection: returns the tracklet
    and the detections its members index (``dets`` with ``extra`` appended; ``tr`` and ``dets``
    themselves when no detection joins)."""
    if not len(extra) or not len(tr.members) or config.continue_iou <= 0:
        return tr, dets
    both = VideoDetections(
        frames=np.concatenate([dets.frames, extra.frames]).astype(np.int64),
        boxes=np.concatenate([np.asarray(dets.boxes).reshape(-1, 4), np.asarray(extra.boxes).reshape(-1, 4)]),
        scores=np.concatenate([dets.scores, extra.scores]),
        classes=np.concatenate([dets.classes, extra.classes]).astype(np.int64),
        embeddings=torch.cat([dets.embeddings, extra.embeddings.to(dets.embeddings)]),
    )
    n = len(dets)
    may = np.zeros(len(both), bool)
    may[n:] = shop_scores(extra.embeddings, head, shop_embedding) >= config.member_shop_threshold
    sim = similarity(head, both.embeddings)
    out = continue_ends(tr, both, sim[tr.pivot], may, config.continue_iou, config.continue_match, sim)
    if len(out.members) == len(tr.members):
        return tr, dets
    return out, both
