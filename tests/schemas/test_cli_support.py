"""emit: a ``--json`` document is RFC 8259 JSON whatever the result holds (NaN, numpy numbers)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from schemas.cli_support import emit, plain


def _strict(text: str):
    """Parse as jq, JavaScript or Go would: NaN and Infinity are not JSON."""

    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@dataclass
class _Result:
    top1: np.float32
    queries: np.int64
    mean: list[float]


def test_json_output_is_strict_json_with_null_for_what_is_not_a_number(capsys):
    result = {
        "attention": {"mean": [0.1, float("nan")], "max": float("inf"), "min": -math.inf},
        "bins": np.array([0.5, np.nan, 2.0]),
    }
    emit(result, True)
    got = _strict(capsys.readouterr().out)
    assert got == {"attention": {"max": None, "mean": [0.1, None], "min": None}, "bins": [0.5, None, 2.0]}


def test_numpy_numbers_stay_numbers(capsys):
    emit(
        {"top1": np.float32(0.5), "queries": np.int64(12), "ok": np.bool_(True), "rows": np.arange(3)},
        True,
    )
    got = _strict(capsys.readouterr().out)
    assert got == {"ok": True, "queries": 12, "rows": [0, 1, 2], "top1": 0.5}
    assert type(got["queries"]) is int and type(got["top1"]) is float


def test_plain_converts_numpy_inside_dataclasses():
    got = plain(_Result(np.float32(0.25), np.int64(3), [1.0, float("nan")]))
    assert got == {"top1": 0.25, "queries": 3, "mean": [1.0, None]}
    assert type(got["top1"]) is float and type(got["queries"]) is int


@pytest.mark.parametrize("value", ["text", 3, 2.5, None, True])
def test_plain_keeps_ordinary_values(value):
    assert plain(value) == value and type(plain(value)) is type(value)
