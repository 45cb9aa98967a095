"""A folder FiftyOne imports as ``fiftyone.types.CVATVideoDataset``::

    OUT/data/<video stem>.mp4      the dataset's video (hard link when possible, else a copy)
    OUT/labels/<video stem>.xml    its CVAT for video 1.1 XML (annotations.exchange.cvat)

FiftyOne pairs a video and its labels by file name; open it with
``fo.Dataset.from_dir(dataset_dir=OUT, dataset_type=fo.types.CVATVideoDataset)``. The toolkit
does not depend on FiftyOne: it writes the layout that importer reads.
"""

from __future__ import annotations

import filecmp
import os
from collections.abc import Iterable
from pathlib import Path

from annotations.exchange.common import (
    ExportVideo,
    checked_source,
    failed_row,
    missing_video,
    refuse_unwritable_name,
    sort_written,
)
from annotations.exchange.cvat import video_xml
from schemas.atomic import atomic_copy, commit_partial, partial_path, write_if_changed
from schemas.errors import MediaError
from schemas.paths import resolve_under


def _place(src: Path, dst: Path) -> bool:
    """``dst`` as a hard link to ``src`` (an atomic copy across file systems), left as it is when
    it already is that file or a copy of the same bytes (False; True when placed). Either way ``dst`` appears whole or not
    at all: a copy a full disk cuts short leaves no file behind (:func:`schemas.atomic.atomic_copy`)
    and its error names ``dst``. A video missing from the dataset (deleted, or gone while the
    export ran) is a :class:`~schemas.errors.MediaError` naming it (was: a traceback)."""
    try:
        return _link_or_copy(src, dst)
    except FileNotFoundError:
        if src.is_file():
            raise
        raise missing_video(src, "a FiftyOne export needs it") from None


def _link_or_copy(src: Path, dst: Path) -> bool:
    """:func:`_place`'s work."""
    same_size = dst.exists() and dst.stat().st_size == src.stat().st_size
    if same_size and (dst.stat().st_ino == src.stat().st_ino or filecmp.cmp(src, dst, shallow=False)):
        return False
    tmp = partial_path(dst)  # a name sweep_partials knows, should this process be killed
    try:
        tmp.unlink()
        os.link(src, tmp)
    except OSError:  # another file system (or none that links): copy
        tmp.unlink(missing_ok=True)
        atomic_copy(src, dst)
        return True
    commit_partial(tmp, dst)
    return True


def write_fiftyone(
    videos: Iterable[ExportVideo],
    dataset: str | os.PathLike[str],
    out: str | os.PathLike[str],
    failed: list[dict[str, str]] | None = None,
    unchanged: list[Path] | None = None,
) -> list[Path]:
    """Write ``data/`` and ``labels/``, only the files whose bytes change; returns the label files
    of the videos of which a file was written (a video whose label file and video both held their
    bytes: its label file is appended to ``unchanged`` when given).

    A video missing from the dataset, or one that does not open or decode as a video (damaged,
    truncated, not a video: the check a MOT export makes,
    :func:`~annotations.exchange.common.checked_source`), stops the export unless ``failed`` is
    given: then that video is skipped (neither file written, an earlier export's kept), one row
    appended (``video``, ``product_id``, ``path``, ``error``) and the others exported."""
    root, out = Path(dataset), Path(out)
    paths: list[Path] = []
    for v in videos:
        refuse_unwritable_name(v.stem, v.vt.video, "file name", "FiftyOne")  # before its video is placed
        src = resolve_under(root, v.vt.video, what="video", where=str(root / "tracklets"))
        try:
            checked_source(src, "a FiftyOne export needs it")
            placed = _place(src, out / "data" / f"{v.stem}{src.suffix}")
        except MediaError as exc:
            if failed is None:
                raise
            failed.append(failed_row(v, src, exc))
            continue
        p = out / "labels" / f"{v.stem}.xml"
        sort_written(
            p,
            write_if_changed(p, video_xml(v.vt, v.tracks, v.stem, v.product_class)) | placed,
            paths,
            unchanged,
        )
    return paths
