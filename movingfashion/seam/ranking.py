"""Ranking a shop gallery from a score matrix: ranks of the true items and top-k lists.

The score matrix itself comes from :func:`movingfashion.models.score_matrix` (the expanded
``(a - b)^2`` form of the match head m, the one implementation).
"""

from __future__ import annotations

import numpy as np
import torch


def ranks_of_targets(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each query's true gallery column (higher score = better).

    Ties are broken by gallery index (lower index first), so ranks are deterministic.
    """
    true = scores.gather(1, targets[:, None])
    cols = torch.arange(scores.shape[1], device=scores.device)[None, :]
    ahead = (scores > true) | ((scores == true) & (cols < targets[:, None]))
    return ahead.sum(1)


def topk_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k best gallery items per query, best first, [Q, k]."""
    k = min(k, scores.shape[1])
    return torch.topk(scores, k, dim=1, sorted=True).indices


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
