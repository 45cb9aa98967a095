"""README pictures of a world: frames with their ground-truth boxes, and a shop-image contact sheet."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from movingfashion.media.images import read_image, write_image
from movingfashion.media.readers import read_video
from movingfashion.world.truth import load_video_gt, load_world

ITEM = (230, 30, 30)  # the product's own garment
OTHER = (30, 200, 60)  # garments of other products


def _label(img: np.ndarray, text: str) -> None:
    cv2.rectangle(img, (0, 0), (img.shape[1], 16), (255, 255, 255), -1)
    cv2.putText(img, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (20, 20, 20), 1, cv2.LINE_AA)


def frames_picture(
    world_dir: str | os.PathLike[str], rows: int = 4, cols: int = 5, cell: tuple[int, int] = (176, 220)
) -> np.ndarray:
    """A grid: one video per row (Regular, Hard, split-screen...), frames across, GT boxes drawn."""
    world = Path(world_dir)
    truth = load_world(world)
    originals = [v for v in truth.videos if not v.duplicate_of and truth.product(v.product_id).df2_class]
    picks = []
    for want in ("regular", "hard-split", "hard", "regular", "hard"):
        for v in originals:
            kind = v.partition.value + ("-split" if v.split_screen and v.partition.value == "hard" else "")
            if kind == want and v not in picks:
                picks.append(v)
                break
    grid = []
    for v in picks[:rows]:
        frames = read_video(world / v.path)
        gt = load_video_gt(world, v)
        row = []
        for t in np.linspace(0, v.frames - 1, cols).astype(int):
            img = frames[t].copy()
            for g in gt.frames[t]:
                if g.box is not None:
                    x1, y1, x2, y2 = (int(round(c)) for c in g.box)
                    cv2.rectangle(
                        img, (x1, y1), (x2 - 1, y2 - 1), ITEM if g.product_id == v.product_id else OTHER, 2
                    )
            s = min(cell[0] / img.shape[1], cell[1] / img.shape[0])
            small = cv2.resize(
                img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA
            )
            tile = np.full((cell[1], cell[0], 3), 255, np.uint8)
            y, x = (cell[1] - small.shape[0]) // 2, (cell[0] - small.shape[1]) // 2
            tile[y : y + small.shape[0], x : x + small.shape[1]] = small
            if t == 0:
                _label(tile, f"{v.source.value} {v.partition.value}{' split' if v.split_screen else ''}")
            row.append(tile)
        grid.append(np.concatenate(row, 1))
    return np.concatenate(grid, 0)


def shop_sheet(
    world_dir: str | os.PathLike[str], cols: int = 8, rows: int = 3, cell: tuple[int, int] = (128, 160)
) -> np.ndarray:
    """Contact sheet of shop images (one per product; class name on top)."""
    from schemas.taxonomy import DF2_CLASSES

    world = Path(world_dir)
    truth = load_world(world)
    seen, tiles = set(), []
    for p in sorted(truth.products, key=lambda p: (p.df2_class or 99, p.product_id)):
        if "shop" not in p.images or p.wrong_shop or (p.df2_class in seen and len(tiles) < 13):
            continue
        seen.add(p.df2_class)
        img = read_image(world / p.images["shop"])
        tile = cv2.resize(img, cell, interpolation=cv2.INTER_AREA)
        _label(tile, (DF2_CLASSES[p.df2_class] if p.df2_class else p.kind)[:22])
        tiles.append(tile)
        if len(tiles) == cols * rows:
            break
    while len(tiles) % cols:
        tiles.append(np.full((cell[1], cell[0], 3), 255, np.uint8))
    return np.concatenate([np.concatenate(tiles[i : i + cols], 1) for i in range(0, len(tiles), cols)], 0)


def render_pictures(world_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, str]:
    """Write world_frames.png and world_shop_sheet.png into ``out_dir``."""
    out = Path(out_dir)
    paths = {"frames": str(out / "world_frames.png"), "shop_sheet": str(out / "world_shop_sheet.png")}
    write_image(paths["frames"], frames_picture(world_dir))
    write_image(paths["shop_sheet"], shop_sheet(world_dir))
    return paths
