"""Stable, stratified 90/10 train/test splits.

**Rule.** Each product gets ``u = sha256(f"{seed}:{product_id}")`` mapped to [0, 1); it goes to
test iff ``u < test_fraction``. The split is a pure function of (product id, seed): adding
or removing products never moves another one (``mode: stable``, the default).

**Stratification.** The rule is applied inside every (DeepFashion2 class, partition) stratum
with the same threshold, and ``u`` is independent of class and partition, so each stratum's
expected test share is exactly ``test_fraction`` and Regular/Hard keep the same ratio in
expectation; the realised share per stratum is reported (``stratum_counts``) and printed in
the datasheet. Exact per-stratum quotas (the ``k = round(f * n)`` smallest ``u`` of each
stratum, ``mode: balanced``) are available, but a product may then move when its stratum
grows: that is the price of exact quotas, hence not the default.

**Groups.** All videos of a product belong to the product. Duplicate items follow the item
they duplicate (their kept representative), and items whose shop images are duplicates of
each other share one split (:func:`cleaning.pipeline.duplicate_groups`); a group's split is
the split of its representative (the accepted member with the smallest key).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Any

from cleaning.pipeline import duplicate_groups, item_key
from schemas.catalog import Catalog
from schemas.dataset import Split, SplitAssignment
from schemas.errors import CatalogError
from schemas.items import Status
from schemas.taxonomy import Partition


def unit_hash(product_id: str, seed: int) -> float:
    """Deterministic uniform value in [0, 1) of a product id and a seed."""
    digest = hashlib.sha256(f"{seed}:{product_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    products: list[tuple[str, int, str]], *, seed: int = 0, test_fraction: float = 0.1, mode: str = "stable"
) -> dict[str, Split]:
    """Split ``(product_id, df2_class, partition)`` triples; returns product id -> split."""
    if mode not in ("stable", "balanced"):
        raise CatalogError(f"unknown split mode {mode!r}", hint="use 'stable' or 'balanced'")
    if mode == "stable":
        return {
            pid: Split.TEST if unit_hash(pid, seed) < test_fraction else Split.TRAIN for pid, _, _ in products
        }
    strata: dict[tuple[int, str], list[str]] = defaultdict(list)
    for pid, cls, part in products:
        strata[(cls, part)].append(pid)
    out = {}
    for pids in strata.values():
        ranked = sorted(pids, key=lambda p: (unit_hash(p, seed), p))
        k = round(test_fraction * len(ranked))
        for i, pid in enumerate(ranked):
            out[pid] = Split.TEST if i < k else Split.TRAIN
    return out


def rebuild_splits(
    catalog: Catalog, *, seed: int = 0, test_fraction: float = 0.1, mode: str = "stable"
) -> dict[str, Any]:
    """Regenerate every split from the catalog and write it into the items' ``split`` column.

    Accepted items get a split; duplicate items (and shop-duplicate groups) get their
    representative's split. Returns the assignments and the counts per stratum.
    """
    rows = catalog.items()
    by_key = {item_key(r.item.source, r.item.source_id): r for r in rows}
    group_of = duplicate_groups(catalog)
    members: dict[str, list[str]] = defaultdict(list)
    for key, rep in group_of.items():
        members[rep].append(key)
    # the representative of a group: its accepted member with the smallest key
    rep_of: dict[str, str] = {}
    for keys in members.values():
        accepted = sorted(k for k in keys if by_key[k].status == Status.ACCEPTED)
        for k in keys:
            rep_of[k] = accepted[0] if accepted else min(keys)
    products = []
    for key, r in by_key.items():
        if rep_of[key] == key and r.status == Status.ACCEPTED:
            if r.df2_class is None or r.product_id is None:
                raise CatalogError(
                    f"accepted item {key} has no class or product id",
                    where=str(catalog.path),
                    hint="run `mf clean` first",
                )
            products.append((r.product_id, r.df2_class, r.partition or Partition.HARD))
    split_of = assign_splits(products, seed=seed, test_fraction=test_fraction, mode=mode)
    assignments = []
    counts: Counter[tuple[int, str, str]] = Counter()
    for key, r in sorted(by_key.items()):
        rep = by_key[rep_of[key]]
        split = split_of.get(rep.product_id) if rep.product_id else None
        if split is None or r.status not in (Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW):
            if r.split is not None:
                catalog.set_item_state(r.item.source, r.item.source_id, split=None)
            continue
        if r.split != str(split):
            catalog.set_item_state(r.item.source, r.item.source_id, split=str(split))
        if r.status == Status.ACCEPTED:
            assignments.append(
                SplitAssignment(
                    product_id=r.product_id, split=split, df2_class=r.df2_class, partition=r.partition
                )
            )
            counts[(r.df2_class, str(r.partition), str(split))] += 1
    catalog.log_event("splits", f"rebuilt: seed={seed} mode={mode} products={len(assignments)}")
    strata: dict[str, dict[str, int]] = {}
    for (cls, part, split), n in sorted(counts.items()):
        strata.setdefault(f"{cls}/{part}", {"train": 0, "test": 0})[split] = n
    n_test = sum(1 for a in assignments if a.split == Split.TEST)
    return {
        "products": len(assignments),
        "test": n_test,
        "train": len(assignments) - n_test,
        "seed": seed,
        "mode": mode,
        "stratum_counts": strata,
        "assignments": assignments,
    }


def check_leakage(catalog: Catalog) -> list[str]:
    """Problems that would leak between train and test (empty list = none).

    Checks: a product id in both splits, a duplicate / shop-duplicate group spanning both.
    """
    problems = []
    by_key = {item_key(r.item.source, r.item.source_id): r for r in catalog.items()}
    pid_splits: dict[str, set[str]] = defaultdict(set)
    for r in by_key.values():
        if r.split and r.product_id:
            pid_splits[r.product_id].add(r.split)
    problems += [f"product {p} in {sorted(s)}" for p, s in pid_splits.items() if len(s) > 1]
    groups: dict[str, set[str]] = defaultdict(set)
    for key, rep in duplicate_groups(catalog).items():
        if by_key[key].split:
            groups[rep].add(by_key[key].split)
    problems += [f"duplicate group of {rep} in {sorted(s)}" for rep, s in groups.items() if len(s) > 1]
    return problems
