"""``mf train --resume`` of a finished run loaded the matcher and the feature bank (about 9.5 s)
before saying there was nothing to train: the run's checkpoint now answers alone, with the
record a full pass returns."""

from __future__ import annotations

import pytest

import movingfashion.models as models_module
from movingfashion.seam import features as features_module
from movingfashion.seam.checkpoint import read_checkpoint
from movingfashion.seam.train import run_phase2, train_phase2
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config
from tests.movingfashion.seam.synthetic import synthetic_bank


def _not_loaded(*args, **kwargs):
    raise AssertionError("a finished run loaded a model or a feature bank")


@pytest.fixture()
def finished(tmp_path, monkeypatch):
    """A 1-epoch run in tmp_path/run (as run_phase2 records its matcher), and the loaders stubbed."""
    bank = synthetic_bank(8, pool=6)
    cfg = tiny_train_config("no_nlb_g", epochs=1, batch_size=4, single_frame_weight=0.0)
    arch = {**TINY, "matcher_path": "embedded default"}
    out = tmp_path / "run"
    train_phase2(bank, tiny_model("no_nlb_g"), arch, cfg, out)
    monkeypatch.setattr(models_module, "load_matcher", _not_loaded)
    monkeypatch.setattr(features_module, "build_bank", _not_loaded)
    return bank, cfg, out


def test_resume_of_a_finished_run_answers_from_the_checkpoint_without_loading_models(finished):
    bank, cfg, out = finished
    (out / "history.jsonl").unlink()  # as a run killed between its two last writes leaves it
    got = run_phase2("dataset", out, cfg, resume=True)
    history = read_checkpoint(out / "last.pt")["extra"]["history"]
    assert got == {
        "checkpoint": str(out / "last.pt"),
        "variant": "no_nlb_g",
        "epochs": 1,
        "epochs_run": 0,
        "history": history,
        "rank": 0,
        "world_size": 1,
        "final_loss": history[-1]["loss"],
        "dataset": "dataset",
        "matcher": "embedded default",
        "matcher_via": "the one OUT/last.pt started from (--resume)",
        "train_videos": len(bank),
        "train_products": len(bank.gallery_ids),
    }
    assert (out / "history.jsonl").is_file()


def test_a_run_with_epochs_left_still_loads_its_matcher(finished):
    _, cfg, out = finished
    longer = cfg.model_copy(update={"epochs": 2})
    with pytest.raises(AssertionError, match="loaded a model"):
        run_phase2("dataset", out, longer, resume=True, extend=True)
