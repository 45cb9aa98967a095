"""The measures every evaluator shares: precision/recall/F1 of a prediction, and the pairs of
ids that clustering puts together (the unit duplicate scores count)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from cleaning.mih import UnionFind


def _ratio(num: int, den: int) -> float | None:
    """``num / den`` to 4 places; None when ``den`` is 0 (nothing to measure)."""
    return round(num / den, 4) if den else None


def prf(tp: int, n_pred: int, n_true: int) -> dict[str, float | int | None]:
    """Precision, recall and F1 of ``n_pred`` predictions of which ``tp`` are right, against
    ``n_true`` true ones, with the counts. A ratio over nothing is None (printed "n/a"):
    precision with no prediction, recall with no true case, F1 when either is None."""
    return {
        "precision": _ratio(tp, n_pred),
        "recall": _ratio(tp, n_true),
        "f1": _ratio(2 * tp, n_pred + n_true) if n_pred and n_true else None,  # = 2PR / (P + R)
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
