"""`mf-tracklets build`'s summary names the videos it built but did not write because a
`mf publish` meanwhile took them out of the split files (``dropped_unlisted``)."""

from __future__ import annotations

import json

import annotations.builder as builder_mod
from annotations.builder import BuildReport
from tests.mf_cli import run_tracklets

DROPPED = [f"videos/p{i}_0.mp4" for i in range(7)]


def _build(tmp_path, monkeypatch, capsys, dropped: list[str], *extra: str) -> tuple[int, str, str]:
    (tmp_path / "train.json").write_text("{}")
    rep = BuildReport(videos=9, processed=9, dropped_unlisted=list(dropped))
    monkeypatch.setattr(builder_mod, "build_dataset_tracklets", lambda *a, **kw: rep)
    return run_tracklets(["build", "--dataset", str(tmp_path), *extra], capsys)


def test_the_summary_names_the_videos_not_written_for_a_publish_meanwhile(tmp_path, monkeypatch, capsys):
    code, out, err = _build(tmp_path, monkeypatch, capsys, DROPPED)
    assert code == 0, err
    line = next(x for x in out.splitlines() if "not written" in x)
    assert line.strip() == (
        "not written: 7 videos no split file lists any more (a mf publish ran meanwhile): "
        "videos/p0_0.mp4, videos/p1_0.mp4, videos/p2_0.mp4, videos/p3_0.mp4, videos/p4_0.mp4 and 2 more"
    )
    code, out, err = _build(tmp_path, monkeypatch, capsys, DROPPED, "--json")
    assert code == 0 and json.loads(out)["dropped_unlisted"] == DROPPED, err


def test_no_line_when_every_built_video_was_written(tmp_path, monkeypatch, capsys):
    code, out, err = _build(tmp_path, monkeypatch, capsys, [])
    assert code == 0, err
    assert "not written" not in out and "9 videos processed" in out


def test_the_review_flag_threshold_is_said_in_plain_words(tmp_path, monkeypatch, capsys):
    """The summary said `review flag: det_mean < 0.359 on this dataset`: what is flagged, and
    why that number, was left to the reader. Now the line says what flags a video, the
    threshold and where it comes from; --json's flag_thresholds is unchanged."""
    (tmp_path / "train.json").write_text("{}")
    for t, how in ((0.3587, " as is"), (0.3104, ", tightened")):
        rep = BuildReport(videos=9, processed=9, flag_thresholds={"det_mean <": t})
        monkeypatch.setattr(builder_mod, "build_dataset_tracklets", lambda *a, rep=rep, **kw: rep)
        code, out, err = run_tracklets(["build", "--dataset", str(tmp_path)], capsys)
        assert code == 0, err
        (line,) = (x.strip() for x in out.splitlines() if "review flags:" in x)
        assert line == (
            "review flags: a video is flagged for review when the mean detector confidence of the "
            f"tracklet's detections (det_mean) is below {t:.3g}, this dataset's threshold (the rule's "
            f"0.359{how}: relative to the dataset, it flags at most about 12% of its videos, "
            "and always a video below 0.2)"
        )
        code, out, err = run_tracklets(["build", "--dataset", str(tmp_path), "--json"], capsys)
        assert code == 0 and json.loads(out)["flag_thresholds"] == {"det_mean <": t}, err
