"""What a rerun of ``mf-tracklets build`` counts as done: a tracklet file built with the same
weights, settings and inputs (its build record, ``tracklets/.build/``). Other settings, a replaced
video or another shop image build the video again; a file of an older build (no record) stays done;
two videos that would share a tracklet file are refused before any work; a person's choice of
ground truth is not re-decided from the builder's figures of another tracklet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from annotations.builder import TrackletBuilder, build_dataset_tracklets, load_splits, video_jobs
from annotations.config import BuildConfig, ReviewConfig
from annotations.tracklet_files import (
    build_record_file,
    read_build_record,
    read_video_tracklets,
    tracklet_file,
    write_video_tracklets,
)
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError

#: the box of the garment each shop image shows, in every frame of every video
GARMENT = {"imgs/a.jpg": [10.0, 10.0, 50.0, 90.0], "imgs/b.jpg": [60.0, 20.0, 120.0, 80.0]}
#: the other garment in view: a shorter tracklet the builder does not choose
OTHER = [130.0, 10.0, 190.0, 70.0]


class FakeBuilder:
    """A builder without models: the ground truth is the garment of the job's shop image (5
    detections), the other garment a second tracklet (3); the flag decided by the config's rules."""

    is_done = TrackletBuilder.is_done
    redo_reason = TrackletBuilder.redo_reason

    def __init__(self, config: BuildConfig | None = None) -> None:
        self.detector = SimpleNamespace(version="det1")
        self.matcher_tag, self.fallback_tag = "m1", None
        self.config = config or BuildConfig()
        self.settings = self.config.result_settings()
        self.built: list[tuple[str, str]] = []

    def process(self, dataset: Path, job, timings):
        self.built.append((job.product_id, job.img_path))
        box = GARMENT[job.img_path]

        def track(b: list[float], n: int) -> Tracklet:
            return Tracklet(
                video=job.video_path,
                boxes=dict.fromkeys(range(n), b),
                scores=dict.fromkeys(range(n), 0.9),
                match_scores=dict.fromkeys(range(n), 0.9),
                mode="training",
            )

        signals = {"members": 5.0, "coverage_detected": 1.0, "pivot_shop": 0.9}
        reason = self.config.review.reason(signals)
        vt = VideoTracklets(
            product_id=job.product_id,
            video=job.video_path,
            frames=5,
            width=200,
            height=100,
            tracklets=[track(box, 5), track(OTHER, 3)],
            ground_truth=0,
            detector="det1",
            matcher="m1",
            needs_review=reason is not None,
            review_reason=reason,
            signals=signals,
        )
        return vt, 5, 8


def two_product_dataset(root: Path) -> Path:
    """Products pa and pb with one video each (not decoded: :class:`FakeBuilder` reads no frame)."""
    for rel, data in (
        ("videos/pa_0.mp4", b"video a" * 100),
        ("videos/pb_0.mp4", b"video b" * 100),
        ("imgs/a.jpg", b"shop a" * 50),
        ("imgs/b.jpg", b"shop b!" * 50),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "train.json").write_text(
        json.dumps(
            {
                "pa": {"video_paths": ["videos/pa_0.mp4"], "img_path": "imgs/a.jpg", "source": 1},
                "pb": {"video_paths": ["videos/pb_0.mp4"], "img_path": "imgs/b.jpg", "source": 1},
            }
        )
    )
    return root


@pytest.fixture
def ds(tmp_path) -> Path:
    return two_product_dataset(tmp_path / "ds")


def _gt_box(root: Path, pid: str) -> list[float]:
    return json.loads((root / "train.json").read_text())[pid]["tracklets"][0]["0"]


def test_a_rerun_with_nothing_changed_skips_every_video_and_each_file_has_its_record(ds):
    fb = FakeBuilder()
    assert build_dataset_tracklets(ds, builder=fb).processed == 2
    record = read_build_record(tracklet_file(ds, "videos/pa_0.mp4"))
    assert record["settings"]["stride"] == 1 and record["video"]["size"] == 700
    assert record["shop"]["path"] == "imgs/a.jpg" and len(record["shop"]["sha256"]) == 64
    rep = build_dataset_tracklets(ds, builder=fb)
    assert (rep.processed, rep.skipped, rep.rebuilt, rep.unrecorded) == (0, 2, {}, 0)


