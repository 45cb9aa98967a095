"""Stable, stratified 90/10 train/test splits.

**Rule (``mode: stable``, the default).**

1. *Quotas.* Each partition (Regular, Hard) gets :func:`partition_test_seats` test products:
   ``round-half-up(test_fraction * n)`` and at least one when it has 5 products or more, so
   both partitions keep the same ratio. Each (DeepFashion2 class, partition) stratum gets the
   floor or the ceiling of its exact share ``f * n_stratum`` (:func:`stratum_quotas`): the
   ceilings that make up a partition's seats go first where they keep every class, counted over
   both partitions, within one product of ``f * n_class``, then inside the floor / ceiling of
   it, then to the strata with the largest fractional part (ties: the class furthest below its
   share, then the lower class id). Shares are exact (``0.1`` is 1/10).
2. *Who fills a quota.* Inside a stratum, products are ranked by
   ``u = sha256(f"{seed}:{product_id}")`` mapped to [0, 1); the lowest ``u`` take the test seats.
3. *Stability.* Once a product has a split it is **pinned**: the catalog remembers every
   assignment together with the rule that made it (seed, fraction and mode), and a rebuild
   under the same rule keeps each pinned product where it is. New products only fill what the
   (new) quotas still lack, in ``u`` order, so adding products never moves an existing one, and
   a stratum whose test share ran high receives new products in train until it is back on its
   quota. One exception, against leakage: a new item (or a duplicate found later) that links
   two placed groups, say it re-posts one product's video and carries another's shop image,
   merges them, and the merged group goes to test when one of them is in test (see *Groups*),
   so a train product moves to test; the rebuild reports every such move in ``moved`` (and
   ``mf splits rebuild`` warns). When pinned products leave a partition short of its seats (its
   strata's quotas fall on strata whose products are all pinned in train), the missing seats go
   to new products of the partition's other strata, the stratum furthest below its exact share
   first, so a partition never ends below its seats while it has new products to place; new
   products never take a partition past its seats (pinned test products already count).
4. *Held back.* A product that leaves ``accepted`` (``needs_review``, rejected in review, ...)
   keeps its split in the catalog but is out of the quotas meanwhile: its stratum and partition
   count accepted products only, so a new product may take the seat it left. Accepted again
   (under the same rule), it returns to its split as a pinned product; its stratum and partition
   may then run one above their quota, and new products go to train there until the quota
   catches up. A test product therefore never comes back in train.

**What holds.** A fresh assignment (the first rebuild, ``--reassign``, or a new rule: nothing
pinned) meets all of: every partition exactly its seats; every stratum the floor or the
ceiling of its exact share; every class, over both partitions, within one product of its exact
share (``|test - f * n_class| <= 1``; 1 can be reached: 5 Regular and 5 Hard products of one
class take one seat each, 2 for an exact share of 1) whenever no partition owes a seat to the
at-least-one rule alone, which is always the case for ``f >= 0.1`` (a partition of 5 then makes
half a seat); below that, the rule can put a class less than two products above its share.
With pinned products only rule 3 holds: nothing pinned moves (but for a merge of placed groups,
reported in ``moved``), and each partition ends on its seats unless pinned test products
already exceed them or it runs out of new products; strata and classes get no bound beyond
what the new products can make up.

From a fresh catalog the split is a deterministic function of (the set of product ids, their
classes and partitions, seed); with history it also depends on the pinned assignments.
``mode: hash`` is the memory-less alternative: test iff ``u < test_fraction``, a pure function
of (product id, seed), stratified only in expectation (46/1 on a 47-product world is possible).
``reassign=True`` (``mf splits rebuild --reassign``) forgets the pins and redraws every
split from scratch, which may move products; so does a change of seed, fraction or mode.
The rule of a rebuild is :func:`split_rule`: each field given (an option, or a key the config
file sets), else the recorded one, else the defaults; ``mf publish`` always keeps the recorded
rule (:func:`cleaning.publish.publish_rule`), so neither moves a product unless asked to.

**Groups.** All videos of a product belong to the product. Duplicate items follow the item
they duplicate (their kept representative), and items whose shop images are duplicates of
each other share one split (:func:`duplicate_groups`); a group's split is
the split of its representative. The representative is the accepted member that already holds a
split under the recorded rule (several: the smallest key), else the accepted member with the
smallest key; and a group is pinned by every member's recorded split (test when any member is
in test), so an item joining a group (a re-listing of the same shop image whose key sorts first)
never moves the group's existing product, and a held-back member's split holds its group too.
Only an item joining two placed groups of different splits moves a product (from train to
test), reported in ``moved``.

**Atomic.** :func:`rebuild_splits` reads the catalog and writes every split, the rule and its
event in one transaction: a rebuild killed anywhere leaves the catalog as it was, and the
rerun ends where an uninterrupted run would have.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from cleaning.clean_lock import cleaned
from cleaning.config import CleaningConfig
from cleaning.mih import UnionFind
from cleaning.steps.state import item_key
from schemas.catalog import Catalog, ItemRow, put_meta
from schemas.dataset import Split, SplitAssignment
from schemas.errors import CatalogError, ConfigError
from schemas.items import Status
from schemas.redact import redacted_logger
from schemas.taxonomy import Partition

log = redacted_logger("cleaning.splits")

#: Catalog meta key holding the rule (seed, fraction, mode) behind the pinned splits.
SPLIT_META_KEY = "splits"
MODES = ("stable", "hash")


def unit_hash(product_id: str, seed: int) -> float:
    """Deterministic uniform value in [0, 1) of a product id and a seed."""
    digest = hashlib.sha256(f"{seed}:{product_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_test_fraction(test_fraction: float, where: str = "test_fraction") -> float:
    """``test_fraction`` if ``0 < test_fraction < 1`` (the bound of the config's field), else
    :class:`ConfigError` naming ``where``."""
    if not (isinstance(test_fraction, int | float) and 0 < test_fraction < 1):  # NaN fails too
        raise ConfigError(
            f"the share of products in test must be greater than 0 and less than 1, got {test_fraction}",
            where=where,
            hint="e.g. 0.1 for a 90/10 split",
        )
    return float(test_fraction)


#: The rule of a catalog that recorded none: the config's defaults ``split_seed``/``test_fraction``.
DEFAULT_RULE: dict[str, Any] = {
    "seed": CleaningConfig.model_fields["split_seed"].default,
    "test_fraction": CleaningConfig.model_fields["test_fraction"].default,
    "mode": "stable",
}


def recorded_rule(catalog: Catalog) -> dict[str, Any] | None:
    """The rule (``seed``, ``test_fraction``, ``mode``) the catalog recorded at its last
    rebuild (any publish records one), or None when it recorded none."""
    rec = catalog.get_meta(SPLIT_META_KEY)
    if not (isinstance(rec, dict) and "seed" in rec and "test_fraction" in rec):
        return None
    return {"mode": "stable", **{k: rec[k] for k in DEFAULT_RULE if k in rec}}  # older: no mode


def split_rule(catalog: Catalog, **given: Any) -> dict[str, Any]:
    """The rule a rebuild uses. Precedence, per field: a value ``given`` (not None: an option,
    or a key the config file sets), then the rule the catalog recorded, then :data:`DEFAULT_RULE`.
    So a rebuild that sets nothing keeps the recorded rule and moves no product."""
    unknown = set(given) - set(DEFAULT_RULE)
    if unknown:
        raise TypeError(f"unknown split rule fields: {sorted(unknown)}")
    base = recorded_rule(catalog) or DEFAULT_RULE
    return {**base, **{k: v for k, v in given.items() if v is not None}}


def describe_rule(rule: Mapping[str, Any]) -> str:
    """``seed 0, test_fraction 0.1`` (and ``mode hash`` when not stable), for messages."""
    text = ", ".join(f"{k} {rule[k]}" for k in ("seed", "test_fraction") if k in rule)
    return text + (f", mode {rule['mode']}" if rule.get("mode", "stable") != "stable" else "")


def _share(test_fraction: float) -> Fraction:
    """The fraction as written (``0.1`` is 1/10, not the nearest binary float), so shares are exact."""
    return Fraction(repr(float(test_fraction)))


def partition_test_seats(n: int, test_fraction: float) -> int:
    """Test products of a partition of ``n``: ``round-half-up(test_fraction * n)``, and at least
    one when ``n >= 5`` (a small partition still gets a test product)."""
    seats = math.floor(_share(test_fraction) * n + Fraction(1, 2))
    return max(seats, 1) if n >= 5 else seats


#: A lexicographic cost: (classes outside one product of their share, classes outside the floor /
#: ceiling of their share, -stratum remainder, class squared deviation, class id); see stratum_quotas.
_Cost = tuple[int, ...]


def stratum_quotas(sizes: Mapping[tuple[int, str], int], test_fraction: float) -> dict[tuple[int, str], int]:
    """Test seats per (class, partition) stratum of a fresh assignment: every partition gets exactly
    :func:`partition_test_seats`, every stratum the floor or the ceiling of its exact share, and the
    ceilings go where they keep every class (over all partitions) within one product of its share,
    then inside the floor / ceiling of it, then to the largest remainders (a controlled rounding
    of the class x partition table, solved as a small min-cost flow)."""
    f = _share(test_fraction)
    p, q = f.numerator, f.denominator
    quotas = {k: (p * n) // q for k, n in sizes.items()}
    parts = sorted({k[1] for k in sizes})
    classes = sorted({k[0] for k in sizes})
    ceilable = sorted(k for k, n in sizes.items() if (p * n) % q)
    # nodes: 0 source, then partitions, ceilable strata, classes, and the sink
    node = {("p", x): 1 + i for i, x in enumerate(parts)}
    node.update({("s", k): 1 + len(parts) + i for i, k in enumerate(ceilable)})
    node.update({("c", c): 1 + len(parts) + len(ceilable) + i for i, c in enumerate(classes)})
    sink = 1 + len(node)
    arcs: list[tuple[int, int, int, _Cost]] = []
    arc_of: dict[tuple[int, str], int] = {}
    amount = 0
    for part in parts:
        keys = [k for k in sizes if k[1] == part]
        extra = partition_test_seats(sum(sizes[k] for k in keys), test_fraction) - sum(
            quotas[k] for k in keys
        )
        arcs.append((0, node[("p", part)], extra, (0, 0, 0, 0, 0)))
        amount += extra
    for k in ceilable:  # a stratum's ceiling: the larger its remainder, the cheaper
        arc_of[k] = len(arcs)
        arcs.append((node[("p", k[1])], node[("s", k)], 1, (0, 0, -((p * sizes[k]) % q), 0, k[0])))
        arcs.append((node[("s", k)], node[("c", k[0])], 1, (0, 0, 0, 0, 0)))
    for c in classes:
        total = p * sum(n for k, n in sizes.items() if k[0] == c)  # q times the class's exact share
        base = sum(quotas[k] for k in sizes if k[0] == c)
        for t in range(base + 1, base + 1 + sum(k[0] == c for k in ceilable)):  # its t-th test seat
            wide = -1 if t * q < total else int(t * q > total + q)
            strict = -1 if t <= total // q else int(t > -(-total // q))
            arcs.append((node[("c", c)], sink, 1, (wide, strict, 0, 2 * (t * q - total) - q, 0)))
    flow = _min_cost_flow(sink + 1, arcs, 0, sink, amount)
    for k, i in arc_of.items():
        quotas[k] += flow[i]
    return quotas


def _min_cost_flow(
    n: int, arcs: list[tuple[int, int, int, _Cost]], source: int, sink: int, amount: int
) -> list[int]:
    """Flow on each arc of a cheapest flow of up to ``amount`` units (successive shortest paths,
    Bellman-Ford; costs are tuples compared lexicographically)."""
    out: list[list[int]] = [[] for _ in range(n)]
    head: list[int] = []
    cap: list[int] = []
    cost: list[_Cost] = []
    for u, v, c, w in arcs:
        for a, b, cc, ww in ((u, v, c, w), (v, u, 0, tuple(-x for x in w))):
            out[a].append(len(head))
            head.append(b)
            cap.append(cc)
            cost.append(ww)
    for _ in range(amount):
        dist: list[_Cost | None] = [None] * n
        dist[source] = (0,) * len(cost[0])
        via = [-1] * n
        for _ in range(n):
            changed = False
            for u in range(n):
                du = dist[u]
                if du is None:
                    continue
                for e in out[u]:
                    if cap[e] > 0:
                        d = tuple(a + b for a, b in zip(du, cost[e], strict=True))
                        dv = dist[head[e]]
                        if dv is None or d < dv:
                            dist[head[e]], via[head[e]] = d, e
                            changed = True
            if not changed:
                break
        if dist[sink] is None:
            break
        v = sink
        while v != source:
            e = via[v]
            cap[e] -= 1
            cap[e ^ 1] += 1
            v = head[e ^ 1]
    return [cap[2 * i + 1] for i in range(len(arcs))]


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
    check_test_fraction(test_fraction)
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


def test_seats_short(placed: Iterable[tuple[str, str]], test_fraction: float) -> dict[str, dict[str, int]]:
    """The partitions whose test products fall short of their :func:`partition_test_seats`
    (``placed``: (partition, split) of each product): partition -> products, seats, test. Pinned
    train products never move to test, so a partition whose test products were taken down stays
    short until new products come (or ``--reassign`` redraws every split)."""
    sizes: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    for part, split in placed:
        sizes[str(part)] += 1
        tests[str(part)] += str(split) == Split.TEST
    out = {}
    for part in sorted(sizes):
        seats = partition_test_seats(sizes[part], test_fraction)
        if tests[part] < seats:
            out[part] = {"products": sizes[part], "seats": seats, "test": tests[part]}
    return out


def warn_short(short: Mapping[str, Mapping[str, int]]) -> None:
    """One stderr line per partition of :func:`test_seats_short`."""
    for part, n in short.items():
        log.warning(
            "the %s partition has %d test products of the %d its %d products call for%s: new products"
            " (and held-back ones once accepted) fill it as they come; `mf splits rebuild --reassign`"
            " redraws every split now (products then move between train and test)",
            part,
            n["test"],
            n["seats"],
            n["products"],
            " (its evaluation is empty)" if n["test"] == 0 else "",
        )


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

            def deficit(k: tuple[int, str]) -> tuple[Fraction, int]:
                n_test = sum(out[p] == Split.TEST for p in strata[k])
                return (n_test - _share(test_fraction) * len(strata[k]), k[0])

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
    representative's split; held-back products keep theirs while the rule holds. In ``stable``
    mode, products that already hold a split made with the same seed, fraction and mode keep it
    (``reassign=True`` forgets them). Everything (the splits, the rule in the catalog's meta, the
    event) is written in one transaction: a rebuild killed anywhere leaves the catalog as it was.
    Returns the assignments, the counts per stratum, how many products were pinned / newly
    placed, and ``moved``: every product (accepted or held back) whose split changed, with
    ``from``, ``to`` and ``because`` (under a kept rule only a merge of two placed groups moves one).
    """
    test_fraction = check_test_fraction(test_fraction)
    rule = {"seed": seed, "test_fraction": test_fraction, "mode": mode}
    with cleaned(catalog.path), catalog.transaction() as db:  # read and write under one write lock
        by_key = {item_key(r.item.source, r.item.source_id): r for r in catalog.items()}
        recorded = catalog.get_meta(SPLIT_META_KEY) or {}
        recorded = {"mode": "stable", **recorded}  # catalogs from before hash mode
        same_rule = all(recorded.get(k) == v for k, v in rule.items())
        keep = mode == "stable" and same_rule and not reassign
        rep_of = _representatives(catalog, by_key, pinned=keep)
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
        pinned: dict[str, str] = {}
        if keep:  # a group is pinned by any member's split: test when one member is in test
            for key, r in by_key.items():
                rep = by_key[rep_of[key]]
                if (
                    rep.status == Status.ACCEPTED
                    and rep.product_id
                    and r.split in ("train", "test")
                    and pinned.get(rep.product_id) != "test"
                ):
                    pinned[rep.product_id] = r.split
        split_of = assign_splits(products, seed=seed, test_fraction=test_fraction, mode=mode, pinned=pinned)
        assignments, changed = _write_splits(db, by_key, rep_of, split_of, keep_held=keep)
        moved = _moved(changed, by_key, rep_of, keep=keep, reassign=reassign)
        now = _now()
        put_meta(db, SPLIT_META_KEY, rule, at=now)  # in this transaction, with the splits
        db.execute(
            "INSERT INTO events (at, stage, message) VALUES (?, ?, ?)",
            (
                now,
                "splits",
                f"rebuilt: seed={seed} mode={mode} products={len(assignments)} pinned={len(pinned)}"
                + (f" moved={len(moved)}" if moved else ""),
            ),
        )
    counts = Counter((a.df2_class, str(a.partition), str(a.split)) for a in assignments)
    strata: dict[str, dict[str, int]] = {}
    for (cls, part, split), n in sorted(counts.items()):
        strata.setdefault(f"{cls}/{part}", {"train": 0, "test": 0})[split] = n
    n_test = sum(1 for a in assignments if a.split == Split.TEST)
    short = (
        {}
        if mode == "hash"
        else test_seats_short(((str(a.partition), str(a.split)) for a in assignments), test_fraction)
    )
    warn_short(short)
    return {
        "test_seats_short": short,
        "products": len(assignments),
        "test": n_test,
        "train": len(assignments) - n_test,
        "seed": seed,
        "mode": mode,
        "pinned": len(pinned),
        "placed": len(products) - len(pinned),
        "stratum_counts": strata,
        "moved": moved,
        "assignments": assignments,
    }


def _moved(
    changed: dict[str, tuple[str | None, str | None]],
    by_key: dict[str, ItemRow],
    rep_of: dict[str, str],
    *,
    keep: bool,
    reassign: bool,
) -> list[dict[str, str]]:
    """The products (accepted or held back) among ``changed`` items (key -> (old, new) split) that
    went from one split to the other, with why: the members of their group already in the new
    split (a merge of placed groups), or the new rule / ``--reassign`` that redrew every split."""
    out = []
    for key, (old, new) in sorted(changed.items()):
        r = by_key[key]
        if old not in ("train", "test") or new not in ("train", "test") or r.product_id is None:
            continue
        if r.status not in (Status.ACCEPTED, Status.NEEDS_REVIEW):
            continue  # a duplicate follows its product, which is reported
        if keep:
            holders = sorted(
                k
                for k, rep in rep_of.items()
                if rep == rep_of[key] and k != key and by_key[k].split == new and k not in changed
            )
            because = f"its duplicate group now holds {', '.join(holders) or 'a product'} (in {new})"
        else:
            because = (
                "--reassign redrew every split"
                if reassign
                else "the split rule (seed, fraction, mode) changed"
            )
        out.append(
            {"product": r.product_id, "item": key, "from": str(old), "to": str(new), "because": because}
        )
    return out


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


def _representatives(catalog: Catalog, by_key: dict[str, ItemRow], *, pinned: bool = False) -> dict[str, str]:
    """Item key -> its group's representative: the accepted member with the smallest key, or,
    with ``pinned`` (the recorded rule holds), the accepted member with the smallest key among
    those that already hold a split, so a newcomer never takes over a placed group."""
    members: dict[str, list[str]] = defaultdict(list)
    for key, rep in duplicate_groups(catalog).items():
        members[rep].append(key)
    rep_of: dict[str, str] = {}
    for keys in members.values():
        accepted = sorted(k for k in keys if by_key[k].status == Status.ACCEPTED)
        placed = [k for k in accepted if by_key[k].split in ("train", "test")] if pinned else []
        for k in keys:
            rep_of[k] = (placed or accepted or [min(keys)])[0]
    return rep_of


def _write_splits(
    db: Any,
    by_key: dict[str, ItemRow],
    rep_of: dict[str, str],
    split_of: dict[str, Split],
    *,
    keep_held: bool,
) -> tuple[list[SplitAssignment], dict[str, tuple[str | None, str | None]]]:
    """Every item takes its representative's split; an item without one (held back, or in a
    held-back group) keeps its own when ``keep_held``, else loses it. Writes, through ``db`` (an
    open transaction), only the items whose split changes; returns one assignment per product (its
    group's accepted representative: items carrying one shop image are one product) and the
    changed items (key -> (old split, new split))."""
    assignments = []
    changed: dict[str, tuple[str | None, str | None]] = {}
    now = _now()
    for key, r in sorted(by_key.items()):
        rep = by_key[rep_of[key]]
        split = split_of.get(rep.product_id) if rep.product_id else None
        if split is None or r.status not in (Status.ACCEPTED, Status.DUPLICATE, Status.NEEDS_REVIEW):
            value = r.split if keep_held else None
        else:
            value = str(split)
        if r.split != value:
            changed[key] = (r.split, value)
            db.execute(
                "UPDATE items SET split = ?, updated_at = ? WHERE source = ? AND source_id = ?",
                (value, now, str(r.item.source), r.item.source_id),
            )
        if r.status == Status.ACCEPTED and split is not None and rep_of[key] == key:  # one per product
            assignments.append(
                SplitAssignment(
                    product_id=r.product_id, split=split, df2_class=r.df2_class, partition=r.partition
                )
            )
    return assignments, changed


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


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
