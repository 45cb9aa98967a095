"""The one error a command gives for a split it cannot use: the split file lists no product,
none of its products has a usable video (every row skipped), or every product it lists was held
out as a bad row (``mf-tracklets build``: :func:`all_held_out`).

The dataset itself only warns in both cases (an empty dataset is allowed: a Python user may
loop over filters that keep nothing, and ``on_bad="skip"`` promises no error for bad rows).
A command has nothing to do with such a split, so it stops with one error line naming the
split file and what to do. That line must be the only one: :func:`require_products` answers
before the dataset is made (so its "the dataset is empty" warning never comes), and
:func:`held_records` holds the dataset's "skipped ..." warning back while it is made, dropped
when :func:`no_usable_videos` says the same as the error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from movingfashion.skips import describe_skips
from schemas.errors import DataFormatError, MFError
from schemas.official import HELD_OUT_HINT, BadVideo, OfficialSplit, read_official_rows, split_json

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset

SplitRows = tuple[OfficialSplit, list[tuple[str, str]]]


def split_rows(split_path: Path) -> SplitRows | None:
    """:func:`~schemas.official.read_official_rows` of ``split_path`` (which keeps its listing,
    :func:`~schemas.official.split_listing`, for the bank's input stamps); None when it does not
    read: the dataset then names the unreadable split."""
    try:
        return read_official_rows(split_path)
    except (MFError, OSError):
        return None


def _split_name(split: str | Path) -> str:
    text = str(split)
    return Path(text).stem if text.endswith(".json") else text


def no_product(split: str | Path, split_path: Path) -> DataFormatError:
    """The error for a split file that lists no product (no query, an empty gallery)."""
    name = _split_name(split)
    return DataFormatError(
        f"the {name} split lists no product",
        where=str(split_path),
        hint=f"pass a dataset whose {name} split has products (mf publish, mf splits)"
        if name in ("train", "test")
        else "pass a split file that lists products (mf splits writes them)",
    )


def no_product_in(split_paths: list[Path]) -> DataFormatError:
    """The error for a dataset whose every split file lists no product (``mf-tracklets build``
    reads them all): :func:`no_product` for one file, else one line naming each."""
    if len(split_paths) == 1:
        return no_product(split_paths[0].name, split_paths[0])
    names = " and ".join(_split_name(p.name) for p in split_paths)
    return DataFormatError(
        f"the {names} splits list no product",
        where=", ".join(str(p) for p in split_paths),
        hint="pass a dataset whose splits have products (mf publish, mf splits)",
    )


def all_held_out(held: Sequence[BadVideo]) -> DataFormatError:
    """The error for a dataset whose every product was held out as a bad row (``mf-tracklets
    build``, ``on_bad="skip"``: each split file lists none that reads): the files holding them,
    the products counted, and the first one's problem. ``held`` is not empty."""
    files = list(dict.fromkeys(b.path for b in held))
    products = len({(b.path, b.product_id) for b in held})
    names = " and ".join(_split_name(Path(f).name) for f in files)
    return DataFormatError(
        f"every product of the {names} split{'s' if len(files) > 1 else ''} was held out as a bad row: "
        f"{products} product{'s' if products != 1 else ''} (first: {held[0].error.message})",
        where=", ".join(files),
        hint=HELD_OUT_HINT,
    )


def require_products(root: str | Path, split: str | Path) -> SplitRows | None:
    """The split's rows, read once (hand them to the dataset: ``split_rows=``), after
    :func:`no_product` is raised when the file lists no product and no bad row. None when the
    file does not read (the dataset names why)."""
    path = split_json(root, split)
    rows = split_rows(path)
    if rows is not None and not rows[0] and not rows[1]:
        raise no_product(split, path)
    return rows


def no_usable_videos(split: str | Path, ds: MovingFashionDataset, root: str | Path) -> DataFormatError:
    """The error for a split whose every product was skipped (``on_bad="skip"``): what the skips
    left out, counted, and the first one's reason (the dataset's warning said the same). Whole
    frames (``crop="frame"``) need no tracklet: the hint then names only the rows."""
    first = f" (first: {ds.skipped[0][1]})" if ds.skipped else ""
    return DataFormatError(
        f"no usable videos in the {_split_name(split)} split: skipped {describe_skips(ds.skip_counts())}{first}",
        where=str(ds.split_path),
        hint="fix those rows: mf verify names every break"
        if ds.crop == "frame"
        else f"fix those rows, or build the tracklets first: mf-tracklets build --dataset {root}",
    )


def unusable(ds: MovingFashionDataset) -> bool:
    """True when ``ds`` has no item because every product it lists was skipped (no filter)."""
    return len(ds) == 0 and bool(ds.skipped) and not ds.filtered_ids


@contextmanager
def held_records(logger: logging.Logger) -> Iterator[list[logging.LogRecord]]:
    """Hold back what ``logger`` says inside the block; on exit each record goes on to the
    handlers as it would have, unless the caller emptied the list (its error says it all)."""
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    logger.addFilter(hold)
    try:
        yield held
    finally:
        logger.removeFilter(hold)
        for record in held:
            logger.handle(record)
