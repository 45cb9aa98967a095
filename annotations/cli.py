"""``mf-tracklets``: build ground-truth tracklets with Match-RCNN."""

from __future__ import annotations

import click

from schemas.cli_support import run_main


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def tracklets() -> None:
    """Build ground-truth tracklets for a dataset in the official format.

    \b
    Examples:
      mf-tracklets build --dataset dataset --weights detector.pt
    """


def main() -> None:
    run_main(tracklets)
