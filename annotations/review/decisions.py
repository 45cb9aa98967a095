"""Review decisions with their effect on the dataset: store one (``schemas.review``, one catalog
transaction), then apply what it changes in the dataset's files.

Only a tracklet pick changes files: the chosen tracklet becomes ``ground_truth`` of
``tracklets/<video>.json`` and the video's tracklet in ``train.json``/``test.json``. The
catalog is written first; :func:`reconcile` (run when the review server starts) redoes the file
side of every stored pick, so a process killed between the two loses nothing decided. When files
change, a published folder gets its tables, card, Croissant metadata and manifest rewritten
(:func:`movingfashion.archive.describe.refresh`, as ``mf-tracklets build`` does), so ``mf verify``
still holds.
"""

from __future__ import annotations

import os
from pathlib import Path

from annotations.tracklet_files import (
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from schemas.catalog import Catalog
from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError
from schemas.review import Decision, list_decisions, record_decision, undo_decision


def _tracklets_with(dataset: Path, video: str, index: int | None, *, required: bool) -> VideoTracklets:
    """The video's tracklets, checked to hold tracklet ``index`` (``None`` passes unless ``required``)."""
    path = tracklet_file(dataset, video)
    vt = read_video_tracklets(path, video=video)
    if (index is None and required) or (index is not None and not 0 <= index < len(vt.tracklets)):
        raise DataFormatError(f"no tracklet {index} (the video has {len(vt.tracklets)})", where=str(path))
    return vt


def _set_ground_truth(dataset: Path, video: str, index: int | None) -> bool:
    """Make tracklet ``index`` the ground truth of ``video`` in both files; True when changed."""
    vt = _tracklets_with(dataset, video, index, required=False)
    changed = vt.ground_truth != index
    if changed:
        vt.ground_truth = index
        write_video_tracklets(dataset, vt)
    return bool(set_official_tracklet(dataset, vt)) or changed


def _refresh(dataset: Path, videos: list[str]) -> None:
    """Rewrite a published folder's derived files after the tracklets of ``videos`` changed (the
    manifest hashes those files and the split files again, not every video)."""
    from movingfashion.archive.describe import refresh

    refresh(dataset, changed=[tracklet_file(dataset, v).relative_to(dataset).as_posix() for v in videos])


def decide(
    dataset: str | os.PathLike[str],
    cat: Catalog,
    *,
    video: str,
    product_id: str,
    kind: str,
    reason: str | None = None,
    df2_class: int | None = None,
    tracklet: int | None = None,
    note: str | None = None,
    request_id: str | None = None,
) -> tuple[Decision, bool]:
    """Store a decision on ``video`` (dataset-relative path) and apply it to the dataset.

    Returns ``(decision, created)``; a repeated ``request_id`` returns the stored decision.
    """
    root = Path(dataset)
    extra = None
    if kind == "tracklet":
        extra = {"ground_truth": _tracklets_with(root, video, tracklet, required=True).ground_truth}
    d, created = record_decision(
        cat,
        video=video,
        product_id=product_id,
        kind=kind,
        reason=reason,
        df2_class=df2_class,
        tracklet=tracklet,
        note=note,
        request_id=request_id,
        extra_prev=extra,
    )
    if d.kind == "tracklet" and _set_ground_truth(root, d.video, d.tracklet):
        _refresh(root, [d.video])
    return d, created


def undo(
    dataset: str | os.PathLike[str],
    cat: Catalog,
    decision_id: int | None = None,
    *,
    video: str | None = None,
    request_id: str | None = None,
) -> tuple[Decision, bool]:
    """Undo a decision (see :func:`schemas.review.undo_decision`) and its effect on the files."""
    d, created = undo_decision(cat, decision_id, video=video, request_id=request_id)
    if d.kind == "tracklet" and _set_ground_truth(Path(dataset), d.video, d.prev.get("ground_truth")):
        _refresh(Path(dataset), [d.video])
    return d, created


def reconcile(dataset: str | os.PathLike[str], cat: Catalog) -> list[str]:
    """Bring the tracklet files in line with the stored picks; returns the videos fixed.

    The wanted ground truth of a video is its latest live pick, else (every pick undone) the one
    it had before its first pick.
    """
    root = Path(dataset)
    wanted: dict[str, int | None] = {}
    for d in list_decisions(cat, include_undone=True):
        if d.kind != "tracklet" or not tracklet_file(root, d.video).is_file():
            continue
        wanted.setdefault(d.video, d.prev.get("ground_truth"))
        if d.undone_at is None:
            wanted[d.video] = d.tracklet
    fixed = [video for video, index in wanted.items() if _set_ground_truth(root, video, index)]
    if fixed:
        _refresh(root, fixed)
    return fixed
