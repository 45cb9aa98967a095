"""HostPolicy checks the host the transport connects to, not only the one urlsplit reads."""

from __future__ import annotations

import pytest

from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http


def test_a_backslash_redirect_to_a_foreign_host_is_refused_and_never_sent():
    """``http://B\\@A/x`` reads as host A to urlsplit but urllib3 connects to B: refused."""
    with FakeSite() as allowed, FakeSite() as other:
        a, b = allowed.base.split("//")[1], other.base.split("//")[1]
        allowed.routes["/robots.txt"] = Route(b"", status=404)
        allowed.routes["/start"] = Route(location=f"http://{b}\\@{a}/x")
        other.routes["/x"] = Route(b"from B", content_type="text/plain")
        client = PoliteClient(HttpConfig(**fast_http(max_retries=0)), policy=HostPolicy.of([a]))
        with pytest.raises(FetchError) as ei:
            client.get_text(allowed.url("/start"))
        assert ei.value.reason == "foreign_redirect"
        assert sum(other.hits.values()) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example\\@shop.example/x",
        "http://shop.example\\/x",
        "http://shop.example\t/x",
        "http://shop.ex\nample/x",
        "http://shop.example /x",
        " http://shop.example/x",
        "http://shop.example/x\x00",
        "http://shop.example:99999/x",
    ],
)
def test_urls_the_parsers_may_read_differently_are_refused(url):
    assert not HostPolicy.of(["shop.example"]).allows(url)
    assert not HostPolicy.of(any_host=True).allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/x",
        "https://SHOP.example:443/a b?q=\\",
        "http://user:pw@shop.example/x",
        "http://img.cdn.example/x.jpg",
    ],
)
def test_plain_urls_of_allowed_hosts_still_pass(url):
    assert HostPolicy.of(["shop.example"], [".cdn.example"]).allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example:22/x",
        "https://shop.example:8443/x",
        "http://img.cdn.example:6379/x.jpg",
        "http://127.0.0.1:9001/x",
    ],
)
def test_a_host_listed_without_a_port_allows_only_the_web_ports(url):
    assert not HostPolicy.of(["shop.example", "127.0.0.1:9000"], [".cdn.example"]).allows(url)
    assert HostPolicy.of(
        ["shop.example:22", "shop.example:8443", "img.cdn.example:6379", "127.0.0.1:9001"]
    ).allows(url)


@pytest.mark.parametrize("suffix", [".cdn.example", "cdn.example", "CDN.example"])
def test_a_suffix_is_a_domain_never_a_look_alike(suffix):
    policy = HostPolicy.of([], [suffix])
    assert policy.allows("https://a.b.cdn.example/x.jpg")
    assert policy.allows("https://cdn.example/x.jpg")
    assert not policy.allows("https://evilcdn.example/x.jpg")
    assert not policy.allows("https://cdn.example.evil/x.jpg")
