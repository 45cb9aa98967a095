"""SEAM w/o NLB,g as evaluated is the paper's average: m~ on the plain mean of f~ over the T frames.

Guards the averaging path that issue 19's per-class collapses put in doubt (docs/seam.md, 'Per-class
collapses of the averaging variant'): the evaluation must average exactly the T frames the
protocol samples, with no normalisation and no other head (f, m) standing in for f~, m~; and, by
w . (h - s)^2 = mean_t w . (x_t - s)^2 - w . Var_t(x), it then ranks every query's gallery as
the mean of the per-frame margins of f~, m~ does.
"""

from __future__ import annotations

import torch

from movingfashion.models.matchrcnn import margin_matrix, score_matrix
from movingfashion.models.ranking import ranks_of_targets
from movingfashion.seam.evaluate import sample_indices, seam_scores
from tests.movingfashion.seam.conftest import tiny_model
from tests.movingfashion.seam.synthetic import synthetic_bank


def _moved_model():
    """A w/o NLB,g model whose f~, m~ differ from f, m and whose batch norm is not the identity."""
    model = tiny_model("no_nlb_g", seed=3)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for head in (model.head.extractor, model.head.match):
            for p in head.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=g))
        bn = model.head.extractor.bn
        bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=g))
        bn.running_var.copy_(0.5 + torch.rand(bn.running_var.shape, generator=g))
        model.head.match.fc.weight.mul_(0.05)
        model.head.match.fc.weight[1].sub_(0.05)  # mostly negative w: a distance, as trained heads have
    return model.eval()


def test_the_average_variant_scores_m_tilde_on_the_plain_mean_of_f_tilde():
    bank = synthetic_bank(24, pool=12, channels=8, seed=5)
    model = _moved_model()
    sel = sample_indices(bank, 5)
    scores, weights = seam_scores(model, bank, sel, torch.device("cpu"))
    assert torch.allclose(weights, torch.full_like(weights, 0.2))
    head = model.head
    v = len(bank)
    with torch.no_grad():
        frames = bank.fmaps[torch.arange(v)[:, None], sel].float()
        x = head.extractor(frames.flatten(0, 1)).view(v, sel.shape[1], -1).double()
        shop = head.extractor(bank.shop_fmaps.float()).double()
    w, b = head.match.fc.weight.detach().double(), head.match.fc.bias.detach().double()
    assert torch.allclose(scores, score_matrix(x.mean(1), shop, w, b), atol=1e-9)
    # the same ranking as the mean of the per-frame margins (the shop-free term drops out)
    mean_margin = sum(margin_matrix(x[:, t], shop, w, b) for t in range(sel.shape[1])) / sel.shape[1]
    assert bool(((scores > 0) & (scores < 1)).all())  # no saturated sigmoid: the order is exact
    for q in range(v):
        order = torch.argsort(mean_margin[q], descending=True)
        assert torch.equal(order, torch.argsort(scores[q], descending=True))
    assert torch.equal(ranks_of_targets(scores, bank.targets), ranks_of_targets(mean_margin, bank.targets))
    # and f, m (the single-frame heads the baselines use) are not what it scored
    with torch.no_grad():
        xf = model.f(frames.flatten(0, 1)).view(v, sel.shape[1], -1).double().mean(1)
        sf = model.f(bank.shop_fmaps.float()).double()
    wm, bm = model.m.fc.weight.detach().double(), model.m.fc.bias.detach().double()
    assert not torch.allclose(scores, score_matrix(xf, sf, wm, bm), atol=1e-3)
