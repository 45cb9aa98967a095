"""TikTok: a video page read by yt-dlp's own TikTok extractor, its hosts mapped onto the loopback
site by ``tiktok.api_base`` (``--base-url``), the allow-list judging the real hosts."""

from __future__ import annotations

import hashlib
import json

from collectors.tiktok import tiktok_host_map
from collectors.transport import map_host
from schemas.catalog import Catalog
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes

VID = "7300000000000000001"
CDN_URL = f"https://v16-webapp-prime.tiktokcdn.com/video/tos/{VID}.mp4"


def video_page(vid: str, play_url: str) -> bytes:
    """A video page in the shape yt-dlp's TikTokIE reads: the item in the
    ``__UNIVERSAL_DATA_FOR_REHYDRATION__`` script's ``webapp.video-detail``."""
    data = {
        "__DEFAULT_SCOPE__": {
            "webapp.video-detail": {
                "statusCode": 0,
                "itemInfo": {
                    "itemStruct": {
                        "id": vid,
                        "desc": "my outfit #ootd #dress",
                        "createTime": 1700000000,
                        "author": {
                            "uniqueId": "styledbymia",
                            "nickname": "Mia",
                            "id": "42",
                            "secUid": "MS4w",
                        },
                        "video": {"width": 64, "height": 48, "duration": 1, "playAddr": play_url},
                        "stats": {"playCount": 10, "diggCount": 2},
                    }
                },
            }
        }
    }
    script = json.dumps(data).replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html><head><title>TikTok</title></head><body>"
        f'<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">{script}</script>'
        "</body></html>"
    ).encode()


def test_the_host_map_sends_page_hosts_and_media_domains_to_the_base():
    hmap = tiktok_host_map("http://127.0.0.1:9", ["www.tiktok.com", "127.0.0.1:9"], [".tiktokcdn.com"])
    assert hmap == {"www.tiktok.com": "http://127.0.0.1:9", ".tiktokcdn.com": "http://127.0.0.1:9"}
    assert map_host(CDN_URL, hmap) == f"http://127.0.0.1:9/video/tos/{VID}.mp4"
    assert map_host("https://tiktokcdn.com/a", hmap) == "http://127.0.0.1:9/a"
    assert map_host("https://eviltiktokcdn.com/a", hmap) == "https://eviltiktokcdn.com/a"
    assert tiktok_host_map(None, ["www.tiktok.com"], [".tiktokcdn.com"]) == {}


def test_a_video_page_is_read_by_yt_dlps_tiktok_extractor_through_the_base_url(tmp_path, capsys):
    from collectors.cli import collect as collect_cmd
    from schemas.cli_support import run_main

    body = mp4_bytes(tmp_path, 73)
    config = tmp_path / "collect.yaml"
    config.write_text("http:\n  rate_per_host: 1000\n  burst_per_host: 100\n  max_retries: 1\n")
    with FakeSite() as site:
        site.routes[f"/@styledbymia/video/{VID}"] = Route(video_page(VID, CDN_URL), content_type="text/html")
        site.routes[f"/video/tos/{VID}.mp4"] = Route(body, content_type="video/mp4")
        root = tmp_path / "data"
        url = f"https://www.tiktok.com/@styledbymia/video/{VID}"
        args = ["tiktok", url, "--root", str(root), "--base-url", site.base, "--config", str(config)]
        code = 0
        try:
            run_main(collect_cmd, args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        err = capsys.readouterr().err
        assert code == 0, err
        assert site.hits[f"/@styledbymia/video/{VID}"] >= 1 and site.hits[f"/video/tos/{VID}.mp4"] >= 1
    with Catalog(root / "catalog.sqlite") as cat:
        row = cat.get_item("tiktok", VID)
        assert row.status == "downloaded", row
        assert row.item.hashtags == ["ootd", "dress"] and row.item.metadata["uploader"] == "styledbymia"
        (video,) = cat.assets(source="tiktok", source_id=VID, kind="video")
        assert video.sha256 == hashlib.sha256(body).hexdigest()
        assert (root / video.path).read_bytes() == body
