"""Phase-2 training and evaluation on synthetic feature banks (known structure)."""

import dataclasses
import json

import pytest
import torch

from movingfashion.seam.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from movingfashion.seam.config import EvalConfig
from movingfashion.seam.evaluate import evaluate_bank, run_evaluate
from movingfashion.seam.train import train_phase2
from schemas.errors import ModelError
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory, train_bank):
    """One short run per variant (module scope: shared by the tests below)."""
    out = {}
    for variant in ["full", "no_nlb", "no_nlb_g"]:
        run = tmp_path_factory.mktemp(variant)
        summary = train_phase2(train_bank, tiny_model(variant), TINY, tiny_train_config(variant), run)
        out[variant] = (run / "last.pt", summary)
    return out


def test_training_lowers_the_loss_and_writes_a_tagged_checkpoint(trained):
    path, summary = trained["full"]
    losses = [h["loss"] for h in summary["history"]]
    assert losses[-1] < 0.8 * losses[0]
    ckpt = read_checkpoint(path)
    assert ckpt["kind"] == "seam" and ckpt["variant"] == "full" and ckpt["epoch"] == 8
    assert ckpt["optimizer"] is not None and ckpt["train_config"]["frames"] == 8


def test_seam_is_far_above_chance_and_evaluation_is_deterministic(trained, test_bank):
    models = [load_checkpoint(trained[v][0], device="cpu")[0] for v in ["full", "no_nlb", "no_nlb_g"]]
    cfg = EvalConfig(frames=[5, 10, 20], pools=3, pool_size=40)
    res = evaluate_bank(models, test_bank, cfg)
    chance = res["chance"]["top1"]
    assert chance == 1 / 40
    top1 = {m: r["10"]["all"]["top1"] for m, r in res["methods"].items()}
    assert set(top1) == {
        "max_confidence",
        "max_matching",
        "average_distance",
        "seam_no_nlb_g",
        "seam_no_nlb",
        "seam",
        "seam_salient",
    }
    assert top1["seam"] > 6 * chance
    assert res["methods"]["seam"]["10"]["all"]["pools"] == 3
    assert {"regular", "hard", "class:1", "class:2", "class:3"} <= set(res["methods"]["seam"]["10"])
    again = evaluate_bank(
        [load_checkpoint(trained[v][0], device="cpu")[0] for v in ["full", "no_nlb", "no_nlb_g"]],
        test_bank,
        cfg,
    )
    assert json.dumps(res, sort_keys=True) == json.dumps(again, sort_keys=True)
    prof = res["attention"]["seam"]
    assert len(prof["percentiles"]) == 21 and prof["percentiles"][-1] == 100.0
    assert res["qualitative"][0]["top5"] and len(res["qualitative"][0]["frames"]) == 3


def test_resume_continues_from_the_last_epoch(tmp_path, train_bank):
    cfg = tiny_train_config("no_nlb", epochs=2)
    first = train_phase2(train_bank, tiny_model("no_nlb"), TINY, cfg, tmp_path)
    assert first["epochs_run"] == 2
    longer = cfg.model_copy(update={"epochs": 3})
    more = train_phase2(train_bank, tiny_model("no_nlb"), TINY, longer, tmp_path, resume=True, extend=True)
    assert more["epochs_run"] == 1 and [h["epoch"] for h in more["history"]] == [1, 2, 3]
    done = train_phase2(train_bank, tiny_model("no_nlb"), TINY, longer, tmp_path, resume=True)
    assert done["epochs_run"] == 0 and read_checkpoint(tmp_path / "last.pt")["epoch"] == 3


def test_resume_with_another_variant_is_a_clear_error(tmp_path, train_bank):
    train_phase2(train_bank, tiny_model("no_nlb"), TINY, tiny_train_config("no_nlb", epochs=1), tmp_path)
    with pytest.raises(ModelError, match="variant 'no_nlb'.*'full' was asked"):
        train_phase2(
            train_bank, tiny_model("full"), TINY, tiny_train_config("full", epochs=2), tmp_path, resume=True
        )


