"""Invisible format characters inside a garment word (an HTML ``&shy;`` become U+00AD, a
zero-width space, a word joiner) and Turkish upper case do not change how a title is read."""

from __future__ import annotations

import pytest

from cleaning.taxonomy import classify


def _reading(title: str) -> tuple[str, int | None, str | None]:
    r = classify(title=title)
    return r.status, r.df2_class, r.evidence.get("title")


@pytest.mark.parametrize(
    ("plain", "odd"),
    [
        ("Cotton T-shirt", "Cotton T\u00ad-shirt"),
        ("Cotton T-shirt", "Cotton T-\u200bshirt"),
        ("Linen sweatshirt", "Linen sweat\u00adshirt"),
        ("Denim miniskirt", "Denim mini\u2060skirt"),
        ("Silk slip dress", "Silk slip dre\u00adss"),
        ("Silk slip dress", "Silk slip dr\u200cess"),
        ("Silk slip dress", "Silk slip dr\u200de\ufeffss"),
        ("Denim shirt", "DEN\u0130M SH\u0130RT"),
        ("Mini skirt", "MINI SK\u0130RT"),
    ],
)
def test_an_invisible_character_or_turkish_capital_i_reads_like_the_plain_title(plain, odd):
    assert _reading(odd) == _reading(plain)
    assert _reading(plain)[0] == "accepted"


def test_a_t_shirt_with_a_soft_hyphen_is_class_1_not_a_long_sleeve_shirt():
    assert _reading("Cotton T\u00ad-shirt") == ("accepted", 1, "t-shirt")
