import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from movingfashion.app.cli import cli
from schemas.export import EXPORTED_MODELS
from tests.mf_cli import run_mf


def test_schema_export_writes_one_file_per_model(tmp_path):
    res = CliRunner().invoke(cli, ["schema", "export", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    written = json.loads(res.stdout)["written"]
    assert len(written) == len(EXPORTED_MODELS)
    schema = json.loads((tmp_path / "official_entry.schema.json").read_text())
    assert {"video_paths", "img_path", "source"} <= set(schema["required"])


def test_errors_become_exit_2_and_one_line(tmp_path):
    bad = tmp_path / "train.json"
    bad.write_text(
        '{"P1": {"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": 1, '
        '"tracklets": [{"0": [9, 0, 1, 1]}]}}'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "movingfashion", "schema", "validate", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "product 'P1'" in lines[0] and "x2 (1) < x1 (9)" in lines[0]
    proc = subprocess.run(
        [sys.executable, "-m", "movingfashion", "schema", "validate", str(bad), "--debug"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_entry_points_have_help():
    for exe in ("mf", "mf-collect", "mf-tracklets"):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.argv=['{exe}','--help'];"
                f"from importlib.metadata import entry_points;"
                f"ep=[e for e in entry_points(group='console_scripts') if e.name=='{exe}'][0];"
                f"ep.load()()",
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        assert "Usage" in proc.stdout and "Example" in proc.stdout


def test_an_out_path_under_a_file_is_one_line_and_exit_2(tmp_path, capsys):
    from schemas.catalog import Catalog

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with Catalog(tmp_path / "cat.sqlite"):
        pass
    for argv in (
        ["schema", "export", "--out", str(blocker / "schemas")],
        ["catalog", "recover", "--catalog", str(tmp_path / "cat.sqlite"), "--out", str(blocker / "r.sqlite")],
    ):
        code, out, err = run_mf(argv, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith(f"error: {blocker}: is a file, where a folder is needed")
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["check"], ["check", "--json"]])
def test_catalog_inspection_refuses_an_empty_or_missing_file_and_writes_nothing(tmp_path, capsys, command):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    code, out, err = run_mf(["catalog", *command, "--catalog", str(empty)], capsys)
    assert code == 2 and "catalog is empty" in err and str(empty) in err
    assert (json.loads(out)["path"] == str(empty)) if "--json" in command else out == ""
    assert empty.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite"]
    missing = tmp_path / "typo.sqlite"
    code, out, err = run_mf(["catalog", *command, "--catalog", str(missing)], capsys)
    assert code == 2 and str(missing) in err and not missing.exists()


BAD_ROW = (
    '{"P1": {"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": 1, "tracklets": [{"0": [9, 0, 1, 1]}]}}'
)
GOOD_ROW = (
    '{"P2": {"video_paths": ["videos/P2_0.mp4"], "img_path": "imgs/P2.jpg", "source": 1, '
    '"tracklets": [{"0": [0, 0, 9, 9]}]}}'
)


def test_validate_json_reports_every_file_and_exits_1_on_an_invalid_one(tmp_path, capsys):
    """--json: one document, a result per file (the valid ones too), exit 1; before, an invalid
    file left stdout empty (one stderr line, exit 2) and the other files unreported."""
    good, bad, gone = tmp_path / "test.json", tmp_path / "train.json", tmp_path / "nope.json"
    good.write_text(GOOD_ROW)
    bad.write_text(BAD_ROW)
    code, out, _ = run_mf(["schema", "validate", str(good), str(bad), str(gone), "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False
    assert doc["files"][str(good)] == {"ok": True, "products": 1, "findings": []}
    err = doc["files"][str(bad)]
    assert err["ok"] is False and err["product"] == "P1" and err["field"] == "tracklets[0].0"
    assert err["error"].startswith("product 'P1': field 'tracklets[0].0': x2 (1) < x1 (9)")
    assert "Value error" not in err["error"]
    assert doc["files"][str(gone)]["ok"] is False and "not found" in doc["files"][str(gone)]["error"]
    code, out, _ = run_mf(["schema", "validate", str(good), "--json"], capsys)
    assert code == 0
    assert json.loads(out) == {"ok": True, "files": {str(good): {"ok": True, "products": 1, "findings": []}}}


def test_validate_error_line_has_no_pydantic_prefix(tmp_path, capsys):
    bad = tmp_path / "train.json"
    bad.write_text(BAD_ROW)
    code, out, err = run_mf(["schema", "validate", str(bad)], capsys)
    assert code == 2 and out == ""
    assert "field 'tracklets[0].0': x2 (1) < x1 (9)" in err and "Value error" not in err


def test_catalog_status_json_has_every_status_of_the_life_cycle(tmp_path):
    from schemas.catalog import Catalog
    from schemas.items import SourceItem, Status

    db = tmp_path / "c.sqlite"
    with Catalog(db) as cat:
        cat.upsert_item(SourceItem(source="tiktok", source_id="v1"), status=Status.DOWNLOADED)
        cat.upsert_item(SourceItem(source="tiktok", source_id="v2"), status=Status.DOWNLOADED)
    res = CliRunner().invoke(cli, ["catalog", "status", "--catalog", str(db), "--json"])
    assert res.exit_code == 0, res.output
    counts = json.loads(res.stdout)
    # the same keys on every catalog
    assert set(counts) == {s.value for s in Status} | {"given_up", "given_up_by_source"}
    assert (counts.pop("given_up"), counts.pop("given_up_by_source")) == (0, {})
    assert counts["downloaded"] == 2 and sum(counts.values()) == 2
    res = CliRunner().invoke(cli, ["catalog", "status", "--catalog", str(db)])
    assert res.output.split() == ["downloaded:", "2"]  # the text lists what is there


def test_validate_json_names_the_field_of_a_malformed_number(tmp_path, capsys):
    """A malformed number in one product's entry: --json named the product but took the rest of
    the message as the field (``tracklets[0]' (video 'videos/P2_0.mp4'): frame key '0``)."""
    path = tmp_path / "train.json"
    path.write_text(GOOD_ROW.replace('"0": [0, 0, 9, 9]', '"0": [1.5e, 0, 9, 9]'))
    code, out, _ = run_mf(["schema", "validate", str(path), "--json"], capsys)
    assert code == 1
    err = json.loads(out)["files"][str(path)]
    assert (err["ok"], err["product"], err["field"]) == (False, "P2", "tracklets[0].0"), err
    assert "frame key '0': malformed number" in err["error"]
