"""``mf stats``: cleaning's catalog counts, plus the world's scores with ``--world WORLD``.

The composition lives here, in the app layer, so the cleaning stage never imports the
synthetic world: ``cleaning.cli.stats_result`` gives the counts, and
:func:`movingfashion.world.scoring.cleaning.score_cleaning` the quality figures.
"""

from __future__ import annotations

from typing import Any

import click

from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    catalog_option,
    emit,
    json_option,
    merge_legacy,
    root_option,
)


@click.command("stats", context_settings=HELP, epilog=EXIT_STATUS)
@catalog_option(help="SQLite catalog written by mf-collect and mf clean.")
@root_option(required=False, help="Collection folder (ROOT/<source>/<id>/<kind>.<ext>); needed with --world.")
@click.option(
    "--world",
    "world",
    type=click.Path(exists=True),
    help="A synthetic world folder (or its world.json): adds duplicate P/R, split-screen F1, "
    "taxonomy accuracy, shop pick and wrong-association figures, and every wrong video-shop pair "
    "that would be published (published_pairs: planted or a wrong carousel pick).",
)
@click.option("--truth", type=click.Path(exists=True), hidden=True, deprecated="use --world instead")
@click.option(
    "--rules",
    type=click.Path(dir_okay=False, exists=True),
    help="Taxonomy rules YAML for the coverage report (default: the packaged rules).",
)
@json_option
def stats(
    catalog_path: str,
    root: str | None,
    world: str | None,
    truth: str | None,
    rules: str | None,
    as_json: bool,
) -> None:
    """Counts, coverage and (against a synthetic world) quality figures of a cleaned catalog.

    \b
    Examples:
      mf stats --catalog data/catalog.sqlite
      mf stats --catalog demo-out/catalog.sqlite --root demo-out/collected --world demo-out/world --json

    --world was called --truth before (still accepted, with a deprecation warning).
    """
    from cleaning.cli import stats_human, stats_result
    from schemas.errors import ConfigError

    truth = merge_legacy(world, truth, "--world", required=False)
    if truth and root is None:
        raise ConfigError("--world needs --root (the collection root)", where="--root")
    res: dict[str, Any] = stats_result(catalog_path, rules)
    if truth:
        from movingfashion.world.scoring.cleaning import score_cleaning
        from movingfashion.world.truth import load_world, world_folder
        from schemas.catalog import Catalog

        folder = world_folder(truth)
        world_truth = load_world(folder)
        with Catalog(catalog_path, read_only=True, must_exist=True) as cat:
            require_world_overlap(cat, world_truth, str(truth))
            require_collected_files(cat, root)
            res["truth"] = score_cleaning(cat, root, world_truth, folder)
    emit(res, as_json, stats_human)


def require_world_overlap(catalog: Any, truth: Any, where: str) -> None:
    """Refuse a world (``truth``, named ``where``) that knows none of the catalog's items:
    another world, whose figures would all be empty. A partial overlap (a catalog grown over
    several worlds or batches) is scored on the items the world knows."""
    from schemas.errors import DataFormatError

    in_world = {(str(p.source), p.product_id) for p in truth.products}
    items = [(str(r.item.source), r.item.source_id) for r in catalog.items()]
    if items and not any(k in in_world for k in items):
        n = len(items)
        names = ", ".join(f"{s}/{i}" for s, i in items[:3]) + (f" and {n - 3} more" if n > 3 else "")
        raise DataFormatError(
            f"none of the catalog's {n} item{'s' if n != 1 else ''} is in this world ({names}): "
            "nothing to score",
            where=where,
            hint="pass the world this catalog was collected from",
        )


def require_collected_files(catalog: Any, root: str) -> None:
    """Refuse a ``--root`` that holds none of the catalog's collected videos and shop images (a
    wrong folder), as mf clean and mf publish do, naming the option; not one scoring step's
    missing image deep inside it."""
    from schemas.items import AssetKind
    from schemas.paths import check_collection_root

    files: dict[str, list[str]] = {}
    for a in catalog.assets():
        if a.path and a.kind in (AssetKind.VIDEO, AssetKind.SHOP):
            files.setdefault(f"{a.source}/{a.source_id}", []).append(a.path)
    check_collection_root(root, files, items="items with collected files", nothing="nothing was scored")
