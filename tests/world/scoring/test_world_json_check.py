"""A world folder without a readable world.json is refused by one check, load_world's: scoring
the tracklets says what loading the world says (the same file named, the same words)."""

from __future__ import annotations

import pytest

from movingfashion.world.scoring.tracklets import truth_boxes_for_dataset
from movingfashion.world.truth import load_world
from schemas.errors import DataFormatError


def _said(fn, *args) -> str:
    with pytest.raises(DataFormatError) as err:
        fn(*args)
    return str(err.value)


def test_scoring_refuses_a_folder_without_world_json_as_load_world_does(tmp_path):
    world = tmp_path / "not-a-world"
    world.mkdir()
    said = _said(truth_boxes_for_dataset, tmp_path / "dataset", world)
    assert said == _said(load_world, world)
    assert str(world / "world.json") in said and "mf world generate" in said


def test_a_world_json_that_is_a_folder_is_refused_naming_it(tmp_path):
    (tmp_path / "world.json").mkdir()
    said = _said(load_world, tmp_path)
    assert str(tmp_path / "world.json") in said and "no world.json" in said
    assert said == _said(truth_boxes_for_dataset, tmp_path / "dataset", tmp_path)
