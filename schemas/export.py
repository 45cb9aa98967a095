"""Export a JSON Schema file per contract model (``mf schema export DIR``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from schemas.atomic import atomic_write_json
from schemas.dataset import DatasetEntry, Detection, Product, SplitAssignment, Tracklet, VideoTracklets
from schemas.items import ImageProbe, MediaAsset, SourceItem, VideoProbe
from schemas.official import OfficialEntry

#: Every model that crosses a stage boundary, by the file name its schema is written to.
EXPORTED_MODELS: dict[str, type[BaseModel]] = {
    "source_item": SourceItem,
    "media_asset": MediaAsset,
    "video_probe": VideoProbe,
    "image_probe": ImageProbe,
    "product": Product,
    "split_assignment": SplitAssignment,
    "detection": Detection,
    "tracklet": Tracklet,
    "video_tracklets": VideoTracklets,
    "dataset_entry": DatasetEntry,
    "official_entry": OfficialEntry,
}


def export_json_schemas(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``<name>.schema.json`` for every exported model; returns the paths written."""
    out = Path(out_dir)
    paths = []
    for name, model in EXPORTED_MODELS.items():
        path = out / f"{name}.schema.json"
        atomic_write_json(path, model.model_json_schema(), sort_keys=True)
        paths.append(path)
    return paths
