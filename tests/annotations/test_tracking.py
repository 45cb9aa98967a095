"""Pivot-and-propagation tracking on constructed detections with known identities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotations.builder import interpolate_boxes
from annotations.config import TrackerConfig
from annotations.tracking import (
    VideoDetections,
    covered_share,
    extend_into,
    inference_tracking,
    skipped_end_frames,
    training_tracking,
)
from movingfashion.models import MatchHead
from tests.annotations.naive_tracking import naive_inference_tracking, naive_training_tracking


def distance_head(scale: float = 1.0, bias: float = 4.0) -> MatchHead:
    """A head whose score is sigmoid(bias - scale * |a - b|^2): near embeddings match."""
    head = MatchHead()
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.weight[0].fill_(scale / 2)
        head.fc.weight[1].fill_(-scale / 2)
        head.fc.bias.copy_(torch.tensor([-bias / 2, bias / 2]))
    return head


def make_video(n_frames=12, n_objects=3, noise=0.05, seed=0, missing=()):
    """Each object has a random centre embedding; a detection = centre + small noise.
    ``missing``: (frame, object) pairs without a detection. Also one clutter detection per 4 frames."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_objects, 256, generator=g)
    frames, ids, emb, scores = [], [], [], []
    for t in range(n_frames):
        for o in range(n_objects):
            if (t, o) in missing:
                continue
            frames.append(t)
            ids.append(o)
            emb.append(centres[o] + noise * torch.randn(256, generator=g))
            scores.append(0.9 - 0.2 * o + 0.01 * torch.rand(1, generator=g).item())
        if t % 4 == 0:
            frames.append(t)
            ids.append(-1)
            emb.append(torch.randn(256, generator=g) * 3)
            scores.append(0.3)
    n = len(frames)
    boxes = (
        np.tile(np.array([[10, 10, 50, 80]], np.float32), (n, 1)) + np.arange(n, dtype=np.float32)[:, None]
    )
    dets = VideoDetections(
        np.array(frames), boxes, np.array(scores, np.float32), np.ones(n, np.int64), torch.stack(emb)
    )
    return dets, np.array(ids), centres


def test_inference_tracking_recovers_objects_one_per_frame():
    dets, ids, _ = make_video(missing={(3, 1), (7, 0)})
    tracks = inference_tracking(dets, distance_head())
    # the first three tracklets are the objects in order of confidence, complete and pure
    for o in range(3):
        tr = tracks[o]
        assert set(ids[tr.members]) == {o}
        expected = {t for t in range(12)} - {t for (t, oo) in [(3, 1), (7, 0)] if oo == o}
        assert set(dets.frames[tr.members].tolist()) == expected
        assert len(set(dets.frames[tr.members].tolist())) == len(tr.members)  # one per frame
        assert ids[tr.pivot] == o
    # every detection ends up in exactly one tracklet; clutter stays alone
    allm = np.concatenate([t.members for t in tracks])
    assert sorted(allm.tolist()) == list(range(len(dets)))
    assert all(len(t.members) == 1 for t in tracks[3:])


def test_pivot_is_most_confident_and_threshold_applies():
    dets, ids, _ = make_video()
    tracks = inference_tracking(dets, distance_head(), TrackerConfig(match_threshold=0.5))
    assert tracks[0].pivot == int(np.argmax(dets.scores))
    # a threshold no pair can reach gives singleton tracklets only
    tracks = inference_tracking(dets, distance_head(), TrackerConfig(match_threshold=0.9999999))
    assert len(tracks) == len(dets)
    # min_length drops short tracklets
    tracks = inference_tracking(dets, distance_head(), TrackerConfig(min_length=2))
    assert len(tracks) == 3


