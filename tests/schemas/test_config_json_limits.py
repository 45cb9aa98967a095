"""A config file whose number has more digits than Python converts (over 4300: PyYAML's int
constructor and ``json.loads`` raise ValueError) is a ConfigError naming the file, never a
traceback (mf-collect, mf clean, mf-tracklets and mf world all read configs this way)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from schemas.config import load_config
from schemas.errors import ConfigError


class Cfg(BaseModel):
    timeout: int = 10


@pytest.mark.parametrize(
    ("suffix", "text"),
    [(".yaml", "timeout: " + "1" * 5000 + "\n"), (".json", '{"timeout": ' + "1" * 5000 + "}")],
    ids=["yaml", "json"],
)
def test_a_number_of_5000_digits_is_a_config_error_naming_the_file(tmp_path, suffix, text):
    path = tmp_path / f"cfg{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError, match="4300 digits") as err:
        load_config(Cfg, path)
    assert str(err.value).startswith(f"{path}: ")


def test_malformed_json_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text('{"timeout": 5,\n "x": }')
    with pytest.raises(ConfigError, match="malformed JSON at line 2 column 7") as err:
        load_config(Cfg, path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_key_given_twice_is_still_named(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text('{"timeout": 5, "timeout": 6}')
    with pytest.raises(ConfigError, match="given twice"):
        load_config(Cfg, path)
