"""One video, one shop image: a map (or URL list) giving a video two different shop images is
refused before anything is created, naming both rows; a rerun with a changed map pairs a
collected video anew (the new image fetched, the old row and file dropped, the video kept)."""

from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest

from collectors.api import collect
from collectors.shopmap import load_shop_map
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.items import Status
from tests.collectors.conftest import info, ytdl_cfg
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes
from tests.mf_cli import run_command


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("m.csv", "video,shop\n7003,https://s.example/a.jpg\n7003,https://s.example/b.jpg\n", "row 1"),
        (
            "m.jsonl",
            '{"video": "7003", "shop": "https://s.example/a.jpg"}\n\n'
            '{"video": 7003, "shop": "https://s.example/b.jpg"}\n',
            "line 1",
        ),
    ],
)
def test_a_map_giving_one_video_two_shop_images_is_refused_naming_both_rows(tmp_path, name, text, says):
    m = tmp_path / name
    m.write_text(text)
    with pytest.raises(DataFormatError) as ei:
        load_shop_map(m)
    second = "row 2" if says == "row 1" else "line 3"
    assert ei.value.where == str(m)
    assert ei.value.message == (
        f"video '7003' has two shop images: {says} gives https://s.example/a.jpg, "
        f"{second} gives https://s.example/b.jpg"
    )


def test_the_same_row_twice_is_fine(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("7003,https://s.example/a.jpg\n7003,https://s.example/a.jpg\n")
    assert load_shop_map(m)["7003"].url == "https://s.example/a.jpg"


def test_a_conflicting_tiktok_map_exits_2_before_anything_is_created(tmp_path, capsys):
    """A video named by its id on one row and by its URL on another counts as one video."""
    from collectors.cli import collect as mf_collect

    m = tmp_path / "shops.csv"
    m.write_text(
        "video,shop\n7003,https://s.example/a.jpg\n"
        "https://www.tiktok.com/@u/video/7003,https://s.example/b.jpg\n"
    )
    args = [
        "tiktok",
        "https://www.tiktok.com/@u/video/7003",
        "--shop-map",
        str(m),
        "--root",
        str(tmp_path / "d"),
    ]
    code, _, err = run_command(mf_collect, args, capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "video '7003' (named '7003' and 'https://www.tiktok.com/@u/video/7003') has two shop images" in err
    assert "row 1 gives https://s.example/a.jpg, row 2 gives https://s.example/b.jpg" in err
    assert not (tmp_path / "d").exists()


def test_a_url_list_giving_one_video_two_shop_images_exits_2_naming_both_lines(tmp_path, capsys):
    from collectors.cli import collect as mf_collect

    lst = tmp_path / "urls.txt"
    lst.write_text(
        "https://v.example/m/1.mp4 https://s.example/a.jpg\n"
        "https://v.example/m/2.mp4\n"
        "https://v.example/m/1.mp4 https://s.example/b.jpg\n"
    )
    code, _, err = run_command(mf_collect, ["urls", str(lst), "--root", str(tmp_path / "d")], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert f"{lst}: video 'https://v.example/m/1.mp4' has two shop images: line 1 gives" in err
    assert "line 3 gives https://s.example/b.jpg" in err
    assert not (tmp_path / "d").exists()


@pytest.fixture
def tt(tmp_path):
    ok, png = cv2.imencode(".png", np.full((40, 30, 3), 200, np.uint8))
    with FakeSite() as site:
        site.routes["/tt/7003.mp4"] = Route(mp4_bytes(tmp_path, 3), content_type="video/mp4")
        site.routes["/shop/a.png"] = Route(png.tobytes(), content_type="image/png")
        site.routes["/shop/b.jpg"] = Route(jpeg_bytes(2), content_type="image/jpeg")
        infos = tmp_path / "infos"
        infos.mkdir()
        (infos / "7003.info.json").write_text(json.dumps(info("7003", site.url("/tt/7003.mp4"))))
        yield site, infos


def _run(site, infos, tmp_path, shop: str, **kw):
    m = tmp_path / "shops.csv"
    m.write_text(f"video,shop\n7003,{site.url(shop)}\n")
    return collect(
        "tiktok",
        [str(infos)],
        root=tmp_path / "out",
        catalog=tmp_path / "c.sqlite",
        cfg=ytdl_cfg(site),
        shop_map=str(m),
        **kw,
    )


def _shops(tmp_path) -> list[tuple[str, str | None, str]]:
    with Catalog(tmp_path / "c.sqlite") as cat:
        return [
            (a.url.rsplit("/", 1)[-1], a.path, str(a.status))
            for a in cat.assets(source="tiktok", kind="shop")
        ]


def test_a_changed_map_pairs_a_collected_video_anew(tt, tmp_path, caplog):
    site, infos = tt
    assert _run(site, infos, tmp_path, "/shop/b.jpg").ok == 1
    assert _shops(tmp_path) == [("b.jpg", "tiktok/7003/shop.jpg", "downloaded")]
    dry = _run(site, infos, tmp_path, "/shop/a.png", dry_run=True)  # listed as to be collected
    assert [i["source_id"] for i in dry.items] == ["7003"] and dry.skipped == 0
    video_gets = site.hits["/tt/7003.mp4"]
    with caplog.at_level(logging.WARNING, logger="collectors"):
        s = _run(site, infos, tmp_path, "/shop/a.png")
    assert s.ok == 1 and s.skipped == 0, s.human()
    assert "tiktok 7003: pairing it anew with shop image " + site.url("/shop/a.png") in caplog.text
    assert site.hits["/tt/7003.mp4"] == video_gets  # the video is kept, not fetched again
    assert _shops(tmp_path) == [("a.png", "tiktok/7003/shop.png", "downloaded")]
    folder = tmp_path / "out/tiktok/7003"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["shop.png", "video.mp4"]
    assert (folder / "shop.png").read_bytes() == site.routes["/shop/a.png"].body
    assert _run(site, infos, tmp_path, "/shop/a.png").skipped == 1  # done again


def test_a_video_cleaning_has_moved_on_is_not_paired_anew_but_named(tt, tmp_path, caplog):
    site, infos = tt
    assert _run(site, infos, tmp_path, "/shop/b.jpg").ok == 1
    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.set_item_state("tiktok", "7003", status=Status.ACCEPTED)
    with caplog.at_level(logging.WARNING, logger="collectors"):
        s = _run(site, infos, tmp_path, "/shop/a.png")
    assert s.skipped == 1 and site.hits["/shop/a.png"] == 0
    assert "tiktok 7003: the shop map names shop image " + site.url("/shop/a.png") in caplog.text
    assert "not paired anew" in caplog.text
    assert _shops(tmp_path) == [("b.jpg", "tiktok/7003/shop.jpg", "downloaded")]


def test_a_map_added_after_the_first_run_pairs_the_collected_video(tt, tmp_path):
    site, infos = tt
    s = collect(
        "tiktok", [str(infos)], root=tmp_path / "out", catalog=tmp_path / "c.sqlite", cfg=ytdl_cfg(site)
    )
    assert s.ok == 1 and _shops(tmp_path) == []
    assert _run(site, infos, tmp_path, "/shop/b.jpg").ok == 1
    assert _shops(tmp_path) == [("b.jpg", "tiktok/7003/shop.jpg", "downloaded")]
