"""Stable, stratified 90/10 train/test splits.

**Rule (``mode: stable``, the default).**

1. *Quotas.* Each partition (Regular, Hard) gets :func:`partition_test_seats` test products:
   ``round-half-up(test_fraction * n)`` and at least one when it has 5 products or more, so
   both partitions keep the same ratio; inside a partition the quota is shared among the
   DeepFashion2 classes by largest remainder (``floor(f * n_class)`` each, the leftover seats
   to the classes with the largest fractional part), so every class is within one product
   of its exact share.
2. *Who fills a quota.* Inside a (class, partition) stratum, products are ranked by
   ``u = sha256(f"{seed}:{product_id}")`` mapped to [0, 1); the lowest ``u`` take the test seats.
3. *Stability.* Once a product has a split it is **pinned**: the catalog remembers every
   assignment together with the seed and fraction that made it, and a rebuild keeps each
   pinned product where it is. New products only fill what the (new) quotas still lack, in
   ``u`` order, so adding products never moves an existing one, and a stratum whose test
   share ran high receives new products in train until it is back on its quota. When pinned
   products leave a partition short of its seats (its strata's quotas fall on strata whose
   products are all pinned in train), the missing seats go to new products of the partition's
   other strata, the stratum furthest below its exact share first, so a partition never ends
   below its seats while it has new products to place; new products never take a partition
   past its seats (pinned test products already count).

From a fresh catalog the split is a deterministic function of (the set of product ids, their
classes and partitions, seed); with history it also depends on the pinned assignments.
``mode: hash`` is the memory-less alternative: test iff ``u < test_fraction``, a pure function
of (product id, seed), stratified only in expectation (46/1 on a 47-product world is possible).
``reassign=True`` (``mf splits rebuild --reassign``) forgets the pins and redraws every
split from scratch, which may move products.

**Groups.** All videos of a product belong to the product. Duplicate items follow the item
they duplicate (their kept representative), and items whose shop images are duplicates of
each other share one split (:func:`duplicate_groups`); a group's split is
the split of its representative (the accepted member with the smallest key).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from cleaning.mih import UnionFind
from cleaning.steps.state import item_key
from schemas.catalog import Catalog, ItemRow
from schemas.dataset import Split, SplitAssignment
from schemas.errors import CatalogError
from schemas.items import Status
from schemas.taxonomy import Partition

#: Catalog meta key holding the seed and fraction behind the pinned splits.
SPLIT_META_KEY = "splits"
MODES = ("stable", "hash")


def unit_hash(product_id: str, seed: int) -> float:
    """Deterministic uniform value in [0, 1) of a product id and a seed."""
    digest = hashlib.sha256(f"{seed}:{product_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def partition_test_seats(n: int, test_fraction: float) -> int:
    """Test products of a partition of ``n``: ``round-half-up(test_fraction * n)``, and at least
    one when ``n >= 5`` (a small partition still gets a test product)."""
    seats = math.floor(test_fraction * n + 0.5)
    return max(seats, 1) if n >= 5 else seats


def stratum_quotas(sizes: Mapping[tuple[int, str], int], test_fraction: float) -> dict[tuple[int, str], int]:
    """Test seats per (class, partition): exact per partition, largest remainder over classes."""
    by_part: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key in sizes:
        by_part[key[1]].append(key)
    quotas: dict[tuple[int, str], int] = {}
    for keys in by_part.values():
        total = partition_test_seats(sum(sizes[k] for k in keys), test_fraction)
        exact = {k: test_fraction * sizes[k] for k in keys}
        for k in keys:
            quotas[k] = math.floor(exact[k])
        leftover = total - sum(quotas[k] for k in keys)
        # largest fractional part first; ties by class id, so the result is deterministic
        for k in sorted(keys, key=lambda k: (-(exact[k] - quotas[k]), k))[: max(0, leftover)]:
            quotas[k] += 1
    return quotas


def assign_splits(
    products: list[tuple[str, int, str]],
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    mode: str = "stable",
    pinned: Mapping[str, Split | str] | None = None,
) -> dict[str, Split]:
    """Split ``(product_id, df2_class, partition)`` triples; returns product id -> split.

    ``pinned`` maps product ids to a split they already have and must keep (``stable`` mode).
    """
    if mode not in MODES:
        raise CatalogError(f"unknown split mode {mode!r}", hint="use 'stable' or 'hash'")
    if mode == "hash":
        return {
            pid: Split.TEST if unit_hash(pid, seed) < test_fraction else Split.TRAIN for pid, _, _ in products
        }
    pinned = pinned or {}
    strata: dict[tuple[int, str], list[str]] = defaultdict(list)
    for pid, cls, part in products:
        strata[(int(cls), str(part))].append(pid)
    quotas = stratum_quotas({k: len(v) for k, v in strata.items()}, test_fraction)
    out: dict[str, Split] = {}
    fresh_of: dict[tuple[int, str], list[str]] = {}
    for key, pids in strata.items():
        fresh = []
        for pid in pids:
            if pid in pinned:
                out[pid] = Split(pinned[pid])
            else:
                fresh.append(pid)
        fresh_of[key] = sorted(fresh, key=lambda p: (unit_hash(p, seed), p))
    for part in sorted({k[1] for k in strata}):
        keys = sorted(k for k in strata if k[1] == part)
        # seats left in the partition once its pinned test products are counted
        left = partition_test_seats(sum(len(strata[k]) for k in keys), test_fraction) - sum(
            1 for k in keys for p in strata[k] if out.get(p) == Split.TEST
        )
        want = {k: max(0, quotas[k] - sum(1 for p in strata[k] if out.get(p) == Split.TEST)) for k in keys}
        for key in sorted(keys, key=lambda k: (-want[k], k)):
            seats = max(0, min(want[key], left))
            left -= min(seats, len(fresh_of[key]))
            for i, pid in enumerate(fresh_of[key]):
                out[pid] = Split.TEST if i < seats else Split.TRAIN
    _fill_partition_seats(strata, fresh_of, out, test_fraction)
    return out


def _fill_partition_seats(
    strata: Mapping[tuple[int, str], list[str]],
    fresh_of: Mapping[tuple[int, str], list[str]],
    out: dict[str, Split],
    test_fraction: float,
) -> None:
    """Give each partition its :func:`partition_test_seats` when pinned products left it short:
    one new train product at a time moves to test, from the stratum furthest below its exact
    test share (then the lowest class id), the new product with the lowest hash first."""
    for part in sorted({k[1] for k in strata}):
        keys = sorted(k for k in strata if k[1] == part)
        n = sum(len(strata[k]) for k in keys)
        missing = partition_test_seats(n, test_fraction) - sum(
            out[p] == Split.TEST for k in keys for p in strata[k]
        )
        while missing > 0:
            open_ = [k for k in keys if any(out[p] == Split.TRAIN for p in fresh_of[k])]
            if not open_:
                break  # every remaining product is pinned: adding products moves none

            def deficit(k: tuple[int, str]) -> tuple[float, int]:
                n_test = sum(out[p] == Split.TEST for p in strata[k])
                return (-(test_fraction * len(strata[k]) - n_test), k[0])

            k = min(open_, key=deficit)
            out[next(p for p in fresh_of[k] if out[p] == Split.TRAIN)] = Split.TEST
            missing -= 1


def rebuild_splits(
    catalog: Catalog,
    *,
    seed: int = 0,
    test_fraction: float = 0.1,
    mode: str = "stable",
    reassign: bool = False,
) -> dict[str, Any]:
    """Regenerate every split from the catalog and write it into the items' ``split`` column.

    Accepted items get a split; duplicate items (and shop-duplicate groups) get their
    representative's split. In ``stable`` mode, products that already hold a split made with
    the same seed and fraction keep it (``reassign=True`` forgets them). Returns the
    assignments, the counts per stratum and how many products were pinned / newly placed.
    """
    by_key = {item_key(r.item.source, r.item.source_id): r for r in catalog.items()}
    rep_of = _representatives(catalog, by_key)
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
    recorded = catalog.get_meta(SPLIT_META_KEY) or {}
    same_rule = recorded.get("seed") == seed and recorded.get("test_fraction") == test_fraction
    pinned: dict[str, str] = {}
    if mode == "stable" and same_rule and not reassign:
        pinned = {
            r.product_id: r.split
            for key, r in by_key.items()
            if rep_of[key] == key
            and r.status == Status.ACCEPTED
            and r.product_id
            and r.split in ("train", "test")
        }
    split_of = assign_splits(products, seed=seed, test_fraction=test_fraction, mode=mode, pinned=pinned)
    catalog.set_meta(SPLIT_META_KEY, {"seed": seed, "test_fraction": test_fraction, "mode": mode})
    assignments = _write_splits(catalog, by_key, rep_of, split_of)
    catalog.log_event(
        "splits", f"rebuilt: seed={seed} mode={mode} products={len(assignments)} pinned={len(pinned)}"
    )
    counts = Counter((a.df2_class, str(a.partition), str(a.split)) for a in assignments)
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
        "pinned": len(pinned),
        "placed": len(products) - len(pinned),
        "stratum_counts": strata,
        "assignments": assignments,
    }


def duplicate_groups(catalog: Catalog) -> dict[str, str]:
    """Item key -> the item key it ultimately follows (its duplicate representative, or itself).

    Items linked by duplicate shop images are grouped too (their shop images must not land in
    different splits). A group shares one split.
    """
    uf = UnionFind()
    owner_of_path: dict[str, str] = {}
    assets = catalog.assets()
    for a in assets:
        if a.path:
            owner_of_path[a.path] = item_key(a.source, a.source_id)
    for r in catalog.items():
        key = item_key(r.item.source, r.item.source_id)
        uf.add(key)
        if r.duplicate_of:
            uf.union(key, r.duplicate_of)
    for a in assets:
        if a.duplicate_of and a.duplicate_of in owner_of_path:
            uf.union(item_key(a.source, a.source_id), owner_of_path[a.duplicate_of])
    groups: dict[object, list[str]] = defaultdict(list)
    for k in list(uf.parent):
        groups[uf.find(k)].append(str(k))
    out = {}
    for members in groups.values():
        rep = min(members)
        for m in members:
            out[m] = rep
    return out


def _representatives(catalog: Catalog, by_key: dict[str, ItemRow]) -> dict[str, str]:
    """Item key -> its group's representative: the accepted member with the smallest key."""
    members: dict[str, list[str]] = defaultdict(list)
    for key, rep in duplicate_groups(catalog).items():
        members[rep].append(key)
    rep_of: dict[str, str] = {}
    for keys in members.values():
        accepted = sorted(k for k in keys if by_key[k].status == Status.ACCEPTED)
        for k in keys:
            rep_of[k] = accepted[0] if accepted else min(keys)
    return rep_of


def _write_splits(
    catalog: Catalog, by_key: dict[str, ItemRow], rep_of: dict[str, str], split_of: dict[str, Split]
) -> list[SplitAssignment]:
    """Every item takes its representative's split (or none); returns the accepted ones."""
    assignments = []
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
    return assignments


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
