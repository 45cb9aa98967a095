"""A host that refuses this client again and again (403, or 429 past the retries) is taken as
blocking it after ``http.block_after`` answers in a row: nothing more is asked of it in the run
(its items fail ``host_blocked``, retried by a rerun), said once; any other answer clears the
count, and other hosts are not affected."""

from __future__ import annotations

import logging

import pytest

from collectors.config import HttpConfig
from collectors.core import status_for
from collectors.http import PoliteClient
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http


def test_a_host_refusing_every_request_is_not_asked_again_after_block_after(caplog):
    with FakeSite() as site:
        for i in range(6):
            site.routes[f"/p{i}"] = Route(b"no", status=403)
        site.routes["/ok"] = Route(b"ok")
        client = PoliteClient(HttpConfig(**{**fast_http(max_retries=1), "block_after": 3}))
        reasons = []
        with caplog.at_level(logging.WARNING, logger="collectors"):
            for i in range(6):
                with pytest.raises(FetchError) as err:
                    client.get_bytes(site.url(f"/p{i}"))
                reasons.append(err.value.reason)
        assert reasons == ["http_403"] * 3 + ["host_blocked"] * 3
        assert sum(site.hits[f"/p{i}"] for i in range(6)) == 3  # the last three never sent
        assert status_for("host_blocked") == "failed" and err.value.retryable  # a rerun retries them
        assert caplog.text.count("looks like it blocks this client") == 1
        # another host (the same server by another name) is still asked
        assert client.get_bytes(site.url("/ok").replace("127.0.0.1", "localhost"))[0] == b"ok"


def test_any_other_answer_clears_the_count_and_429s_past_the_retries_count_too():
    with FakeSite() as site:
        site.routes["/no"] = Route(b"no", status=403)
        site.routes["/busy"] = Route(b"busy", fail_first=99, fail_status=429)
        site.routes["/ok"] = Route(b"ok")
        client = PoliteClient(HttpConfig(**{**fast_http(max_retries=1), "block_after": 3}))
        for path in ("/no", "/no", "/ok", "/no", "/busy", "/ok"):  # never 3 in a row
            try:
                client.get_bytes(site.url(path))
            except FetchError as exc:
                assert exc.reason in ("http_403", "http_429_exhausted")
        for path in ("/no", "/busy", "/no"):
            with pytest.raises(FetchError):
                client.get_bytes(site.url(path))
        with pytest.raises(FetchError) as err:
            client.get_bytes(site.url("/ok"))
        assert err.value.reason == "host_blocked"


def test_zero_never_blocks():
    with FakeSite() as site:
        site.routes["/no"] = Route(b"no", status=403)
        client = PoliteClient(HttpConfig(**{**fast_http(), "block_after": 0}))
        for _ in range(5):
            with pytest.raises(FetchError) as err:
                client.get_bytes(site.url("/no"))
            assert err.value.reason == "http_403"
        assert site.hits["/no"] == 5


def test_a_block_lasts_the_run_and_robots_txt_is_never_taken_as_absent_because_of_it():
    """An answer already in flight when the block began must not lift it; and a robots.txt asked
    while the host is blocked was read as "no robots.txt" (everything allowed) for the run."""
    with FakeSite() as site:
        site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private\n", content_type="text/plain")
        site.routes["/ok"] = Route(b"ok")
        site.routes["/private"] = Route(b"secret")
        client = PoliteClient(HttpConfig(**{**fast_http(max_retries=1), "block_after": 2}))
        for _ in range(2):  # two refusals of the host (its robots.txt not asked yet)
            client.note_answer(site.url("/x"), refused=True)
        client.note_answer(site.url("/ok"), refused=False)  # an answer in flight comes back
        for path in ("/ok", "/private"):
            with pytest.raises(FetchError) as err:
                client.get_bytes(site.url(path))
            assert err.value.reason == "host_blocked"
        assert client._robots == {}  # the block is no answer about robots.txt: nothing kept
        assert site.hits["/private"] == 0 and site.hits["/robots.txt"] == 0


def test_a_403_refusing_one_signed_url_fails_its_item_but_never_blocks_the_host():
    """An expired signed media URL (Instagram's CDN: 403 "URL signature expired") is refused
    for that URL only: the item fails ``http_403`` saying so, the host is still asked and such a
    403 clears the count; a plain 403 (the client refused) still counts."""
    with FakeSite() as site:
        for i in range(4):
            site.routes[f"/v/{i}.mp4"] = Route(
                b"URL signature expired", status=403, content_type="text/plain"
            )
        site.routes["/wall"] = Route(b"<html>Access Denied</html>", status=403, content_type="text/html")
        site.routes["/ok"] = Route(b"ok")
        client = PoliteClient(HttpConfig(**{**fast_http(max_retries=1), "block_after": 2}))
        for i in range(4):
            with pytest.raises(FetchError) as err:
                client.get_bytes(site.url(f"/v/{i}.mp4"))
            assert err.value.reason == "http_403" and "refused this URL only" in err.value.message
            assert "URL signature expired" in err.value.message and "fresh URLs" in (err.value.hint or "")
        assert client.get_bytes(site.url("/ok"))[0] == b"ok"
        # a plain refusal, then an item-level one (clears), then two plain ones block the host
        for path in ("/wall", "/v/0.mp4", "/wall", "/wall"):
            with pytest.raises(FetchError) as err:
                client.get_bytes(site.url(path))
            assert err.value.reason == "http_403"
        with pytest.raises(FetchError) as err:
            client.get_bytes(site.url("/ok"))
        assert err.value.reason == "host_blocked"


def test_with_no_item_refusal_pattern_every_403_counts():
    with FakeSite() as site:
        site.routes["/v.mp4"] = Route(b"URL signature expired", status=403, content_type="text/plain")
        site.routes["/ok"] = Route(b"ok")
        cfg = HttpConfig(**{**fast_http(max_retries=1), "block_after": 2, "item_refusal_pattern": ""})
        client = PoliteClient(cfg)
        for _ in range(2):
            with pytest.raises(FetchError):
                client.get_bytes(site.url("/v.mp4"))
        with pytest.raises(FetchError) as err:
            client.get_bytes(site.url("/ok"))
        assert err.value.reason == "host_blocked"


def test_an_item_refusal_pattern_that_is_no_regex_is_refused_naming_it():
    with pytest.raises(ValueError, match="item_refusal_pattern(.|\n)*not a regular expression"):
        HttpConfig(item_refusal_pattern="url (signature")
