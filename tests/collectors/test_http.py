"""The polite HTTP client against a scriptable loopback server: every fault, one test each."""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient, TokenBucket
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http, jpeg_bytes, mp4_bytes

FAST = fast_http(max_retries=3)


@pytest.fixture
def site():
    with FakeSite() as s:
        s.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        yield s


def client_for(site: FakeSite, sleeps: list[float] | None = None, **over) -> PoliteClient:
    cfg = HttpConfig(**{**FAST, **over})
    sleep = (lambda s: sleeps.append(s)) if sleeps is not None else (lambda s: None)
    return PoliteClient(cfg, policy=HostPolicy.of([site.base.split("//")[1]]), sleep=sleep)


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_image_atomic_with_sha(site, tmp_path):
    body = jpeg_bytes(1)
    site.routes["/img/1.jpg"] = Route(body, content_type="image/jpeg")
    client = client_for(site)
    dl = client.download(site.url("/img/1.jpg"), tmp_path / "item", "shop", "image")
    assert dl.path == tmp_path / "item" / "shop.jpg"
    assert dl.sha256 == hashlib.sha256(body).hexdigest() == hashlib.sha256(dl.path.read_bytes()).hexdigest()
    assert dl.probe.width == 64 and dl.probe.height == 48
    assert files_in(tmp_path / "item") == ["shop.jpg"]
    assert site.headers_seen[-1]["User-Agent"].startswith("MovingFashionToolkit/")


def test_video_download_and_probe(site, tmp_path):
    body = mp4_bytes(tmp_path, 3, frames=7)
    site.routes["/v/3_detail.mp4"] = Route(body, content_type="video/mp4")
    dl = client_for(site).download(site.url("/v/3_detail.mp4"), tmp_path / "it", "video", "video")
    assert dl.path.name == "video.mp4" and dl.probe.frames == 7
    assert dl.sha256 == hashlib.sha256(body).hexdigest()


def test_429_honours_retry_after_then_succeeds(site, tmp_path):
    site.routes["/a.jpg"] = Route(
        jpeg_bytes(), content_type="image/jpeg", fail_first=2, fail_status=429, retry_after="7"
    )
    sleeps: list[float] = []
    client = client_for(site, sleeps, retry_after_max_s=30)
    dl = client.download(site.url("/a.jpg"), tmp_path, "shop", "image")
    assert dl.path.exists()
    assert sleeps.count(7.0) == 2  # waited exactly what the server asked, twice
    assert site.hits["/a.jpg"] == 3


def test_429_exhausted_leaves_nothing(site, tmp_path):
    site.routes["/a.jpg"] = Route(
        jpeg_bytes(), content_type="image/jpeg", fail_first=99, fail_status=429, retry_after="1"
    )
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/a.jpg"), tmp_path / "x", "shop", "image")
    assert ei.value.reason == "http_429_exhausted" and ei.value.retryable
    assert site.hits["/a.jpg"] == 4  # 1 + max_retries
    assert files_in(tmp_path / "x") == []


def test_5xx_burst_backs_off_exponentially(site, tmp_path):
    site.routes["/b.jpg"] = Route(jpeg_bytes(), content_type="image/jpeg", fail_first=3, fail_status=502)
    sleeps: list[float] = []
    client_for(site, sleeps, backoff_base_s=0.1, backoff_max_s=5, jitter=0.0, max_retries=4).download(
        site.url("/b.jpg"), tmp_path, "shop", "image"
    )
    assert sleeps[:3] == [0.1, 0.2, 0.4]


def test_truncated_body_resumes_with_range(site, tmp_path):
    body = mp4_bytes(tmp_path, 5)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", truncate_first=1, headers={"ETag": '"v5"'})
    client = client_for(site)
    dl = client.download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert dl.resumed and client.stats["resumed"] == 1
    assert dl.sha256 == hashlib.sha256(body).hexdigest()
    resumes = [h for h in site.headers_seen if h.get("Range")]
    assert [(h["Range"], h.get("If-Range")) for h in resumes] == [(f"bytes={len(body) // 2}-", '"v5"')]
    assert files_in(tmp_path / "it") == ["video.mp4"]  # the resume state went with the part


def test_truncated_body_without_a_validator_starts_over(site, tmp_path):
    """No ETag or Last-Modified: nothing tells whether a kept prefix is still the file's, so a
    cut-off transfer is fetched again from its start (never with a bare Range)."""
    body = mp4_bytes(tmp_path, 5)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", truncate_first=1)
    dl = client_for(site).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert not dl.resumed and dl.sha256 == hashlib.sha256(body).hexdigest()
    assert not any("Range" in h for h in site.headers_seen) and site.hits["/v.mp4"] == 2


