"""A video two products list (one social video showing two garments, each a product; the real
test split has 13): each product has its own tracklet file of it, ``<video stem>@<product>.json``,
built with its own shop image, and each split entry gets its own file's ground truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from annotations.builder import TrackletBuilder, build_dataset_tracklets, video_jobs
from annotations.config import BuildConfig
from annotations.tracklet_files import (
    load_splits,
    read_video_tracklets,
    set_official_tracklet,
    shared_videos,
    tracklet_file,
    write_video_tracklets,
)
from movingfashion.archive.verify import verify_dataset
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError

#: the garment each shop image "matches": the fake builder follows its job's shop image
GARMENT = {"imgs/a.jpg": [10.0, 10.0, 50.0, 50.0], "imgs/b.jpg": [100.0, 100.0, 150.0, 150.0]}


def _vt(pid: str, video: str, box: list[float]) -> VideoTracklets:
    t = Tracklet(video=video, boxes={0: box, 1: box}, mode="training")
    return VideoTracklets(
        product_id=pid,
        video=video,
        frames=2,
        width=200,
        height=200,
        tracklets=[t],
        ground_truth=0,
        detector="det1",
        matcher="m1",
    )


class FakeBuilder:
    """A builder whose ground truth is the garment of the job's shop image (no models)."""

    is_done = TrackletBuilder.is_done
    redo_reason = TrackletBuilder.redo_reason

    def __init__(self) -> None:
        self.detector = SimpleNamespace(version="det1")
        self.matcher_tag, self.fallback_tag, self.config = "m1", None, BuildConfig()
        self.settings = self.config.result_settings()
        self.built: list[tuple[str, str, str]] = []

    def process(self, dataset: Path, job, timings):
        self.built.append((job.product_id, job.video_path, job.img_path))
        return _vt(job.product_id, job.video_path, GARMENT[job.img_path]), 2, 2


@pytest.fixture
def shared_ds(tmp_path) -> Path:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "train.json").write_text(
        json.dumps(
            {
                "pa": {"video_paths": ["videos/v1.mp4"], "img_path": "imgs/a.jpg", "source": 1},
                "pb": {
                    "video_paths": ["videos/v1.mp4", "videos/v2.mp4"],
                    "img_path": "imgs/b.jpg",
                    "source": 1,
                },
            }
        )
    )
    (root / "test.json").write_text("{}")
    return root


