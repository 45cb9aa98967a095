"""SOURCE_DATE_EPOCH is checked once, before anything is written: a malformed or out-of-range
value is a ConfigError naming it (exit 2 from `mf publish`), never a traceback or ignored."""

from __future__ import annotations

import pytest

from movingfashion.app.cli import cli
from movingfashion.archive.describe import resolve_date, source_date_epoch
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "date"), [("", None), ("  ", None), ("0", "1970-01-01"), (" 1700000000\n", "2023-11-14")]
)
def test_a_whole_number_of_seconds_is_a_date(monkeypatch, value, date):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    assert source_date_epoch() == date


@pytest.mark.parametrize("value", ["abc", "1e9", "-5", "1.5", "٣", "99999999999999999", "253402300800"])
def test_a_malformed_or_out_of_range_value_is_refused(monkeypatch, value):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(ConfigError) as exc:
        source_date_epoch()
    assert exc.value.where == "SOURCE_DATE_EPOCH" and "unset it" in str(exc.value)
    with pytest.raises(ConfigError):  # even when an explicit date makes it unused
        resolve_date("2026-05-01")


@pytest.mark.parametrize("value", ["abc", "99999999999999999"])
def test_mf_publish_exits_2_before_writing_anything(monkeypatch, tmp_path, capsys, value):
    Catalog(tmp_path / "catalog.sqlite").close()  # empty: a valid value stops at "nothing cleaned"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    out = tmp_path / "ds"
    (tmp_path / "collection").mkdir()  # beside the dataset folder: a root holding --out is refused
    args = [
        "publish",
        "--catalog",
        str(tmp_path / "catalog.sqlite"),
        "--root",
        str(tmp_path / "collection"),
        "--out",
        str(out),
    ]
    with pytest.raises(SystemExit) as exc:
        run_main(cli, args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SOURCE_DATE_EPOCH" in err[0] and "Traceback" not in err[0]
    assert not out.exists()
