"""Time maps between sample sequences: offsets and speed changes."""

from __future__ import annotations

import numpy as np
import pytest

from cleaning.timealign import fit_time_map, speed_grid


def test_speed_grid_starts_at_one_and_stays_in_range():
    g = speed_grid(2.0)
    assert g[0] == 1.0
    assert g.min() >= 0.5 - 1e-9 and g.max() <= 2.0 + 1e-9
    assert np.allclose(np.sort(np.log(g)), -np.sort(np.log(g))[::-1])  # symmetric in log
    assert list(speed_grid(1.0)) == [1.0]


@pytest.mark.parametrize("speed", [0.8, 1.25, 1.5, 0.667])
def test_a_speed_change_and_offset_are_recovered_among_outliers(speed):
    rng = np.random.default_rng(3)
    i = np.arange(60, dtype=float)
    j = np.round(speed * i + 7 + rng.normal(0, 0.3, len(i)))
    # outliers: matches of similar-looking frames elsewhere
    i_all = np.r_[i, rng.integers(0, 60, 25)]
    j_all = np.r_[j, rng.integers(0, 100, 25)]
    tm = fit_time_map(i_all, j_all, speed_grid(2.0))
    assert tm is not None
    assert tm.speed == pytest.approx(speed, rel=0.01)
    assert tm(30) == pytest.approx(speed * 30 + 7, abs=1.0)
    assert tm.support >= 55


def test_speed_one_is_kept_when_the_matches_do_not_tell():
    # three neighbouring matches fit many slopes: the simplest (no speed change) wins
    tm = fit_time_map(np.array([10, 11, 12]), np.array([14, 15, 16]), speed_grid(2.0))
    assert tm is not None and tm.speed == 1.0 and tm.offset == 4.0
    assert fit_time_map(np.array([]), np.array([]), speed_grid(2.0)) is None


def test_speed_grid_with_reverse_adds_the_negated_speeds_after_the_forward_ones():
    g = speed_grid(2.0, reverse=True)
    fwd = speed_grid(2.0)
    assert list(g[: len(fwd)]) == list(fwd) and list(g[len(fwd) :]) == list(-fwd)
    assert g[len(fwd)] == -1.0
    assert list(speed_grid(1.0, reverse=True)) == [1.0, -1.0]


@pytest.mark.parametrize("speed", [-1.0, -1.5, -0.667])
def test_a_time_reversed_copy_is_aligned_with_a_negative_speed(speed):
    """A re-post played backwards (and cut, and sped up): j = speed * i + offset with speed < 0."""
    rng = np.random.default_rng(5)
    i = np.arange(50, dtype=float)
    j = np.round(speed * i + 90 + rng.normal(0, 0.3, len(i)))
    i_all = np.r_[i, rng.integers(0, 50, 20)]
    j_all = np.r_[j, rng.integers(0, 100, 20)]
    tm = fit_time_map(i_all, j_all, speed_grid(2.0, reverse=True))
    assert tm is not None
    assert tm.speed == pytest.approx(speed, rel=0.01)
    assert tm(20) == pytest.approx(speed * 20 + 90, abs=1.0)
    assert tm.support >= 45
    # forward speeds alone find no line through these matches
    fwd = fit_time_map(i_all, j_all, speed_grid(2.0))
    assert fwd is not None and fwd.support < 10


def test_forward_is_kept_when_the_matches_do_not_tell_the_direction():
    # a still scene: every frame matches every frame, both directions fit equally; forward wins
    i, j = np.meshgrid(np.arange(12.0), np.arange(12.0))
    tm = fit_time_map(i.ravel(), j.ravel(), speed_grid(2.0, reverse=True))
    assert tm is not None and tm.speed == 1.0
    # the least-squares refit stays within the grid's speeds of its sign (here -2 .. -1/2)
    tm = fit_time_map(np.arange(30.0), 80 - 0.45 * np.arange(30.0), speed_grid(2.0, reverse=True))
    assert tm is not None and -2.0 <= tm.speed <= -0.5
