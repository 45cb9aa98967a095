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


@pytest.mark.parametrize("name", ["shops.csv", "shops.jsonl"])
def test_a_mapping_that_is_not_utf8_names_the_file_and_the_byte(tmp_path, name):
    m = tmp_path / name
    m.write_bytes(b"video_id,shop\n7300000000000000001,caf\xe9.jpg\n")
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(m)
    assert ei.value.where == str(m) and ei.value.message == "shop mapping is not UTF-8 text (byte 37)"


def test_a_shop_map_that_is_not_utf8_is_one_input_error_before_anything_is_created(tmp_path, capsys):
    """The finding: ``--shop-map`` of a Latin-1 CSV ended mf-collect with a traceback (exit 1)."""
    from collectors.cli import collect as mf_collect
    from tests.mf_cli import run_command

    m = tmp_path / "shops.csv"
    m.write_bytes(b"video_id,shop\n7300000000000000001,caf\xe9.jpg\n")
    video = "https://www.tiktok.com/@u/video/7300000000000000001"
    args = ["tiktok", video, "--shop-map", str(m), "--root", str(tmp_path / "data")]
    code, _, err = run_command(mf_collect, args, capsys)
    assert code == 2 and "Traceback" not in err, err
    assert f"{m}: shop mapping is not UTF-8 text (byte 37)" in err
    assert not (tmp_path / "data").exists()


def test_a_missing_mapping_is_named(tmp_path):
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(tmp_path / "nope.csv")
    assert ei.value.where == str(tmp_path / "nope.csv") and "not found" in ei.value.message
