"""Ground truth of the small world: coverage of every case and consistency with the pixels."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from movingfashion.media.readers import read_video
from movingfashion.world.truth import DuplicateKind, load_video_gt
from schemas.atomic import sha256_file
from schemas.items import SourceName


def test_every_class_and_case_is_present(world_truth):
    clothing = [p for p in world_truth.products if p.df2_class is not None]
    assert {p.df2_class for p in clothing if p.videos} == set(range(1, 14))
    others = [p for p in world_truth.products if p.df2_class is None]
    assert {p.source for p in others} == {SourceName.NETAPORTER, SourceName.TIKTOK, SourceName.INSTAGRAM}
    assert {p.kind for p in others} >= {"bag", "shoes", "jewellery"}
    assert {v.duplicate_kind for v in world_truth.videos if v.duplicate_kind} == set(DuplicateKind)
    assert {v.split_screen.layout for v in world_truth.videos if v.split_screen} == {
        "left-right",
        "top-bottom",
    }
    wrong = [p for p in world_truth.products if p.wrong_shop]
    assert wrong and all(world_truth.product(p.wrong_shop_of) for p in wrong)
    assert any(not p.videos for p in world_truth.products)
    assert any(p.confusable_group is not None for p in world_truth.products)
    ids = [p.product_id for p in world_truth.products]
    assert len(ids) == len(set(ids))


def test_metadata_is_realistic(world_truth):
    for p in world_truth.products:
        assert p.title and p.description and p.designer
        if p.source == SourceName.NETAPORTER:
            assert p.product_id.isdigit() and p.category_path
            assert p.category_path[0] in ("Clothing", "Bags", "Shoes", "Jewelry")
            assert (p.category_path[0] == "Clothing") == (p.df2_class is not None)
        else:
            assert p.caption and p.hashtags and all(f"#{t}" in p.caption for t in p.hashtags)
        if p.source == SourceName.TIKTOK:
            assert p.product_id.isdigit() and len(p.product_id) == 19
    dress_sleeves = [p.description for p in world_truth.products if p.df2_class in (2, 11)]
    assert all("long sleeves" in d for d in dress_sleeves)


def test_files_exist_with_recorded_hashes(small_world, world_truth):
    for p in world_truth.products:
        for rel in p.images.values():
            assert (small_world / rel).stat().st_size > 0
            assert cv2.imread(str(small_world / rel)) is not None
        if p.source == SourceName.NETAPORTER and p.df2_class is not None:
            assert {"shop", "front", "rear", "fabric"} <= set(p.images)
        if p.source == SourceName.INSTAGRAM:
            shop = sha256_file(small_world / p.images["shop"])
            cands = [sha256_file(small_world / r) for k, r in p.images.items() if k.startswith("candidate-")]
            assert len(cands) >= 2 and shop in cands
    for v in world_truth.videos:
        assert sha256_file(small_world / v.path) == v.sha256
        gt = load_video_gt(small_world, v)
        assert len(gt.frames) == v.frames and gt.product_id == v.product_id


def test_wrong_shop_serves_the_other_products_image(small_world, world_truth):
    for p in world_truth.products:
        if p.wrong_shop:
            other = world_truth.product(p.wrong_shop_of)
            assert sha256_file(small_world / p.images["shop"]) == sha256_file(
                small_world / other.images["shop"]
            )


def _hist(pixels: np.ndarray) -> np.ndarray:
    q = (pixels.reshape(-1, 3) // 43).astype(np.int32)
    h = np.bincount(q[:, 0] * 36 + q[:, 1] * 6 + q[:, 2], minlength=216).astype(float)
    return h / max(h.sum(), 1.0)


def _shop_hist(path) -> np.ndarray:
    im = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.int16)
    garment = np.abs(im - im[2, 2]).sum(-1) > 40  # everything but the plain studio background
    return _hist(im[garment])


def _box_wins(frame: np.ndarray, box: list[float], shop: np.ndarray) -> bool | None:
    """Is the box region more like the shop garment than the regions beside it?"""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    bw, w = x2 - x1, frame.shape[1]
    sim = np.minimum(_hist(frame[y1:y2, x1:x2]), shop).sum()
    beside = [
        np.minimum(_hist(frame[y1:y2, max(0, x1 + dx) : min(w, x2 + dx)]), shop).sum()
        for dx in (-bw, bw)
        if min(w, x2 + dx) - max(0, x1 + dx) > bw // 3
    ]
    return bool(sim > max(beside)) if beside else None


def test_boxes_are_inside_frames_and_on_the_garment(small_world, world_truth):
    rates = []
    for v in world_truth.videos:
        p = world_truth.product(v.product_id)
        if v.duplicate_of or p.df2_class is None:
            continue
        frames = read_video(small_world / v.path)
        assert frames.shape[0] == v.frames and frames.shape[1:3] == (v.height, v.width)
        gt = load_video_gt(small_world, v)
        for fr in gt.frames:
            for g in fr:
                if g.box is not None:
                    x1, y1, x2, y2 = g.box
                    assert 0 <= x1 < x2 <= v.width and 0 <= y1 < y2 <= v.height
                    assert 0 < g.visible <= 1
                    if v.split_screen:  # on the moving half only
                        mx1, my1, mx2, my2 = v.split_screen.moving_box
                        assert mx1 <= x1 and x2 <= mx2 and my1 <= y1 and y2 <= my2
        boxes = gt.item_boxes()
        assert len(boxes) >= 0.15 * v.frames, f"{v.video_id}: the item is visible in too few frames"
        if p.wrong_shop:
            continue
        shop_img = p.images.get("shop") or v.split_screen.still_image
        shop = _shop_hist(small_world / shop_img)
        wins = [w for t, b in boxes.items() if (w := _box_wins(frames[t], b, shop)) is not None]
        rates.append(float(np.mean(wins)) if wins else 0.0)
    # a light garment on a light wall can lose; boxes shifted by a third of their width lose often
    assert len(rates) >= 10
    assert np.mean(rates) >= 0.85 and np.mean(np.array(rates) >= 0.6) >= 0.75, rates


def test_hard_videos_lose_the_item_and_regular_ones_keep_it(small_world, world_truth):
    out_of_view = 0
    for v in world_truth.videos:
        p = world_truth.product(v.product_id)
        if v.duplicate_of or p.df2_class is None:
            continue
        gt = load_video_gt(small_world, v)
        mine = [g for fr in gt.frames for g in fr if g.product_id == v.product_id]
        assert len(mine) == v.frames  # listed in every frame, visible or not
        assert all((g.box is None) == (g.visible == 0) for g in mine)
        if v.partition == "hard":
            out_of_view += any(g.box is None for g in mine)
            assert {g.person for fr in gt.frames for g in fr} != {0}  # several people
        else:
            assert sum(g.box is not None for g in mine) >= 0.9 * v.frames
    assert out_of_view >= 1


def test_duplicates_decode_to_matching_frames(small_world, world_truth):
    for v in world_truth.videos:
        if not v.duplicate_of:
            continue
        orig = world_truth.video(v.duplicate_of)
        a, b = read_video(small_world / orig.path), read_video(small_world / v.path)
        if v.duplicate_kind == DuplicateKind.EXACT:
            assert v.sha256 == orig.sha256
        elif v.duplicate_kind == DuplicateKind.SUBCLIP:
            s = v.subclip_start
            assert s is not None and s + v.frames <= orig.frames
            diff = np.abs(a[s : s + v.frames].astype(np.int16) - b.astype(np.int16)).mean()
            assert diff < 4.0
            shifted = np.abs(
                a[s + 3 : s + 3 + v.frames - 3].astype(np.int16) - b[:-3].astype(np.int16)
            ).mean()
            assert shifted > diff
        else:
            assert v.sha256 != orig.sha256 and (v.width, v.height) != (orig.width, orig.height)
            assert len(a) == len(b)
            for t in range(0, len(a), 8):
                ta = cv2.resize(a[t], (24, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
                tb = cv2.resize(b[t], (24, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
                corr = np.corrcoef(ta.ravel(), tb.ravel())[0, 1]
                assert corr > 0.9
        gt = load_video_gt(small_world, v)
        assert gt.product_id == v.product_id and gt.item_boxes()


def test_subclip_ground_truth_follows_the_original(small_world, world_truth):
    v = next(v for v in world_truth.videos if v.duplicate_kind == DuplicateKind.SUBCLIP)
    orig = world_truth.video(v.duplicate_of)
    a, b = load_video_gt(small_world, orig).item_boxes(), load_video_gt(small_world, v).item_boxes()
    for t, box in b.items():
        assert a[t + v.subclip_start] == box


def test_split_screen_still_half_is_the_still_png(small_world, world_truth):
    splits = [v for v in world_truth.videos if v.split_screen and not v.duplicate_of]
    assert splits
    for v in splits:
        ss = v.split_screen
        frames = read_video(small_world / v.path).astype(np.int16)
        still = cv2.cvtColor(cv2.imread(str(small_world / ss.still_image)), cv2.COLOR_BGR2RGB).astype(
            np.int16
        )
        x1, y1, x2, y2 = ss.still_box
        half = frames[:, y1:y2, x1:x2]
        assert half.shape[1:3] == still.shape[:2]
        assert np.abs(half - still[None]).mean() < 4.0
        assert half.std(0).mean() < 2.0  # the still half does not move
        mx1, my1, mx2, my2 = ss.moving_box
        assert frames[:, my1:my2, mx1:mx2].std(0).mean() > 5.0  # the other half does
        p = world_truth.product(v.product_id)
        assert "shop" not in p.images  # the shop image must be recovered from the still half


def test_ground_truth_files_are_plain_json(small_world, world_truth):
    v = world_truth.videos[0]
    data = json.loads((small_world / v.gt).read_text())
    assert set(data) == {"video_id", "product_id", "frames"}


@pytest.mark.parametrize("field", ["products", "videos"])
def test_world_json_lists(world_truth, field):
    assert len(getattr(world_truth, field)) >= 20


def test_a_few_stray_visible_pixels_do_not_stretch_a_garments_box():
    """The truth box is the tight box of the visible pixels without stray fragments: 8 pixels of a
    waistband showing beside the top that covers the rest would move the box 60 px up. Every
    fragment of real size still counts (a garment seen on both sides of an occluder), and the
    visible fraction keeps every pixel."""
    from movingfashion.world.render import Canvas

    cv = Canvas(np.zeros((200, 200, 3), np.uint8))
    cv.labels[120:180, 40:160] = 3  # the visible part: 7,200 pixels
    cv.labels[50:52, 60:64] = 3  # 8 stray pixels far above it
    cv.bbox[3], cv.full[3] = (0, 0, 200, 200), 14400.0
    box, vis = cv.garment_truth(3)
    assert box == [40, 120, 160, 180] and vis == pytest.approx(7208 / 14400)
    cv.labels[20:60, 100:140] = 5  # another garment's two halves, both real: the box spans them
    cv.labels[150:190, 10:50] = 5
    cv.bbox[5], cv.full[5] = (0, 0, 200, 200), 4000.0
    assert cv.garment_truth(5)[0] == [10, 20, 140, 190]
    cv.labels[:] = 0  # a garment made of one small piece keeps its box
    cv.labels[10:14, 10:14] = 7
    cv.bbox[7], cv.full[7] = (0, 0, 200, 200), 100.0
    assert cv.garment_truth(7)[0] == [10, 10, 14, 14]
