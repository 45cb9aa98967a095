"""``mf schema`` and ``mf catalog`` commands."""

from __future__ import annotations

import click

from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    catalog_option,
    emit,
    json_option,
    legacy_argument,
    merge_legacy,
    out_option,
)


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def schema() -> None:
    """JSON Schemas of the contracts, and validation of official JSON files.

    \b
    Examples:
      mf schema export --out schemas-out                 # one JSON Schema per contract model
      mf schema validate dataset/train.json dataset/test.json
      mf schema validate dataset/test.json --json
    """


@schema.command("export", context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("out_dir", "--out")
@out_option(required=False, help="Folder of the JSON Schema files. Required.")
@json_option
def schema_export(legacy_out_dir: str | None, out: str | None, as_json: bool) -> None:
    """Write one JSON Schema file per contract model into the --out folder.

    \b
    Examples:
      mf schema export --out schemas-out
      mf schema export --out schemas-out --json
    """
    from schemas.export import export_json_schemas

    out_dir = merge_legacy(out, legacy_out_dir, "--out")

    paths = export_json_schemas(out_dir)
    emit({"written": [str(p) for p in paths]}, as_json, lambda r: "\n".join(r["written"]))


@schema.command("validate", context_settings=HELP, epilog=EXIT_STATUS)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
def schema_validate(files: tuple[str, ...], as_json: bool) -> None:
    """Validate official MovingFashion split files (train.json / test.json).

    \b
    Examples:
      mf schema validate dataset/train.json dataset/test.json
      mf schema validate dataset/test.json --json
    """
    from schemas.official import read_official

    result = {f: len(read_official(f)) for f in files}
    emit(result, as_json, lambda r: "\n".join(f"{k}: {v} products, valid" for k, v in r.items()))


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def catalog() -> None:
    """Inspect the pipeline catalog (the SQLite file every stage records its state in).

    \b
    Examples:
      mf catalog status --catalog data/catalog.sqlite           # items per status
      mf catalog status --catalog demo-out/catalog.sqlite --json
    """


@catalog.command("status", context_settings=HELP, epilog=EXIT_STATUS)
@catalog_option(help="SQLite catalog of the pipeline (mf-collect writes ROOT/catalog.sqlite).")
@json_option
def catalog_status(catalog_path: str, as_json: bool) -> None:
    """Count items per status.

    \b
    Examples:
      mf catalog status --catalog data/catalog.sqlite
      mf catalog status --catalog data/catalog.sqlite --json
    """
    from schemas.catalog import Catalog

    with Catalog(catalog_path) as cat:
        counts = cat.status_counts()
    emit(counts, as_json, lambda r: "\n".join(f"{k:>14}: {v}" for k, v in sorted(r.items())) or "empty")
