"""A path part longer than a file system takes (255 bytes of UTF-8) is refused by the one path
check, as any other unsafe path, naming the field: never an OSError (ENAMETOOLONG) later."""

from __future__ import annotations

import re

import pytest

from schemas.errors import DataFormatError
from schemas.official import RELPATH_PATTERN, parse_official
from schemas.paths import UnsafePathValue, check_relpath


@pytest.mark.parametrize(
    "value",
    ["videos/" + "x" * 256 + ".mp4", "a" * 256 + "/v.mp4", "videos/" + "é" * 128 + ".mp4"],
    ids=["file", "folder", "utf-8 bytes"],
)
def test_a_part_over_255_bytes_is_refused(value):
    with pytest.raises(UnsafePathValue, match="longer than 255") as err:
        check_relpath(value, what="video_paths[0]")
    assert str(err.value).startswith("video_paths[0] ") and "shorten the name" in str(err.value)


@pytest.mark.parametrize("value", ["videos/" + "x" * 251 + ".mp4", "videos/" + "é" * 125 + ".mp4"])
def test_a_part_of_255_bytes_passes(value):
    assert check_relpath(value) == value


def test_the_official_reader_names_product_and_field():
    entry = {"video_paths": ["videos/" + "x" * 300 + ".mp4"], "img_path": "imgs/p.jpg", "source": 1}
    with pytest.raises(DataFormatError) as err:
        parse_official({"P42": entry}, where="train.json")
    text = str(err.value)
    assert "train.json" in text and "P42" in text and "video_paths[0]" in text and "longer than 255" in text


@pytest.mark.parametrize("n", [255, 256])
def test_the_exported_pattern_bounds_a_part_as_the_check_does(n):
    for value in ("x" * n, f"videos/{'x' * n}", f"{'x' * n}/v.mp4"):
        in_pattern = re.search(RELPATH_PATTERN, value) is not None
        assert in_pattern == (n <= 255)
        assert in_pattern == _ok(value)


def _ok(value: str) -> bool:
    try:
        check_relpath(value)
    except UnsafePathValue:
        return False
    return True
