"""Confidence signals of a ground-truth tracklet and the calibrated rule that flags it for review.

The builder cannot see the truth, but it sees how sure it was: the pivot's shop score, the shop
score along the tracklet, how many sampled frames the tracklet covers, whether the detector
agrees on the product's class, how fragmented the tracklet is. :func:`tracklet_signals` computes
them (stored with the tracklet file, so flags can be re-decided without detecting again);
:func:`flag_reason` applies the :class:`FlagRule` list of the review config, an OR of one-sided
thresholds fitted on synthetic worlds (``python -m movingfashion.world.flag_fit``; figures in
``movingfashion/models/weights/README.json``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.geometry import box_areas, box_intersections, box_ious

#: Every signal, with what it measures (all in [0, 1] unless said).
SIGNALS: dict[str, str] = {
    "pivot_shop": "shop match score of the pivot detection",
    "shop_mean": "mean shop match score of the tracklet's detections",
    "shop_p20": "20th percentile of the shop match scores of the tracklet's detections",
    "shop_lose": "share of the tracklet's frames where another detection matches the shop image better",
    "coverage": "share of the sampled frames the tracklet has a detection on",
    "coverage_detected": "share of the frames with any detection the tracklet has a detection on",
    "class_agree": "share of the tracklet's detections whose detector class is the product's class"
    " (the tracklet's majority class when the product's is unknown)",
    "fragments": "runs of consecutive sampled frames the tracklet is split into, minus one (a count)",
    "longest_hole": "longest run of sampled frames without a tracklet detection, incl. the ends, as a share",
    "match_mean": "mean match score of the tracklet's detections with the pivot (pivot excluded)",
    "det_mean": "mean detector confidence of the tracklet's detections",
    "area_cv": "coefficient of variation of the tracklet's box areas (>= 0)",
    "members": "detections in the tracklet (a count)",
    "det_p20": "20th percentile of the detector confidences of the tracklet's detections",
    "shop_low": "share of the tracklet's detections whose shop match score is below 0.5",
    "step_iou": "mean IoU of the boxes of consecutive tracklet detections (1 with fewer than two)",
    "jump_share": "share of consecutive tracklet detections whose boxes overlap with IoU < 0.2 (the box jumped)",
    "area_jump": "largest |log2| of the area ratio of consecutive tracklet boxes (>= 0)",
    "rival_share": "share of the tracklet's frames where a detection elsewhere (IoU < 0.3 with the"
    " tracklet's box) matches the shop image better by more than 0.1",
    "pivot_class": "1 when the pivot's detector class is the product's class (the tracklet's majority"
    " class when the product's is unknown), else 0",
    "pivot_gap": "pivot's shop match score minus the median shop match score of the tracklet (in [-1, 1])",
    "alt_margin": "mean shop match score of the tracklet minus that of the best other tracklet of the video"
    " (inference tracking, no detection in common, >= 2 detections; 1 when there is none; in [-1, 1])",
    "pivot_second": "the other matcher's score of the pivot against the shop image: on the RoI path the"
    " crop matcher's, of the pivot's crop (annotations.pivot_check; absent elsewhere, e.g. on a video"
    " matched on the crop fallback)",
    "class_frames": "share of the sampled frames with a detection of the product's class (the tracklet's"
    " majority class when the product's is unknown)",
    "extent_alt": "share of the tracklet's detections with another detection of the tracklet's majority"
    " class in their frame nested with them (one inside the other by >= 80% of the smaller box, IoU"
    " < 0.7): the detector offers two extents of the garment, e.g. the visible strip of shorts under a"
    " top and a box reaching up under the top, and the tracklet may be on the wrong one",
    "extent_outer": "share of the tracklet's detections that hold a smaller detection of the tracklet's"
    " majority class nested inside them (as extent_alt, one direction only): the tracklet took the"
    " larger of two extents, e.g. the box reaching up under a top while the detector also boxes the"
    " visible strip",
    "class_missed": "share of the sampled frames with a detection of the product's class where the"
    " tracklet's box is not one of that class (it follows another garment while the product's class"
    " is in view; the tracklet's majority class when the product's is unknown; 0 when unknown)",
    "class_ignored": "share of the frames with a detection of the product's class where the tracklet's"
    " box is not one of that class (class_missed relative to class_frames; the tracklet's majority class"
    " when the product's is unknown; 0 when unknown or when that class is detected on fewer than"
    " CLASS_SEEN_MIN of the sampled frames): high when the tracklet stays on another garment, e.g. a"
    " dress box spanning the top and the skirt, on every frame the skirt is boxed, even where the skirt"
    " class is detected on few frames and class_missed stays low",
    "track_agree": "largest share of the tracklet's detections that one tracklet of inference tracking"
    " (which never sees the shop image) holds (1 when inference tracking is unknown): low when the"
    " tracklet strings together detections that appearance alone keeps apart, e.g. the item on some"
    " frames and another garment on others",
    "jump_shop": "largest difference of the mean shop match score of the tracklet's detections before"
    " and after a box jump (consecutive boxes at IoU < 0.2; 0 without one): the tracklet joins a part"
    " the shop image matches to a part it does not, e.g. the item on the first frames and another"
    " person's look-alike garment, which took the pivot, on the later ones",
}


class FlagRule(BaseModel):
    """Flag a video when ``signal`` is below (``lt``) or above (``gt``) ``threshold``.

    With ``max_share`` the rule is relative to the dataset too: over a dataset's videos
    (:meth:`resolved`) its threshold tightens to the signal's ``max_share`` quantile when that is
    stricter, so that on a dataset where the signal runs low everywhere (a detector less sure of
    all of it) the rule flags about ``max_share`` of the videos instead of most of them; a value
    beyond ``floor`` always fires. Unresolved (one video alone), ``threshold`` applies.
    """

    model_config = ConfigDict(extra="forbid")

    signal: str = Field(description="one of annotations.flags.SIGNALS")
    op: Literal["lt", "gt"] = Field(description="lt: flag below the threshold; gt: flag above it")
    threshold: float
    max_share: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="over a dataset, flag at most about this share of its videos by this rule (the"
        " threshold tightens to the signal's quantile there); None = the threshold alone",
    )
    floor: float | None = Field(
        None,
        description="with max_share: the tightened threshold never goes past this value (beyond it the"
        " rule always fires, however many videos it flags)",
    )

    @model_validator(mode="after")
    def _check_share(self) -> FlagRule:
        if self.floor is not None:
            if self.max_share is None:
                raise ValueError(f"flag rule on {self.signal}: floor needs max_share")
            if (self.floor > self.threshold) if self.op == "lt" else (self.floor < self.threshold):
                raise ValueError(
                    f"flag rule on {self.signal}: floor {self.floor} is past the threshold {self.threshold}"
                )
        return self

    def resolved(self, values: Sequence[float]) -> FlagRule:
        """This rule with its threshold for a dataset whose videos have these ``values`` of the
        signal (an absolute rule, ``max_share`` None); unchanged without ``max_share`` or values."""
        v = np.asarray([x for x in values if x is not None and np.isfinite(x)], float)
        if self.max_share is None or not len(v):
            return self.model_copy()
        if self.op == "lt":
            t = min(self.threshold, float(np.quantile(v, self.max_share)))
            t = t if self.floor is None else max(self.floor, t)
        else:
            t = max(self.threshold, float(np.quantile(v, 1 - self.max_share)))
            t = t if self.floor is None else min(self.floor, t)
        return self.model_copy(update={"threshold": round(t, 4), "max_share": None, "floor": None})

    def fires(self, signals: dict[str, float]) -> bool:
        v = signals.get(self.signal)
        if v is None:
            return False
        return v < self.threshold if self.op == "lt" else v > self.threshold

    def describe(self, signals: dict[str, float]) -> str:
        sign = "<" if self.op == "lt" else ">"
        return f"{self.signal} {signals[self.signal]:.3g} {sign} {self.threshold:.3g}"


def _runs(ordinals: np.ndarray) -> int:
    return int(1 + np.count_nonzero(np.diff(ordinals) > 1)) if len(ordinals) else 0


def _step_ious(boxes: np.ndarray) -> np.ndarray:
    """IoU of each box with the next one, ``[n-1]``."""
    if len(boxes) < 2:
        return np.zeros(0)
    return box_ious(boxes[:-1], boxes[1:])


#: Nested boxes (``extent_alt``, ``extent_outer``): the smaller lies inside the larger by at least
#: this share of its area...
NEST_INSIDE = 0.8
#: ... and the two overlap with an IoU below this (near-duplicates are one extent).
NEST_IOU = 0.7


def _extents(
    member_frames: np.ndarray,
    member_boxes: np.ndarray,
    member_classes: np.ndarray,
    video_frames: np.ndarray | None,
    video_classes: np.ndarray | None,
    video_boxes: np.ndarray | None,
) -> tuple[float, float]:
    """``extent_alt`` and ``extent_outer`` of :data:`SIGNALS` (0 without the video's detections)."""
    n = len(member_frames)
    if not n or video_frames is None or video_classes is None or video_boxes is None:
        return 0.0, 0.0
    ref = int(np.bincount(np.asarray(member_classes)).argmax())
    vb = np.asarray(video_boxes, np.float64).reshape(-1, 4)
    keep = np.asarray(video_classes) == ref
    vf, vb = np.asarray(video_frames)[keep], vb[keep]
    mb = np.asarray(member_boxes, np.float64).reshape(-1, 4)
    same = np.asarray(member_frames)[:, None] == vf[None, :]  # [n, V]
    inter = box_intersections(mb[:, None], vb[None])
    m_area, v_area = box_areas(mb)[:, None], box_areas(vb)[None, :]
    inside = inter / np.maximum(np.minimum(m_area, v_area), 1e-9)
    apart = inter < NEST_IOU * (m_area + v_area - inter)  # IoU < NEST_IOU, from the same areas
    nested = same & apart & (inside >= NEST_INSIDE)
    holds = nested & (v_area < m_area)  # the other box is the smaller, inside the member's
    return float(np.mean(nested.any(axis=1))), float(np.mean(holds.any(axis=1)))


#: ``class_ignored``: the product's class must be detected on at least this share of the sampled
#: frames (fewer: a stray box of that class elsewhere, and the signal is 0).
CLASS_SEEN_MIN = 0.1


def _class_frames(
    member_frames: np.ndarray,
    member_classes: np.ndarray,
    ref_class: int | None,
    video_frames: np.ndarray | None,
    video_classes: np.ndarray | None,
) -> tuple[int | None, int | None]:
    """Frames with a detection of ``ref_class``, and of those the ones where the tracklet has no
    box of that class (None, None: the video's detections or the class unknown)."""
    if video_frames is None or video_classes is None or ref_class is None:
        return None, None
    frames = np.asarray(video_frames)[np.asarray(video_classes) == ref_class]
    own = np.asarray(member_frames)[np.asarray(member_classes) == ref_class]
    return len(np.unique(frames)), len(np.setdiff1d(frames, own))


#: ``jump_shop`` and ``jump_share``: consecutive tracklet boxes overlapping below this IoU jumped.
JUMP_IOU = 0.2


def _jump_shop(member_shop: np.ndarray, steps: np.ndarray) -> float:
    """``jump_shop`` of :data:`SIGNALS` from the IoUs of consecutive boxes (``steps``)."""
    shop = np.asarray(member_shop, np.float64)
    best = 0.0
    for k in np.flatnonzero(steps < JUMP_IOU):
        best = max(best, abs(float(np.mean(shop[: k + 1]) - np.mean(shop[k + 1 :]))))
    return best


def tracklet_signals(
    member_frames: np.ndarray,
    member_boxes: np.ndarray,
    member_classes: np.ndarray,
    member_det_scores: np.ndarray,
    member_match: np.ndarray,
    member_shop: np.ndarray,
    pivot_shop: float,
    frame_best_other_shop: np.ndarray,
    sampled: Sequence[int],
    frames_with_detections: int,
    item_class: int | None,
    member_rival: np.ndarray | None = None,
    pivot_class: int | None = None,
    alt_shop: float | None = None,
    video_frames: np.ndarray | None = None,
    video_classes: np.ndarray | None = None,
    video_boxes: np.ndarray | None = None,
    member_track: np.ndarray | None = None,
) -> dict[str, float]:
    """The signals of :data:`SIGNALS` for one ground-truth tracklet.

    ``member_*`` are per detection of the tracklet (sorted by frame); ``frame_best_other_shop``
    is, per member, the best shop score of another detection of its frame (-inf when none);
    ``member_rival`` whether a detection of its frame away from it matches the shop image
    better by more than 0.1 (None: none does); ``pivot_class`` the pivot's detector class
    (None: the first member's); ``sampled`` the frames the detector ran on; ``alt_shop`` the mean
    shop score of the best other tracklet (None: none); ``video_frames`` and ``video_classes`` the
    frame and detector class of every detection of the video (None: unknown, ``class_frames`` is 1),
    ``video_boxes`` their boxes (None: ``extent_alt`` and ``extent_outer`` are 0);
    ``member_track`` the index of the inference tracklet each member is in (-1: none; None:
    inference tracking unknown, ``track_agree`` is 1).
    """
    n = len(member_frames)
    ns = max(1, len(sampled))
    ordinals = np.searchsorted(np.asarray(sampled), member_frames)
    holes = np.diff(np.concatenate([[-1], ordinals, [ns]])) - 1
    areas = box_areas(np.asarray(member_boxes))
    ref_class = item_class
    if ref_class is None and n:
        ref_class = int(np.bincount(member_classes).argmax())
    others = member_match[np.asarray(member_match) < 1.0]
    steps = _step_ious(member_boxes)
    ratios = np.abs(np.diff(np.log2(np.clip(areas, 1e-6, None)))) if n > 1 else np.zeros(0)
    rival = np.zeros(n, bool) if member_rival is None else np.asarray(member_rival, bool)
    pc = pivot_class if pivot_class is not None else (int(member_classes[0]) if n else None)
    alt_extent, outer_extent = _extents(
        member_frames, member_boxes, member_classes, video_frames, video_classes, video_boxes
    )
    seen, missed = _class_frames(member_frames, member_classes, ref_class, video_frames, video_classes)
    track = np.asarray(member_track if member_track is not None else [], np.int64)
    track = track[track >= 0]
    return {
        "pivot_shop": float(pivot_shop),
        "shop_mean": float(np.mean(member_shop)) if n else 0.0,
        "shop_p20": float(np.percentile(member_shop, 20)) if n else 0.0,
        "shop_lose": float(np.mean(frame_best_other_shop > member_shop)) if n else 1.0,
        "coverage": n / ns,
        "coverage_detected": n / max(1, frames_with_detections),
        "class_agree": float(np.mean(member_classes == ref_class)) if n else 0.0,
        "fragments": float(max(0, _runs(ordinals) - 1)),
        "longest_hole": float(holes.max()) / ns if len(holes) else 1.0,
        "match_mean": float(np.mean(others)) if len(others) else 1.0,
        "det_mean": float(np.mean(member_det_scores)) if n else 0.0,
        "area_cv": float(np.std(areas) / np.mean(areas)) if n and np.mean(areas) > 0 else 0.0,
        "members": float(n),
        "det_p20": float(np.percentile(member_det_scores, 20)) if n else 0.0,
        "shop_low": float(np.mean(np.asarray(member_shop) < 0.5)) if n else 1.0,
        "step_iou": float(np.mean(steps)) if len(steps) else 1.0,
        "jump_share": float(np.mean(steps < JUMP_IOU)) if len(steps) else 0.0,
        "area_jump": float(ratios.max()) if len(ratios) else 0.0,
        "rival_share": float(np.mean(rival)) if n else 0.0,
        "pivot_class": float(pc is not None and pc == ref_class),
        "pivot_gap": float(pivot_shop - np.median(member_shop)) if n else 0.0,
        "alt_margin": float(np.mean(member_shop) - alt_shop) if n and alt_shop is not None else 1.0,
        "class_frames": seen / ns if seen is not None else 1.0,
        "extent_alt": alt_extent,
        "extent_outer": outer_extent,
        "class_missed": missed / ns if missed is not None else 0.0,
        "class_ignored": (
            missed / seen if seen is not None and missed is not None and seen >= CLASS_SEEN_MIN * ns else 0.0
        ),
        "track_agree": (
            (float(np.bincount(track).max()) / n if len(track) else 0.0)
            if member_track is not None and n
            else 1.0
        ),
        "jump_shop": _jump_shop(member_shop, steps),
    }


#: one rule's part of a flag reason, as :meth:`FlagRule.describe` writes it: ``det_mean 0.349 < 0.359``
_FIRED = re.compile(r"\b([a-z][a-z0-9_]*) (-?[0-9][0-9.e+-]*) ([<>]) (-?[0-9][0-9.e+-]*)")


def reason_in_words(reason: str) -> str:
    """``reason`` with each fired rule (``det_mean 0.349 < 0.359``) said in plain words, the
    signal's name kept in brackets: ``the mean detector confidence of the tracklet's detections
    is 0.349, below the flag threshold 0.359 (det_mean)``; other text is kept as it is."""

    def words(m: re.Match[str]) -> str:
        name, value, sign, threshold = m.groups()
        if name not in SIGNALS:
            return m.group(0)
        side = "below" if sign == "<" else "above"
        return f"the {SIGNALS[name]} is {value}, {side} the flag threshold {threshold} ({name})"

    return _FIRED.sub(words, reason)


def flag_reason(signals: dict[str, float], rules: Sequence[FlagRule]) -> str | None:
    """Why the rules flag these signals (every rule that fires), or None."""
    fired = [r.describe(signals) for r in rules if r.fires(signals)]
    return "low confidence: " + ", ".join(fired) if fired else None


SCORE_DECIMALS = 4
"""Scores (detector, matcher, shop) and signals are stored rounded to this many decimals."""


def rounded(signals: dict[str, float], decimals: int = SCORE_DECIMALS) -> dict[str, float]:
    """Signals rounded for storage."""
    return {k: round(float(v), decimals) for k, v in signals.items()}
