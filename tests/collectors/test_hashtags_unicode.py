"""``hashtags_in`` keeps a tag whole: combining marks, Indic vowel signs and joiners do not end
it, and the NFC and NFD (macOS) forms of one caption give the same NFC tags."""

from __future__ import annotations

import unicodedata

import pytest

from collectors.core import hashtags_in


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#\u0938\u093e\u0921\u093c\u0940 #ootd", ["\u0938\u093e\u0921\u093c\u0940", "ootd"]),  # saree
        (
            "#\u06a9\u062a\u200c\u0648\u200c\u0634\u0644\u0648\u0627\u0631",
            ["\u06a9\u062a\u200c\u0648\u200c\u0634\u0644\u0648\u0627\u0631"],
        ),
        ("#caf\u00e9 #robe", ["caf\u00e9", "robe"]),
        ("#ootd#fashion, #a_b. a#b ## #1", ["ootd", "fashion", "a_b", "b", "1"]),
        ("#ootd\u200d\U0001f469 done", ["ootd"]),  # an emoji's joiner does not stay on the tag
        (None, []),
    ],
)
def test_a_tag_runs_to_whitespace_or_punctuation_marks_and_joiners_included(text, tags):
    assert hashtags_in(text) == tags


def test_the_nfd_form_of_a_caption_gives_the_same_nfc_tags():
    caption = "Robe #caf\u00e9 #cr\u00e8me"
    assert (
        hashtags_in(unicodedata.normalize("NFD", caption))
        == hashtags_in(caption)
        == ["caf\u00e9", "cr\u00e8me"]
    )
