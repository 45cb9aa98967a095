"""Contact sheets: the shop image next to sampled tracklet crops, and the frames with boxes drawn."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from movingfashion.media.images import read_image, write_image
from movingfashion.media.video_source import VideoSource
from schemas.dataset import VideoTracklets
from schemas.errors import MediaError
from schemas.official import SPLIT_FILES
from schemas.paths import resolve_under

SHEET_DIR = "sheets"
CELL = 128


def sheet_path(dataset: str | os.PathLike[str], video: str) -> Path:
    return Path(dataset) / "tracklets" / SHEET_DIR / f"{Path(video).stem}.png"


def _fit(img: np.ndarray, h: int, w: int | None = None) -> np.ndarray:
    ih, iw = img.shape[:2]
    w = w or max(1, int(round(iw * h / ih)))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def _shop_path(dataset: Path, vt: VideoTracklets) -> Path | None:
    import json

    for name in SPLIT_FILES:
        p = dataset / name
        if p.is_file():
            data = json.loads(p.read_text(encoding="utf-8"))
            if vt.product_id in data:
                return resolve_under(
                    dataset, str(data[vt.product_id]["img_path"]), what="img_path", where=str(p)
                )
    return None


def write_sheet(
    dataset: str | os.PathLike[str], vt: VideoTracklets, n: int = 8, out: str | os.PathLike[str] | None = None
) -> Path:
    """Write a PNG: row 1 = shop image + ``n`` tracklet crops, row 2 = the same frames with every
    tracklet's box (ground truth green and thick, others grey). Returns the path."""
    root = Path(dataset)
    dst = Path(out) if out else sheet_path(root, vt.video)
    shop_p = _shop_path(root, vt)
    try:
        shop = read_image(shop_p)[..., ::-1].copy() if shop_p else None  # BGR for OpenCV's drawing
    except MediaError:
        shop = None
    if shop is None:
        shop = np.full((CELL, CELL, 3), 200, np.uint8)
        cv2.putText(shop, "no shop", (10, CELL // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    gt = vt.ground_truth_tracklet()
    frames_all = sorted(gt.scores or gt.boxes) if gt else []
    if not frames_all:
        frames_all = list(range(0, vt.frames, max(1, vt.frames // n)))[:n]
    pick = [frames_all[int(i)] for i in np.linspace(0, len(frames_all) - 1, min(n, len(frames_all)))]
    pick = sorted(set(pick))
    src = VideoSource(resolve_under(root, vt.video, what="video", root_label="the dataset"))
    try:
        frames = src.get_batch(pick) if pick else np.zeros((0, CELL, CELL, 3), np.uint8)
    finally:
        src.close()
    crops, drawn = [], []
    for t, rgb in zip(pick, frames, strict=True):
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        if gt and t in gt.boxes:
            x1, y1, x2, y2 = (int(round(v)) for v in gt.boxes[t])
            crop = bgr[max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
            crops.append(_fit(crop, CELL, CELL) if crop.size else np.zeros((CELL, CELL, 3), np.uint8))
        else:
            crops.append(np.zeros((CELL, CELL, 3), np.uint8))
        canvas = bgr.copy()
        for k, trk in enumerate(vt.tracklets):
            if t in trk.boxes:
                x1, y1, x2, y2 = (int(round(v)) for v in trk.boxes[t])
                is_gt = k == vt.ground_truth
                cv2.rectangle(
                    canvas, (x1, y1), (x2, y2), (0, 200, 0) if is_gt else (160, 160, 160), 3 if is_gt else 1
                )
        cv2.putText(canvas, str(t), (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
        drawn.append(_fit(canvas, CELL * 2))
    top = np.concatenate([_fit(shop, CELL, CELL), *crops], axis=1)
    bottom = np.concatenate(drawn, axis=1) if drawn else np.zeros((CELL * 2, CELL, 3), np.uint8)
    width = max(top.shape[1], bottom.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    sheet = np.concatenate([pad(top), pad(bottom)], axis=0)
    if vt.needs_review:
        cv2.putText(
            sheet,
            f"REVIEW: {vt.review_reason}"[:90],
            (4, sheet.shape[0] - 8),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 255),
            1,
        )
    write_image(dst, sheet[..., ::-1])
    return dst
