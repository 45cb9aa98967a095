"""A review decision of ``mf-tracklets review --accept/--reject`` (``.review.jsonl``, by the stem
of the tracklet file) follows the file when ``mf-tracklets build`` renames it because the
products listing its video changed; and the review command names a shared video's reviews when
the video's stem holds a ``@``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from annotations.builder import build_dataset_tracklets
from annotations.cli import tracklets
from annotations.review.marks import follow_tracklet_names, read_decisions
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.errors import DataFormatError
from schemas.review import REVIEW_LOG, TORN_MARK
from tests.annotations.test_shared_videos import FakeBuilder, _drop_v1_from_pb
from tests.annotations.test_shared_videos import shared_ds as shared_ds  # noqa: F401 - the fixture


def _review(root: Path, *args: str) -> dict:
    res = CliRunner().invoke(tracklets, ["review", "--dataset", str(root), *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output) if "--json" in args else {}


def _listed(root: Path) -> dict[str, str | None]:
    return {r["video"]: r["decision"] for r in _review(root, "--all", "--json")["needs_review"]}


def _flag(root: Path, video: str, pid: str) -> None:
    vt = read_video_tracklets(tracklet_file(root, video, pid))
    vt.needs_review, vt.review_reason = True, f"flagged {pid}"
    write_video_tracklets(root, vt)


def test_an_accept_follows_the_file_a_video_no_longer_shared_adopts(shared_ds):  # noqa: F811
    fb = FakeBuilder()
    build_dataset_tracklets(shared_ds, builder=fb)
    _flag(shared_ds, "videos/v1.mp4", "pa")
    _flag(shared_ds, "videos/v1.mp4", "pb")
    _review(shared_ds, "--accept", "v1@pa", "--reject", "v1@pb")
    _drop_v1_from_pb(shared_ds)  # a republish: only pa lists v1 now
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    assert rep.adopted_unshared == 1 and rep.removed_unlisted == ["tracklets/v1@pb.json"]
    assert _listed(shared_ds) == {"v1": "accept"}  # pa's accept of its file, now v1.json
    logged = read_decisions(shared_ds)
    assert logged["v1"]["decision"] == "accept" and logged["v1"]["product_id"] == "pa"
    assert "v1@pa" not in logged
    assert logged["v1@pb"]["decision"] == "reject"  # pb's file of v1 went: its decision stays pb's
    # the accept still counts as the person's work: a forced rebuild keeps the file
    rep = build_dataset_tracklets(shared_ds, builder=fb, force=True)
    assert {"video": "v1", "holds": "review accept", "due": "--force"} in rep.kept_human_videos
    # nothing renamed twice
    before = (shared_ds / REVIEW_LOG).read_bytes()
    build_dataset_tracklets(shared_ds, builder=fb)
    assert (shared_ds / REVIEW_LOG).read_bytes() == before


def test_a_decision_follows_an_older_builds_file_a_shared_video_gives_its_product(shared_ds):  # noqa: F811
    """The mirror: only pb listed v1, its ``v1.json`` was accepted; pa lists v1 too now, and the
    file becomes ``v1@pb.json`` with pb's accept."""
    train = json.loads((shared_ds / "train.json").read_text())
    train["pa"]["video_paths"] = ["videos/v3.mp4"]
    (shared_ds / "train.json").write_text(json.dumps(train))
    fb = FakeBuilder()
    build_dataset_tracklets(shared_ds, builder=fb)
    _flag(shared_ds, "videos/v1.mp4", "pb")
    _review(shared_ds, "--reject", "v1")
    train["pa"]["video_paths"] = ["videos/v1.mp4"]
    (shared_ds / "train.json").write_text(json.dumps(train))
    build_dataset_tracklets(shared_ds, builder=fb)
    assert tracklet_file(shared_ds, "videos/v1.mp4", "pb").name == "v1@pb.json"
    assert read_decisions(shared_ds)["v1@pb"]["decision"] == "reject"
    assert "v1" not in read_decisions(shared_ds)


def test_the_log_rewrite_keeps_lines_that_are_not_records_and_moves_the_older_log(tmp_path):
    older = tmp_path / "review.jsonl"  # an older version's log, read first
    older.write_text(json.dumps({"video": "v1@pa", "product_id": "pa", "decision": "reject"}) + "\n")
    log = tmp_path / REVIEW_LOG
    lines = [
        json.dumps({"video": "v1@pa", "product_id": "pa", "decision": "accept", "at": "x"}),
        "{torn" + TORN_MARK,
        json.dumps({"video": "v2", "product_id": "pb", "decision": "reject"}),
        json.dumps({"video": "v1@pb", "product_id": "pb", "decision": "reject"}),
    ]
    log.write_text("\n".join(lines) + "\n")
    assert follow_tracklet_names(tmp_path, {"videos/v1.mp4": "pa", "videos/v2.mp4": "pb"}) == 2
    assert not older.exists()
    got = log.read_text().splitlines()
    assert [json.loads(x)["video"] for x in (got[0], got[1], got[3], got[4])] == ["v1", "v1", "v2", "v1@pb"]
    assert got[2] == "{torn" + TORN_MARK and json.loads(got[1])["at"] == "x"
    assert read_decisions(tmp_path)["v1"]["decision"] == "accept"  # the latest stays the latest
    assert follow_tracklet_names(tmp_path, {"videos/v1.mp4": "pa"}) == 0  # done already


def test_the_plain_stem_of_a_shared_video_whose_stem_holds_an_at_sign_names_its_reviews(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    entry = {"video_paths": ["videos/a@b.mp4"], "source": 1}
    splits = {"pa": {**entry, "img_path": "imgs/a.jpg"}, "pb": {**entry, "img_path": "imgs/b.jpg"}}
    (root / "train.json").write_text(json.dumps(splits))
    build_dataset_tracklets(root, builder=FakeBuilder())
    assert sorted(p.name for p in (root / "tracklets").glob("*.json")) == ["a@b@pa.json", "a@b@pb.json"]
    res = CliRunner().invoke(tracklets, ["review", "--dataset", str(root), "--accept", "a@b"])
    assert isinstance(res.exception, DataFormatError), res.output
    assert "listed by 2 products" in str(res.exception) and "a@b@pa, a@b@pb" in str(res.exception)
