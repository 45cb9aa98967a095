"""Bring tracks corrected in CVAT back into the dataset: tracklet files, split files, catalog.

Every file is read and checked before anything is written. A file names its video by
``<source>``, ``<name>`` or its own file name (the first that is a video of the dataset).

``tracks="gt"``: the track marked ``ground_truth`` (or the only track) replaces the video's
ground-truth tracklet (added as the ground truth when the video had none).
``tracks="all"``: a track whose id is a tracklet index replaces that tracklet; other tracks are
added; the track marked ``ground_truth`` becomes the ground truth.
A tracklet whose boxes and class come back unchanged is kept as it was (scores included);
a changed one gets ``mode="manual"`` and keeps the detector/match scores of its unchanged boxes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from annotations.exchange.common import TRACK_CHOICES, class_of
from annotations.exchange.cvat import CvatTrack, CvatVideo, read_cvat
from annotations.tracklet_files import (
    load_splits,
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import ConfigError, DataFormatError


@dataclass
class ImportedVideo:
    file: Path
    vt: VideoTracklets
    changed_tracklets: list[int]
    changed_boxes: int


def _tracklet(old: Tracklet | None, track: CvatTrack, video: str, where: str) -> tuple[Tracklet, int]:
    """The tracklet a track gives, and how many of its boxes differ from ``old``."""
    cls = class_of(track.label, where)
    if not track.boxes:
        raise DataFormatError("the track has no visible box", where=where)
    if old is not None and track.boxes == old.boxes and cls == old.class_id:
        return old, 0
    before = old.boxes if old else {}
    same = {f for f, b in track.boxes.items() if f in before and before[f] == b}
    changed = len(set(track.boxes) ^ set(before)) + sum(
        1 for f in track.boxes if f in before and f not in same
    )
    try:
        t = Tracklet(
            video=video,
            boxes=dict(sorted(track.boxes.items())),
            scores={f: s for f, s in (old.scores if old else {}).items() if f in same},
            match_scores={f: s for f, s in (old.match_scores if old else {}).items() if f in same},
            class_id=cls,
            pivot_frame=old.pivot_frame if old and old.pivot_frame in track.boxes else None,
            shop_score=old.shop_score if old else None,
            mode="manual",
        )
    except ValidationError as exc:
        raise DataFormatError(f"invalid track: {exc.errors()[0]['msg']}", where=where) from None
    return t, changed


def merge_tracks(vt: VideoTracklets, cv: CvatVideo, tracks: str = "gt") -> ImportedVideo:
    """``vt`` with the tracks of ``cv`` merged in (see the module docstring)."""
    where = str(cv.path)
    if cv.width is not None and cv.height is not None and (cv.width, cv.height) != (vt.width, vt.height):
        raise DataFormatError(
            f"frame size {cv.width}x{cv.height} differs from the video's {vt.width}x{vt.height}",
            where=where,
            hint="export from a CVAT task created from the dataset's own video",
        )
    marked = [t for t in cv.tracks if t.ground_truth]
    if len(marked) > 1:
        raise DataFormatError(
            f"{len(marked)} tracks are marked ground_truth (ids {', '.join(t.id for t in marked)})",
            where=where,
            hint="mark one",
        )
    new = list(vt.tracklets)
    gt = vt.ground_truth
    changed: list[int] = []
    n_boxes = 0
    if tracks == "gt":
        track = marked[0] if marked else (cv.tracks[0] if len(cv.tracks) == 1 else None)
        if track is None:
            raise DataFormatError(
                f"cannot tell which of {len(cv.tracks)} tracks is the ground truth",
                where=where,
                hint="set the ground_truth attribute on one track, keep one track, or import with --tracks all",
            )
        old = new[gt] if gt is not None else None
        t, n = _tracklet(old, track, vt.video, f"{where}: track {track.id}")
        if gt is None:
            new.append(t)
            gt = len(new) - 1
        else:
            new[gt] = t
        if n:
            changed.append(gt)
            n_boxes += n
    elif tracks == "all":
        for track in cv.tracks:
            idx = int(track.id) if track.id.isdigit() and int(track.id) < len(vt.tracklets) else None
            t, n = _tracklet(
                new[idx] if idx is not None else None, track, vt.video, f"{where}: track {track.id}"
            )
            if idx is None:
                new.append(t)
                idx = len(new) - 1
            else:
                new[idx] = t
            if n:
                changed.append(idx)
                n_boxes += n
            if track.ground_truth:
                gt = idx
    else:
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")
    out = vt.model_copy(update={"tracklets": new, "ground_truth": gt})
    return ImportedVideo(cv.path, out, changed, n_boxes)


def cvat_files(source: str | os.PathLike[str]) -> list[Path]:
    """An XML file, or every ``*.xml`` under a folder (a cvat or fiftyone export)."""
    p = Path(source)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(p.rglob("*.xml"))
        if files:
            return files
        raise DataFormatError("no .xml file in the folder", where=str(p))
    raise DataFormatError("file not found", where=str(p))


def import_cvat(
    dataset: str | os.PathLike[str],
    source: str | os.PathLike[str],
    *,
    tracks: str = "gt",
    catalog: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Import CVAT for video XML (a file or a folder of them); returns what changed."""
    if tracks not in TRACK_CHOICES:
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")
    root = Path(dataset)
    videos = {
        Path(vp).stem: vp for s in load_splits(root).values() for e in s.values() for vp in e.video_paths
    }
    done: dict[str, ImportedVideo] = {}
    for f in cvat_files(source):
        cv = read_cvat(f)
        stem = next((n for n in cv.names if n in videos), None)
        if stem is None:
            raise DataFormatError(
                f"names no video of the dataset (tried {', '.join(dict.fromkeys(cv.names))})",
                where=str(f),
                hint="name the file <video stem>.xml or set the task's <source>",
            )
        if stem in done:
            raise DataFormatError(f"video {stem} also comes from {done[stem].file}", where=str(f))
        vt = read_video_tracklets(tracklet_file(root, videos[stem]))
        done[stem] = merge_tracks(vt, cv, tracks)
    cat = None
    if catalog is not None:
        from schemas.catalog import Catalog

        cat = Catalog(catalog)
    try:
        for res in done.values():
            if res.vt != read_video_tracklets(tracklet_file(root, res.vt.video)):
                write_video_tracklets(root, res.vt)
            set_official_tracklet(root, res.vt)
            if cat is not None:
                from schemas.review import record_decision

                record_decision(
                    cat,
                    video=res.vt.video,
                    product_id=res.vt.product_id,
                    kind="import",
                    note=f"cvat: {res.file.name}, {res.changed_boxes} boxes changed",
                )
    finally:
        if cat is not None:
            cat.close()
    return {
        "dataset": str(root),
        "videos": len(done),
        "changed_videos": sorted(s for s, r in done.items() if r.changed_tracklets),
        "changed_boxes": sum(r.changed_boxes for r in done.values()),
        "files": [str(r.file) for r in done.values()],
    }
