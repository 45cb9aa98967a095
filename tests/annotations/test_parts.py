"""QA checks, detector training and CLI plumbing of the tracklet stage (no world needed)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from annotations.cli import pretrain_matcher, tracklets, train_detector
from annotations.qa import average_iou, check_tracklet, select_query
from movingfashion.media.video_source import VideoSource
from movingfashion.models.detectors import DetectorConfig, build_detector
from schemas.dataset import Tracklet
from schemas.errors import MediaError
from tests.movingfashion.helpers import make_df2_black as _df2


def test_query_selection_and_check():
    gt = {0: [0, 0, 10, 10], 1: [0, 0, 10, 10], 2: [0, 0, 10, 10]}
    a = {0: [0, 0, 10, 10]}  # exact but short
    b = {0: [1, 1, 10, 10], 1: [1, 1, 10, 10], 2: [1, 1, 10, 10]}  # IoU 0.81 everywhere
    c = {5: [0, 0, 10, 10]}
    assert select_query([a, b, c], gt) == 1
    assert select_query([], gt) is None
    assert average_iou(a, gt) == pytest.approx(1 / 3)
    # boxes where the ground truth has none count against a candidate, as in mf evaluate's choice
    long = {**gt, **{f: [50, 50, 60, 60] for f in range(10, 16)}}
    assert average_iou(long, gt) == pytest.approx(3 / 9) and select_query([long, b], gt) == 1
    trk = Tracklet(
        video="v",
        boxes={0: [0, 0, 10, 10], 1: [50, 50, 60, 60], 2: [0, 0, 10, 10], 3: [0, 0, 1, 1]},
        scores={0: 0.9, 1: 0.9, 2: 0.9},
    )  # frame 3 interpolated, not a detection
    chk = check_tracklet("v", trk, gt)
    assert chk.detections == 3 and chk.contain_fraction == pytest.approx(2 / 3) and chk.passed
    assert chk.mean_iou == pytest.approx(2 / 3)
    assert not check_tracklet("v", None, gt).passed


def test_unreadable_video_is_media_error(tmp_path):
    p = tmp_path / "bad.mp4"
    p.write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match="unreadable"):
        VideoSource(p)


@pytest.mark.parametrize(
    "cmd,args",
    [
        (tracklets, ["--help"]),
        (tracklets, ["build", "--help"]),
        (tracklets, ["qa", "--help"]),
        (tracklets, ["review", "--help"]),
        (tracklets, ["sheets", "--help"]),
        (train_detector, ["--help"]),
        (pretrain_matcher, ["--help"]),
    ],
)
def test_help_has_example(cmd, args):
    res = CliRunner().invoke(cmd, args)
    assert res.exit_code == 0 and "Example" in res.output


def test_train_detector_smoke(tmp_path):
    """One epoch on a handful of images: the command wires conversion and ultralytics together."""
    _df2(tmp_path / "df2", 2)
    res = CliRunner().invoke(
        train_detector,
        [
            "--df2",
            str(tmp_path / "df2"),
            "--out",
            str(tmp_path / "det"),
            "--epochs",
            "1",
            "--imgsz",
            "64",
            "--batch",
            "2",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    weights = json.loads(res.stdout)["weights"]
    det = build_detector("ultralytics", weights, DetectorConfig(device="cpu"))
    assert det.model.names[7] == "trousers"


@pytest.mark.parametrize(
    ("option", "value"), [("--workers", "2"), ("--gpus-per-worker", "0.5")], ids=["workers", "gpus"]
)
def test_ray_only_options_are_refused_on_a_local_build(tmp_path, option, value):
    """A local build runs one video at a time on this machine: an option only Ray reads is a
    usage error (exit 2), never silently ignored."""
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "train.json").write_text("{}")
    res = CliRunner().invoke(tracklets, ["build", "--dataset", str(tmp_path / "ds"), option, value])
    assert res.exit_code == 2 and option in res.output and "--executor ray" in res.output, res.output


def test_a_failed_line_names_the_video_when_its_error_does_not():
    from annotations.cli import _failure

    lost = {"video": "videos/123_0.mp4", "error": "worker died: ActorDiedError"}
    assert _failure(lost) == "videos/123_0.mp4: worker died: ActorDiedError"
    named = {"video": "videos/123_0.mp4", "error": "/data/ds/videos/123_0.mp4: unreadable"}
    assert _failure(named) == "/data/ds/videos/123_0.mp4: unreadable"


def test_pretrain_matcher_takes_the_init_matchers_crop_size(tmp_path):
    """``--init`` a 64 px matcher with ``--crop-size 32`` failed deep inside ("train_matcher: crops
    are 32px..."), naming neither the file nor the option."""
    from movingfashion.models.matchrcnn import default_matcher_path

    init = default_matcher_path()  # the embedded matcher: 64 px crops
    df2 = tmp_path / "df2"
    df2.mkdir()
    res = CliRunner().invoke(
        pretrain_matcher,
        ["--df2", str(df2), "--out", str(tmp_path / "m.pt"), "--init", str(init), "--crop-size", "32"],
    )
    assert (
        res.exit_code == 2
        and "--crop-size" in res.output
        and str(init) in res.output
        and "64px" in res.output
    )


def test_pretrain_matcher_does_not_replace_a_matcher_without_force(tmp_path, capsys):
    """A second run with the same --out replaced the matcher that tracklets and SEAM runs name
    (audit_gpu G7); ``mf train --phase 1`` already refused."""
    from schemas.cli_support import run_main

    df2, out = tmp_path / "df2", tmp_path / "m.pt"
    df2.mkdir()
    out.write_bytes(b"the matcher tracklets were built with")
    with pytest.raises(SystemExit) as ei:
        run_main(pretrain_matcher, ["--df2", str(df2), "--out", str(out), "--steps", "1"])
    err = capsys.readouterr().err
    assert ei.value.code == 2 and str(out) in err and "--force" in err, err
    assert out.read_bytes() == b"the matcher tracklets were built with"


def test_pretrain_matcher_names_init_when_init_is_no_matcher(tmp_path, capsys):
    """Detector weights given as --init were answered "--matcher takes ..." (audit_gpu G6)."""
    from movingfashion.models.matchrcnn import default_matcher_path
    from schemas.cli_support import run_main

    df2 = tmp_path / "df2"
    df2.mkdir()
    detector = default_matcher_path().with_name("detector.pt")
    with pytest.raises(SystemExit) as ei:
        run_main(
            pretrain_matcher, ["--df2", str(df2), "--out", str(tmp_path / "m.pt"), "--init", str(detector)]
        )
    err = capsys.readouterr().err
    assert (
        ei.value.code == 2
        and "--init takes a single-frame matcher checkpoint" in err
        and "--matcher" not in err
    ), err
