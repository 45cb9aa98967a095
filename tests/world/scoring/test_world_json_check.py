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


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{}", "world.json does not parse: field 'seed': Field required; 2 more problem(s)"),
        ('{"seed": 1, "products": [], "videos": 5}', "world.json does not parse: field 'videos': "),
        ('{\n "seed": 1,\n "prod', "world.json does not parse: Invalid JSON: EOF while parsing"),
    ],
    ids=["empty object", "wrong type", "cut short"],
)
def test_a_world_json_that_does_not_parse_names_the_field(tmp_path, text, said):
    """The finding: pydantic's first two lines were pasted in ("3 validation errors for
    WorldTruth seed"), naming no field's problem; now the field, what is wrong, and how many more."""
    (tmp_path / "world.json").write_text(text)
    message = _said(load_world, tmp_path)
    assert message.startswith(f"{tmp_path / 'world.json'}: {said}"), message
    assert "validation error" not in message and "\n" not in message
