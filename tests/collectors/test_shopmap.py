"""Shop mapping files: malformed JSON lines are refused naming the file and the line."""

from __future__ import annotations

import pytest

from collectors.shopmap import load_shop_map
from schemas.errors import DataFormatError


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[1, 2]", "line 2: expected a JSON object, got list"),
        ('"7300"', "line 2: expected a JSON object, got str"),
        ("7300", "line 2: expected a JSON object, got int"),
        ('{"video": [1], "shop": "a.jpg"}', "line 2: 'video' must be a string or a number, got list"),
        ('{"video": "1", "shop": {"url": "x"}}', "line 2: 'shop' must be a string, got dict"),
    ],
)
def test_a_row_that_is_not_a_mapping_object_names_file_and_line(tmp_path, line, says):
    m = tmp_path / "map.jsonl"
    m.write_text('{"video": "1", "shop": "a.jpg"}\n' + line + "\n")
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(m)
    assert ei.value.where == str(m) and ei.value.message == says


def test_numeric_video_ids_still_map(tmp_path):
    m = tmp_path / "map.jsonl"
    m.write_text('{"video": 7300, "shop": "https://x.example/1.jpg"}\n')
    assert load_shop_map(m)["7300"].url == "https://x.example/1.jpg"
