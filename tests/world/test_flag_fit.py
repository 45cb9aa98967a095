"""Fitting the review flags: the greedy rule search on known rows (no world needed)."""

from __future__ import annotations

import json
import random

import pytest

from annotations.config import ReviewConfig
from annotations.flags import FlagRule
from movingfashion.world.flag_fit import (
    CAUSES,
    VideoRow,
    build_config,
    build_world,
    fit_rules,
    flag_decisions,
    flag_figures,
    wilson_interval,
    world_rows,
)
from movingfashion.world.generate import generate_world
from schemas.errors import ConfigError


def _row(i: int, passed: bool, **sig: float) -> VideoRow:
    base = {s: 0.9 for s in ("pivot_shop", "shop_mean", "shop_p20", "coverage", "coverage_detected")}
    base.update(members=20.0, class_agree=1.0, fragments=0.0, shop_lose=0.0, longest_hole=0.0)
    base.update(match_mean=0.8, det_mean=0.7, area_cv=0.1)
    base.update(sig)
    return VideoRow("w", f"v{i}", passed, 0.8 if passed else 0.2, True, base)


def test_fit_finds_the_signals_that_separate_the_failures():
    rnd = random.Random(1)
    rows = [_row(i, True, coverage=rnd.uniform(0.6, 1.0), class_agree=rnd.uniform(0.8, 1)) for i in range(90)]
    rows += [_row(100 + i, False, coverage=rnd.uniform(0.1, 0.4)) for i in range(6)]  # the tracker lost it
    rows += [_row(200 + i, False, class_agree=rnd.uniform(0.1, 0.5)) for i in range(4)]  # another garment
    rows += [VideoRow("w", "none", False, 0.0, False, {})]  # nothing matched the shop: always flagged
    rules = fit_rules(rows, max_rate=0.15, target_recall=0.95)
    assert {(r.signal, r.op) for r in rules} == {("coverage", "lt"), ("class_agree", "lt")}
    fig = flag_figures(rows, ReviewConfig(rules=rules))
    assert fig["flag_recall"] == 1.0 and fig["flagged"] == fig["failing"] == 11 and fig["flag_rate"] <= 0.15
    # a budget too small for a rule leaves it out rather than flagging passing videos
    assert fit_rules(rows, max_rate=0.0) == []
    assert flag_figures(rows, ReviewConfig(rules=[]))["failing_flagged"] == 1


def test_wilson_interval_of_a_small_recall():
    # worked by hand from Wilson's formula (z = 1.96): 6 of 8 -> centre 0.669 +- 0.260
    assert wilson_interval(6, 8) == pytest.approx((0.4093, 0.9285), abs=1e-3)
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.7225, abs=1e-3)
    assert wilson_interval(0, 0) is None
    assert json.dumps(wilson_interval(0, 5)).startswith("[0.0, ")  # was -0.0 in the JSON
    assert wilson_interval(5, 5)[1] == 1.0
    rows = [_row(i, i % 3 > 0) for i in range(9)]  # 3 failing, none flagged by an empty rule list
    assert flag_figures(rows, ReviewConfig(rules=[]))["flag_recall_ci95"] == wilson_interval(0, 3)


def test_a_looser_threshold_on_a_used_signal_replaces_its_rule():
    rnd = random.Random(3)
    rows = [_row(i, True, det_mean=rnd.uniform(0.3, 1.0)) for i in range(80)]
    rows += [_row(100 + i, True, det_mean=0.22 + 0.01 * i) for i in range(4)]  # unsure but fine
    rows += [_row(200 + i, False, det_mean=0.05 + 0.01 * i) for i in range(5)]  # clearly unsure
    rows += [_row(300 + i, False, det_mean=0.27 + 0.005 * i) for i in range(3)]  # just under 0.3
    rules = fit_rules(rows, max_rate=0.15, target_recall=1.0, prior=1.0)
    assert [(r.signal, r.op) for r in rules] == [("det_mean", "lt")]  # one rule, not two on det_mean
    assert 0.28 < rules[0].threshold < 0.3
    assert flag_figures(rows, ReviewConfig(rules=rules))["failing_flagged"] == 8
    # the rule budget counts rules, not steps: with room for one rule the looser threshold still
    # replaces the first, precise one (before, the fit stopped at 5 of 8 with budget to spare)
    (one,) = fit_rules(rows, max_rate=0.15, target_recall=1.0, prior=1.0, max_rules=1)
    assert (one.signal, one.op) == ("det_mean", "lt") and 0.28 < one.threshold < 0.3
    # and no rule on another signal joins once the budget is spent
    rows += [_row(400 + i, False, coverage=0.1) for i in range(3)]  # the tracker lost these
    assert [r.signal for r in fit_rules(rows, max_rate=0.2, target_recall=1.0, prior=1.0, max_rules=1)] == [
        "det_mean"
    ]
    assert {r.signal for r in fit_rules(rows, max_rate=0.2, target_recall=1.0, prior=1.0)} == {
        "det_mean",
        "coverage",
    }