def test_each_product_gets_its_own_tracklet_file_and_ground_truth(shared_ds):
    fb = FakeBuilder()
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    assert rep.processed == 3 and not rep.failed
    # each product's job of the shared video is matched with that product's shop image
    assert sorted(fb.built) == [
        ("pa", "videos/v1.mp4", "imgs/a.jpg"),
        ("pb", "videos/v1.mp4", "imgs/b.jpg"),
        ("pb", "videos/v2.mp4", "imgs/b.jpg"),
    ]
    files = sorted(p.name for p in (shared_ds / "tracklets").glob("*.json"))
    assert files == ["v1@pa.json", "v1@pb.json", "v2.json"]
    for pid, img in (("pa", "imgs/a.jpg"), ("pb", "imgs/b.jpg")):
        vt = read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", pid), product_id=pid)
        assert vt.ground_truth_tracklet().boxes[0] == GARMENT[img]
    train = json.loads((shared_ds / "train.json").read_text())
    assert train["pa"]["tracklets"][0]["0"] == GARMENT["imgs/a.jpg"]  # pb's before the fix
    assert train["pb"]["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]
    assert train["pb"]["tracklets"][1]["0"] == GARMENT["imgs/b.jpg"]
    # a rerun finds every product's file done
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    assert (rep.processed, rep.skipped) == (0, 3)


def test_an_older_builds_one_file_of_a_shared_video_becomes_its_products_file(shared_ds):
    """The file names its product: it becomes that product's file (what was imported or picked
    in it kept), the other product's file is built; a file naming no product of the video goes."""
    (shared_ds / "tracklets").mkdir()
    old = shared_ds / "tracklets" / "v1.json"  # an older build: one file, the last product's
    kept = _vt("pb", "videos/v1.mp4", GARMENT["imgs/b.jpg"])
    old.write_text(kept.model_dump_json())
    write_video_tracklets(shared_ds, _vt("pb", "videos/v2.mp4", GARMENT["imgs/b.jpg"]))
    # readers of a product's file do not take it for either product
    assert not tracklet_file(shared_ds, "videos/v1.mp4", "pa").is_file()
    fb = FakeBuilder()
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    assert (rep.processed, rep.skipped) == (1, 2)  # pa's file of v1 built; pb's adopted, v2 done
    assert not old.exists()
    assert read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", "pb")) == kept
    train = json.loads((shared_ds / "train.json").read_text())
    assert train["pa"]["tracklets"][0]["0"] == GARMENT["imgs/a.jpg"]
    assert train["pb"]["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]
    # a file naming a product that does not list the video is not adopted
    old.write_text(_vt("zz", "videos/v1.mp4", GARMENT["imgs/b.jpg"]).model_dump_json())
    build_dataset_tracklets(shared_ds, builder=fb)
    assert not old.exists()


def test_the_rule_has_one_home(shared_ds):
    splits = load_splits(shared_ds)
    assert shared_videos(splits) == {"videos/v1.mp4"}
    jobs = {(j.product_id, j.video_path): j for j in video_jobs(splits)}
    assert jobs["pa", "videos/v1.mp4"].key == "v1@pa" and jobs["pb", "videos/v2.mp4"].key == "v2"
    assert tracklet_file(shared_ds, "videos/v1.mp4", "pb").name == "v1@pb.json"  # shared read from the splits
    assert tracklet_file(shared_ds, "videos/v2.mp4", "pb").name == "v2.json"
    assert tracklet_file(shared_ds, "videos/v1.mp4").name == "v1.json"  # no product: the video's
    # a product's file holds that product's tracklets only
    p = tracklet_file(shared_ds, "videos/v1.mp4", "pa")
    p.parent.mkdir(parents=True)
    p.write_text(_vt("pb", "videos/v1.mp4", GARMENT["imgs/b.jpg"]).model_dump_json())
    with pytest.raises(DataFormatError, match="product_id"):
        read_video_tracklets(p)


def test_set_official_tracklet_writes_only_its_products_entry(shared_ds):
    vt = _vt("pa", "videos/v1.mp4", GARMENT["imgs/a.jpg"])
    assert write_video_tracklets(shared_ds, vt).name == "v1@pa.json"
    assert set_official_tracklet(shared_ds, vt) == "train.json"
    train = json.loads((shared_ds / "train.json").read_text())
    assert train["pa"]["tracklets"] == [{"0": GARMENT["imgs/a.jpg"], "1": GARMENT["imgs/a.jpg"]}]
    assert train["pb"].get("tracklets", [{}, {}]) == [{}, {}]  # the other product's entry kept
    assert not tracklet_file(shared_ds, "videos/v1.mp4", "pb").is_file()


def test_verify_takes_per_product_files_and_flags_wrong_ones(gt_dataset, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds)
    train = json.loads((ds / "train.json").read_text())
    pid, other = list(train)[:2]
    vp = train[pid]["video_paths"][0]
    train[other]["video_paths"].append(vp)  # other lists pid's video too
    train[other]["tracklets"].append(train[pid]["tracklets"][0])
    (ds / "train.json").write_text(json.dumps(train))
    old = tracklet_file(ds, vp)
    vt = read_video_tracklets(old)

    def tracklet_breaks() -> list[str]:
        return [b.field + ": " + b.problem for b in verify_dataset(ds).check("tracklets").breaks]

    # the older one file for a video two products list: reported
    assert any(f"tracklets/{old.name}" in b and "list" in b for b in tracklet_breaks())
    old.unlink()
    for p in (pid, other):
        write_video_tracklets(ds, vt.model_copy(update={"product_id": p}), shared=True)
    assert tracklet_breaks() == []
    # a file named for a product that does not list the video
    third = list(train)[2]
    stray = tracklet_file(ds, vp, third, shared=True)
    stray.write_text(vt.model_copy(update={"product_id": third}).model_dump_json())
    (found,) = tracklet_breaks()
    assert stray.name in found and f"product {third}, which does not list" in found


def test_review_queue_and_a_pick_are_per_product(shared_ds, tmp_path):
    from annotations.review.decisions import decide
    from annotations.review.queue import build_queue
    from schemas.catalog import Catalog

    build_dataset_tracklets(shared_ds, builder=FakeBuilder())
    vt = read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", "pa"))
    vt.tracklets.append(Tracklet(video=vt.video, boxes={0: [60.0, 60.0, 90.0, 90.0]}, mode="inference"))
    write_video_tracklets(shared_ds, vt)
    q = build_queue(shared_ds, sample_rate=1.0)
    assert sorted(it.stem for it in q.items) == ["v1@pa", "v1@pb", "v2"]
    assert q.by_stem["v1@pa"].tracklets == 2 and q.by_stem["v1@pb"].tracklets == 1
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        decide(shared_ds, cat, video="videos/v1.mp4", product_id="pa", kind="tracklet", tracklet=1)
    assert read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", "pa")).ground_truth == 1
    assert read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", "pb")).ground_truth == 0
    train = json.loads((shared_ds / "train.json").read_text())
    assert train["pa"]["tracklets"][0] == {"0": [60.0, 60.0, 90.0, 90.0]}
    assert train["pb"]["tracklets"][0]["0"] == GARMENT["imgs/b.jpg"]


def test_qa_checks_each_product_against_its_own_garment(shared_ds, tmp_path):
    from annotations.qa import qa_report, reference_boxes
    from annotations.tracklet_files import load_results

    build_dataset_tracklets(shared_ds, builder=FakeBuilder())
    ref = tmp_path / "ref"
    shutil.copytree(shared_ds, ref)  # its split file holds each product's true boxes now
    truth = reference_boxes(shared_ds, ref)
    a, b = GARMENT["imgs/a.jpg"], GARMENT["imgs/b.jpg"]
    assert truth == {
        "videos/v1.mp4@pa": {0: a, 1: a},
        "videos/v1.mp4@pb": {0: b, 1: b},
        "videos/v2.mp4": {0: b, 1: b},
    }
    rep = qa_report(load_results(shared_ds), truth)
    assert (rep.videos, rep.pass_rate, rep.missing) == (3, 1.0, [])


def test_a_pick_rewriting_a_split_file_does_not_make_every_reader_parse_it_again(shared_ds, monkeypatch):
    """The shared-video set is read once per version of the split files; a rewrite that changes
    only a tracklet (a review pick) keeps it, so a pick does not cost a parse of 15K products."""
    import annotations.tracklet_files as tf
    import schemas.official as official

    reads: list[str] = []  # each parse of a split file: its heads scanned, or read whole
    scan, load = official._scan_heads, official._load
    monkeypatch.setattr(official, "_scan_heads", lambda *a: reads.append("scan") or scan(*a))
    monkeypatch.setattr(official, "_load", lambda p: reads.append(Path(p).name) or load(p))
    assert tf.dataset_shared_videos(shared_ds) == {"videos/v1.mp4"}
    n = len(reads)
    set_official_tracklet(shared_ds, _vt("pa", "videos/v1.mp4", GARMENT["imgs/a.jpg"]))
    assert tracklet_file(shared_ds, "videos/v1.mp4", "pa").name == "v1@pa.json"
    assert len(reads) == n  # not read again
    train = json.loads((shared_ds / "train.json").read_text())
    train["pb"]["video_paths"] = ["videos/v2.mp4"]  # a video list changed: read again
    (shared_ds / "train.json").write_text(json.dumps(train))
    assert tf.dataset_shared_videos(shared_ds) == frozenset() and len(reads) > n


def test_the_review_command_names_each_products_review(shared_ds, tmp_path):
    from click.testing import CliRunner

    from annotations.cli import tracklets
    from schemas.catalog import Catalog
    from schemas.review import review_states

    build_dataset_tracklets(shared_ds, builder=FakeBuilder())
    for pid in ("pa", "pb"):
        vt = read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", pid))
        vt.needs_review, vt.review_reason = True, f"flagged {pid}"
        write_video_tracklets(shared_ds, vt)
    runner = CliRunner()
    res = runner.invoke(tracklets, ["review", "--dataset", str(shared_ds), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["needs_review"]
    assert [(r["video"], r["product_id"], r["reason"]) for r in rows] == [
        ("v1@pa", "pa", "flagged pa"),
        ("v1@pb", "pb", "flagged pb"),
    ]
    # the plain stem is two reviews: refused, naming both
    res = runner.invoke(tracklets, ["review", "--dataset", str(shared_ds), "--accept", "v1"])
    assert isinstance(res.exception, DataFormatError) and "v1@pa, v1@pb" in str(res.exception)
    cat_path = tmp_path / "c.sqlite"
    Catalog(cat_path).close()
    args = ["review", "--dataset", str(shared_ds), "--catalog", str(cat_path)]
    res = runner.invoke(tracklets, [*args, "--reject", "v1@pa", "--accept", "v1@pb"])
    assert res.exit_code == 0, res.output
    with Catalog(cat_path) as cat:
        st = review_states(cat)
    assert st["videos/v1.mp4", "pa"].verdict == "reject" and st["videos/v1.mp4", "pb"].verdict == "accept"
    res = runner.invoke(tracklets, [*args, "--all", "--json"])
    listed = {r["video"]: r["decision"] for r in json.loads(res.output)["needs_review"]}
    assert listed == {"v1@pa": "reject", "v1@pb": "accept"}


def test_the_review_page_keeps_each_products_review_of_a_shared_video(shared_ds, tmp_path):
    from annotations.review.server import ReviewApp

    build_dataset_tracklets(shared_ds, builder=FakeBuilder())
    app = ReviewApp(shared_ds, tmp_path / "c.sqlite", create_catalog=True, sample_rate=1.0)
    try:
        app.decide({"video": "v1@pa", "kind": "reject", "reason": "the other garment"})
        out = app.decide({"video": "v1@pb", "kind": "accept"})
        assert out["state"]["product_id"] == "pb" and out["state"]["verdict"] == "accept"
        items = {(i["video"], i["product_id"]): i["state"] for i in app.queue_json()["items"]}
        assert items["videos/v1.mp4", "pa"]["verdict"] == "reject"
        assert items["videos/v1.mp4", "pb"]["verdict"] == "accept"
        # u on pa's item undoes pa's reject, not pb's later accept
        undone = app.undo({"video": "v1@pa"})
        assert undone["undone"]["product_id"] == "pa" and undone["video"] == "v1@pa"
        items = {(i["video"], i["product_id"]): i["state"] for i in app.queue_json()["items"]}
        assert items["videos/v1.mp4", "pa"] is None and items["videos/v1.mp4", "pb"]["verdict"] == "accept"
    finally:
        app.close()


def _drop_v1_from_pb(root: Path) -> None:
    """A republish after which only pa lists v1 (pb keeps v2)."""
    train = json.loads((root / "train.json").read_text())
    train["pb"]["video_paths"] = ["videos/v2.mp4"]
    train["pb"]["tracklets"] = train["pb"].get("tracklets", [{}, {}])[1:]
    (root / "train.json").write_text(json.dumps(train))


def _manual_boxes(root: Path, pid: str) -> VideoTracklets:
    """A person's boxes (an import) become ``pid``'s ground truth of v1 in its own file."""
    vt = read_video_tracklets(tracklet_file(root, "videos/v1.mp4", pid))
    box = [60.0, 60.0, 90.0, 90.0]
    vt.tracklets.append(Tracklet(video=vt.video, boxes={0: box, 1: box}, mode="manual"))
    vt = vt.model_copy(update={"ground_truth": len(vt.tracklets) - 1})
    write_video_tracklets(root, vt, shared=True)
    return vt


def _tracklet_breaks(root: Path) -> list[str]:
    return [b.field + ": " + b.problem for b in verify_dataset(root).check("tracklets").breaks]


def test_a_video_no_longer_shared_adopts_its_remaining_products_file(shared_ds):
    """pb stops listing v1: pa's ``v1@pa.json`` (a person's boxes in it) becomes ``v1.json`` with
    its build record, pb's file of v1 goes, nothing is built again, and ``mf verify`` passes."""
    fb = FakeBuilder()
    build_dataset_tracklets(shared_ds, builder=fb)
    kept = _manual_boxes(shared_ds, "pa")
    _drop_v1_from_pb(shared_ds)
    assert any("v1@pa.json" in b and "stale" in b for b in _tracklet_breaks(shared_ds))
    sheets = shared_ds / "tracklets" / "sheets"
    sheets.mkdir()
    for name in ("v1@pa.png", "v1@pb.png"):  # each product's contact sheet of v1
        (sheets / name).write_bytes(name.encode())
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    assert (rep.processed, rep.skipped, rep.kept_human) == (0, 2, 0)  # nothing built again
    assert rep.adopted_unshared == 1 and rep.removed_unlisted == ["tracklets/v1@pb.json"]
    (entry,) = rep.adopted_unshared_videos
    assert entry["video"] == "videos/v1.mp4" and entry["kept"] == "v1@pa.json"
    assert entry["file"] == "tracklets/v1.json"
    assert "adopted_unshared" in rep.as_dict()
    tracklets = shared_ds / "tracklets"
    assert sorted(p.name for p in tracklets.glob("*.json")) == ["v1.json", "v2.json"]
    assert sorted(p.name for p in (tracklets / ".build").glob("*.json")) == ["v1.json", "v2.json"]
    assert read_video_tracklets(tracklet_file(shared_ds, "videos/v1.mp4", "pa")) == kept
    assert [(p.name, p.read_bytes()) for p in sheets.iterdir()] == [("v1.png", b"v1@pa.png")]
    train = json.loads((shared_ds / "train.json").read_text())
    assert train["pa"]["tracklets"][0]["0"] == [60.0, 60.0, 90.0, 90.0]  # the person's boxes
    assert _tracklet_breaks(shared_ds) == []
    rep = build_dataset_tracklets(shared_ds, builder=fb)  # a rerun: nothing to do
    assert (rep.processed, rep.skipped, rep.adopted_unshared, rep.removed_unlisted) == (0, 2, 0, [])


def test_a_videos_file_beside_the_product_file_keeps_the_one_with_a_persons_work(shared_ds):
    """Both ``v1.json`` (built by an older toolkit beside the leftover) and ``v1@pa.json``: the one
    a person worked on is kept, else the newer one, and the report says which."""
    import os

    fb = FakeBuilder()
    build_dataset_tracklets(shared_ds, builder=fb)
    kept = _manual_boxes(shared_ds, "pa")
    _drop_v1_from_pb(shared_ds)
    fresh = _vt("pa", "videos/v1.mp4", GARMENT["imgs/a.jpg"])
    plain = write_video_tracklets(shared_ds, fresh, shared=False)  # newer, but built
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    (entry,) = rep.adopted_unshared_videos
    assert entry["kept"] == "v1@pa.json" and "person's work (import)" in entry["why"]
    assert read_video_tracklets(plain) == kept and not (plain.parent / "v1@pa.json").exists()
    assert rep.processed == 0 and _tracklet_breaks(shared_ds) == []
    # neither holds a person's work: the newer build is kept
    own = plain.parent / "v1@pa.json"
    own.write_text(fresh.model_dump_json())
    plain.write_text(fresh.model_copy(update={"frames": 3}).model_dump_json())
    os.utime(own, ns=(plain.stat().st_mtime_ns - 10**9,) * 2)
    rep = build_dataset_tracklets(shared_ds, builder=fb)
    assert [(e["kept"], e["why"]) for e in rep.adopted_unshared_videos] == [("v1.json", "newer build")]
    assert not own.exists() and read_video_tracklets(plain).frames == 3


def test_the_build_summary_names_the_files_of_videos_no_longer_shared():
    from annotations.cli import _adopted_line

    entry = {
        "video": "videos/v1.mp4",
        "file": "tracklets/v1.json",
        "kept": "v1@pa.json",
        "why": "newer build",
    }
    text = _adopted_line(
        {"adopted_unshared_videos": [entry] * 6, "removed_unlisted": ["tracklets/v1@pb.json"]}
    )
    assert "videos/v1.mp4: kept v1@pa.json as tracklets/v1.json (newer build)" in text
    assert "1 more videos no longer shared" in text and "removed 1 tracklet files" in text
    assert _adopted_line({"adopted_unshared_videos": [], "removed_unlisted": []}) == ""
