"""URL lists through yt-dlp's generic extractor: parsing, ids, shop images, faults."""

from __future__ import annotations

import hashlib

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from collectors.shopmap import ShopRef
from collectors.urls import read_url_list, url_source_id
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from tests.collectors.conftest import FAST_HTTP
from tests.collectors.conftest import ytdl_cfg as cfg_for
from tests.collectors.fakesite import FakeSite, Route, mp4_bytes


def test_url_list_generic_extractor(tiktok_site, tmp_path):
    site, _, _, bodies, shop, _ = tiktok_site
    lst = tmp_path / "urls.txt"
    lst.write_text(
        f"# street videos\n{site.url('/tiktok/7001.mp4')} {site.url('/shop/7001.jpg')}\n"
        f"{site.url('/tiktok/7002.mp4')}\n"
    )
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    s = collect("urls", [str(lst)], root=out, catalog=cat_path, cfg=cfg_for(site), workers=2)
    assert s.ok == 2, s.human()
    assert (out / "urls/7001/video.mp4").read_bytes() == bodies["7001"]
    assert (out / "urls/7001/shop.jpg").read_bytes() == shop
    assert (out / "urls/7002/video.mp4").read_bytes() == bodies["7002"]
    with Catalog(cat_path) as cat:
        assert cat.get_item("urls", "7002").item.url == site.url("/tiktok/7002.mp4")
    before = sum(site.hits.values())
    assert collect("urls", [str(lst)], root=out, catalog=cat_path, cfg=cfg_for(site)).skipped == 2
    assert sum(site.hits.values()) == before


