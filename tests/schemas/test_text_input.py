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


#: Latin-1 text: the first byte that is not UTF-8 is at offset 13
LATIN1 = b'{"a": "x", "caf\xe9": 1}\n'
LATIN1_BYTE = 15


def _one_utf8_line(err: str, path) -> None:
    """One stderr line naming ``path``, the first byte that is not UTF-8 and what to do."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0], err
    assert f"not UTF-8 text (byte {LATIN1_BYTE})" in lines[0] and "save it as UTF-8" in lines[0], err


def test_a_world_json_that_is_not_utf8_is_one_line_naming_it(tmp_path, capsys):
    """Before: a bare UnicodeDecodeError (a traceback) from every command taking --world."""
    from tests.mf_cli import run_mf

    world = tmp_path / "world"
    world.mkdir()
    (world / "world.json").write_bytes(LATIN1)
    for args in (
        ["world", "pictures", "--world", str(world), "--out", str(tmp_path / "p")],
        ["world", "export-gt", "--world", str(world), "--out", str(tmp_path / "g")],
    ):
        code, _, err = run_mf(args, capsys)
        assert code == 2, err
        _one_utf8_line(err, world / "world.json")


def test_a_world_ground_truth_file_that_is_not_utf8_is_named(small_world, tmp_path):
    """Before: a bare UnicodeDecodeError from load_video_gt (mf world score, export-gt, pictures)."""
    import shutil

    from movingfashion.world.truth import load_video_gt, load_world

    world = tmp_path / "world"
    world.mkdir()
    shutil.copy(small_world / "world.json", world / "world.json")
    shutil.copytree(small_world / "gt", world / "gt")
    video = load_world(world).videos[0]
    (world / video.gt).write_bytes(LATIN1)
    with pytest.raises(DataFormatError) as ei:
        load_video_gt(world, video)
    assert ei.value.where == str(world / video.gt) and ei.value.hint.startswith("save it as UTF-8")
    assert f"not UTF-8 text (byte {LATIN1_BYTE})" in ei.value.message


def test_a_yolo_data_yaml_that_is_not_utf8_says_so(tmp_path, capsys):
    """Before: "cannot read the data yaml: 'utf-8' codec can't decode byte 0xe9 in position 15:
    invalid continuation byte" and the data yaml's format as the hint."""
    from tests.mf_cli import run_mf

    data = tmp_path / "data.yaml"
    data.write_bytes(LATIN1)
    code, _, err = run_mf(["train-detector", "--data", str(data), "--out", str(tmp_path / "o")], capsys)
    assert code == 2, err
    _one_utf8_line(err, data)


def test_a_deepfashion2_annotation_or_index_that_is_not_utf8_gives_the_byte(tmp_path):
    """Before: "cannot read the annotation (UnicodeDecodeError)" (no byte, no hint), and an
    index's "not a Multi-DeepFashion2 index (UnicodeDecodeError: 'utf-8' codec can't ...)"."""
    from movingfashion.deepfashion2.reader import read_annotation
    from movingfashion.multidf2 import read_index

    anno = tmp_path / "000001.json"
    anno.write_bytes(LATIN1)
    for read in (read_annotation, lambda p: read_index(p, "train")):
        with pytest.raises(DataFormatError) as ei:
            read(anno)
        assert ei.value.where == str(anno) and ei.value.hint.startswith("save it as UTF-8")
        assert f"not UTF-8 text (byte {LATIN1_BYTE})" in ei.value.message


