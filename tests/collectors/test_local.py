"""``mf-collect local``: a user's own videos and shop images from a manifest or a folder, into
the catalog, with the class and partition their rows give reaching cleaning."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import pytest

from collectors.api import collect
from collectors.cli import collect as collect_cli
from collectors.config import LocalConfig
from collectors.local import FILE_MISSING, read_targets
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.errors import DataFormatError
from schemas.paths import PathEscapeError
from schemas.taxonomy import Partition
from tests.cleaning.media_helpers import scene, still_image, write_mp4


def _media(folder: Path, name: str, seed: int, shop_ext: str | None = ".jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_mp4(folder / f"{name}.mp4", scene(seed, n=30))
    if shop_ext:
        cv2.imwrite(str(folder / f"{name}{shop_ext}"), still_image(seed, 120, 160))


def _exit(args: list[str], capsys) -> tuple[int, str]:
    """``mf-collect ARGS`` as the command line runs it: (exit code, what it printed)."""
    with pytest.raises(SystemExit) as ei:
        run_main(collect_cli, args)
    out = capsys.readouterr()
    return ei.value.code, out.out + out.err


@pytest.fixture()
def mine(tmp_path: Path) -> Path:
    """Three clips and their shop images, and a manifest naming them."""
    home = tmp_path / "mine"
    for seed, name in enumerate(("look-a", "look-b", "look-c")):
        _media(home / "clips", name, seed + 1)
    (home / "manifest.csv").write_text(
        "video,shop_image,id,partition,class,title\n"
        "clips/look-a.mp4,clips/look-a.jpg,alpha,regular,trousers,Wide-leg trousers\n"
        'clips/look-b.mp4,clips/look-b.jpg,,hard,,"Long sleeve shirt, blue"\n'
        "# a comment line\n"
        "clips/look-c.mp4,clips/look-c.jpg,gamma,,,\n"
    )
    return home


def test_manifest_items_are_copied_and_reruns_skip_them(mine, tmp_path):
    root, cat_path = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    s = collect("local", [str(mine / "manifest.csv")], root=root, catalog=cat_path)
    assert (s.ok, s.failed, s.rejected, s.requests) == (3, 0, 0, 0), s.human()
    assert (root / "local/alpha/video.mp4").read_bytes() == (mine / "clips/look-a.mp4").read_bytes()
    assert (root / "local/look-b/shop.jpg").read_bytes() == (mine / "clips/look-b.jpg").read_bytes()
    with Catalog(cat_path) as cat:
        alpha = cat.get_item("local", "alpha").item
        assert alpha.title == "Wide-leg trousers" and alpha.metadata["df2_class"] == 8
        assert alpha.metadata["partition"] == "regular"
        assert cat.get_item("local", "look-b").item.title == "Long sleeve shirt, blue"
        assert cat.get_item("local", "gamma").item.metadata["partition"] == "hard"  # the config's default
    again = collect("local", [str(mine / "manifest.csv")], root=root, catalog=cat_path)
    assert (again.ok, again.skipped) == (0, 3)


def test_cleaning_takes_the_rows_class_and_partition(mine, tmp_path):
    from cleaning.pipeline import clean

    root, cat_path = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    collect("local", [str(mine / "manifest.csv")], root=root, catalog=cat_path)
    with Catalog(cat_path) as cat:
        clean(cat, root)
        rows = {r.item.source_id: r for r in cat.items()}
    # alpha: the row's class and partition; look-b: the taxonomy reads its title; gamma: nothing to go by
    assert (rows["alpha"].status, rows["alpha"].df2_class, rows["alpha"].partition) == (
        "accepted",
        8,
        "regular",
    )
    assert (rows["look-b"].status, rows["look-b"].df2_class, rows["look-b"].partition) == (
        "accepted",
        2,
        "hard",
    )
    assert rows["gamma"].status == "needs_review" and "unknown_garment" in rows["gamma"].reason


def test_a_folder_pairs_each_video_with_the_image_of_its_name(tmp_path):
    home = tmp_path / "shoot"
    _media(home, "red-dress", 1, ".png")
    _media(home / "day2", "blue-coat", 2, ".JPG")
    _media(home, "no-shop", 3, None)
    _media(home / ".cache", "hidden", 4)
    rows = {r.sid: r for r in read_targets([str(home)], LocalConfig())}
    assert sorted(rows) == ["day2-blue-coat", "no-shop", "red-dress"]
    assert rows["red-dress"].shop.path.name == "red-dress.png"
    assert rows["day2-blue-coat"].shop.path.name == "blue-coat.JPG"
    assert rows["no-shop"].shop is None and rows["no-shop"].partition == Partition.HARD
    s = collect("local", [str(home)], root=tmp_path / "d", catalog=tmp_path / "d.sqlite")
    assert s.ok == 3, s.human()
    assert (tmp_path / "d/local/red-dress/shop.png").is_file() and (
        tmp_path / "d/local/day2-blue-coat"
    ).is_dir()
    # a camera's names, and one stem in two subfolders, get ids of their own (audit_new3 N6)
    _media(home / "day3", "red-dress", 5)
    _media(home, "IMG 0001 été", 6)
    _media(home, "IMG-0001-ete", 7)  # the same safe name: both told apart by a hash of their path
    ids = {r.sid for r in read_targets([str(home)], LocalConfig())}
    assert {"red-dress", "day2-blue-coat", "day3-red-dress", "no-shop"} <= ids and len(ids) == 6
    assert len([i for i in ids if i.startswith("IMG-0001-ete-")]) == 2


@pytest.mark.parametrize(
    "text,words",
    [
        (
            "video,shop_image,clas\nclips/look-a.mp4,clips/look-a.jpg,8\n",
            ["unknown column", "'clas'", "line 1"],
        ),
        ("shop_image,id\nclips/look-a.jpg,x\n", ["no video column"]),
        (
            "video,class\nclips/look-a.mp4,top\n",
            ["class 'top' is no DeepFashion2 class", "line 2", "8 trousers"],
        ),
        (
            "video,partition\nclips/look-a.mp4,street\n",
            ["partition 'street' is neither regular nor hard", "line 2"],
        ),
        ("video,id\nclips/look-a.mp4,my look\n", ["id 'my look' cannot name a folder", "line 2"]),
        ("video,id\nclips/look-a.mp4,x\nclips/look-b.mp4,x\n", ["id 'x' is given twice", "line 2", "line 3"]),
        ("video,video_path\nclips/look-a.mp4,clips/look-b.mp4\n", ["two columns give the video"]),
        ("video,shop\nclips/look-a.mp4,clips/look-a.jpg,extra\n", ["line 2: 3 fields", "quote"]),
        ("video\n", ["manifest has no rows"]),
        ("video\n../outside.mp4\n", ["points outside", "the folder of the manifest", "line 2"]),
        ("video\n/etc/hostname\n", ["the folder of the manifest", "line 2"]),
        ("video,shop_image\nclips/look-a.mp4,../../etc/passwd\n", ["shop image", "line 2"]),
        # an unclosed quote swallowed the rest of the file into one field, without a word
        (
            'video,title\nclips/look-a.mp4,"a look\nclips/look-b.mp4,b\n',
            ["line 2", "column 'title'", "quoted field is not closed"],
        ),
    ],
)
def test_a_bad_manifest_is_refused_before_anything_is_created(mine, tmp_path, text, words, capsys):
    bad = mine / "bad.csv"
    bad.write_text(text)
    root = tmp_path / "data"
    code, out = _exit(["local", str(bad), "--root", str(root)], capsys)
    assert code == 2, out
    assert str(bad) in out and all(w in out for w in words), out
    assert not root.exists()


def test_jsonl_manifest_and_its_type_errors(mine, tmp_path):
    lst = mine / "items.jsonl"
    lst.write_text(
        json.dumps({"video": "clips/look-a.mp4", "shop_image": "clips/look-a.jpg", "class": 10})
        + "\n\n"
        + json.dumps({"video": "clips/look-b.mp4", "partition": "Regular", "title": None})
        + "\n"
    )
    a, b = read_targets([str(lst)], LocalConfig())
    assert (a.sid, a.df2_class, b.partition, b.shop) == ("look-a", 10, Partition.REGULAR, None)
    lst.write_text(json.dumps({"video": "clips/look-a.mp4", "class": [8]}) + "\n")
    with pytest.raises(DataFormatError, match="'class' must be a string or a whole number"):
        read_targets([str(lst)], LocalConfig())
    with pytest.raises(PathEscapeError):
        lst.write_text(json.dumps({"video": "../x.mp4"}) + "\n")
        read_targets([str(lst)], LocalConfig())


def test_a_missing_file_fails_its_item_and_a_rerun_collects_it_once_it_is_there(mine, tmp_path):
    moved = mine / "elsewhere.mp4"
    (mine / "clips/look-c.mp4").rename(moved)
    root, cat_path = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    s = collect("local", [str(mine / "manifest.csv")], root=root, catalog=cat_path)
    assert (s.ok, s.failed) == (2, 1)
    problem = next(p for p in s.human().splitlines() if "gamma" in p)
    assert "look-c.mp4" in problem and "manifest.csv line 5" in problem, problem
    with Catalog(cat_path) as cat:
        (video,) = cat.assets(source="local", source_id="gamma", kind="video")
        assert (video.status, video.reason) == ("failed", FILE_MISSING)
    moved.rename(mine / "clips/look-c.mp4")
    again = collect("local", [str(mine / "manifest.csv")], root=root, catalog=cat_path)
    assert (again.ok, again.skipped, again.failed) == (1, 2, 0)
    assert (root / "local/gamma/video.mp4").is_file()


def test_a_row_changed_after_collection_is_collected_anew_until_cleaning_used_it(mine, tmp_path, caplog):
    root, cat_path = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    manifest = mine / "manifest.csv"
    collect("local", [str(manifest)], root=root, catalog=cat_path)
    _media(mine / "clips", "look-a2", 9)
    manifest.write_text(
        manifest.read_text().replace(
            "clips/look-a.mp4,clips/look-a.jpg,alpha,regular,trousers",
            "clips/look-a2.mp4,clips/look-a2.jpg,alpha,regular,skirt",
        )
    )
    s = collect("local", [str(manifest)], root=root, catalog=cat_path)
    assert (s.ok, s.skipped) == (1, 2), s.human()
    assert (root / "local/alpha/video.mp4").read_bytes() == (mine / "clips/look-a2.mp4").read_bytes()
    with Catalog(cat_path) as cat:
        assert cat.get_item("local", "alpha").item.metadata["df2_class"] == 9
        assert [a.path for a in cat.assets(source="local", source_id="alpha", kind="shop")] == [
            "local/alpha/shop.jpg"
        ]
        cat.set_item_state("local", "alpha", status="needs_review", reason="taxonomy: ambiguous")
    # a class (or partition, or text) corrected later is applied in place, its status kept: the
    # next mf clean decides the item again with it (audit_new3 N4)
    manifest.write_text(manifest.read_text().replace(",skirt", ",shorts"))
    s = collect("local", [str(manifest)], root=root, catalog=cat_path)
    assert s.skipped == 3
    with Catalog(cat_path) as cat:
        row = cat.get_item("local", "alpha")
        assert (row.item.metadata["df2_class"], row.status) == (7, "needs_review")
    # other files for an item cleaning has used: said, not collected
    manifest.write_text(manifest.read_text().replace("clips/look-a2.mp4", "clips/look-b.mp4"))
    with caplog.at_level(logging.WARNING):
        s = collect("local", [str(manifest)], root=root, catalog=cat_path)
    assert s.skipped == 3
    assert "cleaning has used the files collected (needs_review)" in caplog.text


def test_the_record_names_files_by_the_manifests_folder_and_no_folder_of_the_user(
    mine, tmp_path, monkeypatch
):
    """A manifest given by another path (or run from another folder) made every item "changed";
    the item's url, the absolute file:// path of the user's file, went into entries.jsonl
    (audit_new3 N3, N5)."""
    root, cat_path = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    collect("local", [str(mine / "manifest.csv")], root=root, catalog=cat_path)
    monkeypatch.chdir(mine)
    again = collect("local", ["manifest.csv"], root=root, catalog=cat_path)
    assert (again.ok, again.skipped) == (0, 3)
    with Catalog(cat_path) as cat:
        item = cat.get_item("local", "alpha").item
    assert item.url is None and item.metadata["video_file"] == "clips/look-a.mp4"
    assert item.metadata["shop_file"] == "clips/look-a.jpg"
    assert str(tmp_path) not in item.model_dump_json()


def test_the_manifests_files_collected_again_through_their_folder_are_the_same_files(mine, tmp_path, caplog):
    """The README's two local commands one after the other: the manifest, then the folder its
    files lie in. The folder names each file relative to itself (``look-a.mp4``, not
    ``clips/look-a.mp4``), so every item looked "changed": collected anew, its class and title
    replaced by the folder's none, before cleaning; warned about as other files after it. The
    same files (by address or content) under another name change nothing."""
    root, cat_path = tmp_path / "data", tmp_path / "data" / "catalog.sqlite"
    manifest = mine / "manifest.csv"
    manifest.write_text(manifest.read_text().replace(",alpha,", ",look-a,").replace(",gamma,", ",look-c,"))
    first = collect("local", [str(manifest)], root=root, catalog=cat_path)
    assert first.ok == 3, first.human()
    with caplog.at_level(logging.INFO, logger="collectors.local"):
        again = collect("local", [str(mine / "clips")], root=root, catalog=cat_path)
    assert (again.ok, again.skipped) == (0, 3), again.human()
    assert "names other files" not in caplog.text
    with Catalog(cat_path) as cat:
        item = cat.get_item("local", "look-a").item
        assert (item.title, item.metadata["df2_class"]) == ("Wide-leg trousers", 8)
        for sid in ("look-a", "look-b", "look-c"):
            cat.set_item_state("local", sid, status="accepted")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="collectors.local"):
        later = collect("local", [str(mine / "clips")], root=root, catalog=cat_path)
    assert (later.ok, later.skipped) == (0, 3) and "names other files" not in caplog.text
    # a moved folder holds the same bytes at another address: still the same files
    moved = tmp_path / "moved"
    (mine / "clips").rename(moved)
    with caplog.at_level(logging.WARNING, logger="collectors.local"):
        assert collect("local", [str(moved)], root=root, catalog=cat_path).skipped == 3
    assert "names other files" not in caplog.text


def test_csv_manifests_as_spreadsheets_write_them(mine):
    """A quoted field over two lines crashed (audit_new3 N1); a superscript digit as a class too (N2)."""
    man = mine / "sheet.csv"
    man.write_text(
        'video,shop_image,title,\r\nclips/look-a.mp4,clips/look-a.jpg,"Wide-leg, high waist\r\ntrousers",\r\n'
        "# a comment\r\nclips/look-b.mp4,,plain,\r\n"
    )
    a, b = read_targets([str(man)], LocalConfig())
    assert a.title == "Wide-leg, high waist\r\ntrousers" and a.where.endswith("line 2")
    assert b.sid == "look-b" and b.where.endswith("line 5")
    man.write_text("video,class\nclips/look-a.mp4,\u00b2\n")
    with pytest.raises(DataFormatError, match="is no DeepFashion2 class"):
        read_targets([str(man)], LocalConfig())


def test_local_files_are_never_fetched_as_urls(mine, tmp_path, capsys):
    video, root = mine / "clips/look-a.mp4", str(tmp_path / "d")
    code, out = _exit(["urls", str(video), "--root", root], capsys)
    assert code == 2 and "a video file, not a URL list" in out and "mf-collect local" in out, out
    code, out = _exit(["urls", video.as_uri(), "--root", root], capsys)
    assert code == 2 and "file URLs are not fetched" in out and "mf-collect local" in out, out
    code, out = _exit(["local", "--recheck", "--root", root], capsys)
    assert code == 2 and "your own files" in out, out
    assert not (tmp_path / "d").exists()


def test_ffmpegs_own_complaints_about_a_damaged_file_stay_off_the_terminal(tmp_path):
    """A cut-short video: its item says why; FFmpeg's lines (``ERROR libav.h264: ...``) once
    reached stderr through the CLI's logging set-up (audit_real R4)."""
    import subprocess
    import sys

    home = tmp_path / "mine"
    home.mkdir()
    whole = write_mp4(home / "whole.mp4", scene(3, n=60), extra=["-movflags", "+faststart"])
    (home / "cut.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    whole.unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "collectors", "local", str(home), "--root", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if not k.startswith("MF_NATIVE")},
    )
    assert proc.returncode == 1, proc.stderr
    assert "cut" in proc.stdout and "libav" not in proc.stderr and " @ 0x" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("field", ["video", "shop_image"])
def test_a_jsonl_path_given_as_a_number_is_refused_naming_the_line_and_field(mine, tmp_path, field, capsys):
    """``{"video": 5}`` was read as the path "5" (and failed later as a missing file, exit 1)."""
    lst = mine / "items.jsonl"
    row = {"video": "clips/look-a.mp4", field: 5}
    lst.write_text(json.dumps({"video": "clips/look-b.mp4"}) + "\n" + json.dumps(row) + "\n")
    root = tmp_path / "data"
    code, out = _exit(["local", str(lst), "--root", str(root)], capsys)
    assert code == 2, out
    assert str(lst) in out and f"line 2: '{field}' is the number 5" in out, out
    assert not root.exists()