def test_training_tracking_follows_the_shop_item():
    dets, ids, centres = make_video()
    shop = centres[2] + 0.05 * torch.randn(256)  # the least confident object is the shop item
    tr = training_tracking(dets, distance_head(), shop)
    assert tr is not None and set(ids[tr.members]) == {2} and len(tr.members) == 12
    assert tr.shop_score > 0.9
    far = torch.randn(256) * 5
    assert training_tracking(dets, distance_head(), far, TrackerConfig(shop_threshold=0.5)) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_naive(seed):
    dets, _, centres = make_video(n_frames=8, noise=0.4, seed=seed)
    head = distance_head(scale=0.02, bias=3.0)  # noisy scores around the threshold
    fast = inference_tracking(dets, head)
    slow = naive_inference_tracking(dets, head)
    assert [t.members.tolist() for t in fast] == [t.members.tolist() for t in slow]
    assert [t.pivot for t in fast] == [t.pivot for t in slow]
    shop = centres[1]
    a, b = training_tracking(dets, head, shop), naive_training_tracking(dets, head, shop)
    assert a.members.tolist() == b.members.tolist() and a.pivot == b.pivot
    np.testing.assert_allclose(a.match_scores, b.match_scores, atol=1e-5)


def look_alike_video(n_frames=10, seed=0):
    """Two garments worn together with near-identical embeddings (the same print on a top and on
    shorts): object 0 detected as class 7 (shorts), object 1 as class 1; the shop image is a hair
    closer to object 1, so shop score alone picks the wrong garment."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(256, generator=g)
    centres = torch.stack([base, base + 0.02 * torch.randn(256, generator=g)])
    frames, ids, emb, classes = [], [], [], []
    for t in range(n_frames):
        for o in (0, 1):
            frames.append(t)
            ids.append(o)
            # object 0 noisier than the gap between the two: from its pivot, object 1 often matches best
            emb.append(centres[o] + (0.05 if o == 0 else 0.01) * torch.randn(256, generator=g))
            classes.append(7 if o == 0 else 1)
    n = len(frames)
    dets = VideoDetections(
        np.array(frames),
        np.zeros((n, 4), np.float32),
        np.full(n, 0.8, np.float32),
        np.array(classes),
        torch.stack(emb),
    )
    shop = centres[1] + 0.3 * (centres[1] - centres[0])
    return dets, np.array(ids), shop


def test_class_bonus_picks_the_garment_of_the_product_class():
    dets, ids, shop = look_alike_video()
    head = distance_head(scale=0.5, bias=4.0)
    paper = training_tracking(dets, head, shop, TrackerConfig(class_bonus=0.0), item_class=7)
    assert set(ids[paper.members]) != {0}  # shop score alone: the look-alike wins
    cfg = TrackerConfig(class_bonus=0.1)
    tr = training_tracking(dets, head, shop, cfg, item_class=7)
    assert ids[tr.pivot] == 0 and set(ids[tr.members]) == {0} and len(tr.members) == 10
    assert training_tracking(dets, head, shop, cfg).pivot == paper.pivot  # class unknown: no bonus
    slow = naive_training_tracking(dets, head, shop, cfg, item_class=7)
    assert slow.members.tolist() == tr.members.tolist() and slow.pivot == tr.pivot
    # thresholds apply to the raw scores: the bonus never lifts a detection over them
    s = head.score_matrix(shop[None], dets.embeddings)[0].detach().numpy()
    mid = float((s[ids == 0].max() + s[ids == 1].max()) / 2)
    strict = TrackerConfig(class_bonus=0.5, shop_threshold=mid)
    assert ids[training_tracking(dets, head, shop, strict, item_class=7).pivot] == 1


def test_pivot_min_score_keeps_unsure_boxes_from_being_the_pivot():
    dets, ids, centres = make_video()
    shop = centres[2] + 0.05 * torch.randn(256)
    dets.scores[ids == 2] = 0.1  # the box best matching the shop image is one the detector doubts
    head = distance_head()
    paper = training_tracking(dets, head, shop, TrackerConfig(pivot_min_score=0.0))
    assert ids[paper.pivot] == 2
    gated = training_tracking(dets, head, shop, TrackerConfig(pivot_min_score=0.3, shop_threshold=0.0))
    assert dets.scores[gated.pivot] >= 0.3 and ids[gated.pivot] != 2
    # only sure boxes that also pass the shop threshold count: none here, so the gate is lifted
    assert training_tracking(dets, head, shop, TrackerConfig(pivot_min_score=0.3)).pivot == paper.pivot
    # no detection is sure enough: the gate is lifted rather than the video left without a tracklet
    dets.scores[:] = 0.05
    assert training_tracking(dets, head, shop, TrackerConfig(pivot_min_score=0.3)).pivot == paper.pivot


def test_empty_video():
    dets = VideoDetections(
        np.zeros(0, np.int64),
        np.zeros((0, 4), np.float32),
        np.zeros(0, np.float32),
        np.zeros(0, np.int64),
        torch.zeros(0, 256),
    )
    assert inference_tracking(dets, distance_head()) == []
    assert training_tracking(dets, distance_head(), torch.zeros(256)) is None


def test_interpolate_boxes():
    out = interpolate_boxes({0: [0, 0, 10, 10], 4: [4, 4, 14, 14], 20: [0, 0, 1, 1]}, max_gap=4)
    assert sorted(out) == [0, 1, 2, 3, 4, 20]
    assert out[2] == pytest.approx([2, 2, 12, 12])


def test_only_detections_matching_the_shop_image_join_its_tracklet():
    """With a loose match threshold every frame gets a member; the frames where the shop item is
    missing get another garment unless its own shop score is too low to join."""
    missing = {(3, 2), (4, 2), (9, 2)}
    dets, ids, centres = make_video(missing=missing)
    shop = centres[2]
    loose = dict(match_threshold=0.0, class_members_min=0)
    paper = training_tracking(dets, distance_head(), shop, TrackerConfig(member_shop_threshold=0.0, **loose))
    assert len(paper.members) == 12 and set(ids[paper.members]) > {2}
    gated = TrackerConfig(member_shop_threshold=0.3, **loose)
    tr = training_tracking(dets, distance_head(), shop, gated)
    assert set(ids[tr.members]) == {2} and len(tr.members) == 12 - len(missing)
    slow = naive_training_tracking(dets, distance_head(), shop, gated)
    assert slow.members.tolist() == tr.members.tolist()


def test_detections_of_the_product_class_only_join_when_the_detector_gives_it():
    """The pivot reaches other garments on the frames where the item is missed; with the product's
    class known, only its detections join, plus those of another class on the item's boxes."""
    missing = {(3, 2), (4, 2), (9, 2)}
    dets, ids, centres = make_video(missing=missing)
    dets.boxes += 100.0 * np.maximum(ids, 0)[:, None]  # every garment at its own place
    dets.classes[ids == 2] = 7  # the shop item is detected as class 7 ...
    under_other = np.flatnonzero(ids == 2)[[5, 7]]
    dets.classes[under_other] = 3  # ... but twice as class 3, on its own boxes
    shop = centres[2]
    loose = dict(match_threshold=0.0, member_shop_threshold=0.0)
    cfg = TrackerConfig(**loose)
    tr = training_tracking(dets, distance_head(), shop, cfg, item_class=7)
    assert set(ids[tr.members]) == {2} and len(tr.members) == 12 - len(missing)
    assert set(under_other) <= set(tr.members.tolist())
    slow = naive_training_tracking(dets, distance_head(), shop, cfg, item_class=7)
    assert slow.members.tolist() == tr.members.tolist() and slow.pivot == tr.pivot
    # IoU 1 needed from another class: the item's class-3 boxes stay out too
    strict = training_tracking(
        dets, distance_head(), shop, TrackerConfig(other_class_iou=1.0, **loose), item_class=7
    )
    assert set(ids[strict.members]) == {2} and not set(under_other) & set(strict.members.tolist())
    # class unknown, the rule off, or too few detections of the class: any class joins
    for other in (
        training_tracking(dets, distance_head(), shop, cfg),
        training_tracking(
            dets, distance_head(), shop, TrackerConfig(class_members_min=0, **loose), item_class=7
        ),
        training_tracking(
            dets, distance_head(), shop, TrackerConfig(class_members_min=10, **loose), item_class=7
        ),
    ):
        assert len(other.members) == 12 and set(ids[other.members]) > {2}


