"""``mf schema`` and ``mf catalog`` commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    catalog_option,
    emit,
    exit_if_failed,
    json_option,
    legacy_argument,
    merge_legacy,
    out_option,
)
from schemas.errors import PYDANTIC_VALUE_ERROR, DataFormatError

if TYPE_CHECKING:
    from schemas.official import OfficialSplit
    from schemas.official_checks import Finding


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

    Two verdicts, the ones the loader and mf verify give. An *error* is what the loader refuses
    (a missing or mistyped field, a path leaving the folder, a box with x2 < x1): without --json
    the first invalid file stops it, one line naming the file, the product and the field, exit 2.
    A *finding* is what the loader reads but the real archive never holds, and mf verify reports
    by the same rule (schemas/official_checks.py): a source other than 0/1, a video outside
    videos/ or shop image outside imgs/ or of the wrong suffix, a video listed twice by a
    product, a test.json product without exactly one video, a box of zero width or height,
    tracklets not one per video, and a product, video or shop image in two of the FILES; each is
    one line naming the file, product, field and fix, exit 1. With --json every file is checked
    and reported in one document ({"ok": ..., "files": {FILE: {"ok": ..., "products": N,
    "findings": [...]} or {"ok": false, "error": ..., "product": ..., "field": ...}}}), exit 1
    when any file is invalid or has findings.

    \b
    Examples:
      mf schema validate dataset/train.json dataset/test.json
      mf schema validate dataset/test.json --json
    """
    from schemas.official import read_official

    if not as_json:
        try:
            read = {f: read_official(f) for f in files}
        except DataFormatError as exc:
            raise _readable(exc) from None
        found = _findings(read)
        emit({"read": read, "found": found}, False, _human)
        n = sum(len(v) for v in found.values())
        exit_if_failed(n, note=f"{n} findings: the loader reads these files, mf verify breaks on them")
        return
    report: dict[str, dict[str, object]] = {}
    read = {}
    for f in files:
        try:
            read[f] = read_official(f)
        except DataFormatError as exc:
            report[f] = _file_error(_readable(exc))
    found = _findings(read)
    for f, split in read.items():
        report[f] = {"ok": not found[f], "products": len(split), "findings": [x.as_dict() for x in found[f]]}
    report = {f: report[f] for f in dict.fromkeys(files)}
    bad = [f for f, r in report.items() if not r["ok"]]
    emit({"ok": not bad, "files": report}, True)
    exit_if_failed(
        bad,
        note=f"{len(bad)} of {len(report)} files invalid or with findings (see the JSON)" if bad else None,
    )


def _findings(read: dict[str, OfficialSplit]) -> dict[str, list[Finding]]:
    """The findings (:func:`schemas.official_checks.split_findings`) of each file read, the
    files compared with each other (train.json first; a file given twice counts once)."""
    from schemas.official_checks import split_findings

    seen: dict[Path, str] = {}
    for f in sorted(read, key=lambda f: Path(f).name != "train.json"):
        seen.setdefault(Path(f).resolve(), f)
    splits = {f: read[f] for f in seen.values()}
    out: dict[str, list[Finding]] = {f: [] for f in read}
    tests = {f for f in splits if Path(f).name == "test.json"}
    for x in split_findings(splits, tests=tests):
        out[x.where or ""].append(x)
    for f in read:  # the same file under another name: the same findings
        out[f] = out[seen[Path(f).resolve()]]
    return out


def _human(r: dict[str, Any]) -> str:
    lines = []
    for f, split in r["read"].items():
        found = r["found"][f]
        lines.append(f"{f}: {len(split)} products, " + (f"{len(found)} findings" if found else "valid"))
        lines += [f"  {x.line()}" for x in found]
    return "\n".join(lines)


#: pydantic's "Value error, " inside a message built from a validation error's text
_PYDANTIC_PREFIX = re.compile(r"(^|: )" + re.escape(PYDANTIC_VALUE_ERROR))


def _readable(exc: DataFormatError) -> DataFormatError:
    """``exc`` with pydantic's "Value error, " taken out of its message (the same error type)."""
    message = _PYDANTIC_PREFIX.sub(r"\1", exc.message)
    if message != exc.message:
        exc.message = message
        exc.args = (exc.render(),)
    return exc


