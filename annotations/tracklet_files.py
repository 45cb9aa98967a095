"""The tracklet files of a dataset: ``tracklets/<video stem>.json``, one richer
:class:`~schemas.dataset.VideoTracklets` per video (every tracklet, scores, classes, models).

Light on purpose (no torch): reading results is what ``mf-tracklets qa/sheets/review`` do.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError

TRACKLET_DIR = "tracklets"


def tracklet_file(dataset: str | os.PathLike[str], video_path: str) -> Path:
    return Path(dataset) / TRACKLET_DIR / f"{Path(video_path).stem}.json"


def read_video_tracklets(path: str | os.PathLike[str]) -> VideoTracklets:
    """Read a richer tracklet file (clear error naming the file)."""
    p = Path(path)
    try:
        return VideoTracklets.model_validate_json(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(
            "tracklet file not found", where=str(p), hint="run mf-tracklets build"
        ) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataFormatError(
            f"field '{'.'.join(str(x) for x in err['loc'])}': {err['msg']}",
            where=str(p),
            hint="delete it and rerun mf-tracklets build",
        ) from None


def load_results(dataset: str | os.PathLike[str]) -> list[VideoTracklets]:
    """Every tracklet file of a dataset, in file name order."""
    return [read_video_tracklets(p) for p in sorted((Path(dataset) / TRACKLET_DIR).glob("*.json"))]


def require_results(dataset: str | os.PathLike[str]) -> list[VideoTracklets]:
    """:func:`load_results`, or a :class:`DataFormatError` naming the folder when there is none yet."""
    results = load_results(dataset)
    if not results:
        raise DataFormatError(
            "no tracklet files", where=str(Path(dataset) / TRACKLET_DIR), hint="run mf-tracklets build first"
        )
    return results
