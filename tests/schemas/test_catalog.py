import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from schemas.catalog import MIGRATIONS, Catalog
from schemas.errors import CatalogError
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName, Status
from tests.old_catalog import old_catalog

WRITER = r"""
import sys
from schemas.catalog import Catalog
from schemas.items import SourceItem
db, start, stop, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cat = Catalog(db)
with open(log, "a") as fh:
    for lo in range(start, stop, 25):
        ids = range(lo, min(lo + 25, stop))
        cat.upsert_items([SourceItem(source="tiktok", source_id=f"v{i:05d}", title=f"t{i}") for i in ids],
                         status="downloaded")
        fh.write(f"{lo} {min(lo + 25, stop)}\n")  # written only after the commit returned
        fh.flush()
"""


def _spawn(db, start, stop, log):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(start), str(stop), str(log)])


def _committed(log):
    ids = set()
    if log.exists():
        for line in log.read_text().splitlines():
            lo, hi = map(int, line.split())
            ids.update(range(lo, hi))
    return ids


def test_two_writers_one_killed_then_rerun(tmp_path):
    db = tmp_path / "catalog.sqlite"
    Catalog(db).close()
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = _spawn(db, 0, 5000, log_a)
    b = _spawn(db, 2500, 7500, log_b)
    deadline = time.time() + 60
    while len(_committed(log_b)) < 500 and time.time() < deadline:
        time.sleep(0.02)
    b.send_signal(signal.SIGKILL)
    b.wait()
    assert a.wait(timeout=300) == 0
    killed_at = _committed(log_b)
    assert 0 < len(killed_at) < 5000, "the kill should land mid-run"

    cat = Catalog(db)
    assert cat.integrity_ok()
    have = {r.item.source_id for r in cat.items()}
    assert {f"v{i:05d}" for i in _committed(log_a) | killed_at} <= have  # no committed row lost
    cat.close()

    rerun = _spawn(db, 2500, 7500, log_b)
    assert rerun.wait(timeout=300) == 0
    raw = sqlite3.connect(db)
    total, distinct = raw.execute(
        "SELECT COUNT(*), COUNT(DISTINCT source || '/' || source_id) FROM items"
    ).fetchone()
    assert total == distinct == 7500
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_upsert_is_idempotent_and_updates_state(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    item = SourceItem(
        source=SourceName.NETAPORTER,
        source_id="1234567",
        title="Striped cotton shirt",
        category_path=["Clothing", "Tops", "Shirts"],
    )
    cat.upsert_item(item, status=Status.DISCOVERED)
    first = cat.get_item("netaporter", "1234567")
    cat.upsert_item(item, status=Status.DOWNLOADED)
    assert cat.count_items() == 1
    row = cat.get_item("netaporter", "1234567")
    assert row.status is Status.DOWNLOADED and row.created_at == first.created_at
    assert row.updated_at >= first.updated_at and row.item.category_path[-1] == "Shirts"
    cat.set_item_state("netaporter", "1234567", status=Status.REJECTED, reason="non-clothing: bag")
    assert cat.get_item("netaporter", "1234567").reason == "non-clothing: bag"
    with pytest.raises(CatalogError, match="no item"):
        cat.set_item_state("netaporter", "nope", status=Status.FAILED)

    asset = MediaAsset(
        source="netaporter",
        source_id="1234567",
        kind=AssetKind.VIDEO,
        url="http://x/v.mp4",
        path="netaporter/1234567/video.mp4",
        sha256="a" * 64,
        size=10,
        probe={"frames": 90, "fps": 30, "width": 320, "height": 400, "duration_s": 3},
    )
    cat.upsert_asset(asset)
    cat.upsert_asset(asset)
    got = cat.assets(source_id="1234567")
    assert len(got) == 1 and got[0].probe.frames == 90
    cat.set_asset_state(
        "netaporter", "1234567", "video", status=Status.DUPLICATE, duplicate_of="netaporter/1"
    )
    assert cat.assets(kind="video")[0].duplicate_of == "netaporter/1"


def test_migrations_are_numbered_and_newer_db_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    cat = Catalog(path)
    assert cat.schema_version == len(MIGRATIONS)
    cat.close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    raw.commit()
    raw.close()
    with pytest.raises(CatalogError, match="newer than this toolkit"):
        Catalog(path)


def test_an_older_catalog_is_migrated_in_place_and_keeps_its_rows(tmp_path):
    path = tmp_path / "c.sqlite"
    raw = old_catalog(path, 1)  # a catalog written at version 1
    raw.execute(
        "INSERT INTO items (source, source_id, created_at, updated_at) VALUES ('tiktok', '7', 'a', 'a')"
    )
    raw.execute('UPDATE items SET data = \'{"source": "tiktok", "source_id": "7"}\'')
    raw.close()
    with Catalog(path) as cat:
        assert cat.schema_version == len(MIGRATIONS)
        assert cat.get_item("tiktok", "7") is not None
        assert cat.get_meta("splits") is None
        cat.set_meta("splits", {"seed": 3, "test_fraction": 0.1})
    with Catalog(path) as cat:
        assert cat.get_meta("splits") == {"seed": 3, "test_fraction": 0.1}


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="c.sqlite"):
        Catalog(bad)