def test_pivot_det_weight_prefers_the_detection_the_detector_is_sure_of():
    dets, ids, centres = make_video()
    shop = centres[2] + 0.05 * torch.randn(256)
    head = distance_head()
    paper = training_tracking(dets, head, shop, TrackerConfig(pivot_det_weight=0.0))
    s = head.score_matrix(shop[None], dets.embeddings)[0].detach().numpy()
    # a doubted box of the item with the best shop score, a sure one a hair below it
    best, second = np.argsort(-s)[:2]
    dets.scores[best], dets.scores[second] = 0.05, 0.95
    assert training_tracking(dets, head, shop, TrackerConfig(pivot_det_weight=0.0)).pivot == best
    sure = TrackerConfig(pivot_det_weight=1.0)
    assert training_tracking(dets, head, shop, sure).pivot == second
    assert naive_training_tracking(dets, head, shop, sure).pivot == second
    assert ids[paper.pivot] == 2


def test_continue_iou_follows_the_item_where_its_match_with_the_pivot_decays():
    """The item's descriptor drifts away from the pivot's halfway through the video while its box
    barely moves (as RoI descriptors can): propagation alone stops there; continue_iou follows the
    box to the end, not onto the garment elsewhere, and continue_match can still stop it."""
    g = torch.Generator().manual_seed(3)
    centre, other = torch.randn(256, generator=g), torch.randn(256, generator=g)
    frames, boxes, emb = [], [], []
    for t in range(10):
        frames.append(t)  # the item: moves 2 px a frame; from frame 5 on a descriptor of its own per frame
        boxes.append([10 + 2 * t, 10, 60 + 2 * t, 90])
        emb.append(
            centre + 0.05 * torch.randn(256, generator=g) if t < 5 else torch.randn(256, generator=g) * 3
        )
        frames.append(t)  # another garment far from it, looking nothing like the shop item
        boxes.append([200, 10, 250, 90])
        emb.append(other + 0.05 * torch.randn(256, generator=g))
    n = len(frames)
    dets = VideoDetections(
        np.array(frames),
        np.array(boxes, np.float32),
        np.full(n, 0.8, np.float32),
        np.ones(n, np.int64),
        torch.stack(emb),
    )
    head, shop = distance_head(), centre.clone()
    item = np.arange(0, n, 2)
    base = training_tracking(dets, head, shop, TrackerConfig(continue_iou=0))
    assert base is not None and set(base.members) == set(item[:5])
    cont = training_tracking(dets, head, shop, TrackerConfig(continue_iou=0.5, continue_match=0))
    assert cont is not None and list(cont.members) == list(item)
    assert cont.pivot == base.pivot and len(cont.match_scores) == 10
    assert np.all(cont.match_scores[5:] < 0.5)  # joined on the box; their match score with the pivot is kept
    # the box must continue: a threshold above the frame-to-frame IoU of the item joins nothing more
    assert set(
        training_tracking(dets, head, shop, TrackerConfig(continue_iou=0.95, continue_match=0)).members
    ) == set(item[:5])
    # and continue_match (the default 0.5) asks the end detection to match too (the drifted
    # descriptors match nothing)
    strict = TrackerConfig(continue_iou=0.5, continue_match=0.5)
    assert set(training_tracking(dets, head, shop, strict).members) == set(item[:5])
    # the per-pair reference continues the same way
    for ci, cm in ((0, 0), (0.5, 0), (0.95, 0), (0.5, 0.5), (0.5, 0.2)):
        cfg = TrackerConfig(continue_iou=ci, continue_match=cm)
        a, b = training_tracking(dets, head, shop, cfg), naive_training_tracking(dets, head, shop, cfg)
        assert a.members.tolist() == b.members.tolist() and a.pivot == b.pivot, (ci, cm)
        np.testing.assert_allclose(a.match_scores, b.match_scores, atol=1e-5)


