"""``--progress/--no-progress`` on every long command (audit_real R7: only mf-collect had it)."""

from __future__ import annotations

import click
import pytest

from schemas import cli_support


@pytest.mark.parametrize(
    "path",
    [
        ("cleaning.cli", "clean"),
        ("cleaning.cli", "publish"),
        ("movingfashion.cache_cli", "crop_cache"),
        ("movingfashion.training_copy_cli", "training_copy"),
        ("movingfashion.archive.cli", "verify"),
        ("annotations.cli", "build"),
        ("movingfashion.seam.cli", "train"),
        ("movingfashion.seam.cli", "evaluate"),
    ],
)
def test_long_commands_take_no_progress(path):
    import importlib

    cmd = getattr(importlib.import_module(path[0]), path[1])
    assert any(o.opts == ["--progress"] and o.secondary_opts == ["--no-progress"] for o in cmd.params), path


def test_no_progress_silences_every_bar_and_progress_forces_one(monkeypatch):
    monkeypatch.setattr(cli_support, "_progress_choice", None)
    seen = []

    @click.command()
    @cli_support.progress_option
    def cmd() -> None:
        seen.append(cli_support.progress_bar(desc="x", total=3))

    cmd.main(["--no-progress"], standalone_mode=False)
    assert seen[-1].disable  # a tqdm bar switched off (not a line printer)
    cmd.main(["--progress"], standalone_mode=False)
    assert not getattr(seen[-1], "disable", True)  # a bar, even into a pipe
    for bar in seen:
        bar.close()