def test_url_list_parsing(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("http://a.example/v/1.mp4,shop/1.jpg\nhttp://a.example/watch?v=9\n")
    (url1, shop1), (url2, shop2) = read_url_list([str(lst)])
    assert shop1.path == tmp_path / "shop/1.jpg" and shop2 is None
    assert url_source_id(url1) == "1" and url_source_id(url2).startswith("url-")
    assert url_source_id("http://a.example/files/..%2F..%2Fetc%2Fpasswd.mp4") == "../../etc/passwd"
    assert url_source_id("http://a.example/files/abc%00def.mp4") == "abc\x00def"
    assert url_source_id("https://www.tiktok.com/@a/video/123") == "123"
    lst.write_text("not a url\n")
    with pytest.raises(DataFormatError):
        read_url_list([str(lst)])


@pytest.mark.parametrize(
    "fault,route,reason,status",
    [
        ("429", dict(fail_first=2, fail_status=429, retry_after="1"), None, "downloaded"),
        ("5xx", dict(fail_first=2, fail_status=503), None, "downloaded"),
        ("truncated", dict(truncate_first=1), None, "downloaded"),
        ("ctype", dict(content_type="text/plain"), "content_type_mismatch", "rejected"),
        ("html", dict(body=b"<html>" * 100), "html_instead_of_media", "failed"),  # a bot wall: retried
        ("junk", dict(body=b"not a video " * 100), "not_a_video", "rejected"),
        ("redirect", dict(location="http://foreign.invalid/v.mp4"), "foreign_redirect", "rejected"),
        ("big", dict(body=b"\0" * 300_000, declare_length=False), "too_large", "rejected"),
    ],
)
def test_url_source_faults(tmp_path, fault, route, reason, status):
    body = mp4_bytes(tmp_path, 1)
    with FakeSite() as site:
        site.routes[f"/files/{fault}.mp4"] = Route(**{"body": body, "content_type": "video/mp4", **route})
        cfg = cfg_for(site).model_copy(
            update={"http": FAST_HTTP.model_copy(update={"max_retries": 3, "max_body_bytes": 100_000})}
        )
        out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
        s = collect("urls", [site.url(f"/files/{fault}.mp4")], root=out, catalog=cat_path, cfg=cfg)
    with Catalog(cat_path) as cat:
        row = cat.get_item("urls", fault)
        assert row.status == status, (row.reason, s.human())
        if reason:
            assert row.reason == reason
            assert not (out / f"urls/{fault}").exists() or not any(
                p.suffix == ".mp4" for p in (out / f"urls/{fault}").iterdir()
            )
        else:
            assert (out / f"urls/{fault}/video.mp4").read_bytes() == body
    leftovers = [
        p for p in out.rglob("*") if p.is_file() and p.name.startswith(".") and "archive" not in p.name
    ]
    assert not leftovers


def url_hash_id(url: str) -> str:
    """The documented id of a URL whose file name cannot be its id: ``url-<sha256[:16]>``."""
    return "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _video_list(site, tmp_path, lines):
    lst = tmp_path / "urls.txt"
    lst.write_text("".join(f"{site.url(v)} {site.url(s) if s else ''}\n" for v, s in lines))
    return lst


def test_two_urls_with_one_file_name_are_two_items_each_with_its_own_shop_image(tmp_path):
    from tests.collectors.fakesite import jpeg_bytes

    with FakeSite() as site:
        media = {
            "/alice/video.mp4": mp4_bytes(tmp_path, 1),
            "/bob/video.mp4": mp4_bytes(tmp_path, 2),
            "/shop/alice.jpg": jpeg_bytes(1),
            "/shop/bob.jpg": jpeg_bytes(2),
        }
        for path, body in media.items():
            site.routes[path] = Route(
                body, content_type="video/mp4" if path.endswith("mp4") else "image/jpeg"
            )
        lines = [("/alice/video.mp4", "/shop/alice.jpg"), ("/bob/video.mp4", "/shop/bob.jpg")]
        out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
        s = collect(
            "urls", [str(_video_list(site, tmp_path, lines))], root=out, catalog=cat_path, cfg=cfg_for(site)
        )
        assert s.ok == 2, s.human()
        with Catalog(cat_path) as cat:
            rows = {r.item.url: r for r in cat.items(source="urls")}
        assert set(rows) == {site.url("/alice/video.mp4"), site.url("/bob/video.mp4")}
        for who in ("alice", "bob"):
            sid = rows[site.url(f"/{who}/video.mp4")].item.source_id
            assert sid == url_hash_id(site.url(f"/{who}/video.mp4"))
            assert (out / "urls" / sid / "video.mp4").read_bytes() == media[f"/{who}/video.mp4"]
            assert (out / "urls" / sid / "shop.jpg").read_bytes() == media[f"/shop/{who}.jpg"]
        before = sum(site.hits.values())
        lst = _video_list(site, tmp_path, lines[::-1])  # the other order: the same ids, all done
        assert collect("urls", [str(lst)], root=out, catalog=cat_path, cfg=cfg_for(site)).skipped == 2
        assert sum(site.hits.values()) == before


def test_a_collected_url_keeps_its_file_name_id_when_a_later_list_adds_one_of_that_name(tmp_path):
    with FakeSite() as site:
        for n, who in enumerate(("alice", "bob", "carol"), 1):
            site.routes[f"/{who}/video.mp4"] = Route(mp4_bytes(tmp_path, n), content_type="video/mp4")
        out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
        first = _video_list(site, tmp_path, [("/alice/video.mp4", None)])
        assert collect("urls", [str(first)], root=out, catalog=cat_path, cfg=cfg_for(site)).ok == 1
        later = _video_list(site, tmp_path, [("/bob/video.mp4", None), ("/alice/video.mp4", None)])
        s = collect("urls", [str(later)], root=out, catalog=cat_path, cfg=cfg_for(site))
        assert (s.ok, s.skipped) == (1, 1), s.human()
        alone = _video_list(site, tmp_path, [("/carol/video.mp4", None)])  # "video" is alice's
        assert collect("urls", [str(alone)], root=out, catalog=cat_path, cfg=cfg_for(site)).ok == 1
        with Catalog(cat_path) as cat:
            ids = {r.item.url: r.item.source_id for r in cat.items(source="urls")}
    assert ids == {
        site.url("/alice/video.mp4"): "video",
        site.url("/bob/video.mp4"): url_hash_id(site.url("/bob/video.mp4")),
        site.url("/carol/video.mp4"): url_hash_id(site.url("/carol/video.mp4")),
    }


def test_url_ids_are_settled_by_the_catalog_then_by_sharing():
    from collectors.urls import url_ids

    a, b, c = (f"http://x.example/{w}/video.mp4" for w in ("a", "b", "c"))
    ha, hb = url_hash_id(a), url_hash_id(b)
    assert url_ids([a, "http://x.example/other.mp4"], {}.get) == {
        a: "video",
        "http://x.example/other.mp4": "other",
    }
    assert url_ids([a, b], {}.get) == url_ids([b, a], {}.get) == {a: ha, b: hb}
    assert url_ids([b, a], {"video": a}.get) == {a: "video", b: hb}
    assert url_ids([a], {ha: a}.get) == {a: ha}  # collected under its hash: kept alone too
    assert url_ids([c], {"video": a}.get) == {c: url_hash_id(c)}
    tiktok = ["https://www.tiktok.com/@a/video/123", "https://www.tiktok.com/@b/video/123"]
    assert set(url_ids(tiktok, {}.get).values()) == {"123"}  # one video: one item


@pytest.mark.parametrize(
    "path",
    [
        "/media/summer%20look.mp4",
        "/media/r%C3%A9sum%C3%A9.mp4",
        "/media/look(1).mp4",
        "/media/" + "a" * 140 + ".mp4",
    ],
)
def test_an_ordinary_file_name_that_is_no_safe_id_gets_a_url_hash_id(tmp_path, path):
    body = mp4_bytes(tmp_path, 1)
    with FakeSite() as site:
        site.routes[path] = Route(body, content_type="video/mp4")
        assert url_source_id(site.url(path)) == url_hash_id(site.url(path))
        out = tmp_path / "o"
        s = collect("urls", [site.url(path)], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site))
        assert s.ok == 1, s.human()
        assert (out / "urls" / url_hash_id(site.url(path)) / "video.mp4").read_bytes() == body