def test_unsafe_ids_are_refused():
    for bad in ["../../etc/passwd", "a\x00b", "", "x" * 200, "a/b", ".hidden"]:
        with pytest.raises(ValueError, match="source_id"):
            SourceItem(source="tiktok", source_id=bad)


def test_events(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.log_event("cleaning", "marked duplicate", "tiktok", "1")
    assert json.dumps(cat.events("cleaning")[0]["message"]) == '"marked duplicate"'
    assert os.path.exists(tmp_path / "c.sqlite")


def test_a_catalog_that_must_exist_is_not_started_by_a_typo(tmp_path):
    from schemas.errors import CatalogError

    typo = tmp_path / "typo" / "catalog.sqlite"
    with pytest.raises(CatalogError, match="catalog not found") as exc:
        Catalog(typo, must_exist=True)
    assert str(typo) in str(exc.value) and not typo.parent.exists()
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(CatalogError, match="catalog is empty"):
        Catalog(empty, must_exist=True)
    assert empty.stat().st_size == 0  # left as it was
    Catalog(tmp_path / "c.sqlite").close()  # one mf-collect started
    Catalog(tmp_path / "c.sqlite", must_exist=True).close()


def test_setting_the_same_state_again_leaves_updated_at(tmp_path, monkeypatch):
    import schemas.catalog as catalog_module

    with Catalog(tmp_path / "c.sqlite") as cat:
        cat.upsert_items([SourceItem(source="tiktok", source_id="v1", url="http://x/v1")])
        monkeypatch.setattr(catalog_module, "_now", lambda: "2026-01-01T00:00:00.000000+00:00")
        cat.set_item_state("tiktok", "v1", status=Status.ACCEPTED, reason=None, df2_class=3)
        stamp = lambda: cat._db.execute("SELECT updated_at FROM items").fetchone()[0]  # noqa: E731
        assert stamp().startswith("2026-01-01")
        monkeypatch.setattr(catalog_module, "_now", lambda: "2026-02-15T00:00:00.000000+00:00")
        cat.set_item_state("tiktok", "v1", status=Status.ACCEPTED, reason=None, df2_class=3)  # the same
        assert stamp().startswith("2026-01-01")
        cat.set_item_state("tiktok", "v1", status=Status.ACCEPTED, reason=None, df2_class=4)  # a change
        assert stamp().startswith("2026-02-15") and cat.get_item("tiktok", "v1").df2_class == 4


def test_recording_the_same_asset_again_leaves_updated_at(tmp_path, monkeypatch):
    """A rerun of ``mf clean`` on unchanged input records every asset again: their rows keep
    their time (before, each rerun moved it on all of them), and move on a change only."""
    import schemas.catalog as catalog_module

    asset = MediaAsset(source="tiktok", source_id="v1", kind=AssetKind.VIDEO, url="http://x/v", size=10)
    with Catalog(tmp_path / "c.sqlite") as cat:
        stamp = lambda: cat._db.execute("SELECT updated_at FROM assets").fetchone()[0]  # noqa: E731
        monkeypatch.setattr(catalog_module, "_now", lambda: "2026-01-01T00:00:00.000000+00:00")
        cat.upsert_assets([asset])
        monkeypatch.setattr(catalog_module, "_now", lambda: "2026-02-15T00:00:00.000000+00:00")
        cat.upsert_assets([asset])
        cat.set_asset_state("tiktok", "v1", "video", size=10)
        assert stamp().startswith("2026-01-01")
        cat.set_asset_state("tiktok", "v1", "video", size=11)  # a change
        assert stamp().startswith("2026-02-15")
        monkeypatch.setattr(catalog_module, "_now", lambda: "2026-03-01T00:00:00.000000+00:00")
        cat.upsert_assets([asset])  # size 10 again: a change
        assert stamp().startswith("2026-03-01") and cat.assets()[0].size == 10


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("data", "{not json", "item tiktok/v1 is not a valid catalog row"),
        ("df2_class", "x", "df2_class 'x' is not a class number"),
        ("status", "maybe", "is not a valid catalog row"),
    ],
)
def test_a_row_edited_by_hand_is_named_not_a_traceback(tmp_path, column, value, words):
    from click.testing import CliRunner

    from schemas.cli import catalog

    path = tmp_path / "c.sqlite"
    with Catalog(path) as cat:
        cat.upsert_items([SourceItem(source="tiktok", source_id="v1", url="http://x/v1")])
    raw = sqlite3.connect(path)
    raw.execute(f"UPDATE items SET {column} = ?", (value,))
    raw.commit()
    raw.close()
    with Catalog(path) as cat:
        with pytest.raises(CatalogError, match=words) as exc:
            cat.items()
        assert str(path) in str(exc.value)
        assert len(cat.row_problems()) == 1
    res = CliRunner().invoke(catalog, ["check", "--catalog", str(path), "--json"])
    assert res.exit_code != 0 and json.loads(res.stdout)["ok"] is False


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("probe", '{"frames": 48, "fps": 30.0, "width": 320, "height": 384, "duration_s": 1.6, "rot": 9}',
         "rot: Extra inputs are not permitted"),
        ("probe", "{not json", "probe: malformed JSON"),
        ("crop", "[1, 2", "crop: malformed JSON"),
        ("status", "maybe", "status"),
    ],
)  # fmt: skip
def test_an_unreadable_asset_row_is_named_and_check_lists_it(tmp_path, column, value, words):
    from click.testing import CliRunner

    from schemas.cli import catalog
    from schemas.items import VideoProbe

    path = tmp_path / "c.sqlite"
    with Catalog(path) as cat:
        cat.upsert_items([SourceItem(source="tiktok", source_id="v1")])
        probe = VideoProbe(frames=48, fps=30.0, width=320, height=384, duration_s=1.6)
        cat.upsert_asset(
            MediaAsset(source="tiktok", source_id="v1", kind="video", url="http://x/v", probe=probe)
        )
    raw = sqlite3.connect(path)
    raw.execute(f"UPDATE assets SET {column} = ?", (value,))
    raw.commit()
    raw.close()
    with Catalog(path) as cat:
        with pytest.raises(CatalogError, match=words) as exc:
            cat.assets()
        assert str(path) in str(exc.value) and "asset tiktok/v1 video http://x/v" in str(exc.value)
        assert cat.row_problems() == [exc.value.message]
    res = CliRunner().invoke(catalog, ["check", "--catalog", str(path), "--json"])
    assert isinstance(res.exception, CatalogError) and json.loads(res.stdout)["ok"] is False
    assert "asset tiktok/v1" in json.loads(res.stdout)["problems"][0]


