"""AsymNet (the paper's Table 2 rows): fusion tree, the two training stages, checkpoints, evaluation."""

from __future__ import annotations

import pytest
import torch

from movingfashion.seam.asymnet import AsymNet, AsymNetConfig, load_asymnet, save_asymnet, train_asymnet
from movingfashion.seam.config import EvalConfig
from movingfashion.seam.evaluate import evaluate_bank
from schemas.errors import ModelError
from tests.movingfashion.seam.conftest import TINY, tiny_model

SMALL = dict(hidden=16, layers=2, snn_hidden=16, levels=4, frames=6, batch_size=16)


def _tiny_asymnet(**kw) -> AsymNet:
    """An AsymNet on a tiny f whose batch-norm statistics are set from the synthetic frames, as a
    pretrained f's would be (an untrained f in eval mode gives near-constant descriptors)."""
    from tests.movingfashion.seam.synthetic import synthetic_bank

    torch.manual_seed(0)
    base = tiny_model("no_nlb_g")
    base.f.bn.momentum = None  # cumulative average
    base.f.train()
    with torch.no_grad():
        base.f(synthetic_bank(64, pool=16, channels=8, seed=1).fmaps.flatten(0, 1).float())
    return AsymNet(None, base.f, AsymNetConfig(**{**SMALL, **kw}))


def test_tree_starts_as_the_mean_and_weighs_children_by_their_gates():
    net = _tiny_asymnet()
    y = torch.tensor([[0.1, 0.9, 0.5, 0.3, 0.7]])  # odd: the last node is paired with itself
    feats = torch.randn(1, 5, 16)
    # zero gates: every node averages its two children
    want = ((0.1 + 0.9) / 2 + (0.5 + 0.3) / 2) / 2 / 2 + ((0.7 + 0.7) / 2) / 2
    assert net.tree(y, feats).item() == pytest.approx(want, abs=1e-6)
    with torch.no_grad():  # a gate that loves large first features picks that child
        net.gates[0].weight.zero_()
        net.gates[0].weight[0, 0] = 100.0
    feats = torch.zeros(1, 2, 16)
    feats[0, 1, 0] = 1.0
    assert net.tree(torch.tensor([[0.2, 0.8]]), feats).item() == pytest.approx(0.8, abs=1e-4)


def test_pair_scores_give_the_tree_mean_and_max_of_the_similarity_nodes():
    net = _tiny_asymnet().eval()
    x, shops = torch.randn(3, 6, 32), torch.randn(4, 32)
    out = net.pair_scores(x, shops)
    z, _ = net.snn(net.hidden_states(x)[:, None], shops[None, :, None, :])
    y = torch.sigmoid(z)
    assert out["avg"].shape == (3, 4) and torch.allclose(out["avg"], y.mean(-1))
    assert torch.allclose(out["max"], y.max(-1).values)
    assert ((out["tree"] >= y.min(-1).values - 1e-6) & (out["tree"] <= y.max(-1).values + 1e-6)).all()
    mats = net.score_matrices(x, shops, chunk=2)
    assert set(mats) == {"asymnet", "asymnet_avg", "asymnet_max"} and torch.allclose(
        mats["asymnet"], out["tree"]
    )


def test_two_stage_training_fits_the_train_set_and_only_its_part_moves(train_bank):
    net = _tiny_asymnet(snn_epochs=40, fusion_epochs=3, lr=0.01)
    frozen = {k: v.clone() for k, v in net.f.state_dict().items()}
    desc = torch.stack([net.describe(train_bank.fmaps[i]) for i in range(len(train_bank))])
    shops = net.describe(train_bank.shop_fmaps)
    snn_before = net.fc1.weight.clone()
    history = train_asymnet(net, desc, shops, train_bank.targets)
    assert [h["stage"] for h in history] == ["snn"] * 40 + ["fusion"] * 3
    snn = [h["loss"] for h in history if h["stage"] == "snn"]
    assert snn[-1] < 0.9 * snn[0]
    assert not torch.equal(net.fc1.weight, snn_before)
    assert any(g.weight.abs().sum() > 0 for g in net.gates)  # stage 2 moved the fusion nodes
    assert all(torch.equal(v, net.f.state_dict()[k]) for k, v in frozen.items())  # f stays frozen
    net.eval()
    mats = net.score_matrices(desc[:, :6], shops)
    top1 = (mats["asymnet"].argmax(1) == train_bank.targets).float().mean()
    assert top1 > 10 / len(train_bank.gallery_ids)


