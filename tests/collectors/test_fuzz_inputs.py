"""mf-collect inputs found by fuzzing: malformed URLs in targets and list lines, a shop map CSV
field over the csv module's limit, a target name no file can have, JSON Python cannot load.
Each is one input error naming the file (and line) or TARGETS, exit 2, nothing created."""

from __future__ import annotations

import pytest

from collectors.cli import collect as mf_collect
from collectors.shopmap import load_shop_map
from collectors.ytdl import load_info_file
from schemas.errors import DataFormatError
from tests.mf_cli import run_command

BAD_URL = "http://[::1/x.mp4"  # an unclosed IPv6 bracket: urlsplit raises ValueError
VIDEO = "https://www.tiktok.com/@u/video/7300000000000000001"


def _collect(tmp_path, capsys, *args: str) -> str:
    """Run mf-collect --dry-run; assert one input error (exit 2, no traceback, nothing created)."""
    code, _, err = run_command(mf_collect, [*args, "--root", str(tmp_path / "data"), "--dry-run"], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert not (tmp_path / "data").exists()
    return err


@pytest.mark.parametrize("source", ["urls", "tiktok", "netaporter"])
def test_a_malformed_url_in_a_list_names_the_file_and_line(tmp_path, capsys, source):
    urls = tmp_path / "list.txt"
    urls.write_text(f"# picks\n{BAD_URL}\n")
    err = _collect(tmp_path, capsys, source, str(urls))
    assert f"{urls} line 2: '{BAD_URL}' is not a valid URL" in err


@pytest.mark.parametrize("source", ["urls", "tiktok", "netaporter"])
def test_a_malformed_url_target_is_an_input_error(tmp_path, capsys, source):
    assert f"TARGETS: '{BAD_URL}' is not a valid URL" in _collect(tmp_path, capsys, source, BAD_URL)


def test_a_malformed_shop_image_url_names_the_list_line(tmp_path, capsys):
    urls = tmp_path / "list.txt"
    urls.write_text(f"https://example.com/v/1.mp4 {BAD_URL}\n")
    assert f"{urls} line 1: '{BAD_URL}' is not a valid URL" in _collect(tmp_path, capsys, "urls", str(urls))


@pytest.mark.parametrize("source", ["urls", "tiktok", "instagram"])
def test_a_target_too_long_for_a_file_name_is_an_input_error(tmp_path, capsys, source):
    """A 300-character target (a pasted caption): Path.is_file() raised ENAMETOOLONG."""
    assert "cannot read target" in _collect(tmp_path, capsys, source, "x" * 300)


def test_a_netaporter_id_file_too_long_for_a_file_name_is_an_input_error(tmp_path, capsys):
    assert "cannot read target" in _collect(tmp_path, capsys, "netaporter", "@" + "x" * 300)


def test_a_shop_map_csv_field_over_the_csv_limit_names_file_and_line(tmp_path, capsys):
    m = tmp_path / "shops.csv"
    m.write_text('video_id,shop\n7300000000000000001,"' + "x" * 200000 + '"\n')
    err = _collect(tmp_path, capsys, "tiktok", VIDEO, "--shop-map", str(m))
    assert f"{m}: line 2: field larger than field limit" in err


@pytest.mark.parametrize(
    "line",
    ['{"video": "1", "shop": ' + "1" * 5000 + "}", "[" * 100000 + "]" * 100000],
    ids=["5000 digits", "deep nesting"],
)
def test_a_shop_map_json_line_python_cannot_load_names_file_and_line(tmp_path, line):
    m = tmp_path / "map.jsonl"
    m.write_text('{"video": "1", "shop": "a.jpg"}\n' + line + "\n")
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(m)
    assert ei.value.where == f"{m} line 2"


@pytest.mark.parametrize(
    "text",
    [
        '{"id": "1", "n": ' + "1" * 5000 + "}",
        "[" * 100000 + "]" * 100000,
        '{"id": "1"}\n{"id": ' + "1" * 5000 + "}",
    ],
    ids=["5000 digits", "deep nesting", "5000 digits on a JSON line"],
)
def test_a_saved_info_json_python_cannot_load_names_the_file(tmp_path, text):
    p = tmp_path / "v.info.json"
    p.write_text(text)
    with pytest.raises(DataFormatError) as ei:
        load_info_file(p)
    assert str(p) in ei.value.where and "yt-dlp" in str(ei.value)
