"""``mf-tracklets review`` on the real archive as downloaded (no ``tracklets/``, each video's
ground truth in the split files) lists and decides what the review page shows (before: refused
with "no tracklet files"), and the decisions go where the page's go."""

from __future__ import annotations

import json

import pytest

import schemas.official as official
from annotations.review.queue import SPLIT_TRUTH_REASON
from schemas.catalog import Catalog
from schemas.review import review_states
from tests.mf_cli import run_tracklets
from tests.movingfashion.helpers import edit_split, make_archive


def test_review_lists_and_decides_the_split_files_ground_truth(tmp_path, capsys):
    root = make_archive(tmp_path / "mf")
    edit_split(root, "test", lambda data: data["h2"]["tracklets"].__setitem__(0, {}))  # nothing to show
    code, out, err = run_tracklets(["review", "--dataset", str(root), "--json"], capsys)
    assert code == 0, err
    rows = {r["video"]: r for r in json.loads(out)["needs_review"]}
    assert set(rows) == {"r1_0", "r1_1", "h1_0", "r2_0"}
    assert rows["r2_0"]["reason"] == SPLIT_TRUTH_REASON and rows["r2_0"]["product_id"] == "r2"
    catalog = tmp_path / "review.sqlite"
    Catalog(catalog).close()
    args = ["review", "--dataset", str(root), "--catalog", str(catalog)]
    code, out, err = run_tracklets([*args, "--accept", "r1_0", "--reject", "r2_0"], capsys)
    assert code == 0, err
    assert out.split() == ["accept:", "r1_0", "reject:", "r2_0"]
    with Catalog(catalog, read_only=True) as cat:
        states = review_states(cat)
    assert {k: st.verdict for k, st in states.items()} == {
        ("videos/r1_0.mp4", "r1"): "accept",
        ("videos/r2_0.mp4", "r2"): "reject",
    }
    code, out, err = run_tracklets([*args, "--json"], capsys)
    assert {r["video"] for r in json.loads(out)["needs_review"]} == {"r1_1", "h1_0"}  # decided ones hidden
    # a video with nothing to show is still named for what it lacks
    code, _, err = run_tracklets([*args, "--accept", "h2_0"], capsys)
    assert code != 0 and "no tracklet file for video 'h2_0'" in err


def test_a_product_id_or_a_wrong_video_number_is_answered_with_the_names_that_exist(tmp_path, capsys):
    """``--accept r1`` (the product, as publish's held-back list names it) or ``--reject r2_3``:
    the error named no candidate, so the user had to list the reviews to find ``r1_0``."""
    root = make_archive(tmp_path / "mf")
    for name, says in (("r1", "did you mean r1_0, r1_1?"), ("r2_3", "did you mean r2_0?")):
        code, _, err = run_tracklets(["review", "--dataset", str(root), "--accept", name], capsys)
        assert code == 2 and f"no tracklet file for video {name!r}" in err and says in err, err
    code, _, err = run_tracklets(["review", "--dataset", str(root), "--accept", "zz_0"], capsys)
    assert code == 2 and "did you mean" not in err


def test_review_lists_without_reading_the_split_files_whole(tmp_path, capsys, monkeypatch):
    root = make_archive(tmp_path / "mf")
    code, out, err = run_tracklets(["review", "--dataset", str(root), "--json"], capsys)
    assert code == 0, err
    expected = json.loads(out)["needs_review"]
    catalog = tmp_path / "review.sqlite"
    Catalog(catalog).close()
    monkeypatch.setattr(official, "_load", lambda p: pytest.fail(f"{p} parsed whole"))
    for extra in ([], ["--catalog", str(catalog)]):
        code, out, err = run_tracklets(["review", "--dataset", str(root), "--json", *extra], capsys)
        assert code == 0, err
        assert json.loads(out)["needs_review"] == expected


def test_a_bad_box_holds_out_its_video_alone_from_the_list_and_the_decisions(tmp_path, capsys):
    root = make_archive(tmp_path / "mf")
    edit_split(root, "train", lambda data: data["r1"]["tracklets"][1].update({"4": [9, 0, 2, 5]}))
    code, out, err = run_tracklets(["review", "--dataset", str(root), "--json"], capsys)
    assert code == 0, err
    assert {r["video"] for r in json.loads(out)["needs_review"]} == {"r1_0", "h1_0", "r2_0", "h2_0"}
    said = f"{root / 'train.json'}: product 'r1', video 'videos/r1_1.mp4', frame key '4': "
    assert said in err and "x2 (2) < x1 (9)" in err, err
    args = ["review", "--dataset", str(root)]
    code, out, err = run_tracklets([*args, "--accept", "r1_1"], capsys)
    assert code != 0 and "r1_1 is held out of the review" in err and "frame key '4'" in err, err
    code, out, err = run_tracklets([*args, "--accept", "r1_0"], capsys)
    assert code == 0 and out.split() == ["accept:", "r1_0"], err
