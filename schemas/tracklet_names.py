"""Which tracklet file holds a product's tracklets of a video: the one home of the naming rule.

A video one product lists (over all the split files of the dataset) has one file,
``tracklets/<video stem>.json``; a video several products list (one social video showing two
garments, each a product) has one file per product, ``tracklets/<video stem>@<product id>.json``.
Everything that reads or writes a tracklet file for a (video, product) asks
:func:`tracklet_stem` (through :func:`annotations.tracklet_files.tracklet_file` in the pipeline
stages), with ``shared`` from :func:`shared_videos` over all the split files. So a leftover
``<stem>@<product>.json`` of a video only that product lists now (the other products dropped
by a republish) is nobody's file: readers take ``<stem>.json``, ``mf verify`` reports it,
``mf-tracklets build`` makes it the video's ``<stem>.json``.

Light (no pydantic model, no file read): the dataset loader, the stages and the archive checks
all import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from schemas.naming import check_safe_name

__all__ = ["product_stem", "shared_videos", "tracklet_stem"]


def shared_videos(listings: Iterable[tuple[str, Iterable[str]]]) -> frozenset[str]:
    """The video paths more than one product lists, over ``(product id, its video paths)`` of
    every entry of every split file (a product listing a video twice, or in two split files,
    shares it with nobody)."""
    owners: dict[str, set[str]] = {}
    for pid, videos in listings:
        for vp in videos:
            owners.setdefault(vp, set()).add(pid)
    return frozenset(vp for vp, pids in owners.items() if len(pids) > 1)


def product_stem(video_path: str, product_id: str) -> str:
    """``<video stem>@<product id>``: the stem of product ``product_id``'s file of a shared video
    (a ``ValueError`` for a product id that is not a safe file name)."""
    check_safe_name(product_id, what="product id")
    return f"{Path(video_path).stem}@{product_id}"


def tracklet_stem(video_path: str, product_id: str | None = None, *, shared: bool) -> str:
    """The stem of the tracklet file of ``video_path`` for ``product_id``: ``<video stem>@<product
    id>`` when several products list the video (``shared``), else ``<video stem>``, whichever
    product asks (a ``@`` file of it is a leftover). Without ``product_id``: the file of a video
    one product lists (a ``ValueError`` for a shared one: it has a file per product)."""
    if not shared:
        return Path(video_path).stem
    if product_id is None:
        raise ValueError(f"{video_path}: a video several products list has a tracklet file per product")
    return product_stem(video_path, product_id)
