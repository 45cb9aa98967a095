"""Every network client goes through the polite client's rules: instaloader (logged in too) and
yt-dlp send only to allowed hosts, honour robots.txt, the rate limit and Retry-After; what cannot
be guaranteed is refused with a named reason."""

from __future__ import annotations

import hashlib
import pickle
import socket

import pytest
import requests

from collectors.api import collect
from collectors.config import HttpConfig, load_collect_config
from collectors.hosts import HostPolicy
from collectors.http import PoliteClient
from collectors.instaloader_net import INSTAGRAM_API_HOSTS, guard_instaloader
from collectors.transport import PoliteAdapter, bind
from collectors.ytdl import YtdlFetcher, allowed_formats
from collectors.ytdl_net import polite_youtubedl
from movingfashion.world.faults import Faults
from schemas.catalog import Catalog
from schemas.errors import FetchError
from schemas.items import SourceName
from tests.collectors.conftest import FAST_HTTP
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes


@pytest.fixture()
def wire(monkeypatch):
    """Every DNS lookup and socket connection this process makes while the test runs."""
    seen = {"resolved": [], "connected": []}
    real_gai, real_connect = socket.getaddrinfo, socket.socket.connect

    def gai(host, *a, **k):
        seen["resolved"].append(host)
        return real_gai(host, *a, **k)

    def connect(self, addr):
        seen["connected"].append(addr)
        return real_connect(self, addr)

    monkeypatch.setattr(socket, "getaddrinfo", gai)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def _session_file(tmp_path):
    path = tmp_path / "session-mia"
    path.write_bytes(
        pickle.dumps({"sessionid": "s3cr3t", "csrftoken": "tok", "ds_user_id": "42", "mid": "m"})
    )
    path.chmod(0o600)
    return path


def _insta_cfg(base_url: str | None, **instagram):
    cfg = load_collect_config(base_url=base_url)
    return cfg.model_copy(
        update={
            "http": FAST_HTTP,
            "instagram": cfg.instagram.model_copy(update={"query_sleep": False, **instagram}),
        }
    )


def _posts(world_truth):
    return [p for p in world_truth.products if p.source == SourceName.INSTAGRAM and p.videos]


def test_logged_in_instagram_collection_never_leaves_the_allow_list(
    world_server, small_world, world_truth, tmp_path, wire
):
    world_server.set_faults(Faults())
    posts = _posts(world_truth)
    port = int(world_server.base_url.rsplit(":", 1)[1])
    start = len(world_server.log)
    s = collect(
        "instagram",
        [f"shortcode:{p.product_id}" for p in posts],
        root=tmp_path / "data",
        catalog=tmp_path / "c.sqlite",
        cfg=_insta_cfg(world_server.base_url),
        workers=2,
        session_file=str(_session_file(tmp_path)),
        login="mia",
    )
    assert s.ok == len(posts) and not s.problems, s.human()
    served = world_server.log[start:]
    # instaloader's own queries reached the world: the web GraphQL API (www.instagram.com) and
    # the iPhone API (i.instagram.com), both mapped onto --base-url
    assert sum(1 for m, p, _ in served if (m, p) == ("POST", "/graphql/query")) == len(posts)
    assert sum(1 for m, p, _ in served if m == "GET" and p.startswith("/api/v1/media/")) == len(posts)
    # nothing else was looked up or connected to, and every request went through the polite client
    assert set(wire["resolved"]) == {"127.0.0.1"} and {a[:2] for a in wire["connected"]} == {
        ("127.0.0.1", port)
    }
    assert not {h for h in wire["resolved"] if h in INSTAGRAM_API_HOSTS}
    assert s.requests == len(served)
    with Catalog(tmp_path / "c.sqlite") as cat:
        for p in posts:
            (video,) = cat.assets(source="instagram", source_id=p.product_id, kind="video")
            want = hashlib.sha256(
                (small_world / world_truth.video(p.videos[0]).path).read_bytes()
            ).hexdigest()
            assert video.sha256 == want
            row = cat.get_item("instagram", p.product_id)
            assert row.item.caption == (p.caption or p.title)  # metadata from the API answer


def test_instagram_api_hosts_off_the_allow_list_are_refused_without_a_lookup(tmp_path, wire):
    s = collect(
        "instagram",
        ["shortcode:CxAbc01"],
        root=tmp_path / "data",
        catalog=tmp_path / "c.sqlite",
        cfg=_insta_cfg(None, allowed_hosts=[]),
        session_file=str(_session_file(tmp_path)),
        login="mia",
    )
    assert s.reasons == {"host_not_allowed": 1} and s.requests == 0, s.human()
    assert wire["resolved"] == [] and wire["connected"] == []


