"""The official split reader on JSON ``json.loads`` refuses beyond a syntax error (a number of more
than 4300 digits: ValueError; nesting deeper than the stack: RecursionError): one
DataFormatError naming the file, as ``mf schema validate`` and the loader report it (exit 2)."""

from __future__ import annotations

import pytest

from schemas.errors import DataFormatError
from schemas.official import read_official, read_official_rows

ENTRY = '{"P1": {"video_paths": ["videos/p_0.mp4"], "img_path": "imgs/p.jpg", "source": SOURCE}}'


@pytest.mark.parametrize(
    ("source", "words"),
    [("1" * 5000, "4300 digits"), ("[" * 100_000 + "]" * 100_000, "nested too deeply")],
    ids=["5000 digits", "deep"],
)
@pytest.mark.parametrize("read", [read_official, read_official_rows], ids=["whole", "rows"])
def test_json_that_does_not_load_names_the_file(tmp_path, source, words, read):
    path = tmp_path / "train.json"
    path.write_text(ENTRY.replace("SOURCE", source))
    with pytest.raises(DataFormatError, match=words) as err:
        read(path)
    assert str(err.value).startswith(f"{path}: ") and len(str(err.value).splitlines()) == 1