def test_truncated_without_ranges_restarts(site, tmp_path):
    body = mp4_bytes(tmp_path, 6)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4", truncate_first=1, ranges=False)
    dl = client_for(site).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert not dl.resumed and dl.sha256 == hashlib.sha256(body).hexdigest()


def test_truncated_always_fails_without_final_file(site, tmp_path):
    site.routes["/v.mp4"] = Route(
        mp4_bytes(tmp_path, 7), content_type="video/mp4", truncate_first=99, ranges=False
    )
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert ei.value.reason == "truncated_body"
    assert not any(n.endswith(".mp4") for n in files_in(tmp_path / "it"))
    # said in plain words with the URL, not as urllib3's repr ("IncompleteRead(9532 bytes read, ...)")
    assert ei.value.where == site.url("/v.mp4") and "IncompleteRead" not in str(ei.value)
    assert re.fullmatch(
        r"the body ended after \d+ of \d+ bytes \(the connection closed early\)", ei.value.message
    )


def test_wrong_content_type_rejected(site, tmp_path):
    site.routes["/c.jpg"] = Route(jpeg_bytes(), content_type="text/plain")
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/c.jpg"), tmp_path / "it", "shop", "image")
    assert ei.value.reason == "content_type_mismatch" and not ei.value.retryable
    assert files_in(tmp_path / "it") == []


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/xhtml+xml"])
def test_a_web_page_in_place_of_media_is_retried_not_rejected(site, tmp_path, ctype):
    """A captcha or login wall answering a video/image URL with 200 and a page: a rerun retries
    it (it was rejected for good, as a wrong content type is), by GET and by HEAD alike."""
    site.routes["/c.jpg"] = Route(b"<html><title>Just a moment...</title></html>", content_type=ctype)
    for fetch in (
        lambda c: c.download(site.url("/c.jpg"), tmp_path / "it", "shop", "image"),
        lambda c: c.head_check(site.url("/c.jpg"), "image"),
    ):
        with pytest.raises(FetchError) as ei:
            fetch(client_for(site))
        assert ei.value.reason == "html_instead_of_media" and ei.value.retryable
        assert "bot check" in str(ei.value) and ei.value.where == site.url("/c.jpg")
    assert files_in(tmp_path / "it") == []
    assert site.hits["/c.jpg"] == 2  # one GET, one HEAD: a wall is not asked again at once in this run


@pytest.mark.parametrize(
    ("path", "ctype", "expect", "body"),
    [
        ("/d.jpg", "image/jpeg", "image", b"<html><body>blocked</body></html>"),
        ("/d.mp4", "video/mp4", "video", b"<html>nope</html>" * 10),
        ("/e.jpg", "image/jpeg", "image", b"\xef\xbb\xbf \r\n\t<!DOCTYPE HTML><title>Just a moment</title>"),
        ("/e.mp4", "video/mp4", "video", b"\n  <HTML lang=en><body>sign in</body></HTML>"),
    ],
)
def test_html_served_as_media_is_retried_like_a_web_page(site, tmp_path, path, ctype, expect, body):
    """A bot wall or login page served as image/jpeg or video/mp4 is the same page as one served
    as text/html: retried by a rerun (html_instead_of_media, named by its URL), no longer rejected
    for good as not_an_image/not_a_video (the header alone decided the outcome before)."""
    site.routes[path] = Route(body, content_type=ctype)
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url(path), tmp_path / "it", "shop", expect)
    assert ei.value.reason == "html_instead_of_media" and ei.value.retryable
    assert ei.value.where == site.url(path) and f"instead of the {expect}, served as {ctype}" in str(ei.value)
    assert files_in(tmp_path / "it") == []


def test_a_file_that_only_mentions_html_is_no_web_page(site, tmp_path):
    """Only a body that starts as a page is one: other bytes that do not decode stay rejected."""
    site.routes["/f.jpg"] = Route(b"GIF? no. <html> later", content_type="image/jpeg")
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/f.jpg"), tmp_path / "it", "shop", "image")
    assert ei.value.reason == "not_an_image" and not ei.value.retryable


