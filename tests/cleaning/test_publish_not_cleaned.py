"""`mf publish` and `mf splits rebuild` straight after mf-collect (items still ``downloaded``)
say that `mf clean` has not run: exit 2 and nothing written when nothing is cleaned, a warning
on stderr when some items are cleaned and some not."""

from __future__ import annotations

from pathlib import Path

from cleaning.splits import SPLIT_META_KEY
from schemas.catalog import Catalog
from schemas.items import SourceItem, Status
from schemas.official import read_official
from tests.mf_cli import run_mf


def _downloaded(cat: Catalog, n: int) -> None:
    cat.upsert_items(
        [SourceItem(source="tiktok", source_id=f"70000000000000000{i:02d}") for i in range(n)],
        status=Status.DOWNLOADED,
    )


def test_publish_and_splits_before_clean_exit_2_and_write_nothing(tmp_path, capsys):
    cat_path, root, out = tmp_path / "catalog.sqlite", tmp_path / "data", tmp_path / "dataset"
    root.mkdir()
    with Catalog(cat_path) as cat:
        _downloaded(cat, 3)
    code, _, err = run_mf(
        ["publish", "--catalog", str(cat_path), "--root", str(root), "--out", str(out)], capsys
    )
    assert code == 2 and "3 collected items are not cleaned yet: run mf clean" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    code, _, err = run_mf(["splits", "rebuild", "--catalog", str(cat_path)], capsys)
    assert code == 2 and "3 collected items are not cleaned yet: run mf clean" in err, err
    with Catalog(cat_path) as cat:  # nothing written: no split rule recorded
        assert cat.get_meta(SPLIT_META_KEY) is None
        assert {r.status for r in cat.items()} == {Status.DOWNLOADED}


def test_some_items_not_cleaned_are_a_warning(cleaned_world, catalog_copy, tmp_path, capsys):
    out = tmp_path / "dataset"
    with Catalog(catalog_copy) as cat:
        _downloaded(cat, 1)
    code, _, err = run_mf(["splits", "rebuild", "--catalog", str(catalog_copy)], capsys)
    assert code == 0 and "warning: 1 collected item is not cleaned yet: run mf clean" in err, err
    args = ["publish", "--catalog", str(catalog_copy), "--root", str(cleaned_world.root), "--out", str(out)]
    code, stdout, err = run_mf(args, capsys)
    assert code == 0 and "warning: 1 collected item is not cleaned yet: run mf clean" in err, err
    assert "is not cleaned yet" not in stdout  # the warning is said once, on stderr (stdout counts it)
    assert read_official(Path(out) / "train.json")  # the cleaned ones are published
    code, stdout, err = run_mf([*args, "--json"], capsys)
    assert code == 0 and '"not_cleaned": 1' in stdout and "warning" in err