def whole_and_part_video(n_frames=7, seed=0):
    """The shop item detected twice on every frame (as the detector does on shorts): its whole box,
    moving 3 px a frame, and a box on its lower part; both match the pivot alike, the part a hair
    better on odd frames. Another garment elsewhere looks nothing like it."""
    g = torch.Generator().manual_seed(seed)
    centre, other = torch.randn(256, generator=g), torch.randn(256, generator=g)
    frames, boxes, emb, ids = [], [], [], []
    for t in range(n_frames):
        whole = [20 + 3 * t, 100, 100 + 3 * t, 180]
        part = [22 + 3 * t, 150, 98 + 3 * t, 182]
        for o, box in ((0, whole), (1, part)):
            frames.append(t)
            boxes.append(box)
            ids.append(o)
            tilt = 0.002 if (o == 1) == (t % 2 == 1) else 0.03
            emb.append(centre + tilt * torch.randn(256, generator=g))
        frames.append(t)
        boxes.append([200, 20, 260, 90])
        ids.append(2)
        emb.append(other + 0.01 * torch.randn(256, generator=g))
    n = len(frames)
    dets = VideoDetections(
        np.array(frames),
        np.array(boxes, np.float32),
        np.linspace(0.9, 0.8, n).astype(np.float32),
        np.full(n, 7, np.int64),
        torch.stack(emb),
    )
    return dets, np.array(ids), centre


