"""``mf-tracklets qa --reference``: a product published from several items is scored video by
video against its items' truth (``metadata.video_items``), the videos ``mf publish`` held back
for review are scored too, and a listed video without a tracklet file fails the check."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from annotations.cli import tracklets
from annotations.qa import reference_boxes

P_BOX, Q_BOX, H_BOX = [10, 10, 60, 60], [120, 120, 190, 190], [30, 30, 90, 90]


def _truth(box: list[int]) -> dict[str, list[int]]:
    return {str(t): box for t in range(10)}


def _official(root: Path, products: dict[str, dict], items: dict[str, list[str]] | None = None) -> Path:
    """train.json of ``products`` (pid -> {"videos": [...], "tracklets": [...]}), and
    entries.jsonl with ``metadata.video_items`` when ``items`` is given."""
    root.mkdir(parents=True)
    train = {
        pid: {
            "video_paths": p["videos"],
            "img_path": f"imgs/{pid}.jpg",
            "source": 1,
            "tracklets": p["tracklets"],
        }
        for pid, p in products.items()
    }
    (root / "train.json").write_text(json.dumps(train))
    if items is not None:
        rows = [{"product_id": pid, "metadata": {"video_items": v}} for pid, v in items.items()]
        (root / "entries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _reference(root: Path, products: dict[str, list[list[int]]]) -> Path:
    """What ``mf world export-gt`` writes: one product per item, its videos' true boxes."""
    return _official(
        root,
        {
            pid: {
                "videos": [f"videos/{pid}_{i}.mp4" for i in range(len(b))],
                "tracklets": [_truth(x) for x in b],
            }
            for pid, b in products.items()
        },
    )


def _tracklet_file(ds: Path, pid: str, video: str, box: list[int] | None, needs_review: bool = False) -> None:
    """A tracklet file whose ground-truth tracklet has ``box`` on every frame (None: no tracklet)."""
    boxes = _truth(box) if box else {}
    trk = (
        [{"video": video, "boxes": boxes, "scores": {k: 0.9 for k in boxes}, "mode": "training"}]
        if box
        else []
    )
    vt = {
        "product_id": pid,
        "video": video,
        "frames": 10,
        "width": 200,
        "height": 200,
        "tracklets": trk,
        "ground_truth": 0 if box else None,
        "needs_review": needs_review,
    }
    (ds / "tracklets").mkdir(exist_ok=True)
    (ds / "tracklets" / f"{Path(video).stem}.json").write_text(json.dumps(vt))