def test_robots_rules_apply_to_instaloader_queries(world_server, world_truth, tmp_path):
    world_server.set_faults(Faults(robots_disallow=["/graphql/"]))
    try:
        start = len(world_server.log)
        s = collect(
            "instagram",
            [f"shortcode:{_posts(world_truth)[0].product_id}"],
            root=tmp_path / "data",
            catalog=tmp_path / "c.sqlite",
            cfg=_insta_cfg(world_server.base_url),
            session_file=str(_session_file(tmp_path)),
            login="mia",
        )
    finally:
        world_server.set_faults(Faults())
    assert s.reasons == {"robots_disallowed": 1}, s.human()
    assert [p for _, p, _ in world_server.log[start:]] == ["/robots.txt"]


def test_unbound_instaloader_sessions_send_nothing_and_copies_keep_the_rules():
    import instaloader.instaloadercontext as ilc

    guard_instaloader()
    with pytest.raises(FetchError) as err:
        ilc.requests.Session().get("http://127.0.0.1:9/x")  # a session nobody bound
    assert err.value.reason == "host_not_allowed" and "polite client" in str(err.value)
    client = PoliteClient(FAST_HTTP, policy=HostPolicy.of(["127.0.0.1:9"]))
    adapter = PoliteAdapter(client)
    copy = ilc.copy_session(bind(requests.Session(), adapter), 5.0)
    assert copy.get_adapter("https://www.instagram.com/") is adapter


def test_the_adapter_honours_retry_after_rate_limit_robots_and_the_host_map(tmp_path):
    sleeps: list[float] = []
    cfg = HttpConfig(
        max_retries=3, retry_after_max_s=100, rate_per_host=1.0, burst_per_host=1, backoff_base_s=0.01
    )
    with FakeSite() as site:
        site.routes["/api/q"] = Route(
            b'{"status": "ok"}',
            content_type="application/json",
            fail_first=2,
            fail_status=429,
            retry_after="7",
        )
        site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        host = site.base.removeprefix("http://")
        client = PoliteClient(cfg, policy=HostPolicy.of([host]), sleep=sleeps.append)
        adapter = PoliteAdapter(client, host_map={"i.instagram.com": site.base})
        sess = bind(requests.Session(), adapter)
        resp = sess.get("https://i.instagram.com/api/q")  # mapped onto the site
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
        assert site.hits["/api/q"] == 3 and [s for s in sleeps if s >= 1].count(7.0) == 2
        assert any(0 < s < 7 for s in sleeps)  # the token bucket paced the host (1 request/s)
        with pytest.raises(FetchError) as err:
            sess.get(site.url("/private/x"))
        assert err.value.reason == "robots_disallowed" and site.hits["/private/x"] == 0
        with pytest.raises(FetchError) as err:
            sess.get("https://www.instagram.com/")  # not mapped, not allowed
        assert err.value.reason == "host_not_allowed"
        assert adapter.sent == [site.url("/api/q")] * 3 and client.stats["requests"] == 4  # + robots.txt


def test_a_request_moved_to_the_mirror_leaves_the_real_sites_credentials_behind():
    """Cookies, Authorization and CSRF tokens attached for www.instagram.com are not sent to the
    --base-url host; a request that stays on its host keeps its own cookies."""
    with FakeSite() as site:
        site.routes["/api/q"] = Route(b"{}", content_type="application/json")
        host = site.base.removeprefix("http://")
        client = PoliteClient(FAST_HTTP, policy=HostPolicy.of([host]))
        sess = bind(requests.Session(), PoliteAdapter(client, host_map={"www.instagram.com": site.base}))
        sess.cookies.set("sessionid", "S3CR3T", domain="www.instagram.com")
        sess.cookies.set("local", "mine", domain="127.0.0.1")
        secret = {"Authorization": "Bearer S3CR3T", "X-CSRFToken": "tok", "Proxy-Authorization": "x"}
        assert sess.get("https://www.instagram.com/api/q", headers=secret).status_code == 200
        assert sess.get(site.url("/api/q")).status_code == 200  # not moved: its cookie goes
    moved, stayed = [h for h in site.headers_seen if "robots" not in str(h)][-2:]
    assert not {k.lower() for k in moved} & {"cookie", "authorization", "x-csrftoken", "proxy-authorization"}
    assert "S3CR3T" not in str(site.headers_seen) and stayed.get("Cookie") == "local=mine"