def test_continuity_keeps_the_chain_on_the_box_the_pivot_started():
    """Without continuity the best match per frame alternates between the whole item and its part;
    with it the tracklet stays on the box that continues the pivot's."""
    dets, ids, centre = whole_and_part_video()
    head = distance_head(scale=0.02, bias=3.0)
    plain = training_tracking(dets, head, centre, TrackerConfig(continuity=0, continue_iou=0))
    assert len(set(ids[plain.members])) == 2  # it alternates between the whole and the part
    tr = training_tracking(dets, head, centre, TrackerConfig(continuity=0.5, continue_iou=0))
    assert len(tr.members) == 7 and set(ids[tr.members]) == {int(ids[tr.pivot])}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("weight", [0.1, 0.5, 2.0])
def test_continuity_chain_is_the_best_of_every_chain(seed, weight):
    """The dynamic programme picks the same chain as trying every chain (the per-pair reference)."""
    dets, _, centre = whole_and_part_video(seed=seed)
    rng = np.random.default_rng(seed)
    dets.boxes[:] += rng.uniform(-25, 25, dets.boxes.shape).astype(np.float32)  # rival chains
    dets.boxes[:, 2:] = np.maximum(dets.boxes[:, 2:], dets.boxes[:, :2] + 5)
    head = distance_head(scale=0.02, bias=3.0)
    # the item's descriptors match the shop alike to the last float bit (seed 3: 0.9525733 and
    # 0.9525734), which the two implementations round apart on some CPUs; a little of the
    # detector's confidence in the pivot's rank makes both start from the same pivot
    cfg = TrackerConfig(continuity=weight, continue_iou=0, pivot_det_weight=0.01)
    a, b = training_tracking(dets, head, centre, cfg), naive_training_tracking(dets, head, centre, cfg)
    assert a.members.tolist() == b.members.tolist() and a.pivot == b.pivot
    np.testing.assert_allclose(a.match_scores, b.match_scores, atol=1e-5)


