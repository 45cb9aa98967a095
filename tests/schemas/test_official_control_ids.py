"""A product id holding a control character is refused at read time, naming the file and the
product: no file name, tracklet file or log line can show it (before: read, then a training copy
stopped on a path error naming neither the split file nor the product)."""

from __future__ import annotations

import json

import pytest

from schemas.errors import DataFormatError
from schemas.official import read_official, read_official_heads, read_official_rows


def _entry() -> dict:
    return {
        "video_paths": ["videos/1_0.mp4"],
        "img_path": "imgs/1.jpg",
        "source": 0,
        "tracklets": [{"0": [1, 2, 3, 4]}],
    }


@pytest.mark.parametrize("pid", ["a\x00b", "a\nb", "a\tb", "a\x85b"])
def test_a_control_character_in_a_product_id_is_refused_naming_file_and_product(tmp_path, pid):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({pid: _entry(), "fine": _entry()}))
    for read in (read_official, read_official_heads):
        with pytest.raises(DataFormatError, match="control character") as got:
            read(path)
        assert str(path) in str(got.value) and repr(pid) in str(got.value)
    good, bad = read_official_rows(path)  # the row reader goes on past it
    assert list(good) == ["fine"] and [p for p, _ in bad] == [pid]
