"""Export a JSON Schema file per contract model (``mf schema export DIR``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.atomic import atomic_write_json
from schemas.dataset import DatasetEntry, Detection, Product, SplitAssignment, Tracklet, VideoTracklets
from schemas.items import ImageProbe, MediaAsset, SourceItem, VideoProbe
from schemas.official import OfficialEntry, OfficialSplit

#: Every model that crosses a stage boundary, by the file name its schema is written to; also
#: ``official_split``, a whole train.json / test.json (product id -> official entry).
EXPORTED_MODELS: dict[str, Any] = {
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
    "official_split": OfficialSplit,
}

#: The JSON Schema dialect pydantic writes.
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one exported model or type, by its name in :data:`EXPORTED_MODELS`."""
    schema = TypeAdapter(EXPORTED_MODELS[name]).json_schema()
    if name == "official_split":
        schema.setdefault("title", "OfficialSplit")
        schema.setdefault("description", "A split file (train.json / test.json): product id -> entry.")
    return {"$schema": DIALECT, **schema}


def export_json_schemas(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``<name>.schema.json`` for every exported model; returns the paths written."""
    out = Path(out_dir)
    paths = []
    for name in EXPORTED_MODELS:
        path = out / f"{name}.schema.json"
        atomic_write_json(path, json_schema(name), sort_keys=True)
        paths.append(path)
    return paths