def test_skipped_end_frames_are_those_between_an_end_and_the_next_sampled_frame():
    """At most stride - 1 frames each side, nearest first, never past the video or a sampled frame."""
    two = [*range(0, 15, 2), 14]
    assert skipped_end_frames(4, 10, two, 15, 2) == [11, 3]
    assert skipped_end_frames(0, 14, two, 15, 2) == []  # the video's own ends
    assert skipped_end_frames(6, 12, [*range(0, 20, 3)], 20, 3) == [13, 14, 5, 4]
    assert skipped_end_frames(6, 18, [*range(0, 20, 3)], 20, 3) == [19, 5, 4]
    assert skipped_end_frames(4, 10, [*range(12)], 12, 1) == []  # stride 1 skips nothing


def test_extend_into_continues_the_tracklet_onto_a_skipped_frame_the_item_leaves_on():
    """The item is detected on the sampled frames 0..10 and leaves the picture on frame 11, which the
    stride skipped: the detection there joins the tracklet when its box continues the end box and
    it matches the end detection (continue_iou, continue_match), not a garment elsewhere, not one
    unlike the shop item, and nothing beyond the skipped frames."""
    g = torch.Generator().manual_seed(5)
    centre = torch.randn(256, generator=g)

    def dets_of(frames, boxes, emb):
        n = len(frames)
        return VideoDetections(
            np.array(frames, np.int64),
            np.array(boxes, np.float32),
            np.full(n, 0.8, np.float32),
            np.ones(n, np.int64),
            torch.stack(emb) if emb else torch.zeros((0, 256)),
        )

    sampled = list(range(0, 11, 2))
    dets = dets_of(
        sampled,
        [[10 + t, 10, 60 + t, 90] for t in sampled],
        [centre + 0.05 * torch.randn(256, generator=g) for _ in sampled],
    )
    head, cfg = distance_head(), TrackerConfig()
    tr = training_tracking(dets, head, centre.clone(), cfg)
    assert tr is not None and dets.frames[tr.members].tolist() == sampled
    near = centre + 0.05 * torch.randn(256, generator=g)
    # frame 11: the item (its box half out of the picture) and another garment far away
    extra = dets_of(
        [11, 11],
        [[21, 10, 60, 90], [200, 10, 250, 90]],
        [near, centre + 0.05 * torch.randn(256, generator=g)],
    )
    out, both = extend_into(tr, dets, extra, head, centre.clone(), cfg)
    assert both.frames[out.members].tolist() == [*sampled, 11]
    assert both.boxes[out.members[-1]].tolist() == [21, 10, 60, 90]
    assert out.pivot == tr.pivot and out.shop_score == tr.shop_score and len(out.match_scores) == 7
    # nothing joins: a box elsewhere only, a look unlike the shop item, or continue_iou off
    far = dets_of([11], [[200, 10, 250, 90]], [near])
    kept, same = extend_into(tr, dets, far, head, centre.clone(), cfg)
    assert kept is tr and same is dets
    unlike = dets_of([11], [[21, 10, 60, 90]], [torch.randn(256, generator=g) * 3])
    assert extend_into(tr, dets, unlike, head, centre.clone(), cfg)[0] is tr
    off = TrackerConfig(continue_iou=0)
    assert extend_into(tr, dets, extra, head, centre.clone(), off)[0] is tr


def test_covered_share_is_the_part_of_a_bottom_above_the_lower_edge_of_a_top_over_it():
    """Only a shorts box counts (not skirts or trousers), only under a sure top-like box of its own
    frame that spans it across and ends above its lower edge: the share of its height above that
    edge."""
    top = [50, 0, 150, 100]  # a top down to y 100, sure (0.9)
    boxes = np.array(
        [
            top,
            [60, 60, 140, 140],  # shorts reaching 40 of their 80 px up under the top: 0.5
            [60, 100, 140, 140],  # the same shorts' visible strip: 0
            [60, 60, 140, 140],  # a top-class box at the same place: not a bottom
            [60, 60, 140, 140],  # shorts on another frame: no top there
            [300, 60, 380, 140],  # shorts beside the top, not under it
            [60, 60, 140, 140],  # a skirt as the first: not weighed
            [60, 60, 140, 140],  # trousers as the first: not weighed
        ],
        np.float32,
    )
    frames = np.array([0, 0, 0, 0, 1, 0, 0, 0])
    classes = np.array([1, 7, 7, 2, 7, 7, 9, 8])
    scores = np.array([0.9, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], np.float32)
    got = covered_share(frames, boxes, classes, scores, 0.5)
    np.testing.assert_allclose(got, [0, 0.5, 0, 0, 0, 0, 0, 0])
    unsure = scores.copy()
    unsure[0] = 0.4
    np.testing.assert_allclose(covered_share(frames, boxes, classes, unsure, 0.5), 0)


