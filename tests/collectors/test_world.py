"""Acceptance against the synthetic world's loopback sites: every asset, right metadata, reruns, faults."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from movingfashion.world.server import media_etag
from schemas.catalog import Catalog
from schemas.items import SourceName
from tests.collectors.fakesite import loopback_http
from tests.world_fixtures import copy_cleaning_cache

FAST_HTTP = loopback_http(max_retries=3, max_concurrency_per_host=8, max_body_bytes=8 * 1024 * 1024)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cfg_for(base_url: str):
    return load_collect_config(base_url=base_url).model_copy(update={"http": FAST_HTTP})


def run_all(base_url: str, fx: dict, out: Path, cat: Path, workers: int = 4) -> dict:
    cfg = cfg_for(base_url)
    return {
        "netaporter": collect("netaporter", [fx["sitemap"]], root=out, catalog=cat, cfg=cfg, workers=workers),
        "tiktok": collect(
            "tiktok",
            fx["tiktok_info"],
            root=out,
            catalog=cat,
            cfg=cfg,
            workers=workers,
            shop_map=fx["tiktok_shops"],
        ),
        "instagram": collect("instagram", fx["instagram"], root=out, catalog=cat, cfg=cfg, workers=workers),
        "urls": collect("urls", [fx["urls"]], root=out, catalog=cat, cfg=cfg, workers=workers),
    }


@pytest.fixture(scope="module")
def collected(world_server, small_world, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collect-world")
    fx = world_server.write_fixtures(tmp / "fixtures")
    out, cat = tmp / "out", tmp / "catalog.sqlite"
    summaries = run_all(world_server.base_url, fx, out, cat)
    return fx, out, cat, summaries


def test_every_asset_with_world_hashes_and_metadata(collected, world_truth, small_world):
    fx, out, cat_path, summaries = collected
    for name, s in summaries.items():
        assert s.failed == 0 and s.rejected == 0, (name, s.human())
    videos = {v.video_id: v for v in world_truth.videos}
    with Catalog(cat_path) as cat:
        for p in world_truth.products:
            row = cat.get_item(str(p.source), p.product_id)
            if p.source != SourceName.NETAPORTER and not p.videos:
                continue
            assert row is not None and row.status == "downloaded", p.product_id
            item = row.item
            assets = {}
            for a in cat.assets(source=str(p.source), source_id=p.product_id, status="downloaded"):
                assert a.sha256 == sha(out / a.path)
                assets.setdefault(str(a.kind), []).append(a)
            if p.videos:
                assert [a.sha256 for a in assets["video"]] == [videos[p.videos[0]].sha256]
            if p.source == SourceName.NETAPORTER:
                assert (item.title, item.designer, item.colour, item.description) == (
                    p.title,
                    p.designer,
                    p.colour,
                    p.description,
                )
                assert item.category_path == p.category_path and item.has_video is bool(p.videos)
                for view, rel in p.images.items():
                    assert assets[view][0].sha256 == sha(small_world / rel), (p.product_id, view)
                assert set(assets) == set(p.images) | ({"video"} if p.videos else set())
            elif p.source == SourceName.TIKTOK:
                assert item.hashtags == p.hashtags and item.caption == p.caption
                if "shop" in p.images:
                    assert assets["shop"][0].sha256 == sha(small_world / p.images["shop"])
                else:
                    assert "shop" not in assets  # split-screen: left for recovery in cleaning
            else:
                assert [h.lower() for h in item.hashtags] == p.hashtags and item.caption == p.caption
                want = sorted(
                    sha(small_world / rel) for k, rel in p.images.items() if k.startswith("candidate-")
                )
                assert sorted(a.sha256 for a in assets["candidate-shop"]) == want
                assert item.metadata["owner"]["username"]
        # the URL list: every non-Net-A-Porter video (+ shop image where the world has one)
        for p in world_truth.products:
            if p.source == SourceName.NETAPORTER or not p.videos:
                continue
            urls_assets = {str(a.kind): a for a in cat.assets(source="urls", source_id=p.videos[0])}
            assert urls_assets["video"].sha256 == videos[p.videos[0]].sha256
            if "shop" in p.images:
                assert urls_assets["shop"].sha256 == sha(small_world / p.images["shop"])
    # hidden files: yt-dlp's archive and the served records beside downloaded files (what the
    # source served, collectors.refetch); nothing else (no partial or temporary file stays)
    hidden = [p for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
    records = [p for p in hidden if p.name.endswith(".served.json")]
    stray = [p for p in hidden if p not in records and "ytdlp-archive" not in p.name]
    assert not stray
    for rec in records:  # each record sits beside the file it describes
        assert (rec.parent / rec.name[1 : -len(".served.json")]).is_file(), rec


def test_rerun_downloads_nothing(collected, world_server):
    fx, out, cat_path, _ = collected
    with Catalog(cat_path) as cat:
        n_items, n_assets = cat.count_items(), len(cat.assets())
    before = len(world_server.log)
    summaries = run_all(world_server.base_url, fx, out, cat_path)
    requests = world_server.log[before:]
    assert all(s.files == 0 and s.ok == 0 and s.failed == 0 for s in summaries.values())
    assert {path for _, path, _ in requests} <= {"/sitemap.xml", "/robots.txt"}, requests
    with Catalog(cat_path) as cat:
        assert cat.count_items() == n_items and len(cat.assets()) == n_assets


def nap_with_video(world_truth, k: int) -> list[str]:
    ids = [
        p.product_id
        for p in world_truth.products
        if p.source == SourceName.NETAPORTER and p.videos and {"shop", "front"} <= set(p.images)
    ]
    assert len(ids) >= k
    return ids[:k]


def test_faults_end_with_status_and_reason(small_world, world_truth, tmp_path):
    from movingfashion.world.faults import Faults
    from movingfashion.world.server import WorldServer

    trunc, ctype, html, redirect, big, broken = nap_with_video(world_truth, 6)
    tiktok = [p.product_id for p in world_truth.products if p.source == SourceName.TIKTOK and p.videos]
    faults = Faults(
        retry_after_429=1,
        burst_5xx=1,
        truncate=[trunc],
        wrong_content_type=[ctype, tiktok[0]],
        html_as_image=[html],
        redirect_foreign=[redirect, tiktok[1]],
        oversized=[big],
        oversized_bytes=16 * 1024 * 1024,
        malformed_jsonld=[broken],
        evil_ids=True,
        no_range=[trunc],
    )
    out, cat_path = tmp_path / "out", tmp_path / "c.sqlite"
    with WorldServer(small_world, faults=faults) as srv:
        fx = srv.write_fixtures(tmp_path / "fx")
        cfg = cfg_for(srv.base_url)
        nap = collect("netaporter", [fx["sitemap"]], root=out, catalog=cat_path, cfg=cfg, workers=4)
        tt = collect(
            "tiktok",
            fx["tiktok_info"],
            root=out,
            catalog=cat_path,
            cfg=cfg,
            workers=2,
            shop_map=fx["tiktok_shops"],
        )
        urls = collect("urls", [fx["urls"]], root=out, catalog=cat_path, cfg=cfg, workers=2)
        ig = collect("instagram", fx["instagram"], root=out, catalog=cat_path, cfg=cfg, workers=2)
    expect = {
        trunc: ("failed", "truncated_body"),
        ctype: ("rejected", "content_type_mismatch"),
        html: (
            "failed",
            "html_instead_of_media",
        ),  # a page served as image/jpeg: retried, as one served as text/html
        redirect: ("rejected", "foreign_redirect"),
        big: ("rejected", "too_large"),
        broken: ("rejected", "malformed_jsonld"),
    }
    with Catalog(cat_path) as cat:
        for pid, (status, reason) in expect.items():
            row = cat.get_item("netaporter", pid)
            assert row.status == status, (pid, row.reason)
            if reason:
                assert row.reason == reason
        shop = cat.assets(source="netaporter", source_id=html, kind="shop")[0]
        assert shop.status == "failed" and shop.reason == "html_instead_of_media"
        big_video = cat.assets(source="netaporter", source_id=big, kind="video")[0]
        assert big_video.reason == "too_large"
        # 429 + Retry-After and a 5xx burst on every media path: the rest still arrived
        others = [
            p
            for p in world_truth.products
            if p.source == SourceName.NETAPORTER and p.product_id not in expect
        ]
        assert all(cat.get_item("netaporter", p.product_id).status == "downloaded" for p in others)
        assert nap.retries > 0 and nap.reasons["unsafe_id"] == 2
        for s in (tt, urls, ig):
            assert s.reasons.get("unsafe_id") == 2, s.human()
        assert cat.get_item("tiktok", tiktok[0]).reason == "content_type_mismatch"
        assert cat.get_item("tiktok", tiktok[1]).reason == "foreign_redirect"
        # never a bad file on disk: every visible file is a recorded, hash-checked download
        recorded = {a.path: a.sha256 for a in cat.assets(status="downloaded")}
    visible = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert visible and all(recorded.get(p.relative_to(out).as_posix()) == sha(p) for p in visible)
    assert not any("passwd" in str(p) or "\x00" in str(p) for p in out.rglob("*"))
    assert not [p for p in out.rglob("*.part")]  # no_range: nothing to resume is kept


def test_body_faults_resume_to_the_sites_file_or_never_reach_the_catalog(small_world, world_truth, tmp_path):
    """A video whose first answer is reset (TCP RST) or stalls mid-body (past the read timeout)
    is resumed with Range to the site's exact file; one whose Content-Length is cut with the
    body (the transfer looks complete) and an HTML page served as video/mp4 never become a
    downloaded asset (both failed, retried by a rerun), and no file of theirs is left visible."""
    from movingfashion.world.faults import Faults
    from movingfashion.world.server import WorldServer

    reset, stall, short, html = nap_with_video(world_truth, 4)
    faults = Faults(
        reset_mid_body=[reset],
        stall_mid_body=[stall],
        stall_s=0.6,
        short_length=[short],
        html_as_video=[html],
    )
    out, cat_path = tmp_path / "out", tmp_path / "c.sqlite"
    http = FAST_HTTP.model_copy(update={"read_timeout_s": 0.2})
    with WorldServer(small_world, faults=faults) as srv:
        fx = srv.write_fixtures(tmp_path / "fx")
        cfg = load_collect_config(base_url=srv.base_url).model_copy(update={"http": http})
        collect("netaporter", [fx["sitemap"]], root=out, catalog=cat_path, cfg=cfg, workers=4)
        log = list(srv.log)
    videos = {p.product_id: world_truth.video(p.videos[0]) for p in world_truth.products if p.videos}
    with Catalog(cat_path) as cat:
        for pid in (reset, stall):
            assert cat.get_item("netaporter", pid).status == "downloaded", pid
            (video,) = cat.assets(source="netaporter", source_id=pid, kind="video")
            assert video.sha256 == videos[pid].sha256 == sha(out / video.path)
            gets = [st for m, path, st in log if m == "GET" and path.endswith(f"/{pid}_detail.mp4")]
            assert gets[:2] == [200, 206], gets  # cut, then the rest by Range
        for pid, reason in ((short, "truncated_body"), (html, "html_instead_of_media")):
            (video,) = cat.assets(source="netaporter", source_id=pid, kind="video")
            assert (video.status, video.reason) == ("failed", reason)
            assert cat.get_item("netaporter", pid).status in ("failed", "rejected")
        recorded = {a.path: a.sha256 for a in cat.assets(status="downloaded")}
    visible = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert visible and all(recorded.get(p.relative_to(out).as_posix()) == sha(p) for p in visible)
    assert not list((out / "netaporter" / short).glob("video.*"))


def test_rerun_after_cleaning_keeps_every_status_and_fetches_nothing(
    collected, world_server, cleaned_world, tmp_path
):
    """Items cleaning moved on (accepted, duplicate, needs_review, rejected) count as collected: a
    rerun of the collectors neither downloads them again nor resets their status (the demo rerun
    used to republish fewer products)."""
    import shutil

    from cleaning.pipeline import clean

    fx, out, cat_path, _ = collected
    root, copy = tmp_path / "out", tmp_path / "catalog.sqlite"
    shutil.copytree(out, root)
    with Catalog(cat_path) as cat:
        cat._db.execute(f"VACUUM INTO '{copy}'")
    copy_cleaning_cache(cleaned_world, copy)  # the session's results: the world's files, by SHA-256
    with Catalog(copy) as cat:
        clean(cat, root)
        items = [(r.item.source, r.item.source_id, r.status, r.reason, r.duplicate_of) for r in cat.items()]
        assets = [(a.source, a.source_id, a.kind, a.url, a.status, a.sha256) for a in cat.assets()]
    moved_on = {status for *_, status, _, _ in items}
    assert {"accepted", "duplicate", "rejected"} <= moved_on, moved_on
    before = len(world_server.log)
    summaries = run_all(world_server.base_url, fx, root, copy)
    requests = world_server.log[before:]
    assert {path for _, path, _ in requests} <= {"/sitemap.xml", "/robots.txt"}, requests
    assert all(s.files == 0 and s.ok == 0 and s.failed == 0 for s in summaries.values())
    with Catalog(copy) as cat:
        assert [
            (r.item.source, r.item.source_id, r.status, r.reason, r.duplicate_of) for r in cat.items()
        ] == items
        assert [(a.source, a.source_id, a.kind, a.url, a.status, a.sha256) for a in cat.assets()] == assets


@pytest.mark.parametrize("part", ["complete", "foreign"])
def test_a_part_the_server_has_no_range_for_starts_over(collected, world_server, tmp_path, part):
    """A run killed after the last byte but before the rename leaves a complete ``.part``; its
    resume asks for a range past the end (416). The rerun starts over instead of failing."""
    from collectors.http import PoliteClient

    _, out, cat_path, _ = collected
    with Catalog(cat_path) as cat:
        shop = next(a for a in cat.assets(source="netaporter", kind="shop", status="downloaded"))
    body = (out / shop.path).read_bytes()
    folder = tmp_path / "item"
    folder.mkdir()
    (folder / ".shop.part").write_bytes(body if part == "complete" else body + b"junk" * 1000)
    # the state a cut-off transfer keeps beside its part (no total: an older run's part)
    state = {"url": shop.url, "header": "ETag", "validator": media_etag(body), "total": None}
    (folder / ".shop.part.json").write_text(json.dumps(state))
    before = len(world_server.log)
    dl = PoliteClient(FAST_HTTP).download(shop.url, folder, "shop", "image")
    assert dl.sha256 == shop.sha256 and dl.path.read_bytes() == body
    assert not (folder / ".shop.part").exists()
    codes = [code for _, path, code in world_server.log[before:] if path != "/robots.txt"]
    assert codes == [416, 200], codes
