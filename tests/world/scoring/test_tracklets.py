"""The world's evaluators: tracklets against the true item boxes, and the reference dataset the
world exports agreeing with them; ``mf world export-gt`` / ``mf world score tracklets``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotations.cli import tracklets as tracklets_cli
from annotations.qa import reference_boxes
from movingfashion.world.cli import world as world_cli
from movingfashion.world.scoring.tracklets import score_tracklets, truth_boxes_for_dataset
from movingfashion.world.truth import load_video_gt
from schemas.dataset import read_entry_rows
from schemas.errors import DataFormatError
from schemas.official import read_official


def _videos(dataset) -> dict[str, tuple[str, int]]:
    split = read_official(dataset / "train.json") | read_official(dataset / "test.json")
    return {vp: (pid, i) for pid, e in split.items() for i, vp in enumerate(e.video_paths)}


def test_the_exported_truth_scores_perfectly(gt_dataset, small_world):
    qa = score_tracklets(gt_dataset, small_world)
    assert qa.videos == len(_videos(gt_dataset)) > 10 and not qa.missing
    assert qa.mean_iou == pytest.approx(1.0) and qa.pass_rate == 1.0


def test_scoring_builds_no_box_of_the_split_files(gt_dataset, small_world, monkeypatch):
    """The split files give the scoring its video lists only: read without building their boxes
    (before: parsed whole twice, every box built, for the truth and for the list of videos)."""
    import schemas.official as official

    whole: list[str] = []
    load = official._load
    monkeypatch.setattr(official, "_load", lambda path: whole.append(Path(path).name) or load(path))
    qa = score_tracklets(gt_dataset, small_world)
    assert qa.videos == len(_videos(gt_dataset)) > 10 and qa.pass_rate == 1.0
    assert whole == ["train.json", "test.json"]  # _videos' own reads, after the scoring


def test_source_crops_are_recorded(gt_dataset, world_truth):
    rows = read_entry_rows(gt_dataset / "entries.jsonl")
    split_screens = 0
    for pid, row in rows.items():
        videos = [world_truth.video(v) for v in world_truth.product(pid).videos]
        crops = row["metadata"]["source_crops"]
        assert len(crops) == len(videos)
        for v, c in zip(videos, crops, strict=True):
            assert c == ([int(x) for x in v.split_screen.moving_box] if v.split_screen else None)
            split_screens += v.split_screen is not None
    assert split_screens >= 1


def test_world_truth_and_reference_dataset_agree(gt_dataset, small_world, tmp_path):
    truth = truth_boxes_for_dataset(gt_dataset, small_world)
    assert truth == reference_boxes(gt_dataset, gt_dataset)
    # without entries.jsonl the world falls back on the video size to find the crop
    bare = tmp_path / "bare"
    shutil.copytree(gt_dataset, bare)
    (bare / "entries.jsonl").unlink()
    assert truth_boxes_for_dataset(bare, small_world) == truth


def test_an_uncropped_split_screen_video_is_scored_in_full_frame(
    gt_dataset, small_world, world_truth, tmp_path
):
    """A pipeline that missed a split screen publishes the full frame: the reference's boxes
    (in the crop) move back into it."""
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    rows = read_entry_rows(ds / "entries.jsonl")
    changed = []
    for vp, (pid, i) in _videos(ds).items():
        v = world_truth.video(world_truth.product(pid).videos[i])
        if v.split_screen is not None:
            shutil.copyfile(small_world / v.path, ds / vp)
            rows[pid]["metadata"]["source_crops"][i] = None
            changed.append((vp, v))
    assert changed
    (ds / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows.values()))
    ref, truth = reference_boxes(ds, gt_dataset), truth_boxes_for_dataset(ds, small_world)
    for vp, v in changed:
        full = load_video_gt(small_world, v).item_boxes()
        assert ref[vp] == truth[vp] == full


def test_a_wrong_tracklet_fails_the_check(gt_dataset, small_world, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    f = sorted((ds / "tracklets").glob("*.json"))[0]
    vt = json.loads(f.read_text())
    boxes = vt["tracklets"][0]["boxes"]
    vt["tracklets"][0]["boxes"] = {t: [b[0] + 400, b[1], b[2] + 400, b[3]] for t, b in boxes.items()}
    f.write_text(json.dumps(vt))
    qa = score_tracklets(ds, small_world)
    assert [c.video for c in qa.checks if not c.passed] == [vt["video"]]
    assert qa.pass_rate == pytest.approx(1 - 1 / qa.videos)


def test_export_and_score_commands(gt_dataset, small_world, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        world_cli, ["export-gt", "--world", str(small_world), "--out", str(tmp_path / "ref"), "--json"]
    )
    assert res.exit_code == 0, res.output
    counts = json.loads(res.stdout)
    assert counts["train"] == len(read_official(gt_dataset / "train.json"))
    res = runner.invoke(
        world_cli, ["score", "tracklets", "--dataset", str(gt_dataset), "--world", str(small_world), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["mean_iou"] == pytest.approx(1.0)
    res = runner.invoke(
        world_cli, ["score", "tracklets", "--dataset", str(gt_dataset), "--world", str(small_world)]
    )
    assert "passed by 100.0%" in res.stdout
    # the exported reference serves mf-tracklets qa: the same boxes, so a perfect score
    res = runner.invoke(
        tracklets_cli, ["qa", "--dataset", str(gt_dataset), "--reference", str(tmp_path / "ref"), "--json"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["pass_rate"] == 1.0 and d["missing"] == []


def test_no_tracklets_is_a_clear_error(small_world, tmp_path):
    (tmp_path / "train.json").write_text("{}")
    with pytest.raises(DataFormatError, match="no tracklet files"):
        score_tracklets(tmp_path, small_world)


def _hold_back(ds, pid: str) -> list[str]:
    """Do to product ``pid`` what ``mf publish`` does to a product it holds back for review: out
    of the split files and entries.jsonl, its tracklet files kept and named in .publish-held.json
    (with the recipe each video was made by: a split screen's crop). Returns its video paths."""
    held_file = ds / ".publish-held.json"
    held = json.loads(held_file.read_text()) if held_file.is_file() else {}
    rows = read_entry_rows(ds / "entries.jsonl")
    crops = rows.pop(pid)["metadata"]["source_crops"]
    (ds / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows.values()))
    mine = []
    for name in ("train.json", "test.json"):
        split = json.loads((ds / name).read_text())
        entry = split.pop(pid, None)
        if entry is not None:
            (ds / name).write_text(json.dumps(split))
            for vp, crop in zip(entry["video_paths"], crops, strict=True):
                recipe = "copy" if crop is None else "crop:" + ",".join(f"{x:g}" for x in crop)
                held[vp] = {"product_id": pid, "src": "0" * 64, "recipe": recipe}
                mine.append(vp)
    held_file.write_text(json.dumps(held))
    return mine