def test_a_rule_a_later_one_covers_is_dropped():
    """Greedy order: coverage first (2 failing, no false flag), then det_mean for the third failing
    video, whose threshold also catches the first two: coverage adds nothing any more and goes."""
    rnd = random.Random(4)
    rows = [_row(i, True, coverage=rnd.uniform(0.6, 1.0), det_mean=rnd.uniform(0.5, 0.9)) for i in range(90)]
    rows += [_row(100 + i, True, coverage=0.8, det_mean=0.05) for i in range(2)]  # unsure but fine
    rows += [_row(200 + i, False, coverage=0.1, det_mean=0.1) for i in range(2)]
    rows += [_row(300, False, coverage=0.8, det_mean=0.1)]
    rules = fit_rules(rows, max_rate=0.15, target_recall=1.0, prior=1.0)
    assert [(r.signal, r.op) for r in rules] == [("det_mean", "lt")]
    assert flag_figures(rows, ReviewConfig(rules=rules))["failing_flagged"] == 3


def test_min_caught_keeps_rules_that_fit_a_single_video_out():
    rnd = random.Random(2)
    rows = [_row(i, True, coverage=rnd.uniform(0.6, 1.0)) for i in range(90)]
    rows += [_row(100 + i, False, coverage=rnd.uniform(0.1, 0.4)) for i in range(5)]
    rows += [_row(200, False, fragments=7.0)]  # one odd failure only this rule would catch
    loose = fit_rules(rows, max_rate=0.15, target_recall=1.0)
    assert ("fragments", "gt") in {(r.signal, r.op) for r in loose}
    broad = fit_rules(rows, max_rate=0.15, target_recall=1.0, min_caught=2, prior=5.0)
    assert [(r.signal, r.op) for r in broad] == [("coverage", "lt")]
    assert flag_figures(rows, ReviewConfig(rules=broad))["failing_flagged"] == 5


#: An unseen small world (24 products, quick, default preset) where the builder fails a video: no
#: weight, flag threshold or tracker setting was chosen on it (the fit used seeds 5101-5110); 9311
#: was the first seed tried. Of the next ones, with the present tracker and rules, 9312 meets the
#: goal too, 9313 flags 3 of its 16 videos (over 15%) and 9314 misses its failing video (the pivot
#: off the item with a sure detector and steady boxes): see the weights card's "review flags". The
#: option pivot_det_weight, left off on the unseen worlds' figures, also failed a second video here.
#: Since the RoI path is the default (embed_source auto) the builder flags 3 of its 16 videos here
#: (18.8%, over the 15% goal; the crop path with its rules flagged 1): the failing one and two
#: passing ones whose detections the detector doubts (mean confidence 0.23 and 0.26), which the
#: earlier crop-path rules flag on these tracklets too. Since det_mean's rule is relative to the
#: dataset (max_share 0.12: its threshold here 0.292 instead of 0.359) it flags 2 of 16 (12.5%).
UNSEEN_SMALL = 9311
#: Videos of UNSEEN_SMALL the defaults flag at most (2 of 16, the goal's 15%; 3 before det_mean's
#: rule was relative to the dataset).
UNSEEN_SMALL_MAX_FLAGGED = 2