def test_bad_checkpoints_give_model_errors(tmp_path, trained):
    with pytest.raises(ModelError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(trained["full"][0].read_bytes()[:500])
    with pytest.raises(ModelError, match="corrupt") as e:
        load_checkpoint(corrupt)
    assert str(corrupt) in str(e.value)
    other = tmp_path / "matcher.pt"
    torch.save({"kind": "mf-single-frame-matcher", "state_dict": {}}, other)
    with pytest.raises(ModelError, match="not a SEAM checkpoint"):
        load_checkpoint(other)
    with pytest.raises(ModelError, match="variant 'full'"):
        load_checkpoint(trained["full"][0], variant="no_nlb_g")
    # a checkpoint whose weights do not fit its declared variant
    model = tiny_model("no_nlb_g")
    lying = tmp_path / "lying.pt"
    save_checkpoint(lying, model, TINY, epoch=1)
    ckpt = torch.load(lying, weights_only=False)
    ckpt["variant"] = "full"
    ckpt["model_config"]["variant"] = "full"
    torch.save(ckpt, lying)
    with pytest.raises(ModelError, match="does not fit"):
        load_checkpoint(lying)
    with pytest.raises(ModelError, match="variant"):
        run_evaluate(tmp_path, [trained["no_nlb"][0]], EvalConfig(), variant="full")


def test_a_diverging_run_stops_with_a_clear_error_and_keeps_the_last_finite_epoch(tmp_path, train_bank):
    cfg = tiny_train_config("full", epochs=2)
    train_phase2(train_bank, tiny_model("full"), TINY, cfg, tmp_path)
    before = read_checkpoint(tmp_path / "last.pt")
    blown = dataclasses.replace(train_bank, fmaps=train_bank.fmaps * 1e30)  # features that overflow
    more = cfg.model_copy(update={"epochs": 4})
    with pytest.raises(
        ModelError, match=r"diverged: the loss is not finite at epoch 3, step 1 .*keeps epoch 2"
    ):
        train_phase2(blown, tiny_model("full"), TINY, more, tmp_path, resume=True, extend=True)
    after = read_checkpoint(tmp_path / "last.pt")
    assert after["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in after["model"].values() if v.is_floating_point())
    assert all(torch.equal(after["model"][k], v) for k, v in before["model"].items())
    wild = cfg.model_copy(update={"lr": 1e30, "finetune_lr": 1e30})  # the weights blow up
    with pytest.raises(ModelError, match=r"at epoch 1, step \d+ \(no checkpoint was written\)"):
        train_phase2(train_bank, tiny_model("full"), TINY, wild, tmp_path / "fresh")
    assert not (tmp_path / "fresh" / "last.pt").exists()


def test_evaluation_counts_test_products_the_checkpoint_was_trained_on(tmp_path, test_bank, monkeypatch):
    from torch import nn

    from movingfashion.seam import evaluate as ev
    from movingfashion.seam.checkpoint import train_record

    monkeypatch.setattr(ev, "build_bank", lambda *a, **kw: test_bank)
    model = tiny_model("no_nlb_g")
    model.encoder = nn.Identity()  # evaluate_dataset reads videos through one; the bank is given
    cfg = EvalConfig(frames=[5], main_frames=5, pools=1, pool_size=64, salient=False)
    trained_on = train_record(tmp_path / "train-set", [*test_bank.gallery_ids[:5], "elsewhere"])
    res = ev.evaluate_dataset(tmp_path, [model], cfg, train_data={"new.pt": trained_on, "old.pt": None})
    new, old = res["train_overlap"]["new.pt"], res["train_overlap"]["old.pt"]
    assert (new["overlap"], new["test_products"], new["train_products"]) == (5, 64, 6)
    assert new["train_dataset"] == str((tmp_path / "train-set").resolve()) and not old["recorded"]
    warning, note = ev.overlap_lines(res, "test-set")
    assert warning.startswith(
        "warning: 5 of the 64 test products of test-set were training products of new.pt"
    )
    assert note.startswith("note: old.pt keeps no record of its training products")
