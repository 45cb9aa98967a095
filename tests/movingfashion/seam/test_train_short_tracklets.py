"""``mf train --frames T`` with T longer than every training tracklet trained on repeated frames
without a word; it now warns as ``mf evaluate`` does for its queries (one rule, one wording)."""

from __future__ import annotations

import logging

from movingfashion.seam.train import train_phase2
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config
from tests.movingfashion.seam.synthetic import synthetic_bank


def _warnings(caplog, bank, frames: int, tmp_path) -> list[str]:
    cfg = tiny_train_config("no_nlb_g", epochs=1, batch_size=4, frames=frames, single_frame_weight=0.0)
    with caplog.at_level(logging.WARNING, logger="movingfashion.seam.train"):
        train_phase2(bank, tiny_model("no_nlb_g"), TINY, cfg, tmp_path)
    return [r.getMessage() for r in caplog.records if r.name == "movingfashion.seam.train"]


def test_a_t_longer_than_every_training_tracklet_warns_naming_t_and_the_longest(caplog, tmp_path):
    bank = synthetic_bank(8, pool=12)
    bank.frames[:, 6:] = bank.frames[:, 5:6]  # tracklets of 6 frames, the pool padded as build_bank does
    lines = _warnings(caplog, bank, 12, tmp_path)
    assert len(lines) == 1 and lines[0].startswith("T = 12: longer than every training tracklet"), lines
    assert "the longest has 6 frames" in lines[0] and "--frames up to 6" in lines[0]


def test_a_t_that_fits_the_longest_training_tracklet_does_not_warn(caplog, tmp_path):
    bank = synthetic_bank(8, pool=12)
    bank.frames[1:, 6:] = bank.frames[1:, 5:6]  # one tracklet keeps its 12 frames
    assert _warnings(caplog, bank, 12, tmp_path) == []
