"""What the exporters share: the videos of a dataset with their tracklets, labels, numbers."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from annotations.tracklet_files import load_splits, read_video_tracklets, tracklet_file
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import ConfigError, DataFormatError
from schemas.taxonomy import DF2_CLASSES, DF2_IDS

#: label of a tracklet without a DeepFashion2 class
NO_CLASS_LABEL = "item"
#: every label the exports declare, in this order (MOT class = position + 1)
LABELS: list[str] = [*DF2_CLASSES.values(), NO_CLASS_LABEL]
TRACK_CHOICES = ("gt", "all")


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

    @property
    def stem(self) -> str:
        return Path(self.vt.video).stem


def export_videos(
    dataset: str | os.PathLike[str], tracks: str = "gt", videos: Iterable[str] = ()
) -> list[ExportVideo]:
    """The dataset's videos with a tracklet file (all, or the stems in ``videos``), sorted.

    ``tracks``: ``gt`` = the ground-truth tracklet only, ``all`` = every tracklet of the file.
    """
    if tracks not in TRACK_CHOICES:
        raise ConfigError(f"unknown track choice {tracks!r}", where="--tracks", hint="use gt or all")
    root = Path(dataset)
    wanted = set(videos)
    out = []
    seen = set()
    for split in load_splits(root).values():
        for entry in split.values():
            for vp in entry.video_paths:
                stem = Path(vp).stem
                if (wanted and stem not in wanted) or stem in seen:
                    continue
                seen.add(stem)
                p = tracklet_file(root, vp)
                if not p.is_file():
                    continue
                vt = read_video_tracklets(p)
                if tracks == "all":
                    idx = list(range(len(vt.tracklets)))
                else:
                    idx = [] if vt.ground_truth is None else [vt.ground_truth]
                out.append(ExportVideo(vt, idx))
    missing = wanted - {v.stem for v in out}
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
