"""What the exporters share: the videos of a dataset with their tracklets, labels, numbers.

A video's tracklets are its tracklet file's (``tracklets/<video>.json``, what ``mf-tracklets
build`` writes); a video without one (the archive as published: only train.json / test.json)
gets its split-file entry's tracklet, one ground-truth track labelled :data:`NO_CLASS_LABEL`,
the video's frame count and size probed (:func:`official_video_tracklets`). A video with
neither is left out, and :func:`select_videos` says which and why.

Every format gets the boxes an annotation tool (and the CVAT import) takes: a box on a frame
outside ``0 .. frames-1`` of its video is left out, a box reaching outside the frame is clipped
to it (one left with no area, under 1 px wide or high, is left out), and a tracklet left with no
box is not exported. Each video where that happened gets one warning (logger
``annotations.exchange``) naming the video, the tracklets and the frames. A box left out is
kept as it is by an import (:func:`left_out_by_export`): a tool that never showed it cannot
have deleted it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeGuard

from annotations.tracklet_files import (
    OnBad,
    load_splits_rows,
    read_video_tracklets,
    tracklet_file,
)
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import ConfigError, DataFormatError, MediaError
from schemas.official import BadVideo, OfficialEntry
from schemas.paths import resolve_under
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES, DF2_IDS
from schemas.tracklet_names import shared_videos as _listed_shared

if TYPE_CHECKING:
    from movingfashion.media.probe import VideoInfo

#: label of a tracklet without a DeepFashion2 class
NO_CLASS_LABEL = "item"
#: every label the exports declare, in this order (MOT class = position + 1)
LABELS: list[str] = [*DF2_CLASSES.values(), NO_CLASS_LABEL]
TRACK_CHOICES = ("gt", "all")
#: frames listed in a warning before "and N more"
SHOWN_FRAMES = 5

log = redacted_logger("annotations.exchange")


def label_of(t: Tracklet) -> str:
    """A tracklet's own class (the detector's, or the one an import set) as a label: its
    DeepFashion2 class name, or :data:`NO_CLASS_LABEL`."""
    return DF2_CLASSES.get(t.class_id or 0, NO_CLASS_LABEL)


def export_label(v: ExportVideo, i: int) -> str:
    """The label an export gives tracklet ``i`` of ``v``: the product's class (the dataset's
    truth, ``df2_class`` of ``entries.jsonl``) for the ground-truth tracklet when the dataset
    records one, else the tracklet's own class (:func:`label_of`). The tracklet's own class is
    written beside it where the format has a place (CVAT/FiftyOne: the ``detector_class``
    attribute; MOT: ``gt/detector_labels.txt``), so a reviewer sees a disagreement."""
    if i == v.vt.ground_truth and v.product_class in DF2_CLASSES:
        return DF2_CLASSES[v.product_class]  # type: ignore[index]
    return label_of(v.vt.tracklets[i])


def class_of(label: str, where: str) -> int | None:
    """The DeepFashion2 class id of an export label (None for :data:`NO_CLASS_LABEL`)."""
    if label == NO_CLASS_LABEL:
        return None
    if label not in DF2_IDS:
        raise DataFormatError(
            f"unknown label {label!r}",
            where=where,
            hint=f"use a DeepFashion2 class name or {NO_CLASS_LABEL!r}",
        )
    return DF2_IDS[label]


def number_text(v: float | int) -> str:
    """A coordinate as text that reads back exactly: ints as ints, floats in their shortest
    round-trip form (``12.5``, ``12.0``)."""
    return str(v) if isinstance(v, int) else repr(float(v))


_INT = re.compile(r"^[+-]?\d+$")


def number_value(text: str, where: str) -> int | float:
    """Inverse of :func:`number_text`: an integer literal gives an int, anything else a float."""
    s = text.strip()
    try:
        return int(s) if _INT.match(s) else float(s)
    except ValueError:
        raise DataFormatError(
            f"{text!r} is not a number",
            where=where,
            hint="write a plain number there (a pixel position, as the export wrote it)",
        ) from None


#: what no export writes in a name (the task name and source of a CVAT file, a MOT sequence's
#: ``name=`` and folder, a FiftyOne file): a control character (C0, DEL, C1; XML reads a CR back
#: as LF, a line break would start a new ``seqinfo.ini`` key) or a character XML cannot hold
UNWRITABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def refuse_unwritable_name(text: str, video: str, field: str, kind: str) -> None:
    """:class:`DataFormatError` naming ``field`` (``meta/task/name``, ``seqinfo.ini name`` ...)
    of the ``kind`` file (``CVAT XML``, ``MOT``) when ``text`` holds a character it cannot carry
    as it is (:data:`UNWRITABLE`); ``where`` is the video (``ascii``: shown escaped). The split
    files refuse such paths and ids, so only a tracklet file or a caller can bring one."""
    bad = UNWRITABLE.search(text)
    if bad:
        raise DataFormatError(
            f"the {kind} {field} {ascii(text)} holds {ascii(bad.group())}, a character the {kind} "
            "file cannot carry as it is (XML cannot hold it, or reads it back as another)",
            where=ascii(video),
            hint="rename the video (and its entry in the split files) with printable characters",
        )


@dataclass
class ExportVideo:
    """One video to export: its tracklet file contents and the tracklets chosen."""

    vt: VideoTracklets
    tracks: list[int]  #: indices into ``vt.tracklets``
    warning: str | None = field(default=None, compare=False)  #: what :func:`fit_to_video` changed
    #: the stem of its tracklet file when that is not the video's (``<video stem>@<product>``: a
    #: video several products list is exported once per product, under this name)
    key: str | None = None
    #: the product's DeepFashion2 class (``df2_class`` of ``entries.jsonl``; None: not recorded)
    product_class: int | None = None

    @property
    def stem(self) -> str:
        return self.key or Path(self.vt.video).stem


def _boxes(frames: list[int]) -> str:
    return f"{len(frames)} box{'es' if len(frames) > 1 else ''}"


def _frames_text(frames: list[int]) -> str:
    shown = ", ".join(str(f) for f in frames[:SHOWN_FRAMES])
    more = len(frames) - SHOWN_FRAMES
    return f"frame{'s' if len(frames) > 1 else ''} {shown}" + (f" and {more} more" if more > 0 else "")


def clip_to_frame(box: list[int | float], vt: VideoTracklets) -> list[int | float]:
    """``box`` clipped to ``vt``'s frame, as every export writes it and the import reads it back."""
    return [
        min(max(v, 0), lim) for v, lim in zip(box, (vt.width, vt.height, vt.width, vt.height), strict=True)
    ]


