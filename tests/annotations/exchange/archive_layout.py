"""A minimal folder in the real MovingFashion archive's layout: train.json / test.json holding the
authors' ground-truth tracklets, videos/ (tiny real H.264 clips) and imgs/, no tracklets/."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
from PIL import Image

FRAMES, WIDTH, HEIGHT = 12, 64, 48


def write_video(path: Path, frames: int = FRAMES, w: int = WIDTH, h: int = HEIGHT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            img = np.full((h, w, 3), 40, np.uint8)
            img[10:30, 5 + i : 25 + i] = (200, 30, 30)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)


def official_boxes(frames: int = FRAMES) -> dict[str, list[int]]:
    return {str(f): [5 + f, 10, 25 + f, 30] for f in range(frames)}


def make_archive(root: Path, *, without_tracklet: tuple[str, ...] = ()) -> Path:
    """Products 1001, 1002 (train) and 2001 (test), one video each (``videos/<id>.mp4``); the
    products in ``without_tracklet`` have ``"tracklets": [{}]``. Every entry keeps an extra key."""
    splits = {"train": ["1001", "1002"], "test": ["2001"]}
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    for split, pids in splits.items():
        data = {}
        for pid in pids:
            img = f"imgs/{pid}.jpg"
            Image.new("RGB", (40, 50), (120, 10, 10)).save(root / img)
            vid = f"videos/{pid}.mp4"
            write_video(root / vid)
            data[pid] = {
                "video_paths": [vid],
                "img_path": img,
                "source": 1,
                "tracklets": [{} if pid in without_tracklet else official_boxes()],
                "note": "kept by the authors",
            }
        (root / f"{split}.json").write_text(json.dumps(data, indent=4))
    return root
