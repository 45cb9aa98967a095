"""``mf``: one click group holding every subcommand of the toolkit.

Subcommands are loaded lazily from their own stage's CLI module, so ``mf --help`` is fast and
no stage imports another just to list commands. Adding a command = one line in ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from schemas.cli_support import run_main

#: name -> ("module:attribute", short help)
COMMANDS: dict[str, tuple[str, str]] = {
    "schema": ("schemas.cli:schema", "Export JSON Schemas and validate official JSON files."),
    "catalog": ("schemas.cli:catalog", "Inspect the pipeline catalog (SQLite)."),
    "world": ("movingfashion.world.cli:world", "Generate and serve the synthetic MovingFashion world."),
    "collect": ("collectors.cli:collect", "Collect video-shop pairs into the catalog (same as mf-collect)."),
    "clean": (
        "cleaning.cli:clean",
        "Probe media, remove duplicates, recover split-screen shops, map classes.",
    ),
    "splits": ("cleaning.cli:splits", "Build or rebuild stable stratified 90/10 splits."),
    "publish": ("cleaning.cli:publish", "Write the dataset folder in the official format."),
    "stats": ("cleaning.cli:stats", "Counts, coverage and quality figures of a catalog or dataset."),
    "tracklets": ("annotations.cli:tracklets", "Build ground-truth tracklets (same as mf-tracklets)."),
    "train-detector": ("annotations.cli:train_detector", "Train the clothing detector on DeepFashion2."),
    "pretrain-matcher": ("annotations.cli:pretrain_matcher", "Pretrain the single-frame matching head."),
    "crop-cache": (
        "movingfashion.cache_cli:crop_cache",
        "Decode videos once into a crop cache for fast loading.",
    ),
    "df2": ("movingfashion.df2_cli:df2", "DeepFashion2 converters and Multi-DeepFashion2."),
    "train": ("movingfashion.seam.cli:train", "Train SEAM Match-RCNN (phase 1 / phase 2)."),
    "evaluate": ("movingfashion.seam.cli:evaluate", "Evaluate with the paper's protocol."),
    "report": ("movingfashion.seam.cli:report", "Tables and plots from evaluation results."),
    "demo": ("movingfashion.app.demo:demo", "Run every stage on the synthetic world and print a report."),
}


def _available(target: str) -> bool:
    module = target.split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (target, _) in COMMANDS.items() if _available(target))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(COMMANDS[name][0]):
            return None
        module, attr = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="movingfashion-toolkit")
def cli() -> None:
    """MovingFashion toolkit: collect, clean, annotate and train on video-to-shop data.

    \b
    Examples:
      mf demo                                  # the whole pipeline on the synthetic world
      mf world generate --out world --products 60 --seed 0
      mf clean --catalog data/catalog.sqlite --root data
      mf publish --catalog data/catalog.sqlite --root data --out dataset
      mf evaluate --dataset dataset --checkpoint runs/seam/last.pt --json

    Add --debug to any command to see a traceback on errors.
    """


def main() -> None:
    run_main(cli)
