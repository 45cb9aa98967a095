"""Text inputs a user hands a command: UTF-8 or one input error naming the file and the byte."""

from __future__ import annotations

import pytest

from schemas.errors import DataFormatError, MFError
from schemas.text_input import read_text_input


def test_utf8_text_is_read_whole_and_a_byte_order_mark_is_dropped(tmp_path):
    f = tmp_path / "list.txt"
    f.write_bytes("café\r\nthé\n".encode())
    assert read_text_input(f, "list").splitlines() == ["café", "thé"]
    f.write_bytes(b"\xef\xbb\xbf" + "café\n".encode())
    assert read_text_input(f, "list") == "café\n"


@pytest.mark.parametrize(("data", "byte"), [(b"caf\xe9\n", 3), (b"\xef\xbb\xbfcaf\xe9\n", 6)])
def test_text_that_is_not_utf8_names_the_file_and_the_byte_of_the_file(tmp_path, data, byte):
    f = tmp_path / "list.txt"
    f.write_bytes(data)
    with pytest.raises(DataFormatError) as ei:
        read_text_input(f, "URL list")
    assert ei.value.where == str(f) and ei.value.message == f"URL list is not UTF-8 text (byte {byte})"
    assert ei.value.hint == "save it as UTF-8"


def test_a_missing_file_or_a_folder_is_named(tmp_path):
    with pytest.raises(DataFormatError) as ei:
        read_text_input(tmp_path / "nope.csv", "shop mapping")
    assert ei.value.where == str(tmp_path / "nope.csv") and ei.value.message == "shop mapping not found"
    with pytest.raises(DataFormatError) as ei:
        read_text_input(tmp_path, "shop mapping")
    assert ei.value.where == str(tmp_path) and ei.value.message.startswith("cannot read shop mapping: ")


def test_a_saved_info_json_that_is_not_utf8_is_an_input_error_not_a_traceback(tmp_path):
    """The finding (``collectors.ytdl.load_info_file``): a Latin-1 ``.info.json`` raised a bare
    UnicodeDecodeError, which no CLI turns into a one-line error (exit 1 with a traceback)."""
    from collectors.ytdl import load_info_file

    f = tmp_path / "v.info.json"
    f.write_bytes(b'{"id": "7300000000000000001", "title": "caf\xe9"}')
    with pytest.raises(MFError) as ei:
        load_info_file(f)
    assert isinstance(ei.value, DataFormatError) and ei.value.where == str(f)
    assert ei.value.message == "info file is not UTF-8 text (byte 43)"
