"""``--resume`` of phase 2: only the run it continues (settings, architecture, length, training
products, frozen encoder), the learning-rate schedule of an uninterrupted run, the AMP scaler,
``history.jsonl``, and the training record ``mf evaluate`` checks for held-out products."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from movingfashion.seam import train as train_module
from movingfashion.seam.checkpoint import (
    checkpoint_encoder_tag,
    read_checkpoint,
    save_checkpoint,
    train_overlap,
    train_record,
)
from movingfashion.seam.config import ModelConfig
from movingfashion.seam.features import encoder_tag
from movingfashion.seam.model import SeamModel
from movingfashion.seam.train import (
    check_resume_encoder,
    restore_scaler,
    resume_differences,
    resume_matcher_path,
    train_phase2,
)
from schemas.errors import ConfigError, ModelError
from tests.movingfashion.seam.conftest import TINY, tiny_config, tiny_model, tiny_train_config


def _run(bank, out, epochs: int = 1, variant: str = "no_nlb", **kw):
    cfg = tiny_train_config(variant, epochs=epochs, **kw.pop("cfg", {}))
    return train_phase2(bank, tiny_model(variant), TINY, cfg, out, **kw)


def test_resume_refuses_other_settings_and_architecture_naming_them(tmp_path, train_bank):
    _run(train_bank, tmp_path)
    before = read_checkpoint(tmp_path / "last.pt")
    other = tiny_train_config("no_nlb", epochs=1, lr=0.5, frames=5)
    other = other.model_copy(
        update={"model": tiny_config("no_nlb").model_copy(update={"aggregate": "pre_nlb"})}
    )
    with pytest.raises(ConfigError, match="other settings") as exc:
        train_phase2(train_bank, tiny_model("no_nlb"), TINY, other, tmp_path, resume=True)
    text = str(exc.value)
    assert "model.aggregate: 'post_nlb' -> 'pre_nlb'" in text and "lr: 0.05 -> 0.5" in text
    assert "frames: 8 -> 5" in text and "new --out" in text and str(tmp_path / "last.pt") in text
    after = read_checkpoint(tmp_path / "last.pt")  # nothing was trained or rewritten
    assert after["epoch"] == 1 and after["train_config"] == before["train_config"]


def test_resume_takes_changed_operational_settings(tmp_path, train_bank):
    """``on_bad`` and ``save_every`` do not shape what is learnt: a run stopped by a corrupt video
    under ``on_bad=raise`` continues with ``on_bad=skip``."""
    _run(train_bank, tmp_path, epochs=2, cfg={"on_bad": "raise"})
    assert (
        resume_differences(read_checkpoint(tmp_path / "last.pt"), tiny_train_config("no_nlb", epochs=2)) == []
    )
    skip = tiny_train_config("no_nlb", epochs=2, on_bad="skip", save_every=2)
    assert resume_differences(read_checkpoint(tmp_path / "last.pt"), skip) == []


def test_resume_refuses_fewer_epochs_than_done_and_a_new_length_without_extend(tmp_path, train_bank):
    _run(train_bank, tmp_path, epochs=2)
    with pytest.raises(ConfigError, match="holds 2 trained epochs, more than --epochs 1"):
        _run(train_bank, tmp_path, epochs=1, resume=True)
    with pytest.raises(ConfigError, match="started for 2 epochs, not 3.*--extend"):
        _run(train_bank, tmp_path, epochs=3, resume=True)
    assert _run(train_bank, tmp_path, epochs=2, resume=True)["epochs_run"] == 0


def test_an_interrupted_run_resumed_equals_the_uninterrupted_one(tmp_path, train_bank, monkeypatch):
    straight = _run(train_bank, tmp_path / "straight", epochs=3, variant="full")
    real_save = train_module.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(path, model, arch, *, epoch, **kw):
        real_save(path, model, arch, epoch=epoch, **kw)
        if epoch == 1:
            raise Killed

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        _run(train_bank, tmp_path / "cut", epochs=3, variant="full")
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    resumed = _run(train_bank, tmp_path / "cut", epochs=3, variant="full", resume=True)
    assert resumed["epochs_run"] == 2
    a, b = (read_checkpoint(tmp_path / d / "last.pt") for d in ("straight", "cut"))
    assert all(torch.allclose(a["model"][k].float(), b["model"][k].float(), atol=1e-6) for k in a["model"])
    keys = ("loss", "lr_factor_first", "lr_factor", "lrs", "schedule_epochs")
    assert [{k: r[k] for k in keys} for r in resumed["history"]] == [
        {k: pytest.approx(r[k]) if k == "loss" else r[k] for k in keys} for r in straight["history"]
    ]


def test_extend_gives_the_learning_rates_of_an_uninterrupted_longer_run(tmp_path, train_bank):
    _run(train_bank, tmp_path / "short", epochs=2)
    longer = _run(train_bank, tmp_path / "short", epochs=4, resume=True, extend=True)
    straight = _run(train_bank, tmp_path / "straight", epochs=4)
    got, want = longer["history"], straight["history"]
    assert [r["schedule_epochs"] for r in got] == [2, 2, 4, 4]
    for a, b in zip(got[2:], want[2:], strict=True):  # from the resume point on
        assert (a["lr_factor_first"], a["lr_factor"], a["lrs"]) == (
            b["lr_factor_first"],
            b["lr_factor"],
            b["lrs"],
        )
    assert got[1]["lr_factor"] != want[1]["lr_factor"]  # the epochs done keep what they were run with
    ckpt = read_checkpoint(tmp_path / "short" / "last.pt")
    assert ckpt["extra"]["schedule"] == [{"from_epoch": 0, "epochs": 2}, {"from_epoch": 2, "epochs": 4}]
    assert ckpt["train_config"]["epochs"] == 4
    assert set(got[0]["lrs"]) == {"finetune_lr", "lr", "context_lr"}
    # history.jsonl: one line per epoch last.pt holds
    lines = (tmp_path / "short" / "history.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == ckpt["extra"]["history"] and len(lines) == 4


def test_resume_refuses_other_training_products(tmp_path, train_bank):
    _run(train_bank, tmp_path)
    with pytest.raises(ConfigError, match="other products"):
        _run(train_bank.subset(list(range(40))), tmp_path, resume=True)


def test_the_checkpoint_records_its_training_products_and_the_overlap_is_counted(tmp_path, train_bank):
    _run(train_bank, tmp_path, train_data=train_record(tmp_path / "data", train_bank.product_ids))
    rec = read_checkpoint(tmp_path / "last.pt")["train_data"]
    assert rec["products"] == sorted(set(train_bank.product_ids)) and rec["count"] == 64
    assert rec["dataset"] == str((tmp_path / "data").resolve())
    got = train_overlap(rec, ["p00001", "p00002", "unseen"])
    assert (got["recorded"], got["overlap"], got["test_products"]) == (True, 2, 3)
    assert train_overlap({}, ["a"]) == {"recorded": False, "test_products": 1}


def test_the_amp_scaler_state_is_saved_and_restored(tmp_path):
    model = tiny_model()
    scaler = torch.amp.GradScaler("cpu", enabled=True, init_scale=512.0)
    save_checkpoint(tmp_path / "a.pt", model, TINY, epoch=1, scaler=scaler)
    state = read_checkpoint(tmp_path / "a.pt")["scaler"]
    assert state["scale"] == 512.0
    fresh = torch.amp.GradScaler("cpu", enabled=True)
    assert restore_scaler(fresh, state) and fresh.get_scale() == 512.0
    assert not restore_scaler(torch.amp.GradScaler("cpu", enabled=False), state)  # no AMP: fresh
    off = torch.amp.GradScaler("cpu", enabled=False)
    save_checkpoint(tmp_path / "b.pt", model, TINY, epoch=1, scaler=off)
    assert read_checkpoint(tmp_path / "b.pt")["scaler"] is None


def test_a_resumed_run_reads_the_matcher_it_records_and_refuses_another_encoder(tmp_path):
    (tmp_path / "phase1").mkdir()
    (tmp_path / "phase1" / "matcher.pt").write_bytes(b"appeared after the first run")
    out = tmp_path / "run"
    ckpt = {"arch": {"matcher_path": "embedded default", "encoder_tag": "aaaa"}}
    assert resume_matcher_path(ckpt, None, out) is None  # not OUT/../phase1/matcher.pt
    assert resume_matcher_path(ckpt, tmp_path / "m.pt", out) == tmp_path / "m.pt"
    check_resume_encoder(ckpt, {"encoder_tag": "aaaa", "matcher_path": "x"}, out / "last.pt", given=False)
    with pytest.raises(ModelError, match="--matcher m.pt has another frozen encoder") as exc:
        check_resume_encoder(
            ckpt, {"encoder_tag": "bbbb", "matcher_path": "m.pt"}, out / "last.pt", given=True
        )
    assert "embedded default" in str(exc.value) and "new --out" in str(exc.value)


def test_the_encoder_tag_of_an_older_checkpoint_is_computed_from_its_weights(tmp_path):
    torch.manual_seed(0)
    ref = tiny_model()
    model = SeamModel(nn.Conv2d(3, 8, 1), ref.f, ref.m, ModelConfig(**tiny_config().model_dump()))
    save_checkpoint(tmp_path / "old.pt", model, TINY, epoch=1)
    ckpt = read_checkpoint(tmp_path / "old.pt")
    assert "encoder_tag" not in ckpt["arch"]
    assert checkpoint_encoder_tag(ckpt) == encoder_tag(model)
    assert checkpoint_encoder_tag({**ckpt, "arch": {"encoder_tag": "given"}}) == "given"


def test_resume_refuses_a_given_matcher_with_other_heads_on_the_same_encoder(tmp_path):
    """--resume --matcher OTHER: its f and m would be replaced by the run's, so it is refused,
    naming both matchers; the run's own matcher (same tag) or none given is accepted."""
    last = tmp_path / "run" / "last.pt"
    ckpt = {"arch": {"matcher_path": "embedded default", "encoder_tag": "aaaa", "matcher_tag": "m/v1:111"}}
    other = {"encoder_tag": "aaaa", "matcher_path": "other_heads.pt", "matcher_tag": "m/v1:222"}
    with pytest.raises(ModelError, match="--matcher other_heads.pt is another matcher") as exc:
        check_resume_encoder(ckpt, other, last, given=True)
    assert "embedded default" in str(exc.value) and exc.value.where == str(last)
    assert "resume without --matcher" in exc.value.hint
    check_resume_encoder(ckpt, {**other, "matcher_tag": "m/v1:111"}, last, given=True)  # the same matcher
    check_resume_encoder(ckpt, other, last, given=False)  # (not given: the recorded file moved on)


