"""Taxonomy input that is not plain ASCII or not well-formed: Unicode dashes in titles, and rules
files whose fields have the wrong shape (one ConfigError naming file and field, never a traceback
or a silent misreading)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaning.taxonomy import DEFAULT_RULES, classify, load_rules
from schemas.errors import ConfigError
from schemas.taxonomy import DF2_IDS


@pytest.mark.parametrize(
    ("title", "ascii_title"),
    [
        ("T\u2010shirt", "T-shirt"),  # hyphen
        ("T\u2011shirt", "T-shirt"),  # non-breaking hyphen
        ("T\u2013shirt", "T-shirt"),  # en dash
        ("T\u2212shirt", "T-shirt"),  # minus sign
        ("\uff34-\uff53\uff48\uff49\uff52\uff54", "T-shirt"),  # full-width letters
        ("T\u2011shirt dress", "T-shirt dress"),
        ("Short\u2010sleeve jacket", "Short-sleeve jacket"),
        ("Off\u2011the\u2011shoulder dress", "Off-the-shoulder dress"),
    ],
)
def test_unicode_dashes_and_full_width_letters_classify_like_ascii(title, ascii_title):
    want = classify(title=ascii_title)
    got = classify(title=title)
    assert want.status == "accepted"
    assert (got.status, got.df2_class) == (want.status, want.df2_class)


def test_unicode_dash_t_shirt_is_short_sleeved_not_long():
    assert classify(title="Cotton T\u2010shirt").df2_class == DF2_IDS["short_sleeved_shirt"]


def _rules(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rules.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("garments:\n  - dress\n", "garments[0]"),
        ("garments: {family: dress}\n", "garments must be a list"),
        ("non_clothing: [bag, shoe]\n", "non_clothing must be a mapping"),
        ("sleeves: [short]\n", "sleeves must be a mapping"),
        ("classes:\n  shorts: [shorts]\n", "classes.shorts"),
        ("classes:\n  top: {medium: vest}\n", "classes.top: sleeve 'medium'"),
        ("garments:\n  - {family: dress, words: dress}\n", "garments[0].words must be a list of words"),
        ("non_clothing:\n  bag: handbag\n", "non_clothing.bag must be a list of words"),
        ("sleeves:\n  short: tee\n", "sleeves.short must be a list of words"),
        ("garments:\n  - {family: dress, words: [dress, [gown]]}\n", "garments[0].words"),
    ],
)
def test_malformed_rules_fields_raise_a_config_error_naming_file_and_field(tmp_path, text, field):
    path = _rules(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert err.value.where == str(path)
    assert field in err.value.message


def test_a_words_string_is_refused_not_read_letter_by_letter(tmp_path):
    text = DEFAULT_RULES.read_text(encoding="utf-8").replace(
        "words: [skirt, skort, miniskirt, maxi skirt, midi skirt, mini skirt, sarong]", "words: skirt"
    )
    assert "words: skirt}" in text
    path = _rules(tmp_path, text)
    with pytest.raises(ConfigError, match=r"garments\[\d+\]\.words must be a list of words"):
        load_rules(path)


def test_the_packaged_rules_still_load():
    rules = load_rules()
    assert rules.keywords and rules.sleeves and rules.classes


def test_a_rules_file_is_read_as_a_config_file_is(tmp_path):
    """The rules file named by a clean config had none of a config file's protections: Latin-1
    gave a traceback, a YAML error four lines, a key given twice went unseen, and an alias bomb
    of 318 bytes gave a 5 MB error line."""
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"non_clothing: {bags: [caf\xe9]}\n")
    with pytest.raises(ConfigError, match=r"taxonomy rules file is not UTF-8 text \(byte 25\)"):
        load_rules(latin)
    with pytest.raises(ConfigError) as err:
        load_rules(_rules(tmp_path, "non_clothing: [\n"))
    assert "\n" not in str(err.value) and "line 2" in str(err.value)
    with pytest.raises(ConfigError, match="key 'non_clothing' is given twice"):
        load_rules(_rules(tmp_path, "non_clothing: {bags: [bag]}\nnon_clothing: {}\n"))
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 7):
        bomb += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n"
    with pytest.raises(ConfigError) as err:
        load_rules(_rules(tmp_path, bomb + "non_clothing: *a6\n"))
    # refused as it is read (it stands for 10**7 values), in one short line
    assert "expand to more than 1,000,000 values" in str(err.value) and len(str(err.value)) < 400
