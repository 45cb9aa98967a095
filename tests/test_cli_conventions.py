"""The CLI conventions, checked on every registered command (click introspection).

Every command of ``mf`` (each subcommand and sub-subcommand), ``mf-collect`` and
``mf-tracklets``: ``--help`` exits 0 with examples and the exit rule (and ``--json`` on every
leaf command); a missing or unusable input exits 2 with one line on stderr, naming it; called
without its required inputs it exits 2 with one line. The entry points answer ``--version``; ``mf-tracklets`` reports a missing dataset
without importing torch or ultralytics; no ``--help`` imports a heavy library (torch, OpenCV, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from annotations.cli import tracklets
from collectors.cli import collect
from movingfashion.app.cli import cli
from schemas.cli_support import run_main

ROOT = Path(__file__).resolve().parents[1]
NOPE = "/nonexistent/mf-input"

#: entry point -> its click group
ENTRY_POINTS: dict[str, click.Group] = {"mf": cli, "mf-collect": collect, "mf-tracklets": tracklets}


def walk(name: str, cmd: click.Command) -> list[tuple[str, click.Command]]:
    """(command path, command) of ``cmd`` and everything under it."""
    out = [(name, cmd)]
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=name)
        for sub in cmd.list_commands(ctx):
            out += walk(f"{name} {sub}", cmd.get_command(ctx, sub))
    return out


COMMAND_PATHS = dict(item for exe, group in ENTRY_POINTS.items() for item in walk(exe, group))
LEAVES = sorted(p for p, c in COMMAND_PATHS.items() if not isinstance(c, click.Group))

#: every leaf command with an input that does not exist (or cannot be used) -> what the one
#: error line must name. Adding a command without a row here fails the test below.
MISSING_INPUT: dict[str, tuple[list[str], str]] = {
    "mf catalog check": (["--catalog", NOPE], NOPE),
    "mf catalog recover": (["--catalog", NOPE, "--out", "x.sqlite"], NOPE),
    "mf catalog status": (["--catalog", NOPE], NOPE),
    "mf catalog upgrade": (["--catalog", NOPE], NOPE),
    "mf clean": (["--catalog", NOPE, "--root", "."], NOPE),
    "mf config reference": (["--out", NOPE, "--check"], NOPE),
    "mf config show": (["clean", "--config", NOPE], NOPE),
    "mf collect netaporter": (["https://www.net-a-porter.com/x", "--root", "x", "--config", NOPE], NOPE),
    "mf collect tiktok": ([NOPE, "--root", "x"], NOPE),
    "mf collect instagram": ([NOPE, "--root", "x"], NOPE),
    "mf collect urls": ([NOPE, "--root", "x"], NOPE),
    "mf collect local": ([NOPE, "--root", "x"], NOPE),
    "mf crop-cache": (["--dataset", NOPE, "--out", "x"], NOPE),
    "mf demo": (["--out", "/dev/null/demo"], "/dev/null/demo"),
    "mf df2 multidf2": (["--df2", NOPE, "--out", "x.json"], NOPE),
    "mf df2 to-coco": (["--df2", NOPE, "--out", "x.json"], NOPE),
    "mf df2 to-yolo": (["--df2", NOPE, "--out", "x"], NOPE),
    "mf evaluate": (["--dataset", NOPE, "--checkpoint", NOPE], NOPE),
    "mf pretrain-matcher": (["--df2", NOPE, "--out", "x.pt"], NOPE),
    "mf publish": (["--catalog", NOPE, "--root", ".", "--out", "x"], NOPE),
    "mf report": ([NOPE, "--out", "x"], NOPE),
    "mf review": (["--dataset", NOPE], NOPE),
    "mf schema export": (["--out", "x", "--json", "--bogus"], "--bogus"),
    "mf schema validate": ([NOPE], NOPE),
    "mf splits check": (["--catalog", NOPE], NOPE),
    "mf splits rebuild": (["--catalog", NOPE], NOPE),
    "mf stats": (["--catalog", NOPE], NOPE),
    "mf tracklets build": (["--dataset", NOPE], NOPE),
    "mf tracklets export": (["--format", "cvat", "--dataset", NOPE, "--out", "x"], NOPE),
    "mf tracklets import": ([NOPE, "--dataset", NOPE], NOPE),
    "mf tracklets qa": (["--dataset", NOPE, "--reference", NOPE], NOPE),
    "mf tracklets review": (["--dataset", NOPE], NOPE),
    "mf tracklets sheets": (["--dataset", NOPE], NOPE),
    "mf training-copy": (["--dataset", NOPE, "--out", "x"], NOPE),
    "mf train": (["--dataset", NOPE, "--out", "x"], NOPE),
    "mf train-detector": (["--df2", NOPE, "--out", "x"], NOPE),
    "mf verify": (["--dataset", NOPE], NOPE),
    "mf world export-gt": (["--world", NOPE, "--out", "x"], NOPE),
    "mf world generate": (["--out", "x", "--config", NOPE], NOPE),
    "mf world pictures": (["--world", NOPE], NOPE),
    "mf world score tracklets": (["--dataset", NOPE, "--world", "."], NOPE),
    "mf world serve": (["--world", NOPE], NOPE),
}
# mf-collect and mf-tracklets are the same commands as mf collect / mf tracklets
for _path in [p for p in MISSING_INPUT if p.startswith(("mf collect ", "mf tracklets "))]:
    MISSING_INPUT[_path.replace("mf collect ", "mf-collect ").replace("mf tracklets ", "mf-tracklets ")] = (
        MISSING_INPUT[_path]
    )

#: leaf commands whose --json report names each input's error itself, exit 1 (not a stop)
JSON_REPORTS_EACH_FILE = {"mf schema validate"}

#: leaf commands that do real work when given no option at all (everything has a default)
RUNS_WITHOUT_OPTIONS = {"mf demo"}


def run(path: str, args: list[str], capsys) -> tuple[int, str, str]:
    """Run a command path in-process through its entry point: (exit status, stdout, stderr)."""
    exe, *sub = path.split()
    capsys.readouterr()
    try:
        run_main(ENTRY_POINTS[exe], [*sub, *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_entry_points_are_the_walked_groups():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert sorted(scripts) == sorted(ENTRY_POINTS)
    assert len(LEAVES) > 30, LEAVES


def test_every_leaf_has_a_missing_input_case():
    assert sorted(MISSING_INPUT) == LEAVES, "add the new command to MISSING_INPUT"


@pytest.mark.parametrize("path", sorted(COMMAND_PATHS))
def test_help_has_examples_and_the_exit_rule(path, capsys):
    code, out, err = run(path, ["--help"], capsys)
    assert code == 0, err
    assert "Example" in out, f"{path} --help shows no example"
    assert "Exit status: 0" in out, f"{path} --help does not state the exit rule"
    if path in LEAVES:
        assert "--json" in out, f"{path} has no --json"


@pytest.mark.parametrize("path", LEAVES)
def test_a_missing_input_exits_2_with_one_line(path, capsys):
    args, named = MISSING_INPUT[path]
    code, _, err = run(path, args, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (path, code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], (path, err)


@pytest.mark.parametrize("path", LEAVES)
def test_a_missing_input_under_json_is_one_json_error_on_stdout(path, capsys):
    """With --json, the same stop also prints one JSON document on stdout (was: nothing), the
    stderr line and the exit status unchanged."""
    args, named = MISSING_INPUT[path]
    code, out, err = run(path, [*args, "--json"], capsys)
    if path in JSON_REPORTS_EACH_FILE:  # its own document: each file's error under "files", exit 1
        doc = json.loads(out)
        assert code == 1 and doc["ok"] is False and doc["files"][named]["ok"] is False, (path, out)
        return
    lines = err.strip().splitlines()
    assert code == 2, (path, code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], (path, err)
    doc = json.loads(out)
    hint = f" ({doc['hint']})" if doc["hint"] else ""  # said once, in "hint" (was: in "error" too)
    assert doc["ok"] is False and doc["error"] + hint == lines[0].removeprefix("error: "), (path, out)
    assert named in doc["error"] and doc["type"], (path, out)


def test_a_json_error_names_the_path_hint_and_reason(capsys):
    code, out, err = run("mf verify", ["--dataset", NOPE, "--json"], capsys)
    doc = json.loads(out)
    assert code == 2 and doc["path"] == NOPE and doc["hint"] and doc["type"] == "DataFormatError", out
    # the message once, the hint once (the error carried the hint again, in parentheses)
    assert doc["error"] == f"{NOPE}: dataset folder not found" and out.count(doc["hint"]) == 1, out
    code, out, _ = run("mf-tracklets build", ["--dataset", ".", "--bogus", "--json"], capsys)
    doc = json.loads(out)
    assert code == 2 and doc["reason"] == "usage" and doc["type"] == "NoSuchOption", out


@pytest.mark.parametrize("path", [p for p in LEAVES if p not in RUNS_WITHOUT_OPTIONS])
def test_no_arguments_is_a_usage_error_in_one_line(path, capsys):
    code, _, err = run(path, [], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (path, err)


def test_a_usage_error_is_one_line_pointing_at_help(capsys):
    code, _, err = run("mf-tracklets build", ["--dataset", ".", "--bogus"], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: No such option '--bogus'") and "build --help'" in lines[0], err


@pytest.mark.parametrize("exe", sorted(ENTRY_POINTS))
def test_version(exe):
    out = subprocess.run(
        [str(Path(sys.executable).parent / exe), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith(f"{exe}, version ")


def test_tracklets_answers_before_importing_torch():
    """``mf-tracklets --help`` and a missing dataset: no torch, ultralytics or OpenCV imported."""
    code = (
        "import sys\n"
        "from annotations.cli import main\n"
        "for argv in (['--help'], ['build', '--dataset', '/nope'], ['review', '--dataset', '/nope'],"
        " ['qa', '--dataset', '/nope', '--reference', '/nope']):\n"
        "    sys.argv = ['mf-tracklets', *argv]\n"
        "    try:\n        main()\n    except SystemExit as exc:\n        print('EXIT', argv[0], exc.code)\n"
        "    else:\n        print('EXIT', argv[0], 0)\n"
        "print('HEAVY', sorted(m for m in ('torch', 'ultralytics', 'cv2') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in proc.stdout, proc.stdout
    assert "EXIT --help 0" in proc.stdout and "EXIT build 2" in proc.stdout and "EXIT review 2" in proc.stdout
    assert proc.stderr.count("dataset folder not found") == 3, proc.stderr


#: libraries a command loads only where it uses them (torch 3 s a process, torchcodec 2.5 s more),
#: never to show its ``--help``
HEAVY = ("torch", "torchvision", "torchcodec", "decord", "cv2", "ultralytics", "ray", "av", "matplotlib")
#: what no command loads before it has checked its inputs (OpenCV, 0.05 s, may come first)
SLOW = ("torch", "torchvision", "torchcodec", "decord", "ultralytics", "ray")


def _first_loaders(runs: list[list[str]], libraries: tuple[str, ...], cwd: Path) -> dict[str, str]:
    """Runs each argv of ``runs`` (``mf ...``, ``mf-collect ...``, ``mf-tracklets ...``) in turn
    in one fresh process: library of ``libraries`` -> the first run that loaded it."""
    code = (
        "import json, sys\n"
        "from annotations.cli import tracklets\n"
        "from collectors.cli import collect\n"
        "from movingfashion.app.cli import cli\n"
        "from schemas.cli_support import run_main\n"
        "groups = {'mf': cli, 'mf-collect': collect, 'mf-tracklets': tracklets}\n"
        "libraries, runs = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
        "def loaded():\n"
        "    return {m.split('.')[0] for m in sys.modules} & set(libraries)\n"
        "first = {m: 'import' for m in loaded()}\n"
        "for exe, *args in runs:\n"
        "    try:\n        run_main(groups[exe], args)\n"
        "    except SystemExit:\n        pass\n"
        "    first.update({m: ' '.join([exe, *args]) for m in loaded() - set(first)})\n"
        "print('LOADED', json.dumps(first, sort_keys=True))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(libraries), json.dumps(runs)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    last = proc.stdout.splitlines()[-1] if proc.stdout else ""
    assert proc.returncode == 0 and last.startswith("LOADED "), proc.stderr[-2000:]
    return json.loads(last.removeprefix("LOADED "))


def test_help_of_every_command_imports_no_heavy_library(tmp_path):
    """Importing the three entry points and showing every command's ``--help`` (one process,
    commands in turn) loads none of :data:`HEAVY` (`mf clean`, `splits`, `publish` and `stats`
    loaded OpenCV through the cleaning state)."""
    runs = [[*path.split(), "--help"] for path in sorted(COMMAND_PATHS)]
    assert _first_loaders(runs, HEAVY, tmp_path) == {}


def test_a_missing_input_answers_before_torch_loads(tmp_path):
    """Every command's missing-input stop (:data:`MISSING_INPUT`) comes before any of :data:`SLOW`
    loads (`mf config reference` loaded torch for the AsymNet config, `mf demo` to set its
    threads)."""
    runs = [[*path.split(), *MISSING_INPUT[path][0]] for path in LEAVES]
    assert _first_loaders(runs, SLOW, tmp_path) == {}


def test_every_number_option_refuses_what_would_crash_later():
    """click's float (and a float range: NaN fails no comparison) takes nan and inf, which then
    crashed or was blamed on the config file (`--conf nan`); a --port took -1 and 70000 (a bind
    traceback after the review catalog was written); a seed had no bounds (numpy refused -5
    after the feature bank was written). Every such option of every command is checked here."""
    from schemas.cli_support import FiniteFloat, FiniteFloatRange
    from schemas.config import SEED_MAX

    loose = []
    for path, cmd in COMMAND_PATHS.items():
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            t = p.type
            if isinstance(t, click.types.FloatParamType) and not isinstance(
                t, FiniteFloat | FiniteFloatRange
            ):
                loose.append(f"{path} {p.opts[0]}: float without a finite check")
            if p.name == "port" and not (isinstance(t, click.IntRange) and (t.min, t.max) == (0, 65535)):
                loose.append(f"{path} {p.opts[0]}: a port outside 0..65535 passes")
            if (
                p.name == "seed"
                and "mf train" in path
                and not (isinstance(t, click.IntRange) and t.max == SEED_MAX)
            ):
                loose.append(f"{path} {p.opts[0]}: an unbounded seed")
    assert loose == []


@pytest.mark.parametrize(
    ("path", "args", "named"),
    [
        ("mf-tracklets build", ["--conf", "nan"], "--conf"),
        ("mf review", ["--port", "70000"], "--port"),
        ("mf review", ["--port", "-1"], "--port"),
        ("mf evaluate", ["--seed", "-1"], "--seed"),
    ],
)
def test_a_bad_number_is_one_line_naming_the_option(path, args, named, capsys):
    code, out, err = run(path, [*args, "--dataset", NOPE], capsys)  # click checks in the order given
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"'{named}'" in err and NOPE not in err, err


#: every option that takes a weights file the project's own runs write -> the file a run folder
#: holds (``mf evaluate --checkpoint runs/full`` reads runs/full/last.pt, and so on)
RUN_FOLDER_OPTIONS = {
    ("mf evaluate", "--checkpoint"): "last.pt",
    ("mf train", "--matcher"): "matcher.pt",
    ("mf pretrain-matcher", "--init"): "matcher.pt",
    ("mf clean", "--matcher"): "matcher.pt",
    ("mf clean", "--weights"): "detector.pt",
    ("mf-tracklets build", "--matcher"): "matcher.pt",
    ("mf-tracklets build", "--weights"): "detector.pt",
    ("mf world export-gt", "--weights"): "detector.pt",
}


def is_weights_option(name: str) -> bool:
    """Whether an option of this name takes weights: ``--weights``, ``--matcher``,
    ``--checkpoint``, ``--init``, ``--X-weights``, ``--X-matcher``, ``--init-X`` (a flag such as
    ``--skip-matcher`` aside, which the callers leave out)."""
    words = name.removeprefix("--").split("-")
    return name.startswith("--") and (
        words[-1] in {"weights", "matcher", "checkpoint", "init"} or words[0] == "init"
    )


def test_every_weights_option_takes_a_run_folder():
    """A new weights option gets a row in RUN_FOLDER_OPTIONS (and run_file_option)."""
    found = {
        (path.replace("mf tracklets ", "mf-tracklets "), p.opts[0])
        for path in LEAVES
        for p in COMMAND_PATHS[path].params
        if isinstance(p, click.Option) and not p.is_flag and any(map(is_weights_option, p.opts))
    }
    assert found == set(RUN_FOLDER_OPTIONS)


#: the helpers that declare a weights option (click and argparse)
RUN_FILE_HELPERS = {"run_file_option", "add_run_file_argument"}
#: every option-declaring call of the source: click's and argparse's, and the helpers
OPTION_CALLS = {"option", "add_argument", *RUN_FILE_HELPERS}


def declared_options(path: Path) -> list[tuple[str, str]]:
    """(option, the call declaring it) of every option declared in a source file that takes a
    value (``is_flag`` / ``store_true`` ones left out)."""
    import ast

    text = path.read_text(encoding="utf-8")
    if not any(f"{call}(" in text for call in OPTION_CALLS):  # most files: no parse
        return []
    out = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call):
            continue
        call = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if call not in OPTION_CALLS:
            continue
        kw = {k.arg: k.value for k in node.keywords}
        flag = isinstance(kw.get("is_flag"), ast.Constant) and kw["is_flag"].value is True
        flag |= isinstance(kw.get("action"), ast.Constant) and kw["action"].value in (
            "store_true",
            "store_false",
        )
        names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        out += [(n, call) for n in names if n.startswith("--") and not flag]
    return out


def test_every_weights_option_in_the_source_uses_the_run_folder_helper():
    """Also the developer tools, which no entry point registers (``python -m
    movingfashion.world.weights_build``, ``flag_fit``, ``benchmarks/calibrate_association.py``,
    argparse ones included): the walk above never saw them, and its fixed list of option names
    missed ``--init-detector``, ``--init-matcher`` and ``--recalibrate-matcher``."""
    sources = [
        p
        for top in ("annotations", "benchmarks", "cleaning", "collectors", "docs", "movingfashion", "schemas")
        for p in sorted((ROOT / top).rglob("*.py"))
    ]
    plain = [
        f"{p.relative_to(ROOT)} {name} ({call})"
        for p in sources
        for name, call in declared_options(p)
        if is_weights_option(name) and call not in RUN_FILE_HELPERS
    ]
    assert plain == []
    assert DEV_TOOLS_RUN_FOLDER_OPTIONS.keys() == {
        (tool, name)
        for tool, module in DEV_TOOLS.items()
        for name, call in declared_options(ROOT / module)
        if is_weights_option(name)
    }


#: the developer tools (run as scripts, no entry point registers them) -> their source file
DEV_TOOLS = {
    "weights_build": "movingfashion/world/weights_build.py",
    "flag_fit": "movingfashion/world/flag_fit.py",
    "calibrate_association": "benchmarks/calibrate_association.py",
}
#: a developer tool's weights option -> the file a run folder holds
DEV_TOOLS_RUN_FOLDER_OPTIONS = {
    ("weights_build", "--init-detector"): "detector.pt",
    ("weights_build", "--init-matcher"): "matcher.pt",
    ("weights_build", "--recalibrate-matcher"): "matcher.pt",
    ("weights_build", "--detector-weights"): "detector.pt",
    ("flag_fit", "--weights"): "detector.pt",
    ("flag_fit", "--matcher"): "matcher.pt",
    ("calibrate_association", "--matcher"): "matcher.pt",
}


def dev_tool_parse(tool: str, args: list[str]) -> dict:
    """A developer tool's option values as its command line gives them (nothing runs past the
    parsing); a usage error raises as the tool's own parser does."""
    if tool == "weights_build":
        from movingfashion.world.weights_build import main

        return main.make_context(tool, [*args, "--out", "/nonexistent/mf-out"]).params
    if tool == "flag_fit":
        from movingfashion.world.flag_fit import parser

        return vars(parser().parse_args(["eval", *args]))
    from tests.benchmarks.conftest import load_script

    return vars(load_script(tool).parser().parse_args(args))


