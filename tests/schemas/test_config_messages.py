"""load_config's messages: an unknown key says which known key was meant and where the keys are
documented (`mf config reference`, which works from an installed wheel: not "the README" or
docs/config.md); a bad override names its option, not the file; a YAML syntax error is one line with its line number; a config of another format is refused."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from schemas.config import load_config
from schemas.errors import ConfigError


class Dedup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_distance: int = Field(6, ge=0)
    frame_distance: int = Field(10, ge=0)


class Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(8, ge=2)
    lr: float = Field(0.01, gt=0)
    frames: list[int] = Field(default_factory=lambda: [5, 10])
    dedup: Dedup = Field(default_factory=Dedup)


def _write(tmp_path, text, name="cfg.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _error(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(Cfg, *args, **kwargs)
    text = str(exc.value)
    assert "\n" not in text, text
    return text


def test_an_unknown_key_points_at_the_config_reference_not_the_readme(tmp_path):
    p = _write(tmp_path, "dedup:\n  image_distnce: 3\n")
    text = _error(p)
    assert text.startswith(f"{p}: field 'dedup.image_distnce': ")
    assert "README" not in text and "docs/config.md" not in text  # neither ships in the wheel
    assert "`mf config reference --out -` lists the keys" in text


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("dedup:\n  image_distnce: 3\n", "dedup.image_distance"),
        ("dedup:\n  frame_distanse: 3\n", "dedup.frame_distance"),
        ("epoch: 3\n", "epochs"),
        ("batchsize: 4\n", "batch_size"),
    ],
)
def test_an_unknown_key_says_which_known_key_was_meant(tmp_path, text, meant):
    assert f"(did you mean '{meant}'?)" in _error(_write(tmp_path, text))


def test_an_unknown_key_like_no_known_one_gets_no_guess(tmp_path):
    text = _error(_write(tmp_path, "zzzzzz: 1\n"))
    assert "field 'zzzzzz'" in text and "did you mean" not in text


@pytest.mark.parametrize(
    ("overrides", "option"),
    [({"epochs": 0}, "--epochs"), ({"batch_size": 1}, "--batch-size"), ({"lr": -1.0}, "--lr")],
)
def test_a_bad_override_names_its_option_not_the_file(tmp_path, overrides, option):
    p = _write(tmp_path, "lr: 0.02\n")
    text = _error(p, **overrides)
    assert text.startswith(f"{option}: {next(iter(overrides.values()))!r}: "), text
    assert str(p) not in text


def test_a_bad_override_without_a_file_names_the_option_not_the_model():
    text = _error(None, epochs=0)
    assert text.startswith("--epochs: 0: ") and "Cfg" not in text


def test_option_names_map_a_field_to_the_option_it_came_from():
    from schemas.config import option_name

    text = _error(None, option_names={"epochs": "--snn-epochs"}, epochs=0)
    assert text.startswith("--snn-epochs: 0: "), text
    assert option_name("pool_size") == "--pool-size"


def test_an_override_that_is_not_finite_names_its_option():
    assert _error(None, lr=float("nan")).startswith("--lr: nan is not a finite number")


def test_an_item_of_a_list_override_is_named():
    assert _error(None, frames=[5, "x"]).startswith("--frames: item 1: 'x': ")


def test_an_error_in_the_file_still_names_the_file_beside_a_good_override(tmp_path):
    p = _write(tmp_path, "lr: 0\n")
    assert _error(p, epochs=3).startswith(f"{p}: field 'lr': ")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("dedup: {image_distance: 3\n", 2, "expected ',' or '}'"),
        ("epochs: 3\nlr: 0.1: 2\n", 2, "mapping values are not allowed here"),
        ("epochs: 3\nframes: [1, 2\nlr: 1\n", 3, ""),
    ],
)
def test_a_yaml_syntax_error_is_one_line_with_its_line_number(tmp_path, text, line, problem):
    p = _write(tmp_path, text)
    msg = _error(p)
    assert msg.startswith(f"{p}: line {line}: {problem}"), msg
    assert "<unicode string>" not in msg


@pytest.mark.parametrize("name", ["cfg.toml", "cfg.ini", "cfg.txt"])
def test_a_config_of_another_format_is_refused(tmp_path, name):
    p = _write(tmp_path, "[dedup]\nimage_distance = 3\n", name)
    msg = _error(p)
    assert msg.startswith(f"{p}: ") and "YAML" in msg and "JSON" in msg, msg


@pytest.mark.parametrize("name", ["cfg.yml", "cfg.YAML", "cfg"])
def test_yml_and_a_name_without_suffix_are_read_as_yaml(tmp_path, name):
    assert load_config(Cfg, _write(tmp_path, "epochs: 3\n", name)).epochs == 3


@pytest.mark.parametrize(
    "text, says",
    [
        ("lr: .nan\n", "field 'lr': nan is not a finite number"),  # gt=0 would say "greater than 0"
        ("epochs: no\n", "field 'epochs': False is a boolean, not a number"),  # ge=1: "greater than"
        ("batch_size: yes\n", "field 'batch_size': True is a boolean, not a number"),  # ge=2, read as 1
    ],
)
def test_a_bounded_field_says_nan_or_a_boolean_rather_than_its_bound(tmp_path, text, says):
    msg = _error(_write(tmp_path, text))
    assert says in msg and "greater than" not in msg, msg