def test_other_build_settings_build_the_videos_again_but_review_rules_and_batch_do_not(ds):
    build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=2)))
    # what does not change the files: the review rules (settled again from the signals), batch, device
    same = BuildConfig.model_validate(
        {"stride": 2, "review": {"min_frames": 50}, "detector": {"batch": 3, "device": "cpu"}}
    )
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(same))
    assert (rep.processed, rep.skipped) == (0, 2)
    other = BuildConfig.model_validate(
        {"stride": 8, "detector": {"conf": 0.7}, "tracker": {"max_gap": 0}, "extend_ends": False}
    )
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(other))
    assert (rep.processed, rep.skipped) == (2, 0)
    why = "build settings changed (detector.conf, extend_ends, stride, tracker.max_gap)"
    assert rep.rebuilt == {why: 2}
    assert read_build_record(tracklet_file(ds, "videos/pa_0.mp4"))["settings"]["stride"] == 8


def test_a_replaced_video_or_another_shop_image_builds_the_video_again(ds):
    fb = FakeBuilder()
    build_dataset_tracklets(ds, builder=fb)
    assert _gt_box(ds, "pa") == GARMENT["imgs/a.jpg"]
    # pb's video replaced by another clip of the same size; pa's shop image re-picked: b's
    (ds / "videos/pb_0.mp4").write_bytes(b"video c" * 100)
    train = json.loads((ds / "train.json").read_text())
    train["pa"]["img_path"] = "imgs/b.jpg"
    (ds / "train.json").write_text(json.dumps(train))
    fb.built.clear()
    rep = build_dataset_tracklets(ds, builder=fb)
    assert sorted(fb.built) == [("pa", "imgs/b.jpg"), ("pb", "imgs/b.jpg")]
    assert rep.rebuilt == {"shop image changed": 1, "video file changed": 1}
    assert _gt_box(ds, "pa") == GARMENT["imgs/b.jpg"]  # the garment of the new shop image
    # the same bytes under a new mtime (a copy that did not keep it): compared by hash, not redone
    video = ds / "videos/pa_0.mp4"
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 10**9))
    assert build_dataset_tracklets(ds, builder=fb).processed == 0


def test_a_file_of_an_older_build_without_a_record_stays_done_and_is_counted(ds):
    fb = FakeBuilder()
    build_dataset_tracklets(ds, builder=fb)
    for p in (ds / "tracklets" / ".build").glob("*.json"):
        p.unlink()
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(stride=4)))
    assert (rep.processed, rep.skipped, rep.unrecorded) == (0, 2, 2)
    # --force builds them again, with a record
    assert build_dataset_tracklets(ds, builder=fb, force=True).processed == 2
    assert read_build_record(tracklet_file(ds, "videos/pa_0.mp4")) is not None


def test_a_file_whose_signals_lack_one_the_flag_needs_is_built_again(ds):
    fb = FakeBuilder()
    build_dataset_tracklets(ds, builder=fb)
    p = tracklet_file(ds, "videos/pa_0.mp4")
    vt = read_video_tracklets(p)
    del vt.signals["pivot_shop"]
    write_video_tracklets(ds, vt)
    rep = build_dataset_tracklets(ds, builder=fb)  # no KeyError at the end of the build
    assert rep.rebuilt == {"signals incomplete": 1} and "pivot_shop" in read_video_tracklets(p).signals


def test_a_persons_pick_of_ground_truth_keeps_its_flag_when_the_rules_change(ds):
    """The stored signals are those of the tracklet the builder chose: after a pick they say
    nothing of the new ground truth, so settling does not re-decide the flag from them."""
    from annotations.review.decisions import _set_ground_truth

    fb = FakeBuilder()
    build_dataset_tracklets(ds, builder=fb)
    _set_ground_truth(ds, "videos/pa_0.mp4", 1, "pa")  # what a review pick runs: the other garment
    strict = FakeBuilder(BuildConfig(review=ReviewConfig(min_frames=4)))
    rep = build_dataset_tracklets(ds, builder=strict)
    picked = read_video_tracklets(tracklet_file(ds, "videos/pa_0.mp4"))
    # the builder's tracklet had 5 detections: min_frames 4 passes it, but it is not the ground
    # truth any more; the flag stays as the person left it
    assert picked.ground_truth == 1 and not picked.needs_review and picked.review_reason is None
    assert _gt_box(ds, "pa") == OTHER
    rep = build_dataset_tracklets(ds, builder=FakeBuilder(BuildConfig(review=ReviewConfig(min_frames=6))))
    # "too few frames": pb's (5 detections of its ground truth), not pa's (5 of another tracklet)
    assert [r["video"] for r in rep.needs_review] == ["pb_0"]
    assert not read_video_tracklets(tracklet_file(ds, "videos/pa_0.mp4")).needs_review
    assert rep.processed == 0 and rep.decided_by_person == 1


