"""What the exporters share: the videos of a dataset with their tracklets, labels, numbers.

Every format gets the boxes an annotation tool (and the CVAT import) takes: a box on a frame
outside ``0 .. frames-1`` of its video is left out, a box reaching outside the frame is clipped
to it (one left with no area, under 1 px wide or high, is left out), and a tracklet left with no
box is not exported. Each video where that happened gets one warning (logger
``annotations.exchange``) naming the video, the tracklets and the frames.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from annotations.tracklet_files import load_splits, read_video_tracklets, shared_videos, tracklet_file
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import ConfigError, DataFormatError
from schemas.taxonomy import DF2_CLASSES, DF2_IDS

#: label of a tracklet without a DeepFashion2 class
NO_CLASS_LABEL = "item"
#: every label the exports declare, in this order (MOT class = position + 1)
LABELS: list[str] = [*DF2_CLASSES.values(), NO_CLASS_LABEL]
TRACK_CHOICES = ("gt", "all")
#: frames listed in a warning before "and N more"
SHOWN_FRAMES = 5

log = logging.getLogger("annotations.exchange")


def label_of(t: Tracklet) -> str:
    """The export label of a tracklet: its DeepFashion2 class name, or :data:`NO_CLASS_LABEL`."""
    return DF2_CLASSES.get(t.class_id or 0, NO_CLASS_LABEL)


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
        raise DataFormatError(f"{text!r} is not a number", where=where) from None


@dataclass
class ExportVideo:
    """One video to export: its tracklet file contents and the tracklets chosen."""

    vt: VideoTracklets
    tracks: list[int]  #: indices into ``vt.tracklets``
    warning: str | None = field(default=None, compare=False)  #: what :func:`fit_to_video` changed
    #: the stem of its tracklet file when that is not the video's (``<video stem>@<product>``: a
    #: video several products list is exported once per product, under this name)
    key: str | None = None

    @property
    def stem(self) -> str:
        return self.key or Path(self.vt.video).stem


def _boxes(frames: list[int]) -> str:
    return f"{len(frames)} box{'es' if len(frames) > 1 else ''}"


def _frames_text(frames: list[int]) -> str:
    shown = ", ".join(str(f) for f in frames[:SHOWN_FRAMES])
    more = len(frames) - SHOWN_FRAMES
    return f"frame{'s' if len(frames) > 1 else ''} {shown}" + (f" and {more} more" if more > 0 else "")


def _fit_tracklet(t: Tracklet, vt: VideoTracklets) -> tuple[Tracklet, list[str]]:
    """``t`` with its boxes on the video's frames, clipped to the frame; what was changed."""
    w, h = vt.width, vt.height
    boxes: dict[int, list[int | float]] = {}
    off, clipped, empty = [], [], []
    for f, box in sorted(t.boxes.items()):
        if not 0 <= f < vt.frames:
            off.append(f)
            continue
        fit = [min(max(v, 0), lim) for v, lim in zip(box, (w, h, w, h), strict=True)]
        if fit[2] - fit[0] < 1 or fit[3] - fit[1] < 1:
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
        notes.append(f"{_boxes(empty)} outside the {w}x{h} frame left out ({_frames_text(empty)})")
    if clipped:
        notes.append(f"{_boxes(clipped)} clipped to the {w}x{h} frame ({_frames_text(clipped)})")
    return (t.model_copy(update={"boxes": boxes}) if notes else t), notes


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


def export_videos(
    dataset: str | os.PathLike[str], tracks: str = "gt", videos: Iterable[str] = ()
) -> list[ExportVideo]:
    """The dataset's videos with a tracklet file (all, or the stems in ``videos``), sorted, each
    fitted to its video (:func:`fit_to_video`). A video several products list is exported once
    per product, named ``<video stem>@<product>`` (the stem of its tracklet file; ``videos`` may
    name it so, or by the video's stem for every product's).

    ``tracks``: ``gt`` = the ground-truth tracklet only, ``all`` = every tracklet of the file.
    """
    if tracks not in TRACK_CHOICES:
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")
    root = Path(dataset)
    wanted = set(videos)
    out = []
    seen = set()
    splits = load_splits(root)
    shared = shared_videos(splits)
    for split in splits.values():
        for pid, entry in split.items():
            for vp in entry.video_paths:
                stem = Path(vp).stem
                p = tracklet_file(root, vp, pid, shared=vp in shared)  # this product's file of it
                if (wanted and stem not in wanted and p.stem not in wanted) or p.stem in seen:
                    continue
                seen.add(p.stem)
                if not p.is_file():
                    continue
                vt = read_video_tracklets(p)
                if tracks == "all":
                    idx = list(range(len(vt.tracklets)))
                else:
                    idx = [] if vt.ground_truth is None else [vt.ground_truth]
                ev = fit_to_video(vt, idx)
                if vp in shared:
                    ev.key = p.stem
                out.append(ev)
    missing = wanted - {v.stem for v in out} - {Path(v.vt.video).stem for v in out}
    if missing:
        raise DataFormatError(
            f"no tracklet file for video(s) {', '.join(sorted(missing))}",
            where=str(root / "tracklets"),
            hint="run mf-tracklets build, or check --video",
        )
    return sorted(out, key=lambda v: v.stem)


def runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of sorted frame indices."""
    out: list[tuple[int, int]] = []
    for f in sorted(frames):
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out
