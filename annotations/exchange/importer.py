"""Bring tracks corrected in CVAT back into the dataset: tracklet files, split files, catalog.

Every file is read and checked before anything is written. A file names its video by
``<source>``, ``<name>`` or its own file name (the first that is a video of the dataset).

Tracks are matched to tracklets by their ``tracklet`` attribute, the tracklet index the export
wrote on every box (CVAT keeps it; it renumbers the track ids when it exports, so a deleted track
shifts the ids of the tracks after it). A track whose attribute is empty (drawn in CVAT) is a new
tracklet, unless an earlier import of it made one: a manual tracklet that no other track names,
with its class and boxes, is that track (so importing a file again adds nothing; a drawn track
corrected in CVAT since, with nothing to tell it from a new one, is added again). A file without the attribute (exported before it existed, or from a CVAT task whose
labels lack it) falls back to the track ids, with a warning.

``tracks="gt"``: the track marked ``ground_truth`` (or the only track, unless its attribute
names another tracklet) replaces the tracklet it was exported from, which becomes the ground
truth (without the attribute: it replaces the video's ground-truth tracklet; added as the
ground truth when the video had none). A file with no track, or a part of the video where the
ground-truth tracklet has no box, leaves the video as it was (a warning says so).
``tracks="all"``: each track replaces the tracklet it was exported from; other tracks are
added; the track marked ``ground_truth`` becomes the ground truth. A tracklet with no track in
the file (deleted in CVAT, or not exported) is kept as it was and reported (``missing_tracks``
and a warning): an import never removes or renumbers a tracklet, since review picks in the
catalog name tracklets by index (pick another ground truth, or leave the tracklet be). When
the ground-truth tracklet is among them, one track must be marked ``ground_truth``. A tracklet
with no box on the frames of a file covering part of the video is not missing (CVAT leaves
such a track out of a job).
A tracklet whose boxes and class come back unchanged is kept as it was (scores included);
a changed one gets ``mode="manual"`` and keeps the detector/match scores of its unchanged boxes.

A file covering part of the video (a CVAT job export, or a task created over a frame range: its
``start_frame .. stop_frame``, :attr:`~annotations.exchange.cvat.CvatVideo.frame_range`) replaces
a tracklet's boxes on those frames only; its boxes on the other frames are kept. The report says
which range each file applied (``frame_ranges``). A box on a frame outside the file's range, or a
range starting past the video's last frame, is refused naming the file (and track and frame).

A video without a tracklet file (the archive as published: its ground truth only in
train.json / test.json) starts from its split-file entry
(:func:`annotations.exchange.common.official_video_tracklets`: that tracklet as tracklet 0, the
ground truth), and the import writes its tracklet file (``created``).

The boxes an export leaves out (on a frame the video has not, or with no area once clipped to
the frame: :func:`annotations.exchange.common.left_out_by_export`) are kept as they are where the
track has no box: no tool showed them, so no edit removed them, and an unedited round trip
changes nothing.

A track's boxes are taken as the file lists them. CVAT interpolates between keyframes and
extends a track with no closing ``outside`` box to the task's end; a file that relies on that
(hand-written, or another tool's: CVAT's own exports list every frame) is imported as listed,
with a warning per such track (:func:`sparse_track_warnings`).

Every box must lie on a frame of the video and inside its frame: up to :data:`BOX_TOLERANCE`
pixels outside is clipped to the frame (as :class:`movingfashion.dataset.MovingFashionDataset`
does), farther out, past the last frame, or with no area left (under 1 px wide or high) the
import is refused, naming the file, track and frame. A published folder gets its tables, card,
Croissant metadata and manifest rewritten afterwards (:func:`movingfashion.archive.describe.refresh`,
as ``mf-tracklets build`` does), so ``mf verify`` still holds. An import killed between its writes
and that refresh leaves the refresh-pending mark (:mod:`annotations.refresh_mark`): the rerun finds
every file imported already, and the mark makes it refresh the whole folder all the same.

A box the split-file reader refuses (reversed corners, a frame key twice, a malformed number) in
one product's entry holds out that product alone, as the review queue does: the other products
import (that entry keeps its bytes), and a file of that product is refused before anything is
written, naming the file, the split file, the product, the video and the frame key. A published
folder (whose refresh reads every box) and an entry that does not read at all still refuse the
import as a whole.

The writes (tracklet files, split files, catalog, manifest) happen under the dataset's lock
(:func:`annotations.tracklet_files.dataset_lock`), and the tracklet files are read and merged
again under it: a review pick or another import that wrote meanwhile is merged with, not
overwritten.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from annotations.exchange.common import (
    TRACK_CHOICES,
    class_of,
    clip_to_frame,
    left_out_by_export,
    official_video_tracklets,
    tracklet_revision,
)
from annotations.exchange.cvat import (
    KEY_ATTRIBUTE,
    CvatTrack,
    CvatVideo,
    FrameRange,
    read_cvat,
)
from annotations.refresh_mark import BY_IMPORT, clear_pending, pending_by, refresh_if_pending, set_pending
from annotations.tracklet_files import (
    dataset_lock,
    dataset_shared_videos,
    load_split_heads_rows,
    read_video_tracklets,
    set_official_tracklets,
    shared_videos,
    split_files_present,
    tracklet_file,
    write_video_tracklets,
)
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import ConfigError, DataFormatError
from schemas.official import BadVideo
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES

#: how far (pixels) a box may reach outside the frame and still be clipped into it
#: (the default ``box_tolerance`` of :class:`movingfashion.dataset.MovingFashionDataset`)
BOX_TOLERANCE = 2.0

#: how far (pixels) a coordinate may move and still be the stored box: CVAT writes two decimals
ROUND_TRIP = 0.005

log = redacted_logger("annotations.exchange")


@dataclass
class ImportedVideo:
    file: Path
    vt: VideoTracklets | None  #: the merged tracklets; None once written (:func:`_write`)
    changed_tracklets: list[int]
    changed_boxes: int
    missing: list[int] = field(default_factory=list)  #: tracklets with no track in the file, kept
    warnings: list[str] = field(default_factory=list)
    frame_range: FrameRange | None = None  #: the frames the file replaced (None: all)
    created: bool = False  #: no tracklet file yet: started from the split file's tracklet
    frames: int = 0  #: the video's frame count (set once written, when ``vt`` is let go)
    classes_changed: list[int] = field(default_factory=list)  #: tracklets relabelled
    ground_truth_moved: bool = False  #: the ground_truth mark is on another tracklet
    #: the ground truth's class (DeepFashion2 id) when this file changed it: the product's class
    ground_truth_class: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the file changed the video's tracklets (boxes, classes or the ground truth)."""
        return bool(self.changed_tracklets) or self.ground_truth_moved

    def note(self) -> str:
        """What the file changed, for the catalog's record of the import."""
        bits = [f"{self.changed_boxes} boxes changed"]
        if self.classes_changed:
            bits.append(f"classes of tracklets {', '.join(map(str, self.classes_changed))} changed")
        if self.ground_truth_moved:
            bits.append("ground truth moved to another tracklet")
        return f"cvat: {self.file.name}, " + "; ".join(bits)


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
    x1, y1, x2, y2 = clip_to_frame(box, vt)
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise DataFormatError(
            f"box {box} is empty inside the {w}x{h} frame (under 1 px wide or high)",
            where=where,
            hint="give the box an area, or delete it",
        )
    return [x1, y1, x2, y2]


