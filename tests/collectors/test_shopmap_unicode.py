"""A shop map names a local shop image in one Unicode normalisation, the file on disk has the
other (typed NFC, copied from a Mac NFD): the file is found inside the map's folder only, and a
file that is missing is named as a readable path, not a percent-encoded URI."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from collectors.api import collect
from collectors.config import load_collect_config
from collectors.core import Summary
from collectors.shopmap import parse_shop_ref
from schemas.catalog import Catalog
from schemas.paths import PathEscapeError
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, loopback_http, mp4_bytes

NAME = "Robe \u00e0 volants.jpg"
NFC, NFD = unicodedata.normalize("NFC", NAME), unicodedata.normalize("NFD", NAME)
VID = "7004057383046336050"


@pytest.mark.parametrize(("on_disk", "in_map"), [(NFD, NFC), (NFC, NFD)])
def test_a_name_in_the_other_normalisation_form_finds_the_file(tmp_path, on_disk, in_map):
    (tmp_path / "shops").mkdir()
    (tmp_path / "shops" / on_disk).write_bytes(b"x")
    ref = parse_shop_ref(f"shops/{in_map}", tmp_path)
    assert ref.path == (tmp_path / "shops" / on_disk).resolve() and ref.path.is_file()


def test_the_exact_name_wins_and_a_missing_one_stays_the_name_given(tmp_path):
    (tmp_path / NFC).write_bytes(b"c")
    (tmp_path / NFD).write_bytes(b"d")
    assert parse_shop_ref(NFD, tmp_path).path.read_bytes() == b"d"
    assert parse_shop_ref(NFC, tmp_path).path.read_bytes() == b"c"
    assert parse_shop_ref("Caf\u00e9.jpg", tmp_path).path == tmp_path.resolve() / "Caf\u00e9.jpg"


def test_the_other_form_never_leaves_the_folder_of_the_map(tmp_path):
    base, outside = tmp_path / "maps", tmp_path / "outside.jpg"
    base.mkdir()
    outside.write_bytes(b"x")
    (base / NFD).symlink_to(outside)
    with pytest.raises(PathEscapeError):
        parse_shop_ref(NFC, base, where="shops.csv row 1")


def _collect_with_map(tmp_path: Path, file_name: str | None) -> tuple[Summary, Path]:
    if file_name:
        (tmp_path / file_name).write_bytes(jpeg_bytes(3, (256, 192)))
    (tmp_path / "shops.csv").write_text(f"video_id,shop\n{VID},{NFC}\n", encoding="utf-8")
    with FakeSite() as site:
        site.routes[f"/v/{VID}.mp4"] = Route(mp4_bytes(tmp_path, 5, frames=12), content_type="video/mp4")
        info = {
            "id": VID,
            "extractor": "TikTok",
            "extractor_key": "TikTok",
            "webpage_url": f"https://www.tiktok.com/@a/video/{VID}",
            "title": "Robe",
            "ext": "mp4",
            "url": site.url(f"/v/{VID}.mp4"),
            "protocol": "http",
            "_type": "video",
            "uploader": "a",
        }
        (tmp_path / "v.info.json").write_text(json.dumps(info))
        cfg = load_collect_config(base_url=site.base).model_copy(
            update={"http": loopback_http(max_retries=1)}
        )
        s = collect(
            "tiktok",
            [str(tmp_path / "v.info.json")],
            root=tmp_path / "o",
            cfg=cfg,
            workers=1,
            shop_map=str(tmp_path / "shops.csv"),
        )
    return s, tmp_path / "o" / "catalog.sqlite"


def test_a_video_whose_shop_file_is_stored_nfd_is_collected_with_it(tmp_path):
    s, cat_path = _collect_with_map(tmp_path, NFD)
    assert s.ok == 1, s.human()
    with Catalog(cat_path) as cat:
        (shop,) = cat.assets(source="tiktok", source_id=VID, kind="shop")
    assert shop.status == "downloaded"


def test_a_missing_shop_file_is_named_as_a_readable_path_and_by_its_map_row(tmp_path):
    s, _ = _collect_with_map(tmp_path, None)
    (problem,) = s.problems
    assert problem["reason"] == "shop_file_missing"
    assert problem["url"] == str(tmp_path.resolve() / NFC)
    line = s.human()
    assert (
        f"shop {tmp_path.resolve() / NFC}: shop image file not found (named at {tmp_path / 'shops.csv'} row 1)"
        in line
    )
    assert "%C3" not in line and "file://" not in line
