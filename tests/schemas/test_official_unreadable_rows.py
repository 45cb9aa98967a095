"""One product's entry that no JSON reader takes (a malformed number, a frame key twice in its
tracklet) used to refuse the whole split file: ``read_official_rows`` (the dataset's
``on_bad="skip"``, ``mf-tracklets build/export``) now holds out that product alone, naming the
file, product, field, video and frame key and what to do; a whole read (``on_bad="raise"``)
refuses the file naming the same. A product id twice is still the whole file's fault."""

from __future__ import annotations

import json

import pytest

from schemas.errors import DataFormatError
from schemas.official import (
    HELD_OUT_HINT,
    read_official,
    read_official_on_bad,
    read_official_rows,
    warn_held_out,
)
from tests.damage import UNREADABLE_BOXES, unreadable_box


def _split(path):
    entry = {"img_path": "imgs/x.jpg", "source": 1}
    data = {
        pid: {
            "video_paths": [f"videos/{pid}_0.mp4", f"videos/{pid}_1.mp4"],
            **entry,
            "tracklets": [{"0": [1, 2, 3, 4]}, {"5": [1, 2, 3, 4]}],
        }
        for pid in ("a", "b", "c")
    }
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("kind", sorted(UNREADABLE_BOXES))
def test_the_product_is_held_out_and_the_others_read(tmp_path, kind, caplog):
    path = _split(tmp_path / "train.json")
    unreadable_box(path, "b", kind, key="5", video=1)
    good, bad = read_official_rows(path)
    assert list(good) == ["a", "c"] and good["c"].tracklets[1] == {"5": [1, 2, 3, 4]}
    ((pid, error),) = bad
    assert pid == "b"
    for part in (str(path), "product 'b'", "field 'tracklets[1]'", "video 'videos/b_1.mp4'", "frame key '5'"):
        assert part in error, error
    said = "appears twice" if kind == "frame key twice" else "malformed number"
    assert said in error and ("keep one of them" in error or "four JSON numbers" in error)

    # the policy's one home: skip names the video and frame key, raise refuses the file naming them
    good, held = read_official_on_bad(path, "skip")
    assert list(good) == ["a", "c"]
    assert [(b.path, b.product_id, b.video, b.frame_key) for b in held] == [
        (str(path), "b", "videos/b_1.mp4", "5")
    ]
    warn_held_out(held, "the test")
    assert (
        "held out of the test" in caplog.text
        and HELD_OUT_HINT in caplog.text
        and "product 'b'" in caplog.text
    )
    for read in (read_official, lambda p: read_official_on_bad(p, "raise")):
        with pytest.raises(DataFormatError) as err:
            read(path)
        text = err.value.render()
        for part in (str(path), "product 'b'", "field 'tracklets[1]'", "frame key '5'", said):
            assert part in text, text

    # what is the whole file's fault still refuses it: a product id twice, or an entry whose
    # brackets do not close (its bounds are not sure: no product is guessed apart from the others)
    text = path.read_text()
    for broken in (
        text[:-1] + ', "c": {"video_paths": ["videos/c_0.mp4"], "img_path": "imgs/c.jpg", "source": 1}}',
        text.replace('"0": [1, 2, 3, 4]}', '"0": [1, 2, 3, 4}', 1),
    ):
        path.write_text(broken)
        for read in (read_official, read_official_rows):
            with pytest.raises(DataFormatError) as err:
                read(path)
            assert err.value.where == str(path) and "product '" not in err.value.message
