"""The official-format dataset exported from the ground truth."""

from __future__ import annotations

import json

import cv2

from movingfashion.world.truth import load_video_gt
from schemas.dataset import DatasetEntry
from schemas.official import read_official


def test_layout_and_splits(gt_dataset, world_truth):
    train, test = read_official(gt_dataset / "train.json"), read_official(gt_dataset / "test.json")
    assert len(test) >= 3 and len(train) > len(test)
    assert not set(train) & set(test)
    entries = [
        DatasetEntry.model_validate_json(line)
        for line in (gt_dataset / "entries.jsonl").read_text().splitlines()
    ]
    assert {e.product_id for e in entries} == set(train) | set(test)
    assert {e.df2_class for e in entries} == set(range(1, 14))
    for e in entries:
        p = world_truth.product(e.product_id)
        assert p.df2_class == e.df2_class and not p.wrong_shop
        assert not any(world_truth.video(v).duplicate_of for v in p.videos)
        assert (gt_dataset / e.img_path).exists()
        for rel in e.video_paths:
            assert (gt_dataset / rel).exists()
    assert json.loads((gt_dataset / "manifest.json").read_text())["products"] == len(entries)


def test_tracklets_are_the_true_item_boxes(gt_dataset, small_world, world_truth):
    split = read_official(gt_dataset / "train.json") | read_official(gt_dataset / "test.json")
    for pid, entry in split.items():
        v = world_truth.video(world_truth.product(pid).videos[0])
        truth = load_video_gt(small_world, v).item_boxes()
        got = entry.tracklet_boxes(0)
        assert set(got) == set(truth)
        cap = cv2.VideoCapture(str(gt_dataset / entry.video_paths[0]))
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        cap.release()
        if v.split_screen is None:
            assert got == truth and (w, h) == (v.width, v.height)
        else:  # cropped to the moving half, boxes shifted with it
            mx1, my1, mx2, my2 = v.split_screen.moving_box
            assert (w, h) == (mx2 - mx1, my2 - my1)
            t = next(iter(truth))
            assert got[t] == [truth[t][0] - mx1, truth[t][1] - my1, truth[t][2] - mx1, truth[t][3] - my1]