def _tracklet(
    old: Tracklet | None, track: CvatTrack, vt: VideoTracklets, where: str, span: FrameRange | None = None
) -> tuple[Tracklet, int]:
    """The tracklet a track gives, and how many of its boxes differ from ``old``: the track's
    boxes, and ``old``'s on the frames the file does not cover (``span``; None: every frame) and
    those an export leaves out (:func:`~annotations.exchange.common.left_out_by_export`)."""
    cls = class_of(track.class_label, where)  # the product's label as exported: detector_class
    kept = {} if old is None or span is None else _outside(old.boxes, span, vt.frames)
    if not track.boxes and not kept:
        raise DataFormatError(
            "the track has no visible box" + (f" (file frames {span.text()})" if span else ""),
            where=where,
            hint="draw a box on a frame the file covers, or delete the track in CVAT, and export again",
        )
    if old is not None:
        kept = {**kept, **left_out_by_export(old.boxes, vt)}
    if span is not None:
        _refuse_outside(track, span, vt, where)
    fitted = {f: fit_box(b, f, vt, f"{where} frame {f}") for f, b in sorted(track.boxes.items())}
    if old is not None:  # a box as exported (CVAT's rounding, clipped to the frame) is unchanged
        fitted = {f: old.boxes[f] if _as_exported(old.boxes.get(f), b, vt) else b for f, b in fitted.items()}
    boxes = dict(sorted({**kept, **fitted}.items()))
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
            pivot_frame=old.pivot_frame if old and old.pivot_frame in boxes else None,
            shop_score=old.shop_score if old else None,
            mode="manual",
        )
    except ValidationError as exc:
        raise DataFormatError(
            f"invalid track: {exc.errors()[0]['msg']}",
            where=where,
            hint="fix the track's boxes in CVAT and export again",
        ) from None
    return t, changed


def _as_exported(stored: list[int | float] | None, box: list[int | float], vt: VideoTracklets) -> bool:
    """Whether ``box`` is ``stored`` as an export writes it (clipped to the frame) and CVAT gives
    it back (two decimals): an unedited round trip keeps the stored box, its scores and the
    tracklet's mode (it made them manual, with scores dropped, for boxes of 3 or 4 decimals or
    reaching up to BOX_TOLERANCE px outside the frame)."""
    if stored is None:
        return False
    return all(abs(s - b) <= ROUND_TRIP + 1e-9 for s, b in zip(clip_to_frame(stored, vt), box, strict=True))


