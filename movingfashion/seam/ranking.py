"""Vectorised ranking with the (a - b)^2 -> Linear(dim, 2) match score.

With two classes, softmax(...)[1] = sigmoid(z) with
z = sum_d w_d (a_d - b_d)^2 + c, w = W[1] - W[0], c = b[1] - b[0],
and the square expands into matrix products:
z = (a*a) . w + (b*b) . w - 2 (a*w) . b + c.
So a [Q, G] score matrix costs two matrix products instead of a [Q, G, dim] tensor.
"""

from __future__ import annotations

import torch


def _wc(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return weight[1] - weight[0], bias[1] - bias[0]


def margin_matrix(
    queries: torch.Tensor, gallery: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """z[i, j] = logit_match - logit_nomatch of (queries[i], gallery[j]); [Q, dim] x [G, dim] -> [Q, G]."""
    w, c = _wc(weight.to(queries.dtype), bias.to(queries.dtype))
    qa = (queries * queries) @ w  # [Q]
    ga = (gallery * gallery) @ w  # [G]
    cross = (queries * w) @ gallery.T  # [Q, G]
    return qa[:, None] + ga[None, :] - 2 * cross + c


def score_matrix(
    queries: torch.Tensor, gallery: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """Match probabilities in [0, 1] for every (query, gallery) pair, [Q, G]."""
    return torch.sigmoid(margin_matrix(queries, gallery, weight, bias))


def naive_margin_matrix(
    queries: torch.Tensor, gallery: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, chunk: int = 64
) -> torch.Tensor:
    """The reference: broadcast (Q x G x dim) squared differences, ``chunk`` queries at a time."""
    out = torch.empty(queries.shape[0], gallery.shape[0], dtype=queries.dtype)
    for s in range(0, queries.shape[0], chunk):
        diff2 = (queries[s : s + chunk, None, :] - gallery[None, :, :]) ** 2
        logits = diff2 @ weight.T.to(queries.dtype) + bias.to(queries.dtype)
        out[s : s + chunk] = logits[..., 1] - logits[..., 0]
    return out


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
