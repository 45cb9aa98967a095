"""Items for the association check's rule tests: a fixed-score matcher and an accepted item
written with its pictures (tests/cleaning/test_association_*.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from movingfashion.media.images import write_image
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.items import CANDIDATE_URL, AssetKind, MediaAsset, SourceItem, Status


class ScoresByVideo:
    """The matcher as measured: each item's video scores its value in ``scores`` (by item id), on
    every detection; on the item's class (``category``, for items with a DeepFashion2 class) its
    value in ``on_class`` when given there, else the same."""

    def __init__(self, scores: dict[str, float], on_class: dict[str, float] | None = None) -> None:
        self.scores = scores
        self.on_class = on_class or {}

    def score(self, video_path: str, shop_path: str, category: int | None = None) -> float:
        sid = Path(video_path).parent.name
        return self.on_class.get(sid, self.scores[sid]) if category is not None else self.scores[sid]


def add_item(
    cat: Catalog,
    root: Path,
    source: str,
    sid: str,
    images: dict[str, np.ndarray | Path],
    video: Path | None = None,
) -> Path:
    """One accepted item with a video (a copy of ``video``; else a few bytes, for a fixed-score
    matcher) and ``images`` (name -> picture, or a file to copy), in order; the asset kind is
    the name's stem (``candidate-shop-1`` is a carousel pick: its shop asset's url says so).
    Returns the item's folder."""
    folder = root / source / sid
    folder.mkdir(parents=True)
    if video is not None:
        shutil.copyfile(video, folder / "video.mp4")
    else:
        (folder / "video.mp4").write_bytes(sid.encode())
    assets = [(AssetKind.VIDEO, "video.mp4", None)]
    for name, img in images.items():
        if isinstance(img, Path):
            shutil.copyfile(img, folder / name)
        else:
            write_image(folder / name, img)
        stem = Path(name).stem
        if stem.startswith("candidate-shop"):
            assets.append((AssetKind.SHOP, name, f"{CANDIDATE_URL}{source}/{sid}/{name}"))
        else:
            assets.append((AssetKind(stem), name, None))
    cat.upsert_items([SourceItem(source=source, source_id=sid, has_video=True)], status=Status.ACCEPTED)
    cat.upsert_assets(
        MediaAsset(
            source=source,
            source_id=sid,
            kind=kind,
            path=f"{source}/{sid}/{name}",
            url=url,
            sha256=sha256_file(folder / name),
            status=Status.ACCEPTED,
        )
        for kind, name, url in assets
    )
    return folder
