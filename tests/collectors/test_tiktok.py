"""TikTok: saved info JSON replayed through yt-dlp's real downloader, shop map, playlists."""

from __future__ import annotations

import hashlib

import pytest

from collectors.api import collect, open_source
from collectors.config import load_collect_config
from collectors.shopmap import load_shop_map
from collectors.tiktok import expand_target
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from tests.collectors.conftest import FAST_HTTP
from tests.collectors.conftest import ytdl_cfg as cfg_for


def test_expand_targets():
    assert expand_target("tiktok:user:mia") == "tiktokuser:mia"
    assert expand_target("@mia") == "tiktokuser:mia"
    assert expand_target("#ootd") == "https://www.tiktok.com/tag/ootd"
    assert expand_target("tiktok:tag:ootd") == "https://www.tiktok.com/tag/ootd"


def test_tiktok_info_files_with_shop_map_and_faults(tiktok_site, tmp_path):
    site, infos, mapping, bodies, shop, local = tiktok_site
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    s = collect(
        "tiktok",
        [str(infos)],
        root=out,
        catalog=cat_path,
        cfg=cfg_for(site),
        workers=2,
        shop_map=str(mapping),
    )
    assert s.ok == 3, s.human()
    assert s.reasons == {"unsafe_id": 1, "not_a_video": 1, "host_not_allowed": 1}
    with Catalog(cat_path) as cat:
        for vid, body in bodies.items():
            row = cat.get_item("tiktok", vid)
            assert row.status == "downloaded"
            assert row.item.hashtags == ["ootd", "dress"] and row.item.caption.startswith("my outfit")
            assert row.item.metadata["uploader"] == "styledbymia" and "formats" not in row.item.metadata
            (video,) = cat.assets(source="tiktok", source_id=vid, kind="video")
            assert (
                video.path == f"tiktok/{vid}/video.mp4" and video.sha256 == hashlib.sha256(body).hexdigest()
            )
            assert (out / video.path).read_bytes() == body and video.probe.frames == 6
        assert (out / "tiktok/7001/shop.jpg").read_bytes() == shop
        assert (out / "tiktok/7002/shop.jpg").read_bytes() == local
        assert not cat.assets(
            source="tiktok", source_id="7003", kind="shop"
        )  # left for split-screen recovery
        assert cat.get_item("tiktok", "7009").status == "rejected"
        assert cat.get_item("tiktok", "7010").reason.endswith("host_not_allowed")
    assert site.hits.get("/x.mp4") is None
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == [".ytdlp-archive.txt"]
    archive = (out / "tiktok/.ytdlp-archive.txt").read_text().split()
    assert {"7001", "7002", "7003"} <= set(archive)
    before = sum(site.hits.values())
    s2 = collect(
        "tiktok",
        [str(infos)],
        root=out,
        catalog=cat_path,
        cfg=cfg_for(site),
        workers=2,
        shop_map=str(mapping),
    )
    assert s2.ok == 0 and s2.files == 0 and s2.skipped == 6
    assert sum(site.hits.values()) == before


def test_shop_map_jsonl(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"video_id": "1", "shop_url": "http://x.example/1.jpg"}\n{"video": "2", "shop": "a.jpg"}\n')
    refs = load_shop_map(m)
    assert refs["1"].url == "http://x.example/1.jpg" and refs["2"].path == tmp_path / "a.jpg"
    m.write_text('{"video_id": "1"}\n')
    with pytest.raises(DataFormatError):
        load_shop_map(m)


def test_user_and_tag_targets_expand_through_the_playlist(monkeypatch, tmp_path):
    asked = []

    def fake_extract(url, process=True):
        asked.append((url, process))
        return {
            "_type": "playlist",
            "entries": iter(
                [
                    {"_type": "url", "id": "11", "url": "https://www.tiktok.com/@u/video/11"},
                    {"_type": "url", "id": "12", "url": "https://www.tiktok.com/@u/video/12"},
                ]
            ),
        }

    cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
    with open_source("tiktok", ["#ootd"], root=tmp_path, catalog=tmp_path / "c.sqlite", cfg=cfg) as src:
        monkeypatch.setattr(src.fetcher, "extract", fake_extract)
        cands = list(src.discover(["tiktok:user:mia", "#ootd"]))
        assert asked == [("tiktokuser:mia", False), ("https://www.tiktok.com/tag/ootd", False)]
        assert [c.raw_id for c in cands] == ["11", "12"]  # the second listing repeats them: deduplicated
        single = list(src.discover(["https://www.tiktok.com/@u/video/99"]))
    assert single[0].raw_id == "99" and single[0].payload is None and len(asked) == 2
