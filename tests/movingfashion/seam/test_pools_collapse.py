"""Pools larger than the gallery collapse to one pool of the whole gallery, and a T longer than
every query tracklet repeats frames: both said, not silent."""

from __future__ import annotations

import logging

import torch

from movingfashion.seam.config import EvalConfig
from movingfashion.seam.evaluate import evaluate_bank
from tests.movingfashion.seam.conftest import tiny_model
from tests.movingfashion.seam.synthetic import synthetic_bank


def _run(caplog, pools: int, pool_size: int) -> tuple[dict, list[str]]:
    bank = synthetic_bank(12, pool=12)
    cfg = EvalConfig(ks=[1], frames=[4], main_frames=4, pools=pools, pool_size=pool_size, attention_frames=4)
    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.evaluate"):
        res = evaluate_bank([tiny_model()], bank, cfg, device=torch.device("cpu"))
    return res, [r.getMessage() for r in caplog.records if r.name == "movingfashion.seam.evaluate"]


def test_pools_larger_than_the_gallery_warn_naming_the_sizes(caplog):
    res, lines = _run(caplog, pools=20, pool_size=800)
    assert res["protocol"]["pools"] == 1
    assert len(lines) == 1
    assert "20 pools of 800" in lines[0] and "gallery holds 12" in lines[0]
    assert "--pool-size" not in lines[0]  # pools of 6 or fewer out of 12 would tell nothing


def test_a_gallery_large_enough_for_pools_gets_the_pool_size_advice(caplog):
    bank = synthetic_bank(24, pool=12)
    cfg = EvalConfig(ks=[1], frames=[4], main_frames=4, pools=20, pool_size=800, attention_frames=4)
    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.evaluate"):
        evaluate_bank([tiny_model()], bank, cfg, device=torch.device("cpu"))
    lines = [r.getMessage() for r in caplog.records if r.name == "movingfashion.seam.evaluate"]
    assert len(lines) == 1 and "--pool-size 12 for pools drawn from it" in lines[0], lines


def test_pools_that_fit_or_one_pool_asked_do_not_warn(caplog):
    assert _run(caplog, pools=3, pool_size=6)[1] == []
    caplog.clear()
    assert _run(caplog, pools=1, pool_size=800)[1] == []


def test_a_t_longer_than_every_query_tracklet_warns_naming_the_longest(caplog):
    """``mf evaluate --frames 500`` on tracklets of at most 48 frames ran with rc 0 and no word:
    every clip was the tracklet's frames repeated."""
    bank = synthetic_bank(12, pool=12)
    bank.frames[:, 6:] = bank.frames[:, 5:6]  # tracklets of 6 frames, the pool padded as build_bank does
    cfg = EvalConfig(ks=[1], frames=[4, 8], main_frames=4, pools=1, pool_size=12, attention_frames=4)
    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.evaluate"):
        evaluate_bank([tiny_model()], bank, cfg, device=torch.device("cpu"))
    lines = [r.getMessage() for r in caplog.records if r.name == "movingfashion.seam.evaluate"]
    assert len(lines) == 1 and lines[0].startswith("T = 8: longer than every query tracklet"), lines
    assert "the longest has 6 frames" in lines[0] and "--frames up to 6" in lines[0]
