"""Ranking a gallery from a score matrix: the one tie rule of every metric and every listing.

Higher score = better; a NaN score counts as the worst possible. Scores are compared in their
own precision: float64 stays float64, narrower floats are widened to float32 (never narrowed,
which would tie scores the caller told apart). **Ties are counted pessimistically**: a query's
true gallery item tied with k other items ranks *after* all k of them, so ``rank = #(items
scoring higher) + #(other items scoring the same)`` (0-based). When a query has several true
items (e.g. several crops of one identity), its rank is that of its best true item against the
wrong items only: the number of wrong items scoring at least as high.

Listings (top-k) follow the same order: by score, ties in gallery order, except that true items
come after the wrong items they tie with. So a listing shows the true item exactly at its rank,
and ``rank < k`` exactly when it is listed in the top k.

:func:`rank_gallery` is the implementation; :func:`ranks_of_targets` and :func:`topk_indices` are
its two common questions (used by SEAM's protocol and its qualitative outputs, and by the
matcher's retrieval figures). The score matrix itself comes from
:func:`movingfashion.models.score_matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Ranking:
    """What :func:`rank_gallery` answers.

    ``order``: ``[Q, k]`` gallery indices, best first (``None`` when no ``k`` was asked);
    ``ranks``: ``[Q]`` 0-based rank of each query's true item(s), the gallery size when a query
    has none (``None`` when no targets were given).
    """

    order: torch.Tensor | None
    ranks: torch.Tensor | None


def _true_mask(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if targets.dtype == torch.bool:
        if targets.shape != scores.shape:
            raise ValueError(f"a target mask must be {tuple(scores.shape)}, got {tuple(targets.shape)}")
        return targets.to(scores.device)
    t = targets.to(scores.device, torch.long)
    if t.shape != (scores.shape[0],):
        raise ValueError(f"targets must be [{scores.shape[0]}] column indices, got {tuple(t.shape)}")
    mask = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
    return mask.scatter_(1, t[:, None], True)


def rank_gallery(scores: torch.Tensor, targets: torch.Tensor | None = None, k: int | None = None) -> Ranking:
    """Rank every query's gallery (see the module docstring for the tie rule).

    ``scores`` ``[Q, G]``, higher = better. ``targets``: ``[Q]`` column of each query's true item,
    or a ``[Q, G]`` bool mask of its true items. ``k``: also list the ``k`` best items per query
    (all of them when ``k >= G``).
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be [Q, G], got {tuple(scores.shape)}")
    s = torch.nan_to_num(scores.to(torch.promote_types(scores.dtype, torch.float32)), nan=float("-inf"))
    n_gallery = s.shape[1]
    true = _true_mask(s, targets) if targets is not None else None
    ranks = None
    if true is not None:
        best_true = torch.where(true, s, torch.full_like(s, float("-inf"))).amax(1, keepdim=True)
        ranks = ((s >= best_true) & ~true).sum(1)
        ranks = torch.where(true.any(1), ranks, torch.full_like(ranks, n_gallery))
    order = None
    if k is not None:
        k = max(0, min(int(k), n_gallery))
        order = _ordered_topk(s, true, k)
    return Ranking(order, ranks)


def _ordered_topk(s: torch.Tensor, true: torch.Tensor | None, k: int) -> torch.Tensor:
    """The first ``k`` of the full order (score desc, wrong before true, gallery index asc),
    sorting only the candidates that can be among them."""
    q, n_gallery = s.shape
    if k == 0 or q == 0:
        return torch.zeros((q, k), dtype=torch.long, device=s.device)
    # every item scoring at least the k-th best value can be listed; take that many candidates
    kth = torch.topk(s, k, dim=1).values[:, -1:]
    width = int((s >= kth).sum(1).max())
    cand = torch.topk(s, width, dim=1).indices
    # the tie keys: gallery index first, then wrong before true, then score (stable sorts, last key wins)
    cand = cand.sort(dim=1).values
    if true is not None:
        cand = cand.gather(1, true.gather(1, cand).to(torch.int8).sort(dim=1, stable=True).indices)
    by_score = s.gather(1, cand).sort(dim=1, descending=True, stable=True).indices
    return cand.gather(1, by_score)[:, :k]


def ranks_of_targets(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each query's true gallery item(s), ties counted pessimistically."""
    return rank_gallery(scores, targets).ranks  # type: ignore[return-value]


def topk_indices(scores: torch.Tensor, k: int, targets: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of the ``k`` best gallery items per query, best first, ``[Q, min(k, G)]``; with
    ``targets``, true items come after the wrong items they tie with (as :func:`ranks_of_targets`
    counts them)."""
    return rank_gallery(scores, targets, k).order  # type: ignore[return-value]
