import numpy as np
import torch

from movingfashion.seam.protocol import make_pools, pooled_topk, query_groups


def test_pools_are_all_products_once_when_few_and_sampled_otherwise():
    assert len(make_pools(50, 20, 800, 0)) == 1 and len(make_pools(50, 20, 800, 0)[0]) == 50
    pools = make_pools(1000, 20, 800, 0)
    assert len(pools) == 20 and all(len(p) == 800 and len(set(p)) == 800 for p in pools)
    assert not all(np.array_equal(pools[0], p) for p in pools[1:])
    assert all(np.array_equal(a, b) for a, b in zip(pools, make_pools(1000, 20, 800, 0), strict=True))


def test_pooled_topk_on_a_hand_checked_example():
    # 4 products, 4 queries; query i's true shop is i
    scores = torch.tensor(
        [
            [0.9, 0.1, 0.2, 0.3],  # rank 0
            [0.8, 0.5, 0.1, 0.0],  # rank 1
            [0.9, 0.8, 0.7, 0.1],  # rank 2
            [0.9, 0.8, 0.7, 0.6],
        ]
    )  # rank 3
    targets = torch.arange(4)
    groups = query_groups(["regular", "regular", "hard", "hard"], [1, 2, 1, 2])
    res = pooled_topk(scores, targets, groups, [np.arange(4)], [1, 2, 3])
    assert res["all"]["top1"] == 0.25 and res["all"]["top2"] == 0.5 and res["all"]["top3"] == 0.75
    assert res["regular"]["top1"] == 0.5 and res["hard"]["top1"] == 0.0 and res["hard"]["top3"] == 0.5
    assert res["class:1"]["top3"] == 1.0 and res["class:2"]["top3"] == 0.5
    # in a pool without products 0 and 1 the last query ranks 1 (only product 2 is ahead)
    res2 = pooled_topk(scores, targets, groups, [np.array([2, 3])], [1, 2])
    assert res2["all"]["top1"] == 0.5 and res2["all"]["top2"] == 1.0 and res2["all"]["queries"] == 2


def test_mean_and_std_over_pools():
    scores = torch.eye(4)
    scores[3] = torch.tensor([1.0, 0.0, 0.0, 0.5])
    groups = query_groups(["hard"] * 4, [1] * 4)
    res = pooled_topk(scores, torch.arange(4), groups, [np.array([0, 3]), np.array([1, 2])], [1])
    assert (
        res["all"]["top1"] == 0.75
        and abs(res["all"]["top1_std"] - np.std([0.5, 1.0], ddof=1)) < 1e-9  # the sample std over pools
        and res["all"]["pools"] == 2
    )
    # every group keeps its pools' values (per class too: Table 4 pools them over seeds x pools)
    assert res["all"]["top1_pools"] == [0.5, 1.0] and res["class:1"]["top1_pools"] == [0.5, 1.0]


def test_ties_are_counted_against_the_query_in_metrics_and_listings():
    """A constant score matrix (e.g. a collapsed model) must not earn a perfect top-1."""
    from movingfashion.seam.evaluate import _qualitative
    from movingfashion.seam.features import FeatureBank

    scores = torch.tensor(
        [
            [0.5, 0.5, 0.5, 0.5],  # everything tied: rank 3
            [0.9, 0.9, 0.1, 0.1],  # tied with product 0 only: rank 1
            [0.1, 0.2, 0.3, 0.0],  # strictly best: rank 0
            [0.2, 0.2, 0.2, 0.2],  # rank 3
        ]
    )
    targets = torch.arange(4)
    groups = query_groups(["regular"] * 4, [1] * 4)
    res = pooled_topk(scores, targets, groups, [np.arange(4)], [1, 2, 4])
    assert res["all"]["top1"] == 0.25 and res["all"]["top2"] == 0.5 and res["all"]["top4"] == 1.0
    # the qualitative listing marks the correct match at that same rank
    n = len(targets)
    bank = FeatureBank(
        [f"p{i}" for i in range(n)],
        [f"videos/v{i}.mp4" for i in range(n)],
        ["regular"] * n,
        [1] * n,
        torch.zeros(n, 3, 1, 1, 1),
        torch.arange(3).repeat(n, 1),
        torch.zeros(n, 3),
        torch.full((n, 3), float("nan")),
        [f"p{i}" for i in range(n)],
        torch.zeros(n, 1, 1, 1),
        targets,
    )
    qual = _qualitative(bank, scores, torch.arange(3).repeat(n, 1), n)
    assert [q["rank"] for q in qual] == [3, 1, 0, 3]
    assert [q["correct_rank"] for q in qual] == [3, 1, 0, 3]
    assert [q["top5"].index(q["product_id"]) for q in qual] == [3, 1, 0, 3]


def test_queries_counts_the_groups_distinct_queries_over_all_pools():
    scores = torch.eye(6)
    groups = query_groups(["regular", "regular", "hard", "hard", "hard", "hard"], [1, 2, 1, 2, 1, 2])
    pools = [np.array([0, 1, 2]), np.array([3, 4, 5]), np.array([0, 3])]  # 3 queries at most in one pool
    res = pooled_topk(scores, torch.arange(6), groups, pools, [1])
    assert res["all"]["queries"] == 6 and res["all"]["pools"] == 3
    assert res["regular"]["queries"] == 2 and res["hard"]["queries"] == 4
    assert res["class:1"]["queries"] == res["class:2"]["queries"] == 3
    res = pooled_topk(scores, torch.arange(6), groups, [np.array([0, 1, 2]), np.array([0, 1, 2])], [1])
    assert res["all"]["queries"] == 3  # queries never in a pool are not counted; repeats once


def test_queries_of_unknown_class_make_no_class_group():
    """A real archive without entries.jsonl names no class (0 after the bank's mapping): that
    made a 'class:0' group equal to 'all', printed as a class row "0" of the table."""
    groups = query_groups(["hard", "regular", "hard"], [0, 0, 3])
    assert set(groups) == {"all", "regular", "hard", "class:3"}
    assert set(query_groups(["hard"], [0])) == {"all", "regular", "hard"}
