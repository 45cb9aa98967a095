import torch

from movingfashion.seam.ranking import (
    margin_matrix,
    naive_margin_matrix,
    ranks_of_targets,
    score_matrix,
    topk_indices,
)


def test_expanded_form_equals_broadcast_and_rankings_agree():
    g = torch.Generator().manual_seed(0)
    q, gal = torch.randn(40, 256, generator=g), torch.randn(300, 256, generator=g)
    w, b = torch.randn(2, 256, generator=g) * 0.1, torch.randn(2, generator=g)
    fast = margin_matrix(q.double(), gal.double(), w.double(), b.double())
    slow = naive_margin_matrix(q.double(), gal.double(), w.double(), b.double(), chunk=7)
    assert torch.allclose(fast, slow, atol=1e-9)
    assert torch.equal(topk_indices(fast, 20), topk_indices(slow, 20))


def test_score_matrix_is_the_softmax_match_probability():
    lin = torch.nn.Linear(16, 2)
    a, b = torch.randn(5, 16), torch.randn(7, 16)
    probs = lin((a[:, None] - b[None]) ** 2).softmax(-1)[..., 1]
    assert torch.allclose(score_matrix(a, b, lin.weight, lin.bias), probs, atol=1e-6)


def test_ranks_of_targets_counts_better_items_and_breaks_ties_by_index():
    s = torch.tensor([[0.9, 0.5, 0.7], [0.2, 0.2, 0.2], [0.1, 0.3, 0.2]])
    ranks = ranks_of_targets(s, torch.tensor([2, 1, 0]))
    assert ranks.tolist() == [1, 1, 2]
