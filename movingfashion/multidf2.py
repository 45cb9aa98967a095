"""Multi-DeepFashion2: a DeepFashion2 shop image + the user images of the same pair and style.

Each *sequence* pairs one shop item (``source == "shop"``) with every user-photo item that has
the same ``pair_id`` and the same ``style > 0`` (a positive pair in DeepFashion2). The user
photos play the video's frames. :func:`build_multidf2` writes the index once;
:class:`MultiDeepFashion2Dataset` loads items in the same format as
:class:`~movingfashion.dataset.MovingFashionDataset`.

The frame sampler (``rrs`` by default) picks ``T`` of a sequence's user images in order, as
:class:`~movingfashion.dataset.MovingFashionDataset` picks a video's frames: with fewer than
``T`` images, the fixed-length samplers repeat them evenly, in order (the samplers' one rule,
:mod:`movingfashion.sampling`), in training as in evaluation. Training randomness comes from a
generator fixed by ``(seed, epoch, index)``; evaluation uses none (``seed=None`` evaluates with
:data:`EVAL_SEED`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from movingfashion.dataset_args import (
    ITEM_DTYPES,
    _size,
    _whole,
    clip_dataset_repr,
    integer_index,
    parse_classes,
)
from movingfashion.deepfashion2 import iter_split
from movingfashion.deepfashion2.reader import df2_folder
from movingfashion.epochs import SharedEpoch
from movingfashion.media.images import read_image
from movingfashion.planes import _Resizer, clip_tensor
from movingfashion.sampling import FrameSampler, get_sampler
from schemas.atomic import atomic_write_json
from schemas.errors import ConfigError, DataFormatError
from schemas.paths import resolve_under

#: The seed evaluation uses when none is given: evaluation clips never depend on OS randomness.
EVAL_SEED = 0


def build_multidf2(
    df2_root: str | os.PathLike[str], split: str = "validation", *, min_user: int = 1
) -> list[dict[str, Any]]:
    """The sequences of one split: shop image/box + user images/boxes of the same pair and style.

    The first shop image (in file order) of a (pair_id, style) is its shop image. Sequences
    with fewer than ``min_user`` user images are left out. Paths are relative to ``df2_root``.
    """
    root = Path(df2_root)
    shops: dict[tuple[int, int], dict[str, Any]] = {}
    users: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for img in iter_split(root, split):
        rel = img.image_path.relative_to(root).as_posix()
        for item in img.items:
            if item.style <= 0:
                continue
            key = (img.pair_id, item.style)
            rec = {"image": rel, "box": item.box, "category_id": item.category_id}
            if img.source == "shop":
                shops.setdefault(key, rec)
            else:
                users.setdefault(key, []).append(rec)
    out = []
    for key in sorted(shops):
        frames = users.get(key, [])
        if len(frames) < min_user:
            continue
        shop = shops[key]
        out.append(
            {
                "id": f"{key[0]}_{key[1]}",
                "pair_id": key[0],
                "style": key[1],
                "df2_class": shop["category_id"],
                "shop": {"image": shop["image"], "box": shop["box"]},
                "frames": [{"image": f["image"], "box": f["box"]} for f in frames],
            }
        )
    return out


def write_multidf2(
    df2_root: str | os.PathLike[str], split: str, out: str | os.PathLike[str]
) -> dict[str, float]:
    """Build and write the index JSON; returns counts."""
    seqs = build_multidf2(df2_root, split)
    atomic_write_json(out, {"split": split, "sequences": seqs}, indent=None)
    n = [len(s["frames"]) for s in seqs]
    return {
        "sequences": len(seqs),
        "user_images": sum(n),
        "mean_length": round(float(np.mean(n)), 2) if n else 0.0,
    }


def read_index(path: str | os.PathLike[str], split: str) -> list[dict[str, Any]]:
    """The sequences of an index :func:`write_multidf2` wrote for ``split``.

    :class:`DataFormatError` naming the file when it is not an index, or when it was built for
    another split (its ``split`` says which): its images would be looked up under the wrong split.
    """
    from schemas.text_input import load_json, read_text_input

    build = f"mf df2 multidf2 --df2 DF2_ROOT --split {split} --out FILE"
    hint = f"build it with: {build}"
    # missing, unreadable, not UTF-8 or malformed JSON: one error naming the file (the byte, for
    # a file that is not UTF-8)
    text = read_text_input(path, "Multi-DeepFashion2 index", hint=hint, limit=None)
    doc = load_json(text, str(path), hint=hint)
    try:
        seqs = doc["sequences"]
    except (KeyError, TypeError) as exc:
        raise DataFormatError(
            f"not a Multi-DeepFashion2 index ({type(exc).__name__}: {exc})", where=str(path), hint=hint
        ) from None
    stored = doc.get("split")
    if stored is not None and stored != split:
        raise DataFormatError(
            f"the index was built for split {stored!r}, but the dataset was asked for split {split!r}",
            where=str(path),
            hint=f"pass split={stored!r}, or build an index for {split!r}: {build}",
        )
    if not isinstance(seqs, list):
        raise DataFormatError(
            f"'sequences' must be a list, got {type(seqs).__name__}",
            where=str(path),
            hint=f"rebuild it: {build}",
        )
    return seqs


class MultiDeepFashion2Dataset(torch.utils.data.Dataset):
    """Multi-DeepFashion2 items in the MovingFashion item format.

    ``frames`` are crops of the user item boxes (``crop="tracklet"``) or whole user images
    resized to ``frame_size`` (``crop="frame"``); ``shop`` is the whole shop image, or its item
    crop with ``shop_crop=True``. ``frame_indices`` index the sequence's user images,
    ``product_id`` is ``"<pair_id>_<style>"``, ``partition`` is ``"multidf2"``; ``orig_size``
    is the (H, W) of the first frame's user image (the images differ in size) and
    ``image_paths`` names every frame's image. ``dtype``: ``torch.float32`` (values in [0, 1]) or
    ``torch.uint8`` (0..255) for ``frames`` and ``shop``, as in ``MovingFashionDataset``.
    ``index``: the sequences, or the file :func:`write_multidf2` wrote for the same ``split``
    (:func:`read_index`: one built for another split is refused); None builds them.
    ``classes``: DeepFashion2 ids (1..13) or names such as ``'trousers'``, as in
    ``MovingFashionDataset`` (an unknown one is a ConfigError); negative indices count from
    the end, as for a list.
    Images are read as stored (an EXIF orientation tag is not applied), the pixels DeepFashion2's
    boxes are drawn in; a box outside its image is a :class:`DataFormatError` naming both.
    ``seed``: training randomness (None: fresh OS entropy; evaluation draws nothing, None there
    is :data:`EVAL_SEED`). A sequence with fewer user images than ``frames`` gets them repeated
    (evenly, in order) by the fixed-length samplers, as ``MovingFashionDataset`` does a video's.
    """

    def __init__(
        self,
        df2_root: str | os.PathLike[str],
        split: str = "validation",
        *,
        frames: int = 10,
        sampler: str | FrameSampler = "rrs",
        crop: Literal["tracklet", "frame"] = "tracklet",
        transform: Callable[[torch.Tensor], Any] | None = None,
        shop_transform: Callable[[torch.Tensor], Any] | None = None,
        seed: int | None = None,
        crop_size: int | Sequence[int] = 224,
        frame_size: int | Sequence[int] = 224,
        shop_size: int | Sequence[int] = 224,
        shop_crop: bool = False,
        train: bool | None = None,
        index: str | os.PathLike[str] | list[dict[str, Any]] | None = None,
        classes: Iterable[int | str] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.root = df2_folder(df2_root)  # a world folder's df2/, as every --df2 option takes it
        self.dtype = dtype
        self.split = split
        if crop not in ("tracklet", "frame"):
            raise ConfigError(f"crop must be 'tracklet' or 'frame', got {crop!r}", where="crop")
        # checked as MovingFashionDataset checks them (frames="3" was a TypeError, frames=2.5 read
        # as 2, a transform that is no function failed in the first item, an integer dtype there)
        self.frames, self.crop = _whole(frames, "frames"), crop
        self.sampler = get_sampler(sampler)
        for name, fn in (("transform", transform), ("shop_transform", shop_transform)):
            if fn is not None and not callable(fn):
                raise ConfigError(
                    f"{name} must be callable (a function or a torchvision transform), got {type(fn).__name__}",
                    where=name,
                )
        if dtype not in ITEM_DTYPES:
            raise ConfigError(
                f"dtype must be one of {', '.join(str(d) for d in ITEM_DTYPES)}, got {dtype!r}", where="dtype"
            )
        self.transform, self.shop_transform = transform, shop_transform
        self.crop_size, self.frame_size, self.shop_size = (
            _size(crop_size),
            _size(frame_size),
            _size(shop_size),
        )
        self.shop_crop = shop_crop
        self.train = (split == "train") if train is None else bool(train)
        if seed is not None:
            self.seed = _whole(seed, "seed", least=0)
        elif self.train:
            self.seed = int(np.random.SeedSequence().entropy % (2**31))
        else:  # evaluation must not depend on OS randomness
            self.seed = EVAL_SEED
        self._epoch = SharedEpoch(0)
        if isinstance(index, list):
            seqs = index
        elif index is not None:
            seqs = read_index(index, split)
            self._check_images_here(seqs, index)
        else:
            seqs = build_multidf2(self.root, split)
        want = parse_classes(classes)
        if want is not None:
            seqs = [s for s in seqs if s["df2_class"] in want]
        self.sequences = seqs

    def _check_images_here(self, seqs: list[dict[str, Any]], index: str | os.PathLike[str]) -> None:
        """Refuse (:class:`DataFormatError` naming the root) an index whose first shop image is
        not under :attr:`root`: another root than the index was built from, where every item
        failed later, one by one, with "image file not found"."""
        shop = seqs[0].get("shop") if seqs and isinstance(seqs[0], dict) else None
        rel = shop.get("image") if isinstance(shop, dict) else None
        if not isinstance(rel, str):
            return  # a malformed sequence is named when its item is read
        if not resolve_under(self.root, rel, what="image path", where=str(index)).is_file():
            raise DataFormatError(
                f"the index's images are not in this DeepFashion2 root (its first one, {rel}, is not here)",
                where=str(self.root),
                hint=f"pass the root {index} was built from (the --df2 of mf df2 multidf2)",
            )

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        """What the dataset serves, as :class:`~movingfashion.dataset.MovingFashionDataset` shows it."""
        split = f"{self.split} ({'training' if self.train else 'evaluation'})"
        return clip_dataset_repr(self, split, self.sampler.name, [], ("transform", "shop_transform"))

    def set_epoch(self, epoch: int) -> None:
        """Change training randomness for a new epoch (DataLoader workers see it, persistent
        ones included: :class:`movingfashion.epochs.SharedEpoch`)."""
        self._epoch.set(_whole(epoch, "epoch", least=0))

    @property
    def epoch(self) -> int:
        """The epoch :meth:`set_epoch` set last (0 at first)."""
        return self._epoch.get()

    @property
    def product_ids(self) -> list[str]:
        return [s["id"] for s in self.sequences]

    def _item_index(self, index: int) -> int:
        """``index`` with a negative one counted from the end (IndexError past the start, or for
        a dataset with no sequence); TypeError for anything but an integer."""
        index = integer_index(index)
        if not self.sequences:
            raise IndexError(
                f"{self.root}: the dataset is empty: no sequence of split {self.split!r} (check the split and classes)"
            )
        if index < 0:  # as for a list; the generator needs a non-negative index
            if index < -len(self.sequences):
                raise IndexError(f"index {index} out of range for {len(self.sequences)} items")
            index += len(self.sequences)
        return index

    def plan(self, index: int) -> list[int]:
        """User-image positions item ``index`` uses (the reference for tests)."""
        index = self._item_index(index)
        seq = self.sequences[index % len(self.sequences)]
        n = len(seq["frames"])
        if n == 0:
            raise DataFormatError(f"sequence {seq['id']} has no user image", where=self.split)
        rng = np.random.default_rng(
            [self.seed, self.epoch, int(index)] if self.train else [self.seed, int(index)]
        )
        # fewer images than frames: the sampler repeats them evenly, as for a video's frames
        return self.sampler(range(n), self.frames, train=self.train, generator=rng)

    def _load(self, rel: str, box: list[float] | None) -> tuple[np.ndarray, tuple[int, int]]:
        """The image (its box's region when ``box``) and the image's stored (H, W)."""
        path = resolve_under(self.root, rel, what="image path", where=str(self.split))
        img = read_image(path, orientation="stored")  # DeepFashion2's boxes are in stored pixels
        h, w = img.shape[:2]
        if box is not None:
            if not (box[0] < w and box[1] < h and box[2] > 0 and box[3] > 0):
                raise DataFormatError(
                    f"box {list(box)} lies outside the {w}x{h} image",
                    where=str(path),
                    hint="boxes are [x1, y1, x2, y2] in the image's stored pixels: fix the annotation "
                    "or rebuild the index (mf df2 multidf2)",
                )
            x1, y1 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
            x2, y2 = int(min(w, max(x1 + 1, np.ceil(box[2])))), int(min(h, max(y1 + 1, np.ceil(box[3]))))
            img = img[y1:y2, x1:x2]
        return img, (h, w)

    def _resized(
        self, pictures: list[tuple[str, list[float] | None]], size: tuple[int, int]
    ) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        """``[N, 3, h, w]`` tensor of the pictures resized to ``size`` (written straight into its
        planes, as :class:`~movingfashion.dataset.MovingFashionDataset` does) and their (H, W)."""
        into = _Resizer(size, len(pictures), planar=True)
        sizes = []
        for k, (rel, box) in enumerate(pictures):
            img, hw = self._load(rel, box)
            into(k, img)
            sizes.append(hw)
        return clip_tensor(into.out, self.dtype, planar=True), sizes

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._item_index(index)
        seq = self.sequences[index % len(self.sequences)]
        idx = self.plan(index)
        tracklet = self.crop == "tracklet"
        size = self.crop_size if tracklet else self.frame_size
        frames, sizes = self._resized(
            [(seq["frames"][i]["image"], seq["frames"][i]["box"] if tracklet else None) for i in idx], size
        )
        if self.transform is not None:
            frames = self.transform(frames)
        shop = self._resized(
            [(seq["shop"]["image"], seq["shop"]["box"] if self.shop_crop else None)], self.shop_size
        )[0][0]
        if self.shop_transform is not None:
            shop = self.shop_transform(shop)
        boxes = torch.tensor([seq["frames"][i]["box"] for i in idx], dtype=torch.float32)
        if not tracklet:  # boxes in the coordinates of the resized frames, as MovingFashionDataset does
            scale = torch.tensor([[size[1] / w, size[0] / h, size[1] / w, size[0] / h] for h, w in sizes])
            boxes = boxes * scale
        return {
            "shop": shop,
            "frames": frames,
            "frame_indices": torch.tensor(idx, dtype=torch.long),
            "boxes": boxes,
            "product_id": seq["id"],
            "df2_class": int(seq["df2_class"]),
            "partition": "multidf2",
            "video_path": f"{self.split}/{seq['id']}",
            "video_index": 0,
            "index": int(index) % len(self.sequences),  # its position, as MovingFashionDataset's
            "draw": int(index),  # the index asked for, whose randomness the item holds
            "orig_size": sizes[0] if sizes else (0, 0),
            "image_paths": [seq["frames"][i]["image"] for i in idx],
        }
