"""Confidence signals of a ground-truth tracklet and the rule that flags it (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from annotations.builder import extend_ends
from annotations.config import FITTED_RULES, ReviewConfig
from annotations.flags import SIGNALS, FlagRule, flag_reason, reason_in_words, tracklet_signals


def _signals(frames, shop, classes=None, best_other=None, item_class=3, sampled=range(0, 20, 2)):
    n = len(frames)
    return tracklet_signals(
        member_frames=np.array(frames),
        member_boxes=np.tile([10.0, 10.0, 50.0, 90.0], (n, 1)),
        member_classes=np.array(classes if classes is not None else [3] * n),
        member_det_scores=np.full(n, 0.8),
        member_match=np.array([1.0] + [0.7] * (n - 1)),
        member_shop=np.array(shop, float),
        pivot_shop=max(shop),
        frame_best_other_shop=np.array(best_other if best_other is not None else [-np.inf] * n),
        sampled=list(sampled),
        frames_with_detections=10,
        item_class=item_class,
    )


def test_signals_of_a_clean_and_of_a_broken_tracklet():
    clean = _signals(list(range(0, 20, 2)), [0.9] * 10)
    # every signal but the pivot's second opinion, which the builder adds (annotations.pivot_check)
    assert set(clean) == set(SIGNALS) - {"pivot_second"}
    assert clean["coverage"] == 1.0 and clean["fragments"] == 0 and clean["longest_hole"] == 0
    assert clean["class_agree"] == 1.0 and clean["shop_lose"] == 0 and clean["area_cv"] == 0
    assert clean["match_mean"] == pytest.approx(0.7) and clean["members"] == 10
    # three detections in two runs, another class twice, beaten on the shop score in one frame
    broken = _signals([0, 2, 12], [0.9, 0.4, 0.3], classes=[3, 5, 5], best_other=[0.1, 0.8, -np.inf])
    assert broken["coverage"] == pytest.approx(0.3) and broken["fragments"] == 1
    assert broken["longest_hole"] == pytest.approx(0.4)  # frames 4..10: 4 of the 10 sampled
    assert broken["class_agree"] == pytest.approx(1 / 3) and broken["shop_lose"] == pytest.approx(1 / 3)
    assert broken["shop_p20"] < broken["shop_mean"] < broken["pivot_shop"] == 0.9
    # unknown product class: agreement with the tracklet's own majority class
    assert _signals([0, 2, 4], [0.9] * 3, classes=[5, 5, 3], item_class=None)["class_agree"] == pytest.approx(
        2 / 3
    )


def test_rules_fire_and_explain():
    s = _signals([0, 2, 12], [0.9, 0.4, 0.3], classes=[3, 5, 5])
    rules = [
        FlagRule(signal="coverage", op="lt", threshold=0.5),
        FlagRule(signal="fragments", op="gt", threshold=2),
    ]
    assert flag_reason(s, rules) == "low confidence: coverage 0.3 < 0.5"
    assert flag_reason(_signals(list(range(0, 20, 2)), [0.9] * 10), rules) is None
    review = ReviewConfig(rules=rules)
    assert review.reason(s).startswith("low confidence")
    assert ReviewConfig(rules=[], min_shop_score=0.95).reason(s) == "low shop score 0.90"
    assert "too few frames" in ReviewConfig(rules=[], min_frames=4).reason(s)
    with pytest.raises(ValidationError, match="unknown signal"):
        ReviewConfig(rules=[{"signal": "nope", "op": "lt", "threshold": 1}])
    # the shipped defaults are fitted rules on known signals, and a fresh copy per config
    assert ReviewConfig().rules == FITTED_RULES and all(r.signal in SIGNALS for r in FITTED_RULES)
    assert ReviewConfig().rules is not ReviewConfig().rules


def test_extend_ends_holds_the_end_boxes_within_the_gap():
    boxes = {2: [0, 0, 1, 1], 4: [1, 1, 2, 2]}
    out = extend_ends(boxes, 7, max_gap=2)
    assert sorted(out) == [0, 1, 2, 4, 5, 6] and out[0] == [0, 0, 1, 1] and out[6] == [1, 1, 2, 2]
    assert sorted(extend_ends(boxes, 10, max_gap=2)) == [0, 1, 2, 4]  # 5 frames short: the item left
    assert extend_ends({}, 10, 4) == {}


def test_signals_of_a_tracklet_whose_box_jumps_to_another_garment():
    n = 6
    boxes = np.tile([10.0, 10.0, 50.0, 90.0], (n, 1))
    boxes[3:] = [200.0, 10.0, 220.0, 30.0]  # from the 4th detection on: a small box elsewhere
    s = tracklet_signals(
        member_frames=np.arange(0, 2 * n, 2),
        member_boxes=boxes,
        member_classes=np.array([3, 3, 3, 5, 5, 5]),
        member_det_scores=np.array([0.9, 0.9, 0.9, 0.9, 0.2, 0.2]),
        member_match=np.array([1.0] + [0.7] * (n - 1)),
        member_shop=np.array([0.9, 0.9, 0.9, 0.4, 0.4, 0.6]),
        pivot_shop=0.9,
        frame_best_other_shop=np.full(n, -np.inf),
        sampled=list(range(0, 2 * n, 2)),
        frames_with_detections=n,
        item_class=3,
        member_rival=np.array([False, False, False, True, True, False]),
        pivot_class=5,
    )
    assert s["step_iou"] == pytest.approx(0.8) and s["jump_share"] == pytest.approx(0.2)
    assert s["area_jump"] == pytest.approx(np.log2(3200 / 400))
    assert s["shop_low"] == pytest.approx(1 / 3) and s["rival_share"] == pytest.approx(1 / 3)
    assert s["det_p20"] == pytest.approx(0.2) and s["pivot_class"] == 0.0
    clean = _signals(list(range(0, 20, 2)), [0.9] * 10)
    assert clean["step_iou"] == 1.0 and clean["jump_share"] == 0.0 and clean["area_jump"] == 0.0
    assert clean["rival_share"] == 0.0 and clean["pivot_class"] == 1.0 and clean["shop_low"] == 0.0


def _four_members(classes: list[int], shop: list[float], match: float) -> dict:
    """A tracklet of four detections on frames 0, 2, 4, 6 of five sampled (0-8), item class 3."""
    return dict(
        member_frames=np.array([0, 2, 4, 6]),
        member_boxes=np.tile([10.0, 10.0, 50.0, 90.0], (4, 1)),
        member_classes=np.array(classes),
        member_det_scores=np.full(4, 0.8),
        member_match=np.array([1.0, match, match, match]),
        member_shop=np.array(shop),
        pivot_shop=0.95,
        frame_best_other_shop=np.full(4, -np.inf),
        sampled=list(range(0, 10, 2)),
        frames_with_detections=5,
        item_class=3,
    )


def test_ambiguity_signals_compare_the_tracklet_with_its_alternatives():
    kw = _four_members([3, 3, 3, 3], [0.95, 0.5, 0.6, 0.7], 0.7)
    # the product's class is detected on frames 0, 2 and 8 (twice on 8): 3 of the 5 sampled frames
    video = dict(video_frames=np.array([0, 2, 4, 8, 8]), video_classes=np.array([3, 3, 5, 3, 3]))
    s = tracklet_signals(**kw, alt_shop=0.8, **video)
    assert s["pivot_gap"] == pytest.approx(0.95 - 0.65)  # the lucky pivot stands out of its tracklet
    assert s["alt_margin"] == pytest.approx(0.6875 - 0.8)  # another tracklet matches the shop better
    assert s["class_frames"] == pytest.approx(3 / 5)
    alone = tracklet_signals(**kw)  # no alternative, detections of the video unknown
    assert alone["alt_margin"] == 1.0 and alone["class_frames"] == 1.0
    assert tracklet_signals(**{**kw, "item_class": 7}, **video)["class_frames"] == 0.0


def test_class_missed_counts_frames_where_the_product_class_is_seen_off_the_tracklet():
    # the tracklet follows class 5 (trousers) on frames 0-6 while the product's class 3 (a top) is
    # detected on frames 0, 2 and 8: the wrongly paired video of the demo world
    kw = _four_members([5, 5, 3, 5], [0.95] * 4, 0.9)
    video = dict(video_frames=np.array([0, 0, 2, 2, 4, 6, 8]), video_classes=np.array([5, 3, 5, 3, 3, 5, 3]))
    s = tracklet_signals(**kw, **video)
    # frames with class 3: 0, 2, 4, 8; the tracklet's own class-3 box covers 4 only
    assert s["class_missed"] == pytest.approx(3 / 5)
    on_item = tracklet_signals(**{**kw, "member_classes": np.array([3, 3, 3, 5])}, **video)
    assert on_item["class_missed"] == pytest.approx(1 / 5)  # frame 8 only
    assert tracklet_signals(**kw)["class_missed"] == 0.0  # the video's detections unknown


def test_class_ignored_is_class_missed_relative_to_the_frames_the_product_class_is_seen_on():
    # a skirt (class 3) boxed as a dress (class 5) on frames 0-6 of 20 sampled; the skirt class is
    # detected on frames 2 and 30 only: class_missed stays low (2 of 20), class_ignored is 1
    kw = {**_four_members([5, 5, 5, 5], [0.95] * 4, 0.9), "sampled": list(range(0, 40, 2))}
    video = dict(video_frames=np.array([0, 2, 2, 4, 6, 30]), video_classes=np.array([5, 5, 3, 5, 5, 3]))
    s = tracklet_signals(**kw, **video)
    assert s["class_missed"] == pytest.approx(2 / 20) and s["class_ignored"] == pytest.approx(1.0)
    # the tracklet's own box on frame 2 is of the skirt class: half the frames it is seen on
    on_item = tracklet_signals(**{**kw, "member_classes": np.array([5, 3, 5, 5])}, **video)
    assert on_item["class_ignored"] == pytest.approx(1 / 2)
    # seen on 1 of 20 sampled frames (under CLASS_SEEN_MIN): a stray box, no signal
    stray = dict(video_frames=np.array([0, 2, 4, 6, 30]), video_classes=np.array([5, 5, 5, 5, 3]))
    assert tracklet_signals(**kw, **stray)["class_ignored"] == 0.0
    assert tracklet_signals(**kw)["class_ignored"] == 0.0  # the video's detections unknown


def test_extent_alt_counts_frames_where_the_detector_offers_a_second_extent_of_the_garment():
    # the tracklet's box [10, 10, 50, 90] on frames 0, 2, 4, 6 (class 3); the video's detections:
    # itself on every frame, plus on frame 0 a strip of class 3 inside it (the visible part), on
    # frame 2 the same strip of class 5 (another class: not an extent of this garment), on frame 4
    # a near-duplicate (IoU >= 0.7: one extent) and on frame 6 a taller box of class 3 around it
    kw = _four_members([3, 3, 3, 3], [0.9] * 4, 0.9)
    own = [[10.0, 10.0, 50.0, 90.0]] * 4
    extra = [
        [10.0, 70.0, 50.0, 90.0],
        [10.0, 70.0, 50.0, 90.0],
        [10.0, 12.0, 50.0, 90.0],
        [10.0, 0.0, 52.0, 140.0],
    ]
    video = dict(
        video_frames=np.array([0, 2, 4, 6, 0, 2, 4, 6]),
        video_classes=np.array([3, 3, 3, 3, 3, 5, 3, 3]),
        video_boxes=np.array(own + extra),
    )
    s = tracklet_signals(**kw, **video)
    assert s["extent_alt"] == pytest.approx(2 / 4)  # frames 0 and 6
    # extent_outer: only frame 0, where the tracklet holds the strip (on frame 6 it is held)
    assert s["extent_outer"] == pytest.approx(1 / 4)
    # a box beside the tracklet's, not nested, is another garment, not a second extent
    beside = {**video, "video_boxes": np.array(own + [[60.0, 10.0, 100.0, 90.0]] * 4)}
    assert tracklet_signals(**kw, **beside)["extent_alt"] == 0.0
    assert tracklet_signals(**kw, **beside)["extent_outer"] == 0.0
    assert tracklet_signals(**kw)["extent_alt"] == 0.0  # the video's detections unknown
    assert tracklet_signals(**kw)["extent_outer"] == 0.0


def test_a_rule_relative_to_the_dataset_is_checked_and_resolves_both_ways():
    with pytest.raises(ValidationError, match="floor needs max_share"):
        FlagRule(signal="det_mean", op="lt", threshold=0.36, floor=0.2)
    with pytest.raises(ValidationError, match="past the threshold"):
        FlagRule(signal="det_mean", op="lt", threshold=0.36, max_share=0.1, floor=0.5)
    values = [i / 100 for i in range(101)]  # 0.00 .. 1.00
    low = FlagRule(signal="det_mean", op="lt", threshold=0.36, max_share=0.1, floor=0.05)
    assert low.resolved(values).threshold == pytest.approx(0.1) and low.resolved(values).max_share is None
    assert low.resolved([0.9] * 20).threshold == 0.36  # never looser than the threshold
    high = FlagRule(signal="class_missed", op="gt", threshold=0.5, max_share=0.1, floor=0.95)
    assert high.resolved(values).threshold == pytest.approx(0.9)
    assert high.resolved([0.99] * 20).threshold == 0.95  # the floor, on the gt side a ceiling
    assert low.resolved([None, float("nan")]).threshold == 0.36  # nothing to resolve on


def test_track_agree_is_the_largest_share_one_inference_tracklet_holds():
    kw = _four_members([3, 3, 3, 3], [0.9] * 4, 0.8)
    # the tracklet strings two objects together: inference tracking holds two members in each
    assert tracklet_signals(**kw, member_track=np.array([0, 0, 1, 1]))["track_agree"] == 0.5
    # three in one, the fourth in no inference tracklet (too short to keep)
    assert tracklet_signals(**kw, member_track=np.array([2, 2, -1, 2]))["track_agree"] == 0.75
    assert tracklet_signals(**kw, member_track=np.full(4, -1))["track_agree"] == 0.0
    assert tracklet_signals(**kw)["track_agree"] == 1.0  # inference tracking unknown


def test_jump_shop_is_the_shop_score_step_across_a_box_jump():
    # seed 5104's trousers: the item (shop 0.1) on frames 0 and 2, then the box jumps to another
    # person's look-alike trousers (shop ~1.0, the pivot) on frames 4 and 6
    kw = _four_members([3, 3, 3, 3], [0.1, 0.1, 1.0, 0.9], 0.7)
    item, other = [10.0, 10.0, 50.0, 90.0], [100.0, 200.0, 140.0, 280.0]
    jumped = {**kw, "member_boxes": np.array([item, item, other, other])}
    assert tracklet_signals(**jumped)["jump_shop"] == pytest.approx(0.95 - 0.1)
    # the same scores without a jump (the boxes overlap throughout): 0
    assert tracklet_signals(**kw)["jump_shop"] == 0.0
    # a jump between two parts the shop image matches alike: small
    alike = {**jumped, "member_shop": np.array([0.9, 0.95, 1.0, 0.9])}
    assert tracklet_signals(**alike)["jump_shop"] == pytest.approx(0.025)


def test_the_builder_gives_track_agree_from_the_inference_tracklets():
    """The builder's signals: members 0, 2, 3 and 5 of the training tracklet; inference tracking
    put 0 and 2 in one tracklet and 3 and 5 in another, so no tracklet holds more than half."""
    from types import SimpleNamespace

    import torch

    from annotations.builder import TrackletBuilder
    from annotations.config import BuildConfig
    from annotations.tracking import TrackResult, VideoDetections

    dets = VideoDetections(
        frames=np.array([0, 0, 2, 4, 4, 6]),
        boxes=np.tile(np.array([10.0, 10.0, 50.0, 90.0], np.float32), (6, 1)),
        scores=np.full(6, 0.8, np.float32),
        classes=np.full(6, 3),
        embeddings=torch.zeros(6, 4),
    )
    members = np.array([0, 2, 3, 5])
    gt = TrackResult(pivot=0, members=members, match_scores=np.ones(4, np.float32), shop_score=0.9)
    inf = [
        TrackResult(pivot=0, members=np.array([0, 2]), match_scores=np.ones(2, np.float32)),
        TrackResult(pivot=3, members=np.array([1, 3, 5]), match_scores=np.ones(3, np.float32)),
    ]
    me = SimpleNamespace(config=BuildConfig())
    shop = np.full(6, 0.9)
    s = TrackletBuilder.signals(me, dets, gt, shop, [0, 2, 4, 6], 3, inf)
    assert s["track_agree"] == 0.5
    one = [TrackResult(pivot=0, members=np.array([0, 2, 3]), match_scores=np.ones(3, np.float32))]
    assert TrackletBuilder.signals(me, dets, gt, shop, [0, 2, 4, 6], 3, one)["track_agree"] == 0.75


def test_a_flag_reason_is_said_in_plain_words():
    got = reason_in_words(
        "tracklets: a_0: low confidence: det_mean 0.349 < 0.359, area_cv 1.2 > 0.9; b_0: shop"
    )
    assert got == (
        f"tracklets: a_0: low confidence: the {SIGNALS['det_mean']} is 0.349, below the flag threshold 0.359"
        f" (det_mean), the {SIGNALS['area_cv']} is 1.2, above the flag threshold 0.9 (area_cv); b_0: shop"
    )
    # what names no signal is kept as it is
    assert reason_in_words("colour distance 335.4 > 160.0") == "colour distance 335.4 > 160.0"
