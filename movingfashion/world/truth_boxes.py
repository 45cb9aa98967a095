"""True item boxes of a dataset's videos, from a synthetic world's ground truth (for QA).

The dataset's product ids are the world's product ids; ``video_paths[i]`` is the product's
``i``-th world video. Videos published cropped to the moving half of a split screen (their
size equals the moving box) get the boxes shifted into the crop.
"""

from __future__ import annotations

import os
from pathlib import Path

from movingfashion.media.probe import probe_video
from movingfashion.world.truth import load_video_gt, load_world
from schemas.errors import DataFormatError, MediaError


def _video_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a video, None when it does not open."""
    try:
        info = probe_video(path)
    except MediaError:
        return None
    return info.width, info.height


def truth_boxes_for_dataset(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
) -> dict[str, dict[int, list[float]]]:
    """Dataset video path -> {frame: true item box} for every video the world knows."""
    from annotations.builder import load_splits

    world = Path(world_dir)
    if not (world / "world.json").is_file():
        raise DataFormatError(
            "no world.json", where=str(world), hint="pass the synthetic world folder or its world.json"
        )
    truth = load_world(world)
    products = {p.product_id: p for p in truth.products}
    out: dict[str, dict[int, list[float]]] = {}
    for split in load_splits(dataset).values():
        for pid, entry in split.items():
            p = products.get(pid)
            if p is None:
                continue
            for i, vp in enumerate(entry.video_paths):
                if i >= len(p.videos):
                    continue
                v = truth.video(p.videos[i])
                boxes = load_video_gt(world, v).item_boxes()
                ss = v.split_screen
                if ss is not None:
                    mb = [int(x) for x in ss.moving_box]
                    if _video_size(Path(dataset) / vp) == (mb[2] - mb[0], mb[3] - mb[1]):
                        boxes = {
                            t: [b[0] - mb[0], b[1] - mb[1], b[2] - mb[0], b[3] - mb[1]]
                            for t, b in boxes.items()
                        }
                out[vp] = boxes
    return out