def test_videos_held_back_by_publish_are_scored_with_their_flags(
    gt_dataset, small_world, world_truth, tmp_path
):
    """After publish held flagged products back for review, their videos still count: a failing
    flagged one lowers the pass rate and is caught by the flags, none is "not in the reference"."""
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    total = len(_videos(ds))
    split_screen = {
        p.product_id for p in world_truth.products for v in p.videos if world_truth.video(v).split_screen
    }
    listed = sorted(_products(ds))
    # a split screen's held video is the moving half (recipe crop:...): its truth moves into it
    ok = _hold_back(ds, next(p for p in listed if p in split_screen))
    bad = _hold_back(ds, next(p for p in listed if p not in split_screen))
    f = ds / "tracklets" / f"{Path(bad[0]).stem}.json"
    vt = json.loads(f.read_text())
    vt["needs_review"] = True
    vt["tracklets"][0]["boxes"] = {t: [0, 0, 1, 1] for t in vt["tracklets"][0]["boxes"]}
    f.write_text(json.dumps(vt))
    qa = score_tracklets(ds, small_world)
    assert qa.videos == total and qa.held_back == len(ok + bad) and qa.missing == []
    assert [c.video for c in qa.checks if not c.passed] == bad
    assert qa.flagged == 1 and qa.flag_recall == 1.0 and qa.flag_rate == pytest.approx(1 / total)
    assert [c.mean_iou for c in qa.checks if c.video in ok] == pytest.approx([1.0] * len(ok))
    d = qa.as_dict()
    assert d["held_back"] == len(ok + bad) and d["no_tracklet_file"] == []


def _products(ds) -> set[str]:
    return {pid for pid, _ in _videos(ds).values()}


