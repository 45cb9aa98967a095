"""The official-format dataset exported from the ground truth."""

from __future__ import annotations

import json

import cv2
import pytest

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


def test_the_export_has_the_archive_layout_and_verifies(gt_dataset):
    from movingfashion.archive.verify import verify_dataset

    split = read_official(gt_dataset / "train.json") | read_official(gt_dataset / "test.json")
    for e in split.values():
        assert e.source in (0, 1) and e.img_path.startswith("imgs/")
        assert e.img_path.endswith(".jpg" if e.source == 1 else ".png")
    report = verify_dataset(gt_dataset)
    assert report.ok, report.table()
    assert {c.name for c in report.checks if c.status == "skipped"} == set()


@pytest.mark.slow
def test_retakes_join_their_original_and_test_keeps_one_video(repost_world, tmp_path, monkeypatch):
    """A retake shows the garment of another product with its shop image: one product, several
    videos. Exported with every product in test, each keeps exactly one video, the longest
    (ties: the largest frame, then the smallest video id)."""
    import movingfashion.world.gt_dataset as gt
    from movingfashion.archive.verify import verify_dataset
    from movingfashion.world.truth import load_world
    from schemas.dataset import Split
    from schemas.official import VideoChoice, pick_test_video

    truth = load_world(repost_world)

    def entries_of(root):
        rows = (
            DatasetEntry.model_validate_json(x) for x in (root / "entries.jsonl").read_text().splitlines()
        )
        return {e.product_id: e for e in rows}

    out = gt.export_gt_dataset(repost_world, tmp_path / "gt")
    assert verify_dataset(out).ok
    entries = entries_of(out)
    published = {p.product_id for p in gt.publishable(truth)}
    retakes = [v for v in truth.videos if v.retake_of and v.product_id in published]
    assert len(retakes) == 6
    for v in retakes:
        owner = truth.video(v.retake_of).product_id
        assert v.product_id not in entries and owner in entries
        assert entries[owner].split == "test" or v.product_id in entries[owner].metadata["video_items"]
    multi = {pid: e for pid, e in entries.items() if len(e.video_paths) > 1}
    assert multi and all(e.split == "train" for e in multi.values())

    monkeypatch.setattr(
        gt, "assign_splits", lambda products, seed=0, **_: {p.product_id: Split.TEST for p in products}
    )
    all_test = gt.export_gt_dataset(repost_world, tmp_path / "all-test")
    assert verify_dataset(all_test).ok
    assert not read_official(all_test / "train.json")
    moved = entries_of(all_test)
    assert set(moved) == set(entries) and all(len(e.video_paths) == 1 for e in moved.values())
    for pid, e in multi.items():
        vids = [truth.product(item).videos[0] for item in e.metadata["video_items"]]
        choices = [VideoChoice(v.frames, v.width, v.height, v.video_id) for v in map(truth.video, vids)]
        kept = truth.video(vids[pick_test_video(choices)]).product_id
        assert moved[pid].metadata["video_items"] == [kept]


def test_a_rerun_replaces_the_earlier_export_whole(small_world, tmp_path):
    """Before, a second export into the same --out kept the first one's videos and tracklet files
    (and listed them in manifest.json); now the folder holds exactly the new export."""
    from movingfashion.archive.verify import verify_dataset
    from movingfashion.world.gt_dataset import export_gt_dataset

    out = export_gt_dataset(small_world, tmp_path / "gt")
    (out / "videos" / "stale_0.mp4").write_bytes(min((out / "videos").iterdir()).read_bytes())
    (out / "tracklets" / "stale_0.json").write_text("{}\n")
    again = export_gt_dataset(small_world, tmp_path / "gt", test_fraction=0)
    assert again == out and sorted(p.name for p in tmp_path.iterdir()) == ["gt"]  # no work folder left
    assert not read_official(out / "test.json")  # --test-fraction 0: a training-only export
    used = {rel for e in read_official(out / "train.json").values() for rel in e.video_paths}
    assert {f"videos/{p.name}" for p in (out / "videos").iterdir()} == used
    assert {f"videos/{p.stem}.mp4" for p in (out / "tracklets").iterdir()} == used
    files = json.loads((out / "manifest.json").read_text())["files"]
    assert not [f for f in files if "stale" in f]
    assert verify_dataset(out).ok


def test_export_into_a_folder_that_is_not_an_export_is_refused(small_world, tmp_path, capsys):
    from movingfashion.world.cli import world
    from schemas.cli_support import run_main

    mine = tmp_path / "mine"
    (mine / "videos").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine\n")
    with pytest.raises(SystemExit) as exc:
        run_main(world, ["export-gt", "--world", str(small_world), "--out", str(mine)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and str(mine) in err and "notes.txt" in err and "--out" in err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "videos"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_test_fraction_of_0_puts_no_product_in_test(world_truth):
    """Before, a hidden minimum of 3 test products applied whatever the fraction."""
    from movingfashion.world.gt_dataset import assign_splits, publishable

    products = publishable(world_truth)
    assert set(assign_splits(products, test_fraction=0).values()) == {"train"}
    assert sum(s == "test" for s in assign_splits(products, test_fraction=0.01).values()) == 3
