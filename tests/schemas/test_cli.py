import json
import subprocess
import sys

from click.testing import CliRunner

from movingfashion.app.cli import cli
from schemas.export import EXPORTED_MODELS


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
