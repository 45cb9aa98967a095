"""``mf stats``: cleaning's catalog counts, plus the world's scores with ``--truth WORLD``.

The composition lives here, in the app layer, so the cleaning stage never imports the
synthetic world: ``cleaning.cli.stats_result`` gives the counts, and
:func:`movingfashion.world.scoring.cleaning.score_cleaning` the quality figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from schemas.cli_support import emit, json_option


def world_folder(truth: str | Path) -> Path:
    """The world folder of ``--truth`` (the folder itself or its ``world.json``)."""
    p = Path(truth)
    return p if p.is_dir() else p.parent


EXIT_STATUS = """\b
Exit status: 0 done; 2 bad input (a missing catalog, root or world, --truth without --root),
named in one line."""


@click.command("stats", context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_STATUS)
@click.option(
    "--catalog",
    "catalog_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="SQLite catalog written by mf-collect and mf clean.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True),
    help="Collection root (ROOT/<source>/<id>/<kind>.<ext>); needed with --truth.",
)
@click.option(
    "--truth",
    type=click.Path(exists=True),
    help="A synthetic world folder (or its world.json): adds duplicate P/R, split-screen F1, "
    "taxonomy accuracy, shop pick and wrong-association figures.",
)
@click.option(
    "--rules",
    type=click.Path(dir_okay=False, exists=True),
    help="Taxonomy rules YAML for the coverage report (default: the packaged rules).",
)
@json_option
def stats(catalog_path: str, root: str | None, truth: str | None, rules: str | None, as_json: bool) -> None:
    """Counts, coverage and (against a synthetic world) quality figures of a cleaned catalog.

    \b
    Examples:
      mf stats --catalog data/catalog.sqlite
      mf stats --catalog demo-out/catalog.sqlite --root demo-out/collected --truth demo-out/world --json
    """
    from cleaning.cli import stats_human, stats_result
    from schemas.errors import ConfigError

    if truth and root is None:
        raise ConfigError("--truth needs --root (the collection root)", where="--root")
    res: dict[str, Any] = stats_result(catalog_path, rules)
    if truth:
        from movingfashion.world.scoring.cleaning import score_cleaning
        from movingfashion.world.truth import load_world
        from schemas.catalog import Catalog

        world = world_folder(truth)
        with Catalog(catalog_path) as cat:
            res["truth"] = score_cleaning(cat, root, load_world(world), world)
    emit(res, as_json, stats_human)
