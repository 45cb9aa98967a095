"""``mf config``: docs/config.md is the reference the config models give (stale = this fails),
every key of every stage is in it, it is deterministic, and ``mf config show`` prints the values
in effect as a config file that loads back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from movingfashion.app.cli import COMMANDS, cli
from movingfashion.app.config_reference import STAGES, reference_rows, render_reference
from schemas.cli_support import run_main

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "config.md"


@pytest.fixture(scope="module")
def reference() -> str:
    return render_reference()


def _leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaves(ann, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        run_main(cli, args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_docs_config_md_is_the_generated_reference(reference):
    assert DOCS.is_file(), "run: mf config reference --out docs/config.md"
    assert DOCS.read_text(encoding="utf-8") == reference, (
        "docs/config.md is stale: regenerate it with `mf config reference --out docs/config.md`"
    )


def test_every_key_of_every_stage_is_in_the_reference(reference):
    for stage in STAGES.values():
        model = stage.model()
        assert f"## {stage.name}: {model.__name__}" in reference
        missing = [k for k in _leaves(model) if f"| `{k}` |" not in reference]
        assert not missing, (stage.name, missing)


def test_rows_give_type_default_bounds_and_description():
    from cleaning.config import CleaningConfig

    rows = {r.key: r for r in reference_rows(CleaningConfig)}
    row = rows["dedup.image_distance"]
    assert row.type == "int" and row.default.isdigit() and row.bounds and row.description
    assert rows["test_fraction"].bounds == "> 0, < 1" and rows["test_fraction"].default == "0.1"
    assert rows["dedup"].type == "section (DedupConfig)"


def test_the_reference_is_deterministic_and_holds_nothing_of_this_machine(reference):
    assert render_reference() == reference
    assert not re.search(r"object at 0x|<[a-zA-Z_.]+ object", reference)
    for local in {str(ROOT), str(Path.home()), "/tmp/"}:
        assert local not in reference, local


def test_mf_lists_config_and_its_help_has_examples(capsys):
    assert "config" in COMMANDS
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and re.search(r"^\s+config\s", out, re.M)
    for sub in (["config", "--help"], ["config", "show", "--help"], ["config", "reference", "--help"]):
        code, out, _ = _run(sub, capsys)
        assert code == 0 and "Examples:" in out and "Exit status: 0" in out, sub


def test_show_help_says_which_stages_read_no_config_file(capsys):
    """Its output is a config file only of a stage that reads one: the help names the others
    (mf config show evaluate --config FILE is refused)."""
    code, out, _ = _run(["config", "show", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    fileless = [name for name, entry in STAGES.items() if not entry.file]
    assert fileless and all(f"but {name}" in text and f"{name} reads none" in text for name in fileless)
    code, _, err = _run(["config", "show", fileless[0], "--config", "x.yaml"], capsys)
    assert code == 2 and "reads no config file" in err


@pytest.mark.parametrize("stage", ["clean", "world", "train"])
def test_show_prints_a_config_file_that_loads_back(stage, tmp_path, capsys):
    code, out, err = _run(["config", "show", stage], capsys)
    assert code == 0, err
    path = tmp_path / f"{stage}.yaml"
    path.write_text(out)
    assert STAGES[stage].load_config(path) == STAGES[stage].load_config(None)


def test_show_merges_the_file_over_the_defaults(tmp_path, capsys):
    path = tmp_path / "clean.yaml"
    path.write_text("dedup:\n  image_distance: 3\ntest_fraction: 0.2\n")
    code, out, err = _run(["config", "show", "clean", "--config", str(path), "--json"], capsys)
    assert code == 0, err
    values = json.loads(out)
    assert values["dedup"]["image_distance"] == 3 and values["test_fraction"] == 0.2
    assert (
        values["probe"]["min_frames"]
        == yaml.safe_load(_run(["config", "show", "clean"], capsys)[1])["probe"]["min_frames"]
    )


def test_show_refuses_a_bad_file_in_one_line_with_a_guess(tmp_path, capsys):
    path = tmp_path / "clean.yaml"
    path.write_text("dedup:\n  max_distnce: 3\n")
    code, _, err = _run(["config", "show", "clean", "--config", str(path)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert f"{path}: field 'dedup.max_distnce'" in lines[0] and "did you mean 'dedup." in lines[0]
    assert "mf config reference --out -" in lines[0] and "README" not in lines[0]


def test_reference_writes_and_check_says_when_stale(tmp_path, capsys, reference):
    out = tmp_path / "config.md"
    code, _, err = _run(["config", "reference", "--out", str(out)], capsys)
    assert code == 0 and out.read_text(encoding="utf-8") == reference, err
    assert _run(["config", "reference", "--out", str(out), "--check"], capsys)[0] == 0
    out.write_text(reference.replace("| `dedup.image_distance` |", "| `dedup.old_name` |"))
    code, _, err = _run(["config", "reference", "--out", str(out), "--check"], capsys)
    assert code == 1 and "stale" in err and "mf config reference --out" in err
    assert out.read_text(encoding="utf-8") != reference  # --check writes nothing


def test_the_reference_and_asymnet_values_load_without_torch(tmp_path):
    """``mf config reference`` and ``mf config show asymnet`` read pydantic models only: the
    AsymNet config lived in the module of its torch model, so both imported torch and torchvision
    (3-5 s a run)."""
    code = (
        "import sys\n"
        "from movingfashion.app.cli import cli\n"
        "from schemas.cli_support import run_main\n"
        f"for args in (['config', 'reference', '--out', {str(tmp_path / 'config.md')!r}],"
        " ['config', 'show', 'asymnet']):\n"
        "    try:\n        run_main(cli, args)\n"
        "    except SystemExit as exc:\n        assert not exc.code, (args, exc.code)\n"
        "print('HEAVY', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "HEAVY []", proc.stdout[-500:]
    assert (tmp_path / "config.md").read_text() == DOCS.read_text()