def test_a_listed_video_without_a_tracklet_file_fails_and_is_named(gt_dataset, small_world, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    total = len(_videos(ds))
    gone = sorted(_videos(ds))[0]
    (ds / "tracklets" / f"{Path(gone).stem}.json").unlink()
    qa = score_tracklets(ds, small_world)
    assert qa.videos == total and qa.pass_rate == pytest.approx(1 - 1 / total)
    assert qa.no_tracklet_file == [gone] and qa.as_dict()["failed_videos"] == [gone]
    res = CliRunner().invoke(
        world_cli, ["score", "tracklets", "--dataset", str(ds), "--world", str(small_world)]
    )
    assert res.exit_code == 0, res.output
    assert f"1 without a tracklet file (counted as failing): {gone}" in res.stdout


def test_the_score_line_says_what_the_held_back_count_is_of(gt_dataset, small_world, tmp_path):
    """`mf world score tracklets` words what it counts apart as `mf-tracklets qa` does: the
    held-back count is of the scored videos, never of the videos named before it."""
    from annotations.cli import counted_apart

    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    total = len(_videos(ds))
    held = _hold_back(ds, sorted(_products(ds))[0])
    res = CliRunner().invoke(
        world_cli, ["score", "tracklets", "--dataset", str(ds), "--world", str(small_world)]
    )
    assert res.exit_code == 0, res.output
    line = f"; {len(held)} of the {total} scored videos are held back for review (in no split file)"
    assert line in res.stdout and "of them" not in res.stdout
    names = [f"videos/v{i}.mp4" for i in range(7)]  # a long list is cut as mf-tracklets qa cuts it
    d = {"held_back": 0, "videos": 9, "no_tracklet_file": names}
    assert counted_apart(d).endswith("videos/v4.mp4 and 2 more")


def test_a_held_video_of_a_prefixed_product_is_found_through_its_item(
    gt_dataset, small_world, world_truth, tmp_path
):
    """A held-back product of another source is published as ``local-<id>`` (``tiktok-...``): the
    world knows its item's id, which publish records beside it; it was "not in the reference"
    and left out of the score (a failing held video made a 100% pass rate)."""
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    split_screen = {
        p.product_id for p in world_truth.products for v in p.videos if world_truth.video(v).split_screen
    }
    pid = next(p for p in sorted(_products(ds)) if p not in split_screen)
    rel = f"videos/local-{pid}_0.mp4"
    record = {"product_id": f"local-{pid}", "src": "0" * 64, "recipe": "copy"}
    (ds / ".publish-held.json").write_text(json.dumps({rel: record}))
    assert rel not in truth_boxes_for_dataset(ds, small_world)  # an older record: no item to go by
    (ds / ".publish-held.json").write_text(json.dumps({rel: {**record, "item": pid}}))
    truth = truth_boxes_for_dataset(ds, small_world)
    listed = next(vp for vp, (p, _) in _videos(ds).items() if p == pid)
    assert truth[rel] == truth[listed] and truth[rel]


def test_a_world_file_other_than_world_json_is_named(tmp_path):
    """--world some.json: the error names the file given, not its folder."""
    (tmp_path / "train.json").write_text("{}")
    given = tmp_path / "some.json"
    given.write_text("{}")
    res = CliRunner().invoke(
        world_cli, ["score", "tracklets", "--dataset", str(tmp_path), "--world", str(given)]
    )
    assert isinstance(res.exception, DataFormatError), res.output
    assert res.exception.where == str(given) and "world generate" in str(res.exception)


def test_a_world_that_knows_none_of_the_videos_exits_2(gt_dataset, small_world, tmp_path, capsys):
    """The finding: --world naming another world (the new user's second world) printed
    ``0 videos: mean IoU 0.000, >=50% check passed by 0.0%`` and exit 0, as if every tracklet
    were wrong; now one line names the world and says nothing could be scored, exit 2."""
    from tests.mf_cli import run_mf
    from tests.world_fixtures import other_world

    other = other_world(small_world, tmp_path / "other")
    code, out, err = run_mf(
        ["world", "score", "tracklets", "--dataset", str(gt_dataset), "--world", str(other)], capsys
    )
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {other}: none of the dataset's ") and "nothing to score" in line
    assert "pass the world this dataset was collected from" in line
