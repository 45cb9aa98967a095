"""The real downloaders read the fixture files and fetch the world from the loopback server."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from schemas.atomic import sha256_file
from schemas.items import SourceName


def test_ytdlp_replays_tiktok_info_json(world_server, world_truth, tmp_path):
    import yt_dlp

    fx = world_server.write_fixtures(tmp_path / "fx")
    info_file = fx["tiktok_info"][0]
    out = tmp_path / "dl"
    opts = {"outtmpl": str(out / "%(id)s.%(ext)s"), "quiet": True, "noprogress": True}
    with yt_dlp.YoutubeDL(opts) as ydl:
        assert ydl.download_with_info_file(info_file) == 0
    files = list(out.glob("*.mp4"))
    assert len(files) == 1
    v = world_truth.video(files[0].stem)
    assert v.source == SourceName.TIKTOK and sha256_file(files[0]) == v.sha256


def test_ytdlp_generic_extractor_reads_plain_urls(world_server, world_truth, tmp_path):
    import yt_dlp

    fx = world_server.write_fixtures(tmp_path / "fx")
    url = Path(fx["urls"]).read_text().split()[0]
    with yt_dlp.YoutubeDL({"outtmpl": str(tmp_path / "g.%(ext)s"), "quiet": True, "noprogress": True}) as ydl:
        info = ydl.extract_info(url, download=True)
    assert info["extractor"] == "generic"
    assert sha256_file(tmp_path / "g.mp4") in {v.sha256 for v in world_truth.videos}


def test_instaloader_rebuilds_posts(world_server, world_truth, small_world, tmp_path):
    import instaloader

    fx = world_server.write_fixtures(tmp_path / "fx")
    L = instaloader.Instaloader(quiet=True)
    assert fx["instagram"]
    for path in fx["instagram"]:
        post = instaloader.load_structure_from_file(L.context, path)
        p = world_truth.product(post.shortcode)
        assert post.typename == "GraphSidecar" and post.caption == p.caption
        assert post.caption_hashtags == p.hashtags
        nodes = list(post.get_sidecar_nodes())
        assert nodes[0].is_video and sum(not n.is_video for n in nodes) >= 2
        with urllib.request.urlopen(nodes[0].video_url) as r:
            assert hashlib.sha256(r.read()).hexdigest() == world_truth.video(p.videos[0]).sha256
        cands = {sha256_file(small_world / rel) for k, rel in p.images.items() if k.startswith("candidate-")}
        got = set()
        for n in nodes[1:]:
            with urllib.request.urlopen(n.display_url) as r:
                assert r.headers["Content-Type"] == "image/jpeg"
                got.add(hashlib.sha256(r.read()).hexdigest())
        assert got == cands
