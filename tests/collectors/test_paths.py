"""Collectors read and write only inside their folders: a URL list's or shop map's local shop
image must lie in the list's folder (else exit 2, nothing created), and a tampered catalog row
never makes a rerun read outside the collection root."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import collectors.core as core
from collectors.api import collect
from collectors.cli import collect as collect_cli
from collectors.config import load_collect_config
from collectors.core import CollectContext, safe_id
from collectors.shopmap import load_shop_map
from collectors.urls import read_url_list, url_source_id
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.items import SourceName
from schemas.paths import PathEscapeError
from tests.collectors.conftest import FAST_HTTP, info
from tests.collectors.fakesite import FakeSite, Route, jpeg_bytes, mp4_bytes


def _lists(tmp_path):
    folder = tmp_path / "lists"
    folder.mkdir()
    (tmp_path / "secret.jpg").write_bytes(jpeg_bytes(1))
    (folder / "mine.jpg").write_bytes(jpeg_bytes(2))
    (folder / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    return folder


@pytest.mark.parametrize(
    "shop",
    ["../secret.jpg", "{tmp}/secret.jpg", "file://{tmp}/secret.jpg", "sub/../../secret.jpg", "link.jpg"],
)
def test_a_url_list_shop_column_outside_the_list_folder_is_refused(tmp_path, shop, capsys):
    folder = _lists(tmp_path)
    shop = shop.format(tmp=tmp_path)
    lst = folder / "urls.txt"
    lst.write_text(f"http://127.0.0.1:9/v/1.mp4 mine.jpg\nhttp://127.0.0.1:9/v/2.mp4 {shop}\n")
    with pytest.raises(PathEscapeError) as err:
        read_url_list([str(lst)])
    assert err.value.value == shop.removeprefix("file://") and f"{lst} line 2" in str(err.value)
    root = tmp_path / "data"
    with pytest.raises(SystemExit) as ex:
        run_main(collect_cli, ["urls", str(lst), "--root", str(root)])
    assert ex.value.code == 2
    line = capsys.readouterr().err.strip()
    assert len(line.splitlines()) == 1 and "urls.txt line 2" in line and str(folder) in line
    assert not root.exists()  # nothing created, nothing read


def test_a_shop_map_path_outside_its_folder_is_refused(tmp_path):
    folder = _lists(tmp_path)
    m = folder / "shops.csv"
    m.write_text("video,shop\n7001,mine.jpg\n7002,../secret.jpg\n")
    with pytest.raises(PathEscapeError) as err:
        load_shop_map(m)
    assert "row 2" in str(err.value) and "../secret.jpg" in str(err.value)
    m.write_text("video,shop\n7001,mine.jpg\n")
    assert load_shop_map(m)["7001"].path == folder / "mine.jpg"
    (folder / "bad.csv").write_text("video,shop\n7002,../secret.jpg\n")
    # a saved info folder is a target only with an info file in it (none is fetched: the map fails first)
    (folder / "7002.info.json").write_text(json.dumps(info("7002", "http://127.0.0.1:9/7002.mp4")))
    with pytest.raises(PathEscapeError):
        collect("tiktok", [str(folder)], root=tmp_path / "data", shop_map=str(folder / "bad.csv"))
    assert not (tmp_path / "data").exists()


def test_a_tampered_catalog_path_is_never_read_and_the_rerun_repairs_it(tmp_path, monkeypatch):
    body = mp4_bytes(tmp_path, 3)
    with FakeSite() as site:
        site.routes["/v/1.mp4"] = Route(body, content_type="video/mp4")
        lst = tmp_path / "l.txt"
        lst.write_text(site.url("/v/1.mp4") + "\n")
        cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
        root, cat_path = tmp_path / "data", tmp_path / "c.sqlite"
        assert collect("urls", [str(lst)], root=root, catalog=cat_path, cfg=cfg).ok == 1
        secret = tmp_path / "secret.mp4"
        secret.write_bytes(body)  # same bytes: a hash check alone would pass
        with Catalog(cat_path) as cat:
            (a,) = cat.assets(source="urls", source_id="1")
            cat.upsert_assets([a.model_copy(update={"path": "../secret.mp4"})])
        hashed = []
        real = core.sha256_file
        monkeypatch.setattr(core, "sha256_file", lambda p, *a: hashed.append(str(p)) or real(p, *a))
        s = collect("urls", [str(lst)], root=root, catalog=cat_path, cfg=cfg)
        assert s.ok == 1 and s.skipped == 0  # not "done": fetched again into its own folder
        assert not [h for h in hashed if "secret" in h]
        with Catalog(cat_path) as cat:
            (a,) = cat.assets(source="urls", source_id="1")
        assert a.path == "urls/1/video.mp4" and a.sha256 == hashlib.sha256(body).hexdigest()


URL_BITS = st.sampled_from(
    ["..", "%2F", "%2f", "%2E%2E", "%00", "/", "\\", ".", "~", "a", "7001", ".mp4", "?x=1", "#f", "%5C", "é"]
)


@settings(max_examples=100, deadline=None)
@given(tail=st.lists(URL_BITS, max_size=10).map("".join) | st.text(max_size=20))
def test_any_url_or_site_id_becomes_one_folder_under_its_source_or_is_refused(tail):
    root = Path("/collection")
    ctx = CollectContext.__new__(CollectContext)  # item_dir needs only the root
    ctx.root = root
    for raw in (url_source_id("http://127.0.0.1:9/files/" + tail), tail):
        sid = safe_id(raw)
        if sid is None:
            with pytest.raises((PathEscapeError, ValueError)):
                ctx.item_dir(SourceName.URLS, raw)
            continue
        folder = ctx.item_dir(SourceName.URLS, sid)
        assert folder.parent == root / "urls" and folder.name == sid


@pytest.mark.parametrize("linked", ["urls/1", "urls"])
def test_an_item_folder_that_is_a_link_out_of_the_root_is_never_written(tmp_path, linked):
    """ROOT/<source>/<id> (or ROOT/<source>) a symbolic link to a folder outside the root: the
    download landed there. Now the item fails naming the folder, and nothing is written outside."""
    body = mp4_bytes(tmp_path, 3)
    with FakeSite() as site:
        site.routes["/v/1.mp4"] = Route(body, content_type="video/mp4")
        lst = tmp_path / "l.txt"
        lst.write_text(site.url("/v/1.mp4") + "\n")
        cfg = load_collect_config().model_copy(update={"http": FAST_HTTP})
        root, outside = tmp_path / "data", tmp_path / "outside"
        (root / linked).parent.mkdir(parents=True, exist_ok=True)
        outside.mkdir()
        (root / linked).symlink_to(outside)
        s = collect("urls", [str(lst)], root=root, catalog=tmp_path / "c.sqlite", cfg=cfg)
        assert s.ok == 0 and s.failed == 1 and s.reasons == {"path_escape": 1}
        assert list(outside.rglob("*")) == []
        # the problem line and the catalog say what is wrong and where (not a bare class name)
        (problem,) = s.problems
        assert "is a link or not a folder" in problem["message"] and "replace" in problem["message"]
        assert problem["path"] == str(root / linked)
        with Catalog(tmp_path / "c.sqlite") as cat:
            (row,) = cat.items(source="urls")
            assert (row.status, row.reason) == ("failed", "path_escape")
