"""The ``mf`` group: lazy (``mf --help`` imports no stage and no torch), every command loads
through a plain import and shows examples; ``mf stats --world`` composes cleaning and world."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from movingfashion.app.cli import COMMANDS, cli


def test_help_imports_no_stage_and_no_torch():
    code = (
        "import sys\n"
        "from movingfashion.app.cli import main\n"
        "sys.argv = ['mf', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'cv2', 'cleaning', 'collectors', 'annotations') or m.startswith('movingfashion.world'))\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Commands:" in out and "HEAVY []" in out, out[-500:]
    for name in COMMANDS:
        assert f"  {name} " in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_and_has_examples(name):
    cmd = COMMANDS[name].load()
    assert isinstance(cmd, click.Command)
    res = CliRunner().invoke(cli, [name, "--help"])
    assert res.exit_code == 0 and "Example" in res.output, res.output


def test_unknown_command_is_a_usage_error():
    res = CliRunner().invoke(cli, ["nope"])
    assert res.exit_code == 2 and "No such command" in res.output


def test_stats_world_needs_root(tmp_path, capsys):
    from schemas.catalog import Catalog
    from schemas.cli_support import run_main

    with Catalog(tmp_path / "c.sqlite"):
        pass
    with pytest.raises(SystemExit) as exc:
        run_main(cli, ["stats", "--catalog", str(tmp_path / "c.sqlite"), "--world", str(tmp_path)])
    assert exc.value.code == 2 and "--world needs --root" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # its old name still works, with a deprecation warning
        run_main(cli, ["stats", "--catalog", str(tmp_path / "c.sqlite"), "--truth", str(tmp_path)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--world needs --root" in err and "use --world instead" in err


def test_stats_without_truth_is_cleaning_counts(tmp_path):
    from schemas.catalog import Catalog

    with Catalog(tmp_path / "c.sqlite"):
        pass
    res = CliRunner().invoke(cli, ["stats", "--catalog", str(tmp_path / "c.sqlite"), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["items"] == 0 and "truth" not in d


def test_the_package_version_is_the_installed_ones(capsys):
    import importlib.metadata

    import movingfashion
    from tests.mf_cli import run_mf

    assert movingfashion.__version__ == importlib.metadata.version("movingfashion-toolkit")
    code, out, _ = run_mf(["--version"], capsys)
    assert code == 0 and out.strip().endswith(movingfashion.__version__)
