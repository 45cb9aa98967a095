"""A catalog cut to 0 bytes (a crash, a full disk, a truncating copy) beside a root that holds
collected items is refused by ``mf-collect`` (exit 2, naming it): a run would take it for a new
catalog and silently start again from nothing (every item fetched anew; cleaning's and review's
decisions, which the files do not hold, gone). An empty catalog beside an empty root is a new one."""

from __future__ import annotations

from schemas.catalog import Catalog
from tests.collectors.test_cli import fast_config, run_cli


def test_an_emptied_catalog_beside_collected_items_is_refused(tmp_path, capsys):
    root = tmp_path / "data"
    (root / "netaporter" / "120980").mkdir(parents=True)
    (root / "netaporter" / "120980" / "video.mp4").write_bytes(b"collected")
    catalog = root / "catalog.sqlite"
    catalog.write_bytes(b"")
    code, _, err = run_cli(
        ["netaporter", "120980", "--root", root, "--base-url", "http://127.0.0.1:9"], capsys
    )
    assert code == 2 and "Traceback" not in err, err
    assert str(catalog) in err and "empty" in err and "netaporter/120980" in err
    assert catalog.stat().st_size == 0  # left as it was: nothing written to it
    assert sorted(p.name for p in root.iterdir()) == ["catalog.sqlite", "netaporter"]


def test_an_empty_catalog_beside_an_empty_root_is_a_new_one(tmp_path, capsys):
    root = tmp_path / "data"
    root.mkdir()
    catalog = root / "catalog.sqlite"
    catalog.write_bytes(b"")
    code, _, err = run_cli(
        ["netaporter", "120980", "--root", root, "--base-url", "http://127.0.0.1:9", "--json"]
        + ["--config", fast_config(tmp_path)],  # no backoff of seconds between the refused retries
        capsys,
    )
    assert code == 1 and "Traceback" not in err, err  # nothing answers on port 9: the item fails
    with Catalog(catalog, must_exist=True) as cat:
        assert cat.schema_version > 0


def test_an_empty_file_not_named_as_a_catalog_is_refused_not_turned_into_one(tmp_path, capsys):
    """``--catalog empty.json``: a file of the user's (0 bytes) was silently made a SQLite catalog."""
    root = tmp_path / "data"
    root.mkdir()
    catalog = tmp_path / "empty.json"
    catalog.write_bytes(b"")
    code, _, err = run_cli(
        ["netaporter", "120980", "--root", root, "--catalog", catalog, "--base-url", "http://127.0.0.1:9"],
        capsys,
    )
    assert code == 2 and "Traceback" not in err, err
    assert str(catalog) in err and "empty file" in err and "remove it" in err and "another path" in err
    assert catalog.stat().st_size == 0  # left as it was
    assert not list(root.iterdir())
