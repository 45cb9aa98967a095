"""The DeepFashion2-format mini set written with the world."""

from __future__ import annotations

import json

import cv2
import numpy as np

from movingfashion.world.df2 import outline_landmarks
from schemas.taxonomy import DF2_CLASSES

#: DeepFashion2's landmarks per category, as its documentation lists them (294 in all).
DF2_LANDMARKS = {1: 25, 2: 33, 3: 31, 4: 39, 5: 15, 6: 15, 7: 10, 8: 14, 9: 8, 10: 29, 11: 37, 12: 19, 13: 19}


def _annos(small_world, split):
    root = small_world / "df2" / split
    return {p.stem: json.loads(p.read_text()) for p in sorted((root / "annos").glob("*.json"))}


def test_layout_and_fields(small_world, world_truth):
    assert world_truth.df2_root == "df2"
    pairs: dict[int, dict[str, set[int]]] = {}
    classes = set()
    labelled: dict[int, int] = {}
    for split in ("train", "validation"):
        annos = _annos(small_world, split)
        assert annos and list(annos) == [f"{i:06d}" for i in range(1, len(annos) + 1)]
        for name, a in annos.items():
            img = cv2.imread(str(small_world / "df2" / split / "image" / f"{name}.jpg"))
            h, w = img.shape[:2]
            assert a["source"] in ("shop", "user") and isinstance(a["pair_id"], int)
            items = [a[k] for k in a if k.startswith("item")]
            assert items and [k for k in a if k.startswith("item")] == [
                f"item{i}" for i in range(1, len(items) + 1)
            ]
            for it in items:
                assert DF2_CLASSES[it["category_id"]] == it["category_name"]
                x1, y1, x2, y2 = it["bounding_box"]
                assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
                lm = it["landmarks"]
                assert len(lm) == 3 * DF2_LANDMARKS[it["category_id"]]
                assert set(lm[2::3]) <= {0, 1, 2}
                # labelled points lie in the image; unlabelled ones are written 0, 0, 0
                for x, y, v in zip(lm[0::3], lm[1::3], lm[2::3], strict=True):
                    if v:
                        assert 0 <= x < w and 0 <= y < h
                    else:
                        assert (x, y) == (0, 0)
                labelled[it["category_id"]] = labelled.get(it["category_id"], 0) + sum(
                    v > 0 for v in lm[2::3]
                )
                pts = np.concatenate([np.array(s).reshape(-1, 2) for s in it["segmentation"]])
                # the outline of the visible mask spans the box
                assert abs(pts[:, 0].min() - x1) <= 1 and abs(pts[:, 0].max() - (x2 - 1)) <= 1
                assert abs(pts[:, 1].min() - y1) <= 1 and abs(pts[:, 1].max() - (y2 - 1)) <= 1
                for key in ("scale", "occlusion", "zoom_in"):
                    assert it[key] in (1, 2, 3)
                assert it["viewpoint"] in (1, 2, 3)
                classes.add(it["category_id"])
                if it["style"] > 0:
                    pairs.setdefault(a["pair_id"], {}).setdefault(a["source"], set()).add(it["style"])
    assert classes == set(DF2_CLASSES) and sum(DF2_LANDMARKS.values()) == 294
    assert all(labelled[c] > 0 for c in DF2_CLASSES)  # every category has labelled landmarks
    # every pair has a shop image and user images sharing a style > 0 (a positive pair)
    assert pairs and all(s.get("shop", set()) & s.get("user", set()) for s in pairs.values())
    assert any(len(s["shop"]) > 1 for s in pairs.values())  # some pairs have a second style


def test_segmentation_outlines_something_visible(small_world):
    """The colours inside an item's outline differ from a thin ring just outside it."""
    annos = _annos(small_world, "train")
    contrasts = []
    for name, a in list(annos.items())[:25]:
        img = cv2.imread(str(small_world / "df2" / "train" / "image" / f"{name}.jpg")).astype(np.float32)
        for it in (a[k] for k in a if k.startswith("item")):
            mask = np.zeros(img.shape[:2], np.uint8)
            cv2.fillPoly(mask, [np.array(s).reshape(-1, 2).astype(np.int32) for s in it["segmentation"]], 1)
            ring = cv2.dilate(mask, np.ones((7, 7), np.uint8)) - mask
            if mask.sum() < 30 or ring.sum() < 30:
                continue
            contrasts.append(np.abs(img[mask > 0].mean(0) - img[ring > 0].mean(0)).sum())
    assert len(contrasts) >= 20
    assert np.mean(np.array(contrasts) > 15) >= 0.8, contrasts


def test_outline_landmarks_keep_the_corners_and_spread_the_rest_by_edge_length():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    pts = outline_landmarks([square], 8)
    assert pts == [(0, 0), (5, 0), (10, 0), (10, 5), (10, 10), (5, 10), (0, 10), (0, 5)]
    # the long edges get the extra points; every corner stays, in order
    rect = np.array([[0, 0], [30, 0], [30, 10], [0, 10]], float)
    assert outline_landmarks([rect], 6) == [(0, 0), (15, 0), (30, 0), (30, 10), (15, 10), (0, 10)]
    # 3 extras: 1.125, 0.375, 1.125, 0.375 -> 1, 0, 1, 0 and the leftover to the largest remainder
    assert outline_landmarks([rect], 7) == [(0, 0), (15, 0), (30, 0), (30, 5), (30, 10), (15, 10), (0, 10)]
    # two outlines (an open jacket's panels) share the points; fewer points than corners -> arc length
    two = outline_landmarks([square, square + 20], 12)
    assert len(two) == 12 and two[0] == (0, 0) and (20, 20) in two
    assert outline_landmarks([rect], 2) == [(0, 0), (30, 10)]
    assert outline_landmarks([], 5) == []
