"""Fitting the review flags: the greedy rule search on known rows (no world needed)."""

from __future__ import annotations

import random

from annotations.config import ReviewConfig
from movingfashion.world.flag_fit import VideoRow, fit_rules, flag_figures


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
