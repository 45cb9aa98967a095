"""``MovingFashionDataset``: shop image + a clip of T frames (or tracklet crops) per item.

Reads any folder in the official format: ``train.json`` / ``test.json`` exactly as published
(:func:`schemas.official.read_official`), plus the project's richer files when present:
``entries.jsonl`` (DeepFashion2 class, partition) and ``tracklets/*.json`` (detector scores,
frame size, used by the ``salient`` sampler and to check boxes early). Both layouts read alike:
the real archive's (``imgs/``, ``source`` 0 = Hard) and this project's older one (``shop/``,
``source`` 2): paths are followed as written and the partition comes from ``entries.jsonl``, else
from ``source`` (1 = Regular, anything else Hard; :attr:`schemas.official.OfficialEntry.partition`).

Design choices (documented contract):

* **Which video** of a product with several: ``videos="random"`` picks one per item with the
  item's generator (default in training), ``"first"`` always the first usable one (default in
  evaluation), ``"all"`` makes one item per (product, video).
* **Randomness** only in training, from a generator seeded by ``(seed, epoch, index)``
  (``seed=None``: torch's seed, ``torch.initial_seed()``, when the dataset is made, so
  ``torch.manual_seed(s)`` first makes the clips reproducible, and DDP ranks seeded alike draw
  alike; unseeded, every process draws its own); call
  :meth:`MovingFashionDataset.set_epoch` every epoch, before iterating the loader (the epoch
  lives in shared memory, :class:`movingfashion.epochs.SharedEpoch`, so workers see it, the
  persistent ones of :func:`~movingfashion.batching.loader_settings` included). Indices ``>= len(dataset)`` are allowed and map to
  ``index % len`` with their own generator: that is how :class:`~movingfashion.batching.PKSampler`
  asks for several different clips of the same item. Evaluation uses no randomness at all.
* **Candidates**: with ``crop="tracklet"`` only frames that have a tracklet box can be sampled;
  with ``crop="frame"`` every frame of the video.
* **Salient scores** (``sampler="salient"``) weigh boxes against a frame size known before any
  decode: the tracklet file's, else the video's as probed from the file (once per video and
  product, :meth:`MovingFashionDataset.quality_size`), never a size a decode learnt, so an
  item's frames do not depend on what the process decoded before, and ``plan()``, the live
  path, the training copy and the crop cache give the same frames.
* **Bad rows** (``on_bad``): a row missing a field or holding a malformed one, a path leaving
  the dataset folder, a missing video or shop image, an empty tracklet (tracklet crops), an
  unknown class, or a box outside the frame raise a clear ``MFError`` naming the product and
  file with ``on_bad="raise"`` (default). With ``on_bad="skip"`` rows are validated one by one:
  a bad row drops its product (a bad video just that video; the product when no usable video is
  left), bad boxes drop just their frame, a malformed ``entries.jsonl`` line just that line, and
  every drop is listed in ``dataset.skipped`` as ``(product id, reason)``. Problems that only
  show when a video is decoded (a box outside the real frame, a frame index past the end) are
  checked once per video and product at first use (each product's tracklet of a video several
  products list on its own; the video is opened once), with the same policy: under ``skip``
  the offending frames leave the candidate set and the clip is sampled again. Boxes past the
  end of a video cut short (its last frame does not decode, or it holds far fewer frames than
  its header, its tracklet file or its boxes say) are the file's fault: :class:`BrokenVideo` (a MediaError
  saying it is truncated or damaged; under ``skip`` listed once for the video). A product left
  without a usable video is listed once, its videos' reasons in the entry (an empty tracklet
  with what to do: ``empty_tracklet_hint``, by default run ``mf-tracklets build`` first or pass
  ``crop='frame'``; a command passes the options it has).
* **Undecodable media** (a video or shop image that does not decode): ``on_bad="raise"`` raises
  :class:`MediaError` (call ``check(deep=True)`` before training to find the videos up front:
  it decodes every frame the sampler may ask for; :meth:`check` alone only opens them). Under
  ``skip`` item ``i`` is the first of ``i, i + 1, i + 2, ...`` that loads (so the same item in
  every worker and every run), and the items it stands in for are listed in its ``skipped`` key
  (``index``, ``product_id``, ``video_path``, ``reason``); :func:`~movingfashion.batching.collate_clips`
  gathers them into ``batch["skipped"]`` (absent when nothing was skipped). A DataLoader worker's
  ``dataset.skipped`` stays in the worker: call :meth:`MovingFashionDataset.note_skips` with each
  batch in the main process, and ``dataset.skipped`` lists every skip of the epoch afterwards
  (each bad row or file once). The healthy path costs nothing extra: the fallback only runs on
  an error.
* **Crop cache** (optional, for speed): :func:`build_crop_cache` decodes each video once and
  stores the crops of its frames; ``crop_cache=DIR`` then reads the clip from a memory-mapped
  array. With ``pool=None`` every candidate frame is stored and items are identical to
  decoded ones; with ``pool=N`` frames come only from a fixed pool of N (a training-time
  trade-off: evaluate without it to follow the paper's protocol; a rerun with another pool,
  or none, builds every entry again). An entry is used only for the video (path and byte
  size) and tracklet boxes it was cut from: a stale or damaged one is named in one warning and
  its video decoded live, and a rerun of the build redoes it (every entry is checked when the
  dataset is made, in that process, so DataLoader workers do not name it again). A
  ``crop_cache`` folder that does not exist is a ConfigError; videos without an entry in it
  are counted in one warning when the dataset is made (and decoded live).
* **Training copy** (optional, for speed at ~10-15 KB per frame): ``mf training-copy``
  (:func:`movingfashion.training_copy.build_training_copy`) stores every candidate frame's
  crop as JPEG, one file per video; ``training_copy=DIR`` then samples the same frame indices
  as the live path and reads T small JPEGs per clip (pixels within
  :data:`movingfashion.training_copy.TOLERANCE` of the live crops). A stale or corrupt copy of
  a video (its index and data file size checked when the dataset is made, in that process, so
  DataLoader workers do not name it again; a CRC mismatch found while reading is named by the
  process that meets it) is named in one warning and that video is decoded live; a rerun of
  the build redoes it. A ``training_copy`` folder that does not exist is a ConfigError; videos
  without an entry in it are counted in one warning.
* **Entry names** of a video several products of the split file list: one entry per product,
  ``<video>@<product>``, whatever ``classes=`` / ``partition=`` keep (``shared_videos``).
* **Decoder** (``backend``): ``"auto"`` = the reader registry's choice for sparse access
  (PyAV, which skips the non-reference frames a clip does not need; torchcodec for streams
  without B-frames), then decord, then OpenCV, per file; a name from
  :func:`movingfashion.media.readers.backend_names` forces one. Each decoded frame is cropped
  as it comes (full frames are never stacked).
* **dtype**: ``torch.float32`` (default, values in [0, 1]) or ``torch.uint8`` (0..255, four
  times less to pass from DataLoader workers; convert on the GPU with
  :func:`movingfashion.batching.frames_to_float`, DataLoader settings in
  :func:`movingfashion.batching.loader_settings`).
* **Boxes** in items are in the coordinates of the returned frames for ``crop="frame"`` (scaled
  when ``frame_size`` resizes them) and in original pixels for ``crop="tracklet"``; frames
  without a box hold NaN. Boxes up to ``box_tolerance`` pixels (a finite number >= 0) outside the
  frame are clipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from movingfashion.crop_cache import (
    CACHE_METAS,
    _CacheMeta,
    _OpenArrays,
    array_problem,
    cache_entry,
    cache_files,
    cached_meta,
    check_at_open,
    drop_cached,
    entry_problem,
    entry_product,
    read_cached,
    warn_missing_entries,
)
from movingfashion.crop_cache_build import CACHE_DECODE_CHUNK, build_crop_cache
from movingfashion.cutting import crop_window, crops, whole_frames
from movingfashion.dataset_args import (
    ITEM_DTYPES,
    _whole,
    clip_dataset_repr,
    dataset_options,
    integer_index,
    parse_classes,
)
from movingfashion.epochs import SharedEpoch
from movingfashion.items import SHOP_CACHE_SIZE, item_from_cache, item_from_copy, make_item
from movingfashion.media.readers import FrameReader, ReaderCache, Window
from movingfashion.planes import _Resizer, clip_tensor
from movingfashion.records import ProductRecord, Size, VideoRecord
from movingfashion.richer_files import RicherVideo, other_split_files, read_richer_file
from movingfashion.sampling import FrameSampler, QualityConfig, frame_quality
from movingfashion.skips import count_skips, describe_skips, skipped_lines
from movingfashion.split_records import IS_FOLDER, item_index, read_split, warn_empty
from movingfashion.training_copy import CorruptCopy, TrainingCopy
from movingfashion.video_checks import BrokenVideo, check_video, drop_past_end, raise_if_cut_short
from schemas.errors import DataFormatError, MediaError, MFError
from schemas.official import OfficialSplit
from schemas.redact import redacted_logger
from schemas.taxonomy import Partition

#: what this module and the modules it is made of (records, split_records, richer_files,
#: video_checks, crop_cache, ...) log: one name, ``movingfashion.dataset``, for all the dataset says
log = redacted_logger(__name__)


#: Whole frames (``crop="frame"``) with more pixels than Full HD and no ``frame_size`` are returned
#: as decoded with one warning: a 4K item of 10 frames is about 1 GB as float32.
LARGE_FRAME_PIXELS = 1920 * 1080

#: What to do about a video without tracklet boxes (tracklet crops need them), as the library
#: says it; a command passes its own (``empty_tracklet_hint=``) naming only the options it has.
EMPTY_TRACKLET_HINT = "run mf-tracklets build first, or crop whole frames: crop='frame'"

#: the names of the dataset's API, wherever they live: ``from movingfashion.dataset import X``
__all__ = [
    "CACHE_DECODE_CHUNK",
    "CACHE_METAS",
    "EMPTY_TRACKLET_HINT",
    "IS_FOLDER",
    "ITEM_DTYPES",
    "LARGE_FRAME_PIXELS",
    "SHOP_CACHE_SIZE",
    "BrokenVideo",
    "MovingFashionDataset",
    "ProductRecord",
    "RicherVideo",
    "Size",
    "VideoRecord",
    "array_problem",
    "build_crop_cache",
    "cache_entry",
    "clip_dataset_repr",
    "clip_tensor",
    "crop_window",
    "describe_skips",
    "entry_problem",
    "entry_product",
    "integer_index",
    "log",
    "other_split_files",
    "parse_classes",
    "read_richer_file",
    "skipped_lines",
]


class MovingFashionDataset(torch.utils.data.Dataset):
    """Video-to-shop items from an official-format MovingFashion folder.

    Each item is a dict: ``shop`` ([3, H, W] of ``dtype``: float in [0, 1] by default, uint8
    0..255 with ``dtype=torch.uint8``; or what ``shop_transform`` returns), ``frames`` ([T, 3,
    H, W], the same ``dtype``), ``frame_indices`` (long [T]), ``boxes`` (float [T, 4], NaN where
    a frame has no box), ``product_id``, ``df2_class`` (-1 when unknown), ``partition``,
    ``video_path`` (relative, as in the JSON), ``video_index`` (its position in the product's
    ``video_paths``, also when ``on_bad="skip"`` dropped another), ``index`` (the item's position,
    ``0 .. len - 1``), ``draw`` (the index asked for, which the item's randomness comes from:
    ``plan(draw)`` gives its frame indices) and ``orig_size`` (the (H, W) of the decoded frames).
    ``boxes`` are in the decoded frames' pixels (``orig_size``), except with ``crop="frame"`` and
    a ``frame_size``, where they are scaled with the frames (in the returned frames' pixels,
    ``frames.shape[-2:]``); with ``crop="tracklet"`` the item also holds
    ``crop_boxes`` (float [T, 4]): each box in the pixels of its crop (about ``[0, 0, S, S]`` for
    a crop of side S without ``context``: the cut is the box rounded out to whole pixels).
    Negative indices count from the end, as for a list; indices past the end stand for
    ``index % len`` with their own randomness (:class:`~movingfashion.batching.PKSampler` draws
    a product several times that way), and iterating the dataset gives each item once. A dataset
    with no item (an empty split file, or ``partition`` / ``classes`` that keep no product) is
    made with one warning naming the split file and the filters; indexing it raises IndexError.
    A video with fewer candidate frames than ``frames`` gets them repeated (evenly, in order) by
    the fixed-length samplers, so that every clip has exactly ``frames`` frames (``"all"``: its
    candidates once).

    ``train`` (default: True for ``train.json`` only) samples as in training: random RRS frames
    and a random video of the product, drawn anew for each :meth:`set_epoch`; otherwise the
    frames are the chunk centres and the video the first (``videos=`` overrides the video
    choice). A split file of another name (``train_small.json``) is read as an evaluation
    split, with a warning, unless ``train=True`` is given.

    ``transform`` receives the frames ``[T, 3, H, W]`` only: the ``boxes`` stay in the frames'
    coordinates as cut (``frame_size`` resizes both). A transform that moves pixels (a resize, a
    flip, a crop) goes in ``transforms``, which receives ``(frames, boxes)`` (boxes ``[T, 4]``
    ``x1, y1, x2, y2``, NaN where a frame has none; with ``crop="tracklet"`` the ``crop_boxes``,
    which it returns in their place, while ``boxes`` stay in source pixels) and returns both, as torchvision's
    ``transforms`` of its detection datasets do. It gets them as torchvision's ``tv_tensors``
    (``Video(frames)`` and ``BoundingBoxes(boxes, format="XYXY", canvas_size=(H, W))``, the
    frames' size as cut), so a ``torchvision.transforms.v2`` pipeline is passed as it is and
    moves both; what it returns is kept as plain tensors. It runs after ``transform``.

    ``seed`` fixes the training draws (frames, video) of every epoch, in any number of
    DataLoader workers; without it the dataset takes torch's seed when it is made
    (``torch.manual_seed`` before it makes runs reproducible; see the module docstring).

    ``split_rows``: the split file as :func:`~schemas.official.read_official_rows` just read it,
    from a caller that had to read it first (:func:`movingfashion.seam.features.build_bank`, for
    its cache key): taken instead of parsing the file again. It must be that file's.

    ``full_tracklet_files``: each video's tracklet file is read in full (a
    :class:`~schemas.dataset.VideoTracklets`, every tracklet checked) instead of what the dataset
    uses of it, and kept on the video's record (:attr:`VideoRecord.tracklet_file`), for a caller
    that needs its inference tracklets too (:func:`movingfashion.seam.features.build_bank`) and
    reads no file again. A file broken only in a tracklet other than the ground truth, which the
    light read takes, is then ignored (with the warning).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        frames: int = 10,
        sampler: str | FrameSampler = "rrs",
        crop: Literal["tracklet", "frame"] = "tracklet",
        transform: Callable[[torch.Tensor], Any] | None = None,
        shop_transform: Callable[[torch.Tensor], Any] | None = None,
        transforms: Callable[[torch.Tensor, torch.Tensor], tuple[Any, Any]] | None = None,
        partition: str | Partition | None = None,
        classes: Iterable[int | str] | None = None,
        seed: int | None = None,
        on_bad: Literal["raise", "skip"] = "raise",
        crop_size: int | Sequence[int] = 224,
        frame_size: int | Sequence[int] | None = None,
        shop_size: int | Sequence[int] | None = 224,
        context: float = 0.0,
        videos: Literal["random", "first", "all"] | None = None,
        train: bool | None = None,
        box_tolerance: float = 2.0,
        quality: QualityConfig | None = None,
        cache_size: int = 16,
        backend: str = "auto",
        crop_cache: str | os.PathLike[str] | None = None,
        dtype: torch.dtype = torch.float32,
        training_copy: str | os.PathLike[str] | None = None,
        empty_tracklet_hint: str = EMPTY_TRACKLET_HINT,
        split_rows: tuple[OfficialSplit, list[tuple[str, str]]] | None = None,
        full_tracklet_files: bool = False,
    ) -> None:
        #: the working directory relative paths are read from (None once every path is absolute):
        #: a later chdir (a notebook's %cd, a launcher) must not lose the files (:meth:`_follow_cwd`)
        self._opened_in: str | None = _cwd()
        self.root = Path(root)
        self.empty_tracklet_hint = empty_tracklet_hint
        o = dataset_options(
            self.root,
            split,
            frames=frames,
            sampler=sampler,
            crop=crop,
            transform=transform,
            shop_transform=shop_transform,
            transforms=transforms,
            partition=partition,
            classes=classes,
            seed=seed,
            on_bad=on_bad,
            crop_size=crop_size,
            frame_size=frame_size,
            shop_size=shop_size,
            context=context,
            videos=videos,
            train=train,
            box_tolerance=box_tolerance,
            quality=quality,
            cache_size=cache_size,
            backend=backend,
            crop_cache=crop_cache,
            dtype=dtype,
            training_copy=training_copy,
        )
        split_path = self.split_path = o.split_path
        self.train, self.frames, self.crop, self.on_bad = o.train, o.frames, o.crop, o.on_bad
        self.sampler, self.sampler_name = o.sampler, o.sampler.name
        self.transform, self.shop_transform, self.transforms = transform, shop_transform, transforms
        self.crop_size, self.frame_size, self.shop_size = o.crop_size, o.frame_size, o.shop_size
        self.context, self.videos_mode, self.box_tolerance = o.context, o.videos_mode, o.box_tolerance
        self.quality, self.dtype, self.seed = o.quality, o.dtype, o.seed
        self._warned_large = False  # whole frames past LARGE_FRAME_PIXELS with no frame_size: said once
        self._epoch = SharedEpoch(0)
        self.cache = ReaderCache(o.cache_size, backend, o.reader_access)
        self.skipped: list[tuple[str, str]] = []
        self._probed: dict[str, tuple[int, int, int]] = {}  # video path -> (frames, H, W), per process
        self.crop_cache = o.crop_cache
        self._cache_meta: OrderedDict[str, _CacheMeta] = OrderedDict()  # at most CACHE_METAS
        self._cache_unused: set[str] = set()  # entries not used (missing, stale, unreadable)
        self._legacy_warned = False
        self._arrays = _OpenArrays()
        self.training_copy: TrainingCopy | None = (
            TrainingCopy(o.training_copy, self.cache_params()) if o.training_copy is not None else None
        )
        self._length_problems: dict[str, str | None] = {}  # video record -> why it is cut short, per process

        self._skip_seen: set[tuple[str, str]] = set()
        want_partition, want_classes = o.partition, o.classes
        read_split(self, split_rows, want_partition, want_classes, full_tracklet_files=full_tracklet_files)
        self._index: list[tuple[int, int | None]] = item_index(self.products, self.videos_mode)
        if self.skipped:
            log.warning(
                "%s: skipped %s (each with its reason in `skipped`: the dataset's attribute,"
                " the key of a command's --json)%s",
                split_path,
                describe_skips(self.skip_counts()),
                f"; none of its products has a usable video (first: {self.skipped[0][1]})"
                if not self.products and not self._filtered
                else "",
            )
        if not self.products and (self._filtered or not self.skipped):  # else the skips said it
            warn_empty(self, want_partition, want_classes)
        videos = [v for rec in self.products for v in rec.videos]
        # every entry is checked here, once, in the process that makes the dataset: one not used
        # is named in one warning, and DataLoader workers get the verdicts with the dataset
        if self.crop_cache is not None:
            check_at_open(self, split, videos)
        if self.training_copy is not None:
            missing = self.training_copy.unbuilt((v, entry_product(self, v)) for v in videos)
            folder = self.training_copy.root
            warn_missing_entries(self, split, "training copy", "mf training-copy", folder, missing, videos)
            self.training_copy.check((v, entry_product(self, v)) for v in videos)

    def skip_counts(self) -> dict[str, int]:
        """What the entries of :attr:`skipped` left out, counted (keys with a count only):
        ``products`` (products that do not load at all), ``videos`` (videos dropped from a product
        that still loads by its other videos), ``frames`` (frames whose boxes were dropped, of a
        product that still loads), ``lines`` (malformed ``entries.jsonl`` lines) and ``filtered``
        (skips of products the ``classes``/``partition`` filter leaves out anyway)."""
        return count_skips(self)

    def skip_subject(self, pid: str, reason: str, loaded: AbstractSet[str] | None = None) -> str:
        """What the skip ``(pid, reason)`` of :attr:`skipped` left out, in words: ``product 'P'``,
        ``part of product 'P' (it still loads)`` (a video or frames, which ``reason`` names) or
        ``an entries.jsonl line``. ``loaded``: the ids of :attr:`products`, when the caller has
        them (by default an index kept with the dataset, :meth:`_loaded_ids`: O(1) per skip)."""
        if (pid, reason) in self._line_skips:
            return "an entries.jsonl line"
        if pid in (loaded if loaded is not None else self._loaded_ids()):
            return f"part of product {pid!r} (it still loads)"
        return f"product {pid!r}"

    @property
    def filtered_ids(self) -> frozenset[str]:
        """The ids of the products the ``partition`` / ``classes`` filters left out: each one
        read and had a usable video, so it is in neither :attr:`products` nor :attr:`skipped`'s
        products (empty without filters). Read-only; with :attr:`skipped` it tells a dataset the
        filters emptied from one whose every product was skipped."""
        return self._filtered

    def _loaded_ids(self) -> frozenset[str]:
        """The ids of :attr:`products`, built once and kept while that list stays the same object
        with the same length (:meth:`check` replaces it): a skip named costs a set lookup, not a
        pass over every product."""
        cached = self.__dict__.get("_loaded_index")
        if cached is None or cached[0] is not self.products or cached[1] != len(self.products):
            cached = (self.products, len(self.products), frozenset(rec.product_id for rec in self.products))
            self._loaded_index = cached
        return cached[2]

    def skipped_report(self) -> dict[str, Any]:
        """The skips as ``mf crop-cache`` and ``mf training-copy`` report them: ``skipped`` (each
        skip's ``item``, ``reason`` and what it ``left_out``, :meth:`skip_subject`) and
        ``skipped_counts`` (:meth:`skip_counts`)."""
        loaded = self._loaded_ids()
        return {
            "skipped": [
                {"item": pid, "reason": why, "left_out": self.skip_subject(pid, why, loaded)}
                for pid, why in self.skipped
            ],
            "skipped_counts": self.skip_counts(),
        }

    def _bad(
        self,
        pid: str,
        problem: str,
        exc_type: type[MFError],
        where: str,
        hint: str,
        *,
        hint_when_skipped: bool = False,
    ) -> None:
        """Raise, or record a skip, for one bad row (with ``hint_when_skipped``, the skip says
        what to do too)."""
        if self.on_bad == "raise":
            raise exc_type(
                f"product '{pid}': {problem}",
                where=where,
                hint=f"{hint}; or pass on_bad='skip' to drop such rows",
            )
        self.skipped.append((pid, f"{where}: {problem}" + (f" ({hint})" if hint_when_skipped else "")))

    # ------------------------------------------------------------------ public API
    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        """What the dataset serves, as torchvision's datasets show it: its size, files and settings."""
        extra = [f"Skipped: {len(self.skipped)} (see .skipped)"] if self.skipped else []
        return clip_dataset_repr(
            self,
            f"{self.split_path.name} ({'training' if self.train else 'evaluation'}, videos={self.videos_mode})",
            self.sampler_name,
            extra,
            ("transform", "transforms", "shop_transform"),
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The items ``0 .. len - 1`` once (indices past the end are only for samplers)."""
        return (self[i] for i in range(len(self)))

    def set_epoch(self, epoch: int) -> None:
        """Change training randomness (frames, video choice) for a new epoch; DataLoader workers
        see it too, persistent ones included (call it before iterating the loader)."""
        self._epoch.set(_whole(epoch, "epoch", least=0))

    @property
    def epoch(self) -> int:
        """The epoch :meth:`set_epoch` set last (0 at first)."""
        return self._epoch.get()

    @property
    def product_ids(self) -> list[str]:
        """Product id of every item (index order), e.g. for :class:`PKSampler`."""
        return [self.products[pi].product_id for pi, _ in self._index]

    def records_digest(self) -> str:
        """A hex digest of what the dataset read: each product's id and, per video, its path,
        size, frame count, boxes and confidences, in record order.

        Two opens that read the same records give the same digest, whatever way they read the
        split files (a listing kept on disk, the tables, the lists): compare it across readers,
        rebuilds or machines.
        """
        h = hashlib.sha256()
        for rec in self.products:
            for v in rec.videos:
                h.update(f"{rec.product_id}|{v.rel_path}|{v.width}|{v.height}|{v.num_frames}".encode())
                h.update(v.boxes.frames.tobytes())
                h.update(v.boxes.coords.tobytes())
                h.update(repr(sorted(v.confidences.items())).encode())
        return h.hexdigest()

    def generator(self, index: int) -> np.random.Generator:
        """The item's training generator, derived from (seed, epoch, index)."""
        key = [self.seed, self.epoch, int(index)]
        if all(0 <= k < 2**32 for k in key):
            # one uint32 word each, the words SeedSequence makes of the list itself: the same
            # generator, built in about half the time (it runs for every item)
            return np.random.default_rng(np.array(key, np.uint32))
        return np.random.default_rng(key)

    def plan(self, index: int) -> tuple[ProductRecord, int, list[int]]:
        """(product, video index, frame indices) item ``index`` will load, without decoding (a
        negative ``index`` counts from the end, as for ``dataset[index]``).

        The reference for tests: ``__getitem__`` decodes exactly these frames, for videos whose
        boxes pass :meth:`check` (``deep=True``). Problems only decoding shows (a box outside the
        real frame, a frame past the video's end) drop those frames in the process that decodes
        them (``on_bad="skip"``), and the clip is sampled again: ``plan`` in another process (the
        main one, with DataLoader workers) still gives the frames from before the drop.
        """
        rec, vi, rng = self._video_choice(self._draw(index))
        return rec, vi, self._sample(rec.videos[vi], rng)

    def _video_choice(self, index: int) -> tuple[ProductRecord, int, np.random.Generator | None]:
        """(product, video index, the item's generator past that choice) of item ``index``: the
        first part of :meth:`plan`, which cannot fail on the video's files."""
        self._follow_cwd()
        pi, fixed_vi = self._index[self._position(index)]
        rec = self.products[pi]
        rng = self.generator(index) if self.train else None
        if fixed_vi is not None:
            vi = fixed_vi
        elif self.videos_mode == "random" and rng is not None and len(rec.videos) > 1:
            vi = int(rng.integers(len(rec.videos)))
        else:
            vi = 0
        return rec, vi, rng

    def _candidates(self, video: VideoRecord) -> list[int]:
        meta = self._cached(video)
        if meta is not None:
            return meta.frames.tolist()
        if self.training_copy is not None:
            entry = self.training_copy.entry(video, entry_product(self, video))
            if entry is not None:
                return entry.frames
        return self._candidates_uncached(video)

    def _candidates_uncached(self, video: VideoRecord) -> list[int]:
        if self.crop == "tracklet":
            return sorted(video.boxes)
        # the decoded video's length, from its first use on: the count a tracklet file records
        # is not the video's authority, and a plan must not change once the video is opened
        probed = self._probed.get(str(video.path))
        n = probed[0] if probed is not None else len(self.cache.get(video.path))
        video.num_frames = n
        return list(range(n))

    def quality_size(self, video: VideoRecord) -> tuple[int, int]:
        """(width, height) ``video``'s boxes are scored against for the ``salient`` sampler
        ((0, 0): unknown): the tracklet file's, else the video's as probed from the file, once
        per record; never the size a decode learnt, so an item's frames do not depend on what
        this process decoded before, and the live path, the training copy and the crop cache
        (which never decode) score alike."""
        if video.known_size is None:
            from movingfashion.media.probe import probe_video

            try:
                info = probe_video(video.path)
                video.known_size = (int(info.width), int(info.height))
            except MediaError:  # the video's own problem shows when it is opened
                video.known_size = (0, 0)
        return video.known_size

    def _sample(self, video: VideoRecord, rng: np.random.Generator | None) -> list[int]:
        cand = self._candidates(video)
        if not cand:
            raise DataFormatError(
                "no frame left to sample",
                where=str(video.path),
                hint="every tracklet box of this video was dropped as bad",
            )
        scores = None
        wants = getattr(self.sampler, "scores_from", None)
        if wants == "confidence":
            scores = {int(f): float(c) for f, c in video.confidences.items() if c is not None}
        elif wants == "quality":
            w, h = self.quality_size(video)
            scores = frame_quality(video.boxes, w or None, h or None, video.confidences, self.quality)
        try:
            return self.sampler(cand, self.frames, train=self.train, generator=rng, scores=scores)
        except DataFormatError as exc:  # the sampler names the frame; this names whose it is
            raise DataFormatError(
                f"product '{video.product_id}': video {video.rel_path}: {exc.message}",
                where=str(video.path),
                hint=exc.hint,
            ) from None

    def _require_items(self) -> None:
        """IndexError naming the split file when the dataset holds no item."""
        if not self._index:
            raise IndexError(f"{self.split_path}: the dataset is empty (its filters keep no product)")

    def _position(self, index: int) -> int:
        """The item a (sampler's) index stands for: ``index`` modulo the length."""
        self._require_items()
        return int(index) % len(self._index)

    def _draw(self, index: int) -> int:
        """``index`` as the non-negative draw it stands for: a negative one counts from the end,
        as for a list (IndexError past the start); TypeError for anything but an integer (a tensor:
        of one element, of an integer dtype: ``tensor(1.7)`` is no index 1)."""
        index = integer_index(index)
        self._require_items()
        if index < 0:  # the generator needs a non-negative index
            if index < -len(self._index):
                raise IndexError(f"index {index} out of range for {len(self._index)} items")
            index += len(self._index)
        return index

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = self._draw(index)
        if self.on_bad == "raise":
            return self._item(index)
        return self._item_or_next(index)

    def _item_or_next(self, index: int) -> dict[str, Any]:
        """``on_bad="skip"``: the first of items ``index, index + 1, ...`` that loads; the ones it
        stands in for are listed in its ``skipped`` key (and in this process's ``skipped``)."""
        n = len(self._index)
        replaced: list[dict[str, Any]] = []
        for step in range(n):
            i = int(index) + step
            try:
                item = self._item(i)
            except (MediaError, DataFormatError) as exc:
                rec, vi, _ = self._video_choice(i)  # the video this draw used (random in training)
                video = rec.videos[vi].rel_path if rec.videos else None
                replaced.append(
                    {"index": i, "product_id": rec.product_id, "video_path": video, "reason": str(exc)}
                )
                self._note_skip(rec.product_id, str(exc), video)
                continue
            if replaced:
                item["skipped"] = replaced
            return item
        raise MediaError(
            f"none of the {n} items loads (on_bad='skip')",
            where=str(self.split_path),
            hint="see dataset.skipped; find the bad videos with dataset.check(deep=True)",
        )

    def _skip_video(
        self, rec: ProductRecord, video: VideoRecord, exc: BaseException, *, worker_cwd: str | None = None
    ) -> None:
        """Record a skip of ``video`` for ``exc`` (one entry per video and reason, whichever of
        loading, :meth:`check` or a cache build met it). ``worker_cwd``: the folder a remote
        worker read the video's relative path from; its message names the path as given here."""
        text = str(exc) if isinstance(exc, BrokenVideo) else f"video {video.rel_path}: {exc}"
        given = str(video.path)
        if worker_cwd is not None and not os.path.isabs(given):
            text = text.replace(os.path.join(worker_cwd, given), given)
        self._note_skip(rec.product_id, text, video.rel_path)

    def _note_skip(self, pid: str, reason: str, video: str | None = None) -> None:
        """List (and warn about) a skip once: once per product and video when the video is
        known (a decoder's message names the frames drawn, which differ from epoch to epoch),
        else once per product and reason."""
        seen = (pid, f"video:{video}" if video else reason)
        if seen not in self._skip_seen:
            self._skip_seen.add(seen)
            self.skipped.append((pid, reason))
            # what was left out is the reason's: a frame, a video, or (no usable video) the product
            log.warning("%s: product '%s', left out: %s", self.split_path, pid, reason)

    def note_skips(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        """Record in ``self.skipped`` the skips of a batch (or item) made in a DataLoader worker,
        whose own ``skipped`` list stays in the worker; returns them. Call it in the main process
        with every batch: after the epoch ``dataset.skipped`` lists each bad row or file once."""
        found = list(batch.get("skipped") or ())
        for s in found:
            self._note_skip(str(s["product_id"]), str(s["reason"]), s.get("video_path"))
        return found

    def _item(self, index: int) -> dict[str, Any]:
        """Item ``index`` from the crop cache, the training copy or live decoding."""
        self._follow_cwd()
        if self.crop_cache is not None or self.training_copy is not None:
            rec, vi, idx = self.plan(index)
            video = rec.videos[vi]
            meta = self._cached(video)
            if meta is not None:
                try:
                    return item_from_cache(self, index, rec, vi, video, idx, meta)
                except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
                    drop_cached(self, video, exc)  # one warning, then live (sampled again below)
            entry = (
                self.training_copy.entry(video, entry_product(self, video))
                if self.training_copy is not None
                else None
            )
            if entry is not None:
                try:
                    return item_from_copy(self, index, rec, vi, video, idx, entry)
                except CorruptCopy as exc:
                    self.training_copy.drop(  # one warning, then live
                        video.rel_path, str(exc), entry_product(self, video)
                    )
        for _ in range(3):
            windows: dict[int, tuple[int, int, int, int]] = {}
            rec, vi, idx = self.plan(index)
            video = rec.videos[vi]
            with self._naming_product(rec):
                n = len(self.cache.get(video.path)) if not video.checked else None
            if n is not None and max(idx) >= n:
                # a frame past the real end: a video cut short raises MediaError (the file's
                # fault); else the JSON's frame count or boxes are off: drop those frames first
                # (on_bad="raise" raises), then sample again; the frame size is still checked
                # against the decoded frames below
                raise_if_cut_short(self, rec, video, n)
                drop_past_end(self, rec, video, n)
                continue
            with self._naming_product(rec):
                clip, out_boxes, (h0, w0) = self._cut(video, idx, planar=True, windows=windows)
            if self._check_video(rec, video, (h0, w0)):
                break
        else:  # pragma: no cover - _check_video converges after one pruning
            raise DataFormatError("cannot sample a valid clip", where=str(video.path))
        crop_windows = [windows[i] for i in idx] if windows else None
        return make_item(
            self, index, rec, vi, video, idx, clip, out_boxes, (h0, w0), planar=True, windows=crop_windows
        )

    @contextlib.contextmanager
    def _naming_product(self, rec: ProductRecord) -> Iterator[None]:
        """A reader's MediaError (a video deleted or damaged since the dataset was made: "video
        file not found") raised again naming the product, and with ``on_bad="raise"`` that
        ``on_bad="skip"`` drops such videos, as the errors found when the dataset is made say."""
        try:
            yield
        except BrokenVideo:
            raise  # names product and video already
        except MediaError as exc:
            if f"product '{rec.product_id}'" in exc.message:
                raise
            skip = "pass on_bad='skip' to drop such videos" if self.on_bad == "raise" else None
            raise MediaError(
                f"product '{rec.product_id}': {exc.message}",
                where=exc.where,
                hint="; or ".join(h for h in (exc.hint, skip) if h) or None,
            ) from None

    def _cut(
        self,
        video: VideoRecord,
        idx: list[int],
        reader: FrameReader | None = None,
        *,
        planar: bool = False,
        windows: dict[int, tuple[int, int, int, int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """Decode frames ``idx`` of ``video`` and cut them: (uint8 clip, output boxes, (H, W) decoded).

        Each decoded frame is cropped (or resized) as it is, never copied into a batch of full
        frames first. ``reader``: an open reader to use (caches and copies pass one opened for
        whole-video access, :meth:`sequential_reader`); default: the dataset's reader cache.
        ``planar``: the clip comes as ``[T, 3, h, w]``, written straight into the item's buffer
        (:func:`movingfashion.planes._into_planes`). ``windows``: filled with each frame's crop
        window (``crop="tracklet"``) when every frame decoded at the first one's size, so the
        item's ``crop_boxes`` reuse them (:func:`~movingfashion.cutting.boxes_in_crops`).
        """
        boxes = video.boxes.rows(idx)
        if self.crop == "tracklet":
            # each frame's crop window only: cut (and converted to RGB) as it is decoded; the
            # boxes as Python floats (the same values), which crop_window reads twice as fast
            box_of = dict(zip(idx, boxes.tolist(), strict=True))
            sizes: dict[int, tuple[int, int]] = {}
            cut_at: dict[int, tuple[int, int, int, int]] = {}

            def window(i: int, h: int, w: int) -> tuple[int, int, int, int]:
                sizes.setdefault(i, (h, w))
                cut_at[i] = crop_window(box_of[i], (h, w), self.context)
                return cut_at[i]

            cut = self._decode_list(video, idx, reader, window=window)
            h0, w0 = sizes[idx[0]] if idx else (0, 0)
            if windows is not None and all(s == (h0, w0) for s in sizes.values()):
                windows.update(cut_at)
            ch, cw = self.crop_size or (224, 224)
            into = _Resizer((ch, cw), len(cut), planar)
            for k, img in enumerate(cut):
                into(k, img)
            return into.out, boxes, (h0, w0)
        frames = self._decode_list(video, idx, reader)
        h0, w0 = frames[0].shape[:2] if frames else (0, 0)
        if self.frame_size is None and h0 * w0 > LARGE_FRAME_PIXELS and not self._warned_large:
            self._warned_large = True
            mb = len(idx) * h0 * w0 * 3 * (1 if self.dtype == torch.uint8 else 4) / 2**20
            log.warning(
                "%s: whole frames of %dx%d are returned as decoded, %.0f MB per item; pass "
                "frame_size=(h, w) to resize them (a batch of such items, and the loader's shared "
                "memory, grow with it)",
                video.path,
                w0,
                h0,
                mb,
            )
        clip, scaled = whole_frames(self, frames, boxes, planar=planar)
        return clip, scaled, (h0, w0)

    def _follow_cwd(self) -> None:
        """After a chdir since the dataset was opened, read its relative paths from the folder
        it was opened in (:meth:`anchor_paths`); otherwise nothing changes, so messages keep the
        paths as the caller gave them."""
        if self._opened_in is not None and _cwd() != self._opened_in:
            self.anchor_paths(self._opened_in)

    def anchor_paths(self, base: str | os.PathLike[str]) -> None:
        """Read the dataset's relative paths (root, split file, videos, shop images, crop cache,
        training copy) from ``base`` instead of this process's working directory: what a copy of
        the dataset sent to a cluster worker does with the cwd of the process that opened it (a
        Ray worker's cwd is wherever its node was started)."""

        def at(path: Path) -> Path:
            return path if path.is_absolute() else Path(base) / path

        self.root, self.split_path = at(self.root), at(self.split_path)
        if self.crop_cache is not None:
            self.crop_cache = at(self.crop_cache)
        if self.training_copy is not None:
            self.training_copy.root = at(self.training_copy.root)
        for rec in self.products:
            rec.shop_path = at(rec.shop_path)
            for video in rec.videos:
                video.path = at(video.path)
        self._opened_in = None  # every path is absolute now

    def check(
        self,
        *,
        deep: bool = False,
        progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    ) -> list[tuple[str, str]]:
        """Open every video and check its boxes against the real frame size and length.

        ``deep=False`` (fast: opens each video to learn its length and frame size, decoding at
        most its first frame) finds videos that do not open, boxes past the last frame and boxes
        outside the frame. ``deep=True`` also decodes every frame the sampler may ask for (each boxed
        frame, every frame with ``crop="frame"``) the way ``mf crop-cache`` does, without
        storing anything, and so finds videos damaged inside: about the cost of one pass of
        decoding over the split (run it once, before training).

        Applies the ``on_bad`` policy: ``"raise"`` raises at the first bad video (MediaError
        naming its file); ``"skip"`` drops a video that does not open or decode, and a product
        left without a video, lists them in ``dataset.skipped`` and renumbers the items
        (``len(dataset)`` can shrink: make samplers after ``check``). Returns
        ``dataset.skipped``.
        """
        self._follow_cwd()
        pairs = [(rec, v) for rec in self.products for v in rec.videos]
        bad: set[int] = set()
        for rec, video in progress(pairs) if progress else pairs:
            try:
                self._check_video(rec, video)
                if deep:
                    self._decode_all(video)
            except MediaError as exc:
                if self.on_bad == "raise":
                    if isinstance(exc, BrokenVideo):  # names product and video already
                        raise
                    raise MediaError(
                        f"product '{rec.product_id}': video {video.rel_path}: {exc.message}",
                        where=exc.where or str(video.path),
                        hint=f"{exc.hint or 're-download or re-encode the video'}; or pass "
                        "on_bad='skip' to drop such videos",
                    ) from exc
                self._skip_video(rec, video, exc)
                bad.add(id(video))
        if bad:
            products = []
            for rec in self.products:
                rec.videos = [v for v in rec.videos if id(v) not in bad]
                if rec.videos:
                    products.append(rec)
                else:
                    self._note_skip(rec.product_id, f"{self.split_path}: no usable video left")
            self.products = products  # shared_videos stays: entry names depend on the split file
        self._index = item_index(self.products, self.videos_mode)
        return self.skipped

    def _decode_all(self, video: VideoRecord) -> None:
        """Decode every candidate frame of ``video`` (MediaError when one does not decode)."""
        cand = self._candidates_uncached(video)
        with contextlib.closing(self.sequential_reader(video)) as reader:
            for start in range(0, len(cand), CACHE_DECODE_CHUNK):
                self._decode_list(video, cand[start : start + CACHE_DECODE_CHUNK], reader)

    # ------------------------------------------------------------------ crop cache
    def cache_params(self) -> dict[str, Any]:
        """What a crop-cache entry must have been built with to serve this dataset."""
        size = self.crop_size if self.crop == "tracklet" else self.frame_size
        return {"crop": self.crop, "size": list(size) if size else None, "context": self.context}

    def _decode(self, video: VideoRecord, idx: list[int]) -> np.ndarray:
        """uint8 RGB ``[T, H, W, 3]`` of frames ``idx`` (any order, repeats allowed)."""
        return np.stack(self._decode_list(video, idx))

    def _decode_list(
        self,
        video: VideoRecord,
        idx: list[int],
        reader: FrameReader | None = None,
        *,
        window: Window | None = None,
    ) -> list[np.ndarray]:
        """One uint8 RGB array per frame of ``idx`` (only its ``window``, when given: see
        :func:`~movingfashion.media.readers.decode`); each distinct frame is decoded once."""
        from movingfashion.media.readers import decode

        uniq = sorted(set(idx))
        if reader is None:
            frames = decode(
                self.cache.get(video.path), uniq, backend=self.cache.backend, as_list=True, window=window
            )
        else:
            frames = decode(
                reader, uniq, backend=self.cache.backend, access="sequential", as_list=True, window=window
            )
        if len(uniq) == len(idx):
            return list(frames)
        pos = {f: i for i, f in enumerate(uniq)}
        return [frames[pos[f]] for f in idx]

    def sequential_reader(self, video: VideoRecord) -> FrameReader:
        """A reader of ``video`` opened for whole-video decoding (the caller closes it)."""
        from movingfashion.media.readers import open_reader

        return open_reader(video.path, backend=self.cache.backend, access="sequential")

    # logic that lives in its own module, held as methods under the names their callers use (the
    # crop-cache build, the training copy, tests): a module function bound as a method, no extra call
    _check_video = check_video  # movingfashion.video_checks
    _cached = cached_meta  # movingfashion.crop_cache
    _read_cached = read_cached
    _cache_files = cache_files
    _crops = crops  # movingfashion.cutting
    _whole = whole_frames


def _cwd() -> str | None:
    """This process's working directory; None when it no longer exists (removed under it)."""
    try:
        return os.getcwd()
    except OSError:
        return None
