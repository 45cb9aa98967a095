"""Which of an answer's headers can check a resume (``strong_validator``): a strong ETag, else a
Last-Modified only when it is at least 1 s earlier than the answer's Date (RFC 9110 8.8.2.2);
shared by the polite client's downloads and yt-dlp's (``collectors.ytdl_net``)."""

from __future__ import annotations

import pytest
import requests

from collectors.part_resume import http_date, save_resume_state, state_path, strong_validator

LM = "Mon, 01 Jan 2024 00:00:00 GMT"


def answer(**headers: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = 200
    resp.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return resp


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ETag": '"v1"'}, ("ETag", '"v1"')),
        ({"ETag": '"v1"', "Last-Modified": LM, "Date": LM}, ("ETag", '"v1"')),  # a strong ETag as before
        ({"ETag": 'W/"v1"', "Last-Modified": LM, "Date": LM}, (None, None)),  # weak both
        (
            {"ETag": 'W/"v1"', "Last-Modified": LM, "Date": "Mon, 01 Jan 2024 00:00:01 GMT"},
            ("Last-Modified", LM),
        ),
        ({"Last-Modified": LM, "Date": "Tue, 02 Jan 2024 00:00:00 GMT"}, ("Last-Modified", LM)),
        ({"Last-Modified": LM, "Date": "Mon Jan  1 00:00:01 2024"}, ("Last-Modified", LM)),  # asctime Date
        ({"Last-Modified": LM, "Date": LM}, (None, None)),  # same second
        ({"Last-Modified": LM, "Date": "Sun, 31 Dec 2023 23:59:59 GMT"}, (None, None)),  # after Date
        ({"Last-Modified": LM}, (None, None)),  # no Date to compare with
        ({"Last-Modified": LM, "Date": "whenever"}, (None, None)),
        ({"Last-Modified": "yesterday", "Date": LM}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_strong_validator(headers, expected):
    assert strong_validator(answer(**headers)) == expected


def test_a_weak_last_modified_writes_no_resume_state(tmp_path):
    part = tmp_path / ".video.part"
    assert save_resume_state(part, "http://x/v.mp4", answer(**{"Last-Modified": LM, "Date": LM}), 10) is None
    assert not state_path(part).exists()


def test_http_dates_without_a_zone_are_utc():
    imf = http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    assert imf is not None and imf.utcoffset() is not None
    assert http_date("Sun Nov  6 08:49:37 1994") == imf == http_date("Sun, 06 Nov 1994 08:49:37 -0000")
    assert http_date("Sunday, 06-Nov-94 08:49:37 GMT") == imf
    assert http_date(None) is None and http_date(" ") is None and http_date("soon") is None
