"""Ranking a shop gallery from a score matrix: ranks of the true items and top-k lists.

The score matrix itself comes from :func:`movingfashion.models.score_matrix` (the expanded
``(a - b)^2`` form of the match head m, the one implementation).
"""

from __future__ import annotations

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
