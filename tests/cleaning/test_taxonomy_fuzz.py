"""Fuzzed taxonomy mapping: any metadata gives one of the documented outcomes, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.taxonomy import classify, classify_item, load_rules
from schemas.items import SourceItem, SourceName
from schemas.taxonomy import DF2_CLASSES

#: property-based exploration: many drawn examples, run by `make test`
pytestmark = pytest.mark.slow

RULES = load_rules()
WORDS = sorted({k.word for k in RULES.keywords})
SLEEVE_WORDS = ["sleeveless", "short-sleeved", "long sleeve", "strappy", "cap sleeve", "puff sleeve"]
#: The reasons a result may carry, per status (cleaning/taxonomy.py, taxonomy_rules.yaml).
REVIEW_REASONS = ("taxonomy: unknown_garment: ", "taxonomy: ambiguous: ", "taxonomy: no class for family ")

noise = st.text(max_size=40) | st.sampled_from(
    ["", " ", "#", "with", " with ", "-", "…", "\u200b", "(", "[a-z]+"]
)
token = st.sampled_from(WORDS) | st.sampled_from(SLEEVE_WORDS) | noise
phrase = st.lists(token, max_size=6).map(" ".join) | st.text(max_size=80)
maybe_phrase = st.none() | phrase


def _check(r) -> None:
    assert r.status in ("accepted", "rejected", "needs_review"), r
    if r.status == "accepted":
        assert r.df2_class in DF2_CLASSES and r.reason is None, r
    elif r.status == "rejected":
        assert r.df2_class is None and r.reason.startswith("taxonomy: non_clothing: "), r
    else:
        assert r.df2_class is None and r.reason.startswith(REVIEW_REASONS), r


@settings(max_examples=300, deadline=None)
@given(
    title=maybe_phrase,
    crumbs=st.none() | st.lists(phrase, max_size=4),
    description=maybe_phrase,
    caption=maybe_phrase,
    hashtags=st.none() | st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=5),
)
def test_any_metadata_gives_a_documented_outcome(title, crumbs, description, caption, hashtags):
    kwargs = dict(
        title=title, category_path=crumbs, description=description, caption=caption, hashtags=hashtags
    )
    r = classify(**kwargs, rules=RULES)
    _check(r)
    assert classify(**kwargs, rules=RULES) == r  # deterministic


@settings(max_examples=150, deadline=None)
@given(
    title=maybe_phrase,
    crumbs=st.lists(phrase, max_size=3),
    caption=maybe_phrase,
    tags=st.lists(st.text(max_size=10), max_size=4),
)
def test_any_collected_item_gives_a_documented_outcome(title, crumbs, caption, tags):
    item = SourceItem(
        source=SourceName.TIKTOK,
        source_id="x1",
        title=title,
        category_path=crumbs,
        caption=caption,
        hashtags=tags,
    )
    _check(classify_item(item, RULES))


@settings(max_examples=100, deadline=None)
@given(word=st.sampled_from(WORDS), pre=noise, post=noise)
def test_a_non_clothing_keyword_alone_is_rejected_and_any_keyword_is_documented(word, pre, post):
    r = classify(title=f"{pre} {word} {post}", rules=RULES)
    _check(r)
    kw = next(k for k in RULES.keywords if k.word == word)
    if kw.family.startswith("non_clothing:") and not pre.strip() and not post.strip():
        assert r.status == "rejected" and kw.family.split(":", 1)[1] in r.reason
