"""The crop cache's entries and their use by :class:`~movingfashion.dataset.MovingFashionDataset`:
an entry's files (``<video>[@<product>].npy`` and ``.json``), the checks that it holds a video's
crops as the dataset cuts them now, and the dataset's side (each entry checked once when the
dataset is made, the checked metas kept in a bounded map, one warning for one not used). Built by
:func:`movingfashion.crop_cache_build.build_crop_cache`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from movingfashion.richer_files import other_split_files
from movingfashion.training_copy import (
    _source_boxes,
    entry_stem,
    frames_problem,
    legacy_entry,
    same_video_file,
)
from schemas.errors import ConfigError, MFError, short_repr
from schemas.official import split_listing
from schemas.paths import inside
from schemas.redact import redacted_logger

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.records import VideoRecord

#: the dataset's messages keep the dataset's logger name wherever their code lives: a user
#: configures ``movingfashion.dataset`` for everything the dataset says, its crop cache included
log = redacted_logger("movingfashion.dataset")

#: Checked crop-cache entries kept per process (frames and boxes only: a few kB each), the
#: least recently used first dropped (then read and checked again when next used).
CACHE_METAS = 256


@dataclass(frozen=True)
class _CacheMeta:
    """What items read of a checked crop-cache entry: its frame indices (int32), their output
    boxes (float32 ``[n, 4]``, NaN where the meta has None) and the decoded (H, W)."""

    frames: np.ndarray
    boxes: np.ndarray
    orig_size: tuple[int, int]

    @classmethod
    def of(cls, meta: dict[str, Any]) -> _CacheMeta:
        """The compact form of a meta :func:`entry_problem` accepted."""
        frames = np.asarray([int(f) for f in meta["frames"]], dtype=np.int32)
        boxes = np.array(meta["boxes"], dtype=np.float32).reshape(-1, 4)
        h, w = (int(v) for v in meta["orig_size"])
        return cls(frames, boxes, (h, w))


class _OpenArrays:
    """Memory-mapped crop-cache arrays kept open per process (not pickled into workers)."""

    size = 64

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._open: dict[Path, np.ndarray] = {}

    def get(self, path: Path) -> np.ndarray:
        if os.getpid() != self._pid:
            self._open, self._pid = {}, os.getpid()
        arr = self._open.get(path)
        if arr is None:
            if len(self._open) >= self.size:
                self._open.pop(next(iter(self._open)))
            arr = self._open[path] = np.load(path, mmap_mode="r")
        return arr

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()


def _cache_key(video: VideoRecord) -> str:
    """What remembers ``video``'s crop-cache entry in a process (checked, or not used)."""
    return f"{video.rel_path}@{video.product_id}"


def cache_entry(cache_dir: Path, rel_path: str, product_id: str | None = None) -> tuple[Path, Path]:
    """(array file, meta file) of one video in a crop cache; with ``product_id``, of that
    product's crops of it (a video several products list: :func:`entry_product`). Named by
    :func:`movingfashion.training_copy.entry_stem` (``videos%2F101_0.mp4.npy``): one name per
    video and product."""
    stem = entry_stem(rel_path, product_id)
    return inside(cache_dir, f"{stem}.npy", what="crop cache file"), inside(
        cache_dir, f"{stem}.json", what="crop cache file"
    )


def entry_problem(meta: dict[str, Any], video: VideoRecord) -> str | None:
    """Why a crop-cache entry's ``meta`` does not hold ``video``'s crops as the dataset would cut
    them now (another video, the video or its tracklet changed, another product's) or is
    damaged (frames or boxes that cannot be the video's:
    :func:`movingfashion.training_copy.frames_problem`); None when it does. The cut parameters
    are checked apart (a mismatch there is a ConfigError)."""
    if meta.get("video") != video.rel_path:
        return f"it holds video {short_repr(meta.get('video'))}"
    if not same_video_file(meta, video):
        return "the video changed since the entry was built"
    if meta.get("product", video.product_id) != video.product_id:
        return f"it holds product {short_repr(meta.get('product'))}'s crops"
    if meta.get("source_boxes") != _source_boxes(video):
        return "the tracklet changed since the entry was built"
    try:
        frames = [int(f) for f in meta["frames"]]
        orig = [int(v) for v in meta["orig_size"]]
        crop, boxes = meta["params"]["crop"], meta["boxes"]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(Infinity)
        return f"damaged meta ({type(exc).__name__}: {exc})"
    if len(orig) != 2 or not isinstance(boxes, list):
        return "damaged meta (orig_size or boxes)"
    every_frame = "pool" in meta and meta["pool"] is None  # whole frames: each one stored
    problem = frames_problem(frames, boxes, video, crop, every_frame=every_frame)
    return None if problem is None else f"damaged meta: {problem}"