def test_checkpoint_round_trip_and_evaluation_rows(tmp_path, train_bank, test_bank):
    net = _tiny_asymnet(snn_epochs=2, fusion_epochs=1)
    desc = torch.stack([net.describe(train_bank.fmaps[i]) for i in range(len(train_bank))])
    history = train_asymnet(net, desc, net.describe(train_bank.shop_fmaps), train_bank.targets)
    save_asymnet(tmp_path / "a.pt", net, TINY, history)
    again, ckpt = load_asymnet(tmp_path / "a.pt", device="cpu")
    assert ckpt["kind"] == "asymnet" and len(ckpt["extra"]["history"]) == 3
    assert all(
        torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True)
    )
    res = evaluate_bank(
        [tiny_model("no_nlb_g").eval()],
        test_bank,
        EvalConfig(frames=[5, 10], pools=2, pool_size=30),
        asymnets=[again],
    )
    assert {"asymnet", "asymnet_avg", "asymnet_max"} <= set(res["methods"])
    assert list(res["names"]).index("asymnet") < list(res["names"]).index("average_distance")  # paper order
    assert len(res["per_query"]["asymnet"]["top1"]) == len(test_bank)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nope")
    with pytest.raises(ModelError, match="cannot read"):
        load_asymnet(bad)


def _run_tiny_asymnet(
    tmp_path, monkeypatch, train_bank, seed: int, name: str, **run_kw
) -> dict[str, torch.Tensor]:
    """``run_asymnet`` on a tiny f and the synthetic train bank (matcher and bank loading stubbed);
    the process-wide generator is left in another state each time, as a fresh process would."""
    import types

    import movingfashion.models as models_pkg
    import movingfashion.seam.checkpoint as checkpoint_mod
    import movingfashion.seam.features as features_mod
    from movingfashion.seam.asymnet import run_asymnet

    f = _tiny_asymnet().f
    sf = types.SimpleNamespace(encoder=None, f=f, crop_size=32)
    monkeypatch.setattr(models_pkg, "load_matcher", lambda path, device=None: sf)
    monkeypatch.setattr(checkpoint_mod, "model_from_matcher", lambda sf, cfg: (None, dict(TINY)))
    monkeypatch.setattr(features_mod, "encoder_tag", lambda model: "tiny")
    monkeypatch.setattr(features_mod, "build_bank", lambda *a, **kw: train_bank)
    torch.manual_seed(1000 + len(name))  # the default generator as some other process left it
    cfg = AsymNetConfig(**{**SMALL, "snn_epochs": 1, "fusion_epochs": 1, "seed": seed})
    run_asymnet(None, tmp_path / name, cfg, **run_kw)
    return torch.load(tmp_path / name / "last.pt", weights_only=True)["model"]


def test_run_asymnet_follows_the_seed(tmp_path, monkeypatch, train_bank):
    """Same --seed twice -> identical weights (the new layers are built after seeding); another
    seed differs."""
    a = _run_tiny_asymnet(tmp_path, monkeypatch, train_bank, 1, "a")
    b = _run_tiny_asymnet(tmp_path, monkeypatch, train_bank, 1, "bb")
    c = _run_tiny_asymnet(tmp_path, monkeypatch, train_bank, 2, "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_run_asymnet_shows_the_progress_of_both_training_stages(tmp_path, monkeypatch, train_bank):
    """The finding: `mf train --method asymnet` showed no progress while it trained (SEAM's
    phase 2 shows a bar per epoch); the hook it was given reached only the feature bank. Now each
    stage is one bar over its epochs, through the same hook (stderr, --progress/--no-progress)."""
    seen: list[tuple[str, int | None, str, int]] = []

    def progress(iterable, *, desc, total=None, unit="it"):
        row = [desc, total, unit, 0]
        seen.append(row)
        for item in iterable:
            yield item
            row[3] += 1

    _run_tiny_asymnet(tmp_path, monkeypatch, train_bank, 1, "p", progress=progress)
    assert [tuple(r) for r in seen] == [
        ("AsymNet stage 1/2 (snn)", 1, "epoch", 1),
        ("AsymNet stage 2/2 (fusion)", 1, "epoch", 1),
    ]


def test_evaluate_with_an_asymnet_checkpoint_alone_asks_for_the_seam_checkpoint_beside_it(tmp_path):
    from movingfashion.seam.evaluate import run_evaluate
    from schemas.errors import ConfigError

    net = _tiny_asymnet()
    save_asymnet(tmp_path / "a.pt", net, TINY, [])
    with pytest.raises(ConfigError) as err:
        run_evaluate(tmp_path / "ds", [tmp_path / "a.pt"], EvalConfig(frames=[5], main_frames=5))
    msg = str(err.value)
    assert "AsymNet checkpoint" in msg and "needs a SEAM checkpoint beside it" in msg
    assert str(tmp_path / "a.pt") in msg and "--checkpoint SEAM_RUN/last.pt" in msg
