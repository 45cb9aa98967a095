"""A review log line JSON refuses beyond a syntax error (a 5000-digit number, deep nesting) is
not a record, as a torn line is: readers pass it over, never a traceback."""

from __future__ import annotations

import pytest

from schemas.review import review_log_record


@pytest.mark.parametrize(
    "line",
    [b'{"video": "videos/a_0.mp4", "n": ' + b"1" * 5000 + b"}", b"[" * 100_000 + b"]" * 100_000],
    ids=["5000 digits", "deep"],
)
def test_a_line_json_refuses_is_no_record(line):
    assert review_log_record(line) is None


def test_a_record_still_reads():
    assert review_log_record(b'{"video": "videos/a_0.mp4"}') == {"video": "videos/a_0.mp4"}