def _no_area(box: list[int | float]) -> bool:
    return box[2] - box[0] < 1 or box[3] - box[1] < 1


def left_out_by_export(
    boxes: Mapping[int, list[int | float]], vt: VideoTracklets
) -> dict[int, list[int | float]]:
    """The boxes of ``boxes`` an export leaves out: on a frame outside ``0 .. frames-1``, or with
    no area once clipped to the frame. An annotation tool never shows them, so an import keeps
    them as they are (:func:`annotations.exchange.importer.merge_tracks`)."""
    return {f: b for f, b in boxes.items() if not 0 <= f < vt.frames or _no_area(clip_to_frame(b, vt))}


def _fit_tracklet(t: Tracklet, vt: VideoTracklets) -> tuple[Tracklet, list[str]]:
    """``t`` with its boxes on the video's frames, clipped to the frame; what was changed."""
    w, h = vt.width, vt.height
    boxes: dict[int, list[int | float]] = {}
    off, clipped, empty = [], [], []
    for f, box in sorted(t.boxes.items()):
        if not 0 <= f < vt.frames:
            off.append(f)
            continue
        fit = clip_to_frame(box, vt)
        if _no_area(fit):
            empty.append(f)
            continue
        if fit != list(box):
            clipped.append(f)
        boxes[f] = fit
    notes = []
    if off:
        on = "frames" if len(off) > 1 else "a frame"
        notes.append(f"{_boxes(off)} on {on} outside 0..{vt.frames - 1} left out ({_frames_text(off)})")
    if empty:
        notes.append(
            f"{_boxes(empty)} with no area in the {w}x{h} frame (under 1 px wide or high, or outside it) "
            f"left out ({_frames_text(empty)}); an import of this export keeps them as they are"
        )
    if clipped:
        notes.append(f"{_boxes(clipped)} clipped to the {w}x{h} frame ({_frames_text(clipped)})")
    return (t.model_copy(update={"boxes": boxes}) if notes else t), notes


