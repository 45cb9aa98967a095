import pytest

from schemas.errors import ConfigError, DataFormatError
from schemas.text_input import load_json


@pytest.mark.parametrize(
    "text,words",
    [
        ("{", "malformed JSON at line 1"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
        ("1" * 5000, "out of range"),
        (b"\xff\xfe{", "not UTF-8"),
    ],
)
def test_every_way_json_fails_is_one_error_naming_the_file(text, words):
    with pytest.raises(DataFormatError, match=words) as exc:
        load_json(text, "a/b.json")
    assert exc.value.where == "a/b.json"


def test_the_error_class_and_hint_are_the_callers():
    with pytest.raises(ConfigError) as exc:
        load_json("{", "c.yaml", ConfigError, hint="fix it")
    assert "fix it" in str(exc.value)
    assert load_json('{"a": [1, 2.5]}', "x") == {"a": [1, 2.5]}
