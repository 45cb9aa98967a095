"""Safe names: one path component of letters, digits, '.', '_', '-' (schemas.naming)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.core import CollectContext, safe_id
from schemas.items import SourceItem, SourceName
from schemas.naming import check_safe_name


@pytest.mark.parametrize("name", ["7001", "a.b-c_d", "A" * 128, "v1.0"])
def test_plain_names_are_safe(name):
    assert check_safe_name(name) == name and safe_id(name) == name


@pytest.mark.parametrize(
    "name",
    ["7001\n", "7001\r\n", "70\n01", "7001\t", "7001\x00", "7001\x7f", "7001\x85", "\n7001"],
)
def test_a_control_character_anywhere_is_refused_a_final_newline_too(name):
    with pytest.raises(ValueError, match="control character"):
        check_safe_name(name)
    assert safe_id(name) is None
    ctx = CollectContext.__new__(CollectContext)  # item_dir needs only the root
    ctx.root = Path("/collection")
    with pytest.raises(ValueError):
        ctx.item_dir(SourceName.TIKTOK, name)
    with pytest.raises(ValueError):
        SourceItem(source=SourceName.TIKTOK, source_id=name)


@pytest.mark.parametrize("name", ["", "A" * 129, "../x", "a/b", "a\\b", ".hidden", "-x", "a..b", "é", "a b"])
def test_other_unsafe_names_are_refused(name):
    with pytest.raises(ValueError):
        check_safe_name(name)
