"""``mf schema validate`` and ``mf verify`` give one verdict on each invariant a split file's JSON
shows (``schemas.official_checks``): before, schema validate called valid what verify broke on
(a zero-width box, a video listed twice, a video in both splits, ``source`` 2, ...), and the
loader still reads such a file (a finding, not an error)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from schemas.official import read_official
from schemas.official_checks import box_problem
from tests.mf_cli import run_mf
from tests.movingfashion.helpers import (
    edit_split,
    hard_shop_as_jpg,
    image_in_both_splits,
    legacy_source_code,
    make_archive,
    older_shop_folder,
    product_in_both_splits,
    same_stem_in_two_folders,
    two_test_videos,
    unknown_source_code,
    video_in_both_splits,
    video_outside_videos,
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("archive") / "MovingFashion")


def _zero_width_box(r: Path) -> None:
    edit_split(r, "train", lambda d: d["h1"]["tracklets"][0].update({"3": [10, 40, 10, 80]}))


def _zero_height_box(r: Path) -> None:
    edit_split(r, "test", lambda d: d["r2"]["tracklets"][0].update({"2": [10, 40, 30, 40]}))


def _box_left_of_the_picture(r: Path) -> None:
    edit_split(r, "train", lambda d: d["h1"]["tracklets"][0].update({"3": [-4, 40, 10, 80]}))


def _video_twice_in_a_product(r: Path) -> None:
    edit_split(r, "train", lambda d: d["r1"]["video_paths"].__setitem__(1, "videos/r1_0.mp4"))


def _more_tracklets_than_videos(r: Path) -> None:
    edit_split(r, "train", lambda d: d["h1"]["tracklets"].append({}))


# (defect, verify check, split, product, field)
DEFECTS = [
    (_zero_width_box, "tracklets", "train", "h1", "tracklets[0]"),
    (_zero_height_box, "tracklets", "test", "r2", "tracklets[0]"),
    (_box_left_of_the_picture, "tracklets", "train", "h1", "tracklets[0]"),
    (_video_twice_in_a_product, "repeats", "train", "r1", "video_paths[1]"),
    (video_in_both_splits, "leakage", "test", "r2", "video_paths"),
    (product_in_both_splits, "leakage", "test", "h1", "(product id)"),
    (image_in_both_splits, "leakage", "test", "h2", "img_path"),
    (legacy_source_code, "source_codes", "train", "h1", "source"),
    (unknown_source_code, "source_codes", "train", "r1", "source"),
    (video_outside_videos, "prefixes", "train", "r1", "video_paths[0]"),
    (older_shop_folder, "prefixes", "train", "h1", "img_path"),
    (hard_shop_as_jpg, "shop_suffix", "test", "h2", "img_path"),
    (two_test_videos, "test_one_video", "test", "r2", "video_paths"),
    (_more_tracklets_than_videos, "schema", "train", "h1", "tracklets"),
    (same_stem_in_two_folders, "tracklets", "train", "h1", "video_paths"),
]


def _verify_breaks(root: Path, capsys) -> tuple[int, set[tuple[str, str, str, str]]]:
    code, out, _ = run_mf(["verify", "--dataset", str(root), "--json"], capsys)
    doc = json.loads(out)
    found = {
        (c["check"], o["split"], o["product"], o["field"]) for c in doc["checks"] for o in c["offenders"]
    }
    return code, found


def _validate_json(root: Path, capsys) -> tuple[int, dict]:
    files = [str(root / "train.json"), str(root / "test.json")]
    code, out, _ = run_mf(["schema", "validate", *files, "--json"], capsys)
    return code, json.loads(out)


def test_a_clean_archive_passes_both(archive, capsys):
    code, doc = _validate_json(archive, capsys)
    assert code == 0 and doc["ok"], doc
    assert all(f["findings"] == [] for f in doc["files"].values())
    assert _verify_breaks(archive, capsys) == (0, set())


@pytest.mark.parametrize(
    ("defect", "check", "split", "product", "field"),
    DEFECTS,
    ids=[d[0].__name__.lstrip("_") for d in DEFECTS],
)
def test_schema_validate_and_verify_agree(archive, tmp_path, capsys, defect, check, split, product, field):
    root = tmp_path / "ds"
    shutil.copytree(archive, root)
    defect(root)
    code, breaks = _verify_breaks(root, capsys)
    assert code == 1 and (check, split, product, field) in breaks, breaks
    # the loader still reads the file: a finding, not an error
    assert product in read_official(root / f"{split}.json")
    code, doc = _validate_json(root, capsys)
    assert code == 1 and not doc["ok"]
    report = doc["files"][str(root / f"{split}.json")]
    assert report["ok"] is False and report["products"] >= 1
    hits = [
        f for f in report["findings"] if (f["check"], f["product"], f["field"]) == (check, product, field)
    ]
    assert hits, report
    assert hits[0]["where"] == str(root / f"{split}.json") and hits[0]["fix"]
    # without --json: one line naming the file, the product and the field; exit 1
    files = [str(root / "test.json"), str(root / "train.json")]  # train.json is compared first all the same
    code, out, err = run_mf(["schema", "validate", *files], capsys)
    assert code == 1 and "findings" in err
    assert any(
        line.strip().startswith(f"{root / f'{split}.json'}: product '{product}': field '{field}'")
        for line in out.splitlines()
    ), out


def test_a_non_finite_extra_field_is_refused_by_both(archive, tmp_path, capsys):
    """NaN in a key the toolkit does not know: the reader refused the file, verify called it clean."""
    root = tmp_path / "ds"
    shutil.copytree(archive, root)
    text = (root / "test.json").read_text().replace('"source": 1', '"note": NaN, "source": 1', 1)
    (root / "test.json").write_text(text)
    code, breaks = _verify_breaks(root, capsys)
    assert code == 1 and ("schema", "test", "r2", "note") in breaks, breaks
    code, doc = _validate_json(root, capsys)
    report = doc["files"][str(root / "test.json")]
    assert code == 1 and report["product"] == "r2" and report["field"] == "note"


def test_the_same_file_twice_does_not_leak_into_itself(archive, capsys):
    train = str(archive / "train.json")
    code, out, _ = run_mf(["schema", "validate", train, str(Path(train).parent / "." / "train.json")], capsys)
    assert code == 0 and "valid" in out


@pytest.mark.parametrize(
    ("box", "why"),
    [
        ([0, 0, 9, 9], None),
        ([3, 0, 3, 9], "zero width"),
        ([0, 4, 9, 4], "zero height"),
        ([0, -1, 9, 9], "left of or above the picture"),
        ([9, 0, 3, 9], "x2 < x1 or y2 < y1"),
        ([0, 0, float("nan"), 9], "not 4 finite numbers"),
        ([0, 0, 9], "not 4 finite numbers"),
        ([True, 0, 9, 9], "not 4 finite numbers"),
    ],
)
def test_box_problem(box, why):
    assert box_problem(box) == why
