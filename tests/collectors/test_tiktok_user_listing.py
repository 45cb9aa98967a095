"""A TikTok user's videos listed by yt-dlp's own ``tiktok:user`` extractor, against the world.

Before, only a single video's page went through yt-dlp's real extractor; a user listing was
tested with yt-dlp's extraction replaced by a stub. Here nothing is replaced: ``mf-collect
tiktok @USER --base-url WORLD`` runs yt-dlp's TikTokUserIE, which reads the user's page
(``webapp.user-detail``: its secUid), pages through ``/api/creator/item_list/`` by its cursor
(one video a page here), then its TikTok extractor reads each video's page and the video is
downloaded from the CDN, every request through the polite client (``tiktok.api_base`` sends
TikTok's hosts to the world; the allow-list judges the real ones)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from collectors.cli import collect as collect_cli
from movingfashion.world.faults import Faults
from movingfashion.world.server import WorldServer
from movingfashion.world.sites import Answer, Site
from movingfashion.world.tiktok_web import sec_uid, tiktok_user, upload_time
from schemas.catalog import Catalog
from schemas.items import SourceName
from tests.mf_cli import run_command

CONFIG = (
    "http:\n  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 1\n"
    "  backoff_base_s: 0.001\n  backoff_max_s: 0.005\n  retry_after_max_s: 0.005\n"
)


def _paths(srv: WorldServer, prefix: str) -> list[str]:
    return [path for _, path, status in srv.log if path.startswith(prefix) and status == 200]


def test_a_users_videos_are_listed_and_collected_through_yt_dlps_user_extractor(
    small_world, world_truth, tmp_path, capsys
):
    user, mine = _busiest_user(world_truth)
    n = len(mine)
    assert n >= 2, "the small world has a TikTok user with two videos or more"
    config = tmp_path / "collect.yaml"
    config.write_text(CONFIG)
    root = tmp_path / "data"
    with WorldServer(small_world, page_size=1) as srv:  # one video a page: the cursor is followed
        fx = srv.write_fixtures(tmp_path / "fixtures")
        args = ["tiktok", f"@{user}", "--root", str(root), "--base-url", srv.base_url]
        args += ["--config", str(config)]
        code, out, err = run_command(collect_cli, [*args, "--shop-map", fx["tiktok_shops"], "--json"], capsys)
        pages = _paths(srv, "/api/creator/item_list")
        assert _paths(srv, f"/@{user}") and _paths(srv, f"/@{user}/video/")
        assert set(_paths(srv, "/tiktok/video/")) == {f"/tiktok/video/{p.product_id}.mp4" for p in mine}
    assert code == 0, out + err
    assert len(pages) == n  # yt-dlp asked page after page until hasMorePrevious was false
    with Catalog(root / "catalog.sqlite") as cat:
        for p in mine:
            row = cat.get_item("tiktok", p.product_id)
            assert row is not None and row.status == "downloaded", (p.product_id, row)
            assert row.item.metadata["uploader"] == user and row.item.metadata["channel_id"] == sec_uid(user)
            (video,) = cat.assets(source="tiktok", source_id=p.product_id, kind="video")
            assert video.sha256 == world_truth.video(p.videos[0]).sha256
            assert hashlib.sha256((root / video.path).read_bytes()).hexdigest() == video.sha256


def _collect_user(srv: WorldServer, user: str, tmp_path, capsys) -> tuple[int, dict]:
    config = tmp_path / "collect.yaml"
    config.write_text(CONFIG)
    args = ["tiktok", f"@{user}", "--root", str(tmp_path / "data"), "--base-url", srv.base_url]
    code, out, err = run_command(collect_cli, [*args, "--config", str(config), "--json"], capsys)
    assert out.strip(), err
    return code, json.loads(out)


def _busiest_user(world_truth) -> tuple[str, list]:
    videos = [p for p in world_truth.products if p.source == SourceName.TIKTOK and p.videos]
    user, _ = Counter(tiktok_user(p) for p in videos).most_common(1)[0]
    return user, sorted((p for p in videos if tiktok_user(p) == user), key=upload_time, reverse=True)


def test_a_video_taken_down_is_no_longer_listed(small_world, world_truth, tmp_path, capsys):
    user, mine = _busiest_user(world_truth)
    with WorldServer(small_world, page_size=1, faults=Faults(taken_down=[mine[0].product_id])) as srv:
        code, summary = _collect_user(srv, user, tmp_path, capsys)
    assert code == 0, summary
    assert (summary["ok"], summary["failed"]) == (len(mine) - 1, 0)
    with Catalog(tmp_path / "data" / "catalog.sqlite") as cat:
        assert {r.item.source_id for r in cat.items(source="tiktok")} == {p.product_id for p in mine[1:]}


def test_the_video_list_api_is_asked_through_the_polite_clients_robots_rules(
    small_world, world_truth, tmp_path, capsys
):
    """yt-dlp's API call is one more request of the polite client: robots.txt forbidding it ends
    the listing (a discovery problem naming it), nothing reaches the API."""
    user, _ = _busiest_user(world_truth)
    with WorldServer(small_world, faults=Faults(robots_disallow=["/api/"])) as srv:
        code, summary = _collect_user(srv, user, tmp_path, capsys)
        assert _paths(srv, f"/@{user}")  # the user's page was read
        assert not [path for _, path, _ in srv.log if path.startswith("/api/")]
    assert code == 1
    (problem,) = summary["problems"]
    assert problem["url"] == f"tiktokuser:{user}" and problem["stage"] == "discovery"
    assert problem["reason"] == "robots_disallowed", problem


def test_a_later_page_of_the_list_answering_429_ends_that_listing_and_keeps_the_videos_before(
    small_world, world_truth, tmp_path, capsys, monkeypatch
):
    """The page after the first answers 429 (the site wants the client to slow down): yt-dlp's
    extractor raises it lazily, as the entries are taken; the listing ends there, named with
    what to do, and the first page's video is collected."""
    user, mine = _busiest_user(world_truth)
    answer = Site.tiktok_web
    asked: list[str] = []

    def busy_after_the_first_page(self, parts, query):
        if parts[:1] == ["api"]:
            asked.append(query.get("cursor", [""])[0])
            if len(asked) > 1:
                return Answer(429, "text/plain", b"slow down", headers={"Retry-After": "30"})
        return answer(self, parts, query)

    monkeypatch.setattr(Site, "tiktok_web", busy_after_the_first_page)
    with WorldServer(small_world, page_size=1) as srv:
        code, summary = _collect_user(srv, user, tmp_path, capsys)
    assert code == 1
    assert summary["ok"] == 1 and len(asked) >= 2
    assert asked[1] == str(upload_time(mine[0]) * 1000)  # the cursor: the first video's time
    (problem,) = summary["problems"]
    assert problem["url"] == f"tiktokuser:{user}" and problem["stage"] == "discovery"
    assert problem["reason"] == "http_429_exhausted"
    assert "yt-dlp could not read the rest of the listing" in problem["message"]
    with Catalog(tmp_path / "data" / "catalog.sqlite") as cat:
        assert [r.item.source_id for r in cat.items(source="tiktok")] == [mine[0].product_id]
