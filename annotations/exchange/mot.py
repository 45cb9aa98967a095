"""MOT 1.1 ground truth (MOTChallenge text files, as CVAT's "MOT 1.1" format reads them).

Per video, ``OUT/<video stem>/``::

    seqinfo.ini    [Sequence] name, imDir=img1, frameRate, seqLength, imWidth, imHeight, imExt
    gt/gt.txt      frame,id,x,y,w,h,conf,class,visibility  one line per box
    gt/labels.txt  one label per line; ``class`` in gt.txt is its 1-based line number
    detector_labels.txt  id,label  one line per track: its tracklet's own class (the detector's)

``class`` is the product's class (``df2_class`` of ``entries.jsonl``, the dataset's truth) for
the ground-truth track, else the tracklet's own (:func:`~annotations.exchange.common.export_label`);
gt.txt has no column for a second class, so the tracklet's own class is written beside the
sequence in ``detector_labels.txt`` (outside gt/, which MOT readers take whole), where a reviewer
sees where the detector disagrees with the product.

``frame`` is 1-based (tracklet frame + 1, within ``1..seqLength``: boxes off the video's frames
are left out, boxes are clipped to the frame, as :mod:`.common` says), ``id`` = tracklet index
+ 1, ``x,y`` the top-left corner and ``w,h`` the size in pixels, ``conf`` 1 (a ground-truth
box), ``visibility`` 1. ``frameRate`` is an integer, as MOT readers parse it (the devkit's
``getint``, datumaro's ``int()``): the video's rate rounded (29.97 -> 30), at least 1; a
video whose rate is unknown is refused (:func:`frame_rate`), never given a made-up one.
Numbers: integers stay integers, other values are rounded to 0.01 px. No frames are extracted
(``img1/`` is absent): import gt/ into a CVAT task created from the video itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from annotations.exchange.common import (
    LABELS,
    ExportVideo,
    export_label,
    label_of,
    refuse_unwritable_name,
    sort_written,
    usable_rate,
)
from schemas.atomic import write_if_changed
from schemas.errors import MediaError

#: the file beside a sequence's gt/ naming each track's own class (``id,label``)
DETECTOR_LABELS = "detector_labels.txt"


def _num(v: float) -> str:
    r = round(float(v), 2)
    return str(int(r)) if r == int(r) else f"{r:.2f}".rstrip("0")


def gt_lines(v: ExportVideo) -> list[str]:
    """The gt.txt lines of one video, sorted by frame then id."""
    rows = []
    for i in v.tracks:
        t = v.vt.tracklets[i]
        cls = LABELS.index(export_label(v, i)) + 1
        for f, (x1, y1, x2, y2) in t.boxes.items():
            rows.append(
                (
                    f + 1,
                    i + 1,
                    f"{f + 1},{i + 1},{_num(x1)},{_num(y1)},{_num(x2 - x1)},{_num(y2 - y1)},1,{cls},1",
                )
            )
    return [line for _, _, line in sorted(rows)]


def frame_rate(fps: float | None, video: str | None = None) -> int:
    """The ``seqinfo.ini`` frame rate of a video: its rate rounded, at least 1. A rate that is
    unknown (None, not a number, 0 or less) is a :class:`~schemas.errors.MediaError` naming
    ``video``: a MOT reader times the boxes by it, so none is made up (it was 30, unsaid)."""
    if not usable_rate(fps):
        raise MediaError(
            f"no frame rate for the MOT sequence ({fps!r}): seqinfo.ini needs the video's own",
            where=video,
            hint="pass its rate read from the video (movingfashion.media.probe.probe_video(path).fps); "
            "mf-tracklets export reads it, and skips a video that gives none",
        )
    return max(1, round(fps))


def write_mot(
    videos: Iterable[ExportVideo],
    out: str | os.PathLike[str],
    fps: Mapping[str, float],
    unchanged: list[Path] | None = None,
) -> list[Path]:
    """One MOT sequence folder per video, each file written only when its bytes change; ``fps``
    maps a video stem to its frame rate, which is required: a video without a usable one stops
    the writer before any of its files is written (:func:`frame_rate`'s error naming it; the
    videos before it are written). Returns the folders of which a file was written; a folder
    whose files all held their bytes is appended to ``unchanged`` when given."""
    paths: list[Path] = []
    for v in videos:
        refuse_unwritable_name(v.stem, v.vt.video, "seqinfo.ini name", "MOT")
        seq = Path(out) / v.stem
        rate = frame_rate(fps.get(v.stem), f"{v.vt.video} (sequence {v.stem})")
        info = (
            "[Sequence]\n"
            f"name={v.stem}\nimDir=img1\nframeRate={rate}\n"
            f"seqLength={v.vt.frames}\nimWidth={v.vt.width}\nimHeight={v.vt.height}\nimExt=.jpg\n"
        )
        changed = write_if_changed(seq / "seqinfo.ini", info.encode())
        lines = gt_lines(v)
        changed |= write_if_changed(seq / "gt" / "gt.txt", "".join(line + "\n" for line in lines).encode())
        changed |= write_if_changed(
            seq / "gt" / "labels.txt", "".join(name + "\n" for name in LABELS).encode()
        )
        own = "".join(f"{i + 1},{label_of(v.vt.tracklets[i])}\n" for i in v.tracks)
        changed |= write_if_changed(seq / DETECTOR_LABELS, own.encode())
        sort_written(seq, changed, paths, unchanged)
    return paths