def tracklet_revision(t: Tracklet, vt: VideoTracklets) -> str:
    """A short digest of tracklet ``t`` of ``vt`` as an export writes it (its class and its boxes
    fitted to the video): the ``revision`` a CVAT export carries, which an import compares with
    the tracklet's now to tell a file made before another change of it."""
    fitted, _ = _fit_tracklet(t, vt)
    data = json.dumps(
        [fitted.class_id, sorted((f, list(b)) for f, b in fitted.boxes.items())], separators=(",", ":")
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def fit_to_video(vt: VideoTracklets, tracks: list[int]) -> ExportVideo:
    """The video to export with the tracklets ``tracks`` fitted to it (see the module docstring);
    ``warning`` says what changed (None: nothing), and is logged."""
    new = list(vt.tracklets)
    kept, parts = [], []
    for i in tracks:
        new[i], notes = _fit_tracklet(vt.tracklets[i], vt)
        if new[i].boxes:
            kept.append(i)
        else:
            notes.append("no box left: the tracklet is not exported")
        if notes:
            parts.append(f"tracklet {i}: " + "; ".join(notes))
    if not parts:
        return ExportVideo(vt, tracks)
    warning = f"video {Path(vt.video).stem} ({vt.video}): " + " | ".join(parts)
    log.warning("export: %s", warning)
    return ExportVideo(vt.model_copy(update={"tracklets": new}), kept, warning)


@dataclass(frozen=True)
class LeftOut:
    """A video of the split files an export leaves out, and why."""

    stem: str  #: its name in the export (``<video stem>`` or ``<video stem>@<product>``)
    video: str  #: its path in the split file
    product_id: str
    reason: str
    unreadable: bool = False  #: it has a tracklet in the split file, but its video does not open


def official_video_tracklets(
    dataset: str | os.PathLike[str], product_id: str, entry: OfficialEntry, video: str
) -> VideoTracklets:
    """A video's tracklets as its split-file entry gives them: the entry's tracklet of ``video``
    as tracklet 0, the ground truth (``mode="ground-truth"``, no class: label
    :data:`NO_CLASS_LABEL`), or no tracklet when the entry has no box for it. The frame count
    and size are probed from the video (:func:`movingfashion.media.probe.probe_video`); a video
    that does not open, or whose header declares more frames than any video has
    (:attr:`~movingfashion.media.probe.VideoInfo.frames_problem`), raises
    :class:`~schemas.errors.MediaError` naming it."""
    from movingfashion.media.probe import probe_video

    boxes = entry.tracklet_boxes(entry.video_paths.index(video))
    path = resolve_under(dataset, video, what="video", root_label="the dataset folder")
    info = probe_video(path)
    if info.frames_problem is not None:  # no tracklet file could hold it
        raise MediaError(
            info.frames_problem,
            where=str(path),
            hint="the video's header is damaged or forged: replace the video",
        )
    tracklets = [Tracklet(video=video, boxes=boxes, mode="ground-truth")] if boxes else []
    return VideoTracklets(
        product_id=product_id,
        video=video,
        frames=info.frames,
        width=info.width,
        height=info.height,
        tracklets=tracklets,
        ground_truth=0 if tracklets else None,
    )


def _video_tracklets(
    root: Path, path: Path, pid: str, entry: OfficialEntry, vp: str, split: str
) -> VideoTracklets | LeftOut:
    """The tracklets to export of one product's video: its tracklet file's, else its split-file
    entry's; or why there are none."""
    if path.is_file():
        return read_video_tracklets(path)
    if not entry.tracklet_boxes(entry.video_paths.index(vp)):
        return LeftOut(path.stem, vp, pid, f"no tracklet file and no tracklet in {split}")
    try:
        return official_video_tracklets(root, pid, entry, vp)
    except MediaError as exc:
        why = f"no tracklet file, and the video of its tracklet in {split} does not open: {exc}"
        return LeftOut(path.stem, vp, pid, why, unreadable=True)


@dataclass(frozen=True)
class PlannedVideo:
    """One product's video an export will read: where its tracklets are, nothing read yet."""

    stem: str  #: its tracklet file's stem (the name the export gives it)
    path: Path  #: its tracklet file (may not exist)
    product_id: str
    entry: OfficialEntry
    video: str
    split: str
    shared: bool  #: several products list the video
    #: the product's DeepFashion2 class (``df2_class`` of ``entries.jsonl``; None: not recorded)
    product_class: int | None = None


class ExportPlan(NamedTuple):
    """What an export of a dataset reads (:func:`plan_export`)."""

    #: the videos to read, sorted by the name they are exported under
    videos: list[PlannedVideo]
    #: the videos of the products held out (``on_bad="skip"``), sorted: left out, the reason the
    #: held-out entry's first problem (their earlier files in ``--out`` stay, as a left-out video's)
    held_out_videos: list[LeftOut]
    #: what is wrong with each product held out (one or more per product)
    held_out: list[BadVideo]


def plan_export(
    dataset: str | os.PathLike[str], videos: Iterable[str] = (), on_bad: OnBad = "skip"
) -> ExportPlan:
    """The videos an export of ``dataset`` reads (all, or those ``videos`` names), from the split
    files alone; :class:`DataFormatError` naming the names that match no video (see
    :func:`select_videos`). ``on_bad`` (the dataset's convention): ``"skip"`` holds out a product
    whose entry the reader refuses (a bad box, a missing or malformed field) and plans the others
    (:func:`~annotations.tracklet_files.load_splits_rows`); ``"raise"`` refuses the dataset."""
    root = Path(dataset)
    wanted = set(videos)
    read = load_splits_rows(root, on_bad)
    held: dict[str, list[str]] = {}
    for vp, pid in read.held_videos:
        held.setdefault(pid, []).append(vp)
    listings = [(pid, e.video_paths) for split in read.splits.values() for pid, e in split.items()]
    shared = _listed_shared([*listings, *held.items()])
    classes = product_classes(root)
    plan: dict[str, PlannedVideo] = {}
    for name, split in read.splits.items():
        for pid, entry in split.items():
            for vp in entry.video_paths:
                p = tracklet_file(root, vp, pid, shared=vp in shared)  # this product's file of it
                if (wanted and Path(vp).stem not in wanted and p.stem not in wanted) or p.stem in plan:
                    continue
                plan[p.stem] = PlannedVideo(p.stem, p, pid, entry, vp, name, vp in shared, classes.get(pid))
    why = {b.product_id: b.line() for b in reversed(read.held_out)}  # a product's first problem
    out: dict[str, LeftOut] = {}
    for vp, pid in sorted(read.held_videos):
        try:
            stem = tracklet_file(root, vp, pid, shared=vp in shared).stem
        except DataFormatError:  # a path the entry should not hold: its own problem, named
            continue
        if (wanted and Path(vp).stem not in wanted and stem not in wanted) or stem in plan:
            continue
        out[stem] = LeftOut(stem, vp, pid, f"held out: {why[pid]}")
    missing = wanted - set(plan) - {Path(v.video).stem for v in plan.values()}
    missing -= set(out) | {Path(lo.video).stem for lo in out.values()}
    if missing:
        raise DataFormatError(
            f"no video {', '.join(sorted(missing))} in the split files",
            where=str(root),
            hint="--video takes a video's file name without its suffix (mf-tracklets export --help)",
        )
    return ExportPlan([plan[k] for k in sorted(plan)], [out[k] for k in sorted(out)], read.held_out)


def product_classes(dataset: str | os.PathLike[str]) -> dict[str, int]:
    """Each product's DeepFashion2 class as ``entries.jsonl`` records it (``df2_class``); empty
    without the file (the archive as published: only the split files). A row the reader refuses
    is left out (its product's label is then its tracklet's own class)."""
    from schemas.dataset import read_entry_rows

    path = Path(dataset) / "entries.jsonl"
    if not path.is_file():
        return {}
    rows = read_entry_rows(path, bad=[])
    return {pid: int(r["df2_class"]) for pid, r in rows.items() if isinstance(r.get("df2_class"), int)}


def plan_videos(dataset: str | os.PathLike[str], videos: Iterable[str] = ()) -> list[PlannedVideo]:
    """The videos an export of ``dataset`` reads (all, or those ``videos`` names), sorted by the
    name they are exported under, from the split files alone; :class:`DataFormatError` naming
    the names that match no video (see :func:`select_videos`), and the first product whose entry
    the reader refuses (:func:`plan_export` with ``on_bad="raise"``)."""
    return plan_export(dataset, videos, "raise").videos


def load_planned(
    dataset: str | os.PathLike[str], v: PlannedVideo, tracks: str = "gt"
) -> ExportVideo | LeftOut:
    """One planned video read and fitted to its video (:func:`fit_to_video`), or why it is left
    out (neither a tracklet file nor a tracklet in the split file, or a video that does not open)."""
    vt = _video_tracklets(Path(dataset), v.path, v.product_id, v.entry, v.video, v.split)
    if isinstance(vt, LeftOut):
        return vt
    if tracks == "all":
        idx = list(range(len(vt.tracklets)))
    else:
        idx = [] if vt.ground_truth is None else [vt.ground_truth]
    ev = fit_to_video(vt, idx)
    ev.product_class = v.product_class
    if v.shared:
        ev.key = v.stem
    return ev


def check_tracks(tracks: str) -> None:
    """:class:`ConfigError` for a ``--tracks`` value that is not one of :data:`TRACK_CHOICES`."""
    if tracks not in TRACK_CHOICES:
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")


def nothing_exported(dataset: str | os.PathLike[str], left: list[LeftOut], wanted: bool) -> None:
    """The error when every video was left out: the reasons, when videos were named or one does
    not open; else nothing is raised here (the caller says there is no tracklet at all)."""
    if left and (wanted or any(lo.unreadable for lo in left)):
        raise DataFormatError(
            f"nothing to export: {_left_out_text({lo.stem: lo.reason for lo in left})}",
            where=str(dataset),
            hint="run mf-tracklets build for these videos, or check --video and the video files",
        )


def select_videos(
    dataset: str | os.PathLike[str], tracks: str = "gt", videos: Iterable[str] = ()
) -> tuple[list[ExportVideo], list[LeftOut]]:
    """The dataset's videos to export (all, or the stems in ``videos``), sorted, each fitted to
    its video (:func:`fit_to_video`), and those left out (neither a tracklet file nor a tracklet
    in the split file, or a video that does not open), sorted. A video several products list is
    exported once per product, named ``<video stem>@<product>`` (the stem of its tracklet file;
    ``videos`` may name it so, or by the video's stem for every product's).

    ``tracks``: ``gt`` = the ground-truth tracklet only, ``all`` = every tracklet. This holds
    every video's tracklets at once; an export streams them (:func:`plan_videos`,
    :func:`load_planned`).
    """
    check_tracks(tracks)
    names = list(videos)
    out: list[ExportVideo] = []
    left: list[LeftOut] = []
    for v in plan_videos(dataset, names):
        got = load_planned(dataset, v, tracks)
        (left if isinstance(got, LeftOut) else out).append(got)  # type: ignore[arg-type]
    if not out:
        nothing_exported(dataset, left, bool(names))
    return out, left


def export_videos(
    dataset: str | os.PathLike[str], tracks: str = "gt", videos: Iterable[str] = ()
) -> list[ExportVideo]:
    """The videos :func:`select_videos` exports (without those it leaves out)."""
    return select_videos(dataset, tracks, videos)[0]


def _left_out_text(left: Mapping[str, str], shown: int = SHOWN_FRAMES) -> str:
    """``video (reason); ...`` for the first ``shown`` videos, then ``and N more``."""
    items = list(left.items())
    text = "; ".join(f"{stem} ({why})" for stem, why in items[:shown])
    return text + (f"; and {len(items) - shown} more" if len(items) > shown else "")


def left_out_line(left: Mapping[str, str]) -> str:
    """One line saying which videos an export left out (name -> why)."""
    n = len(left)
    return f"{n} video{'s' if n > 1 else ''} left out: {_left_out_text(left)}"


def runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of sorted frame indices."""
    out: list[tuple[int, int]] = []
    for f in sorted(frames):
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def sort_written(path: Path, changed: bool, written: list[Path], unchanged: list[Path] | None) -> None:
    """Append an export's ``path`` to ``written`` when ``changed`` (its bytes were written), else
    to ``unchanged`` when given: the writers' report of a rerun that rewrote nothing."""
    if changed:
        written.append(path)
    elif unchanged is not None:
        unchanged.append(path)


def missing_video(src: Path, needs: str) -> MediaError:
    """The error of a video an export ``needs`` (its bytes, its frame rate) that the dataset
    lacks (deleted, or gone while the export ran)."""
    return MediaError(
        f"video not found: the dataset's tracklet file names it, {needs}",
        where=str(src),
        hint="restore the video (mf verify --dataset lists what is missing), then rerun the same "
        "command: the files already exported are kept",
    )


def unreadable_video(src: Path, exc: MediaError, needs: str) -> MediaError:
    """The error of a video an export ``needs`` (its bytes, its frame rate) that is there but cannot be read
    (damaged, truncated, not a video, no frame rate): ``exc`` says why."""
    return MediaError(
        f"video unreadable ({exc.message}), {needs}",
        where=str(src),
        hint="replace it with a readable copy (mf verify --dataset lists the videos that do not "
        "decode), then rerun the same command: the files already exported are kept",
    )


def usable_rate(fps: float | None) -> TypeGuard[float]:
    """Whether ``fps`` is a frame rate an export can write (a finite number above 0)."""
    return fps is not None and math.isfinite(fps) and fps > 0


def checked_source(src: Path, needs: str, *, rate: bool = False) -> VideoInfo:
    """The video ``src`` an export ``needs`` (its bytes, its frame rate), probed: the one check
    the exporters share before they write a video's files (FiftyOne: it is copied; MOT: its rate
    goes in ``seqinfo.ini``). :func:`missing_video` when it is not there, :func:`unreadable_video`
    when it does not open or decode (damaged, truncated, not a video) or, with ``rate``, gives
    no frame rate; the caller skips it and lists it in ``failed`` (:func:`failed_row`)."""
    from movingfashion.media.probe import probe_video

    if not src.is_file():
        raise missing_video(src, needs)
    try:
        info = probe_video(src)
        if rate and not usable_rate(info.fps):
            raise MediaError(
                "no frame rate in its header or timestamps",
                where=str(src),
                hint="re-encode it with a constant frame rate",
            )
    except MediaError as exc:
        raise unreadable_video(src, exc, needs) from None
    return info


def failed_row(v: ExportVideo, src: Path, exc: Exception) -> dict[str, str]:
    """The ``failed`` row of a video an exporter skips: ``video``, ``product_id``, ``path``, ``error``."""
    return {"video": v.vt.video, "product_id": v.vt.product_id, "path": str(src), "error": str(exc)}