@pytest.mark.parametrize(
    ("tail", "sid"),
    [
        ("..%2F..%2Fetc%2Fpasswd.mp4", "../../etc/passwd"),
        ("abc%00def.mp4", "abc\x00def"),
        ("abc%0A.mp4", "abc\n"),
        ("%2E%2E", ".."),
        ("a%5Cb.mp4", "a\\b"),
    ],
)
def test_a_file_name_that_would_leave_its_folder_stays_visibly_refused(tmp_path, tail, sid):
    url = f"http://127.0.0.1:9/files/{tail}"
    assert url_source_id(url) == sid
    cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
    s = collect("urls", [url], root=tmp_path / "o", catalog=tmp_path / "c.sqlite", cfg=cfg)
    assert s.reasons == {"unsafe_id": 1} and s.requests == 0, s.human()


def test_a_comment_after_the_url_or_the_shop_image_is_cut_never_a_shop_image(tmp_path):
    """``#`` after a space, tab or comma starts a comment (as --help says); a URL's own
    ``#fragment`` is kept."""
    lst = tmp_path / "l.txt"
    lst.write_text(
        "# street videos\n"
        "http://a.example/v/1.mp4   # the first video\n"
        "http://a.example/v/2.mp4,shop/2.jpg\t# with its shop image\n"
        "http://a.example/v/3.mp4#t=4 https://a.example/s/3.jpg #\n"
        "http://a.example/v/4.mp4,# a comma, then the comment\n"
    )
    assert read_url_list([str(lst)]) == [
        ("http://a.example/v/1.mp4", None),
        ("http://a.example/v/2.mp4", ShopRef(path=tmp_path / "shop/2.jpg")),
        ("http://a.example/v/3.mp4#t=4", ShopRef(url="https://a.example/s/3.jpg")),
        ("http://a.example/v/4.mp4", None),
    ]


def test_text_after_a_shop_image_url_is_refused_naming_the_line(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("http://a.example/v/1.mp4\nhttp://a.example/v/2.mp4 http://a.example/s/2.jpg note\n")
    with pytest.raises(DataFormatError) as ei:
        read_url_list([str(lst)])
    assert ei.value.where == str(lst) and ei.value.message.startswith("line 2: text after the shop image URL")


def test_a_video_with_a_comment_after_its_url_is_collected(tiktok_site, tmp_path):
    """The finding: ``URL   # note`` made "# note" the shop image file: the item failed
    ``shop_file_missing`` on every run and the video was never recorded."""
    site, _, _, bodies, _, _ = tiktok_site
    lst = tmp_path / "urls.txt"
    lst.write_text(f"{site.url('/tiktok/7003.mp4')}   # the third video\n")
    out, cat_path = tmp_path / "o", tmp_path / "c.sqlite"
    s = collect("urls", [str(lst)], root=out, catalog=cat_path, cfg=cfg_for(site), workers=1)
    assert (s.ok, s.problems) == (1, []), s.human()
    assert sorted(p.name for p in (out / "urls/7003").iterdir()) == ["video.mp4"]
    assert (out / "urls/7003/video.mp4").read_bytes() == bodies["7003"]


def test_a_url_list_that_is_not_utf8_is_one_input_error_before_anything_is_created(tmp_path, capsys):
    """The finding: a Latin-1 list ended mf-collect with a UnicodeDecodeError traceback (exit 1)."""
    from collectors.cli import collect as mf_collect
    from tests.mf_cli import run_command

    lst = tmp_path / "list.txt"
    lst.write_bytes(b"https://example.com/caf\xe9.mp4\n")
    code, _, err = run_command(mf_collect, ["urls", str(lst), "--root", str(tmp_path / "data")], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert f"{lst}: URL list is not UTF-8 text (byte 23)" in err
    assert not (tmp_path / "data").exists()


def test_a_list_saved_with_a_byte_order_mark_is_read(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_bytes(b"\xef\xbb\xbfhttp://a.example/v/1.mp4\n")
    assert read_url_list([str(lst)]) == [("http://a.example/v/1.mp4", None)]


def test_a_folder_given_as_a_url_list_is_named_as_a_folder(tmp_path):
    """``mf-collect urls world/media`` said "URL list not found" for a folder that exists."""
    with pytest.raises(DataFormatError, match="a folder, not a URL list") as exc:
        read_url_list([str(tmp_path)])
    assert exc.value.where == str(tmp_path) and "mf-collect local" in str(exc.value)
