"""TikTok: saved info JSON replayed through yt-dlp's real downloader, shop map, playlists."""

from __future__ import annotations

import hashlib
import json

import pytest

from collectors.api import collect, open_source
from collectors.config import load_collect_config
from collectors.core import DiscoveryProblem
from collectors.shopmap import load_shop_map
from collectors.tiktok import expand_target
from schemas.catalog import Catalog
from schemas.errors import DataFormatError, FetchError
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
    # 7009: a login page served as video/mp4 is retried by a rerun, as one served as text/html is
    assert s.reasons == {"unsafe_id": 1, "html_instead_of_media": 1, "host_not_allowed": 1}
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
        assert cat.get_item("tiktok", "7009").status == "failed"
        assert cat.get_item("tiktok", "7010").reason.endswith("host_not_allowed")
    assert site.hits.get("/x.mp4") is None
    leftovers = [p.name for p in out.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert leftovers == [".ytdlp-archive.txt"]
    archive = (out / "tiktok/.ytdlp-archive.txt").read_text().split()
    assert {"7001", "7002", "7003"} <= set(archive)
    before = dict(site.hits)
    s2 = collect(
        "tiktok",
        [str(infos)],
        root=out,
        catalog=cat_path,
        cfg=cfg_for(site),
        workers=2,
        shop_map=str(mapping),
    )
    assert (s2.ok, s2.files, s2.skipped, s2.failed) == (0, 0, 5, 1), s2.human()
    # only the login wall is asked again (and robots.txt, read once per run)
    assert {k: v for k, v in site.hits.items() if before.get(k) != v}.keys() == {
        "/tiktok/bad.mp4",
        "/robots.txt",
    }


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


def _playlist_or_gone(asked: list[str]):
    """A fake ``extract``: ``tiktok:user:gone`` cannot be read, any other URL lists videos 11, 12."""

    def extract(url, process=True):
        asked.append(url)
        if url == "tiktokuser:gone":
            raise FetchError("could not extract", where="https://www.tiktok.com/@gone", reason="http_404")
        entries = [
            {"_type": "url", "id": i, "url": f"https://www.tiktok.com/@u/video/{i}"} for i in ("11", "12")
        ]
        return {"_type": "playlist", "entries": iter(entries)}

    return extract


@pytest.mark.parametrize("as_list", [False, True])
def test_a_target_that_cannot_be_read_is_a_problem_and_the_next_targets_are_read(
    monkeypatch, tmp_path, as_list
):
    targets = ["tiktok:user:gone", "#ootd", "https://www.tiktok.com/@u/video/99"]
    if as_list:
        (tmp_path / "list.txt").write_text("\n".join(targets) + "\n")
        targets = [f"@{tmp_path / 'list.txt'}"]
    cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
    asked: list[str] = []
    with open_source("tiktok", targets, root=tmp_path, catalog=tmp_path / "c.sqlite", cfg=cfg) as src:
        monkeypatch.setattr(src.fetcher, "extract", _playlist_or_gone(asked))
        cands = list(src.discover(targets))
    assert asked == ["tiktokuser:gone", "https://www.tiktok.com/tag/ootd"]
    problem, *found = cands
    assert isinstance(problem, DiscoveryProblem) and problem.error.reason == "http_404"
    assert problem.url == "https://www.tiktok.com/@gone"
    assert [c.raw_id for c in found] == ["11", "12", "99"]


def test_comment_lines_of_a_list_are_skipped_and_hashtags_read(monkeypatch, tmp_path):
    lst = tmp_path / "picks.txt"
    lst.write_text(
        "# my picks\n#\n#\tanother comment\n#!/usr/bin/env mf-collect\n   # indented comment\n"
        "#ootd   # a hashtag, then a comment\nhttps://www.tiktok.com/@u/video/99\n"
    )
    cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
    asked: list[str] = []
    with open_source("tiktok", [str(lst)], root=tmp_path, catalog=tmp_path / "c.sqlite", cfg=cfg) as src:
        monkeypatch.setattr(src.fetcher, "extract", _playlist_or_gone(asked))
        cands = list(src.discover([str(lst)]))
    assert asked == ["https://www.tiktok.com/tag/ootd"]  # no crawl of a made-up hashtag
    assert [c.raw_id for c in cands] == ["11", "12", "99"]


def run_cli(args: list, capsys) -> tuple[int, str]:
    """``mf-collect ARGS`` in-process through its entry point: (exit status, stderr)."""
    from collectors.cli import collect as collect_cmd
    from schemas.cli_support import run_main

    code = 0
    try:
        run_main(collect_cmd, [str(a) for a in args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


BAD_INFOS = [
    ({"formats": [{"url": 7}]}, "field 'formats[0].url' must be a string URL, got int"),
    ({"webpage_url": 12345}, "field 'webpage_url' must be a string URL, got int"),
    ({"formats": {"url": "https://x/v.mp4"}}, "field 'formats' must be a list, got dict"),
    ({"formats": ["https://x/v.mp4"]}, "field 'formats[0]' must be an object, got str"),
    ({"formats": [{"url": "https://x/v.mp4", "format_id": 1}]}, "field 'formats[0].format_id' must be"),
    ({"id": ["7300"]}, "field 'id' must be a string, got list"),
    ({"description": ["#ootd"]}, "field 'description' must be a string, got list"),
]


@pytest.mark.parametrize(("bad", "says"), BAD_INFOS)
def test_info_fields_of_the_wrong_type_are_refused_naming_file_and_field(tiktok_site, tmp_path, bad, says):

    from tests.collectors.conftest import refused_info_folder

    site, infos, *_ = tiktok_site
    err, folder, out = refused_info_folder(site, tmp_path, bad)  # before anything is created or fetched
    assert says in err.message
    # discovery checks too (a file changed after the targets were checked): the same error
    with (
        open_source(
            "tiktok",
            [str(folder / "a-good.info.json")],
            root=out,
            catalog=out / "c.sqlite",
            cfg=cfg_for(site),
        ) as src,
        pytest.raises(DataFormatError) as ei2,
    ):
        list(src.discover([str(folder)]))
    assert str(ei2.value) == str(err)


def test_a_bad_entry_of_a_multi_info_file_is_named(tmp_path, capsys):
    from tests.collectors.conftest import info

    f = tmp_path / "t3.json"
    f.write_text(
        json.dumps([info("7300", "https://v.example/1.mp4"), {"id": "7301", "formats": [{"url": 7}]}])
    )
    code, err = run_cli(["tiktok", f, "--root", tmp_path / "r2", "--base-url", "http://127.0.0.1:9"], capsys)
    assert code == 2 and not (tmp_path / "r2").exists()
    assert err.strip() == (
        f"error: {f}: entry 2: field 'formats[0].url' must be a string URL, got int "
        "(write it with yt-dlp --write-info-json)"
    )


def test_a_shop_map_line_that_is_not_an_object_exits_2_naming_file_and_line(tmp_path, capsys):
    from tests.collectors.conftest import info

    f = tmp_path / "t.json"
    f.write_text(json.dumps(info("7300", "https://v.example/1.mp4")))
    m = tmp_path / "map.jsonl"
    m.write_text("[1,2]\n")
    code, err = run_cli(["tiktok", f, "--shop-map", m, "--root", tmp_path / "r3", "--dry-run"], capsys)
    assert code == 2 and not (tmp_path / "r3").exists()
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {m}: line 1: expected a JSON object, got list")


def test_an_id_ending_in_a_newline_is_refused_not_given_a_folder(tiktok_site, tmp_path):
    from tests.collectors.conftest import info

    site, *_ = tiktok_site
    folder = tmp_path / "infos"
    folder.mkdir()
    (folder / "a.info.json").write_text(json.dumps(info("7001\n", site.url("/tiktok/7001.mp4"))))
    (folder / "b.info.json").write_text(json.dumps(info("7001", site.url("/tiktok/7001.mp4"))))
    out = tmp_path / "o"
    s = collect("tiktok", [str(folder)], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site), workers=1)
    assert s.ok == 1 and s.reasons == {"unsafe_id": 1}, s.human()
    assert sorted(p.name for p in (out / "tiktok").iterdir() if p.is_dir()) == ["7001"]
    with Catalog(out / "c.sqlite") as cat:
        assert cat.get_item("tiktok", "7001\n") is None


def test_the_download_archive_never_keeps_a_video_from_being_fetched_again(tiktok_site, tmp_path):
    """The catalog decides what is done: ids in yt-dlp's archive (its own or an old one's) are
    extracted and downloaded again when the catalog says so."""
    from collectors.hosts import HostPolicy
    from collectors.http import PoliteClient
    from collectors.ytdl import YtdlFetcher
    from schemas.errors import FetchError
    from tests.collectors.conftest import info

    site, _, _, bodies, *_ = tiktok_site
    out = tmp_path / "o"
    archive = out / "tiktok/.ytdlp-archive.txt"
    archive.parent.mkdir(parents=True)
    archive.write_text("tiktok 7001\nmusicallytiktok 7002\n")
    # extraction by URL: asked (the allow-list refuses www.tiktok.com here), not skipped unasked
    policy = HostPolicy.of([site.base.removeprefix("http://")])
    fetcher = YtdlFetcher(FAST_HTTP, policy, archive=archive, client=PoliteClient(FAST_HTTP, policy=policy))
    with pytest.raises(FetchError) as err:
        fetcher.extract("https://www.tiktok.com/@u/video/7001")
    assert err.value.reason == "host_not_allowed", err.value
    # a download whose old archive id is recorded
    folder = tmp_path / "infos"
    folder.mkdir()
    saved = info("7002", site.url("/tiktok/7002.mp4"), _old_archive_ids=["musicallytiktok 7002"])
    (folder / "7002.info.json").write_text(json.dumps(saved))
    s = collect("tiktok", [str(folder)], root=out, catalog=out / "c.sqlite", cfg=cfg_for(site), workers=1)
    assert s.ok == 1, s.human()
    assert (out / "tiktok/7002/video.mp4").read_bytes() == bodies["7002"]
    assert "tiktok 7002" in archive.read_text().split("\n")  # still a record of finished ids


@pytest.mark.parametrize(("source", "target"), [("tiktok", "#ootd"), ("urls", "http://127.0.0.1:9/v/1.mp4")])
def test_opening_a_yt_dlp_source_creates_no_source_folder(tmp_path, source, target):
    cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
    root = tmp_path / "data"
    with open_source(source, [target], root=root, catalog=tmp_path / "c.sqlite", cfg=cfg) as src:
        assert src.fetcher.archive == str(root / source / ".ytdlp-archive.txt")
    assert not (root / source).exists()  # made by the first download only (a dry run makes none)
