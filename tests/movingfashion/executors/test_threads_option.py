"""``--threads`` of the stages that run models (``mf-tracklets build``, ``mf clean``): torch's
CPU threads as given, before the command runs; absent, torch's own default stays."""

from __future__ import annotations

import click
import torch
from click.testing import CliRunner

from annotations.cli import build
from cleaning.cli import clean
from movingfashion.executors.options import threads_option


@click.command()
@threads_option
def _probe() -> None:
    click.echo(torch.get_num_threads())


def test_threads_option_sets_torch_threads_and_leaves_them_when_absent():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert CliRunner().invoke(_probe, ["--threads", "2"]).output.strip() == "2"
        torch.set_num_threads(1)
        assert CliRunner().invoke(_probe, []).output.strip() == "1"
        assert CliRunner().invoke(_probe, ["--threads", "-1"]).exit_code == 2
        torch.set_num_threads(1)  # 0 is torch's default: what it had stays, as when absent
        assert CliRunner().invoke(_probe, ["--threads", "0"]).output.strip() == "1"
    finally:
        torch.set_num_threads(before)


def test_the_model_stages_take_threads():
    for cmd in (build, clean):
        out = CliRunner().invoke(cmd, ["--help"]).output
        assert "--threads" in out and "--threads 1" in out


def test_the_help_says_what_threads_0_means():
    """`mf clean --threads 0` was taken without the help saying what 0 does (as mf demo's does)."""
    for cmd in (build, clean):
        out = " ".join(CliRunner().invoke(cmd, ["--help"]).output.split())
        assert "0: torch's default" in out