def half_covered_shorts_video(n_frames=8, seed=0):
    """Shorts half covered by a top, as the embedded detector sees them on the synthetic worlds (seed
    9379): on every frame a sure top box, a shorts box on the visible strip below the top's lower
    edge (the world's truth: the tight box of the visible pixels) and a taller shorts box reaching up
    under the top, which matches the shop image a hair better. Returns the detections, which box
    each is (0 strip, 1 tall, 2 top), the true boxes by frame and the shop embedding."""
    g = torch.Generator().manual_seed(seed)
    centre, top = torch.randn(256, generator=g), torch.randn(256, generator=g)
    frames, boxes, emb, ids, classes, scores, truth = [], [], [], [], [], [], {}
    for t in range(n_frames):
        x = 60 + 2 * t
        strip, tall, shirt = [x, 200, x + 130, 262], [x - 3, 135, x + 133, 265], [x - 5, 0, x + 140, 200]
        truth[t] = strip
        for o, box, cls, conf, noise in (
            (0, strip, 7, 0.25, 0.02),
            (1, tall, 7, 0.2, 0.005),
            (2, shirt, 1, 0.8, 0.01),
        ):
            frames.append(t)
            boxes.append(box)
            ids.append(o)
            classes.append(cls)
            scores.append(conf)
            emb.append((top if o == 2 else centre) + noise * torch.randn(256, generator=g))
    dets = VideoDetections(
        np.array(frames),
        np.array(boxes, np.float32),
        np.array(scores, np.float32),
        np.array(classes, np.int64),
        torch.stack(emb),
    )
    return dets, np.array(ids), truth, centre


def test_cover_penalty_keeps_the_tracklet_on_the_visible_part_of_a_half_covered_bottom():
    """Against the truth (the visible part): without cover_penalty the pivot is the tall box, the
    tracklet fails the paper's check (>= 50% of its boxes at IoU >= 0.5 with the true box) on every
    frame; with the default it passes on every frame."""
    from annotations.qa import check_tracklet
    from schemas.dataset import Tracklet

    dets, ids, truth, shop = half_covered_shorts_video()
    head = distance_head(scale=0.02, bias=3.0)

    def check(cfg):
        tr = training_tracking(dets, head, shop.clone(), cfg, item_class=7)
        boxes = {int(dets.frames[m]): dets.boxes[m].tolist() for m in tr.members}
        tracklet = Tracklet(video="v.mp4", boxes=boxes, scores=dict.fromkeys(boxes, 0.5))
        return tr, check_tracklet("v", tracklet, truth)

    tr, old = check(TrackerConfig(cover_penalty=0))
    assert ids[tr.pivot] == 1 and not old.passed
    tr, new = check(TrackerConfig())
    assert ids[tr.pivot] == 0 and set(ids[tr.members]) == {0} and len(tr.members) == 8
    assert new.passed and new.contain_fraction == 1.0