def test_a_logged_in_session_sends_no_cookie_to_the_base_url(tmp_path):
    """The login session's cookies (sessionid, csrftoken) belong to instagram.com: with
    --base-url instaloader's queries reach the mirror without them."""
    with FakeSite() as mirror:

        def do_post(handler):  # instaloader's GraphQL query: record its headers, then 404
            mirror.headers_seen.append(dict(handler.headers))
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        mirror.server.RequestHandlerClass.do_POST = do_post
        cfg = _insta_cfg(mirror.base)
        cfg = cfg.model_copy(update={"http": cfg.http.model_copy(update={"max_retries": 0})})
        s = collect(
            "instagram",
            ["shortcode:CxAbc01"],
            root=tmp_path / "data",
            cfg=cfg,
            workers=1,
            session_file=str(_session_file(tmp_path)),
            login="mia",
        )
    assert s.requests > 1 and len(mirror.headers_seen) > 1, s.human()  # the queries did reach it
    sent = [{k.lower(): v for k, v in h.items()} for h in mirror.headers_seen]
    assert not [h for h in sent if "cookie" in h or "x-csrftoken" in h], sent
    assert "s3cr3t" not in str(sent)


# -- yt-dlp ----------------------------------------------------------------------------


def test_every_request_yt_dlp_makes_goes_through_the_polite_client(tmp_path, wire):
    with FakeSite() as site:
        site.routes["/v/1.mp4"] = Route(mp4_bytes(tmp_path, 1), content_type="video/mp4")
        site.routes["/v/2.mp4"] = Route(
            mp4_bytes(tmp_path, 2), content_type="video/mp4", fail_first=1, fail_status=429, retry_after="1"
        )
        lst = tmp_path / "l.txt"
        lst.write_text(f"{site.url('/v/1.mp4')}\n{site.url('/v/2.mp4')}\n")
        cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
        s = collect(
            "urls", [str(lst)], root=tmp_path / "o", catalog=tmp_path / "c.sqlite", cfg=cfg, workers=1
        )
        assert s.ok == 2, s.human()
        assert s.requests == sum(site.hits.values())  # yt-dlp's extraction and downloads counted too
        assert site.hits["/v/1.mp4"] >= 3  # HEAD check, yt-dlp's page read, its download
        assert set(wire["resolved"]) <= {"127.0.0.1"}


def test_yt_dlp_has_no_other_way_to_the_network():
    client = PoliteClient(FAST_HTTP, policy=HostPolicy.of(["127.0.0.1:9"]))
    with polite_youtubedl({"quiet": True}, client) as ydl:
        assert list(ydl._request_director.handlers) == ["Polite"]


def test_yt_dlp_redirects_and_robots_are_checked_inside_yt_dlp(tmp_path, wire):
    with FakeSite() as site:
        site.routes["/r.mp4"] = Route(location="http://foreign.invalid/x.mp4")
        site.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.routes["/private/v.mp4"] = Route(mp4_bytes(tmp_path, 4), content_type="video/mp4")
        policy = HostPolicy.of([site.base.removeprefix("http://")])
        client = PoliteClient(FAST_HTTP, policy=policy)
        fetcher = YtdlFetcher(FAST_HTTP, policy, client=client)
        with pytest.raises(FetchError) as err:
            fetcher.extract(site.url("/r.mp4"))
        assert err.value.reason == "host_not_allowed" and "foreign.invalid" in str(err.value)
        assert "foreign.invalid" not in wire["resolved"]
        with pytest.raises(FetchError) as err:
            fetcher.extract(site.url("/private/v.mp4"))
        assert err.value.reason == "robots_disallowed" and site.hits["/private/v.mp4"] == 0


@pytest.mark.parametrize(
    "fmt",
    [
        {"url": "http://127.0.0.1:9/v.m3u8", "protocol": "m3u8_native"},
        {"url": "http://127.0.0.1:9/v.m3u8"},
        {"url": "http://127.0.0.1:9/live", "protocol": "rtmp"},
        {"url": "http://127.0.0.1:9/v.mpd", "protocol": "http_dash_segments"},
    ],
)
def test_formats_yt_dlp_would_hand_to_external_programs_are_refused(fmt):
    policy = HostPolicy.of(["127.0.0.1:9"])
    with pytest.raises(FetchError) as err:
        allowed_formats({"id": "x", "formats": [fmt]}, policy)
    assert err.value.reason == "unsupported_protocol" and "polite client" in str(err.value)
    ok = {"url": "http://127.0.0.1:9/v.mp4", "protocol": "http"}
    assert allowed_formats({"id": "x", "formats": [fmt, ok]}, policy)["formats"] == [ok]
