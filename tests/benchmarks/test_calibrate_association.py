"""``benchmarks/calibrate_association.py``'s command line: a ``--world`` that is not
``PRODUCTS:SEED`` is a usage error before any world is generated (was: a ValueError traceback
once the worlds before it had been generated and cleaned)."""

from __future__ import annotations

import pytest

from .conftest import load_script


@pytest.mark.parametrize("bad", ["40", "40:x", "40:1:2", "0:7"])
def test_a_bad_world_is_a_usage_error_naming_it(bad, capsys):
    ap = load_script("calibrate_association").parser()
    with pytest.raises(SystemExit) as exc:
        ap.parse_args(["--world", "40:5150", "--world", bad])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exc.value.code == 2 and "--world" in err and repr(bad) in err, err


def test_worlds_are_products_and_seed():
    ap = load_script("calibrate_association").parser()
    assert ap.parse_args(["--world", "40:5150", "--world", "32:6161"]).world == [(40, 5150), (32, 6161)]
