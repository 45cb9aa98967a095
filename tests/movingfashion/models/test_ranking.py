import pytest
import torch

from movingfashion.models.ranking import rank_gallery, ranks_of_targets, topk_indices


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


def test_ties_rank_the_target_after_every_item_it_ties_with():
    s = torch.tensor(
        [
            [0.9, 0.5, 0.7],  # target 2: one better item
            [0.2, 0.2, 0.2],  # target 1 tied with 2 others -> rank 2 (after both)
            [0.1, 0.3, 0.2],  # target 0: the worst
            [0.5, 0.5, 0.9],  # target 0 tied with index 1 (higher index) -> still after it
            [0.4, 0.4, 0.4],  # target 2 tied with all, last index: rank 2 too
            [0.8, 0.6, 0.6],  # target 0 strictly best: ties elsewhere do not matter
        ]
    )
    targets = torch.tensor([2, 1, 0, 0, 2, 0])
    assert ranks_of_targets(s, targets).tolist() == [1, 2, 2, 2, 2, 0]
    # the listing puts the target where its rank says, after the items it ties with
    top = topk_indices(s, 3, targets)
    assert top.tolist() == [[0, 2, 1], [0, 2, 1], [1, 2, 0], [2, 1, 0], [0, 1, 2], [0, 1, 2]]
    # without targets, ties keep gallery order
    assert topk_indices(s, 3).tolist() == [[0, 2, 1], [0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2], [0, 1, 2]]


def test_the_rank_is_the_targets_place_in_the_listing_with_many_ties():
    g = torch.Generator().manual_seed(3)
    s = torch.randint(0, 4, (200, 30), generator=g).float()  # 4 distinct values: ties everywhere
    s[5, 7] = float("nan")  # NaN counts as the worst score
    targets = torch.randint(0, 30, (200,), generator=g)
    targets[5] = 7
    r = rank_gallery(s, targets, k=30)
    place = (r.order == targets[:, None]).float().argmax(1)
    assert torch.equal(place, r.ranks)
    assert int(r.ranks[5]) == 29
    # pessimistic: exactly the items scoring >= the target, the target excluded
    ref = [
        int(((s[i].nan_to_num(float("-inf")) >= s[i, t].nan_to_num(float("-inf"))).sum()) - 1)
        for i, t in enumerate(targets.tolist())
    ]
    assert r.ranks.tolist() == ref
    # top-k is a prefix of the full listing, for every k
    for k in (1, 5, 13):
        assert torch.equal(topk_indices(s, k, targets), r.order[:, :k])
        hit = (topk_indices(s, k, targets) == targets[:, None]).any(1)
        assert torch.equal(hit, r.ranks < k)


def test_several_true_items_rank_by_the_best_against_wrong_items():
    s = torch.tensor([[0.5, 0.9, 0.9, 0.1], [0.3, 0.3, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]])
    true = torch.tensor(
        [[False, True, False, True], [True, True, False, False], [False, False, False, False]]
    )
    # row 0: best true 0.9 tied with the wrong item 2 -> rank 1; row 1: tied with wrong item 3 -> 1
    # row 2: no true item -> the gallery size
    assert ranks_of_targets(s, true).tolist() == [1, 1, 4]
    assert topk_indices(s, 2, true).tolist() == [[2, 1], [3, 0], [3, 2]]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        ranks_of_targets(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError):
        ranks_of_targets(torch.zeros(3, 4), torch.zeros(3, 3, dtype=torch.bool))


def test_float64_scores_are_ranked_in_their_own_precision():
    # apart by less than float32 resolves: the true item is strictly best, so rank 0
    s = torch.tensor([[0.9, 0.9 + 1e-9], [0.5 + 1e-12, 0.5]], dtype=torch.float64)
    assert ranks_of_targets(s, torch.tensor([1, 0])).tolist() == [0, 0]
    assert topk_indices(s, 2).tolist() == [[1, 0], [0, 1]]
    # half precision is widened, never left narrower than float32
    h = torch.tensor([[0.25, 0.5]], dtype=torch.float16)
    assert rank_gallery(h, torch.tensor([1]), k=1).ranks.tolist() == [0]
