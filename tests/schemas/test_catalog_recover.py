"""``mf catalog recover``: every row a damaged catalog still gives up lands in a new, sound catalog,
unchanged; the damaged file is only read; nothing is invented."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3

import pytest

from schemas.catalog import Catalog
from schemas.review import record_decision
from tests.damage import catalog_rows, corrupt_mid_file, sqlite_page_size
from tests.mf_cli import run_mf
from tests.schemas.test_catalog_damage import _filled


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recover_salvages_the_readable_rows_into_a_sound_catalog(tmp_path, capsys, seed):
    path = _filled(tmp_path / "catalog.sqlite", n=1500)
    with Catalog(path) as cat:
        cat.log_event("collect", "a line of the log")
    shutil.copyfile(path, tmp_path / "pristine.sqlite")
    truth = catalog_rows(tmp_path / "pristine.sqlite")
    damaged = corrupt_mid_file(path, seed, pages=3)
    assert run_mf(["catalog", "check", "--catalog", str(path)], capsys)[0] == 2

    out = tmp_path / "recovered.sqlite"
    code, stdout, err = run_mf(
        ["catalog", "recover", "--catalog", str(path), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    report = json.loads(stdout)
    assert path.read_bytes() == damaged  # only read
    assert run_mf(["catalog", "check", "--catalog", str(out)], capsys)[0] == 0
    got = catalog_rows(out)
    # nothing invented: every salvaged row is a row of the catalog before the damage, unchanged
    for table in ("items", "assets"):
        assert set(got[table]) <= set(truth[table]), table
    # three damaged pages of 4 KiB cost at most a few dozen of the 1500 items, never most of them
    assert len(got["items"]) >= len(truth["items"]) - 60, report
    assert report["rows"]["items"] == len(got["items"]) and sum(report["damaged_runs_skipped"].values()) >= 1
    # an asset is kept only with its item
    with Catalog(out) as cat:
        keys = {(str(r.item.source), r.item.source_id) for r in cat.items()}
        assert all((str(a.source), a.source_id) in keys for a in cat.assets())
        assert len(list(cat.assets())) >= len(truth["assets"]) - 120


def test_recover_refuses_to_overwrite(tmp_path, capsys):
    path = _filled(tmp_path / "catalog.sqlite", n=50)
    (tmp_path / "taken.sqlite").write_bytes(b"mine")
    code, stdout, err = run_mf(
        ["catalog", "recover", "--catalog", str(path), "--out", str(tmp_path / "taken.sqlite")], capsys
    )
    assert code == 2 and "exists" in err and (tmp_path / "taken.sqlite").read_bytes() == b"mine"


def _query(path, sql):
    """The rows ``sql`` gives on the SQLite file ``path`` (opened by its plain name: no URI)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def _rows(path, table):
    return _query(path, f"SELECT * FROM {table} ORDER BY id")


