"""A malformed number or a frame key twice in one product's tracklet refused the whole split file
(``MovingFashionDataset``, both policies). Now ``on_bad="skip"`` drops that product alone, listed in
``skipped`` with the file, product, field and what to do, the others load; ``on_bad="raise"``
refuses naming the same."""

from __future__ import annotations

import shutil

import pytest

from movingfashion.dataset import MovingFashionDataset
from schemas.errors import DataFormatError
from tests.damage import UNREADABLE_BOXES, unreadable_box


@pytest.mark.parametrize("kind", sorted(UNREADABLE_BOXES))
def test_only_the_product_is_skipped_and_named(tiny_dataset, tmp_path, kind):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    unreadable_box(root / "train.json", "101", kind, key="7")
    ds = MovingFashionDataset(root, "train", on_bad="skip")
    assert ds.product_ids == ["102", "ab_C"] and ds[0]["product_id"] == "102"
    ((pid, why),) = ds.skipped
    assert pid == "101"
    for part in (
        str(root / "train.json"),
        "product '101'",
        "tracklets[0]",
        "video 'videos/101_0.mp4'",
        "frame key '7'",
    ):
        assert part in why, why
    with pytest.raises(DataFormatError) as err:
        MovingFashionDataset(root, "train")
    text = err.value.render()
    for part in (str(root / "train.json"), "product '101'", "tracklets[0]", "frame key '7'"):
        assert part in text, text
    # the other split file, which does not list 101, is not touched by it
    assert MovingFashionDataset(root, "test").product_ids == ["102"]
