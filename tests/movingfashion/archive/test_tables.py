"""The flat box table is streamed row by row (~6M rows in the full dataset): each row must be the
bytes ``json.dumps`` gives the row as a dict, which is what earlier releases wrote (a table
that changed bytes would be rewritten, and re-hashed, on every publish)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from movingfashion.archive.tables import box_lines

coord = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False, width=64))


@given(
    pid=st.text(min_size=1, max_size=12),
    split=st.sampled_from(["train", "test"]),
    video=st.text(min_size=1, max_size=20),
    boxes=st.dictionaries(st.integers(0, 10**5), st.lists(coord, min_size=4, max_size=4), max_size=6),
)
def test_box_rows_are_json_dumps_of_each_row_sorted_by_frame(pid, split, video, boxes):
    expected = "".join(
        json.dumps(
            {
                "product_id": pid,
                "split": split,
                "video_path": video,
                "frame": t,
                "box": [float(v) for v in b],
            },
            ensure_ascii=False,
        )
        + "\n"
        for t, b in sorted(boxes.items())
    )
    assert box_lines(pid, split, video, boxes) == expected