@pytest.mark.parametrize("name", ["cat#1.sqlite", "cat?v=2.sqlite", "cat%23.sqlite"])
def test_recover_reads_a_catalog_whose_name_holds_uri_characters(tmp_path, capsys, name):
    path = _filled(tmp_path / name, n=5)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.sqlite"
    code, stdout, err = run_mf(
        ["catalog", "recover", "--catalog", str(path), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    assert _rows(out, "items") == _rows(path, "items") and len(_rows(out, "items")) == 5
    assert json.loads(stdout)["rows"]["items"] == 5
    # nothing but the output (and SQLite's side files of the source) appears beside the source
    after = {p.name for p in tmp_path.iterdir()} - {"out.sqlite", f"{name}-wal", f"{name}-shm"}
    assert sorted(after) == before


def test_recover_refuses_a_file_without_any_catalog_table(tmp_path, capsys):
    src = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(src)
    db.execute("CREATE TABLE notes (x TEXT)")
    db.commit()
    db.close()
    out = tmp_path / "out.sqlite"
    code, stdout, err = run_mf(["catalog", "recover", "--catalog", str(src), "--out", str(out)], capsys)
    assert code == 2 and "none of the catalog's tables" in err and str(src) in err
    assert not out.exists()


def test_recover_keeps_the_ids_of_rows_after_a_damaged_run(tmp_path, capsys):
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        for i in range(1, 401):
            record_decision(
                cat, video=f"videos/p{i}_0.mp4", product_id=f"p{i}", kind="note",
                note="x" * 60, request_id=f"req-{i:05d}",
            )  # fmt: skip
    truth = dict(_query(path, "SELECT id, request_id FROM review_decisions"))
    # damage the one page that holds decision 150 (a bad sector in the middle of the table)
    data = bytearray(path.read_bytes())
    page = sqlite_page_size(path)
    start = data.find(b"req-00150") // page * page
    data[start + 8 : start + page] = b"\xff" * (page - 8)
    path.write_bytes(bytes(data))

    out = tmp_path / "recovered.sqlite"
    code, stdout, err = run_mf(
        ["catalog", "recover", "--catalog", str(path), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    got = dict(_query(out, "SELECT id, request_id FROM review_decisions"))
    assert 0 < len(got) < len(truth) and max(got) == 400
    assert all(truth[i] == rid for i, rid in got.items())  # each salvaged decision keeps its id
    assert json.loads(stdout)["rows"]["review_decisions"] == len(got)


def test_recover_counts_only_the_rows_it_wrote(tmp_path, capsys):
    with Catalog(tmp_path / "fresh.sqlite"):
        pass
    ddl = [
        r[0] for r in _query(tmp_path / "fresh.sqlite", "SELECT sql FROM sqlite_master WHERE type = 'table'")
    ]
    src = tmp_path / "torn.sqlite"  # the catalog's tables without NOT NULL: a torn row can hold a NULL
    with contextlib.closing(sqlite3.connect(src)) as db, db:
        for sql in ddl:
            db.execute(sql.replace("NOT NULL", ""))
        db.executemany(
            "INSERT INTO items (source, source_id, data, created_at, updated_at) VALUES (?, ?, ?, 't', 't')",
            [("tiktok", "v1", "{}"), ("tiktok", None, "{}"), ("tiktok", "v3", "{}")],
        )
    out = tmp_path / "out.sqlite"
    code, stdout, err = run_mf(
        ["catalog", "recover", "--catalog", str(src), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    report = json.loads(stdout)
    (written,) = _query(out, "SELECT COUNT(*) FROM items")[0]
    assert report["rows"]["items"] == written == 2 and report["rows_dropped"] == {"items": 1}


def test_recover_refuses_the_log_of_a_file_the_catalog_replaced(tmp_path):
    """A -wal left for the file a restored copy replaced: recover read the old file's pages as
    this one's (it salvaged item 1, which the copy never held). Now refused as every open is."""
    import os

    from schemas.catalog import WalOfAnotherFile
    from schemas.catalog_recover import recover_catalog
    from schemas.items import SourceItem, SourceName

    path, other = tmp_path / "catalog.sqlite", tmp_path / "other.sqlite"
    with Catalog(other) as cat:
        cat.upsert_item(SourceItem(source=SourceName.NETAPORTER, source_id="9"))
    writer = Catalog(path)
    writer.upsert_item(SourceItem(source=SourceName.NETAPORTER, source_id="1"))
    os.replace(other, path)  # the copy restored while the run writes
    try:
        with pytest.raises(WalOfAnotherFile):
            recover_catalog(path, tmp_path / "out.sqlite")
        assert not (tmp_path / "out.sqlite").exists()
    finally:
        writer.close()


def test_recover_leaves_out_meta_rows_that_are_no_json_naming_key_and_rebuild(tmp_path, capsys):
    """A meta row that is no JSON would stop every reader of the recovered catalog as it stopped
    those of the damaged one: recover leaves it out and names it, why, and what writes it again:
    the tracklet builder's records of an item (``mf-tracklets build --force``) and the merge holds
    (``mf publish``) too (before, "restore it from a copy"); a row no command writes says so."""
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        cat.set_meta("splits", {"seed": 3, "test_fraction": 0.2})
        cat.set_meta("tracklet_flags:tiktok/1", {"v": "why"})
        cat.set_meta("tracklet_builds:tiktok/1", {"v": "digest"})
        cat.set_meta("merge_holds", {"netaporter/a": {"hold": "merge: ..."}})
        cat.set_meta("hand_made", 1)
        cat.set_meta("kept", [1])
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '{{{' WHERE key != 'kept'")
    out = tmp_path / "recovered.sqlite"
    code, stdout, err = run_mf(
        ["catalog", "recover", "--catalog", str(path), "--out", str(out), "--json"], capsys
    )
    assert code == 0, err
    left = {m["key"]: m for m in json.loads(stdout)["meta_left_out"]}
    assert set(left) == {
        "splits",
        "tracklet_flags:tiktok/1",
        "tracklet_builds:tiktok/1",
        "merge_holds",
        "hand_made",
    }
    assert left["splits"]["why"].startswith("no valid JSON")
    assert left["splits"]["rebuild"].startswith(f"mf splits rebuild --catalog {out}")
    for key in ("tracklet_flags:tiktok/1", "tracklet_builds:tiktok/1"):
        assert left[key]["rebuild"].startswith(
            f"mf-tracklets build --dataset DATASET --catalog {out} --force"
        )
        assert "item tiktok/1's videos" in left[key]["rebuild"]
    assert left["merge_holds"]["rebuild"].startswith(f"mf publish --catalog {out} --root ROOT --out DATASET")
    assert left["hand_made"]["rebuild"] is None
    with Catalog(out) as cat:
        assert cat.get_meta("kept") == [1] and cat.get_meta("splits") is None
    assert run_mf(["catalog", "check", "--catalog", str(out)], capsys)[0] == 0
    out.unlink()
    code, stdout, _ = run_mf(["catalog", "recover", "--catalog", str(path), "--out", str(out)], capsys)
    assert "left out meta row 'splits': no valid JSON" in stdout
    assert "to write it again: mf splits rebuild" in stdout
    lines = {line.split("'")[1]: line for line in stdout.splitlines() if line.startswith("left out meta row")}
    assert "to write it again: mf-tracklets build --dataset DATASET" in lines["tracklet_flags:tiktok/1"]
    assert "to write it again: mf publish --catalog" in lines["merge_holds"]
    assert "restore it from a copy" in lines["hand_made"]