def _refuse_outside(track: CvatTrack, span: FrameRange, vt: VideoTracklets, where: str) -> None:
    """Refuse a box on a frame the file's own range does not cover: the import replaces that
    range only, so such a box would change frames the file says it leaves alone."""
    bad = next((f for f in sorted(track.boxes) if not span.covers(f, vt.frames)), None)
    if bad is not None:
        raise DataFormatError(
            f"box on frame {bad}, not one of the file's frames {span.text()}",
            where=f"{where} frame {bad}",
            hint="delete the box, or export the file from a task or job covering that frame",
        )


def _check_range(span: FrameRange, vt: VideoTracklets, where: str) -> None:
    """Refuse a range starting past the video's last frame (a file of another video, or edited)."""
    if span.start > vt.frames - 1:
        raise DataFormatError(
            f"frame range {span.text()} starts past the last frame {vt.frames - 1} of {vt.video} "
            f"({vt.frames} frames)",
            where=where,
            hint="import the file into the dataset of its own video, or export it from CVAT again",
        )


def _outside(
    boxes: dict[int, list[int | float]], span: FrameRange, frames: int
) -> dict[int, list[int | float]]:
    """The boxes on frames ``span`` does not cover (kept as they are)."""
    return {f: b for f, b in boxes.items() if not span.covers(f, frames)}