def _file_error(exc: DataFormatError) -> dict[str, object]:
    """One invalid file's result for --json: the error, and its product and field when named (a
    tracklet's frame key named after its video, as for a malformed number: ``tracklets[n].KEY``)."""
    m = _NAMED.match(exc.message)
    field = m["field"] if m else None
    if field is not None and m["key"] is not None:
        field = f"{field}.{m['key']}"
    return {
        "ok": False,
        "error": exc.message,
        "hint": exc.hint,
        "product": m["product"] if m else None,
        "field": field,
    }


#: the product, field and frame key an error of the split reader names: ``product 'P': field
#: 'F': ...``, or for a tracklet ``product 'P': field 'tracklets[n]' (video 'V'): frame key 'K': ...``
_NAMED = re.compile(
    r"product '(?P<product>.*?)'"
    r"(?:: field '(?P<field>[^']*)'(?: \(video .*?\))?(?:: frame key '(?P<key>[^']*)')?)?: "
)


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def catalog() -> None:
    """Inspect the pipeline catalog (the SQLite file every stage records its state in).

    \b
    Examples:
      mf catalog status --catalog data/catalog.sqlite           # items per status
      mf catalog status --catalog demo-out/catalog.sqlite --json
      mf catalog check --catalog data/catalog.sqlite            # SQLite's full integrity check
      mf catalog upgrade --catalog data/catalog.sqlite          # an older toolkit's catalog, in place

    \b
    Exit status: 0 done (check: the file is sound); 2 bad input: a missing, foreign or damaged
    catalog, named in one line with the way back (sqlite3 .recover, or a copy). Every command
    that opens a catalog checks its pages first and never writes into a damaged one.
    """


@catalog.command("status", context_settings=HELP, epilog=EXIT_STATUS)
@catalog_option(help="SQLite catalog of the pipeline (mf-collect writes ROOT/catalog.sqlite).")
@json_option
def catalog_status(catalog_path: str, as_json: bool) -> None:
    """Count items per status (with --json every status of the life cycle, 0 when none), and
    the rejected items a collector gave up: they failed for a reason that looks permanent in
    max_failed_runs runs and reruns skip them; ``mf-collect --retry-given-up`` tries them again.
    With --json, ``given_up`` is how many of the rejected were given up (an integer, as in
    ``mf-collect --json``; 0 when none) and ``given_up_by_source`` the same per source ({} when
    none); every other key is a status.

    \b
    Examples:
      mf catalog status --catalog data/catalog.sqlite
      mf catalog status --catalog data/catalog.sqlite --json
    """
    from schemas.catalog import Catalog
    from schemas.items import Status

    # a typo or an empty file: refused, not made; read-only (a catalog on a read-only mount reads)
    with Catalog(catalog_path, read_only=True, must_exist=True) as cat:
        found = cat.status_counts()
        gave_up = cat.given_up_counts()
    counts: dict[str, Any] = {s.value: int(found.get(s.value, 0)) for s in Status}
    counts |= {k: int(v) for k, v in found.items()}
    counts["given_up"] = sum(int(v) for v in gave_up.values())
    counts["given_up_by_source"] = {k: int(v) for k, v in gave_up.items()}
    emit(counts, as_json, _status_text)


def _status_text(counts: dict[str, Any]) -> str:
    """``mf catalog status``'s text: a line per status there is, then the given-up items."""
    from schemas.items import GIVEN_UP_WHY, RETRY_GIVEN_UP

    gave_up = counts["given_up_by_source"]
    lines = [f"{k:>14}: {v}" for k, v in counts.items() if k not in ("given_up", "given_up_by_source") and v]
    if gave_up:
        per_source = ", ".join(f"{source} {n}" for source, n in gave_up.items())
        lines.append(
            f"{'given up':>14}: {counts['given_up']} of the rejected ({per_source}; "
            f"{GIVEN_UP_WHY}): {RETRY_GIVEN_UP}"
        )
    return "\n".join(lines) or "empty"


@catalog.command("upgrade", context_settings=HELP, epilog=EXIT_STATUS)
@click.option("--catalog", "catalog_path", required=True, type=click.Path(dir_okay=False, exists=True))
@json_option
def catalog_upgrade(catalog_path: str, as_json: bool) -> None:
    """Upgrade a catalog an older toolkit wrote to this toolkit's schema, in place.

    Every row is kept. The step is one-way: an older toolkit refuses the file afterwards, so keep
    a copy if you may go back. Any command that writes the catalog (mf-collect, mf clean, mf
    publish, ...) upgrades it too; read-only commands (mf catalog status, check, mf stats) refuse an older
    catalog and point here. A catalog already current is left as it is.

    \b
    Examples:
      cp data/catalog.sqlite data/catalog.backup.sqlite
      mf catalog upgrade --catalog data/catalog.sqlite
      mf catalog check --catalog data/catalog.sqlite
    """
    from schemas.catalog import Catalog

    with Catalog(catalog_path, must_exist=True) as cat:
        result = {
            "catalog": catalog_path,
            "upgraded": cat.upgraded_from is not None,
            "from": cat.upgraded_from if cat.upgraded_from is not None else cat.schema_version,
            "schema_version": cat.schema_version,
            "items": cat.count_items(),
        }
    emit(
        result,
        as_json,
        lambda r: (
            f"{r['catalog']}: upgraded from schema {r['from']} to {r['schema_version']} ({r['items']} items)"
            if r["upgraded"]
            else f"{r['catalog']}: already at schema {r['schema_version']} ({r['items']} items)"
        ),
    )


