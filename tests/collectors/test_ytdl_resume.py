"""A yt-dlp download cut off keeps its ``.part`` with the server's validator beside it; the next
try resumes it only with ``If-Range`` and into the rest of that same file. A part of another
version of the file (the site replaced it), or one the server named no version of, starts over:
the file collected is always one the server served, never an old head with a new tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.ytdl import YtdlFetcher
from schemas.errors import FetchError
from tests.collectors.conftest import FAST_HTTP, info
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes

PATH = "/v/7001.mp4"
NO_RETRY = FAST_HTTP.model_copy(update={"max_retries": 0})


def _fetcher(site: FakeSite) -> YtdlFetcher:
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    return YtdlFetcher(NO_RETRY, policy, client=PoliteClient(NO_RETRY, policy=policy))


def _honour_if_range(site: FakeSite) -> None:
    """Make the site answer a Range whose If-Range names another version with the whole file."""
    handler = site.server.RequestHandlerClass
    plain = handler._answer

    def answer(self, p, n, head):
        route = site.routes.get(p)
        if route is not None and self.headers.get("If-Range") not in (None, route.headers.get("ETag")):
            del self.headers["Range"]
        return plain(self, p, n, head)

    handler._answer = answer


def _cut_off(site: FakeSite, fetcher: YtdlFetcher, folder: Path, body: bytes, etag: str | None) -> int:
    """A first run whose transfer is cut off (the HEAD is the first hit, the GET the second);
    returns the size of the ``.part`` it keeps."""
    headers = {"ETag": etag} if etag else {}
    site.routes[PATH] = Route(body, content_type="video/mp4", headers=headers, truncate_first=2)
    with pytest.raises(FetchError) as err:
        fetcher.download(info("7001", site.url(PATH)), folder)
    assert err.value.reason == "truncated_body"
    (part,) = folder.glob(".video.ytdl.*.part")
    assert 0 < part.stat().st_size < len(body)
    return part.stat().st_size


def _rerun(site: FakeSite, fetcher: YtdlFetcher, folder: Path, body: bytes, etag: str | None) -> bytes:
    """The site now serves ``body``; the rerun's file."""
    site.routes[PATH] = Route(body, content_type="video/mp4", headers={"ETag": etag} if etag else {})
    site.headers_seen.clear()
    path = fetcher.download(info("7001", site.url(PATH)), folder)
    assert [p.name for p in folder.iterdir()] == [path.name]  # no part or state left behind
    return path.read_bytes()


@pytest.fixture()
def bodies(tmp_path):
    return mp4_bytes(tmp_path, 1, frames=40), mp4_bytes(tmp_path, 2, frames=50)


def test_a_part_of_the_same_version_is_resumed_with_if_range(tmp_path, bodies):
    old, _ = bodies
    with FakeSite() as site:
        fetcher, folder = _fetcher(site), tmp_path / "item"
        kept = _cut_off(site, fetcher, folder, old, '"v1"')
        assert _rerun(site, fetcher, folder, old, '"v1"') == old
        gets = [h for h in site.headers_seen if "Range" in h]
        assert [(h["Range"], h.get("If-Range")) for h in gets] == [(f"bytes={kept}-", '"v1"')]


def test_a_part_of_a_replaced_file_starts_over_when_the_server_honours_if_range(tmp_path, bodies):
    old, new = bodies
    with FakeSite() as site:
        _honour_if_range(site)
        fetcher, folder = _fetcher(site), tmp_path / "item"
        _cut_off(site, fetcher, folder, old, '"v1"')
        assert _rerun(site, fetcher, folder, new, '"v2"') == new
        assert [h.get("If-Range") for h in site.headers_seen if "Range" in h] == ['"v1"']


def test_a_range_of_another_version_is_refused_and_the_file_fetched_again(tmp_path, bodies):
    old, new = bodies  # the site ignores If-Range: its 206 carries the new ETag
    with FakeSite() as site:
        fetcher, folder = _fetcher(site), tmp_path / "item"
        _cut_off(site, fetcher, folder, old, '"v1"')
        assert _rerun(site, fetcher, folder, new, '"v2"') == new


def test_a_part_the_server_named_no_version_of_starts_over(tmp_path, bodies):
    old, new = bodies  # no ETag or Last-Modified: nothing to check a resume against
    with FakeSite() as site:
        fetcher, folder = _fetcher(site), tmp_path / "item"
        _cut_off(site, fetcher, folder, old, None)
        assert _rerun(site, fetcher, folder, new, None) == new
        assert not [h for h in site.headers_seen if "Range" in h]
