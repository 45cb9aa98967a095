"""``withdrawn`` in mf publish's result: each product the last publish listed and this one does
not, with the split it left and a true reason."""

from __future__ import annotations

from cleaning.publish import held_back_rows, withdrawn_products
from schemas.catalog import Catalog
from schemas.official import OfficialEntry


def _entry() -> OfficialEntry:
    return OfficialEntry(video_paths=["videos/p_0.mp4"], img_path="imgs/p.jpg", source=1, tracklets=[{}])


def test_each_product_that_left_says_why(tmp_path):
    old = {"train": {"failed1": _entry(), "merged1": _entry(), "gone1": _entry()}, "test": {"kept": _entry()}}

    class Kept:
        product_id = "kept"

    with Catalog(tmp_path / "c.sqlite") as cat:
        out = withdrawn_products(
            old,
            [Kept()],
            held_back_rows(cat),
            merged=[{"item": "s/m", "product_id": "merged1", "published_as": "kept"}],
            failed=[{"product": "failed1", "error": "videos/x.mp4: cannot decode"}],
        )
    assert out == [
        {
            "product": "failed1",
            "split": "train",
            "why": "failed in this publish: videos/x.mp4: cannot decode",
        },
        {"product": "gone1", "split": "train", "why": "no accepted item has this product id now"},
        {"product": "merged1", "split": "train", "why": "merged into kept"},
    ]
