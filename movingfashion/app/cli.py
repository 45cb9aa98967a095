"""``mf``: one click group holding every subcommand of the toolkit.

Each subcommand lives in the package that owns it and is imported only when it runs (or its
``--help`` is shown), so ``mf --help`` imports neither torch nor any stage. ``COMMANDS`` maps a
name to a small loader function with a plain ``from x import y`` (visible to the layering test,
no dotted-path strings) and the one-line help shown in ``mf --help``. Adding a command = one
loader and one row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import click

from schemas.cli_support import EXIT_STATUS, HELP, run_main


class Entry(NamedTuple):
    load: Callable[[], click.Command]
    help: str


def _schema() -> click.Command:
    from schemas.cli import schema

    return schema


def _config() -> click.Command:
    from movingfashion.app.config_cli import config

    return config


def _catalog() -> click.Command:
    from schemas.cli import catalog

    return catalog


def _world() -> click.Command:
    from movingfashion.world.cli import world

    return world


def _collect() -> click.Command:
    from collectors.cli import collect

    return collect


def _clean() -> click.Command:
    from cleaning.cli import clean

    return clean


def _splits() -> click.Command:
    from cleaning.cli import splits

    return splits


def _publish() -> click.Command:
    from cleaning.cli import publish

    return publish


def _verify() -> click.Command:
    from movingfashion.archive.cli import verify

    return verify


def _stats() -> click.Command:
    from movingfashion.app.stats import stats

    return stats


def _tracklets() -> click.Command:
    from annotations.cli import tracklets

    return tracklets


def _review() -> click.Command:
    from annotations.cli import review_page

    return review_page


def _train_detector() -> click.Command:
    from annotations.cli import train_detector

    return train_detector


def _pretrain_matcher() -> click.Command:
    from annotations.cli import pretrain_matcher

    return pretrain_matcher


def _crop_cache() -> click.Command:
    from movingfashion.cache_cli import crop_cache

    return crop_cache


def _training_copy() -> click.Command:
    from movingfashion.training_copy_cli import training_copy

    return training_copy


def _df2() -> click.Command:
    from movingfashion.df2_cli import df2

    return df2


def _train() -> click.Command:
    from movingfashion.seam.cli import train

    return train


def _evaluate() -> click.Command:
    from movingfashion.seam.cli import evaluate

    return evaluate


def _report() -> click.Command:
    from movingfashion.seam.cli import report

    return report


def _demo() -> click.Command:
    from movingfashion.app.demo import demo

    return demo


COMMANDS: dict[str, Entry] = {
    "schema": Entry(_schema, "Export JSON Schemas and validate official JSON files."),
    "catalog": Entry(_catalog, "Inspect the pipeline catalog (SQLite)."),
    "config": Entry(_config, "Show a stage's config values; write the config reference (docs/config.md)."),
    "world": Entry(_world, "Generate, serve and score against the synthetic MovingFashion world."),
    "collect": Entry(_collect, "Collect video-shop pairs into the catalog (same as mf-collect)."),
    "clean": Entry(_clean, "Probe media, remove duplicates, recover split-screen shops, map classes."),
    "splits": Entry(_splits, "Build or rebuild stable stratified 90/10 splits."),
    "publish": Entry(_publish, "Write the dataset folder in the real archive's layout (+ Croissant, card)."),
    "verify": Entry(_verify, "Audit a dataset folder against the real archive's invariants."),
    "stats": Entry(_stats, "Counts and coverage of a catalog; quality figures with --world WORLD."),
    "tracklets": Entry(_tracklets, "Build ground-truth tracklets (same as mf-tracklets)."),
    "review": Entry(_review, "Review tracklets in the browser (decisions go to the catalog)."),
    "train-detector": Entry(_train_detector, "Train the clothing detector on DeepFashion2."),
    "pretrain-matcher": Entry(_pretrain_matcher, "Pretrain the single-frame matching head."),
    "crop-cache": Entry(_crop_cache, "Decode videos once into a crop cache for fast loading."),
    "training-copy": Entry(_training_copy, "Write a compact training copy (JPEG crops per video)."),
    "df2": Entry(_df2, "DeepFashion2 converters and Multi-DeepFashion2."),
    "train": Entry(_train, "Train SEAM Match-RCNN (phase 1 / phase 2)."),
    "evaluate": Entry(_evaluate, "Evaluate with the paper's protocol."),
    "report": Entry(_report, "Tables and plots from evaluation results."),
    "demo": Entry(_demo, "Run every stage on the synthetic world and print a report."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        return entry.load() if entry is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name].help) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings=HELP, epilog=EXIT_STATUS)
@click.version_option(package_name="movingfashion-toolkit", prog_name="mf")
def cli() -> None:
    """MovingFashion toolkit: collect, clean, annotate and train on video-to-shop data.

    \b
    Examples:
      mf demo --quick                          # every stage on a small synthetic world (~1-3 min)
      mf demo                                  # the same on 150 products
      mf world generate --out world --products 60 --seed 0
      mf clean --catalog data/catalog.sqlite --root data
      mf publish --catalog data/catalog.sqlite --root data --out dataset
      mf review --dataset dataset --catalog data/catalog.sqlite
      mf verify --dataset dataset
      mf evaluate --dataset dataset --checkpoint runs/seam/last.pt --json

    \b
    One name per concept in every command: --root the collection folder, --catalog the catalog
    file, --dataset a published dataset folder, --world a synthetic world, --df2 a DeepFashion2
    root, --out what the command writes; --json for machines.
    Add --debug to any command to see a traceback on errors.
    """


def main() -> None:
    run_main(cli)