def test_resume_refuses_another_number_of_processes(tmp_path, train_bank, monkeypatch):
    """A 2-process torchrun checkpoint continued on 1 process without a word: the steps per epoch
    and the batch every step sees changed mid-run."""
    _run(train_bank, tmp_path, epochs=2)
    ckpt = torch.load(tmp_path / "last.pt", weights_only=False)
    assert ckpt["extra"]["world_size"] == 1
    ckpt["extra"]["world_size"] = 2  # as a run under torchrun --nproc_per_node 2 writes it
    torch.save(ckpt, tmp_path / "last.pt")
    with pytest.raises(ConfigError, match=r"trained on 2 process\(es\).*not 1") as exc:
        _run(train_bank, tmp_path, epochs=3, resume=True, extend=True)
    assert "--nproc_per_node 2" in str(exc.value)
    del ckpt["extra"]["world_size"]  # a checkpoint written before the number was kept
    torch.save(ckpt, tmp_path / "last.pt")
    assert _run(train_bank, tmp_path, epochs=3, resume=True, extend=True)["epochs_run"] == 1


@pytest.mark.parametrize("found", ["damaged", "asymnet"])
def test_resume_into_a_last_pt_it_cannot_continue_says_what_to_do(tmp_path, found):
    """``mf train --resume`` whose OUT/last.pt is damaged, or an AsymNet run's: the hint said
    "train one with mf train --phase 2" and "matcher files go to --matcher, SEAM checkpoints to
    --checkpoint", neither of which is the way on; the file is left as it was."""
    from movingfashion.seam.train import run_phase2

    last = tmp_path / "last.pt"
    if found == "damaged":
        last.write_bytes(b"\x80\x02 not a whole torch file")
    else:
        torch.save({"kind": "asymnet", "version": 1}, last)
    before = last.read_bytes()
    with pytest.raises(ModelError) as exc:
        run_phase2(tmp_path / "no-dataset", tmp_path, tiny_train_config("full"), resume=True)
    said = {"damaged": "move it away and rerun", "asymnet": "AsymNet run"}[found]
    assert exc.value.where == str(last) and said in str(exc.value), exc.value
    assert last.read_bytes() == before