def test_rules_relative_to_the_dataset_are_resolved_per_world():
    """Each world is one dataset: det_mean's share rule tightens on the world whose detector is
    less sure of every video, not on the other one, and not over the pooled rows."""
    rnd = random.Random(3)
    low = [_row(i, True, det_mean=rnd.uniform(0.25, 0.5)) for i in range(40)]
    high = [_row(100 + i, True, det_mean=rnd.uniform(0.3, 0.95)) for i in range(40)]
    for r in low:
        r.world = "low"
    review = ReviewConfig(rules=[ReviewConfig().rules[1]])  # det_mean < 0.3587, max_share 0.12, floor 0.2
    absolute = ReviewConfig(rules=[review.rules[0].model_copy(update={"max_share": None, "floor": None})])
    fig_low, fig_high = flag_figures(low, review), flag_figures(high, review)
    assert flag_figures(low, absolute)["flag_rate"] > 0.3  # the absolute threshold flags a third
    assert fig_low["flag_rate"] <= 0.15  # about max_share of the world
    assert fig_high["flagged"] == flag_figures(high, absolute)["flagged"] > 0  # already stricter there
    pooled = flag_figures(low + high, review)
    assert pooled["flagged"] == fig_low["flagged"] + fig_high["flagged"]


@pytest.mark.slow
def test_flags_catch_the_failing_videos_of_an_unseen_small_world(tmp_path):
    """Built at stride 2 with the embedded weights and scored against the world's truth (also by
    `mf world score tracklets`): every video failing the >= 50% check is flagged, at most
    UNSEEN_SMALL_MAX_FLAGGED of the 16 videos are (the goal, 15%, allows 2), and each failure is put down to the detector, the pivot or the propagation."""
    from click.testing import CliRunner

    from movingfashion.world.cli import world

    w = tmp_path / "w"
    generate_world(w, 24, UNSEEN_SMALL, quick=True, workers=1)
    ds = build_world(w, tmp_path / "work")
    rows = world_rows(w, tmp_path / "work")
    review = ReviewConfig()
    failing = [r for r in rows if not r.passed]
    assert failing, "the world was chosen for its failing videos"
    assert {r.cause for r in failing} <= set(CAUSES)
    fig = flag_figures(rows, review)
    assert fig["flagged"] <= UNSEEN_SMALL_MAX_FLAGGED, fig
    flags = flag_decisions(rows, review)
    assert [r.video for r, f in zip(rows, flags, strict=True) if not r.passed and not f] == []
    res = CliRunner().invoke(world, ["score", "tracklets", "--dataset", str(ds), "--world", str(w), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["videos"] == fig["videos"] > 10 and d["flagged"] == fig["flagged"]
    assert d["flag_rate"] == pytest.approx(fig["flag_rate"], abs=1e-3)
    assert d["flag_recall"] == fig["flag_recall"] == 1.0
    assert set(d["failed_unflagged"]) == set()


def test_detection_cache_is_keyed_by_path_and_weights(tmp_path, monkeypatch):
    """flag_fit's detection cache: one file per matching path, recomputed (not reused) when the
    weights or detector settings that made it differ from the builder's."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    from annotations.builder import TrackletBuilder
    from annotations.config import BuildConfig
    from annotations.tracking import VideoDetections
    from movingfashion.world.flag_fit import cache_file, cached_builder

    calls: list[str] = []

    def fake_detect(self, src, timings, keep=None):
        calls.append(self.embed_source)
        d = VideoDetections(
            frames=np.array([0, 2], np.int64),
            boxes=np.array([[0, 0, 4, 4], [1, 1, 5, 5]], np.float32),
            scores=np.array([0.9, 0.8], np.float32),
            classes=np.array([1, 1], np.int64),
            embeddings=torch.zeros((2, self.embed_dim)),
        )
        return d, [0, 2]

    monkeypatch.setattr(TrackletBuilder, "detect_video", fake_detect)
    src = SimpleNamespace(path=tmp_path / "v.mp4")
    cache = tmp_path / "cache"
    crops = cached_builder(cache, BuildConfig(stride=2, embed_source="crops"))
    roi = cached_builder(cache, BuildConfig(stride=2, embed_source="roi"))
    # with the roi file there, the crop path embeds its boxes instead of detecting again
    monkeypatch.setattr(
        type(crops), "_crops_on", lambda self, s, z, t: (calls.append("reuse"), fake_detect(self, s, t))[1]
    )
    for b in (crops, roi, crops, roi):  # second round: both read from their own file
        b.detect_video(src, {})
    assert calls == ["crops", "roi"]
    assert cache_file(cache, "v.mp4", 2, "crops").is_file() and cache_file(cache, "v.mp4", 2, "roi").is_file()
    # a file another matcher's weights made is computed again and replaced
    f = cache_file(cache, "v.mp4", 2, "crops")
    z = dict(np.load(f))
    z["matcher_tag"] = np.asarray("mf-single-frame-matcher/v1:000000000000")
    np.savez(f, **z)
    crops.detect_video(src, {})
    assert calls == ["crops", "roi", "reuse", "crops"] and str(np.load(f)["matcher_tag"]) == crops.matcher_tag
    # other detector settings (another confidence threshold) reuse neither file: detected again
    other = cached_builder(cache, BuildConfig(stride=2, embed_source="crops", detector={"conf": 0.3}))
    other.detect_video(src, {})
    assert calls == ["crops", "roi", "reuse", "crops", "crops"]
    # candidate detector weights (flag_fit --weights) build with their own detector: no file is theirs
    import shutil

    from movingfashion.models.detectors.ultralytics_backend import default_detector_path

    cand = tmp_path / "candidate.pt"
    shutil.copy(default_detector_path(), cand)
    mine = cached_builder(cache, BuildConfig(stride=2, embed_source="crops"), weights=cand)
    assert mine.detector.version.startswith("ultralytics:candidate.pt:")
    mine.detect_video(src, {})
    assert calls[-1] == "crops" and len(calls) == 6


def test_fit_and_eval_run_on_stored_rows_and_report_worlds_over_the_rate(tmp_path, capsys):
    """``--rows-in``: the rows ``--rows-out`` wrote, fitted and evaluated without building a world;
    the report names the worlds whose flag rate is over ``--world-rate``."""
    import dataclasses

    from movingfashion.world.flag_fit import main

    rnd = random.Random(3)
    rows = [_row(i, True, det_mean=rnd.uniform(0.5, 0.9)) for i in range(40)]
    rows += [_row(40 + i, False, det_mean=rnd.uniform(0.05, 0.2)) for i in range(4)]
    rows = [dataclasses.replace(r, world="calm") for r in rows]
    # a second world where the detector doubts a quarter of the passing videos too
    loud = [
        dataclasses.replace(_row(100 + i, True, det_mean=0.1 if i < 5 else 0.8), world="loud")
        for i in range(20)
    ]
    stored = tmp_path / "rows.jsonl"
    stored.write_text("".join(json.dumps(dataclasses.asdict(r)) + "\n" for r in rows + loud))

    assert main(["fit", "--work", str(tmp_path / "w"), "--rows-in", str(stored), "--max-rate", "0.2"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert [r["signal"] for r in fit["rules"]] == ["det_mean"]
    assert fit["pooled"]["videos"] == 64 and fit["pooled"]["failing_flagged"] == 4
    assert fit["worlds_over_rate"] == {"rate": 0.15, "worlds": {"loud": 0.25}}

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": fit["rules"]}))
    argv = ["eval", "--rows-in", str(stored), "--rules", str(rules)]  # no --work: nothing is built
    assert main([*argv, "--world-rate", "0.3"]) == 0
    ev = json.loads(capsys.readouterr().out)
    expect = flag_figures(rows + loud, ReviewConfig(rules=[FlagRule(**r) for r in fit["rules"]]))
    assert ev["pooled"] == json.loads(json.dumps(expect)) and ev["worlds_over_rate"]["worlds"] == {}
    assert ev["signals_missing"] == {}
    main(["eval", "--rows-in", str(stored)])  # the shipped rules; these rows lack two of their signals
    assert json.loads(capsys.readouterr().out)["signals_missing"] == {"class_missed": 64, "extent_outer": 64}

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"world": "w", "video": "v"}\n')
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--work", str(tmp_path / "w"), "--rows-in", str(bad)])
    assert exc.value.code == 2
    assert "bad.jsonl:1: not a flag_fit row" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--work", str(tmp_path / "w")])
    assert "--rows-in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["eval", "--world", "w=24:1:quick"])
    assert "--world needs --work" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["eval", "fit"])
def test_stored_rows_lacking_a_required_signal_are_a_usage_error(tmp_path, capsys, action):
    """Before: a bare KeyError from ReviewConfig.reason; now the file, line and signals are named.
    Rows without a tracklet (or without signals: always flagged) still read."""
    import dataclasses

    from movingfashion.world.flag_fit import main, read_rows

    ok = [_row(0, True), VideoRow("w", "none", False, 0.0, False, {})]
    old = _row(1, False)
    old.signals = {k: v for k, v in old.signals.items() if k not in ("coverage_detected", "members")}
    stored = tmp_path / "rows.jsonl"
    stored.write_text("".join(json.dumps(dataclasses.asdict(r)) + "\n" for r in [*ok, old]))
    with pytest.raises(SystemExit) as exc:
        main([action, "--rows-in", str(stored)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    assert f"{stored}:3: the signals of v1 lack members, coverage_detected" in err
    stored.write_text("".join(json.dumps(dataclasses.asdict(r)) + "\n" for r in ok))
    assert read_rows(stored) == ok


def _in(world: str, rows: list[VideoRow]) -> list[VideoRow]:
    import dataclasses

    return [dataclasses.replace(r, world=world) for r in rows]


def test_a_fit_can_keep_rules_in_use_and_add_to_them():
    rnd = random.Random(5)
    rows = [_row(i, True, coverage=rnd.uniform(0.6, 1.0), det_mean=rnd.uniform(0.5, 0.9)) for i in range(90)]
    rows += [_row(100 + i, False, det_mean=0.1) for i in range(3)]  # the kept rule's failures
    rows += [_row(200 + i, False, coverage=0.2) for i in range(3)]  # left for the fit
    kept = FlagRule(signal="det_mean", op="lt", threshold=0.3)
    rules = fit_rules(rows, max_rate=0.15, target_recall=1.0, keep=[kept])
    assert rules[0] == kept and [(r.signal, r.op) for r in rules[1:]] == [("coverage", "lt")]
    assert flag_figures(rows, ReviewConfig(rules=rules))["failing_flagged"] == 6
    # what the kept rule flags counts as flagged: a rule that only repeats it is never added
    only_kept = fit_rules(rows[:93], max_rate=0.15, target_recall=1.0, keep=[kept])
    assert only_kept == [kept]


def test_the_world_cap_keeps_a_rule_from_flooding_one_large_world():
    """det_mean catches the failing videos of 'calm' but would flag a third of 'loud' (40 videos),
    which the pooled budget allows and the per-world cap does not; coverage is the rule left."""
    rnd = random.Random(6)
    calm = [_row(i, True, det_mean=rnd.uniform(0.5, 0.9), coverage=rnd.uniform(0.6, 1)) for i in range(120)]
    calm += [_row(200 + i, False, det_mean=0.05, coverage=0.3 if i < 2 else 0.9) for i in range(4)]
    loud = [_row(300 + i, True, det_mean=0.05 if i < 13 else 0.8, coverage=0.9) for i in range(40)]
    rows = _in("calm", calm) + _in("loud", loud)
    free = fit_rules(rows, max_rate=0.15, target_recall=1.0, min_caught=2)
    assert [(r.signal, r.op) for r in free] == [("det_mean", "lt")]
    capped = fit_rules(rows, max_rate=0.15, target_recall=1.0, min_caught=2, world_rate=0.15)
    assert [(r.signal, r.op) for r in capped] == [("coverage", "lt")]
    assert flag_figures(_in("loud", loud), ReviewConfig(rules=capped))["flagged"] == 0
    # worlds under world_min_videos are not capped
    small = fit_rules(
        rows, max_rate=0.15, target_recall=1.0, min_caught=2, world_rate=0.15, world_min_videos=41
    )
    assert small == free


def test_leave_one_world_out_scores_each_world_with_rules_fitted_without_it(tmp_path, capsys):
    """coverage separates the failures of every world; one failure of 'c' only fragments shows,
    and no other world has one like it: fitted on every world the rules catch it, left out of
    the fit 'c' has no rule for it."""
    import dataclasses

    from movingfashion.world.flag_fit import leave_one_world_out, main

    rnd = random.Random(7)
    rows: list[VideoRow] = []
    for w in ("a", "b", "c"):
        part = [_row(i, True, coverage=rnd.uniform(0.6, 1.0)) for i in range(30)]
        part += [_row(100 + i, False, coverage=rnd.uniform(0.1, 0.4)) for i in range(3)]
        rows += _in(w, part)
    rows += _in("c", [_row(300, False, fragments=9.0)])
    fit = dict(max_rate=0.15, target_recall=1.0, min_caught=1, prior=1.0)
    inside = flag_figures(rows, ReviewConfig(rules=fit_rules(rows, **fit)))
    assert inside["failing_flagged"] == 10
    lowo = leave_one_world_out(rows, **fit)
    assert lowo["pooled"]["videos"] == len(rows) and lowo["pooled"]["failing_flagged"] == 9
    assert [r["signal"] for r in lowo["rules"]["c"]] == ["coverage"]
    assert "fragments" in {r["signal"] for r in lowo["rules"]["a"]}
    with pytest.raises(ValueError, match="at least two worlds"):
        leave_one_world_out(_in("a", rows), **fit)

    stored = tmp_path / "rows.jsonl"
    stored.write_text("".join(json.dumps(dataclasses.asdict(r)) + "\n" for r in rows))
    argv = ["fit", "--rows-in", str(stored), "--min-caught", "1", "--prior", "1", "--target-recall", "1"]
    assert main([*argv, "--max-rate", "0.15", "--lowo"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["leave_one_world_out"]["pooled"]["failing_flagged"] == 9
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps({"rules": [{"signal": "fragments", "op": "gt", "threshold": 5}]}))
    assert main([*argv, "--max-rate", "0.15", "--keep-rules", str(kept)]) == 0
    assert json.loads(capsys.readouterr().out)["rules"][0]["signal"] == "fragments"
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--keep-rules", str(tmp_path / "missing.json")])
    assert exc.value.code == 2 and "--keep-rules" in capsys.readouterr().err


def test_a_video_without_a_tracklet_file_is_listed_not_scored(gt_dataset, tmp_path, monkeypatch, capsys):
    """A world's video whose build failed has no row (the measured figures stay those of the
    built videos) and the report names it under no_tracklet_file."""
    import shutil
    from dataclasses import replace

    from movingfashion.world import flag_fit
    from schemas.official import read_official

    world = tmp_path / "w1"
    world.mkdir()
    ds = flag_fit.world_dataset(tmp_path / "work" / "w1")
    shutil.copytree(gt_dataset, ds)
    gone = sorted(vp for e in read_official(ds / "train.json").values() for vp in e.video_paths)[0]
    (ds / "tracklets" / gone.replace("videos/", "").replace(".mp4", ".json")).unlink()
    assert flag_fit.unbuilt_videos(ds) == [gone]
    monkeypatch.setattr(
        flag_fit, "world_rows", lambda *a, **k: [replace(_row(i, True), world="w1") for i in range(3)]
    )
    out = tmp_path / "eval.json"
    assert (
        flag_fit.main(["eval", "--work", str(tmp_path / "work"), "--world", str(world), "--out", str(out)])
        == 0
    )
    d = json.loads(out.read_text())
    assert d["no_tracklet_file"] == {"w1": [gone]} and d["pooled"]["videos"] == 3
    assert "w1: 3 videos, 1 without a tracklet file left out" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{max_gap: 4, max_gap: 5}", "given twice"),
        (
            "[&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"
            + "".join(
                f", &{c} [" + ", ".join([f"*{p}"] * 10) + "]" for p, c in zip("abcdef", "bcdefg", strict=True)
            )
            + "]",
            "alias",
        ),
        ("[1, 2", "line 1"),
    ],
)
def test_a_set_value_is_read_by_the_toolkits_yaml_loader_naming_the_setting(value, words):
    """``--set KEY=VALUE`` values were read with plain ``yaml.safe_load``: a key given twice kept
    the last one without a word, and a syntax error was PyYAML's own several lines naming no
    setting. Now each is one ConfigError naming ``--set KEY``."""
    with pytest.raises(ConfigError, match=words) as err:
        build_config(settings=[f"tracker={value}"])
    assert err.value.where == "--set tracker"