def test_foreign_redirect_refused_local_redirect_followed(site, tmp_path):
    site.routes["/ok.jpg"] = Route(jpeg_bytes(), content_type="image/jpeg")
    site.routes["/here"] = Route(location="/ok.jpg")
    site.routes["/away"] = Route(location="http://evil.example.com/x.jpg")
    client = client_for(site)
    assert client.download(site.url("/here"), tmp_path / "a", "shop", "image").path.exists()
    with pytest.raises(FetchError) as ei:
        client.download(site.url("/away"), tmp_path / "b", "shop", "image")
    assert ei.value.reason == "foreign_redirect"
    assert files_in(tmp_path / "b") == []


def test_host_not_allowed(site, tmp_path):
    with pytest.raises(FetchError) as ei:
        client_for(site).download("http://other.invalid/x.jpg", tmp_path, "shop", "image")
    assert ei.value.reason == "host_not_allowed"


@pytest.mark.parametrize("declare", [True, False])
def test_oversized_body_cut_off(site, tmp_path, declare):
    site.routes["/big.mp4"] = Route(b"\0" * 200_000, content_type="video/mp4", declare_length=declare)
    with pytest.raises(FetchError) as ei:
        client_for(site, max_body_bytes=50_000, chunk_bytes=8192).download(
            site.url("/big.mp4"), tmp_path / "it", "video", "video"
        )
    assert ei.value.reason == "too_large"
    assert files_in(tmp_path / "it") == []


def test_robots_honoured_and_overridable(site, tmp_path, caplog):
    site.routes["/private/p.jpg"] = Route(jpeg_bytes(), content_type="image/jpeg")
    with pytest.raises(FetchError) as ei:
        client_for(site).download(site.url("/private/p.jpg"), tmp_path / "a", "shop", "image")
    assert ei.value.reason == "robots_disallowed"
    assert site.hits["/private/p.jpg"] == 0
    dl = client_for(site, respect_robots=False).download(
        site.url("/private/p.jpg"), tmp_path / "b", "shop", "image"
    )
    assert dl.path.exists()
    assert "robots.txt is NOT honoured" in caplog.text


def test_404_is_not_retried(site):
    client = client_for(site)
    with pytest.raises(FetchError) as ei:
        client.get_text(site.url("/missing"))
    assert ei.value.reason == "http_404" and site.hits["/missing"] == 1
    assert client.exists(site.url("/missing")) is False


def test_per_host_concurrency_cap(site, tmp_path):
    for i in range(8):
        # each answer takes a while, so two in flight overlap even where a loaded machine is slow
        # to send the second
        site.routes[f"/s{i}.jpg"] = Route(jpeg_bytes(i), content_type="image/jpeg", delay_s=0.3)
    client = client_for(site, max_concurrency_per_host=2)
    with ThreadPoolExecutor(6) as pool:
        list(
            pool.map(
                lambda i: client.download(site.url(f"/s{i}.jpg"), tmp_path / str(i), "shop", "image"),
                range(8),
            )
        )
    assert site.max_inflight <= 2
    assert site.max_inflight == 2


def test_token_bucket_spaces_requests():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    now[0] = 10.0
    assert bucket.reserve() == 0.0


def test_stop_event_interrupts_and_keeps_part(site, tmp_path):
    body = mp4_bytes(tmp_path, 8, frames=30)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4")
    stop = threading.Event()
    stop.set()
    client = PoliteClient(HttpConfig(**FAST), policy=HostPolicy(any_host=True), stop=stop)
    with pytest.raises(FetchError) as ei:
        client.download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert ei.value.reason == "interrupted"
    assert not any(n.endswith(".mp4") for n in files_in(tmp_path / "it"))


def test_robots_crawl_delay_slows_the_host(site, tmp_path):
    site.routes["/robots.txt"] = Route(b"User-agent: *\nCrawl-delay: 2\n", content_type="text/plain")
    for i in range(3):
        site.routes[f"/p{i}"] = Route(b"<html></html>", content_type="text/html")
    sleeps: list[float] = []
    client = client_for(site, sleeps)
    for i in range(3):
        client.get_text(site.url(f"/p{i}"))
    assert any(s >= 1.9 for s in sleeps)  # the bucket now allows one request per 2 s