def dev_tool_run(tool: str, args: list[str], capsys) -> tuple[int, str, str]:
    """:func:`dev_tool_parse` as the tool's ``main`` reports it: (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        if tool == "weights_build":  # click: run_main says a usage error in one line, exit 2
            from movingfashion.world.weights_build import main

            run_main(main, [*args, "--out", "/nonexistent/mf-out"])
        else:
            dev_tool_parse(tool, args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("tool", "option"), sorted(DEV_TOOLS_RUN_FOLDER_OPTIONS))
def test_a_dev_tool_run_folder_stands_for_its_weights_file(tool, option, tmp_path, capsys):
    """A run folder is read as the weights file it holds; one without it, or a path that does
    not exist, is a usage error naming the option and the path (were taken as given: a folder or
    a missing file failed only once the tool loaded the weights, after building its worlds)."""
    name = DEV_TOOLS_RUN_FOLDER_OPTIONS[tool, option]
    for bad in (tmp_path, Path(NOPE)):
        code, out, err = dev_tool_run(tool, [option, str(bad)], capsys)
        assert code == 2 and out == "", err
        assert option in err.strip().splitlines()[-1] and str(bad) in err, err
    assert f"{tmp_path} is a folder without {name}" in dev_tool_run(tool, [option, str(tmp_path)], capsys)[2]
    (tmp_path / name).write_bytes(b"")
    dest = option.removeprefix("--").replace("-", "_")
    assert dev_tool_parse(tool, [option, str(tmp_path)])[dest] == str(tmp_path / name)
    _, out, _ = dev_tool_run(tool, ["--help"], capsys)
    assert f"A folder stands for its {name}" in " ".join(out.split()), out


@pytest.mark.parametrize(("path", "option"), sorted(RUN_FOLDER_OPTIONS))
def test_a_run_folder_without_its_weights_file_is_named(path, option, tmp_path, capsys):
    """A folder stands for the file a run writes there; one without it is a usage error naming
    the folder and the file (was click's 'is a directory', except for mf evaluate)."""
    name = RUN_FOLDER_OPTIONS[path, option]
    args = MISSING_INPUT[path][0]
    if option in args:  # mf evaluate's missing input is its --checkpoint
        args = args[: args.index(option)] + args[args.index(option) + 2 :]
    code, out, err = run(path, [option, str(tmp_path), *args], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"'{option}'" in err and f"{tmp_path} is a folder without {name}" in err, err
    _, out, _ = run(path, ["--help"], capsys)
    assert f"A folder stands for its {name}" in " ".join(out.split()), out


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("flag_fit", ["--max-rate", "nan"]),
        ("flag_fit", ["--world-rate", "1.5"]),
        ("flag_fit", ["--target-recall", "-0.1"]),
        ("flag_fit", ["--max-rules", "0"]),
        ("flag_fit", ["--prior", "inf"]),
        ("weights_build", ["--epochs", "0"]),
        ("weights_build", ["--matcher-steps", "-5"]),
        ("weights_build", ["--imgsz", "0"]),
    ],
)
def test_a_dev_tool_refuses_a_number_out_of_range_naming_the_option(tool, args, capsys):
    """Like the commands' numbers (above): a developer tool's rate or count out of range, or
    not finite, is a usage error naming the option (flag_fit took any float and int, a nan
    budget failing every rule silently; weights_build any int)."""
    code, out, err = dev_tool_run(tool, args, capsys)
    assert code == 2 and out == "", err
    assert args[0] in err.strip().splitlines()[-1] and args[1] in err, err