def _older_catalog(path, version: int = 1) -> None:
    """A catalog as a toolkit at schema ``version`` wrote it, with one item."""
    raw = old_catalog(path, version)
    raw.execute(
        "INSERT INTO items (source, source_id, created_at, updated_at, data) VALUES "
        "('tiktok', '7', 'a', 'a', '{\"source\": \"tiktok\", \"source_id\": \"7\"}')"
    )
    raw.close()


def test_mf_catalog_upgrade_upgrades_an_older_catalog_and_says_so(tmp_path, caplog):
    from click.testing import CliRunner

    from schemas.cli import catalog

    path = tmp_path / "c.sqlite"
    _older_catalog(path, len(MIGRATIONS) - 2)
    # a read-only command refuses it, pointing at the upgrade
    res = CliRunner().invoke(catalog, ["check", "--catalog", str(path), "--json"])
    assert res.exit_code != 0 and res.stdout == ""
    assert f"mf catalog upgrade --catalog {path}" in str(res.exception)
    with caplog.at_level("WARNING", logger="schemas.catalog"):
        res = CliRunner().invoke(catalog, ["upgrade", "--catalog", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["upgraded"] is True and out["from"] == len(MIGRATIONS) - 2
    assert out["schema_version"] == len(MIGRATIONS) and out["items"] == 1
    assert any(
        f"upgraded from schema version {len(MIGRATIONS) - 2} to {len(MIGRATIONS)}" in r.getMessage()
        and "older toolkit can no longer open it" in r.getMessage()
        for r in caplog.records
    )
    again = CliRunner().invoke(catalog, ["upgrade", "--catalog", str(path)])
    assert again.exit_code == 0 and "already at schema" in again.stdout
    assert CliRunner().invoke(catalog, ["check", "--catalog", str(path)]).exit_code == 0
