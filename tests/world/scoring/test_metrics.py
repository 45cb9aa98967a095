"""``prf``: a ratio over nothing (no prediction, no true case) is not measured, so None, with
the counts beside it."""

from __future__ import annotations

import pytest

from movingfashion.world.scoring.cleaning import association_scores
from movingfashion.world.scoring.metrics import prf
from movingfashion.world.truth import WorldTruth


def test_ratios_over_counts():
    assert prf(1, 2, 2) == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "true_positives": 1,
        "predicted": 2,
        "actual": 2,
    }
    s = prf(2, 3, 4)
    assert (s["precision"], s["recall"]) == (0.6667, 0.5)
    assert s["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5), abs=1e-4)
    assert prf(0, 3, 4)["f1"] == 0.0


@pytest.mark.parametrize(
    ("tp", "n_pred", "n_true", "precision", "recall"),
    [(0, 0, 0, None, None), (0, 2, 0, 0.0, None), (0, 0, 3, None, 0.0)],
)
def test_a_zero_denominator_is_not_measured(tp, n_pred, n_true, precision, recall):
    s = prf(tp, n_pred, n_true)
    assert (s["precision"], s["recall"], s["f1"]) == (precision, recall, None)
    assert (s["true_positives"], s["predicted"], s["actual"]) == (tp, n_pred, n_true)


class _Ran:
    """A catalog that says the association check ran."""

    def get_meta(self, key):
        return {"ran": True}


def test_no_planted_wrong_pair_gives_no_association_recall():
    truth = WorldTruth(seed=0, products=[], videos=[])
    quiet = association_scores(_Ran(), truth, wrong_true=set(), wrong_pred=set())
    assert quiet["precision"] is quiet["recall"] is quiet["f1"] is None and quiet["actual"] == 0
    noisy = association_scores(_Ran(), truth, wrong_true=set(), wrong_pred={"A", "B"})
    assert noisy["precision"] == 0.0 and noisy["recall"] is None and noisy["false_flags"] == ["A", "B"]


def test_a_hold_on_a_wrong_pair_no_world_planted_is_listed_not_a_false_flag():
    """A picker hold on a pick of another item's picture (a wrong pair, but not planted) is a
    right hold outside the recall's pairs: listed in ``held_unplanted``; a hold on a right pair
    is a false flag of the mechanism that made it."""
    truth = WorldTruth(seed=0, products=[], videos=[])
    s = association_scores(
        _Ran(), truth, wrong_true={"W"}, wrong_pred={"W"}, held_by_picker={"P", "R"}, unplanted_wrong={"P"}
    )
    assert s["held_unplanted"] == ["P"] and s["false_flags"] == s["false_flags_by"]["picker"] == ["R"]
    assert (s["precision"], s["recall"]) == (0.5, 1.0) and s["caught_by"]["association_check"] == ["W"]
    assert s["association_check"]["precision"] == s["association_check"]["recall"] == 1.0
