"""The measures every evaluator shares: precision/recall/F1 of a prediction, and the pairs of
ids that clustering puts together (the unit duplicate scores count)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from cleaning.mih import UnionFind


def prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    """Precision, recall and F1 of ``n_pred`` predictions of which ``tp`` are right, against
    ``n_true`` true ones (an empty prediction or truth scores 1.0), with the counts."""
    p = tp / n_pred if n_pred else 1.0
    r = tp / n_true if n_true else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f, 4),
        "true_positives": tp,
        "predicted": n_pred,
        "actual": n_true,
    }


def group_pairs(groups: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    """Every unordered pair of ids within one group."""
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(map(str, g)), 2)}


def cluster_pairs(links: Iterable[tuple[str, str]], keys: Iterable[str]) -> set[frozenset[str]]:
    """The pairs of ``keys`` that the ``links`` join into one cluster (transitively); links to ids
    outside ``keys`` are ignored."""
    keys = set(keys)
    uf = UnionFind(sorted(keys))
    for a, b in links:
        if a in keys and b in keys:
            uf.union(a, b)
    return group_pairs(uf.groups())
