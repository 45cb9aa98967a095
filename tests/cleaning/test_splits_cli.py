"""`mf splits rebuild` checks its numeric options: one line naming the option, exit 2, nothing
written; the bound of --test-fraction is the config's."""

from __future__ import annotations

import pytest

from cleaning.config import CleaningConfig
from cleaning.splits import SPLIT_META_KEY, rebuild_splits
from schemas.catalog import Catalog
from schemas.config import load_config
from schemas.errors import ConfigError
from tests.cleaning.split_catalogs import regular_catalog
from tests.mf_cli import run_mf


def _mf(args: list[str], capsys) -> tuple[int, str]:
    """``mf ARGS``: (exit code, stderr)."""
    code, _, err = run_mf(args, capsys)
    return code, err


@pytest.fixture()
def catalog(tmp_path):
    """20 accepted Regular products of class 1, split once (seed 0, fraction 0.1)."""
    return regular_catalog(tmp_path / "c.sqlite")


def _state(path):
    with Catalog(path) as cat:
        return cat.get_meta(SPLIT_META_KEY), sorted((r.item.source_id, r.split) for r in cat.items())


@pytest.mark.parametrize("value", ["1.5", "-0.5", "0", "1", "nan", "inf", "-inf"])
def test_a_test_fraction_outside_0_1_exits_2_naming_the_option(catalog, capsys, value):
    before = _state(catalog)
    code, err = _mf(["splits", "rebuild", "--catalog", str(catalog), f"--test-fraction={value}"], capsys)
    assert code == 2 and "--test-fraction" in err and len(err.strip().splitlines()) == 1, err
    assert _state(catalog) == before  # nothing written


@pytest.mark.parametrize("value", ["1.5", "-0.5", "0", "1", "nan", "0.3", "0.999"])
def test_the_option_takes_the_bound_of_the_config(catalog, capsys, value):
    try:
        load_config(CleaningConfig, None, test_fraction=float(value))
        config_ok = True
    except ConfigError:
        config_ok = False
    code, _ = _mf(["splits", "rebuild", "--catalog", str(catalog), f"--test-fraction={value}"], capsys)
    assert (code == 0) == config_ok


def test_a_test_fraction_given_is_the_one_used(catalog, capsys):
    code, err = _mf(["splits", "rebuild", "--catalog", str(catalog), "--test-fraction", "0.3"], capsys)
    assert code == 0, err
    meta, splits = _state(catalog)
    assert meta["test_fraction"] == 0.3 and sum(s == "test" for _, s in splits) == 6


@pytest.mark.parametrize("value", ["x", "1.5", ""])
def test_a_seed_that_is_not_an_integer_exits_2_naming_the_option(catalog, capsys, value):
    before = _state(catalog)
    code, err = _mf(["splits", "rebuild", "--catalog", str(catalog), f"--seed={value}"], capsys)
    assert code == 2 and "--seed" in err, err
    assert _state(catalog) == before


@pytest.mark.parametrize("value", ["-1", str(2**80)])
def test_any_integer_seed_is_a_seed(catalog, capsys, value):  # as split_seed in the config
    code, err = _mf(["splits", "rebuild", "--catalog", str(catalog), f"--seed={value}"], capsys)
    assert code == 0, err
    assert _state(catalog)[0]["seed"] == int(value)
    code, _ = _mf(["splits", "rebuild", "--catalog", str(catalog), f"--seed={value}"], capsys)
    with Catalog(catalog) as cat:  # the same rule again: everything pinned
        assert cat.events("splits")[-1]["message"].endswith("pinned=20")


def test_rebuild_splits_refuses_a_test_fraction_outside_0_1(catalog):
    with Catalog(catalog) as cat, pytest.raises(ConfigError, match="test_fraction"):
        rebuild_splits(cat, test_fraction=1.5)
