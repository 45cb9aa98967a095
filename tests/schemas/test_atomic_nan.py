"""``atomic_write_json`` writes RFC 8259 JSON only: a NaN or an infinity is refused, naming the
file and the value's JSON path, and nothing is written."""

from __future__ import annotations

import json

import pytest

from schemas.atomic import NotFiniteJSON, atomic_write_json
from schemas.errors import DataFormatError


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ({"a": [1, float("nan")]}, "$.a[1]"),
        ({"stats": {"mean iou": float("inf")}}, '$.stats["mean iou"]'),
        ([{"x": 1}, {"x": -float("inf")}], "$[1].x"),
        ({3: (0.5, float("nan"))}, '$["3"][1]'),
    ],
)
def test_a_non_finite_float_is_refused_naming_the_file_and_its_path(tmp_path, obj, where):
    target = tmp_path / "report.json"
    with pytest.raises(NotFiniteJSON) as info:
        atomic_write_json(target, obj)
    assert str(target) in str(info.value) and where in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DataFormatError)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_the_old_file_stays_when_a_new_value_is_not_finite(tmp_path):
    target = tmp_path / "report.json"
    atomic_write_json(target, {"a": [1, None]})
    with pytest.raises(ValueError, match=r"\$\.a\[1\]"):
        atomic_write_json(target, {"a": [1, float("nan")]})
    assert json.loads(target.read_text()) == {"a": [1, None]}


def test_a_lone_surrogate_with_a_nan_is_refused_too(tmp_path):
    with pytest.raises(NotFiniteJSON, match=r"\$\.b"):
        atomic_write_json(tmp_path / "x.json", {"a": "\ud83d", "b": float("nan")})