@pytest.mark.parametrize(
    ("a", "b", "clash"),
    [
        ("videos/a/clip.mp4", "videos/b/clip.mp4", "clip"),
        ("videos/clip.mp4", "videos/clip.webm", "clip"),
    ],
)
def test_two_videos_that_would_share_a_tracklet_file_are_refused_before_any_work(ds, a, b, clash):
    train = json.loads((ds / "train.json").read_text())
    for pid, vp in (("pa", a), ("pb", b)):
        (ds / vp).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ds / train[pid]["video_paths"][0], ds / vp)
        train[pid]["video_paths"] = [vp]
    (ds / "train.json").write_text(json.dumps(train))
    fb = FakeBuilder()
    with pytest.raises(
        DataFormatError, match=f"would share one tracklet file, tracklets/{clash}.json"
    ) as err:
        build_dataset_tracklets(ds, builder=fb)
    assert repr(a) in err.value.message and repr(b) in err.value.message and "rename" in str(err.value)
    assert err.value.where == str(ds / "train.json")
    assert fb.built == [] and not (ds / "tracklets").exists()
    # readers of tracklet files refuse it too
    with pytest.raises(DataFormatError, match="would share one tracklet file"):
        tracklet_file(ds, a, "pa")
    with pytest.raises(DataFormatError, match="would share one tracklet file"):
        video_jobs(load_splits(ds))


def test_a_video_whose_stem_names_a_shared_videos_per_product_file_is_refused(ds):
    """x@pa.mp4 (one product's) against x.mp4 listed by pa and pb: both tracklets/x@pa.json."""
    train = json.loads((ds / "train.json").read_text())
    train["pa"]["video_paths"] = ["videos/x.mp4"]
    train["pb"]["video_paths"] = ["videos/x.mp4", "videos/x@pa.mp4"]
    (ds / "train.json").write_text(json.dumps(train))
    with pytest.raises(DataFormatError, match=r"tracklets/x@pa\.json"):
        load_splits(ds)


@pytest.mark.slow
def test_a_real_rerun_at_another_stride_and_conf_detects_again(gt_dataset, tmp_path):
    """With the embedded models: the rebuilt file holds the new stride's detections only, none
    under the new confidence threshold."""
    ds = tmp_path / "ds"
    shutil.copytree(gt_dataset, ds, ignore=shutil.ignore_patterns("tracklets"))
    train = json.loads((ds / "train.json").read_text())
    (ds / "train.json").write_text(json.dumps(dict(list(train.items())[:1])))
    (ds / "test.json").write_text("{}")
    first = build_dataset_tracklets(ds, config=BuildConfig(stride=2))
    assert first.processed == 1
    cfg = BuildConfig.model_validate({"stride": 8, "detector": {"conf": 0.5}})
    rep = build_dataset_tracklets(ds, config=cfg)
    assert rep.processed == 1 and rep.rebuilt == {"build settings changed (detector.conf, stride)": 1}
    (p,) = (ds / "tracklets").glob("*.json")
    vt = read_video_tracklets(p)
    scores = [(f, s) for t in vt.tracklets for f, s in t.scores.items()]
    assert scores
    for t in vt.tracklets:
        sampled = [f for f in t.scores if f % 8 == 0 or f == vt.frames - 1]
        # the ground-truth tracklet may go on onto the frames the stride skipped beyond its ends
        # (detect_skipped_ends): fewer than 8 frames out, never between its sampled frames
        for f in set(t.scores) - set(sampled):
            assert t.mode == "training" and (0 < min(sampled) - f < 8 or 0 < f - max(sampled) < 8), f
    assert min(s for _, s in scores) >= 0.5
    assert build_record_file(p).is_file()
    assert build_dataset_tracklets(ds, config=cfg).skipped == 1


