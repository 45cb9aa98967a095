"""Fill a catalog and a collection root straight from a synthetic world (a collector stand-in).

Used by tests and by the demo when no collector ran: every world product becomes a
``downloaded`` :class:`SourceItem`, its media are copied into ``ROOT/<source>/<id>/<kind>.<ext>``
and recorded as :class:`MediaAsset` rows exactly as ``mf-collect`` records them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from movingfashion.world.truth import WorldTruth, load_world
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.items import AssetKind, MediaAsset, SourceItem, Status
from schemas.paths import inside, resolve_under

_VIEW_KIND = {
    "shop": AssetKind.SHOP,
    "front": AssetKind.FRONT,
    "rear": AssetKind.REAR,
    "fabric": AssetKind.FABRIC,
}
_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}


def seed_catalog_from_world(
    world_dir: str | os.PathLike[str],
    catalog: Catalog,
    root: str | os.PathLike[str],
    truth: WorldTruth | None = None,
) -> int:
    """Copy the world's media into ``root`` and record items/assets; returns the number of items."""
    world_dir, root = Path(world_dir), Path(root)
    truth = truth or load_world(world_dir)
    items, assets = [], []
    for p in truth.products:
        items.append(
            SourceItem(
                source=p.source,
                source_id=p.product_id,
                url=f"world://{p.product_id}",
                title=p.title,
                description=p.description,
                category_path=p.category_path,
                caption=p.caption,
                hashtags=p.hashtags,
                designer=p.designer,
                colour=p.colour,
                has_video=bool(p.videos),
                metadata={"world": True},
            )
        )
        files: list[tuple[AssetKind, str, str]] = []
        for n, vid in enumerate(p.videos):
            v = truth.video(vid)
            name = "video.mp4" if len(p.videos) == 1 else f"video-{n}.mp4"
            files.append((AssetKind.VIDEO, v.path, name))
        has_candidates = any(v.startswith("candidate-") for v in p.images)
        for view, rel in sorted(p.images.items()):
            ext = Path(rel).suffix
            if view == "shop" and has_candidates:
                continue  # like a collector: a carousel does not say which picture is the shop image
            if view in _VIEW_KIND:
                files.append((_VIEW_KIND[view], rel, f"{view}{ext}"))
            elif view.startswith("candidate-"):
                files.append((AssetKind.CANDIDATE_SHOP, rel, f"candidate-shop-{view.split('-', 1)[1]}{ext}"))
        for kind, src_rel, name in files:
            rel = f"{p.source}/{p.product_id}/{name}"
            dst = inside(root, str(p.source), p.product_id, name, what="seeded file")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                shutil.copyfile(resolve_under(world_dir, src_rel, what="world file", where="world.json"), dst)
            assets.append(
                MediaAsset(
                    source=p.source,
                    source_id=p.product_id,
                    kind=kind,
                    url=f"world://{src_rel}",
                    path=rel,
                    sha256=sha256_file(dst),
                    size=dst.stat().st_size,
                    content_type=_TYPES.get(dst.suffix),
                    status=Status.DOWNLOADED,
                )
            )
    catalog.upsert_items(items, status=Status.DOWNLOADED)
    catalog.upsert_assets(assets)
    return len(items)