def array_problem(arr: np.ndarray, meta: dict[str, Any]) -> str | None:
    """Why a crop-cache entry's array does not hold the crops its ``meta`` lists (frame count,
    crop size, dtype); None when it does."""
    return _array_problem(arr, len(meta["frames"]), meta["params"].get("size"))


def _array_problem(arr: np.ndarray, nframes: int, size: Sequence[int] | None) -> str | None:
    """:func:`array_problem` given the entry's frame count and crop size."""
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[3] != 3:
        return f"array of {arr.dtype} {arr.shape}, not uint8 RGB frames"
    if len(arr) != nframes:
        return f"{len(arr)} frames stored, the entry lists {nframes}"
    if size is not None and list(arr.shape[1:3]) != list(size):
        return f"crops of {arr.shape[1]}x{arr.shape[2]} stored, the entry says {size[0]}x{size[1]}"
    return None


def entry_product(dataset: MovingFashionDataset, video: VideoRecord) -> str | None:
    """The product ``video``'s crop-cache entry is named after: its own when several products
    list the video (each crops its own boxes: one entry each), else none (one entry per video,
    the name caches had before)."""
    return video.product_id if video.rel_path in dataset.shared_videos else None


def cache_files(dataset: MovingFashionDataset, video: VideoRecord) -> tuple[Path, Path]:
    """(array file, meta file) of ``video``'s entry in the crop cache."""
    assert dataset.crop_cache is not None
    return cache_entry(dataset.crop_cache, video.rel_path, entry_product(dataset, video))


def cached_meta(dataset: MovingFashionDataset, video: VideoRecord) -> _CacheMeta | None:
    """``video``'s crop-cache entry, checked (None: decode it live). Kept in a bounded
    least-recently-used map; an entry not used is remembered by name only (one warning)."""
    if dataset.crop_cache is None:
        return None
    key = _cache_key(video)
    if key in dataset._cache_unused:
        return None
    meta = dataset._cache_meta.get(key)
    if meta is not None:
        dataset._cache_meta.move_to_end(key)
        return meta
    meta = read_cached(dataset, video)
    if meta is None:
        dataset._cache_unused.add(key)
        return None
    dataset._cache_meta[key] = meta
    while len(dataset._cache_meta) > CACHE_METAS:
        dataset._cache_meta.popitem(last=False)
    return meta


def read_cached(dataset: MovingFashionDataset, video: VideoRecord) -> _CacheMeta | None:
    """Read and check ``video``'s crop-cache meta (a warning when it is there but not used)."""
    meta_path = cache_files(dataset, video)[1]
    if not meta_path.is_file():
        note_legacy(dataset, video)
        log.info("%s: not in the crop cache, decoding the video", video.rel_path)
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("not a JSON object")
    except RecursionError:
        log.warning(
            "%s: unreadable crop cache entry (JSON nested too deeply); decoding the video live", meta_path
        )
        return None
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable crop cache entry (%s); decoding the video live", meta_path, exc)
        return None
    if meta.get("params") != dataset.cache_params():
        raise ConfigError(
            f"crop cache built with {short_repr(meta.get('params'))}, dataset wants {dataset.cache_params()}",
            where=str(meta_path),
            hint="open the dataset with the settings it was built with, or build a crop cache for these "
            "into a new folder: mf crop-cache --out NEW_FOLDER with the dataset's --crop, "
            "--crop-size/--frame-size and --context (or build_crop_cache)",
        )
    problem = entry_problem(meta, video)
    if problem is not None:  # stale: one warning per entry, then live decoding
        log.warning(
            "%s: crop cache entry not used (%s); decoding %s live (rerun mf crop-cache to rebuild it)",
            meta_path,
            problem,
            video.rel_path,
        )
        return None
    return _CacheMeta.of(meta)


def check_cache_entries(dataset: MovingFashionDataset, videos: Iterable[VideoRecord]) -> None:
    """Check the crop-cache entry of every video of ``videos`` as its first load would (meta,
    then the array's header and size), each one not used named in one warning and remembered
    (the metas themselves are read again where they are used). An entry built with other
    parameters is left to the first load (a ConfigError there)."""
    for video in videos:
        key = _cache_key(video)
        if key in dataset._cache_unused:
            continue
        try:
            meta = read_cached(dataset, video)
        except ConfigError:
            continue
        if meta is None:
            dataset._cache_unused.add(key)
            continue
        try:
            arr = np.load(cache_files(dataset, video)[0], mmap_mode="r")
            problem = _array_problem(arr, len(meta.frames), dataset.cache_params()["size"])
            del arr
            if problem is not None:
                raise ValueError(problem)
        except (OSError, ValueError, EOFError) as exc:
            drop_cached(dataset, video, exc)