@pytest.mark.parametrize(
    ("code", "where", "reason"),
    [
        ("ENOSPC", "write", "disk_full"),
        ("EDQUOT", "write", "quota_exceeded"),
        ("EACCES", "open", "permission_denied"),
        ("EROFS", "open", "read_only_filesystem"),
        ("EMFILE", "open", "too_many_open_files"),
    ],
)
def test_a_local_fault_while_writing_is_named_never_a_body_fault(
    site, tmp_path, monkeypatch, code, where, reason
):
    """The finding: ENOSPC was recorded as truncated_body and retried. A local fault is named, the
    .part goes, nothing is retried (the run stops), and the server is asked once."""
    import errno
    import os

    import collectors.http as http
    from schemas.errors import LocalFault

    body = mp4_bytes(tmp_path, 3)
    site.routes["/v.mp4"] = Route(body, content_type="video/mp4")
    err = OSError(getattr(errno, code), os.strerror(getattr(errno, code)))
    real_open = open

    class Failing:
        def __init__(self, fh):
            self.fh = fh

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            raise err

    def fake_open(part, mode):
        if where == "open":
            raise err
        return Failing(real_open(part, mode))

    monkeypatch.setattr(http, "open", fake_open, raising=False)
    client = client_for(site)
    with pytest.raises(LocalFault) as exc:
        client.download(site.url("/v.mp4"), tmp_path / "it", "video", "video")
    assert exc.value.reason == reason and exc.value.path == str(tmp_path / "it" / ".video.part")
    assert not (tmp_path / "it" / ".video.part").exists() and not list((tmp_path / "it").iterdir())
    assert client.stats["retries"] == 0 and site.hits["/v.mp4"] == 1


def gzipped(body: bytes, level: int = 9, **route) -> Route:
    """A route answering ``body`` gzip-encoded: Content-Length is the encoded size (RFC 9110 8.6)."""
    return Route(gzip.compress(body, compresslevel=level), headers={"Content-Encoding": "gzip"}, **route)


def test_a_small_gzip_encoded_page_is_read_whole_not_taken_for_a_cut_off_one(site):
    """gzip makes a short text longer (31 -> 43 bytes): the decoded body is shorter than the
    Content-Length, which counts the bytes sent. Only bytes missing from the wire are a cut-off."""
    page = b"<html><title>Top</title></html>"
    assert len(gzip.compress(page)) > len(page)
    site.routes["/page.html"] = gzipped(page)
    client = client_for(site)
    assert client.get_bytes(site.url("/page.html"))[0] == page
    assert site.headers_seen[-1]["Accept-Encoding"].startswith("gzip")
    # half the encoded body, then the connection closes: still a cut-off
    site.routes["/cut.html"] = gzipped(page * 50, truncate_first=99)
    with pytest.raises(FetchError) as ei:
        client.get_bytes(site.url("/cut.html"))
    assert ei.value.reason == "truncated_body"
    assert (
        ei.value.message == f"the body ended after {len(gzip.compress(page * 50)) // 2} of "
        f"{len(gzip.compress(page * 50))} bytes (the connection closed early)"
    )


def test_a_gzip_encoded_download_is_stored_decoded_not_taken_for_a_cut_off_one(site, tmp_path):
    body = jpeg_bytes(1)
    route = gzipped(body, level=0, content_type="image/jpeg")  # stored blocks: longer than the file
    assert len(route.body) > len(body)
    site.routes["/img/z.jpg"] = route
    dl = client_for(site).download(site.url("/img/z.jpg"), tmp_path / "item", "shop", "image")
    assert dl.path.read_bytes() == body and dl.sha256 == hashlib.sha256(body).hexdigest()
    assert files_in(tmp_path / "item") == ["shop.jpg"]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        ('<html><head><meta charset="iso-8859-1"><title>Café été</title>', "text/html"),
        (
            "<html><head><meta http-equiv='Content-Type' content='text/html; charset=windows-1252'>"
            "<title>Café été</title>",
            "text/html",
        ),
        ("<html><title>Café été</title>", 'text/html; charset="iso-8859-1"'),  # quoted in the header
    ],
    ids=["meta-charset", "http-equiv", "quoted-header"],
)
def test_a_page_is_decoded_with_the_charset_it_declares(body, ctype):
    """A latin-1 page declaring its charset only in <meta> was decoded as UTF-8: 'Caf\ufffd
    \ufffdt\ufffd' went into the catalog."""
    from collectors.http import decode_text

    text = decode_text(body.encode("latin-1"), ctype)
    assert "Café été" in text


def test_the_header_charset_wins_and_utf8_stays_the_default():
    from collectors.http import decode_text

    page = '<meta charset="iso-8859-1"><title>Café</title>'.encode()  # UTF-8 bytes, header says so
    assert "Café" in decode_text(page, "text/html; charset=utf-8")
    assert "Café" in decode_text("<title>Café</title>".encode(), "text/html")
    assert decode_text(b"\xef\xbb\xbf<title>x</title>", None) == "<title>x</title>"  # BOM dropped
    assert "Caf" in decode_text('<meta charset="no-such">Café'.encode(), None)  # unknown: UTF-8
