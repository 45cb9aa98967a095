"""Tracklets in the formats annotation tools read: CVAT for video 1.1, MOT 1.1, FiftyOne's
CVAT video dataset; and corrected CVAT tracks back into the dataset (:mod:`.importer`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from annotations.exchange.common import (
    ExportVideo,
    LeftOut,
    check_tracks,
    checked_source,
    failed_row,
    load_planned,
    nothing_exported,
    plan_export,
)
from annotations.tracklet_files import TRACKLET_DIR, OnBad, held_out_rows


def _cvat(
    videos: Iterable[ExportVideo],
    dataset: Path,
    out: Path,
    failed: list[dict[str, str]],
    unchanged: list[Path],
) -> list[Path]:
    from annotations.exchange.cvat import write_cvat

    return write_cvat(videos, out, unchanged)


def _mot(
    videos: Iterable[ExportVideo],
    dataset: Path,
    out: Path,
    failed: list[dict[str, str]],
    unchanged: list[Path],
) -> list[Path]:
    from annotations.exchange.mot import write_mot
    from schemas.errors import MediaError
    from schemas.paths import resolve_under

    fps: dict[str, float] = {}
    needs = "a MOT export reads its frame rate"

    def with_fps() -> Iterator[ExportVideo]:  # each video's rate read as it comes
        for v in videos:
            src = resolve_under(dataset, v.vt.video, what="video")
            try:  # missing, unreadable or no rate (it was 30, unsaid): skipped and listed
                fps[v.stem] = checked_source(src, needs, rate=True).fps
            except MediaError as exc:
                failed.append(failed_row(v, src, exc))
                continue
            yield v

    return write_mot(with_fps(), out, fps, unchanged)


def _fiftyone(
    videos: Iterable[ExportVideo],
    dataset: Path,
    out: Path,
    failed: list[dict[str, str]],
    unchanged: list[Path],
) -> list[Path]:
    from annotations.exchange.fiftyone import write_fiftyone

    return write_fiftyone(videos, dataset, out, failed, unchanged)


#: export format -> writer(videos, dataset, out, failed, unchanged) returning the files/folders
#: written (their bytes changed); those that already held their bytes go to ``unchanged``; a
#: video it skips (FiftyOne, MOT: its video missing or unreadable; MOT: no frame rate) gets a row
#: in ``failed`` (video, product_id, path, error)
EXPORTERS: dict[
    str,
    Callable[[Iterable[ExportVideo], Path, Path, list[dict[str, str]], list[Path]], list[Path]],
] = {
    "cvat": _cvat,
    "mot": _mot,
    "fiftyone": _fiftyone,
}
#: import formats
IMPORTERS = ("cvat",)


def earlier_exports(fmt: str, out: Path) -> dict[str, list[Path]]:
    """The files an export in ``fmt`` left in ``out`` before, by the name of their video (what a
    folder import of the tool reads): ``cvat`` ``OUT/<video>.xml``; ``fiftyone``
    ``OUT/labels/<video>.xml`` and ``OUT/data/<video>.*``; ``mot`` the sequence folder
    ``OUT/<video>/`` (one holding ``seqinfo.ini`` and ``gt/gt.txt``)."""
    found: dict[str, list[Path]] = {}
    if fmt == "cvat":
        for p in out.glob("*.xml"):
            found.setdefault(p.stem, []).append(p)
    elif fmt == "fiftyone":
        for p in [*(out / "labels").glob("*.xml"), *(out / "data").glob("*")]:
            if p.is_file():
                found.setdefault(p.stem, []).append(p)
    elif fmt == "mot" and out.is_dir():
        for p in out.iterdir():
            if (p / "seqinfo.ini").is_file() and (p / "gt" / "gt.txt").is_file():
                found.setdefault(p.name, []).append(p)
    return {k: sorted(v) for k, v in sorted(found.items())}


def _shown(paths: list[Path], out: Path, n: int = 3) -> str:
    names = [str(p.relative_to(out)) for p in paths]
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _remove(paths: Iterable[Path]) -> None:
    import shutil

    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


def export_dataset(
    dataset: str | os.PathLike[str],
    fmt: str,
    out: str | os.PathLike[str],
    *,
    tracks: str = "gt",
    videos: Iterable[str] = (),
    clean: bool = False,
    on_bad: OnBad = "skip",
) -> dict[str, Any]:
    """Export the tracklets of a dataset's videos in ``fmt``; returns counts and paths (``written``:
    the files, MOT sequence folders, of which bytes were written; ``unchanged``: those that
    already held them, as on a rerun with nothing changed), the videos left out (``left_out``: how many; ``left_out_videos``: name -> why) and what the
    export changed to fit a video (``warnings``: name -> boxes dropped or clipped, also logged).

    ``out`` holding files of an earlier export of videos this one does not export
    (:func:`earlier_exports`: a tool's folder import would load them with the new ones) is
    refused before anything is written, unless ``clean`` (they are removed once the export is
    written: ``removed``) or ``videos`` names the videos to export (a partial export updates
    those and keeps the others'). Files of a video left out now are removed with ``clean``,
    else kept and listed (``stale``). An ``out`` holding an export in another format
    (:func:`earlier_exports` of that format) is refused, ``clean`` or not.

    A video's tracklets come from its tracklet file, else from its split-file entry (see
    :mod:`annotations.exchange.common`); nothing is written when no video has either. Videos are
    read and written one at a time (memory stays that of one video's tracklets at any size).

    ``on_bad`` (``MovingFashionDataset``'s convention): with ``"skip"`` (default) a product whose
    split-file entry the reader refuses (a bad box, a missing or malformed field) is held out:
    its videos are left out (``left_out_videos`` gives the reason; their earlier files in ``out``
    stay, as a left-out video's) and each problem is listed in ``held_out`` (file, product, video
    and frame key when known, what to do: :func:`~annotations.tracklet_files.held_out_rows`); the
    other products are exported. ``"raise"`` refuses the dataset before anything is written.

    A video the writer cannot export (FiftyOne, MOT: the video file is missing, or does not open
    or decode, :func:`~annotations.exchange.common.checked_source`; MOT: it gives no frame rate,
    which ``seqinfo.ini`` needs) is skipped and listed
    in ``failed`` (video, product_id, path, error); the others are exported, its earlier files
    in ``out`` stay (``clean`` or not) and it is not counted.
    """
    from schemas.errors import ConfigError, DataFormatError
    from schemas.paths import outside_dataset

    if fmt not in EXPORTERS:
        raise ConfigError(
            f"unknown export format {fmt!r}", where="--format", hint=f"use {', '.join(EXPORTERS)}"
        )
    root, dst = Path(dataset), outside_dataset(out, dataset, what="export")
    check_tracks(tracks)
    names = list(videos)
    whole = plan_export(root, names, on_bad)
    planned = whole.videos
    earlier = earlier_exports(fmt, dst) if dst.is_dir() else {}
    for other_fmt in EXPORTERS if dst.is_dir() else ():  # two formats in one folder: refused
        found = [p for ps in earlier_exports(other_fmt, dst).values() for p in ps] if other_fmt != fmt else []
        if found:
            raise ConfigError(
                f"the folder holds a {other_fmt} export ({_shown(found, dst)}); a {fmt} export"
                " there would mix two formats",
                where=str(dst),
                hint=f"pass a new or empty folder as --out for the {fmt} export",
            )
    if not clean and not names:  # what no video of this export replaces (a held-out one's files stay)
        kept = {v.stem for v in planned} | {lo.stem for lo in whole.held_out_videos}
        other = [p for stem, ps in earlier.items() if stem not in kept for p in ps]
        if other:
            raise ConfigError(
                f"the folder holds files of an earlier {fmt} export of videos this export does not "
                f"write ({_shown(other, dst)}); a folder import would load them with the new files",
                where=str(dst),
                hint="pass --clean to remove them, a new or empty folder as --out, or --video to "
                "update only those videos' files",
            )
    plan = iter(planned)
    left: list[LeftOut] = list(whole.held_out_videos)
    ahead: list[ExportVideo | LeftOut] = []  # the first video to export, read ahead
    for v in plan:  # up to the first video to export: nothing is written when there is none
        ahead.append(load_planned(root, v, tracks))
        if not isinstance(ahead[0], LeftOut):
            break
        left.append(ahead.pop())
    if not ahead:  # checked before OUT is made
        nothing_exported(root, left, bool(names) or bool(whole.held_out))
        raise DataFormatError(
            "no tracklet files found and no tracklet in the split files, nothing to export",
            where=str(root / TRACKLET_DIR),
            hint=f"run mf-tracklets build --dataset {root} first",
        )
    #: (video, product) -> (name, tracks, boxes) of each video handed to the writer
    sizes: dict[tuple[str, str], tuple[str, int, int]] = {}
    warnings: dict[str, str] = {}

    def stream() -> Iterator[ExportVideo]:  # holds one video at a time (the one being written)
        ev = ahead.pop()
        while True:
            if isinstance(ev, LeftOut):
                left.append(ev)
            else:
                boxes = sum(len(ev.vt.tracklets[i].boxes) for i in ev.tracks)
                sizes[(ev.vt.video, ev.vt.product_id)] = (ev.stem, len(ev.tracks), boxes)
                if ev.warning:  # boxes dropped or clipped
                    warnings[ev.stem] = ev.warning
                yield ev
            nxt = next(plan, None)
            if nxt is None:
                return
            ev = load_planned(root, nxt, tracks)

    dst.mkdir(parents=True, exist_ok=True)
    failed: list[dict[str, str]] = []
    unchanged: list[Path] = []
    written = EXPORTERS[fmt](stream(), root, dst, failed, unchanged)
    skipped = {sizes[(f["video"], f["product_id"])][0] for f in failed}
    done = [size for size in sizes.values() if size[0] not in skipped]
    exported = {v.stem for v in planned} - {lo.stem for lo in left} - skipped
    # a skipped video's earlier files stay, --clean or not (the rerun once it is back replaces them)
    unwritten = [
        p for stem, ps in earlier.items() if stem not in exported and stem not in skipped for p in ps
    ]
    if clean:
        _remove(unwritten)
    return {
        "format": fmt,
        "out": str(dst),
        "videos": len(done),
        "tracks": sum(size[1] for size in done),
        "boxes": sum(size[2] for size in done),
        "written": [str(p) for p in written],
        "unchanged": [str(p) for p in unchanged],
        "removed": [str(p) for p in unwritten] if clean else [],
        # a video left out now (or, with --video, not named) keeps its earlier files
        "stale": [] if clean else [str(p) for p in unwritten if p.stem in {lo.stem for lo in left}],
        "left_out": len(left),
        "left_out_videos": {lo.stem: lo.reason for lo in sorted(left, key=lambda lo: lo.stem)},
        "warnings": warnings,
        "failed": failed,
        "held_out": held_out_rows(whole.held_out),
    }
