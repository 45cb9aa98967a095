"""Tracklets in the formats annotation tools read: CVAT for video 1.1, MOT 1.1, FiftyOne's
CVAT video dataset; and corrected CVAT tracks back into the dataset (:mod:`.importer`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from annotations.exchange.common import ExportVideo, select_videos
from annotations.tracklet_files import TRACKLET_DIR


def _cvat(videos: list[ExportVideo], dataset: Path, out: Path) -> list[Path]:
    from annotations.exchange.cvat import write_cvat

    return write_cvat(videos, out)


def _mot(videos: list[ExportVideo], dataset: Path, out: Path) -> list[Path]:
    from annotations.exchange.mot import write_mot
    from annotations.review.media import video_fps
    from schemas.paths import resolve_under

    fps = {v.stem: video_fps(resolve_under(dataset, v.vt.video, what="video")) for v in videos}
    return write_mot(videos, out, fps)


def _fiftyone(videos: list[ExportVideo], dataset: Path, out: Path) -> list[Path]:
    from annotations.exchange.fiftyone import write_fiftyone

    return write_fiftyone(videos, dataset, out)


#: export format -> writer(videos, dataset, out) returning the files/folders written
EXPORTERS: dict[str, Callable[[list[ExportVideo], Path, Path], list[Path]]] = {
    "cvat": _cvat,
    "mot": _mot,
    "fiftyone": _fiftyone,
}
#: import formats
IMPORTERS = ("cvat",)


def export_dataset(
    dataset: str | os.PathLike[str],
    fmt: str,
    out: str | os.PathLike[str],
    *,
    tracks: str = "gt",
    videos: Iterable[str] = (),
) -> dict[str, Any]:
    """Export the tracklets of a dataset's videos in ``fmt``; returns counts and paths, the
    videos left out (``left_out``: how many; ``left_out_videos``: name -> why) and what the
    export changed to fit a video (``warnings``: name -> boxes dropped or clipped, also logged).

    A video's tracklets come from its tracklet file, else from its split-file entry (see
    :mod:`annotations.exchange.common`); nothing is written when no video has either.
    """
    from schemas.errors import ConfigError, DataFormatError

    if fmt not in EXPORTERS:
        raise ConfigError(
            f"unknown export format {fmt!r}", where="--format", hint=f"use {', '.join(EXPORTERS)}"
        )
    root, dst = Path(dataset), Path(out)
    if dst.resolve().is_relative_to(root.resolve()):  # the folder itself too
        raise ConfigError(
            "the export folder is inside the dataset folder",
            where=f"--out {dst}",
            hint="write the export elsewhere: files the dataset's manifest does not list break mf verify",
        )
    chosen, left = select_videos(root, tracks, videos)
    if not chosen:  # checked before OUT is made
        raise DataFormatError(
            "no tracklet files found and no tracklet in the split files, nothing to export",
            where=str(root / TRACKLET_DIR),
            hint=f"run mf-tracklets build --dataset {root} first",
        )
    dst.mkdir(parents=True, exist_ok=True)
    written = EXPORTERS[fmt](chosen, root, dst)
    return {
        "format": fmt,
        "out": str(dst),
        "videos": len(chosen),
        "tracks": sum(len(v.tracks) for v in chosen),
        "boxes": sum(len(v.vt.tracklets[i].boxes) for v in chosen for i in v.tracks),
        "written": [str(p) for p in written],
        "left_out": len(left),
        "left_out_videos": {lo.stem: lo.reason for lo in left},
        "warnings": {v.stem: v.warning for v in chosen if v.warning},  # boxes dropped or clipped
    }
