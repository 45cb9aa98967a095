"""One precedence of the split rule for `mf splits rebuild` and `mf publish`: the rule the
catalog recorded wins unless the user sets one. `splits rebuild` takes it, field by field, from
--seed/--test-fraction/--mode, then the keys the --config file sets, then the recorded rule;
`mf publish` never moves a split: a config that sets another rule is not used, and one stderr
line says so and names `mf splits rebuild --config FILE`."""

from __future__ import annotations

import json

import pytest

from cleaning.splits import SPLIT_META_KEY
from schemas.catalog import Catalog
from tests.cleaning.split_catalogs import regular_catalog
from tests.mf_cli import run_mf


@pytest.fixture()
def catalog(tmp_path):
    """20 accepted Regular products of class 1, split once with seed 5, fraction 0.3."""
    return regular_catalog(tmp_path / "c.sqlite", seed=5, test_fraction=0.3)


def _state(path) -> tuple[dict, list[tuple[str, str]]]:
    with Catalog(path) as cat:
        return cat.get_meta(SPLIT_META_KEY), sorted((r.item.source_id, r.split) for r in cat.items())


def _rebuild(catalog, capsys, *extra: str) -> tuple[int, dict, str]:
    code, out, err = run_mf(["splits", "rebuild", "--catalog", str(catalog), *extra, "--json"], capsys)
    return code, json.loads(out) if code == 0 else {}, err


def test_a_plain_rebuild_keeps_the_recorded_rule(catalog, capsys):
    meta, before = _state(catalog)
    code, res, err = _rebuild(catalog, capsys)
    assert code == 0, err
    assert res["moved"] == [] and res["seed"] == 5 and "moved" not in err
    assert _state(catalog) == (meta, before)  # seed 5 / 0.3 kept, no product moved
    assert meta["seed"] == 5 and meta["test_fraction"] == 0.3


def test_a_config_without_a_rule_keeps_the_recorded_rule(catalog, capsys, tmp_path):
    cfg = tmp_path / "other.yaml"
    cfg.write_text("association_check: false\n")  # sets no split_seed / test_fraction
    before = _state(catalog)
    code, res, err = _rebuild(catalog, capsys, "--config", str(cfg))
    assert code == 0, err
    assert res["moved"] == [] and _state(catalog) == before


def test_a_config_that_sets_a_rule_wins_key_by_key(catalog, capsys, tmp_path):
    cfg = tmp_path / "seed.yaml"
    cfg.write_text("split_seed: 9\n")  # test_fraction left out: the recorded 0.3 holds
    code, _, err = _rebuild(catalog, capsys, "--config", str(cfg))
    assert code == 0, err
    meta, splits = _state(catalog)
    assert (meta["seed"], meta["test_fraction"]) == (9, 0.3)
    assert sum(s == "test" for _, s in splits) == 6


def test_an_option_wins_over_the_config(catalog, capsys, tmp_path):
    cfg = tmp_path / "split.yaml"
    cfg.write_text("split_seed: 9\ntest_fraction: 0.5\n")
    code, _, err = _rebuild(catalog, capsys, "--config", str(cfg), "--seed", "11")
    assert code == 0, err
    meta, splits = _state(catalog)
    assert (meta["seed"], meta["test_fraction"]) == (11, 0.5)
    assert sum(s == "test" for _, s in splits) == 10


def test_a_new_rule_moves_products_with_its_warning(catalog, capsys, tmp_path):
    cfg = tmp_path / "split.yaml"
    cfg.write_text("test_fraction: 0.5\n")
    code, res, err = _rebuild(catalog, capsys, "--config", str(cfg))
    assert code == 0, err
    assert res["moved"] and "the split rule (seed, fraction, mode) changed" in err


def test_a_plain_rebuild_keeps_a_recorded_hash_mode(catalog, capsys):
    code, _, err = _rebuild(catalog, capsys, "--mode", "hash")
    assert code == 0, err
    before = _state(catalog)
    code, res, err = _rebuild(catalog, capsys)
    assert code == 0, err
    assert res["mode"] == "hash" and res["moved"] == [] and _state(catalog) == before


def test_the_rule_without_a_record_is_the_given_one_else_the_defaults(tmp_path):
    from cleaning.publish import publish_rule
    from cleaning.splits import split_rule

    with Catalog(tmp_path / "empty.sqlite") as cat:
        assert split_rule(cat) == {"seed": 0, "test_fraction": 0.1, "mode": "stable"}
        assert split_rule(cat, seed=3) == {"seed": 3, "test_fraction": 0.1, "mode": "stable"}
        assert publish_rule(cat, test_fraction=0.2) == (
            {"seed": 0, "test_fraction": 0.2, "mode": "stable"},
            None,
        )


def test_publish_keeps_the_recorded_rule_and_returns_the_one_it_ignores(catalog):
    from cleaning.publish import publish_rule

    recorded = {"seed": 5, "test_fraction": 0.3, "mode": "stable"}
    with Catalog(catalog) as cat:
        assert publish_rule(cat) == (recorded, None)
        assert publish_rule(cat, seed=5, test_fraction=0.3) == (recorded, None)  # the same: no word
        assert publish_rule(cat, seed=5, test_fraction=0.5) == (recorded, {"seed": 5, "test_fraction": 0.5})
        assert publish_rule(cat, seed=0) == (recorded, {"seed": 0})


def test_mf_publish_with_another_rule_keeps_the_splits_and_says_so(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    out, cfg, same = tmp_path / "ds", tmp_path / "split.yaml", tmp_path / "same.yaml"
    cfg.write_text("split_seed: 5\ntest_fraction: 0.5\n")
    same.write_text("split_seed: 0\ntest_fraction: 0.1\n")  # the rule the fixture recorded
    base = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    code, first, err = run_mf([*base, "--json"], capsys)
    assert code == 0, err
    before = _state(catalog_copy), (out / "test.json").read_bytes()
    code, stdout, err = run_mf([*base, "--config", str(cfg), "--json"], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert (_state(catalog_copy), (out / "test.json").read_bytes()) == before  # nothing moved
    assert res["test"] == json.loads(first)["test"]
    assert res["split_rule"] == {"seed": 0, "test_fraction": 0.1, "mode": "stable"}
    assert res["split_rule_ignored"] == {"seed": 5, "test_fraction": 0.5}
    lines = [line for line in err.splitlines() if "split rule" in line]
    assert len(lines) == 1, err
    assert str(cfg) in lines[0] and "seed 0, test_fraction 0.1" in lines[0]
    assert (
        "seed 5, test_fraction 0.5" in lines[0] and f"mf splits rebuild --catalog {catalog_copy}" in lines[0]
    )
    code, stdout, err = run_mf([*base, "--config", str(same)], capsys)  # human output, same rule
    assert code == 0, err
    assert "split rule" not in err and "split_rule_ignored" not in stdout