def test_a_cvat_xml_without_another_encoding_that_is_not_utf8_says_so(tmp_path):
    """Before: expat's "not well-formed (invalid token): line 1, column 15"; a file that declares
    its encoding (ISO-8859-1) is still read as declared."""
    from annotations.exchange.cvat import read_cvat

    xml = tmp_path / "annotations.xml"
    xml.write_bytes(b"<annotations><version>1.1</version><x>caf\xe9</x></annotations>")
    with pytest.raises(DataFormatError) as ei:
        read_cvat(xml)
    assert ei.value.message == "CVAT XML is not UTF-8 text (byte 41)" and ei.value.hint == "save it as UTF-8"
    xml.write_bytes(
        b'<?xml version="1.0" encoding="ISO-8859-1"?><annotations><version>1.1</version><x>caf\xe9</x></annotations>'
    )
    read_cvat(xml)  # read as Latin-1, as declared


def test_entries_jsonl_counts_the_byte_from_the_start_of_the_file(tmp_path):
    """Before: the byte was counted from the start of its line, and the hint was dropped."""
    from schemas.dataset import read_entry_rows

    f = tmp_path / "entries.jsonl"
    first = b'{"product_id": "1"}\n'
    f.write_bytes(first + LATIN1)
    with pytest.raises(DataFormatError) as ei:
        read_entry_rows(f)
    assert ei.value.message == f"line 2: not UTF-8 text (byte {len(first) + LATIN1_BYTE})"
    assert ei.value.hint == "save it as UTF-8"


def test_json_a_command_wrote_keeps_its_own_hint_after_the_utf8_one(tmp_path, capsys):
    """`mf report RESULTS`: the hint said only to rerun mf evaluate, not that the file must be UTF-8."""
    from tests.mf_cli import run_mf

    results = tmp_path / "results.json"
    results.write_bytes(LATIN1)
    code, _, err = run_mf(["report", str(results), "--out", str(tmp_path / "r")], capsys)
    assert code == 2, err
    _one_utf8_line(err, results)
    assert "save it as UTF-8, or rerun `mf evaluate" in err


def test_config_reference_check_of_a_file_that_is_not_utf8_says_stale(tmp_path, capsys):
    """`mf config reference --out F --check`: a file that is not UTF-8 was a UnicodeDecodeError
    traceback; it is simply not the reference (exit 1, regenerate it)."""
    from tests.mf_cli import run_mf

    f = tmp_path / "config.md"
    f.write_bytes(LATIN1)
    code, _, err = run_mf(["config", "reference", "--out", str(f), "--check"], capsys)
    assert code == 1 and "stale" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("data", "as_bytes", "as_text"),
    [
        (b'{"a": 1}', {"a": 1}, {"a": 1}),
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}, None),  # a byte order mark: JSON only as bytes
        ('{"a": 1}'.encode("utf-16"), {"a": 1}, None),
        (b'{"a": "\xed\xa0\x80"}', {"a": "\ud800"}, None),  # an encoded surrogate: not strict UTF-8
        (b'{"a": "caf\xe9"}', None, None),
    ],
)
def test_the_lenient_json_reader_reads_bytes_or_strict_utf8_text(tmp_path, data, as_bytes, as_text):
    """``read_json_record(path, utf8_only=True)`` answers as the readers that read
    ``Path.read_text(encoding="utf-8")`` and caught its errors did (describe.read_manifest, the
    crop cache's and training copy's metas, library_state, part_resume), so they share it."""
    from schemas.text_input import read_json_record

    f = tmp_path / "r.json"
    f.write_bytes(data)
    assert read_json_record(f) == as_bytes
    assert read_json_record(f, utf8_only=True) == as_text


def test_the_lenient_json_reader_reads_at_most_max_bytes(tmp_path):
    """``max_bytes`` bounds the read as ``atomic.lock_holder`` bounded its own (a lock record
    is at most 4 KiB and a newline): the file is cut there, not read whole."""
    from schemas.text_input import read_json_record

    f = tmp_path / "lock"
    f.write_bytes(b'{"pid": 1}' + b" " * 100 + b"garbage past the record")
    assert read_json_record(f) is None
    assert read_json_record(f, max_bytes=110) == {"pid": 1}
    assert read_json_record(f, max_bytes=5) is None
