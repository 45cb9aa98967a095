"""TikTok inputs that used to pass silently or fail late: an empty saved info file, saved info
numbers and dates yt-dlp cannot process, a shop map whose header names no shop column or that
has no rows. Each is one input error naming the file (and field or header), exit 2, nothing
created; a shop map naming none of the run's videos is named in a warning."""

from __future__ import annotations

import json
import logging

import pytest

from collectors.api import collect
from collectors.cli import collect as mf_collect
from collectors.shopmap import load_shop_map
from collectors.ytdl import load_info_file
from schemas.errors import DataFormatError
from tests.collectors.conftest import info, refused_info_folder, ytdl_cfg
from tests.mf_cli import run_command

VIDEO = "https://www.tiktok.com/@u/video/7300000000000000001"
NO_SITE = "http://127.0.0.1:9"  # nothing is fetched: the input is refused first


def _mf_collect(tmp_path, capsys, *args: str) -> str:
    """Run mf-collect (no dry run); assert one input error (exit 2, no traceback, nothing created)."""
    root = tmp_path / "data"
    code, _, err = run_command(mf_collect, [*args, "--root", str(root), "--base-url", NO_SITE], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert not root.exists()
    return err


# -- D9: an info file with no info object (a killed yt-dlp, a full disk) ------------------------
EMPTY_INFOS = ["", "\n  \n", "[]", "[]\n"]


@pytest.mark.parametrize("text", EMPTY_INFOS, ids=["zero bytes", "blank lines", "[]", "[] line"])
def test_an_info_file_with_no_info_object_is_refused_naming_it(tmp_path, text):
    p = tmp_path / "7300.info.json"
    p.write_text(text)
    with pytest.raises(DataFormatError) as ei:
        load_info_file(p)
    assert ei.value.where == str(p) and ei.value.message == "info file holds no info object"
    assert "yt-dlp --write-info-json" in (ei.value.hint or "")


@pytest.mark.parametrize("text", ["", "[]"], ids=["zero bytes", "[]"])
def test_an_empty_info_file_in_a_folder_exits_2_naming_it(tmp_path, capsys, text):
    """The finding: ``mf-collect tiktok DIR/`` with a zero-byte info file said ``0 ok``, exit 0."""
    folder = tmp_path / "infos"
    folder.mkdir()
    (folder / "a.info.json").write_text(json.dumps(info("7300", "https://v.example/1.mp4")))
    empty = folder / "b.info.json"
    empty.write_text(text)
    err = _mf_collect(tmp_path, capsys, "tiktok", f"{folder}/")
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {empty}: info file holds no info object (")


# -- D10: saved info numbers and dates yt-dlp chokes on ----------------------------------------
NAN, INF = float("nan"), float("inf")
BAD_VALUES = [
    ({"duration": NAN}, "field 'duration' must be a finite number", "nan"),
    ({"duration": -INF}, "field 'duration' must be a finite number", "-inf"),
    ({"duration": 1e308}, "field 'duration' must be a finite number", "1e+308"),
    ({"view_count": 10**400}, "field 'view_count' must be a finite number", "1000"),
    ({"timestamp": NAN}, "field 'timestamp' must be a Unix time", "nan"),
    ({"timestamp": 1e20}, "field 'timestamp' must be a Unix time", "1e+20"),
    ({"chapter_number": NAN}, "field 'chapter_number' must be a finite number", "nan"),
    ({"upload_date": "2024-99-99"}, "field 'upload_date' must be a date as YYYYMMDD", "'2024-99-99'"),
    ({"upload_date": "20240230"}, "field 'upload_date' must be a date as YYYYMMDD", "'20240230'"),
    ({"upload_date": "2024-01-01"}, "field 'upload_date' must be a date as YYYYMMDD", "'2024-01-01'"),
    ({"upload_date": 20240101}, "field 'upload_date' must be a date as YYYYMMDD", "20240101"),
    ({"formats": [{"url": "https://x/v.mp4", "fps": NAN}]}, "field 'formats[0].fps' must be", "nan"),
    ({"formats": [{"url": "https://x/v.mp4", "height": INF}]}, "field 'formats[0].height' must be", "inf"),
    ({"formats": [{"url": "https://x/v.mp4", "tbr": NAN}]}, "field 'formats[0].tbr' must be", "nan"),
]


@pytest.mark.parametrize(("bad", "says", "got"), BAD_VALUES)
def test_info_numbers_and_dates_yt_dlp_cannot_process_are_refused_naming_file_and_field(
    tiktok_site, tmp_path, bad, says, got
):
    """The finding: ``"duration": NaN`` failed the item as ``internal_error:ValueError`` (a
    traceback from yt-dlp, no field named) and every rerun tried it again."""
    site, *_ = tiktok_site
    err, _, _ = refused_info_folder(site, tmp_path, bad)  # before anything is created or fetched
    assert says in err.message and err.message.split("got ", 1)[1].startswith(got)


def test_a_nan_duration_exits_2_naming_file_and_field(tmp_path, capsys):
    f = tmp_path / "t.info.json"
    f.write_text(json.dumps(info("7300", "https://v.example/1.mp4", duration=NAN)))  # writes NaN
    assert "NaN" in f.read_text()
    err = _mf_collect(tmp_path, capsys, "tiktok", str(f))
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {f}: field 'duration' must be a finite number")


def test_ordinary_info_numbers_and_dates_still_pass(tiktok_site, tmp_path):
    """Not too strict: a whole upload date, a negative duration (yt-dlp drops it), an old
    timestamp, a numeric string (yt-dlp converts it) are collected as before."""
    site, *_ = tiktok_site
    f = tmp_path / "ok.info.json"
    extra = {"upload_date": "20240131", "timestamp": -86400, "view_count": "12", "like_count": 0}
    f.write_text(json.dumps(info("7001", site.url("/tiktok/7001.mp4"), duration=-1, **extra)))
    out = tmp_path / "out"
    s = collect("tiktok", [str(f)], root=out, catalog=out / "c.sqlite", cfg=ytdl_cfg(site), workers=1)
    assert s.ok == 1, s.human()


# -- D11: shop map headers without a shop column, maps without rows ---------------------------
@pytest.mark.parametrize("header", ["vid,url", "video,url", "shop,image", "video_id,link"])
def test_a_shop_map_header_without_a_video_and_a_shop_column_is_refused(tmp_path, header):
    """The finding: with ``vid,url`` (``url`` is a video column) the shop column defaulted to the
    video column: every video was mapped to its own URL, silently."""
    m = tmp_path / "shops.csv"
    m.write_text(f"{header}\n{VIDEO},https://s.example/a.jpg\n")
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(m)
    assert ei.value.where == str(m) and ei.value.message.startswith(f"header {header!r} ")
    assert "video_id" in ei.value.message and "shop_url" in ei.value.message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("shops.csv", ""),
        ("shops.csv", "\n\n"),
        ("shops.csv", "# my picks\n\n"),
        ("shops.jsonl", ""),
        ("shops.jsonl", "\n\n"),
    ],
    ids=["empty csv", "blank csv", "comment only", "empty jsonl", "blank jsonl"],
)
def test_a_shop_map_with_no_rows_is_refused_naming_it(tmp_path, name, text):
    """A file with no row and no header (a write cut short, the wrong file). A CSV with a
    header and no rows is what a program with nothing to map writes: it is read, and the run
    warns that it pairs nothing (below)."""
    m = tmp_path / name
    m.write_text(text)
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(m)
    assert ei.value.where == str(m) and ei.value.message.startswith("shop map maps no video")


