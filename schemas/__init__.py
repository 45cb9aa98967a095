"""Contracts shared by every stage: pydantic models, the official JSON format, the catalog,
errors and small I/O helpers. Depends on no other package of the toolkit. POSIX only
(:mod:`schemas._posix` says so on Windows)."""

from schemas import _posix  # noqa: F401  (first: refuses a non-POSIX system in one message)
from schemas.dataset import DatasetEntry, Detection, Product, Split, SplitAssignment, Tracklet, VideoTracklets
from schemas.errors import (
    CatalogError,
    ConfigError,
    DataFormatError,
    FetchError,
    MediaError,
    MFError,
    ModelError,
)
from schemas.items import AssetKind, ImageProbe, MediaAsset, SourceItem, SourceName, Status, VideoProbe
from schemas.official import OfficialEntry, read_official, write_official
from schemas.taxonomy import DF2_CLASSES, Partition

__all__ = [
    "DF2_CLASSES",
    "AssetKind",
    "CatalogError",
    "ConfigError",
    "DataFormatError",
    "DatasetEntry",
    "Detection",
    "FetchError",
    "ImageProbe",
    "MFError",
    "MediaAsset",
    "MediaError",
    "ModelError",
    "OfficialEntry",
    "Partition",
    "Product",
    "SourceItem",
    "SourceName",
    "Split",
    "SplitAssignment",
    "Status",
    "Tracklet",
    "VideoProbe",
    "VideoTracklets",
    "read_official",
    "write_official",
]
