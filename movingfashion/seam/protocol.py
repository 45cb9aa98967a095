"""The paper's retrieval protocol on score matrices: top-K in product pools, mean +- std.

Every query is one test video (its tracklet); the gallery is every test shop image, once
(products sharing an image share its entry: :func:`~movingfashion.seam.features.build_bank`).
The gallery is sub-sampled into ``pools`` pools of ``pool_size`` shop images (all of them,
once, when there are no more than ``pool_size``: the std is then 0); in each pool a query is
ranked against the pool's shop images only, ties counted pessimistically
(:mod:`movingfashion.models.ranking`). Accuracies are averaged over pools; every group's
per-pool values are kept (``top{k}_pools``, per class too), so that results of several seeds
pool into one mean and std over seeds x pools (results written before kept them for "all",
"regular" and "hard" only). Every std over pools or seeds is the sample std (:func:`sample_std`,
ddof=1: a handful of seeds or pools), as ``protocol.std`` (:data:`STD`) of the results says.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from movingfashion.models.ranking import ranks_of_targets

#: What every std over pools, seeds or seeds x pools is (``protocol.std`` of a results record):
#: results without it (older) hold the population std (ddof=0).
STD = "sample"


def sample_std(values: Sequence[float] | np.ndarray) -> float:
    """The sample standard deviation (ddof=1) of ``values``; 0.0 for a single value (or none)."""
    vals = np.asarray(values, dtype=np.float64).ravel()
    return float(np.std(vals, ddof=1)) if vals.size > 1 else 0.0


def make_pools(n_products: int, pools: int, pool_size: int, seed: int) -> list[np.ndarray]:
    """Sorted gallery indices (one per shop image) of each pool; a single pool of everything when
    n <= pool_size."""
    if n_products <= pool_size:
        return [np.arange(n_products)]
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(n_products, size=pool_size, replace=False)) for _ in range(pools)]


def pool_ranks(
    scores: torch.Tensor, targets: torch.Tensor, pools: list[np.ndarray]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """For each pool that holds at least one query's product: (mask [Q] of those queries, the
    0-based rank of each one's product among the pool's shop images). ``scores`` [Q, G] (higher =
    better), ``targets`` [Q] gallery column of each query's product."""
    for pool in pools:
        pool_t = torch.as_tensor(pool, dtype=torch.long)
        in_pool = torch.zeros(scores.shape[1], dtype=torch.bool)
        in_pool[pool_t] = True
        qsel = in_pool[targets]
        if not bool(qsel.any()):
            continue
        remap = torch.full((scores.shape[1],), -1, dtype=torch.long)
        remap[pool_t] = torch.arange(len(pool_t))
        yield qsel, ranks_of_targets(scores[qsel][:, pool_t], remap[targets[qsel]])


def pooled_topk(
    scores: torch.Tensor,
    targets: torch.Tensor,
    groups: dict[str, torch.Tensor],
    pools: list[np.ndarray],
    ks: list[int],
) -> dict[str, dict[str, float | int]]:
    """Top-K accuracy per query group, mean and sample std (:func:`sample_std`) over pools.

    ``scores`` [Q, G] (higher = better), ``targets`` [Q] gallery column of each query's product,
    ``groups`` name -> bool mask [Q]. Returns ``{group: {"top1": mean, "top1_std": std, ...,
    "queries": n, "pools": used, "top1_pools": every pool's value, ...}}``, ``n`` the group's
    distinct queries found in at least one pool; groups without queries in any pool are left out.
    """
    per_group: dict[str, dict[int, list[float]]] = {g: {k: [] for k in ks} for g in groups}
    seen: dict[str, torch.Tensor] = {g: torch.zeros(len(targets), dtype=torch.bool) for g in groups}
    for qsel, ranks in pool_ranks(scores, targets, pools):
        for name, mask in groups.items():
            gm = mask[qsel]
            if not bool(gm.any()):
                continue
            seen[name] |= mask & qsel
            for k in ks:
                per_group[name][k].append(float((ranks[gm] < k).double().mean()))
    out: dict[str, dict[str, float | int]] = {}
    for name in groups:
        if not per_group[name][ks[0]]:
            continue
        row: dict[str, float | int] = {}
        for k in ks:
            vals = np.asarray(per_group[name][k])
            row[f"top{k}"] = float(vals.mean())
            row[f"top{k}_std"] = sample_std(vals)
            row[f"top{k}_pools"] = [round(float(v), 5) for v in vals]
        row["queries"] = int(seen[name].sum())
        row["pools"] = len(per_group[name][ks[0]])
        out[name] = row
    return out


def query_groups(partitions: list[str], classes: list[int]) -> dict[str, torch.Tensor]:
    """Masks for 'all', 'regular', 'hard' and 'class:<id>' from per-query metadata. A class of 0
    or less is unknown (a split file without ``entries.jsonl`` names none): no group of its own,
    which would be a class row named "0" in the table."""
    part = np.asarray(partitions)
    cls = np.asarray(classes)
    groups = {
        "all": torch.ones(len(part), dtype=torch.bool),
        "regular": torch.as_tensor(part == "regular"),
        "hard": torch.as_tensor(part == "hard"),
    }
    for c in sorted(set(cls.tolist())):
        if c > 0:
            groups[f"class:{c}"] = torch.as_tensor(cls == c)
    return groups


def per_query_hits(
    scores: torch.Tensor, targets: torch.Tensor, pools: list[np.ndarray], k: int
) -> np.ndarray:
    """Each query's top-``k`` hit rate over the pools that hold its product ([Q], NaN for a query
    in no pool): the per-query numbers that paired differences between methods are made of."""
    hits = np.zeros(len(targets))
    seen = np.zeros(len(targets))
    for qsel, ranks in pool_ranks(scores, targets, pools):
        idx = qsel.nonzero().squeeze(1).numpy()
        hits[idx] += (ranks < k).numpy()
        seen[idx] += 1
    with np.errstate(invalid="ignore"):
        return hits / np.where(seen > 0, seen, np.nan)


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` separating ``positive`` from the rest (ties count
    half; the Mann-Whitney statistic). None when one of the two classes is empty."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    pos = np.asarray(positive, dtype=bool).ravel()
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