def test_half_covered_shorts_of_a_world_are_boxed_on_their_visible_part():
    """Against a world's truth: video CmECp9RO6Ka_0 of seed 9379 (50 products, quick), shorts half
    covered by a top, as the embedded detector and RoI matcher saw it at stride 2 (its detections and
    RoI descriptors, the shop image's descriptor and the world's true item boxes, stored in
    ``data/half_covered_shorts_9379.json``; made by the embedded weights, so retrained weights need
    it written again by ``data/make_half_covered_shorts_9379.py --work DIR``, which says whether the
    video still shows the case). The shop score alone puts the pivot on the box reaching up under the
    top and the tracklet fails the paper's check (2 of 8 boxes on the item); with ``cover_penalty``
    every box is on the item."""
    import json

    from movingfashion.models.roi import load_roi_matcher
    from tests.annotations.data.make_half_covered_shorts_9379 import OUT, checks

    d = json.loads(OUT.read_text())
    got = checks(d, load_roi_matcher(None, device="cpu").m)  # old: cover_penalty 0; new: the default
    old, new = got["old"], got["new"]
    assert not old.passed and old.contain_fraction <= 0.25, old
    assert new.passed and new.contain_fraction == 1.0 and new.detections == 8, new


def test_other_class_inside_lets_a_strip_of_the_item_boxed_as_another_class_join():
    """Shorts boxed tall (reaching up under a top) on frames 0-5, then only as a skirt on their
    visible strip (frames 6-9): the strip's IoU with the tall boxes is under ``other_class_iou``
    (0.496), so it never joins by default; with ``other_class_inside`` it lies inside them and joins.
    A skirt box elsewhere in the picture stays out either way."""
    g = torch.Generator().manual_seed(0)
    centre = torch.randn(256, generator=g)
    frames, boxes, classes, emb, ids = [], [], [], [], []
    for t in range(10):
        dets_t = [(0, [60, 140, 190, 265], 7)] if t < 6 else [(1, [60, 200, 190, 262], 9)]
        dets_t.append((2, [300, 200, 430, 262], 9))  # another garment, far from the item
        for o, box, cls in dets_t:
            frames.append(t)
            boxes.append([box[0] + t, box[1], box[2] + t, box[3]])
            classes.append(cls)
            ids.append(o)
            emb.append(centre + 0.02 * torch.randn(256, generator=g))
    dets = VideoDetections(
        np.array(frames),
        np.array(boxes, np.float32),
        np.full(len(frames), 0.5, np.float32),
        np.array(classes, np.int64),
        torch.stack(emb),
    )
    ids = np.array(ids)
    head = distance_head(scale=0.02, bias=3.0)
    off = training_tracking(dets, head, centre.clone(), TrackerConfig(), item_class=7)
    assert set(ids[off.members]) == {0}
    on = training_tracking(dets, head, centre.clone(), TrackerConfig(other_class_inside=0.8), item_class=7)
    assert set(ids[on.members]) == {0, 1} and len(on.members) == 10


def test_other_class_frames_counts_only_the_product_class_boxes_near_a_detection():
    """The item boxed as shorts on frames 0-5, then only as a skirt at the same place (frames 6-9):
    by default each skirt box overlaps a shorts box of some frame and joins; with
    ``other_class_frames`` 2 only those within two frames of a shorts box do (frames 6 and 7; the
    continuation from the tracklet's ends, which asks no class, is off here)."""
    g = torch.Generator().manual_seed(1)
    centre = torch.randn(256, generator=g)
    n = 10
    dets = VideoDetections(
        np.arange(n),
        np.tile(np.array([[60, 140, 190, 265]], np.float32), (n, 1)),
        np.full(n, 0.5, np.float32),
        np.array([7] * 6 + [9] * 4, np.int64),
        torch.stack([centre + 0.02 * torch.randn(256, generator=g) for _ in range(n)]),
    )
    head = distance_head(scale=0.02, bias=3.0)
    every = training_tracking(dets, head, centre.clone(), TrackerConfig(continue_iou=0), item_class=7)
    assert dets.frames[every.members].tolist() == list(range(10))
    cfg = TrackerConfig(continue_iou=0, other_class_frames=2)
    near = training_tracking(dets, head, centre.clone(), cfg, item_class=7)
    assert dets.frames[near.members].tolist() == list(range(8))