def merge_tracks(
    vt: VideoTracklets, cv: CvatVideo, tracks: str = "gt", *, force: bool = False
) -> ImportedVideo:
    """``vt`` with the tracks of ``cv`` merged in (see the module docstring). A track exported
    from a tracklet that changed since (its ``revision``: another import, a pick, a rebuild) and
    edited in the file is refused unless ``force``: the file would undo that change."""
    where = str(cv.path)
    if cv.frame_range is not None:
        _check_range(cv.frame_range, vt, where)
    if cv.width is not None and cv.height is not None and (cv.width, cv.height) != (vt.width, vt.height):
        raise DataFormatError(
            f"frame size {cv.width}x{cv.height} differs from the video's {vt.width}x{vt.height}",
            where=where,
            hint="export from a CVAT task created from the dataset's own video",
        )
    if cv.frames is not None and cv.frames > vt.frames:  # no task or job of this video is longer
        raise DataFormatError(
            f"the CVAT task has {cv.frames} frames, more than the video's {vt.frames}",
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
    if tracks == "gt":
        track = marked[0] if marked else _only_gt_track(vt, cv)
        gt_outside = vt.ground_truth is not None and not _in_file(vt.tracklets[vt.ground_truth], cv, vt)
        if track is None and (not cv.tracks or gt_outside):
            return _nothing_to_import(vt, cv)
        if track is None:
            raise DataFormatError(
                f"cannot tell which of {len(cv.tracks)} tracks is the ground truth",
                where=where,
                hint="set the ground_truth attribute on one track, keep one track, or import with --tracks all",
            )
        idx = _key_index(track, vt, where) if track.key is not None else vt.ground_truth
        return _merged(vt, cv, {track.id: idx}, [track], ground_truth=track, force=force)
    if tracks != "all":
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")
    targets = _targets(vt, cv)
    res = _merged(vt, cv, targets, cv.tracks, ground_truth=marked[0] if marked else None, force=force)
    named = {i for i in targets.values() if i is not None}
    res.missing = [i for i, t in enumerate(vt.tracklets) if i not in named and _in_file(t, cv, vt)]
    if vt.ground_truth in res.missing and not marked:
        raise DataFormatError(
            f"the ground-truth tracklet {vt.ground_truth} has no track in the file (deleted in CVAT?) "
            "and no track is marked ground_truth",
            where=where,
            hint="mark the track of the item ground_truth in CVAT and export again, or keep its track",
        )
    if res.missing:
        many = len(res.missing) > 1
        res.warnings.append(
            f"{where}: tracklet{'s' if many else ''} {', '.join(map(str, res.missing))} of {vt.video} "
            f"{'have' if many else 'has'} no track in the file: kept as {'they were' if many else 'it was'} "
            "(an import never removes a tracklet; review picks name tracklets by index)"
        )
    if not cv.keyed and cv.tracks:
        res.warnings.append(
            f"{where}: no '{KEY_ATTRIBUTE}' attribute on the boxes (not written by mf-tracklets export, "
            "or the CVAT task's labels lack it): tracks matched to tracklets by their id, which CVAT "
            "renumbers when a track is deleted; check the result, or export again and import that"
        )
    return res


def sparse_track_warnings(track: CvatTrack, cv: CvatVideo, frames: int) -> list[str]:
    """What CVAT would make of a track that the import takes as listed: a gap between two visible
    boxes with no outside box in it (CVAT interpolates the frames between), and a last visible
    box before the file's last frame with no outside box after it (CVAT extends it to the end).
    Files CVAT exports list every frame, and mf-tracklets export closes every run, so this
    concerns hand-written files and other tools' (one line each)."""
    step = cv.frame_range.step if cv.frame_range is not None else 1
    stop = (
        cv.frame_range.stop if cv.frame_range is not None and cv.frame_range.stop is not None else frames - 1
    )
    seen = sorted(track.boxes)
    out = []
    gaps = [
        (a, b)
        for a, b in zip(seen, seen[1:], strict=False)
        if b - a > step and not any(a < o < b for o in track.outside)
    ]
    if gaps:
        shown = ", ".join(f"{a + 1}..{b - 1}" for a, b in gaps[:3]) + (
            f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
        )
        out.append(
            f"{cv.path}: track {track.id}: no box on frames {shown} between visible boxes and no outside "
            "box there: CVAT would interpolate them, the import leaves them without a box"
        )
    if seen and seen[-1] + step <= stop and not track.closed:
        out.append(
            f"{cv.path}: track {track.id}: its last box (frame {seen[-1]}) has no outside box after it: "
            f"CVAT extends it to frame {stop}, the import stops at frame {seen[-1]}"
        )
    return out


def _only_gt_track(vt: VideoTracklets, cv: CvatVideo) -> CvatTrack | None:
    """With no track marked ground_truth: the file's only track, unless its key names another
    tracklet than the ground truth (a job's track of another candidate is not the item's)."""
    if len(cv.tracks) != 1:
        return None
    only = cv.tracks[0]
    return only if only.key is None or vt.ground_truth is None or only.key == vt.ground_truth else None


def _in_file(t: Tracklet, cv: CvatVideo, vt: VideoTracklets) -> bool:
    """Whether the file could hold a track of ``t``: it has a box on a frame the file covers (a
    CVAT job, or a task over part of the video, leaves out the tracks with none there)."""
    return cv.frame_range is None or any(cv.frame_range.covers(f, vt.frames) for f in t.boxes)


def _nothing_to_import(vt: VideoTracklets, cv: CvatVideo) -> ImportedVideo:
    """The video as it is, with one warning: ``--tracks gt`` and no ground-truth track in the file
    (no track at all: exported from a video with no ground truth; or a part of the video where
    the ground-truth tracklet has no box)."""
    assert not cv.tracks or cv.frame_range is not None
    why = (
        "the file has no track"
        if not cv.tracks
        else f"the ground-truth tracklet has no box on the file's frames {cv.frame_range.text()}"
    )
    res = ImportedVideo(cv.path, vt, [], 0, frame_range=cv.frame_range)
    res.warnings.append(f"{cv.path}: nothing to import for {vt.video} ({why}); left as it was")
    return res


def _key_index(track: CvatTrack, vt: VideoTracklets, where: str) -> int:
    """The tracklet a track's ``tracklet`` attribute names, checked to be one of ``vt``."""
    assert track.key is not None
    if track.key >= len(vt.tracklets):
        raise DataFormatError(
            f"{KEY_ATTRIBUTE}={track.key}, but {vt.video} has {len(vt.tracklets)} tracklets "
            f"(0..{len(vt.tracklets) - 1})",
            where=f"{where}: track {track.id}",
            hint="export the video again and redo the correction there, or empty the attribute to "
            "add the track as a new tracklet",
        )
    return track.key


def _targets(vt: VideoTracklets, cv: CvatVideo) -> dict[str, int | None]:
    """Track id -> the tracklet it replaces (None: a new one), by ``tracklet`` attribute, or by
    track id in a file without the attribute."""
    where = str(cv.path)
    out: dict[str, int | None] = {}
    for t in cv.tracks:
        if cv.keyed:
            out[t.id] = _key_index(t, vt, where) if t.key is not None else None
        else:
            out[t.id] = int(t.id) if t.id.isdigit() and int(t.id) < len(vt.tracklets) else None
    taken = [i for i in out.values() if i is not None]
    if len(taken) != len(set(taken)):
        dup = next(i for i in taken if taken.count(i) > 1)
        ids = [tid for tid, i in out.items() if i == dup]
        raise DataFormatError(
            f"tracks {', '.join(ids)} all name tracklet {dup}",
            where=where,
            hint="keep one track per tracklet",
        )
    _already_added(vt, cv, out)
    return out


def _already_added(vt: VideoTracklets, cv: CvatVideo, out: dict[str, int | None]) -> None:
    """Point each new track (target None) that an earlier import of the same file added at the
    tracklet it became: a manual tracklet no other track names, with the same class and boxes.
    Without it, importing a file twice (a rerun after a killed import, or the usual "correct in
    CVAT, export, import" loop run again) appended a drawn track once more each time."""
    free = {i for i, t in enumerate(vt.tracklets) if t.mode == "manual"} - set(out.values())
    for track in cv.tracks:
        if out[track.id] is not None or not free:
            continue
        for i in sorted(free):
            try:
                _, n = _tracklet(vt.tracklets[i], track, vt, str(cv.path), cv.frame_range)
            except DataFormatError:
                break  # the track itself is bad: _merged names the problem
            if n == 0:
                out[track.id] = i
                free.discard(i)
                break


def _merged(
    vt: VideoTracklets,
    cv: CvatVideo,
    targets: dict[str, int | None],
    chosen: list[CvatTrack],
    *,
    ground_truth: CvatTrack | None,
    force: bool = False,
) -> ImportedVideo:
    """``vt`` with each of ``chosen`` put in place of its target tracklet (None: appended); the
    ``ground_truth`` track's tracklet becomes the ground truth."""
    new = list(vt.tracklets)
    gt = vt.ground_truth
    changed: list[int] = []
    relabelled: list[int] = []
    labelled_here: set[int] = set()  # tracklets whose class the annotator set: relabelled, or drawn anew
    n_boxes = 0
    for track in chosen:
        idx = targets[track.id]
        old = new[idx] if idx is not None else None
        t, n = _tracklet(old, track, vt, f"{cv.path}: track {track.id}", cv.frame_range)
        if old is not None and t is not old and not force:
            _refuse_stale(track, old, idx, vt, cv)
        if idx is None:
            new.append(t)
            idx = len(new) - 1
            labelled_here.add(idx)
        else:
            new[idx] = t
        if t is not old:  # boxes, or only the class (a relabelled track): changed either way
            changed.append(idx)
            n_boxes += n
        if old is not None and t.class_id != old.class_id:
            relabelled.append(idx)
            labelled_here.add(idx)
        if track is ground_truth:
            gt = idx
    out = vt.model_copy(update={"tracklets": new, "ground_truth": gt})
    res = ImportedVideo(
        cv.path, out, changed, n_boxes, frame_range=cv.frame_range, classes_changed=relabelled
    )
    res.ground_truth_moved = gt != vt.ground_truth and vt.ground_truth is not None
    was = _class_of(vt.tracklets, vt.ground_truth)
    now = _class_of(new, gt)
    if now is not None and was is not None and now != was:
        if gt in labelled_here:  # the annotator chose this class: the product's class follows it
            res.ground_truth_class = now
        else:  # the mark moved onto a track the detector labelled: its label says nothing of the item
            res.warnings.append(
                f"{cv.path}: the ground truth is now a track the detector labelled {DF2_CLASSES[now]} "
                f"(the earlier one was {DF2_CLASSES[was]}): the product's class is unchanged; relabel "
                "the track in CVAT if that is the item's class"
            )
    res.warnings += [w for track in chosen for w in sparse_track_warnings(track, cv, vt.frames)]
    ignored = sorted({what for track in chosen for what in track.ignored})
    if ignored:  # what CVAT lets an annotator set that a tracklet has no place for
        res.warnings.append(f"{cv.path}: {', '.join(ignored)}: not stored in the tracklets (ignored)")
    return res


def _refuse_stale(track: CvatTrack, old: Tracklet, idx: int, vt: VideoTracklets, cv: CvatVideo) -> None:
    """Refuse ``track`` when the tracklet it was exported from changed since the export (its
    revision): the file's boxes would put back what that change replaced. Files of part of the
    video (CVAT jobs) are not checked: jobs of one task edit other frames of the same tracklets."""
    whole = cv.frame_range is None or cv.frame_range.whole(vt.frames)
    if track.revision is None or not whole or track.revision == tracklet_revision(old, vt):
        return
    raise DataFormatError(
        f"tracklet {idx} of {vt.video} changed after this file was exported (another import, a "
        "review pick or a rebuild): importing its track would undo that change",
        where=f"{cv.path}: track {track.id}",
        hint="export the video again and redo the edits there, or pass --force to let this file win",
    )


def _class_of(tracklets: list[Tracklet], index: int | None) -> int | None:
    """The class of tracklet ``index`` (None: no such tracklet)."""
    return tracklets[index].class_id if index is not None and 0 <= index < len(tracklets) else None


def cvat_files(source: str | os.PathLike[str]) -> list[Path]:
    """An XML file, or every ``*.xml`` under a folder (a cvat or fiftyone export)."""
    p = Path(source)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(p.rglob("*.xml"))
        if files:
            return files
        raise DataFormatError(
            "no .xml file in the folder",
            where=str(p),
            hint="pass the XML file the export wrote, or its folder",
        )
    raise DataFormatError(
        "file not found", where=str(p), hint="pass the XML file the export wrote, or its folder"
    )


def _dataset_videos(root: Path) -> tuple[dict[str, tuple[str, set[str]]], dict[str, BadVideo]]:
    """Stem of a tracklet file -> (video path, the products listing it) from the split files, and
    the products whose split-file entry holds a bad box (product id -> the first such video).

    A video several products list has one tracklet file per product: its keys are
    ``<video stem>@<product>`` (one product each); its bare stem is kept too, with every product
    listing it, so a file naming only the video is refused as ambiguous (:func:`_read_files`).
    A bad box (reversed corners, a frame key twice, a malformed number) holds out its product
    alone (:func:`_refuse_bad`), unless its folder is published (the refresh after the import
    reads every box) or its entry does not read at all: then it refuses the import, as before."""
    from movingfashion.archive.describe import described

    splits, bad = load_split_heads_rows(root)  # the products' video lists, no boxes parsed
    first = next((b for b in bad if b.video is None), bad[0] if bad and described(root) else None)
    if first is not None:
        raise first.error
    shared = shared_videos(splits)
    videos: dict[str, tuple[str, set[str]]] = {}
    for s in splits.values():
        for pid, e in s.items():
            for vp in e.video_paths:
                videos.setdefault(Path(vp).stem, (vp, set()))[1].add(pid)
                if vp in shared:
                    videos[tracklet_file(root, vp, pid, shared=True).stem] = (vp, {pid})
    held: dict[str, BadVideo] = {}
    for b in bad:
        held.setdefault(b.product_id, b)
    return videos, held


def _refuse_bad(
    files: dict[str, Path], videos: dict[str, tuple[str, set[str]]], bad: dict[str, BadVideo]
) -> None:
    """Refuse, before anything is written, a file of a video whose product's split-file entry
    holds a bad box (its entry cannot be rewritten): naming the CVAT file, the split file, the
    product, the bad video and its frame key. The other products import as usual."""
    for stem, f in files.items():
        vp, pids = videos[stem]
        held = next((bad[p] for p in sorted(pids) if p in bad), None)
        if held is None:
            continue
        at = f"product {held.product_id!r}, video {held.video!r}"
        at += f", frame key {held.frame_key!r}" if held.frame_key is not None else ""
        raise DataFormatError(
            f"video {vp!r}: its product's entry in {held.path} holds a bad box ({at}), and an import "
            f"rewrites that entry whole: {held.error.message}",
            where=str(f),
            hint=f"fix that box in {held.path}, or import the other files without this one",
        )


def _per_product(key: str, videos: dict[str, tuple[str, set[str]]]) -> bool:
    """``key`` names one product's tracklet file of a video several products list."""
    return key != Path(videos[key][0]).stem


def _read_files(source: str | os.PathLike[str], videos: dict[str, tuple[str, set[str]]]) -> dict[str, Path]:
    """Tracklet file stem -> the CVAT file of it (each file parsed and named to one video; for a
    video several products list, to one product's file of it, ``<video stem>@<product>``). The
    parsed files are not kept: an import holds one file's tracks at a time."""
    out: dict[str, Path] = {}
    for f in cvat_files(source):
        cv = read_cvat(f)
        known = [n for n in cv.names if n in videos]
        # a product's file of a shared video first: the file or task names it beside the video
        stem = next((n for n in known if _per_product(n, videos)), known[0] if known else None)
        if stem is not None and len(videos[stem][1]) > 1:
            vp, pids = videos[stem]
            raise DataFormatError(
                f"names video {vp!r}, which products {', '.join(sorted(pids))} list: each has its own "
                "tracklets of it",
                where=str(f),
                hint=f"name the file (or the task) {stem}@<product>.xml, as mf-tracklets export does",
            )
        named = sorted({videos[n][0] for n in known})
        if len(named) > 1:  # the file's name and its task's <source> disagree: neither wins silently
            raise DataFormatError(
                f"names two videos of the dataset: {' and '.join(named)} (its file name, <source> or task name)",
                where=str(f),
                hint="rename the file after its task's video, or correct the task's <source>",
            )
        if stem is None:
            raise DataFormatError(
                f"names no video of the dataset (tried {', '.join(dict.fromkeys(cv.names))})",
                where=str(f),
                hint="name the file <video stem>.xml or set the task's <source>",
            )
        if stem in out:
            raise DataFormatError(
                f"video {stem} also comes from {out[stem]}",
                where=str(f),
                hint="import one file per video: move one of the two out of the folder",
            )
        out[stem] = f
    return out


def _merge_each(
    root: Path,
    videos: dict[str, tuple[str, set[str]]],
    files: dict[str, Path],
    tracks: str,
    force: bool = False,
) -> Iterator[tuple[str, ImportedVideo]]:
    """Each file merged into its video's tracklet file as it is now (nothing written), one at a
    time: the file is parsed again here, so no more than one file's tracks are held."""
    for stem, f in files.items():
        cv = read_cvat(f)
        vp, pids = videos[stem]
        shared = _per_product(stem, videos)
        path = tracklet_file(root, vp, next(iter(pids)) if shared else None, shared=shared)
        created = not path.is_file()
        vt = _official_start(root, vp, next(iter(pids))) if created else read_video_tracklets(path, video=vp)
        if vt.product_id not in pids:
            raise DataFormatError(
                f"field 'product_id': {vt.product_id!r}, but the split files list {vp!r} under "
                f"{', '.join(repr(p) for p in sorted(pids))}",
                where=str(path),
                hint="restore the file, or delete it and rerun mf-tracklets build",
            )
        res = merge_tracks(vt, cv, tracks, force=force)
        res.created = created
        yield stem, res


def _official_start(root: Path, video: str, product_id: str) -> VideoTracklets:
    """What an import into a video without a tracklet file starts from: its split-file entry's
    tracklet (:func:`annotations.exchange.common.official_video_tracklets`): that entry alone read
    (:func:`schemas.official.read_official_entry`; where it is was kept by the heads read), not
    the split files whole once per video."""
    from schemas.official import read_official_entry, read_official_heads_rows, split_identity

    for p in split_files_present(root):
        identity = split_identity(p)
        head = read_official_heads_rows(p)[0].get(product_id)  # a bad box elsewhere: held out
        if head is None or video not in head.video_paths:
            continue
        entry = read_official_entry(p, product_id, video, identity=identity)
        if entry is not None:
            return official_video_tracklets(root, product_id, entry, video)
    raise DataFormatError(  # _dataset_videos read it from the split files: changed since
        f"no product {product_id!r} listing {video!r} in the split files",
        where=str(root),
        hint="the split files changed during the import: run it again",
    )


def _write(root: Path, merged: Iterator[tuple[str, ImportedVideo]], cat: Any) -> dict[str, ImportedVideo]:
    """Write what changed (tracklet files, split files), record each video the file changed in the
    catalog ``cat`` (None: none; :func:`import_cvat` says which), refresh a published folder's
    tables and manifest; returns each video's result with its tracklets let go (``vt`` None). The
    caller holds the dataset's lock."""
    done: dict[str, ImportedVideo] = {}
    ground_truths: list[_GroundTruth] = []
    written = False
    changed: list[str] = []  # tracklet files written (the split files are always hashed again)
    shared = dataset_shared_videos(root)
    # a killed import (or build, or pick) left the mark: its files are written, its refresh is not
    unfinished = bool(pending_by(root))
    from movingfashion.archive.describe import tables_current

    # the box tables hold the split files' rows before any write: the refresh rewrites only
    # the imported videos' rows
    current = not unfinished and tables_current(root)
    set_pending(root, BY_IMPORT)  # a kill from here to the refresh leaves it: the rerun refreshes
    try:
        for stem, res in merged:
            if res.ground_truth_class is not None:  # before the files: a rerun would see no change
                _follow_class(cat, res)
            is_shared = res.vt.video in shared
            path = tracklet_file(root, res.vt.video, res.vt.product_id, shared=is_shared)
            from annotations.sheets import redraw_sheet, sheet_is_stale

            rewrite = not path.is_file() or res.vt != read_video_tracklets(path, video=res.vt.video)
            if rewrite:
                write_video_tracklets(root, res.vt, shared=is_shared)
                changed.append(path.relative_to(root).as_posix())
                written = True  # before the sheet: an interrupt while drawing it still refreshes
            # a video with a sheet gets it redrawn (none: nothing drawn), also one an import
            # stopped before its sheet left older than the tracklet file
            if rewrite or sheet_is_stale(root, res.vt.video, res.vt.product_id, shared=is_shared):
                sheet = redraw_sheet(root, res.vt, shared=is_shared)
                if sheet is not None:
                    changed.append(sheet.relative_to(root).as_posix())
                    written = True
            if cat is not None and (res.changed or (unfinished and not _import_recorded(cat, res.vt))):
                from schemas.review import record_decision

                record_decision(
                    cat, video=res.vt.video, product_id=res.vt.product_id, kind="import", note=res.note()
                )
            res.frames = res.vt.frames
            ground_truths.append(_GroundTruth(res.vt.product_id, res.vt.video, res.vt.official()))
            res.vt = None  # written: an import of thousands of videos holds none of their tracklets
            done[stem] = res
        # every split file read once and written at most once (not once per video: audit_xchg X1)
        written = bool(set_official_tracklets(root, ground_truths)) or written
    finally:
        if unfinished:
            refresh_if_pending(root)  # every file hashed again; clears what the refresh settles
        elif written:
            from movingfashion.archive.describe import refresh

            videos = [(g.product_id, g.video) for g in ground_truths] if current else None
            refresh(root, changed=changed, videos=videos)  # a published folder: tables, card, manifest follow
        clear_pending(root, BY_IMPORT)  # not reached when the refresh failed: the rerun redoes it
    return done


def _import_recorded(cat: Any, vt: VideoTracklets) -> bool:
    """Whether the latest live decision of the video's review (in the catalog ``cat``) is an import:
    a rerun of an import whose tracklet file holds it already records none again (each would be one
    more decision, which no undo of the reviewer's earlier ones passes)."""
    from schemas.review import list_decisions

    mine = [d for d in list_decisions(cat, video=vt.video) if d.product_id == vt.product_id]
    return bool(mine) and mine[-1].kind == "import"


def _follow_class(cat: Any, res: ImportedVideo) -> None:
    """The product's class follows the class the annotator gave its ground-truth track: a
    ``class`` decision in the catalog ``cat`` (as the review page's ``c``), or a warning saying
    where to set it when there is no catalog or it does not hold the product."""
    from schemas.review import find_item, record_decision

    assert res.vt is not None and res.ground_truth_class is not None
    name = DF2_CLASSES[res.ground_truth_class]
    where = f"{res.file}: the ground-truth track's class is now {name}"
    if cat is None:
        res.warnings.append(f"{where}: pass --catalog to make it the product's class, or set it in mf review")
    elif find_item(cat, res.vt.product_id) is None:
        res.warnings.append(
            f"{where}, but the catalog holds no product {res.vt.product_id}: its class is unchanged"
        )
    else:
        record_decision(
            cat,
            video=res.vt.video,
            product_id=res.vt.product_id,
            kind="class",
            df2_class=res.ground_truth_class,
            note=f"cvat: {res.file.name}, the ground-truth track relabelled",
        )
        res.warnings.append(f"{where}: recorded as the product's class (the next mf publish applies it)")


@dataclass(frozen=True)
class _GroundTruth:
    """What a split file needs of a video's tracklets: its product, video and ground-truth boxes."""

    product_id: str
    video: str
    boxes: dict[str, list[float]]

    def official(self) -> dict[str, list[float]]:
        return self.boxes


def import_cvat(
    dataset: str | os.PathLike[str],
    source: str | os.PathLike[str],
    *,
    tracks: str = "gt",
    catalog: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Import CVAT for video XML (a file or a folder of them); returns what changed. ``force``:
    a file exported before another change of a tracklet still replaces it (:func:`merge_tracks`).

    Every file is checked against the tracklet files before the dataset's lock is taken (a
    refused import leaves the folder as it was), then merged again and written under it.

    ``catalog``: one ``import`` decision is recorded for each video whose tracklets the file
    changed (boxes, classes or the ground truth), none for a video that came back unchanged: a
    task exported and imported as it was says nothing about whether anyone looked at it (CVAT
    exports every task), and an import decision cannot be undone, so each would also stand
    before the reviewer's earlier decisions. An import is never a verdict: "checked, fine" is an
    accept (the page, or ``mf-tracklets review --accept``), the only decision that lifts a hold.
    A rerun after an import was killed between its writes and its records (the refresh-pending
    mark says so) records one for each video whose latest decision is not an import already.
    """
    if tracks not in TRACK_CHOICES:
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")
    root = Path(dataset)
    if catalog is not None:  # another collection's catalog is refused before anything is read
        from annotations.review.marks import require_catalog_knows_dataset

        require_catalog_knows_dataset(root, catalog)
    videos, bad = _dataset_videos(root)
    files = _read_files(source, videos)
    _refuse_bad(files, videos, bad)
    for _ in _merge_each(root, videos, files, tracks, force):  # every file checked before anything is written
        pass
    cat = None
    if catalog is not None:  # opened (and checked) before the lock: a bad one changes nothing
        from schemas.catalog import Catalog

        cat = Catalog(catalog, must_exist=True)
    try:
        with dataset_lock(root):
            # merged with what is there now (a pick meanwhile is kept) and written, one at a time
            done = _write(root, _merge_each(root, videos, files, tracks, force), cat)
    finally:
        if cat is not None:
            cat.close()
    warnings = [w for r in done.values() for w in r.warnings]
    for w in warnings:
        log.warning("import: %s", w)
    return {
        "dataset": str(root),
        "videos": len(done),
        "changed_videos": sorted(s for s, r in done.items() if r.changed),
        "changed_classes": {s: r.classes_changed for s, r in sorted(done.items()) if r.classes_changed},
        "ground_truth_moved": sorted(s for s, r in done.items() if r.ground_truth_moved),
        "changed_boxes": sum(r.changed_boxes for r in done.values()),
        "missing_tracks": {s: r.missing for s, r in sorted(done.items()) if r.missing},
        "frame_ranges": {s: _range_report(r) for s, r in sorted(done.items()) if r.frame_range is not None},
        "created": sorted(s for s, r in done.items() if r.created),
        "warnings": warnings,
        "files": [str(r.file) for r in done.values()],
    }


def _range_report(res: ImportedVideo) -> dict[str, Any]:
    """The frames a file replaced: ``start``, ``stop`` (None: to the end), ``step``, and whether
    that is the ``whole`` video."""
    span = res.frame_range
    assert span is not None
    return {"start": span.start, "stop": span.stop, "step": span.step, "whole": span.whole(res.frames)}
