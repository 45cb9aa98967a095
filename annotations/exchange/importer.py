"""Bring tracks corrected in CVAT back into the dataset: tracklet files, split files, catalog.

Every file is read and checked before anything is written. A file names its video by
``<source>``, ``<name>`` or its own file name (the first that is a video of the dataset).

``tracks="gt"``: the track marked ``ground_truth`` (or the only track) replaces the video's
ground-truth tracklet (added as the ground truth when the video had none).
``tracks="all"``: a track whose id is a tracklet index replaces that tracklet; other tracks are
added; the track marked ``ground_truth`` becomes the ground truth.
A tracklet whose boxes and class come back unchanged is kept as it was (scores included);
a changed one gets ``mode="manual"`` and keeps the detector/match scores of its unchanged boxes.

Every box must lie on a frame of the video and inside its frame: up to :data:`BOX_TOLERANCE`
pixels outside is clipped to the frame (as :class:`movingfashion.dataset.MovingFashionDataset`
does), farther out, past the last frame, or with no area left (under 1 px wide or high) the
import is refused, naming the file, track and frame. A published folder gets its tables, card,
Croissant metadata and manifest rewritten afterwards (:func:`movingfashion.archive.describe.refresh`,
as ``mf-tracklets build`` does), so ``mf verify`` still holds.
"""

from __future__ import annotations

import math
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

#: how far (pixels) a box may reach outside the frame and still be clipped into it
#: (the default ``box_tolerance`` of :class:`movingfashion.dataset.MovingFashionDataset`)
BOX_TOLERANCE = 2.0


@dataclass
class ImportedVideo:
    file: Path
    vt: VideoTracklets
    changed_tracklets: list[int]
    changed_boxes: int


def fit_box(box: list[int | float], frame: int, vt: VideoTracklets, where: str) -> list[int | float]:
    """``box`` on ``frame`` of ``vt``'s video, clipped to the frame when it is at most
    :data:`BOX_TOLERANCE` px outside; a :class:`DataFormatError` (``where``: the file, track and
    frame) when the frame is past the video's end or the box is outside, not finite or empty."""
    if frame >= vt.frames:
        raise DataFormatError(
            f"frame {frame} is past the last frame {vt.frames - 1} of {vt.video} ({vt.frames} frames)",
            where=where,
            hint="delete the boxes past the video's end, or import the file into the dataset of its own video",
        )
    w, h, t = vt.width, vt.height, BOX_TOLERANCE
    if not all(math.isfinite(v) for v in box):
        raise DataFormatError(
            f"box {box} has a coordinate that is not a finite number",
            where=where,
            hint="set xtl, ytl, xbr and ybr to pixel positions inside the frame",
        )
    if box[0] < -t or box[1] < -t or box[2] > w + t or box[3] > h + t:
        raise DataFormatError(
            f"box {box} reaches more than {t:g} px outside the {w}x{h} frame",
            where=where,
            hint="move the box inside the frame and export again",
        )
    x1, y1, x2, y2 = (min(max(v, 0), lim) for v, lim in zip(box, (w, h, w, h), strict=True))
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise DataFormatError(
            f"box {box} is empty inside the {w}x{h} frame (under 1 px wide or high)",
            where=where,
            hint="give the box an area, or delete it",
        )
    return [x1, y1, x2, y2]


def _tracklet(old: Tracklet | None, track: CvatTrack, vt: VideoTracklets, where: str) -> tuple[Tracklet, int]:
    """The tracklet a track gives, and how many of its boxes differ from ``old``."""
    cls = class_of(track.label, where)
    if not track.boxes:
        raise DataFormatError("the track has no visible box", where=where)
    boxes = {f: fit_box(b, f, vt, f"{where} frame {f}") for f, b in sorted(track.boxes.items())}
    if old is not None and boxes == old.boxes and cls == old.class_id:
        return old, 0
    before = old.boxes if old else {}
    same = {f for f, b in boxes.items() if f in before and before[f] == b}
    changed = len(set(boxes) ^ set(before)) + sum(1 for f in boxes if f in before and f not in same)
    try:
        t = Tracklet(
            video=vt.video,
            boxes=boxes,
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
        t, n = _tracklet(old, track, vt, f"{where}: track {track.id}")
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
            t, n = _tracklet(new[idx] if idx is not None else None, track, vt, f"{where}: track {track.id}")
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
    videos: dict[str, tuple[str, set[str]]] = {}  # a video two products list is one tracklet file
    for s in load_splits(root).values():
        for pid, e in s.items():
            for vp in e.video_paths:
                videos.setdefault(Path(vp).stem, (vp, set()))[1].add(pid)
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
        vp, pids = videos[stem]
        vt = read_video_tracklets(tracklet_file(root, vp), video=vp)
        if vt.product_id not in pids:
            raise DataFormatError(
                f"field 'product_id': {vt.product_id!r}, but the split files list {vp!r} under "
                f"{', '.join(repr(p) for p in sorted(pids))}",
                where=str(tracklet_file(root, vp)),
                hint="restore the file, or delete it and rerun mf-tracklets build",
            )
        done[stem] = merge_tracks(vt, cv, tracks)
    cat = None
    if catalog is not None:
        from schemas.catalog import Catalog

        cat = Catalog(catalog, must_exist=True)
    written = False
    changed: list[str] = []  # tracklet files written (the split files are always hashed again)
    try:
        for res in done.values():
            if res.vt != read_video_tracklets(tracklet_file(root, res.vt.video), video=res.vt.video):
                write_video_tracklets(root, res.vt)
                changed.append(tracklet_file(root, res.vt.video).relative_to(root).as_posix())
                written = True
            written = bool(set_official_tracklet(root, res.vt)) or written
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
        if written:
            from movingfashion.archive.describe import refresh

            refresh(root, changed=changed)  # a published folder: tables, card, manifest follow the files
    return {
        "dataset": str(root),
        "videos": len(done),
        "changed_videos": sorted(s for s, r in done.items() if r.changed_tracklets),
        "changed_boxes": sum(r.changed_boxes for r in done.values()),
        "files": [str(r.file) for r in done.values()],
    }
