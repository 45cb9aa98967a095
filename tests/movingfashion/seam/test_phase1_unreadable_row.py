"""``df2_from_dataset`` (phase 1's pairs when no DeepFashion2 set is at hand, the demo's SEAM
step) refused the whole split for one product whose entry the reader refuses (a bad box, a
malformed number, a frame key twice). Now it follows the loader's and the build's policy
(``on_bad``, one home: :func:`schemas.official.read_official_on_bad`): ``skip`` holds the product
out, named in a warning, and makes pairs of the others; ``raise`` refuses, naming it."""

from __future__ import annotations

import json
import shutil

import pytest

from movingfashion.seam.phase1 import df2_from_dataset
from schemas.errors import DataFormatError
from tests.damage import UNREADABLE_BOXES, unreadable_box


def _pairs(out):
    """Product pairs written: pair id -> (shop images, user images)."""
    got: dict[int, list[int]] = {}
    for p in sorted((out / "train" / "annos").glob("*.json")):
        a = json.loads(p.read_text())
        got.setdefault(a["pair_id"], [0, 0])[a["source"] == "user"] += 1
    return got


@pytest.mark.parametrize("kind", sorted(UNREADABLE_BOXES))
def test_the_product_is_held_out_and_the_others_paired(tiny_dataset, tmp_path, caplog, kind):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    unreadable_box(root / "train.json", "101", kind, key="7")
    out = df2_from_dataset(root, tmp_path / "df2", frames_per_video=2)
    # 102 (two videos) and ab_C (one): a shop image each and 2 frames per video
    assert _pairs(out) == {1: [1, 4], 2: [1, 2]}
    assert "held out of the DeepFashion2-format pairs" in caplog.text and "product '101'" in caplog.text
    assert "fix the product's entry" in caplog.text
    with pytest.raises(DataFormatError) as err:
        df2_from_dataset(root, tmp_path / "df2-raise", frames_per_video=2, on_bad="raise")
    for part in (str(root / "train.json"), "product '101'", "tracklets[0]", "frame key '7'"):
        assert part in err.value.render()