@catalog.command("check", context_settings=HELP, epilog=EXIT_STATUS)
@click.option("--catalog", "catalog_path", required=True, type=click.Path(dir_okay=False, exists=True))
@json_option
def catalog_check(catalog_path: str, as_json: bool) -> None:
    """Run SQLite's full integrity check on the catalog (nothing is written to a damaged one).

    Prints "sound" and the counts, exit 0; a damaged catalog gives one line naming the file and
    how to recover it (sqlite3 .recover into a new file, or a copy), exit 2.

    \b
    Examples:
      mf catalog check --catalog data/catalog.sqlite
      mf catalog check --catalog data/catalog.sqlite --json
    """
    from schemas.catalog import Catalog
    from schemas.errors import CatalogCorrupt, CatalogError
    from schemas.render import counted

    try:
        with Catalog(catalog_path, check="full", read_only=True, must_exist=True) as cat:
            rows = cat.row_problems()
            result = {
                "catalog": catalog_path,
                "ok": not rows,
                "problems": rows,
                "items": cat.count_items(),
                "schema_version": cat.schema_version,
            }
    except CatalogCorrupt as exc:
        if as_json:
            emit({"catalog": catalog_path, "ok": False, "problems": [exc.detail]}, True)
        raise
    if rows:
        if as_json:
            emit(result, True)
        raise CatalogError(
            f"{counted(len(rows), 'catalog row')} cannot be read (first: {rows[0]})",
            where=catalog_path,
            hint=f"restore the catalog from a copy, or delete {'that row' if len(rows) == 1 else 'those rows'} "
            "and redo what wrote them (an item: collect it again; a review decision: make it again on the "
            "review page; a meta row: the command mf catalog recover names)",
        )
    emit(
        result, as_json, lambda r: f"{r['catalog']}: sound ({r['items']} items, schema {r['schema_version']})"
    )


@catalog.command("recover", context_settings=HELP, epilog=EXIT_STATUS)
@click.option("--catalog", "catalog_path", required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The new catalog to write.")
@json_option
def catalog_recover(catalog_path: str, out: str, as_json: bool) -> None:
    """Copy every row that can still be read from a damaged catalog into a new one.

    The damaged file is only read. Rows behind a damaged page are lost (a rerun of the
    collectors fetches their items again); assets whose item was lost are left out, and so are
    meta rows that are no JSON (each named, with the command that writes it again) and review
    decisions that cannot be read (each named: make it again on the review page). Check the
    result, then put it in place of the damaged file (moved aside with its -wal and -shm files).

    \b
    Examples:
      mf catalog recover --catalog data/catalog.sqlite --out data/recovered.sqlite
      mf catalog check --catalog data/recovered.sqlite
    """
    from schemas.catalog_recover import recover_catalog

    report = recover_catalog(catalog_path, out)
    emit(
        report.as_dict(),
        as_json,
        lambda r: (
            f"{r['out']}: "
            + ", ".join(f"{n} {t}" for t, n in r["rows"].items())
            + f" rows salvaged; {sum(r['damaged_runs_skipped'].values())} damaged runs skipped, "
            f"{r['orphaned_assets']} assets without their item left out"
            + (f", {sum(r['rows_dropped'].values())} torn rows dropped" if r["rows_dropped"] else "")
            + "".join(
                f"\nleft out meta row {m['key']!r}: {m['why']}; "
                + (
                    f"to write it again: {m['rebuild']}"
                    if m["rebuild"]
                    else "no command writes it again (restore it from a copy)"
                )
                for m in r["meta_left_out"]
            )
            + "".join(
                f"\nleft out review decision {d['id']} on {d['video']!r}: {d['why']}; "
                "make it again on the review page"
                for d in r["decisions_left_out"]
            )
        ),
    )
