"""`rebuild_splits` against a catalog: a killed rebuild leaves the old state, held-back products
keep their split, a change of mode is a change of rule, and the per-class guarantee of a fresh
assignment (a property test)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.splits import SPLIT_META_KEY, assign_splits, partition_test_seats, rebuild_splits, unit_hash
from schemas import catalog as catalog_module
from schemas.catalog import Catalog
from schemas.dataset import Split
from schemas.items import SourceItem, Status

ROOT = Path(__file__).resolve().parents[2]


def _add(cat: Catalog, part: str, cls: int, n: int, prefix: str = "") -> list[str]:
    """``n`` accepted products of one (class, partition); returns their source ids."""
    source = "netaporter" if part == "regular" else "tiktok"
    sids = [f"{prefix}{part[0]}{cls}x{i}" for i in range(n)]
    cat.upsert_items([SourceItem(source=source, source_id=s) for s in sids], status=Status.ACCEPTED)
    for s in sids:
        cat.set_item_state(source, s, product_id=s, df2_class=cls, partition=part)
    return sids


def _splits(path: Path) -> dict[tuple[str, str], str | None]:
    with Catalog(path) as cat:
        return {(r.item.source, r.item.source_id): r.split for r in cat.items()}


def _meta(path: Path) -> dict:
    with Catalog(path) as cat:
        return cat.get_meta(SPLIT_META_KEY)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """240 accepted products in four strata, split once with seed 0."""
    path = tmp_path_factory.mktemp("kill") / "seed0.sqlite"
    with Catalog(path) as cat:
        _add(cat, "regular", 1, 80)
        _add(cat, "regular", 2, 60)
        _add(cat, "hard", 1, 60)
        _add(cat, "hard", 5, 40)
        rebuild_splits(cat, seed=0)
    return path


@pytest.fixture(scope="module")
def reference(seeded: Path) -> tuple[Path, int]:
    """The seed-0 catalog after one uninterrupted rebuild with seed 3, and how many write
    statements that rebuild ran."""
    ref = seeded.with_name("ref.sqlite")
    shutil.copyfile(seeded, ref)
    with pytest.MonkeyPatch.context() as mp, Catalog(ref) as cat:
        seen = _kill_after_writes(mp, 10**9)
        rebuild_splits(cat, seed=3)
    return ref, seen[0]


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs and the open transaction is lost."""


def _kill_after_writes(monkeypatch, n: int) -> list[int]:
    """The catalog's connection dies at its (n+1)-th write statement; returns the count so far."""
    seen = [0]
    execute, executemany = catalog_module._Connection.execute, catalog_module._Connection.executemany

    def count(sql: str) -> None:
        if sql.lstrip().split(None, 1)[0].upper() in ("UPDATE", "INSERT", "DELETE", "REPLACE"):
            seen[0] += 1
            if seen[0] > n:
                raise _Killed

    def dying_execute(self, sql, args=()):
        count(sql)
        return execute(self, sql, args)

    def dying_executemany(self, sql, rows):
        count(sql)
        return executemany(self, sql, rows)

    monkeypatch.setattr(catalog_module._Connection, "execute", dying_execute)
    monkeypatch.setattr(catalog_module._Connection, "executemany", dying_executemany)
    return seen


@pytest.mark.parametrize("at", [0.0, 0.02, 0.5, 1.0])
def test_a_rebuild_killed_anywhere_reruns_to_the_uninterrupted_result(
    seeded, reference, tmp_path, monkeypatch, at
):
    reference, writes = reference
    assert writes > 40
    victim = tmp_path / "victim.sqlite"
    shutil.copyfile(seeded, victim)
    before = _splits(victim)
    _kill_after_writes(monkeypatch, min(round(at * writes), writes - 1))  # up to the last one
    with Catalog(victim) as cat, pytest.raises(_Killed):
        rebuild_splits(cat, seed=3)
    monkeypatch.undo()
    assert _splits(victim) == before and _meta(victim) == _meta(seeded)  # the old state, entirely
    with Catalog(victim) as cat:
        res = rebuild_splits(cat, seed=3)
    assert _splits(victim) == _splits(reference) and _meta(victim) == _meta(reference)
    assert res["test"] == sum(s == "test" for s in _splits(reference).values())


_SIGKILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from cleaning.splits import rebuild_splits
    from schemas import catalog as m
    from schemas.catalog import Catalog

    writes, real = [0], m._Connection.execute
    def execute(self, sql, args=()):
        if sql.lstrip().upper().startswith("UPDATE ITEMS"):
            writes[0] += 1
            if writes[0] > int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)
        return real(self, sql, args)
    m._Connection.execute = execute
    with Catalog(sys.argv[1]) as cat:
        rebuild_splits(cat, seed=3)
    """
)


def test_a_sigkilled_rebuild_leaves_the_old_splits_and_seed(seeded, reference, tmp_path):
    reference, _ = reference
    victim = tmp_path / "victim.sqlite"
    shutil.copyfile(seeded, victim)
    before = _splits(victim)
    proc = subprocess.run(
        [sys.executable, "-c", _SIGKILL_SCRIPT, str(victim), "10"], capture_output=True, cwd=ROOT
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert _splits(victim) == before and _meta(victim) == _meta(seeded)
    with Catalog(victim) as cat:
        assert rebuild_splits(cat, seed=3)["pinned"] == 0  # the seed changed: nothing is pinned
    assert _splits(victim) == _splits(reference)


@pytest.mark.parametrize("held", [Status.NEEDS_REVIEW, Status.REJECTED])
def test_a_held_back_product_keeps_its_split_and_returns_to_it(tmp_path, held):
    with Catalog(tmp_path / "c.sqlite") as cat:
        _add(cat, "regular", 1, 10)
        _add(cat, "regular", 2, 10)
        _add(cat, "hard", 1, 10)
        first = {a.product_id: a.split for a in rebuild_splits(cat)["assignments"]}
        victim = next(p for p, s in sorted(first.items()) if s == Split.TEST and p.startswith("r1"))
        cat.set_item_state("netaporter", victim, status=held)
        _add(cat, "regular", 1, 3, prefix="new")
        res = rebuild_splits(cat)
        assert victim not in {a.product_id for a in res["assignments"]}  # out of the quotas meanwhile
        assert res["products"] == 32
        assert cat.get_item("netaporter", victim).split == "test"  # but its split is remembered
        cat.set_item_state("netaporter", victim, status=Status.ACCEPTED)
        back = {a.product_id: a.split for a in rebuild_splits(cat)["assignments"]}
    assert back[victim] == Split.TEST
    assert all(back[p] == s for p, s in first.items())  # nothing moved


def test_a_held_back_product_loses_its_split_with_the_rule(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as cat:
        _add(cat, "regular", 1, 20)
        rebuild_splits(cat)
        cat.set_item_state("netaporter", "r1x0", status=Status.NEEDS_REVIEW)
        rebuild_splits(cat, seed=1)  # a new rule: the old pins, held back ones too, are gone
        assert cat.get_item("netaporter", "r1x0").split is None


def test_a_change_of_mode_is_a_change_of_rule(tmp_path):
    # ten Hard products that all hash to train: hash mode gives the partition no test product
    pids = [p for p in (f"h{i}" for i in range(100)) if unit_hash(f"tiktok-{p}", 0) >= 0.1][:10]
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.upsert_items([SourceItem(source="tiktok", source_id=p) for p in pids], status=Status.ACCEPTED)
        for p in pids:
            cat.set_item_state("tiktok", p, product_id=f"tiktok-{p}", df2_class=1, partition="hard")
        assert rebuild_splits(cat, mode="hash")["test"] == 0
        res = rebuild_splits(cat)
        assert res["pinned"] == 0 and res["test"] == 1
        assert cat.get_meta(SPLIT_META_KEY)["mode"] == "stable"
        assert rebuild_splits(cat)["pinned"] == 10


# -- the per-class guarantee of a fresh assignment --------------------------------------------


def _class_tally(prods, split) -> tuple[Counter, Counter]:
    tot, test = Counter(), Counter()
    for pid, cls, _ in prods:
        tot[cls] += 1
        test[cls] += split[pid] == Split.TEST
    return tot, test


@pytest.mark.parametrize("seed", range(8))
def test_every_class_gets_its_share_when_strata_tie(seed):
    # 6 products in each of classes 1-3 in both partitions: 2 seats per partition, every stratum
    # 0.6 of a seat; ties given to the lowest class ids left class 3 with 0 of 12 test products
    prods = [
        (f"{part}{cls}-{i}", cls, part) for part in ("regular", "hard") for cls in (1, 2, 3) for i in range(6)
    ]
    tot, test = _class_tally(prods, assign_splits(prods, seed=seed))
    assert all(abs(test[c] - Fraction(tot[c], 10)) <= 1 for c in tot), test


def test_seats_are_shared_across_partitions_when_a_class_would_run_over():
    # Regular: 3 of class 1, 2 of class 2 (one seat, class 1 has the larger remainder);
    # Hard: 5 of class 1 (one seat). Both seats to class 1 would give it 2 of 8.
    prods = [(f"r1-{i}", 1, "regular") for i in range(3)] + [(f"r2-{i}", 2, "regular") for i in range(2)]
    prods += [(f"h1-{i}", 1, "hard") for i in range(5)]
    tot, test = _class_tally(prods, assign_splits(prods, seed=0))
    assert test == Counter({1: 1, 2: 1}), test


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.dictionaries(
        st.tuples(st.integers(1, 13), st.sampled_from(["regular", "hard"])), st.integers(1, 40), min_size=1
    ),
    fraction=st.sampled_from([0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.75, 0.9]),
    seed=st.integers(0, 3),
)
def test_a_fresh_split_meets_every_partition_stratum_and_class_bound(sizes, fraction, seed):
    prods = [(f"{cls}{part}{i}", cls, part) for (cls, part), n in sorted(sizes.items()) for i in range(n)]
    split = assign_splits(prods, seed=seed, test_fraction=fraction)
    f = Fraction(str(fraction))
    test = Counter((cls, part) for pid, cls, part in prods if split[pid] == Split.TEST)
    for part in ("regular", "hard"):
        n = sum(v for k, v in sizes.items() if k[1] == part)
        assert sum(v for k, v in test.items() if k[1] == part) == partition_test_seats(n, fraction)
    for key, n in sizes.items():  # every stratum: the floor or the ceiling of its exact share
        assert abs(test[key] - f * n) < 1, (key, test[key], n)
    for cls in {k[0] for k in sizes}:  # every class, over both partitions: within one product
        n = sum(v for k, v in sizes.items() if k[0] == cls)
        got = sum(v for k, v in test.items() if k[0] == cls)
        assert abs(got - f * n) <= 1, (cls, got, n)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.integers(1, 4), st.sampled_from(["regular", "hard"])), min_size=1, max_size=25),
        min_size=2,
        max_size=5,
    ),
    seed=st.integers(0, 3),
)
def test_adding_products_never_moves_a_pinned_one(batches, seed):
    prods: list[tuple[str, int, str]] = []
    pinned: dict[str, Split] = {}
    for b, batch in enumerate(batches):
        prods += [(f"{b}-{i}", cls, part) for i, (cls, part) in enumerate(batch)]
        split = assign_splits(prods, seed=seed, pinned=pinned)
        assert all(split[p] == s for p, s in pinned.items())
        for part in ("regular", "hard"):  # never below the seats while new products were placed
            members = [p for p, _, pt in prods if pt == part]
            n_test = sum(split[p] == Split.TEST for p in members)
            fresh = [p for p in members if p not in pinned]
            seats = partition_test_seats(len(members), 0.1)
            pinned_test = sum(pinned.get(p) == Split.TEST for p in members)
            assert n_test == max(pinned_test, min(seats, pinned_test + len(fresh))), (part, n_test, seats)
        pinned = dict(split)
