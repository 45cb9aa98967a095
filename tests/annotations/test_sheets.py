"""``mf-tracklets sheets``: bad split files and rows are one clear line (exit 2); a video whose
sheet cannot be drawn (a bad box, a missing video) is listed as failed and the others are drawn
(exit 1); a shop image merely missing on disk still gets its sheet, with a placeholder and a
warning."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from annotations.cli import tracklets
from annotations.tracklet_files import read_video_tracklets, write_video_tracklets
from schemas.cli_support import run_main


@pytest.fixture
def ds(gt_dataset, tmp_path) -> Path:
    out = tmp_path / "dataset"
    shutil.copytree(gt_dataset, out)
    return out


def first_video(ds: Path) -> tuple[str, str, Path]:
    """(video stem, product id, split file) of the first video with a ground-truth tracklet."""
    for p in sorted((ds / "tracklets").glob("*.json")):
        vt = read_video_tracklets(p)
        if vt.ground_truth is None:
            continue
        for split in ("train.json", "test.json"):
            if (ds / split).is_file() and vt.product_id in json.loads((ds / split).read_text()):
                return p.stem, vt.product_id, ds / split
    raise AssertionError("no video with a ground-truth tracklet")


def run_sheets(ds: Path, stem: str, capsys) -> tuple[int, str, str]:
    code = 0
    try:
        run_main(tracklets, ["sheets", "--dataset", str(ds), "--video", stem])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    got = capsys.readouterr()
    return code, got.out, got.err


def _drop_img_path(data: dict, pid: str) -> dict:
    del data[pid]["img_path"]
    return data


def _escape(data: dict, pid: str) -> dict:
    data[pid]["img_path"] = "../outside.png"
    return data


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda text, pid: text[: len(text) // 2], "malformed JSON at line 1"),
        (lambda text, pid: "null", "top level must be an object keyed by product id, got NoneType"),
        (
            lambda text, pid: json.dumps(_drop_img_path(json.loads(text), pid)),
            "product '{pid}': field 'img_path': Field required",
        ),
        (lambda text, pid: json.dumps(_escape(json.loads(text), pid)), "product '{pid}': field 'img_path'"),
    ],
    ids=["truncated", "null", "no-img_path", "escaping-img_path"],
)
def test_a_bad_split_file_or_row_is_one_line_exit_2(ds, capsys, damage, says):
    stem, pid, split = first_video(ds)
    split.write_text(damage(split.read_text(), pid))
    code, _, err = run_sheets(ds, stem, capsys)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {split}: ") and says.format(pid=pid) in line
    assert not (ds / "tracklets" / "sheets" / f"{stem}.png").exists()


def test_a_bad_row_of_another_product_does_not_stop_this_sheet(ds, capsys):
    stem, pid, split = first_video(ds)
    data = json.loads(split.read_text())
    other = next(k for k in data if k != pid)
    split.write_text(json.dumps(_drop_img_path(data, other)))
    code, out, err = run_sheets(ds, stem, capsys)
    assert code == 0, err
    assert out.strip().endswith(f"{stem}.png")


def test_a_missing_shop_file_gets_a_placeholder_and_a_warning(ds, capsys, caplog):
    stem, pid, split = first_video(ds)
    (ds / json.loads(split.read_text())[pid]["img_path"]).unlink()
    with caplog.at_level(logging.WARNING, logger="annotations.sheets"):
        code, out, err = run_sheets(ds, stem, capsys)
    assert code == 0, err
    assert (ds / "tracklets" / "sheets" / f"{stem}.png").is_file()
    assert "shop image left out" in caplog.text and "image file not found" in caplog.text


def _set_box(ds: Path, stem: str, box: list[float]) -> int:
    p = ds / "tracklets" / f"{stem}.json"
    vt = read_video_tracklets(p)
    gt = vt.tracklets[vt.ground_truth]
    frame = sorted(gt.scores or gt.boxes)[0]
    gt.boxes[frame] = box
    write_video_tracklets(ds, vt)
    return frame


def test_an_impossible_box_names_the_file_and_frame(ds, capsys):
    stem, _, _ = first_video(ds)
    frame = _set_box(ds, stem, [-1e12, -1e12, 1e12, 1e12])
    code, out, err = run_sheets(ds, stem, capsys)
    assert code == 1, err  # listed as failed, as a video build does
    (line,) = out.strip().splitlines()
    assert line.startswith("failed: ") and f"{ds / 'tracklets' / stem}.json: " in line
    assert f"frame {frame}: box" in line and "lies far outside" in line


def test_a_box_a_little_outside_the_frame_is_clipped(ds, capsys):
    stem, _, _ = first_video(ds)
    vt = read_video_tracklets(ds / "tracklets" / f"{stem}.json")
    _set_box(ds, stem, [-5.0, -7.5, vt.width + 9.0, vt.height + 3.0])
    code, _, err = run_sheets(ds, stem, capsys)
    assert code == 0, err
    assert (ds / "tracklets" / "sheets" / f"{stem}.png").stat().st_size > 1000


def test_a_video_that_cannot_be_drawn_is_reported_and_the_rest_are_written_and_listed(ds, capsys):
    """One missing video file once stopped the command (exit 2) after some sheets, which the
    manifest never took in; the videos after it got none."""
    from movingfashion.archive.verify import verify_dataset

    stems = sorted(p.stem for p in (ds / "tracklets").glob("*.json"))
    victim = stems[len(stems) // 2]
    video = read_video_tracklets(ds / "tracklets" / f"{victim}.json").video
    (ds / video).unlink()
    code = 0
    try:
        run_main(tracklets, ["sheets", "--dataset", str(ds), "--json"])
    except SystemExit as exc:
        code = exc.code
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # some items failed
    assert [f["video"] for f in out["failed"]] == [video] and Path(video).name in out["failed"][0]["error"]
    drawn = sorted(p.stem for p in (ds / "tracklets" / "sheets").glob("*.png"))
    assert drawn == [s for s in stems if s != victim] == sorted(Path(p).stem for p in out["sheets"])
    report = verify_dataset(ds)  # the missing video breaks "files"; every sheet is in the manifest
    assert report.check("manifest").status == "ok", report.table()
