"""Source text with a lone UTF-16 surrogate (a title cut inside an emoji's pair by a site's
JavaScript, valid JSON ``"\\ud83d"``) is stored with U+FFFD instead of failing the item."""

from __future__ import annotations

import json

from schemas.catalog import Catalog
from schemas.items import SourceItem
from schemas.text_input import clean_strings, clean_text

LONE = json.loads('"Silk midi dress \\ud83d"')  # what a JSON-LD name cut at N UTF-16 units gives


def test_clean_text_replaces_a_lone_surrogate_and_joins_a_split_pair():
    assert clean_text(LONE) == "Silk midi dress \ufffd"
    assert clean_text("\ud83d\ude0d ok") == "\U0001f60d ok"
    assert clean_text("plain caf\u00e9 \U0001f60d") == "plain caf\u00e9 \U0001f60d"
    assert clean_strings({"a\udc00": ["x\ud800", ("y\ud800", 3)], "n": 1}) == {
        "a\ufffd": ["x\ufffd", ("y\ufffd", 3)],
        "n": 1,
    }


def test_a_source_item_with_a_lone_surrogate_is_cleaned_at_every_text_field():
    item = SourceItem(
        source="tiktok",
        source_id="7001",
        title=LONE,
        description="desc \ud83d",
        caption="cap \ude0d",
        designer="Halden \ud83d",
        colour="red \ud83d",
        category_path=["Clothing \ud83d"],
        hashtags=["ootd\ud83d"],
        metadata={"raw": {"name": LONE, "list": ["x\ud83d"]}},
    )
    assert item.title == "Silk midi dress \ufffd"
    assert (item.description, item.caption, item.designer, item.colour) == (
        "desc \ufffd",
        "cap \ufffd",
        "Halden \ufffd",
        "red \ufffd",
    )
    assert item.category_path == ["Clothing \ufffd"] and item.hashtags == ["ootd\ufffd"]
    assert item.metadata == {"raw": {"name": "Silk midi dress \ufffd", "list": ["x\ufffd"]}}
    json.loads(item.model_dump_json())  # serialisable: no PydanticSerializationError


def test_a_source_item_with_a_lone_surrogate_is_stored_in_the_catalog(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.upsert_items([SourceItem(source="netaporter", source_id="1001", title=LONE)])
        assert cat.get_item("netaporter", "1001").item.title == "Silk midi dress \ufffd"
