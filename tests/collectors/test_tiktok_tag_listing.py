"""A TikTok hashtag's videos listed by yt-dlp's own ``tiktok:tag`` extractor, against the world.

yt-dlp's TikTokTagIE reads the tag's page (its id in the app link
``snssdk1233://challenge/detail/<id>``), then pages through TikTok's app API
(``api16-normal-c-useast1a.tiktokv.com/aweme/v1/challenge/aweme/``), which it asks only with an
app install's info (``app_info``) or a device id. The collector had no way to pass them, so a
hashtag listing was tested with a stub only. Now ``tiktok.extractor_args`` passes them on; the
world answers the tag's page and the app API (``tiktok.api_base`` sends TikTok's hosts there,
the allow-list judging the real ones), and nothing is replaced. Without them, the listing fails
before the API is asked, naming the setting and what to do."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from collectors.cli import collect as collect_cli
from collectors.config import load_collect_config
from movingfashion.world.faults import Faults
from movingfashion.world.server import WorldServer
from movingfashion.world.tiktok_web import challenge_id, tag_videos, tiktok_user
from schemas.catalog import Catalog
from schemas.errors import ConfigError
from schemas.items import SourceName
from tests.mf_cli import run_command

CONFIG = (
    "http:\n  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 1\n"
    "  backoff_base_s: 0.001\n  backoff_max_s: 0.005\n  retry_after_max_s: 0.005\n"
)
APP_INFO = (
    "tiktok:\n  extractor_args:\n    app_info: ['7351144126450059040/musical_ly/35.1.3/2023501030/0']\n"
)


def _tag(world_truth, busiest: bool = True) -> tuple[str, list]:
    """The hashtag most TikTok videos carry (``busiest``), or one only some carry, and its videos."""
    videos = [p for p in world_truth.products if p.source == SourceName.TIKTOK and p.videos]
    counts = Counter(h.lower() for p in videos for h in set(p.hashtags))
    pick = max if busiest else min
    tag = pick(sorted(counts), key=lambda t: counts[t])
    return tag, tag_videos(world_truth.products, tag)


def _collect(srv: WorldServer, target: str, tmp_path, capsys, config: str) -> tuple[int, dict, str]:
    path = tmp_path / "collect.yaml"
    path.write_text(config)
    args = ["tiktok", target, "--root", str(tmp_path / "data"), "--base-url", srv.base_url]
    code, out, err = run_command(collect_cli, [*args, "--config", str(path), "--json"], capsys)
    assert out.strip(), err
    return code, json.loads(out), err


def _paths(srv: WorldServer, prefix: str) -> list[str]:
    return [path for _, path, status in srv.log if path.startswith(prefix) and status == 200]


def test_a_hashtags_videos_are_listed_and_collected_through_yt_dlps_tag_extractor(
    small_world, world_truth, tmp_path, capsys
):
    tag, mine = _tag(world_truth)
    assert len(mine) >= 2, "the small world has a hashtag on two TikTok videos or more"
    with WorldServer(small_world, page_size=1) as srv:  # one video a page: the cursor is followed
        code, summary, err = _collect(srv, f"#{tag}", tmp_path, capsys, CONFIG + APP_INFO)
        assert _paths(srv, f"/tag/{tag}")
        pages = [p for _, p, s in srv.log if p.startswith("/aweme/v1/challenge/aweme")]
        assert set(_paths(srv, "/tiktok/video/")) == {f"/tiktok/video/{p.product_id}.mp4" for p in mine}
        assert not _paths(srv, "/@")  # the app API's entries carry their formats: no video page read
    assert code == 0, (summary, err)
    assert (summary["ok"], summary["failed"]) == (len(mine), 0)
    assert len(pages) == len(mine)  # yt-dlp asked page after page until has_more was 0
    with Catalog(tmp_path / "data" / "catalog.sqlite") as cat:
        assert {r.item.source_id for r in cat.items(source="tiktok")} == {p.product_id for p in mine}
        for p in mine:
            row = cat.get_item("tiktok", p.product_id)
            assert row is not None and row.status == "downloaded", (p.product_id, row)
            assert tag in [h.lower() for h in row.item.hashtags]
            (video,) = cat.assets(source="tiktok", source_id=p.product_id, kind="video")
            assert video.sha256 == world_truth.video(p.videos[0]).sha256
            assert hashlib.sha256((tmp_path / "data" / video.path).read_bytes()).hexdigest() == video.sha256


def test_the_app_api_is_asked_with_the_tags_id_and_the_app_info_given(
    small_world, world_truth, tmp_path, capsys
):
    """A device id alone is enough for yt-dlp; only the tag's videos are listed (the world's other
    TikTok videos do not carry it)."""
    tag, mine = _tag(world_truth, busiest=False)
    others = [p for p in world_truth.products if p.source == SourceName.TIKTOK and p.videos and p not in mine]
    assert mine and others
    config = CONFIG + "tiktok:\n  extractor_args:\n    device_id: '7300000000000000042'\n"
    with WorldServer(small_world) as srv:
        queries: list[str] = []
        route = srv.site.route

        def keep(path, query):
            if path.startswith("/aweme/"):
                queries.append(json.dumps(query))
            return route(path, query)

        srv.site.route = keep
        code, summary, err = _collect(srv, f"tiktok:tag:{tag}", tmp_path, capsys, config)
    assert code == 0, (summary, err)
    assert (summary["ok"], summary["failed"]) == (len(mine), 0)
    with Catalog(tmp_path / "data" / "catalog.sqlite") as cat:
        assert {r.item.source_id for r in cat.items(source="tiktok")} == {p.product_id for p in mine}
    (query,) = queries  # all of them on one page
    asked = json.loads(query)
    assert asked["ch_id"] == [challenge_id(tag)] and asked["device_id"] == ["7300000000000000042"]


def test_without_app_info_a_hashtag_listing_names_the_setting_and_what_to_do(
    small_world, world_truth, tmp_path, capsys
):
    """yt-dlp reads the tag's page, then refuses to ask the app API without app info: the
    listing ends naming the setting that gives it, and the run fails."""
    tag, _ = _tag(world_truth)
    with WorldServer(small_world) as srv:
        code, summary, err = _collect(srv, f"#{tag}", tmp_path, capsys, CONFIG)
        assert not [p for _, p, _ in srv.log if p.startswith("/aweme/")]
    assert code == 1
    (problem,) = summary["problems"]
    assert problem["url"] == f"https://www.tiktok.com/tag/{tag}" and problem["stage"] == "discovery"
    assert problem["reason"] == "app_info_required"
    assert "tiktok.extractor_args" in problem["message"] and "app_info" in problem["message"]
    assert "--config" in problem["message"] and "device_id" in problem["message"]


def test_the_app_api_is_asked_through_the_polite_clients_robots_rules(
    small_world, world_truth, tmp_path, capsys
):
    """The app API's host is judged as any other: robots.txt forbidding ``/aweme/`` ends the
    listing (a discovery problem naming it), and nothing reaches the API."""
    tag, _ = _tag(world_truth)
    with WorldServer(small_world, faults=Faults(robots_disallow=["/aweme/"])) as srv:
        code, summary, _ = _collect(srv, f"#{tag}", tmp_path, capsys, CONFIG + APP_INFO)
        assert _paths(srv, f"/tag/{tag}")  # the tag's page was read
        assert not [p for _, p, _ in srv.log if p.startswith("/aweme/")]
    assert code == 1
    (problem,) = summary["problems"]
    assert problem["url"] == f"https://www.tiktok.com/tag/{tag}" and problem["stage"] == "discovery"
    assert problem["reason"] == "robots_disallowed", problem


def test_a_tag_no_video_carries_is_a_discovery_problem(small_world, tmp_path, capsys):
    with WorldServer(small_world, faults=Faults()) as srv:
        code, summary, _ = _collect(srv, "#nosuchtagzz", tmp_path, capsys, CONFIG + APP_INFO)
    assert code == 1
    (problem,) = summary["problems"]
    assert problem["url"] == "https://www.tiktok.com/tag/nosuchtagzz" and problem["reason"] == "http_404"


@pytest.mark.parametrize(
    "args, words",
    [
        ("{'App-Info': ['x']}", "'App-Info'"),
        ("{app_info: ['']}", "non-empty"),
        ("{app_info: 5}", "tiktok.extractor_args.app_info"),
    ],
)
def test_a_bad_extractor_argument_is_refused_naming_it(tmp_path, args, words):
    path = tmp_path / "c.yaml"
    path.write_text(f"tiktok:\n  extractor_args: {args}\n")
    with pytest.raises(ConfigError) as exc:
        load_collect_config(path)
    assert words in str(exc.value) and "extractor_args" in str(exc.value)


def test_a_single_value_is_read_as_a_list(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("tiktok:\n  extractor_args: {device_id: '7300000000000000042'}\n")
    assert load_collect_config(path).tiktok.extractor_args == {"device_id": ["7300000000000000042"]}


def test_with_app_info_video_pages_are_collected_and_the_app_api_refusing_one_is_not_asked_again(
    small_world, world_truth, tmp_path, capsys
):
    """yt-dlp asks the app API for a single video first when app_info is given; the world does
    not answer that call (405), and yt-dlp reads the video's page instead. Each video cost that
    refused request again; once the API has refused one, the run's later videos are read from
    their pages straight away, and what is collected is the same (one video at a time here:
    videos asked at once each try the API)."""
    _, mine = _tag(world_truth)
    urls = [f"https://www.tiktok.com/@{tiktok_user(p)}/video/{p.product_id}" for p in mine[:2]]
    config = tmp_path / "collect.yaml"
    config.write_text(CONFIG + APP_INFO)
    with WorldServer(small_world) as srv:
        args = [
            "tiktok",
            *urls,
            "--root",
            str(tmp_path / "data"),
            "--base-url",
            srv.base_url,
            "--workers",
            "1",
        ]
        code, out, err = run_command(collect_cli, [*args, "--config", str(config), "--json"], capsys)
        asked = [s for m, path, s in srv.log if m == "POST" and path.startswith("/aweme/")]
        pages = [path for p in mine[:2] for path in _paths(srv, f"/@{tiktok_user(p)}/video/{p.product_id}")]
    summary = json.loads(out)
    assert code == 0 and (summary["ok"], summary["failed"]) == (2, 0), (summary, err)
    assert asked == [405] and len(pages) == 2, (asked, pages)


@pytest.mark.parametrize(
    ("status", "refused"), [(405, True), (404, True), (429, False), (408, False), (503, False)]
)
def test_only_a_client_error_of_the_app_api_skips_it_for_the_next_videos(status, refused):
    """A busy answer (429, 408, 5xx) may pass next time: the next video asks the app API again."""
    from collectors.tiktok import _app_api_refused

    warning = f"[TikTok] 7: Unable to download API page: HTTP Error {status}: X (caused by <HTTPError {status}>); trying with webpage"
    assert _app_api_refused(warning) is refused
    assert not _app_api_refused(f"[TikTok] 7: HTTP Error {status}: X")  # no fallback to the page: not it
