"""Step ``associations`` takes every contest threshold from the config (``contest_*``), and the
record step hands it the items it left flagged from an earlier run."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import cleaning.steps.associations as assoc_step
from cleaning.associations import AssociationResult
from cleaning.config import CleaningConfig, ShopPickConfig
from cleaning.steps.associations import AssociationsStep
from cleaning.steps.state import CleaningState
from schemas.items import Status
from tests.cleaning.steps.conftest import item


class _Scorer:
    tag = "stand-in"

    def score(self, video_path, shop_path):
        return 1.0


def _run(ctx, monkeypatch, state=None):
    seen = {}

    def fake(catalog, root, scorer, threshold, **kw):
        seen.update(kw, threshold=threshold)
        return AssociationResult()

    monkeypatch.setattr(assoc_step, "run_association_check", fake)
    ctx.scorer = _Scorer()
    AssociationsStep().run(state or CleaningState(), ctx)
    return seen


def test_the_defaults_are_the_former_hard_coded_values():
    cfg = CleaningConfig()
    assert (cfg.contest_object_bits, cfg.contest_colour_tolerance, cfg.contest_copy_tolerance) == (
        8,
        6.0,
        2.0,
    )
    pick = cfg.shop_pick
    assert (pick.sample_frames, pick.plain_border_std, pick.object_share, pick.object_colour_distance) == (
        8,
        12.0,
        (0.05, 0.95),
        40.0,
    )


def test_the_contest_thresholds_come_from_the_config(ctx, monkeypatch):
    ctx.cfg = CleaningConfig.model_validate(
        {
            "contest_object_bits": 3,
            "contest_colour_tolerance": 1.5,
            "contest_copy_tolerance": 4.0,
            "contest_still_tolerance": 7.0,
            "contest_margin": 0.05,
        }
    )
    seen = _run(ctx, monkeypatch)
    assert (seen["max_bits"], seen["colour_tol"], seen["copy_tol"], seen["still_tol"], seen["margin"]) == (
        3,
        1.5,
        4.0,
        7.0,
        0.05,
    )
    meta = ctx.catalog.get_meta("associations")
    assert (
        meta["contest_object_bits"],
        meta["contest_colour_tolerance"],
        meta["contest_copy_tolerance"],
    ) == (
        3,
        1.5,
        4.0,
    )


@pytest.mark.parametrize("distance", [120.0, None], ids=["a-cut", "rule-off"])
def test_the_fabric_colour_cut_comes_from_the_config(ctx, monkeypatch, distance):
    """Rule 3's cut (``fabric_colour_distance``, 160 by default; null switches it off) reaches the
    check and is recorded in the catalog's meta."""
    assert CleaningConfig().fabric_colour_distance == 160.0
    ctx.cfg = CleaningConfig.model_validate({"fabric_colour_distance": distance})
    seen = _run(ctx, monkeypatch)
    assert seen["fabric_distance"] == distance
    assert ctx.catalog.get_meta("associations")["fabric_colour_distance"] == distance


@pytest.mark.parametrize("distance", [30.0, None], ids=["a-cut", "rule-off"])
def test_the_rear_colour_cut_comes_from_the_config(ctx, monkeypatch, distance):
    """Rule 4's cut (``rear_colour_distance``, 50 by default; null switches it off) reaches the
    check and is recorded in the catalog's meta."""
    assert CleaningConfig().rear_colour_distance == 50.0
    ctx.cfg = CleaningConfig.model_validate({"rear_colour_distance": distance})
    seen = _run(ctx, monkeypatch)
    assert seen["rear_distance"] == distance
    assert ctx.catalog.get_meta("associations")["rear_colour_distance"] == distance


@pytest.mark.parametrize("lead", [0.3, None], ids=["a-lead", "colour-off"])
def test_the_contest_coverage_lead_comes_from_the_config(ctx, monkeypatch, lead):
    """Rule 2's colour evidence (``contest_coverage_lead``, 0.5 by default; null switches it off)
    reaches the check with the carousel pick's frame count, and is recorded in the catalog's meta."""
    assert CleaningConfig().contest_coverage_lead == 0.5
    ctx.cfg = CleaningConfig.model_validate(
        {"contest_coverage_lead": lead, "shop_pick": {"sample_frames": 5}}
    )
    seen = _run(ctx, monkeypatch)
    assert (seen["coverage_lead"], seen["coverage_frames"]) == (lead, 5)
    assert ctx.catalog.get_meta("associations")["contest_coverage_lead"] == lead


@pytest.mark.parametrize("on", [True, False], ids=["rule-on", "rule-off"])
def test_the_class_claim_rule_comes_from_the_config(ctx, monkeypatch, on):
    """Rule 5 (``association_class_claim``, off by default) reaches the check and is recorded in
    the catalog's meta."""
    assert CleaningConfig().association_class_claim is False
    ctx.cfg = CleaningConfig.model_validate({"association_class_claim": on})
    seen = _run(ctx, monkeypatch)
    assert seen["class_claim"] is on
    assert ctx.catalog.get_meta("associations")["association_class_claim"] is on


def test_items_held_by_record_are_checked_as_accepted_and_decided_after_the_check(ctx, monkeypatch):
    it = item("held")
    ctx.catalog.upsert_item(it.item, status="needs_review", reason="association: low match score 0.1")
    it.decide(Status.NEEDS_REVIEW, "association: low match score 0.1")
    state = CleaningState(items={it.key: it}, held={it.key: (Status.ACCEPTED, None)})
    seen = _run(ctx, monkeypatch, state)
    assert seen["held"] == frozenset({("tiktok", "held")})
    row = ctx.catalog.get_item("tiktok", "held")
    assert (row.status, row.reason) == (Status.ACCEPTED, None)  # not flagged again
    assert it.status == Status.ACCEPTED


@pytest.mark.parametrize(
    "bad",
    [
        {"contest_object_bits": 65},
        {"contest_copy_tolerance": -1},
        {"fabric_colour_distance": -1},
        {"fabric_colour_distance": 766},
        {"contest_coverage_lead": 1.5},
        {"shop_pick": {"object_share": [0.9, 0.1]}},
        {"shop_pick": {"sample_frames": 0}},
    ],
)
def test_out_of_range_thresholds_are_refused(bad):
    with pytest.raises(ValidationError):
        CleaningConfig.model_validate(bad)


def test_pick_thresholds_are_read_from_yaml_lists():
    cfg = CleaningConfig.model_validate({"shop_pick": {"object_share": [0.1, 0.9], "plain_border_std": 5}})
    assert cfg.shop_pick == ShopPickConfig(object_share=(0.1, 0.9), plain_border_std=5.0)
