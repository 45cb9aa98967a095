"""Reading the tracklet file a publish keeps for one (video, product): the held-back videos'
files (:mod:`cleaning.publish.held`) and the files whose ground truth goes back into the split
files (:mod:`cleaning.publish.split_files`) are the same file, read the same way."""

from __future__ import annotations

from pathlib import Path

from movingfashion.archive.verify import TRACKLET_FILES
from schemas.dataset import VideoTracklets
from schemas.tracklet_names import tracklet_stem


def read_tracklet_file(
    dataset: Path, video: str, product_id: str, *, shared: bool, no_links: bool = False
) -> VideoTracklets | None:
    """The tracklet file of ``video`` for ``product_id`` in ``dataset`` (``tracklets/<video
    stem>.json``, or ``<video stem>@<product>.json`` when several products list it: ``shared``,
    :func:`schemas.tracklet_names.tracklet_stem`), when it reads as a tracklet file about
    ``video`` and ``product_id``; None otherwise (missing, unreadable, not a tracklet file, about
    another video or product). ``no_links``: a symlinked folder or file is none either."""
    folder = dataset / TRACKLET_FILES
    path = folder / f"{tracklet_stem(video, product_id, shared=shared)}.json"
    if no_links and (folder.is_symlink() or path.is_symlink() or not path.is_file()):
        return None
    try:
        vt = VideoTracklets.model_validate_json(path.read_bytes())
    except (OSError, ValueError):  # missing, unreadable, not a tracklet file
        return None
    return vt if (vt.video, vt.product_id) == (video, product_id) else None
