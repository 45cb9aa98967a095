"""``mf catalog recover``: every row a damaged catalog still gives up lands in a new, sound catalog,
unchanged; the damaged file is only read; nothing is invented."""

from __future__ import annotations

import json
import shutil

import pytest

from schemas.catalog import Catalog
from schemas.cli_support import run_main
from tests.damage import catalog_rows, corrupt_mid_file
from tests.schemas.test_catalog_damage import _filled


def _mf(argv, capsys):
    from movingfashion.app.cli import cli

    try:
        run_main(cli, argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recover_salvages_the_readable_rows_into_a_sound_catalog(tmp_path, capsys, seed):
    path = _filled(tmp_path / "catalog.sqlite", n=1500)
    with Catalog(path) as cat:
        cat.log_event("collect", "a line of the log")
    shutil.copyfile(path, tmp_path / "pristine.sqlite")
    truth = catalog_rows(tmp_path / "pristine.sqlite")
    damaged = corrupt_mid_file(path, seed, pages=3)
    assert _mf(["catalog", "check", "--catalog", str(path)], capsys)[0] == 2

    out = tmp_path / "recovered.sqlite"
    code, res = _mf(["catalog", "recover", "--catalog", str(path), "--out", str(out), "--json"], capsys)
    assert code == 0, res.err
    report = json.loads(res.out)
    assert path.read_bytes() == damaged  # only read
    assert _mf(["catalog", "check", "--catalog", str(out)], capsys)[0] == 0
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
    code, res = _mf(
        ["catalog", "recover", "--catalog", str(path), "--out", str(tmp_path / "taken.sqlite")], capsys
    )
    assert code == 2 and "exists" in res.err and (tmp_path / "taken.sqlite").read_bytes() == b"mine"
