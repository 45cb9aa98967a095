"""A command's interrupt line is in force from its first line (:func:`schemas.cli_support.interrupt_line`):
a Ctrl-C while ``mf evaluate`` imported torch said "state is saved, rerun the same command to
resume" of a command that does not resume (its own line was set only after the imports)."""

from __future__ import annotations

import os
import signal
import sys
import time
import types

import click
import pytest

from schemas.cli_support import RESUME_HINT, interrupt_line, run_main


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C as a shell gives it (KeyboardInterrupt), whatever the test process was given."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # the signal raises at the next bytecode


class _Importing(types.ModuleType):
    """A module whose import is cut by a Ctrl-C (as torch's seconds of importing are)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):  # what pytest's report asks of every module: no interrupt
            raise AttributeError(name)
        _ctrl_c()
        raise AssertionError("the SIGINT did not interrupt")


def test_the_declared_line_names_the_commands_options(capsys):
    @click.command()
    @click.option("--out")
    @interrupt_line("interrupted: {out} was left as it was")
    def cmd(out: str) -> None:
        _ctrl_c()

    with pytest.raises(SystemExit) as exc:
        run_main(cmd, ["--out", "runs/x"])
    assert exc.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted: runs/x was left as it was"


def test_a_ctrl_c_while_evaluate_imports_gives_its_own_line(tmp_path, monkeypatch, capsys):
    from movingfashion.app.cli import cli

    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "train.json").write_text("{}")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "movingfashion.seam.evaluate", _Importing("movingfashion.seam.evaluate"))
    with pytest.raises(SystemExit) as exc:
        run_main(
            cli, ["evaluate", "--dataset", str(dataset), "--checkpoint", str(tmp_path / "run" / "last.pt")]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 130 and RESUME_HINT not in err
    assert "interrupted: results.json was not written; rerun the same command" in err


def _stop(*args: object, **kwargs: object) -> None:
    _ctrl_c()


@pytest.mark.parametrize(
    ("argv", "target", "line"),
    [
        (["report", "{results}", "--out", "{tmp}/rep"], "movingfashion.seam.report.write_report", "/rep keeps an earlier report as it was"),
        (["df2", "to-coco", "--df2", "{tmp}", "--out", "{tmp}/c.json"], "movingfashion.deepfashion2.write_coco", "c.json was not written"),
        (["df2", "to-yolo", "--df2", "{tmp}", "--out", "{tmp}/y"], "movingfashion.deepfashion2.df2_to_yolo", "/y's images/ and labels/ are incomplete"),
        (["df2", "multidf2", "--df2", "{tmp}", "--out", "{tmp}/m.json"], "movingfashion.multidf2.write_multidf2", "m.json was not written"),
    ],
)  # fmt: skip
def test_commands_that_start_over_say_so_when_interrupted(argv, target, line, tmp_path, monkeypatch, capsys):
    """Was: mf report and the df2 converters said "state is saved, rerun ... to resume", though a
    rerun starts them over."""
    from movingfashion.app.cli import cli

    results = tmp_path / "results.json"
    results.write_text("{}")
    monkeypatch.setattr(target, _stop)
    with pytest.raises(SystemExit) as exc:
        run_main(cli, [a.format(results=results, tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert exc.value.code == 130 and RESUME_HINT not in err, err
    assert line in err and "rerun the same command" in err, err