def test_the_world_fixture_header_still_maps(tmp_path):
    """``video_id,shop_image_url``: the header the world fixtures write."""
    m = tmp_path / "shops.csv"
    m.write_text("video_id,shop_image_url\n7300,https://s.example/a.jpg\n")
    assert load_shop_map(m)["7300"].url == "https://s.example/a.jpg"


def test_a_vid_url_shop_map_exits_2_before_anything_is_created(tmp_path, capsys):
    m = tmp_path / "shops.csv"
    m.write_text(f"vid,url\n{VIDEO},{VIDEO}\n")
    err = _mf_collect(tmp_path, capsys, "tiktok", VIDEO, "--shop-map", str(m))
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {m}: header 'vid,url' ")


@pytest.mark.parametrize(
    "text",
    ["video,shop\n9999,https://s.example/a.jpg\n9998,https://s.example/b.jpg\n", "video_id,shop_url\n"],
    ids=["other videos", "header only"],
)
def test_a_shop_map_naming_none_of_the_videos_is_warned_about_once(tiktok_site, tmp_path, caplog, text):
    """A map of other videos (or keyed otherwise), or with no rows, pairs nothing: the run
    says so once; a map naming some of them is quiet."""
    site, infos, mapping, *_ = tiktok_site
    m = tmp_path / "other.csv"
    m.write_text(text)
    out = tmp_path / "out"
    kw = {"root": out, "catalog": out / "c.sqlite", "cfg": ytdl_cfg(site), "dry_run": True}
    with caplog.at_level(logging.WARNING, logger="collectors"):
        collect("tiktok", [str(infos)], shop_map=str(m), **kw)
    said = [r.getMessage() for r in caplog.records if "names none of" in r.getMessage()]
    assert said == [f"tiktok: the shop map {m} names none of the 6 videos found: no shop image is paired"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="collectors"):  # a map that names some: quiet
        collect("tiktok", [str(infos)], shop_map=str(mapping), **kw)
    assert not [r for r in caplog.records if "names none of" in r.getMessage()]


# -- an info file with no id (another tool's JSON, e.g. an Instagram structure) --------------
def test_an_info_file_without_an_id_exits_2_naming_it(tmp_path, capsys):
    """The finding: ``mf-collect tiktok`` on a folder of Instagram structure files said ``0 ok,
    1 rejected, 5 skipped`` (``unsafe_id: id None``), exit 1, and left a stand-in item in a new
    catalog; each file now is an input error naming it, nothing created."""
    folder = tmp_path / "infos"
    folder.mkdir()
    (folder / "a.info.json").write_text(json.dumps(info("7300", "https://v.example/1.mp4")))
    post = folder / "b.json"
    post.write_text(json.dumps({"instaloader": {"node_type": "Post"}, "node": {"shortcode": "C1"}}))
    err = _mf_collect(tmp_path, capsys, "tiktok", f"{folder}/")
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {post}: no 'id' field: not a yt-dlp info JSON")
    assert "mf-collect instagram" in line