def note_legacy(dataset: MovingFashionDataset, video: VideoRecord) -> None:
    """One warning (for the whole cache) when ``video``'s entry is there named the old way."""
    meta_path = cache_files(dataset, video)[1]
    legacy = legacy_entry(meta_path.parent, video.rel_path, entry_product(dataset, video), ".json")
    if not dataset._legacy_warned and legacy is not None:
        dataset._legacy_warned = True
        log.warning(
            "%s: crop cache entry named the old way (before names kept the extension), "
            "no longer read; its videos decode live: rerun mf crop-cache to rebuild it",
            legacy,
        )


def drop_cached(dataset: MovingFashionDataset, video: VideoRecord, exc: BaseException) -> None:
    """A crop-cache entry that cannot be read: warn once naming its file; decode the video live."""
    arr_path = cache_files(dataset, video)[0]
    log.warning(
        "%s: crop cache entry unusable (%s: %s); decoding %s live (rebuild the cache to fix it)",
        arr_path,
        type(exc).__name__,
        exc,
        video.rel_path,
    )
    key = _cache_key(video)
    dataset._cache_meta.pop(key, None)
    dataset._cache_unused.add(key)


def check_at_open(dataset: MovingFashionDataset, split: str, videos: list[VideoRecord]) -> None:
    """Check the crop-cache entry of every one of ``videos`` once, when the dataset is made: the
    missing ones counted in one warning (one named the old way said once), each other one not
    used named in one warning; DataLoader workers get the verdicts with the dataset."""
    missing = [v for v in videos if not cache_files(dataset, v)[1].is_file()]
    other = (
        cache_of_other_split(dataset, dataset.crop_cache, {v.rel_path for v in videos}) if missing else None
    )
    warn_missing_entries(
        dataset, split, "crop cache", "mf crop-cache", dataset.crop_cache, missing, videos, other_split=other
    )
    dataset._cache_unused.update(_cache_key(v) for v in missing)
    for v in missing:  # one of them named the old way: said once
        if dataset._legacy_warned:
            break
        note_legacy(dataset, v)
    check_cache_entries(dataset, videos)


def cache_of_other_split(dataset: MovingFashionDataset, folder: Path, own: AbstractSet[str]) -> Path | None:
    """The other split file of the dataset folder (:func:`other_split_files`) one of whose
    videos not among ``own`` (this split's) has an entry in crop cache ``folder`` (None: none
    has, or it does not read): asked when the folder lacks some of this split's videos, to tell
    a cache of another split from one not (fully) built yet."""
    for p in other_split_files(dataset.root, dataset.split_path):
        try:
            rows = split_listing(p, stored=True).products
        except (MFError, OSError, UnicodeDecodeError):
            continue
        for pid, rels, _ in rows:
            for rel in rels:
                if rel in own:
                    continue
                try:
                    if any(cache_entry(folder, rel, q)[1].is_file() for q in (pid, None)):
                        return p
                except (MFError, OSError):  # a path the folder cannot hold
                    continue
    return None


def warn_missing_entries(
    dataset: MovingFashionDataset,
    split: str,
    what: str,
    command: str,
    folder: Path,
    missing: list[VideoRecord],
    videos: list[VideoRecord],
    *,
    other_split: Path | None = None,
) -> None:
    """One warning when the crop cache or training copy (``what``, in ``folder``) has no entry
    for some ``videos`` (they decode live); ``other_split``: the split file whose videos the
    folder holds instead (:func:`cache_of_other_split`), said so, with no suggestion to build
    this split into that folder."""
    if missing and other_split is not None:
        log.warning(
            "%s: a %s of another split: it holds entries of %s's videos, and %d of the %d videos"
            " of split %r (%s) have none (e.g. %s); they are decoded live: pass the %s of split %r,"
            " or build one in its own folder with `%s --dataset %s --split %s --out OTHER_FOLDER`",
            folder,
            what,
            other_split.name,
            len(missing),
            len(videos),
            split,
            dataset.split_path.name,
            missing[0].rel_path,
            what,
            split,
            command,
            dataset.root,
            split,
        )
    elif missing:
        log.warning(
            "%s: %d of %d videos have no %s entry (e.g. %s); they are decoded live: "
            "build them with `%s --dataset %s --split %s --out %s`",
            folder,
            len(missing),
            len(videos),
            what,
            missing[0].rel_path,
            command,
            dataset.root,
            split,
            folder,
        )
