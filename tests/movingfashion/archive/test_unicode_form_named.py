"""A file named in the split file in one Unicode form (NFC) but stored in the other (NFD: a
folder copied from a Mac) is named as such by ``mf verify`` and the loader, with the fix."""

from __future__ import annotations

import unicodedata

import pytest

from movingfashion.archive.verify import verify_dataset
from movingfashion.dataset import MovingFashionDataset
from schemas.errors import MediaError
from tests.movingfashion.helpers import edit_split, make_archive, move_file

NFC = "videos/r\u00e9sum\u00e9_0.mp4"


@pytest.fixture
def mac_copy(tmp_path):
    root = make_archive(tmp_path / "mf")
    move_file(root, "videos/r2_0.mp4", unicodedata.normalize("NFD", NFC))

    def rename(data: dict) -> None:
        data["r2"]["video_paths"] = [NFC]

    edit_split(root, "test", rename)
    return root


def test_verify_names_the_file_in_the_other_unicode_form(mac_copy):
    (brk,) = [b for b in verify_dataset(mac_copy).breaks if b.check == "files"]
    assert "another Unicode form" in brk.fix and "NFD" in brk.fix


def test_the_loader_names_it_too(mac_copy):
    with pytest.raises(MediaError, match="another Unicode form"):
        MovingFashionDataset(mac_copy, "test")
