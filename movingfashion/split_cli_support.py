"""What ``mf crop-cache`` and ``mf training-copy`` share: the options that say how a split's clips
are cropped, and opening that split the way the loader will read it back."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from movingfashion.entry_kinds import entries_of, other_kind, shown
from schemas.cli_support import FINITE_FLOAT

F = TypeVar("F", bound=Callable[..., Any])


def crop_view_options(func: F) -> F:
    """``--split --crop --crop-size --frame-size --context``: the dataset must be opened with the
    same values to read what the command writes."""
    for option in reversed(
        [
            click.option(
                "--split", default="train", show_default=True, help="train, test, or a split JSON file."
            ),
            click.option(
                "--crop", type=click.Choice(["tracklet", "frame"]), default="tracklet", show_default=True
            ),
            click.option(
                "--crop-size",
                type=int,
                default=224,
                show_default=True,
                help="Tracklet crops: side in pixels.",
            ),
            click.option(
                "--frame-size", type=int, default=None, help="crop=frame: resize whole frames to this side."
            ),
            click.option(
                "--context",
                type=FINITE_FLOAT,
                default=0.0,
                show_default=True,
                help="Box margin, as in the dataset.",
            ),
        ]
    ):
        func = option(func)
    return func


def open_split(
    dataset: str,
    split: str,
    *,
    crop: str,
    crop_size: int,
    frame_size: int | None,
    context: float,
    backend: str,
) -> Any:
    """The split as a :class:`~movingfashion.dataset.MovingFashionDataset` that skips bad rows
    (listed in ``.skipped``) and loads no shop images: what both writers iterate over. A split
    file that lists no product (:func:`~movingfashion.split_errors.no_product`) or whose every
    product is skipped (:func:`~movingfashion.split_errors.no_usable_videos`) is the one error,
    instead of the dataset's own warning: such a split has nothing to write."""
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.dataset import log as dataset_log
    from movingfashion.split_errors import held_records, no_usable_videos, require_products, unusable

    rows = require_products(dataset, split)
    with held_records(dataset_log) as held:  # every row skipped: the error below says it all
        ds = MovingFashionDataset(
            dataset,
            split,
            crop=crop,
            crop_size=crop_size,
            frame_size=frame_size,
            context=context,
            backend=backend,
            on_bad="skip",
            shop_size=None,
            train=Path(str(split)).stem == "train",  # as the dataset's default, without its warning
            empty_tracklet_hint="run mf-tracklets build first, or crop whole frames: --crop frame",
            split_rows=rows,
        )
        if unusable(ds):
            held.clear()
    if unusable(ds):
        raise no_usable_videos(split, ds, dataset)
    return ds


def apart_from_the_other_kind(out: str | os.PathLike[str], what: str) -> None:
    """Refuse (:class:`~schemas.errors.ConfigError` naming ``out``) a ``--out`` folder that holds
    the other writer's entries (``what``: ``"training copy"`` or ``"crop cache"``). Both name an
    entry's metadata ``<entry>.json``: writing one into the other's folder overwrote that file of
    every video, so the other was built again in full on its next run."""
    from schemas.errors import ConfigError

    dst = Path(out)
    if not dst.is_dir():
        return
    other = other_kind(what)
    found = entries_of(dst, other)
    if found:
        raise ConfigError(
            f"the folder holds a {other} ({shown(found)}); a {what} there would overwrite its .json file "
            "of each video",
            where=f"--out {dst}",
            hint=f"pass a new or empty folder as --out for the {what}, apart from the {other}",
        )
