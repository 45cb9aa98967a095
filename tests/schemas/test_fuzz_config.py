"""Fuzzed config files: every stage's config (what ``mf config show`` prints), mutated and written
as YAML or JSON, loads or raises one ConfigError naming the file, never another exception."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, ConfigDict

from movingfashion.app.config_reference import STAGES
from schemas.config import load_config
from schemas.errors import ConfigError
from tests.fuzz_json import assert_clear, damage, encode, mutate, randoms

FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILE_STAGES = [name for name, stage in STAGES.items() if stage.file]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_frames: int = 10
    mode: str = "fast"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    probe: _Section = _Section()
    epochs: int = 1


def _write(path, doc) -> None:
    try:
        path.write_bytes(yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass"))
    except (yaml.YAMLError, RecursionError):  # what the dumper cannot write: the JSON text instead
        path.write_bytes(encode(doc))


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("probe:\n  1: false\n", "probe.1", "Keys should be strings"),  # was a TypeError
        ("probe:\n  1.5: yes\n", "probe.1.5", "Keys should be strings"),  # was a TypeError
        ("probe:\n  x: no\n", "probe.x", "Extra inputs are not permitted"),  # was "boolean, not a number"
        ("probe:\n  mode: no\n", "probe.mode", "valid string"),  # was "boolean, not a number"
        ("epochs: no\n", "epochs", "is a boolean, not a number"),
    ],
)
def test_a_key_or_a_text_field_yaml_reads_otherwise_is_named(tmp_path, text, field, words):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"field '{field}': .*{words}") as exc:
        load_config(_Config, path)
    assert exc.value.where == str(path)


#: every stage as JSON; YAML (PyYAML reads a config in tens of ms) for two of them, to stay cheap
CASES = [(name, ".json") for name in FILE_STAGES] + [("train", ".yaml"), ("world", ".yaml")]


@pytest.mark.parametrize(("stage", "suffix"), CASES)
@settings(FUZZ)
@given(rng=randoms)
def test_a_mutated_stage_config_loads_or_is_one_config_error(tmp_path, stage, suffix, rng):
    entry = STAGES[stage]
    doc = mutate(rng, json.loads(json.dumps(entry.load_config(None).model_dump(mode="json"))))
    path = tmp_path / f"cfg{suffix}"
    if suffix == ".json":
        path.write_bytes(encode(doc))
    else:
        _write(path, doc)
    if rng.random() < 0.3:
        path.write_bytes(damage(rng, path.read_bytes(), deep=suffix == ".json"))
    assert_clear(entry.load_config, path, ConfigError)
