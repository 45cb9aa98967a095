"""The item dicts of :class:`~movingfashion.dataset.MovingFashionDataset`: a clip already cut (decoded
live, read from a crop-cache entry or from a training copy) made into its tensors, boxes and
labels, its shop image and transforms applied. :func:`make_item` runs for every item (called
straight from the dataset's ``_item``: no layer between)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from movingfashion.crop_cache import _array_problem, cache_files
from movingfashion.cutting import boxes_in_crops
from movingfashion.media.images import read_image
from movingfashion.media.readers import file_key
from movingfashion.planes import _into_planes, clip_tensor
from movingfashion.records import Size

if TYPE_CHECKING:
    from movingfashion.crop_cache import _CacheMeta
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.records import ProductRecord, VideoRecord
    from movingfashion.training_copy import CopyEntry

#: Decoded shop images kept per process (about 150 kB each at 224 x 224).
SHOP_CACHE_SIZE = 256


def make_item(
    dataset: MovingFashionDataset,
    index: int,
    rec: ProductRecord,
    vi: int,
    video: VideoRecord,
    idx: list[int],
    clip: np.ndarray,
    boxes: np.ndarray,
    orig_size: tuple[int, int],
    *,
    planar: bool = False,
    windows: list[tuple[int, int, int, int]] | None = None,
) -> dict[str, Any]:
    """The item dict of a clip already cut (``clip`` uint8 ``[T, h, w, 3]``, or ``[T, 3, h,
    w]`` when ``planar``). ``windows``: each box's crop window, when the cut already knows them."""
    frames_t = clip_tensor(clip, dataset.dtype, planar=planar)
    canvas = (int(frames_t.shape[-2]), int(frames_t.shape[-1]))  # the pixels the boxes are in
    boxes_t = torch.from_numpy(boxes)
    # crops: the boxes in the crops' pixels, which a transform moving pixels moves with them
    crop_boxes = (
        torch.from_numpy(boxes_in_crops(dataset, boxes, orig_size, windows))
        if dataset.crop == "tracklet"
        else None
    )
    if dataset.transform is not None:
        frames_t = dataset.transform(frames_t)
    if dataset.transforms is not None and crop_boxes is not None:
        frames_t, crop_boxes = _call_transforms(dataset.transforms, frames_t, crop_boxes, canvas)
    elif dataset.transforms is not None:
        frames_t, boxes_t = _call_transforms(dataset.transforms, frames_t, boxes_t, canvas)
    extra = {} if crop_boxes is None else {"crop_boxes": crop_boxes}
    return {
        "shop": shop_tensor(dataset, rec),
        "frames": frames_t,
        "frame_indices": torch.tensor(idx, dtype=torch.long),
        "boxes": boxes_t,
        "product_id": rec.product_id,
        "df2_class": rec.df2_class if rec.df2_class is not None else -1,
        "partition": rec.partition.value,
        "video_path": video.rel_path,
        "video_index": video.video_index,
        "index": dataset._position(index),
        "draw": int(index),
        "orig_size": (int(orig_size[0]), int(orig_size[1])),
        **extra,
    }


def shop_tensor(dataset: MovingFashionDataset, rec: ProductRecord) -> Any:
    """The item's ``shop``: the product's shop image as the dataset's dtype (``shop_transform`` applied)."""
    # the cached picture is read-only; the planar copy the tensor takes is its own
    img = _shop_image(*_shop_key(rec.shop_path), dataset.shop_size)
    t = clip_tensor(img[None], dataset.dtype)[0]
    return dataset.shop_transform(t) if dataset.shop_transform is not None else t


def item_from_cache(
    dataset: MovingFashionDataset,
    index: int,
    rec: ProductRecord,
    vi: int,
    video: VideoRecord,
    idx: list[int],
    meta: _CacheMeta,
) -> dict[str, Any]:
    """Item ``index`` read from ``video``'s crop-cache entry (``meta``: its checked meta)."""
    arr = dataset._arrays.get(cache_files(dataset, video)[0])
    problem = _array_problem(arr, len(meta.frames), dataset.cache_params()["size"])
    if problem is not None:
        raise ValueError(problem)
    pos = {f: i for i, f in enumerate(meta.frames.tolist())}
    rows = [pos[f] for f in idx]
    clip = np.empty((len(rows), arr.shape[3], *arr.shape[1:3]), np.uint8)
    for planes, r in zip(clip, rows, strict=True):  # one buffer, no [T, h, w, 3] copy first
        _into_planes(arr[r], planes)
    boxes = meta.boxes[rows].reshape(-1, 4)
    return make_item(dataset, index, rec, vi, video, idx, clip, boxes, meta.orig_size, planar=True)


def item_from_copy(
    dataset: MovingFashionDataset,
    index: int,
    rec: ProductRecord,
    vi: int,
    video: VideoRecord,
    idx: list[int],
    entry: CopyEntry,
) -> dict[str, Any]:
    """Item ``index`` read from ``video``'s training-copy ``entry``."""
    pos = entry.rows()
    rows = [pos[f] for f in idx]
    clip = entry.read(rows)
    boxes = np.array(
        [[np.nan if v is None else v for v in entry.boxes[r]] for r in rows], dtype=np.float32
    ).reshape(-1, 4)
    return make_item(dataset, index, rec, vi, video, idx, clip, boxes, entry.orig_size)


def _call_transforms(
    fn: Callable[[Any, Any], tuple[Any, Any]], frames: Any, boxes: torch.Tensor, canvas: tuple[int, int]
) -> tuple[Any, Any]:
    """``transforms(frames, boxes)`` with the frames as a torchvision ``tv_tensors.Video`` (when
    they are still a [T, C, H, W] tensor) and the boxes as ``tv_tensors.BoundingBoxes`` (XYXY, on
    ``canvas``, the (H, W) they are in), so a ``torchvision.transforms.v2`` pipeline passed as it
    is moves both (given plain tensors it moved the frames and passed the boxes through
    untouched); what it returns comes back as plain tensors."""
    from torchvision import tv_tensors

    if isinstance(frames, torch.Tensor) and frames.ndim == 4:
        frames = tv_tensors.Video(frames)
    out_frames, out_boxes = fn(frames, tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=canvas))

    def plain(x: Any) -> Any:
        return x.as_subclass(torch.Tensor) if isinstance(x, tv_tensors.TVTensor) else x

    return plain(out_frames), plain(out_boxes)


def _shop_key(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """:func:`~movingfashion.media.readers.file_key` of a shop image; one that cannot be read
    gets a key of its own, and reading it names the file."""
    try:
        return file_key(path)
    except OSError:
        return (str(path), -1, -1)


@functools.lru_cache(maxsize=SHOP_CACHE_SIZE)
def _shop_image(path: str, file_size: int, mtime_ns: int, size: Size | None) -> np.ndarray:
    """Decoded, resized shop images, kept per process (K clips of a product share one), by
    :func:`~movingfashion.media.readers.file_key`: an image replaced under the same name is read
    again."""
    img = read_image(path, size)
    img.setflags(write=False)
    return img
