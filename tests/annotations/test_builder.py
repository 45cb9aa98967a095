"""End to end on the small synthetic world with the embedded default weights.

One build of the whole gt_dataset copy (stride 2) is shared by the module; the acceptance
figures are checked against the world's true item boxes.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from annotations.builder import (
    build_dataset_tracklets,
    in_shard,
    load_splits,
    parse_shard,
    video_jobs,
)
from annotations.cli import tracklets
from annotations.config import BuildConfig, ReviewConfig
from annotations.qa import qa_report, reference_boxes
from annotations.tracklet_files import load_results, read_video_tracklets, tracklet_file
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.errors import ConfigError, DataFormatError
from schemas.geometry import box_iou
from schemas.items import SourceItem, Status
from schemas.official import read_official
from tests.damage import assert_same_tree

STRIDE = 2
#: Issue 6 acceptance targets (mean IoU of the GT tracklets with the true item boxes, share of
#: videos passing the >= 50% check), asserted as they are on this 16-video world (0.852 / 100%
#: when written, with the earlier default class_bonus 0.1 and no member rules; 0.763 / 93.8% with
#: the paper's rule). Unseen worlds: movingfashion/models/weights/README.json.
TARGET_IOU, TARGET_PASS = 0.7, 0.95
FLOOR_IOU, FLOOR_PASS = TARGET_IOU, TARGET_PASS


@pytest.fixture(scope="module")
def built(gt_dataset, tmp_path_factory):
    ds = tmp_path_factory.mktemp("trk") / "dataset"
    shutil.copytree(gt_dataset, ds)
    shutil.rmtree(ds / "tracklets")  # the exported true tracklets must not leak into the build
    # the official JSON's extra keys must survive; old tracklets must be replaced
    data = json.loads((ds / "train.json").read_text())
    pid = next(iter(data))
    data[pid]["my_extra"] = {"keep": 1}
    data[pid]["tracklets"] = [{"0": [0, 0, 1, 1]} for _ in data[pid]["video_paths"]]
    (ds / "train.json").write_text(json.dumps(data))
    rep = build_dataset_tracklets(ds, config=BuildConfig(stride=STRIDE), sheets=True)
    return ds, rep, pid


@pytest.mark.slow
def test_acceptance_iou_and_50pct_check(built, gt_dataset):
    ds, rep, _ = built
    assert rep.failed == [] and rep.processed == rep.videos > 10
    # the reference: the dataset exported from the world's truth (its tracklets are the true boxes)
    qa = qa_report(load_results(ds), reference_boxes(ds, gt_dataset))
    print(
        f"\nGT tracklets vs true item boxes on {qa.videos} videos: mean IoU {qa.mean_iou:.3f}, "
        f">=50% check passed by {qa.pass_rate:.1%}, query mean IoU {qa.query_mean_iou:.3f}; "
        f"{rep.fps:.1f} frames/s"
    )
    assert qa.videos == rep.videos and not qa.missing
    print(
        f"issue targets: mean IoU >= {TARGET_IOU} ({'met' if qa.mean_iou >= TARGET_IOU else 'NOT met'}), "
        f"pass rate >= {TARGET_PASS:.0%} ({'met' if qa.pass_rate >= TARGET_PASS else 'NOT met'})"
    )
    assert qa.mean_iou >= FLOOR_IOU
    assert qa.pass_rate >= FLOOR_PASS
    # the paper's query selection over interpolated inference tracklets (0.765 when written;
    # about half that when inference tracklets kept only the stride's frames)
    assert qa.query_mean_iou >= 0.6


@pytest.mark.slow
def test_outputs_official_and_richer(built):
    ds, rep, pid = built
    splits = {name: read_official(ds / name) for name in ("train.json", "test.json")}
    n = filled = 0
    for split in splits.values():
        for entry in split.values():
            assert len(entry.tracklets) == len(entry.video_paths)
            for vp, trk in zip(entry.video_paths, entry.tracklets, strict=True):
                vt = read_video_tracklets(tracklet_file(ds, vp))
                assert vt.detector and vt.detector.startswith("ultralytics:") and vt.matcher
                n += 1
                if vt.ground_truth is None:  # nothing matched the shop: flagged, empty official tracklet
                    assert vt.needs_review and trk == {}
                    continue
                assert vt.ground_truth == 0 and vt.tracklets[0].mode == "training"
                assert trk == vt.tracklets[0].official() and all(k.isdigit() for k in trk)
                assert {t.mode for t in vt.tracklets[1:]} <= {"inference"}
                # stride 2 + the last frame + interpolation: detections on even frames and the
                # video's last frame only, gaps filled (both modes); the ground-truth tracklet may
                # also have detections on the skipped frames beyond its sampled ends
                for t in vt.tracklets:
                    sampled = [f for f in t.scores if f % STRIDE == 0 or f == vt.frames - 1]
                    skipped = [f for f in t.scores if f not in sampled]
                    if t.mode == "inference":
                        assert skipped == []
                    else:
                        assert all(not min(sampled) < f < max(sampled) for f in skipped), skipped
                filled += sum(1 for t in vt.tracklets[1:] for f in t.boxes if f not in t.scores)
    assert n == rep.videos and filled > 0
    raw = json.loads((ds / "train.json").read_text())
    assert raw[pid]["my_extra"] == {"keep": 1}
    assert raw[pid]["tracklets"][0] != {"0": [0, 0, 1, 1]}
    sheets = list((ds / "tracklets" / "sheets").glob("*.png"))
    assert len(sheets) == rep.videos and all(p.stat().st_size > 1000 for p in sheets)


def test_first_and_last_frames_are_covered(built, gt_dataset):
    """Where the world shows the item on a video's first/last frame, the tracklet has a box there,
    on the item; the last frame is detected although stride 2 never reaches it (odd frame counts).
    A ground-truth tracklet the tracker split (the item's first frames in another tracklet, as on
    one video of this world on an AMD EPYC machine: frames 0-14 and 18-47) misses its end: at most
    one in ten ends may, each named (docs/known_limits.md)."""
    ds, _, _ = built
    truth = reference_boxes(ds, gt_dataset)
    ends = hits = odd = 0
    missed = []
    for vt in load_results(ds):
        gt = vt.tracklets[vt.ground_truth] if vt.ground_truth is not None else None
        true = truth[vt.video]
        odd += (vt.frames - 1) % STRIDE != 0
        if gt is None:
            continue
        for f in (0, vt.frames - 1):
            if f in true:
                ends += 1
                if f not in gt.boxes:
                    missed.append(f"{vt.video} frame {f} (its tracklet: {min(gt.boxes)}..{max(gt.boxes)})")
                    continue
                hits += box_iou(gt.boxes[f], true[f]) >= 0.5
    assert odd > 0 and ends > 10
    print(
        f"\nfirst/last frames with the item visible: {ends}, covered {ends - len(missed)}, on the item {hits}"
    )
    assert len(missed) <= 0.1 * ends, f"no box where the item is visible: {missed}"
    assert hits >= 0.8 * ends


@pytest.mark.slow
def test_an_item_leaving_on_a_skipped_frame_gets_that_frames_box(built, gt_dataset):
    """Where the item leaves the picture (or enters it) mid-video on a frame stride 2 skips, the
    ground-truth tracklet that follows it up to the sampled frame before gets that frame's box, on
    the item: the skipped frames next to the tracklet's ends are detected (``detect_skipped_ends``).
    This world has two such videos (items leaving on frames 31 and 35 of 48)."""
    ds, _, _ = built
    truth = reference_boxes(ds, gt_dataset)
    cases, missed = 0, []
    for vt in load_results(ds):
        gt = vt.tracklets[vt.ground_truth] if vt.ground_truth is not None else None
        true = truth[vt.video]
        if gt is None or not true:
            continue
        for f, step in ((min(true), 1), (max(true), -1)):
            inner = f + step  # the sampled frame next to it, inside the item's frames
            if not 0 < f < vt.frames - 1 or f % STRIDE == 0 or inner not in gt.scores:
                continue
            if box_iou(gt.boxes[inner], true[inner]) < 0.5:
                continue  # the tracklet is not on the item there: nothing to continue
            cases += 1
            if f not in gt.boxes or box_iou(gt.boxes[f], true[f]) < 0.5:
                missed.append(f"{vt.video} frame {f}")
    assert cases >= 1
    assert missed == []


def test_the_published_folder_still_verifies_after_the_build(built):
    """The build refreshes what a published folder says about itself: manifest, tables, Croissant."""
    from movingfashion.archive.verify import verify_dataset

    ds, _, _ = built
    report = verify_dataset(ds)
    assert report.ok, report.table()
    assert report.check("manifest").status == "ok" and report.check("tracklets").checked > 10
    rows = [
        json.loads(x) for s in ("train", "test") for x in (ds / f"boxes/{s}.jsonl").read_text().splitlines()
    ]
    merged = {
        (pid, vp, int(f)): b
        for s in ("train.json", "test.json")
        for pid, e in read_official(ds / s).items()
        for vp, trk in zip(e.video_paths, e.tracklets, strict=True)
        for f, b in trk.items()
    }
    assert {(r["product_id"], r["video_path"], r["frame"]): r["box"] for r in rows} == merged


@pytest.mark.slow
def test_rerun_skips_done_videos(built):
    ds, rep, _ = built
    before = {p.name: p.read_bytes() for p in (ds / "tracklets").glob("*.json")}
    again = build_dataset_tracklets(ds, config=BuildConfig(stride=STRIDE))
    assert again.processed == 0 and again.skipped == rep.videos and again.frames_detected == 0
    assert_same_tree({p.name: p.read_bytes() for p in (ds / "tracklets").glob("*.json")}, before)


def test_shards_partition_the_videos(gt_dataset):
    splits = load_splits(gt_dataset)
    everything = {j.video_path for j in video_jobs(splits)}
    parts = [{j.video_path for j in video_jobs(splits, (i, 3))} for i in range(3)]
    assert set().union(*parts) == everything and sum(map(len, parts)) == len(everything)
    assert parse_shard("1/3") == (1, 3) and in_shard("videos/a.mp4", (0, 1))
    assert parse_shard(None) == (0, 1)  # no --shard: the whole dataset
    # given, it is i/n as written: an empty one (an unset "$SHARD") is no whole-dataset run
    for bad in ("3/3", "x", "1/0", "", " 0/2", "0/2 ", "+0/2", "0_0/2", "00/2", "0/2/1", "\uff10/2"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_an_empty_shard_is_a_usage_error(tmp_path, capsys):
    """``--shard "$SHARD"`` with the variable unset: one line, exit 2, nothing built."""
    for split in ("train", "test"):
        (tmp_path / f"{split}.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        run_main(tracklets, ["build", "--dataset", str(tmp_path), "--shard", "", "--json"])
    out = capsys.readouterr()
    assert exc.value.code == 2 and json.loads(out.out)["ok"] is False  # --json: the error document
    assert out.err.startswith("error: --shard: bad shard ''") and out.err.count("\n") == 1


def _mini_dataset(gt_dataset, dst, n_products=2):
    shutil.copytree(gt_dataset, dst, ignore=shutil.ignore_patterns("tracklets"))
    train = json.loads((dst / "train.json").read_text())
    keep = dict(list(train.items())[:n_products])
    (dst / "train.json").write_text(json.dumps(keep))
    (dst / "test.json").write_text("{}")
    return keep


def test_corrupt_video_reported_and_skipped(gt_dataset, tmp_path):
    ds = tmp_path / "ds"
    keep = _mini_dataset(gt_dataset, ds)
    (bad_pid, bad), (good_pid, good) = list(keep.items())
    (ds / bad["video_paths"][0]).write_bytes(b"\x00\x01 not a video" * 100)
    rep = build_dataset_tracklets(ds, config=BuildConfig(stride=4))
    assert [f["video"] for f in rep.failed] == [bad["video_paths"][0]]
    assert (
        "unreadable" in rep.failed[0]["error"]
        and bad["video_paths"][0].split("/")[-1] in rep.failed[0]["error"]
    )
    assert rep.processed == 1 and tracklet_file(ds, good["video_paths"][0]).is_file()
    out = read_official(ds / "train.json")
    assert out[good_pid].tracklets[0] and out[bad_pid].tracklets == bad["tracklets"]  # untouched
    # the CLI lists it too and exits 1 (some items failed); the good video is not redone
    res = CliRunner().invoke(tracklets, ["build", "--dataset", str(ds), "--stride", "4", "--json"])
    assert res.exit_code == 1, res.output
    report = json.loads(res.stdout)
    assert [f["video"] for f in report["failed"]] == [bad["video_paths"][0]] and report["skipped"] == 1
    res = CliRunner().invoke(tracklets, ["build", "--dataset", str(ds), "--stride", "4"])
    assert res.exit_code == 1 and f"failed: {rep.failed[0]['error']}" in res.stdout
    # a fresh build stores every rule's signal; a file of an older build without one is named
    assert report["flag_signals_missing"] == {} and "no extent_outer signal" not in res.stdout
    done = tracklet_file(ds, good["video_paths"][0])
    old = json.loads(done.read_text())
    del old["signals"]["extent_outer"]
    done.write_text(json.dumps(old))
    res = CliRunner().invoke(tracklets, ["build", "--dataset", str(ds), "--stride", "4"])
    assert "warning: 1 tracklet files have no extent_outer signal" in res.stdout and "--force" in res.stdout


def test_needs_review_catalog_and_review_cli(gt_dataset, tmp_path):
    ds = tmp_path / "ds"
    keep = _mini_dataset(gt_dataset, ds, 1)
    pid = next(iter(keep))
    cat_path = tmp_path / "cat.db"
    with Catalog(cat_path) as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id=pid, url=f"http://x/{pid}")],
            status=Status.ACCEPTED,  # published: the builder's flag holds it
        )
        # cleaned: a class (an accept of an item without one is refused, publish could not use it)
        cat.set_item_state("netaporter", pid, df2_class=11)
    # a shop-score bar nobody reaches: every video needs review
    cfg = BuildConfig(stride=4, review=ReviewConfig(min_shop_score=1.0))
    rep = build_dataset_tracklets(ds, config=cfg, catalog=cat_path)
    assert len(rep.needs_review) == rep.processed == 1
    # settled over the dataset at the end: one video is too few for det_mean's relative threshold
    assert rep.flag_thresholds == {"det_mean <": 0.3587}
    with Catalog(cat_path) as cat:
        row = cat.get_item("netaporter", pid)
        assert row.status == Status.NEEDS_REVIEW and row.reason.startswith("tracklets:")
    runner = CliRunner()
    stem = keep[pid]["video_paths"][0].split("/")[-1][:-4]
    assert runner.invoke(tracklets, ["sheets", "--dataset", str(ds)]).exit_code == 0
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--json"])
    rows = json.loads(res.stdout)["needs_review"]
    assert [r["video"] for r in rows] == [stem] and rows[0]["sheet"].endswith(f"{stem}.png")
    res = runner.invoke(
        tracklets, ["review", "--dataset", str(ds), "--accept", stem, "--catalog", str(cat_path)]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((ds / ".review.jsonl").read_text().splitlines()[-1])["decision"] == "accept"
    with Catalog(cat_path) as cat:
        assert cat.get_item("netaporter", pid).status == Status.ACCEPTED
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--json"])
    assert json.loads(res.stdout)["needs_review"] == []


@pytest.mark.slow
def test_qa_cli(built, gt_dataset):
    ds, rep, _ = built
    res = CliRunner().invoke(
        tracklets, ["qa", "--dataset", str(ds), "--reference", str(gt_dataset), "--json"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["videos"] == rep.videos and d["missing"] == [] and FLOOR_IOU <= d["mean_iou"] <= 1
    # a dataset is its own perfect reference only where its tracklets are the truth
    res = CliRunner().invoke(tracklets, ["qa", "--dataset", str(ds), "--reference", str(ds), "--json"])
    assert json.loads(res.stdout)["pass_rate"] == 1.0
    with pytest.raises(DataFormatError, match="no train.json or test.json"):
        reference_boxes(ds, ds / "tracklets")


@pytest.mark.slow
def test_a_rerun_that_writes_only_sheets_or_settled_flags_keeps_the_manifest(built):
    """Nothing to build, yet files written: the sheets of done videos, tracklet files whose flag
    the settling changed. The manifest takes them in, so `mf verify` still holds."""
    from movingfashion.archive.describe import refresh
    from movingfashion.archive.verify import verify_dataset

    ds, _, _ = built
    lost = sorted((ds / "tracklets" / "sheets").glob("*.png"))[:3]
    for p in lost:
        p.unlink()
    refresh(ds)  # a folder whose manifest lists no sheet of these videos
    assert verify_dataset(ds).ok
    again = build_dataset_tracklets(ds, config=BuildConfig(stride=STRIDE), sheets=True)
    assert again.processed == 0 and all(p.is_file() for p in lost)
    report = verify_dataset(ds)
    assert report.ok, report.table()
    # a tracklet file edited by hand after its sheet was drawn: the sheet is drawn again
    from annotations.sheets import write_sheet

    sheet = lost[0]
    tf = ds / "tracklets" / f"{sheet.stem}.json"
    vt = read_video_tracklets(tf)
    gt = vt.tracklets[vt.ground_truth]
    gt.boxes = {k: [b[0] + 6, b[1], b[2] + 6, b[3]] for k, b in gt.boxes.items()}
    tf.write_text(vt.model_dump_json(indent=1) + "\n")
    refresh(ds)
    again = build_dataset_tracklets(ds, config=BuildConfig(stride=STRIDE), sheets=True)
    fresh = write_sheet(ds, read_video_tracklets(tf), out=ds.parent / "fresh.png")
    assert again.processed == 0 and sheet.read_bytes() == fresh.read_bytes()
    report = verify_dataset(ds)
    assert report.ok, report.table()
    strict = BuildConfig(stride=STRIDE, review=ReviewConfig(min_frames=1000))
    again = build_dataset_tracklets(ds, config=strict)
    assert again.processed == 0 and again.redecided > 0
    report = verify_dataset(ds)
    assert report.ok, report.table()
    assert build_dataset_tracklets(ds, config=BuildConfig(stride=STRIDE)).redecided > 0  # as before
    assert verify_dataset(ds).ok
