"""``mf verify``: audit a dataset folder against the real archive's invariants."""

from __future__ import annotations

import click

from schemas.cli_support import HELP, dataset_option, emit, exit_if_failed, json_option, progress_option

EXIT_STATUS = """\b
Exit status: 0 every invariant holds; 1 some are broken (each break names the product,
the field and the fix); 2 the folder cannot be audited (no folder, no split file, a split
file that is not a JSON object), or not now: another command is writing it (one line names
it: mf publish, mf-tracklets build or import, a review pick; --wait waits for it)."""


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option(
    exists=False,  # verify_dataset names what is missing (folder, split file) itself
    help="Dataset folder: one mf publish wrote, or the official archive unpacked.",
)
@click.option(
    "--deep",
    is_flag=True,
    help=(
        "Decode every frame of every video and validate every field of the tracklet files (slow;"
        " default: the first, middle and last frames, and the tracklet files' product_id and video)."
    ),
)
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Threads decoding and hashing (default: up to 4)."
)
@click.option(
    "--offenders", type=click.IntRange(1), default=3, show_default=True, help="Offenders shown per check."
)
@click.option(
    "--wait",
    is_flag=True,
    help=(
        "When another command is writing the folder (mf publish, mf-tracklets build or import, a"
        " review pick), wait for it to end and audit the folder then (default: say so, exit 2)."
    ),
)
@json_option
@progress_option
def verify(dataset: str, deep: bool, workers: int | None, offenders: int, wait: bool, as_json: bool) -> None:
    """Check a dataset folder: source codes 0/1, videos/ and imgs/ prefixes, .png Hard and .jpg
    Regular shop images, canonical paths, no repeats, no leakage between train and test, one
    video per test product, every file present and decodable, SHA-256 against manifest.json,
    tracklet frames in range and boxes inside the frame, entries.jsonl in agreement.

    Prints a table (check, status, count, first offenders) and the verdict. A folder another
    command is writing is not audited (its new files would differ from its old manifest): one
    line names the writer (exit 2), or --wait waits for it.

    \b
    Examples:
      mf verify --dataset dataset
      mf verify --dataset MovingFashion --deep --workers 8    # the official archive, every frame
      mf verify --dataset dataset --json | jq '.checks[] | select(.status == "break")'
    """
    from movingfashion.archive.at_rest import verify_at_rest
    from schemas.cli_support import progress

    report = verify_at_rest(
        dataset,
        wait=wait,
        deep=deep,
        workers=workers,
        progress=lambda it, **kw: progress(it, **kw),  # on stderr, --json or not
    )
    emit(report.as_dict() if as_json else report, as_json, lambda r: r.table(offenders))
    exit_if_failed(0 if report.ok else max(1, len(report.breaks)))