def test_a_rerun_with_nothing_to_build_loads_no_model(ds, monkeypatch, capsys):
    """The first build keeps what its models name the files with; a rerun with nothing due
    decides so from the tracklet files and that, without loading the detector or matcher, and
    reports as a build that loaded them would; once a video is due the models are loaded."""
    import annotations.builder as builder_mod
    from tests.mf_cli import run_tracklets

    loads: list[FakeBuilder] = []

    def fake_load(*args, **kwargs):
        loads.append(FakeBuilder())
        return loads[-1]

    monkeypatch.setattr(builder_mod, "_load_builder", fake_load)
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 0, err
    first = json.loads(out)
    assert first["processed"] == 2 and len(loads) == 1

    def no_load(*args, **kwargs):
        raise AssertionError("models loaded by a rerun with nothing to build")

    monkeypatch.setattr(builder_mod, "_load_builder", no_load)
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 0, err
    again = json.loads(out)
    assert (again["processed"], again["skipped"]) == (0, 2)
    assert again.keys() == first.keys() and (again["detector"], again["matcher"]) == ("det1", "m1")
    # a video due again (its shop image replaced): the models are loaded, and only it is built
    (ds / "imgs/b.jpg").write_bytes(b"another shop image")
    monkeypatch.setattr(builder_mod, "_load_builder", fake_load)
    rep = build_dataset_tracklets(ds)
    assert (rep.processed, rep.skipped, rep.rebuilt) == (1, 1, {"shop image changed": 1})
    assert len(loads) == 2 and loads[-1].built == [("pb", "imgs/b.jpg")]
    # other settings than those the kept identity was loaded with: loaded again
    monkeypatch.setattr(builder_mod, "_load_builder", no_load)
    with pytest.raises(AssertionError, match="models loaded"):
        build_dataset_tracklets(ds, config=BuildConfig(stride=3))


def test_a_rerun_with_nothing_to_build_imports_no_torch(ds, monkeypatch, capsys):
    """``mf-tracklets build`` with every video done answers without importing torch, torchvision,
    ultralytics or OpenCV (they took seconds of a no-op rerun): they load with the models."""
    import annotations.builder as builder_mod
    from tests.mf_cli import run_tracklets

    monkeypatch.setattr(builder_mod, "_load_builder", lambda *args, **kwargs: FakeBuilder())
    code, out, err = run_tracklets(["build", "--dataset", str(ds), "--json"], capsys)
    assert code == 0 and json.loads(out)["processed"] == 2, err
    script = (
        "import json, sys\n"
        "from annotations.cli import main\n"
        f"sys.argv = ['mf-tracklets', 'build', '--dataset', {str(ds)!r}, '--json']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('HEAVY', sorted(m for m in ('torch', 'torchvision', 'ultralytics', 'cv2') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    report, heavy = proc.stdout.rsplit("HEAVY", 1)
    assert (json.loads(report)["processed"], json.loads(report)["skipped"]) == (0, 2), proc.stderr
    assert heavy.strip() == "[]", proc.stdout


def test_a_rerun_draws_no_sheet_again_that_the_last_build_drew(ds, monkeypatch):
    """``--sheets`` redraws a sheet older than its tracklet file (one edited by hand); the build
    writes each sheet before the tracklet file it shows, so the sheet must not read as older than
    that file: before, every video built was drawn again by the next ``--sheets`` run."""
    import annotations.builder as builder_mod
    import annotations.sheets as sheets_mod

    drawn: list[str] = []

    def fake_write_sheet(dataset, vt, n=8, out=None, *, shared=None):  # no frame decoded
        path = (
            Path(out)
            if out is not None
            else sheets_mod.sheet_path(dataset, vt.video, vt.product_id, shared=shared)
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"sheet of " + vt.video.encode())
        drawn.append(vt.video)
        return path

    def slow_disk(path, data, *args, **kwargs):  # the next file is written a clock tick later
        real_write(path, data, *args, **kwargs)
        if Path(path).suffix == ".png":
            time.sleep(0.02)

    real_write = builder_mod.atomic_write_bytes
    monkeypatch.setattr(sheets_mod, "write_sheet", fake_write_sheet)
    monkeypatch.setattr(builder_mod, "atomic_write_bytes", slow_disk)
    fb = FakeBuilder()
    assert build_dataset_tracklets(ds, builder=fb, sheets=True).processed == 2
    assert sorted(drawn) == ["videos/pa_0.mp4", "videos/pb_0.mp4"]
    before = {p.name: p.stat().st_mtime_ns for p in (ds / "tracklets" / "sheets").glob("*.png")}
    assert build_dataset_tracklets(ds, builder=fb, sheets=True).processed == 0
    assert len(drawn) == 2, drawn
    assert {p.name: p.stat().st_mtime_ns for p in (ds / "tracklets" / "sheets").glob("*.png")} == before
