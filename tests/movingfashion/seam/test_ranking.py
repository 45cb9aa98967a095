import torch

from movingfashion.seam.ranking import ranks_of_targets, topk_indices


def test_topk_of_the_expanded_scores_equals_topk_of_the_broadcast():
    from movingfashion.models import margin_matrix

    g = torch.Generator().manual_seed(0)
    q, gal = torch.randn(40, 256, generator=g), torch.randn(300, 256, generator=g)
    w, b = torch.randn(2, 256, generator=g) * 0.1, torch.randn(2, generator=g)
    fast = margin_matrix(q.double(), gal.double(), w.double(), b.double())
    logits = ((q.double()[:, None] - gal.double()[None]) ** 2) @ w.double().T + b.double()
    slow = logits[..., 1] - logits[..., 0]
    assert torch.allclose(fast, slow, atol=1e-9)
    assert torch.equal(topk_indices(fast, 20), topk_indices(slow, 20))


def test_ranks_of_targets_counts_better_items_and_breaks_ties_by_index():
    s = torch.tensor([[0.9, 0.5, 0.7], [0.2, 0.2, 0.2], [0.1, 0.3, 0.2]])
    ranks = ranks_of_targets(s, torch.tensor([2, 1, 0]))
    assert ranks.tolist() == [1, 1, 2]
