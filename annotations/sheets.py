"""Contact sheets: the shop image next to sampled tracklet crops, and the frames with boxes drawn."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from annotations.tracklet_files import tracklet_file, tracklet_folders
from movingfashion.archive.verify import TRACKLET_SHEET_DIR
from movingfashion.media.images import read_image, write_image
from movingfashion.media.video_source import VideoSource
from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError, MediaError
from schemas.official import SPLIT_FILES, OfficialSplit, read_official_rows
from schemas.paths import resolve_under
from schemas.redact import redacted_logger

log = redacted_logger("annotations.sheets")

SHEET_DIR = TRACKLET_SHEET_DIR
CELL = 128
_REBUILD = "delete it and rerun mf-tracklets build"


def sheet_path(
    dataset: str | os.PathLike[str], video: str, product_id: str | None = None, *, shared: bool | None = None
) -> Path:
    """``tracklets/sheets/<stem of the video's tracklet file>.png`` (one per product for a video
    several products list: :func:`annotations.tracklet_files.tracklet_file`)."""
    stem = tracklet_file(dataset, video, product_id, shared=shared).stem
    return Path(dataset) / "tracklets" / SHEET_DIR / f"{stem}.png"


def _fit(img: np.ndarray, h: int, w: int | None = None) -> np.ndarray:
    ih, iw = img.shape[:2]
    w = w or max(1, int(round(iw * h / ih)))
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=4)
def _rows(path: str, _stamp: tuple[int, int, int]) -> tuple[OfficialSplit, dict[str, str]]:
    """A split file read with the official reader (valid products, errors of the invalid ones),
    cached by its stat (``_stamp``): one read for every sheet of a run."""
    good, bad = read_official_rows(path)
    return good, dict(bad)


def _shop_path(dataset: Path, vt: VideoTracklets) -> Path | None:
    """The shop image of the video's product as its split file names it (None when no split
    lists the product); a split file that does not read, or an invalid row of the product (no
    ``img_path``, a path leaving the dataset, ...), raises :class:`DataFormatError` naming them."""
    for name in SPLIT_FILES:
        p = dataset / name
        if not p.is_file():
            continue
        st = p.stat()
        good, bad = _rows(str(p), (st.st_mtime_ns, st.st_size, st.st_ino))
        if vt.product_id in bad:
            raise DataFormatError(bad[vt.product_id])
        if vt.product_id in good:
            return resolve_under(dataset, good[vt.product_id].img_path, what="img_path", where=str(p))
    return None


def _placeholder(text: str) -> np.ndarray:
    cell = np.full((CELL, CELL, 3), 200, np.uint8)
    cv2.putText(cell, text, (6, CELL // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1)
    return cell


def _pixels(box: list[float], width: int, height: int, *, where: str, at: str) -> tuple[int, int, int, int]:
    """A box as integer pixels clipped to a ``width`` x ``height`` frame. A box that cannot come
    from this frame (not 4 finite numbers, or reaching more than a frame's size beyond it) raises
    :class:`DataFormatError` naming the file (``where``) and the tracklet and frame (``at``)."""
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise DataFormatError(f"{at}: box {box!r} is not 4 numbers", where=where, hint=_REBUILD) from None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise DataFormatError(f"{at}: box {box} is not finite", where=where, hint=_REBUILD)
    if min(x1, x2) < -width or max(x1, x2) > 2 * width or min(y1, y2) < -height or max(y1, y2) > 2 * height:
        raise DataFormatError(
            f"{at}: box {box} lies far outside the {width}x{height} frame", where=where, hint=_REBUILD
        )
    cx1, cx2 = (min(max(round(v), 0), width) for v in (x1, x2))
    cy1, cy2 = (min(max(round(v), 0), height) for v in (y1, y2))
    return cx1, cy1, cx2, cy2


def redraw_sheet(
    dataset: str | os.PathLike[str], vt: VideoTracklets, *, shared: bool | None = None
) -> Path | None:
    """Draw ``vt``'s contact sheet again when the video has one, after its tracklet file was
    rewritten (a pick, an import, settled flags), so that no sheet shows boxes the file no longer
    holds; returns its path, None when it has none. One that cannot be drawn now (its video
    unreadable) is left as it was, with a warning naming it."""
    path = sheet_path(dataset, vt.video, vt.product_id, shared=shared)
    if not path.is_file():
        return None
    try:
        return write_sheet(dataset, vt, shared=shared)
    except MediaError as exc:
        log.warning("%s: not redrawn, it may show the tracklets before this change (%s)", path, exc)
        return None


def sheet_is_stale(
    dataset: str | os.PathLike[str], video: str, product_id: str | None, *, shared: bool | None = None
) -> bool:
    """Whether the video's contact sheet is missing or older than its tracklet file (written by
    hand, or by a toolkit that did not redraw it)."""
    path = sheet_path(dataset, video, product_id, shared=shared)
    tf = tracklet_file(dataset, video, product_id, shared=shared)
    try:
        return path.stat().st_mtime_ns < tf.stat().st_mtime_ns
    except FileNotFoundError:
        return True


def write_sheet(
    dataset: str | os.PathLike[str],
    vt: VideoTracklets,
    n: int = 8,
    out: str | os.PathLike[str] | None = None,
    *,
    shared: bool | None = None,
) -> Path:
    """Write a PNG: row 1 = shop image + ``n`` tracklet crops, row 2 = the same frames with every
    tracklet's box (ground truth green and thick, others grey). Returns the path."""
    root = Path(dataset)
    if out is None:
        tracklet_folders(root)  # the sheet goes inside the dataset, never through a link
    dst = Path(out) if out else sheet_path(root, vt.video, vt.product_id, shared=shared)
    shop_p = _shop_path(root, vt)
    if shop_p is None:
        shop = _placeholder("no shop")
    else:
        try:
            shop = read_image(shop_p)[..., ::-1].copy()  # BGR for OpenCV's drawing
        except MediaError as exc:  # the row is fine, its file is missing or broken: say so on the sheet
            log.warning("sheet of %s: shop image left out (%s)", vt.video, exc)
            shop = _placeholder("no shop file" if not shop_p.is_file() else "bad shop file")
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
    where = str(tracklet_file(root, vt.video, vt.product_id, shared=shared))
    crops, drawn = [], []
    for t, rgb in zip(pick, frames, strict=True):
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        h, w = bgr.shape[:2]
        boxes = {
            k: _pixels(trk.boxes[t], w, h, where=where, at=f"tracklet {k}, frame {t}")
            for k, trk in enumerate(vt.tracklets)
            if t in trk.boxes
        }
        if vt.ground_truth is not None and vt.ground_truth in boxes:
            x1, y1, x2, y2 = boxes[vt.ground_truth]
            crop = bgr[y1 : max(y1 + 1, y2), x1 : max(x1 + 1, x2)]
            crops.append(_fit(crop, CELL, CELL) if crop.size else np.zeros((CELL, CELL, 3), np.uint8))
        else:
            crops.append(np.zeros((CELL, CELL, 3), np.uint8))
        canvas = bgr.copy()
        for k, (x1, y1, x2, y2) in boxes.items():
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
