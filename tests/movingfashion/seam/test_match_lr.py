"""The multi-frame match head m~ trains at finetune_lr (the paper) unless TrainConfig.match_lr says
otherwise: 0 keeps it as pretrained (docs/seam.md, the averaging variant and the refit match head)."""

import torch

from movingfashion.seam.train import param_groups, train_phase2
from tests.movingfashion.seam.conftest import TINY, tiny_model, tiny_train_config


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_match_lr_0_trains_f_tilde_but_keeps_m_tilde_as_pretrained(tmp_path, train_bank):
    model = tiny_model("no_nlb_g")
    match, extractor = _state(model.head.match), _state(model.head.extractor)
    train_phase2(train_bank, model, TINY, tiny_train_config("no_nlb_g", epochs=2, match_lr=0.0), tmp_path)
    assert _same(match, _state(model.head.match))
    assert not _same(extractor, _state(model.head.extractor))


def test_by_default_m_tilde_trains_with_f_tilde_and_a_rate_of_its_own_gets_its_group(tmp_path, train_bank):
    model = tiny_model("no_nlb_g")
    match = _state(model.head.match)
    train_phase2(train_bank, model, TINY, tiny_train_config("no_nlb_g", epochs=2), tmp_path)
    assert not _same(match, _state(model.head.match))
    full = tiny_model("full")
    groups = {g["name"]: g for g in param_groups(full, tiny_train_config("full", match_lr=0.003))}
    assert groups["match_lr"]["lr"] == 0.003
    assert {id(p) for p in groups["match_lr"]["params"]} == {id(p) for p in full.head.match.parameters()}
    assert not {id(p) for p in full.head.match.parameters()} & {
        id(p) for p in groups["finetune_lr"]["params"]
    }