def _qa(ds: Path, ref: Path) -> dict:
    res = CliRunner().invoke(tracklets, ["qa", "--dataset", str(ds), "--reference", str(ref), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_a_merged_products_videos_are_scored_against_their_items_truth(tmp_path):
    # P was published from items Q (two videos) and P (one); its id kept P's though Q's sort first
    items = ["Q", "P", "Q"]
    videos = [f"videos/P_{i}.mp4" for i in range(3)]
    ds = _official(tmp_path / "ds", {"P": {"videos": videos, "tracklets": [{}, {}, {}]}}, {"P": items})
    ref = _reference(tmp_path / "ref", {"P": [P_BOX], "Q": [Q_BOX, H_BOX]})
    truth = reference_boxes(ds, ref)
    assert truth == {
        "videos/P_0.mp4": {t: Q_BOX for t in range(10)},  # Q's video 0
        "videos/P_1.mp4": {t: P_BOX for t in range(10)},  # P's video 0
        "videos/P_2.mp4": {t: H_BOX for t in range(10)},  # Q's video 1
    }
    for v, box in zip(
        videos, (Q_BOX, P_BOX, H_BOX), strict=True
    ):  # perfect tracklets of each video's garment
        _tracklet_file(ds, "P", v, box)
    d = _qa(ds, ref)
    assert (d["videos"], d["pass_rate"], d["mean_iou"], d["missing"]) == (3, 1.0, 1.0, [])


def test_a_video_of_an_item_the_reference_lacks_is_not_in_the_reference(tmp_path):
    # D (an exact duplicate clean kept) is not in the reference: its video is listed as missing,
    # while the product's video of an item the reference has is found under that item
    videos = ["videos/P_0.mp4", "videos/P_1.mp4"]
    ds = _official(tmp_path / "ds", {"P": {"videos": videos, "tracklets": [{}, {}]}}, {"P": ["D", "Q"]})
    ref = _reference(tmp_path / "ref", {"P": [P_BOX, P_BOX], "Q": [Q_BOX]})
    assert reference_boxes(ds, ref) == {"videos/P_1.mp4": {t: Q_BOX for t in range(10)}}
    _tracklet_file(ds, "P", videos[0], P_BOX)
    _tracklet_file(ds, "P", videos[1], Q_BOX)
    d = _qa(ds, ref)
    assert (d["videos"], d["pass_rate"], d["missing"]) == (1, 1.0, ["videos/P_0.mp4"])
    human = CliRunner().invoke(tracklets, ["qa", "--dataset", str(ds), "--reference", str(ref)])
    assert "1 video not in the reference: videos/P_0.mp4" in human.output


def test_without_video_items_videos_pair_by_product_and_index(tmp_path):
    ds = _official(
        tmp_path / "ds", {"P": {"videos": ["videos/P_0.mp4", "videos/P_1.mp4"], "tracklets": [{}, {}]}}
    )
    ref = _reference(tmp_path / "ref", {"P": [P_BOX, Q_BOX]})
    assert reference_boxes(ds, ref) == {
        "videos/P_0.mp4": {t: P_BOX for t in range(10)},
        "videos/P_1.mp4": {t: Q_BOX for t in range(10)},
    }


def _held(ds: Path, records: dict[str, str]) -> None:
    """``.publish-held.json`` as mf publish writes it: video -> product id, source hash, recipe."""
    held = {vp: {"product_id": pid, "src": "0" * 64, "recipe": "copy"} for vp, pid in records.items()}
    (ds / ".publish-held.json").write_text(json.dumps(held))


def test_videos_held_back_for_review_are_scored_and_flagged(tmp_path):
    # publish held back H and K (the builder flagged them); their tracklet files stay
    ds = _official(tmp_path / "ds", {"P": {"videos": ["videos/P_0.mp4"], "tracklets": [{}]}}, {"P": ["P"]})
    _held(ds, {"videos/H_0.mp4": "H", "videos/K_0.mp4": "K"})
    ref = _reference(tmp_path / "ref", {"P": [P_BOX], "H": [H_BOX], "K": [Q_BOX]})
    assert reference_boxes(ds, ref)["videos/H_0.mp4"] == {t: H_BOX for t in range(10)}
    _tracklet_file(ds, "P", "videos/P_0.mp4", P_BOX)
    _tracklet_file(ds, "H", "videos/H_0.mp4", [0, 0, 5, 5], needs_review=True)  # fails, flagged
    _tracklet_file(ds, "K", "videos/K_0.mp4", Q_BOX, needs_review=True)  # passes, flagged
    d = _qa(ds, ref)
    assert (d["videos"], d["held_back"], d["flagged"], d["missing"]) == (3, 2, 2, [])
    assert (d["pass_rate"], d["flag_recall"], d["failed_videos"]) == (0.6667, 1.0, ["videos/H_0.mp4"])


def test_a_listed_video_without_a_tracklet_file_fails_the_check(tmp_path):
    videos = ["videos/P_0.mp4", "videos/P_1.mp4"]
    ds = _official(tmp_path / "ds", {"P": {"videos": videos, "tracklets": [{}, {}]}})
    ref = _reference(tmp_path / "ref", {"P": [P_BOX, Q_BOX]})
    _tracklet_file(ds, "P", videos[0], P_BOX)  # P_1's build failed: no file
    d = _qa(ds, ref)
    assert (d["videos"], d["pass_rate"], d["failed_videos"]) == (2, 0.5, ["videos/P_1.mp4"])
    assert d["no_tracklet_file"] == ["videos/P_1.mp4"]
    human = CliRunner().invoke(tracklets, ["qa", "--dataset", str(ds), "--reference", str(ref)])
    assert "1 without a tracklet file (counted as failing): videos/P_1.mp4" in human.output


def test_a_reference_that_knows_none_of_the_videos_exits_2(tmp_path, capsys):
    """The finding: a reference of another dataset scored nothing and printed ``0 videos: mean IoU
    0.000, >=50% check passed by 0.0%``, exit 0; now one line names it, exit 2."""
    from tests.mf_cli import run_tracklets

    ds = _official(tmp_path / "ds", {"P": {"videos": ["videos/P_0.mp4"], "tracklets": [{}]}}, {"P": ["P"]})
    ref = _reference(tmp_path / "ref", {"Z": [P_BOX]})
    _tracklet_file(ds, "P", "videos/P_0.mp4", P_BOX)
    code, out, err = run_tracklets(["qa", "--dataset", str(ds), "--reference", str(ref)], capsys)
    assert code == 2 and out == "" and "Traceback" not in err, err
    (line,) = err.strip().splitlines()
    assert line.startswith(
        f"error: {ref}: none of the dataset's 1 video is in this reference (videos/P_0.mp4)"
    )


def test_a_qa_run_builds_no_box_of_the_datasets_split_files(tmp_path, monkeypatch):
    """The dataset's split files give the QA run its video lists only: read once without building
    their boxes (before: parsed whole twice, every box built, by reference_boxes and by the
    scoring's list of videos); the reference's boxes are read whole, as they are scored."""
    import schemas.official as official

    videos = ["videos/P_0.mp4", "videos/P_1.mp4"]
    ds = _official(tmp_path / "ds", {"P": {"videos": videos, "tracklets": [_truth(P_BOX), {}]}})
    ref = _reference(tmp_path / "ref", {"P": [P_BOX, Q_BOX]})
    _tracklet_file(ds, "P", videos[0], P_BOX)
    whole: list[Path] = []
    load = official._load
    monkeypatch.setattr(official, "_load", lambda p: whole.append(Path(p).parent) or load(p))
    d = _qa(ds, ref)
    assert (d["videos"], d["pass_rate"], d["failed_videos"]) == (2, 0.5, ["videos/P_1.mp4"])
    assert ds not in whole and ref in whole
