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
import functools
import hashlib
import json
import math
import numbers
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import ValidationError

from movingfashion.epochs import SharedEpoch
from movingfashion.executors import Executor, WorkerLostError, WorkerResources, unseen_on_worker
from movingfashion.frame_boxes import FrameBoxes, FrameScores
from movingfashion.media.images import read_image
from movingfashion.media.readers import FrameReader, ReaderCache, Window, backend_names, file_key
from movingfashion.sampling import FrameSampler, QualityConfig, frame_quality, get_sampler
from movingfashion.training_copy import (
    NAMING,
    CopyEntry,
    CorruptCopy,
    TrainingCopy,
    _source_boxes,
    boxes_fingerprint,
    entry_stem,
    frames_problem,
    legacy_entry,
    remove_legacy,
    same_video_file,
    video_identity,
)
from movingfashion.unit_float import unit_float
from schemas.atomic import atomic_open, atomic_write_json, sweep_partials
from schemas.dataset import TrackletFileScores, VideoTracklets, check_ground_truth, read_entry_rows
from schemas.errors import ConfigError, DataFormatError, MediaError, MFError, short_repr, validation_text
from schemas.official import (
    SPLIT_FILES,
    OfficialSplit,
    gc_paused,
    read_official,
    read_official_rows,
    split_json,
    split_listing,
    store_listing,
)
from schemas.official_checks import PAST_END_HINT
from schemas.paths import PathEscapeError, inside, resolve_under, unicode_form_hint
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES, Partition, class_from_text
from schemas.text_input import read_file_bytes, read_json_record
from schemas.tracklet_names import shared_videos, tracklet_stem

log = redacted_logger(__name__)

#: Whole frames (``crop="frame"``) with more pixels than Full HD and no ``frame_size`` are returned
#: as decoded with one warning: a 4K item of 10 frames is about 1 GB as float32.
LARGE_FRAME_PIXELS = 1920 * 1080

#: What to do about a video without tracklet boxes (tracklet crops need them), as the library
#: says it; a command passes its own (``empty_tracklet_hint=``) naming only the options it has.
EMPTY_TRACKLET_HINT = "run mf-tracklets build first, or crop whole frames: crop='frame'"

#: Decoded shop images kept per process (about 150 kB each at 224 x 224).
SHOP_CACHE_SIZE = 256
#: Checked crop-cache entries kept per process (frames and boxes only: a few kB each), the
#: least recently used first dropped (then read and checked again when next used).
CACHE_METAS = 256
Size = tuple[int, int]


@dataclass
class VideoRecord:
    """One usable video of a product (paths resolved, tracklet parsed)."""

    rel_path: str
    path: Path
    #: the tracklet's boxes, frame -> [x1, y1, x2, y2] (any mapping given is kept as a
    #: :class:`~movingfashion.frame_boxes.FrameBoxes`: ~40 B a box instead of ~350)
    boxes: FrameBoxes
    #: the tracklet file's per-frame confidences (kept as a :class:`FrameScores`)
    confidences: FrameScores = field(default_factory=FrameScores.empty)
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    #: the product listing it (a video two products list has a record, with its boxes, in each)
    product_id: str = ""
    #: fingerprint of ``boxes`` after the dataset's own checks pruned them -> before (what a
    #: crop-cache entry or training copy records: :func:`movingfashion.training_copy._source_boxes`)
    pruned: dict[str, str] = field(default_factory=dict, repr=False)
    #: the frame count its tracklet file recorded when it was built (``num_frames`` becomes the
    #: decoded count at first use): what tells a video cut short since from a tracklet off by a frame
    recorded_frames: int | None = field(default=None, repr=False)
    #: whether this record's boxes were checked against the decoded video (each product's record
    #: of a video several products list is checked on its own: the boxes are the product's)
    checked: bool = field(default=False, repr=False)
    #: (width, height) the salient sampler scores boxes against, fixed before any decode: the
    #: tracklet file's, else the probed video's ((0, 0): unknown); None until first asked for
    #: (:meth:`MovingFashionDataset.quality_size`), never the size a decode learns later
    known_size: tuple[int, int] | None = field(default=None, repr=False)
    #: its tracklet file in full (inference tracklets, the truth about their boxes), kept only by
    #: a dataset opened with ``full_tracklet_files`` (:func:`movingfashion.seam.features.build_bank`)
    tracklet_file: VideoTracklets | None = field(default=None, repr=False)
    #: its position in the product's ``video_paths`` in the split file (an item's ``video_index``),
    #: whatever videos before it were dropped (``on_bad="skip"``)
    video_index: int = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "boxes":
            value = FrameBoxes.of(value)
        elif name == "confidences":
            value = FrameScores.of(value)
        object.__setattr__(self, name, value)

    def set_boxes(self, boxes: Mapping[int, Sequence[float]]) -> None:
        """Replace the boxes by a pruned/clipped version of them (the source fingerprint stays)."""
        boxes = FrameBoxes.of(boxes)
        if boxes == self.boxes:
            return
        before = _source_boxes(self)
        self.boxes = boxes
        after = boxes_fingerprint(boxes)
        if after != before:
            self.pruned[after] = before


@dataclass
class ProductRecord:
    product_id: str
    shop_path: Path
    df2_class: int | None
    partition: Partition
    videos: list[VideoRecord]


def _whole(value: Any, name: str, least: int = 1) -> int:
    """``value`` as an int of at least ``least``; ConfigError naming ``name`` for a bool, a
    fraction or anything smaller (``frames=2.7`` is not silently 2)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != int(value) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}", where=name)
    return int(value)


def _size(value: int | Sequence[int] | None, name: str = "size") -> Size | None:
    """A size argument as (h, w): one positive int for a square, or two; None stays None."""
    if value is None:
        return None
    if isinstance(value, numbers.Real):
        side = _whole(value, name)
        return (side, side)
    try:
        parts = None if isinstance(value, str | bytes) else list(value)  # a tuple, a list, an array
    except TypeError:
        parts = None
    if parts is None or len(parts) != 2:
        raise ConfigError(f"{name} must be an int or (height, width), got {value!r}", where=name)
    return (_whole(parts[0], name), _whole(parts[1], name))


#: the tensor types items come in (the docstring's float in [0, 1], or uint8 0..255)
ITEM_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8)


def _quality(value: QualityConfig | dict[str, Any] | None) -> QualityConfig:
    """The salient sampler's settings: a QualityConfig, or a mapping of its fields (checked)."""
    if value is None:
        return QualityConfig()
    if isinstance(value, QualityConfig):
        return value
    try:
        return QualityConfig.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(f"quality: {_first_error(exc)}", where="quality") from None


def _partition(value: str | Partition | None) -> Partition | None:
    """The ``partition`` filter; ConfigError listing the partitions for an unknown one."""
    if value is None:
        return None
    try:
        return Partition(value)
    except ValueError:
        raise ConfigError(
            f"unknown partition {value!r}",
            where="partition",
            hint=f"use one of {', '.join(p.value for p in Partition)}",
        ) from None


def _require_folder(folder: Path, what: str, root: Path, split: str) -> None:
    """A crop cache or training copy (``what``) folder that is not there (a typo, or a build not
    run yet): a ConfigError naming it and the command that builds it, not every clip silently
    decoded live."""
    if folder.is_dir():
        return
    name = what.replace(" ", "_")
    raise ConfigError(
        f"{what} folder not found" if not folder.exists() else f"{what} is not a folder",
        where=str(folder),
        hint=f"build it first with `mf {name.replace('_', '-')} --dataset {root} --split {split} --out "
        f"{folder}` (or build_{name}), or check the {name} path",
    )


#: :func:`_file_problem`'s answer for a folder where the file should be
IS_FOLDER = "is a folder"


def _file_problem(path: Path, what: str = "a file") -> str | None:
    """Why ``path`` is not a file the dataset can open (None: it is one): ``"not found"``,
    ``"is a folder, not <what>"`` (starting with :data:`IS_FOLDER`), or the system's refusal (a
    path part over 255 bytes: ENAMETOOLONG), never a bare OSError."""
    try:
        if path.is_file():
            return None
        return f"{IS_FOLDER}, not {what}" if path.is_dir() else "not found"
    except OSError as exc:
        return f"cannot be opened ({exc.strerror or exc})"


def parse_classes(classes: Iterable[int | str] | None) -> set[int] | None:
    """DeepFashion2 class ids of ``classes`` (ids 1..13, digit strings or names: the toolkit's
    ``'short_sleeved_shirt'`` or DeepFashion2's own ``'short sleeve top'``, in any case:
    :func:`schemas.taxonomy.class_from_text`); None for None. ConfigError naming ``classes`` for
    an unknown one, a bool or a number that is not a whole one (``True`` and ``1.0`` are not
    read as class 1)."""
    if classes is None:
        return None
    if isinstance(classes, (str, int)):
        classes = [classes]
    out = set()
    for c in classes:
        if isinstance(c, bool) or (not isinstance(c, str) and not isinstance(c, numbers.Integral)):
            raise ConfigError(
                f"a class is an id 1..13 or a name, got {c!r} ({type(c).__name__})",
                where="classes",
                hint=f"use ids 1..13 or names: {', '.join(DF2_CLASSES.values())}",
            )
        try:
            cid = class_from_text(c) if isinstance(c, str) else int(c)
        except (TypeError, ValueError):
            cid = None
        if cid not in DF2_CLASSES:
            raise ConfigError(
                f"unknown DeepFashion2 class {c!r}",
                where="classes",
                hint=f"use ids 1..13 or names: {', '.join(DF2_CLASSES.values())}",
            )
        out.add(cid)
    return out


def _box_text(box: Sequence[float]) -> str:
    """A box as the split file writes it: whole numbers without a decimal point."""
    return "[" + ", ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in box) + "]"


def _inside(c: list[float], width: int, height: int) -> bool:
    """Whether box ``c`` lies inside the frame and is at least a pixel wide and high (no problem,
    nothing to clip under a tolerance >= 0: the common case, checked first)."""
    return (
        c[0] >= 0 and c[1] >= 0 and c[2] <= width and c[3] <= height and c[2] - c[0] >= 1 and c[3] - c[1] >= 1
    )


@dataclass(frozen=True)
class RicherVideo:
    """What the dataset uses of a video's tracklet file (``tracklets/<stem>[@<product>].json``)."""

    video: str  #: the video as the file names it
    product_id: str
    frames: int
    width: int
    height: int
    #: frame -> detector score of the ground-truth tracklet ({} when the file chose none)
    confidences: dict[int, float]
    #: the tracklet file itself (what an error about its frame size names)
    path: Path | None = None
    #: the whole file (every tracklet, boxes included) when it was read in full
    #: (:func:`read_richer_file` with ``full``); None after the light read
    file: VideoTracklets | None = None


def _first_error(exc: Exception) -> str:
    """The first problem ``exc`` names, with its field when it is a validation error."""
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        field = ".".join(map(str, err["loc"]))  # empty for the file as a whole (JSON that does not parse)
        return f"{field}: {validation_text(err)}" if field else validation_text(err)
    return str(exc).splitlines()[0]


def read_richer_file(path: Path, *, full: bool = False) -> RicherVideo | None:
    """What the dataset uses of one tracklet file; None when there is none, or (with a warning)
    when it does not parse (:class:`~schemas.dataset.TrackletFileScores`: every field checked,
    the ground-truth tracklet in full: :func:`~schemas.dataset.check_ground_truth`). Only what is
    used is kept: the rest is dropped. With ``full`` the file is read as a whole
    :class:`~schemas.dataset.VideoTracklets` (every tracklet's boxes and frame keys checked too)
    and kept as :attr:`RicherVideo.file`."""
    try:
        data = read_file_bytes(path, what="tracklet file")
        vt = (VideoTracklets if full else TrackletFileScores).model_validate_json(data)
        gt = vt.tracklets[vt.ground_truth] if vt.ground_truth is not None else None
        conf = {} if gt is None else dict(gt.scores) if full else check_ground_truth(gt)
    except FileNotFoundError:
        return None
    except (ValidationError, OSError, ValueError, RecursionError, MFError) as exc:
        log.warning("%s: ignored, not a VideoTracklets file (%s)", path, _first_error(exc))
        return None
    return RicherVideo(
        vt.video, vt.product_id, vt.frames, vt.width, vt.height, conf, path, vt if full else None
    )


class _RicherFiles:
    """The tracklet files of a split's videos in ``folder``, each read when first asked for and
    once (only what the dataset uses of it, or with ``full`` the whole file: :func:`read_richer_file`)."""

    def __init__(self, folder: Path, shared: Iterable[str], *, full: bool = False) -> None:
        self.folder = folder if folder.is_dir() else None
        self.full = full
        #: the video paths several products list, over all the split files of the dataset
        #: (:func:`schemas.tracklet_names.shared_videos`: the builder's and ``mf verify``'s rule)
        self.shared = frozenset(shared)
        self._files: dict[str, RicherVideo | None] = {}

    def _file(self, stem: str) -> RicherVideo | None:
        if self.folder is None:
            return None
        if stem not in self._files:
            self._files[stem] = read_richer_file(self.folder / f"{stem}.json", full=self.full)
        return self._files[stem]

    def get(self, rel: str, pid: str) -> RicherVideo | None:
        """Video ``rel``'s file for product ``pid`` (:func:`schemas.tracklet_names.tracklet_stem`):
        for a video several products list, the product's own ``<stem>@<pid>.json``, else an older
        build's one file ``<stem>.json`` when it names this product; for a video no other product
        lists, ``<stem>.json`` (a ``<stem>@<pid>.json`` left from when it was shared is not read);
        None without one. A file is the video's only when it names a video of that file name."""
        name = Path(rel).name
        shared = rel in self.shared
        if shared:
            try:
                own = self._file(tracklet_stem(rel, pid, shared=True))
            except ValueError:  # a product id no file can be named after: it has none
                own = None
            if own is not None and Path(own.video).name == name and own.product_id == pid:
                return own
        plain = self._file(tracklet_stem(rel, shared=False))
        if plain is None or Path(plain.video).name != name:
            return None
        return plain if plain.product_id == pid or not shared else None


def other_split_files(root: Path, split_path: Path) -> list[Path]:
    """The split files of ``root`` besides ``split_path``: with it, they decide which videos are
    shared (:func:`_tracklet_shared`), so which tracklet file the dataset reads for a product (a
    cached feature bank is keyed by them too: :func:`movingfashion.seam.features.bank_key`)."""
    return [
        p
        for p in (root / name for name in SPLIT_FILES)
        if p.is_file() and p.resolve() != split_path.resolve()
    ]


def _tracklet_shared(root: Path, split_path: Path, official: dict[str, Any]) -> frozenset[str]:
    """The video paths several products list over ``official`` (the split read) and the other
    split files of ``root`` (:func:`other_split_files`; their rows that read; one that does not
    read at all is passed over with a warning): whose tracklet files are per product
    (:mod:`schemas.tracklet_names`). Only their listings are read: each kept beside its file for
    the version it lists (:func:`schemas.official.listing_file`), so the test split opens without
    parsing the training split's boxes."""
    listings = [(pid, e.video_paths) for pid, e in official.items()]
    for p in other_split_files(root, split_path):
        try:
            rows = split_listing(p, stored=True).products
        except (MFError, OSError, UnicodeDecodeError) as exc:
            log.warning("%s: not read for the videos it shares (%s)", p, str(exc).splitlines()[0])
            continue
        listings += [(pid, videos) for pid, videos, _ in rows]
    return shared_videos(listings)


def crop_window(
    box: Sequence[float], size: tuple[int, int], context: float = 0.0
) -> tuple[int, int, int, int]:
    """The pixels ``(x1, y1, x2, y2)`` that ``crop="tracklet"`` cuts for ``box`` in a frame of
    ``size`` (H, W): the box grown by ``context`` of its width and height, rounded outwards and
    clipped to the frame, at least one pixel. A box wholly outside the frame still cuts its nearest
    edge pixel: a video whose frame size was not known yet is checked right after the cut, which
    drops (or, with ``on_bad="raise"``, refuses) that box and samples again."""
    h, w = size
    x1, y1, x2, y2 = map(float, box)
    if context:
        dx, dy = (x2 - x1) * context / 2, (y2 - y1) * context / 2
        x1, y1, x2, y2 = x1 - dx, y1 - dy, x2 + dx, y2 + dy
    xa, ya = min(w - 1, max(0, math.floor(x1))), min(h - 1, max(0, math.floor(y1)))
    xb, yb = min(w, max(xa + 1, math.ceil(x2))), min(h, max(ya + 1, math.ceil(y2)))
    return xa, ya, xb, yb


def describe_skips(counts: Mapping[str, int]) -> str:
    """``counts`` of :meth:`MovingFashionDataset.skip_counts` in words: ``1 product, 2 videos of
    products that still load``."""
    words = {
        "products": ("product", "products"),
        "videos": ("video of a product that still loads", "videos of products that still load"),
        "frames": ("frame's boxes", "frames' boxes"),
        "lines": ("entries.jsonl line", "entries.jsonl lines"),
        "filtered": ("row of a product the filter leaves out", "rows of products the filter leaves out"),
    }
    parts = [f"{n} {words[k][n != 1]}" for k, n in counts.items() if n and k in words]
    return ", ".join(parts) or "nothing"


def skipped_lines(skipped: list[dict[str, str]]) -> str:
    """The ``skipped`` of :meth:`MovingFashionDataset.skipped_report`, one indented line each."""
    return "".join(f"\n  skipped {s['left_out']}: {s['reason']}" for s in skipped)


def clip_dataset_repr(
    ds: Any, split: str, sampler: str, extra: list[str], transform_names: tuple[str, ...]
) -> str:
    """The ``repr`` of a clip dataset (this one and Multi-DeepFashion2), as torchvision's datasets
    show theirs: size, root, ``split`` (already worded), the clip's settings, ``extra`` lines, then
    each of ``transform_names`` that is set."""
    size_arg, size = ("crop_size", ds.crop_size) if ds.crop == "tracklet" else ("frame_size", ds.frame_size)
    lines = [
        f"Number of datapoints: {len(ds)}",
        f"Root location: {ds.root}",
        f"Split: {split}",
        f"Clip: {ds.frames} frames, sampler={sampler}, crop={ds.crop}"
        + (f", {size_arg}={size}" if size is not None else "")
        + f", dtype={ds.dtype}",
        *extra,
    ]
    lines += [f"{name}: {getattr(ds, name)!r}" for name in transform_names if getattr(ds, name) is not None]
    return "\n".join([f"Dataset {type(ds).__name__}", *(f"    {line}" for line in lines)])


def integer_index(index: Any) -> int:
    """``index`` as an ``int``: a Python or numpy integer, or a one-element integer tensor; a
    TypeError for anything else (``1.0``, a slice, ``tensor(1.7)``), which ``int()`` would turn
    into another item or a confusing error. Shared by the datasets of this package."""
    if isinstance(index, torch.Tensor) and (
        index.numel() != 1 or index.is_floating_point() or index.is_complex() or index.dtype == torch.bool
    ):
        raise TypeError(
            f"dataset indices are integers, not a {index.dtype} tensor of shape {tuple(index.shape)}; "
            "use torch.utils.data.Subset(dataset, indices) for a part of it"
        )
    if not isinstance(index, numbers.Integral | torch.Tensor):  # numpy's integers are Integral
        raise TypeError(
            f"dataset indices are integers, not {type(index).__name__}; "
            "use torch.utils.data.Subset(dataset, indices) for a part of it"
        )
    return int(index)


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
        # options that need no file are checked before the split is looked for
        if backend not in backend_names():
            raise ConfigError(
                f"unknown video backend {backend!r}",
                where="backend",
                hint=f"use one of {', '.join(backend_names())}",
            )
        split_path = split_json(self.root, split)
        self.split_path = split_path
        if crop not in ("tracklet", "frame"):
            raise ConfigError(f"crop must be 'tracklet' or 'frame', got {crop!r}", where="crop")
        if on_bad not in ("raise", "skip"):
            raise ConfigError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}", where="on_bad")
        self.train = (split_path.stem == "train") if train is None else bool(train)
        if train is None and split_path.stem not in ("train", "test"):
            log.warning(
                "%s: read as an evaluation split (the same frames every epoch, the first video); "
                "pass train=True to sample it as training data",
                split_path,
            )
        self.frames = _whole(frames, "frames")
        self.sampler = get_sampler(sampler)
        self.sampler_name = self.sampler.name
        self.crop = crop
        for name, fn in (
            ("transform", transform),
            ("shop_transform", shop_transform),
            ("transforms", transforms),
        ):
            if fn is not None and not callable(fn):
                raise ConfigError(
                    f"{name} must be callable (a function or a torchvision transform), got {type(fn).__name__}",
                    where=name,
                )
        self.transform = transform
        self.shop_transform = shop_transform
        self.transforms = transforms
        self.on_bad = on_bad
        self.crop_size = _size(crop_size, "crop_size")
        self.frame_size = _size(frame_size, "frame_size")
        self._warned_large = False  # whole frames past LARGE_FRAME_PIXELS with no frame_size: said once
        self.shop_size = _size(shop_size, "shop_size")
        self.context = float(context)
        if not math.isfinite(self.context) or self.context <= -1:
            raise ConfigError(
                f"context must be a finite number > -1 (the share of the box added around it), got {context!r}",
                where="context",
            )
        self.videos_mode = videos or ("random" if self.train else "first")
        if self.videos_mode not in ("random", "first", "all"):
            raise ConfigError(f"videos must be random, first or all, got {videos!r}", where="videos")
        if self.videos_mode == "random" and not self.train:
            raise ConfigError(
                "videos='random' draws a product's video anew in each training epoch, and this"
                " dataset evaluates (train=False)",
                where="videos",
                hint="pass videos='first' or 'all' to evaluate, or train=True",
            )
        if (
            isinstance(box_tolerance, bool)
            or not isinstance(box_tolerance, numbers.Real)
            or not math.isfinite(box_tolerance)
            or box_tolerance < 0
        ):  # inf clipped every box into the frame; nan turned every outside-box check off
            raise ConfigError(
                "box_tolerance must be a finite number >= 0 of pixels a box may reach outside the"
                f" frame, got {box_tolerance!r}",
                where="box_tolerance",
                hint="leave it out for the default (2 pixels)",
            )
        self.box_tolerance = float(box_tolerance)
        self.quality = _quality(quality)
        if dtype not in ITEM_DTYPES:
            raise ConfigError(
                f"dtype must be one of {', '.join(str(d) for d in ITEM_DTYPES)}, got {dtype!r}", where="dtype"
            )
        cache_size = _whole(cache_size, "cache_size")
        self.seed = _whole(seed, "seed", least=0) if seed is not None else torch.initial_seed() % 2**31
        self._epoch = SharedEpoch(0)
        # tracklet crops: PyAV converts only each crop's window to RGB (auto keeps it on streams
        # without B-frames too, where sparse access hands them to torchcodec)
        self.cache = ReaderCache(cache_size, backend, "crops" if crop == "tracklet" else "sparse")
        self.skipped: list[tuple[str, str]] = []
        self._probed: dict[str, tuple[int, int, int]] = {}  # video path -> (frames, H, W), per process
        self.crop_cache = Path(crop_cache) if crop_cache is not None else None
        self.dtype = dtype
        self._cache_meta: OrderedDict[str, _CacheMeta] = OrderedDict()  # at most CACHE_METAS
        self._cache_unused: set[str] = set()  # entries not used (missing, stale, unreadable)
        self._legacy_warned = False
        self._arrays = _OpenArrays()
        self.training_copy: TrainingCopy | None = None
        if training_copy is not None:
            if crop_cache is not None:
                raise ConfigError("pass crop_cache or training_copy, not both", where="training_copy")
            copy_dir = Path(training_copy)
            _require_folder(copy_dir, "training copy", self.root, split)
            self.training_copy = TrainingCopy(copy_dir, self.cache_params())
        if self.crop_cache is not None:
            _require_folder(self.crop_cache, "crop cache", self.root, split)
        self._length_problems: dict[str, str | None] = {}  # video record -> why it is cut short, per process

        self._skip_seen: set[tuple[str, str]] = set()
        want_partition = _partition(partition)
        want_classes = self._parse_classes(classes)
        # the split's boxes and the records built from them: millions of objects, none of them
        # garbage, that the cyclic collector would walk again and again (a tenth of the time)
        with gc_paused():
            if split_rows is not None and (on_bad == "skip" or not split_rows[1]):
                official, bad_rows = split_rows  # read by the caller: not parsed again
            elif on_bad == "skip":  # row by row: a bad row is listed, the others load
                official, bad_rows = read_official_rows(split_path, box_arrays=True)
            else:  # raises, naming the first bad row
                official, bad_rows = read_official(split_path, box_arrays=True), []
            # its listing, kept beside it: what a dataset of the folder's other split reads of it
            for p in other_split_files(self.root, self.root / "-"):
                if p.resolve() == split_path.resolve():
                    store_listing(p)
            self.skipped.extend(bad_rows)
            entries_path = self.root / "entries.jsonl"
            first_line = len(self.skipped)
            entries = (
                read_entry_rows(entries_path, bad=self.skipped if on_bad == "skip" else None)
                if entries_path.is_file()
                else None
            )
            #: what :meth:`skip_counts` needs to tell what a skip left out: the malformed entries.jsonl
            #: lines, the number of videos each product that loaded listed, the products a filter left out
            self._line_skips = set(self.skipped[first_line:])
            self._listed: dict[str, int] = {}
            self._filtered: set[str] = set()
            if want_classes is not None and entries is None:
                raise ConfigError(
                    "filtering by class needs entries.jsonl",
                    where=str(entries_path),
                    hint="publish the dataset with mf publish, or drop classes=",
                )
            owners: dict[str, set[str]] = {}  # video path -> the products listing it
            for pid, entry in official.items():
                for rel in entry.video_paths:
                    owners.setdefault(rel, set()).add(pid)
            #: the videos several products of the split file list (each with its own boxes on them),
            #: from every row, before the class / partition filter and :meth:`check`: the names of
            #: their crop-cache and training-copy entries (``<video>@<product>``) depend on the split
            #: file alone, so a dataset opened with ``classes=`` finds the entries a build wrote
            self.shared_videos = frozenset(rel for rel, pids in owners.items() if len(pids) > 1)
            # the tracklet files of this split's videos, each read once (what is used of it only)
            richer = _RicherFiles(
                self.root / "tracklets",
                _tracklet_shared(self.root, split_path, official),
                full=full_tracklet_files,
            )

            self.products: list[ProductRecord] = []
            for pid, entry in official.items():
                rec = self._build_product(pid, entry, entries, entries_path, richer)
                if rec is None:
                    continue
                self._listed[pid] = len(entry.video_paths)
                if (want_partition is not None and rec.partition != want_partition) or (
                    want_classes is not None and rec.df2_class not in want_classes
                ):
                    self._filtered.add(pid)
                    continue
                self.products.append(rec)
        self._build_index()
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
            self._warn_empty(want_partition, want_classes)
        videos = [v for rec in self.products for v in rec.videos]
        # every entry is checked here, once, in the process that makes the dataset: one not used
        # is named in one warning, and DataLoader workers get the verdicts with the dataset
        if self.crop_cache is not None:
            missing = [v for v in videos if not self._cache_files(v)[1].is_file()]
            other = (
                self._cache_of_other_split(self.crop_cache, {v.rel_path for v in videos}) if missing else None
            )
            self._warn_missing_entries(
                split, "crop cache", "mf crop-cache", self.crop_cache, missing, videos, other_split=other
            )
            self._cache_unused.update(_cache_key(v) for v in missing)
            for v in missing:  # one of them named the old way: said once
                if self._legacy_warned:
                    break
                self._note_legacy(v)
            self._check_cache_entries(videos)
        if self.training_copy is not None:
            missing = self.training_copy.unbuilt((v, entry_product(self, v)) for v in videos)
            folder = self.training_copy.root
            self._warn_missing_entries(split, "training copy", "mf training-copy", folder, missing, videos)
            self.training_copy.check((v, entry_product(self, v)) for v in videos)

    # ------------------------------------------------------------------ building
    def _warn_empty(self, partition: Partition | None, classes: AbstractSet[int] | None) -> None:
        """One warning, when the dataset is made, that it holds no item: the split file lists no
        product, or the filters (``partition``, ``classes`` as parsed) keep none of those that
        load; an empty dataset is allowed, but a DataLoader over it only fails later, unnamed."""
        if self._filtered:
            filters = []
            if classes is not None:
                filters.append(f"classes={[DF2_CLASSES[c] for c in sorted(classes)]!r}")
            if partition is not None:
                filters.append(f"partition={partition.value!r}")
            why = (
                f"{' and '.join(filters)} keep none of its {len(self._filtered)} products with a usable video"
            )
        else:
            why = "the split file lists no product"
        log.warning(
            "%s: the dataset is empty: %s (%s); indexing it raises IndexError",
            self.split_path,
            why,
            "drop or widen the filters" if self._filtered else "check the split file",
        )

    def _warn_missing_entries(
        self,
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
        folder holds instead (:meth:`_cache_of_other_split`), said so, with no suggestion to build
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
                self.split_path.name,
                missing[0].rel_path,
                what,
                split,
                command,
                self.root,
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
                self.root,
                split,
                folder,
            )

    def _cache_of_other_split(self, folder: Path, own: AbstractSet[str]) -> Path | None:
        """The other split file of the dataset folder (:func:`other_split_files`) one of whose
        videos not among ``own`` (this split's) has an entry in crop cache ``folder`` (None: none
        has, or it does not read): asked when the folder lacks some of this split's videos, to tell
        a cache of another split from one not (fully) built yet."""
        for p in other_split_files(self.root, self.split_path):
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

    def skip_counts(self) -> dict[str, int]:
        """What the entries of :attr:`skipped` left out, counted (keys with a count only):
        ``products`` (products that do not load at all), ``videos`` (videos dropped from a product
        that still loads by its other videos), ``frames`` (frames whose boxes were dropped, of a
        product that still loads), ``lines`` (malformed ``entries.jsonl`` lines) and ``filtered``
        (skips of products the ``classes``/``partition`` filter leaves out anyway)."""
        loaded = {rec.product_id: rec for rec in self.products}
        counts: dict[str, int] = {}
        products: set[str] = set()
        of_loaded: dict[str, int] = {}
        for pid, reason in self.skipped:
            if (pid, reason) in self._line_skips:
                counts["lines"] = counts.get("lines", 0) + 1
            elif pid in loaded:
                of_loaded[pid] = of_loaded.get(pid, 0) + 1
            elif pid in self._filtered:
                counts["filtered"] = counts.get("filtered", 0) + 1
            else:
                products.add(pid)
        for pid, n in of_loaded.items():
            videos = min(max(self._listed.get(pid, 0) - len(loaded[pid].videos), 0), n)
            counts["videos"] = counts.get("videos", 0) + videos
            counts["frames"] = counts.get("frames", 0) + n - videos
        counts["products"] = len(products)
        order = ("products", "videos", "frames", "lines", "filtered")
        return {k: counts[k] for k in order if counts.get(k)}

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

    def _build_index(self) -> None:
        """Items of ``self.products``: one per product, or per (product, video) with videos='all'."""
        self._index: list[tuple[int, int | None]] = []
        for pi, rec in enumerate(self.products):
            if self.videos_mode == "all":
                self._index.extend((pi, vi) for vi in range(len(rec.videos)))
            else:
                self._index.append((pi, None))

    @staticmethod
    def _parse_classes(classes: Iterable[int | str] | None) -> set[int] | None:
        return parse_classes(classes)

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

    def _build_product(
        self,
        pid: str,
        entry: Any,
        entries: dict[str, dict[str, Any]] | None,
        entries_path: Path,
        richer: _RicherFiles,
    ) -> ProductRecord | None:
        where = str(self.split_path)
        df2_class: int | None = None
        partition = entry.partition
        if entries is not None:
            row = entries.get(pid)
            if row is not None:
                raw = row.get("df2_class")
                if not (isinstance(raw, int) and raw in DF2_CLASSES):
                    self._bad(
                        pid,
                        f"unknown DeepFashion2 class {raw!r} (expected 1..13)",
                        DataFormatError,
                        str(entries_path),
                        "fix the class in entries.jsonl",
                    )
                    return None
                df2_class = raw
                if row.get("partition") in (Partition.REGULAR.value, Partition.HARD.value):
                    partition = Partition(row["partition"])
        try:
            shop = resolve_under(
                self.root, entry.img_path, what="img_path", where=where, root_label="the dataset"
            )
        except PathEscapeError as exc:  # e.g. a link leaving the dataset folder
            if self.on_bad == "raise":
                raise
            self.skipped.append((pid, str(exc)))
            return None
        problem = _file_problem(shop, "an image file")
        if problem is not None and problem.startswith(IS_FOLDER):
            self._bad(
                pid,
                f"img_path {entry.img_path!r:.80} {problem}",
                MediaError,
                str(shop),
                "name the shop image file itself in img_path, or put the image there",
            )
            return None
        if problem is not None:
            self._bad(
                pid,
                f"shop image {problem}: {entry.img_path}"
                if problem == "not found"
                else f"img_path {entry.img_path!r:.80}: {problem}",
                MediaError,
                str(shop) if problem == "not found" else where,
                (problem == "not found" and unicode_form_hint(self.root, entry.img_path))
                or "check img_path in the split JSON (a file name is at most 255 bytes)",
            )
            return None
        videos = []
        first_skip = len(self.skipped)  # this product's skips start here
        for vi, rel in enumerate(entry.video_paths):
            try:
                path = resolve_under(
                    self.root, rel, what=f"video_paths[{vi}]", where=where, root_label="the dataset"
                )
            except PathEscapeError as exc:
                if self.on_bad == "raise":
                    raise
                self.skipped.append((pid, str(exc)))
                continue
            problem = _file_problem(path, "a video file")
            if problem is not None and problem.startswith(IS_FOLDER):
                self._bad(
                    pid,
                    f"video_paths[{vi}] {rel!r:.80} {problem}",
                    MediaError,
                    str(path),
                    "name the video file itself in video_paths, or put the video there",
                )
                continue
            if problem == "not found":
                self._bad(
                    pid,
                    f"video not found: {rel}",
                    MediaError,
                    str(path),
                    unicode_form_hint(self.root, rel) or "check video_paths",
                )
                continue
            if problem is not None:
                self._bad(
                    pid,
                    f"video_paths[{vi}] {rel!r:.80}: {problem}",
                    MediaError,
                    where,
                    "check video_paths (a file name is at most 255 bytes)",
                )
                continue
            # its frame keys are under MAX_FRAMES (the split file's reader refuses a longer one)
            boxes = (
                FrameBoxes.of_frame_keys(entry.tracklets[vi], entry.box_array(vi))
                if vi < len(entry.tracklets)
                else FrameBoxes.empty()
            )
            # this product's file of the video (another product's, for a video both list, is
            # not about this product's garment); a file of no product named: the video's
            vt = richer.get(rel, pid)
            conf: Mapping[int, float] = {}
            width = height = nframes = None
            if vt is not None:
                width, height = self._file_size(vt, path, boxes)
                nframes = vt.frames
                conf = vt.confidences
            # frame indices are checked against the decoded video's length at first use (and
            # by check()): the count a tracklet file records is not the video's authority
            boxes = self._clean_boxes(pid, rel, boxes, width, height, None)
            if boxes is None:
                continue
            if self.crop == "tracklet" and not boxes:
                self._bad(
                    pid,
                    f"empty tracklet for video {vi} ({rel})",
                    DataFormatError,
                    where,
                    self.empty_tracklet_hint,
                    hint_when_skipped=True,
                )
                continue
            known = (width, height) if width and height else None
            videos.append(
                VideoRecord(
                    rel,
                    path,
                    boxes,
                    conf,
                    width,
                    height,
                    nframes,
                    pid,
                    recorded_frames=nframes,
                    known_size=known,
                    tracklet_file=vt.file if vt is not None else None,
                    video_index=vi,
                )
            )
        if not videos:
            if entry.video_paths and self.on_bad == "skip":
                self._product_dropped(pid, where, first_skip, len(entry.video_paths))
            return None
        return ProductRecord(pid, shop, df2_class, partition, videos)

    def _file_size(self, vt: RicherVideo, path: Path, boxes: dict[int, list[float]]) -> tuple[int, int]:
        """The (width, height) to check ``boxes`` against: the tracklet file's, unless a box falls
        outside it and the probed video says otherwise (a file stale after a re-encode, or
        edited): then the video's, with a warning naming the file (the boxes of the split file
        are not blamed for it)."""
        w, h = vt.width, vt.height
        if all(_inside([float(v) for v in b], w, h) for b in boxes.values()):
            return w, h
        from movingfashion.media.probe import probe_video

        try:
            probe = probe_video(path)
        except MediaError:
            return w, h  # the video's own problem shows when it is opened
        if (probe.width, probe.height) == (w, h) or not (probe.width and probe.height):
            return w, h
        log.warning(
            "%s: frame size %dx%d differs from the video's %dx%d (%s); the video's is used: "
            "rebuild the tracklet file (mf-tracklets build --force)",
            vt.path,
            w,
            h,
            probe.width,
            probe.height,
            path,
        )
        return probe.width, probe.height

    def _product_dropped(self, pid: str, where: str, first: int, nvideos: int) -> None:
        """List a product left without a usable video once: its videos' reasons (at most one
        each: ``self.skipped[first:]``) folded into one entry; per-frame ones stay as they are."""
        own = self.skipped[first:]
        if not 0 < len(own) <= nvideos:
            self.skipped.append((pid, f"{where}: no usable video left"))
            return
        del self.skipped[first:]
        reasons = [r[len(where) + 2 :] if r.startswith(f"{where}: ") else r for _, r in own]
        self.skipped.append((pid, f"{where}: no usable video left: {'; '.join(reasons)}"))

    def _clean_boxes(
        self,
        pid: str,
        rel: str,
        boxes: dict[int, list[float]],
        width: int | None,
        height: int | None,
        nframes: int | None,
    ) -> dict[int, list[float]] | None:
        """Clip slightly-outside boxes; report the rest. ``None`` = drop the video (raise mode raises)."""
        if width is None or height is None:
            return boxes
        out = {}
        for f, b in sorted(boxes.items()):
            c = [float(b[0]), float(b[1]), float(b[2]), float(b[3])]
            if _inside(c, width, height) and (nframes is None or f < nframes):
                out[f] = c  # what _clip gives a box inside the frame, without a second pass
                continue
            problem = self._box_problem(f, b, width, height, nframes)
            if problem:
                self._bad(
                    pid,
                    f"video {rel}: {problem}",
                    DataFormatError,
                    str(self.split_path),
                    PAST_END_HINT
                    if nframes is not None and f >= nframes
                    else "fix the tracklet boxes (absolute pixels [x1, y1, x2, y2] inside the frame)",
                )
                continue
            out[f] = self._clip(b, width, height)
        return out

    def _box_problem(
        self, f: int, b: Sequence[float], width: int, height: int, nframes: int | None
    ) -> str | None:
        t = self.box_tolerance
        if nframes is not None and f >= nframes:
            return f"frame {f} is past the video's last frame {nframes - 1}"
        if b[0] < -t or b[1] < -t or b[2] > width + t or b[3] > height + t:
            return f"frame {f}: box {_box_text(b)} outside the {width}x{height} frame"
        c = self._clip(b, width, height)
        if c[2] - c[0] < 1 or c[3] - c[1] < 1:
            return f"frame {f}: box {_box_text(b)} is empty inside the {width}x{height} frame"
        return None

    @staticmethod
    def _clip(b: Sequence[float], width: int, height: int) -> list[float]:
        return [
            min(max(float(b[0]), 0.0), width),
            min(max(float(b[1]), 0.0), height),
            min(max(float(b[2]), 0.0), width),
            min(max(float(b[3]), 0.0), height),
        ]

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
        return np.random.default_rng([self.seed, self.epoch, int(index)])

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
                    return self._item_from_cache(index, rec, vi, video, idx, meta)
                except (OSError, ValueError, EOFError, KeyError, IndexError) as exc:
                    self._drop_cached(video, exc)  # one warning, then live (sampled again below)
            entry = (
                self.training_copy.entry(video, entry_product(self, video))
                if self.training_copy is not None
                else None
            )
            if entry is not None:
                try:
                    return self._item_from_copy(index, rec, vi, video, idx, entry)
                except CorruptCopy as exc:
                    self.training_copy.drop(  # one warning, then live
                        video.rel_path, str(exc), entry_product(self, video)
                    )
        for _ in range(3):
            rec, vi, idx = self.plan(index)
            video = rec.videos[vi]
            with self._naming_product(rec):
                n = len(self.cache.get(video.path)) if not video.checked else None
            if n is not None and max(idx) >= n:
                # a frame past the real end: a video cut short raises MediaError (the file's
                # fault); else the JSON's frame count or boxes are off: drop those frames first
                # (on_bad="raise" raises), then sample again; the frame size is still checked
                # against the decoded frames below
                self._raise_if_cut_short(rec, video, n)
                self._drop_past_end(rec, video, n)
                continue
            with self._naming_product(rec):
                clip, out_boxes, (h0, w0) = self._cut(video, idx, planar=True)
            if self._check_video(rec, video, (h0, w0)):
                break
        else:  # pragma: no cover - _check_video converges after one pruning
            raise DataFormatError("cannot sample a valid clip", where=str(video.path))
        return self._make_item(index, rec, vi, video, idx, clip, out_boxes, (h0, w0), planar=True)

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

    def _make_item(
        self,
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
    ) -> dict[str, Any]:
        """The item dict of a clip already cut (``clip`` uint8 ``[T, h, w, 3]``, or ``[T, 3, h,
        w]`` when ``planar``)."""
        frames_t = self._tensor(clip, planar=planar)
        canvas = (int(frames_t.shape[-2]), int(frames_t.shape[-1]))  # the pixels the boxes are in
        boxes_t = torch.from_numpy(boxes)
        # crops: the boxes in the crops' pixels, which a transform moving pixels moves with them
        crop_boxes = torch.from_numpy(self._crop_boxes(boxes, orig_size)) if self.crop == "tracklet" else None
        if self.transform is not None:
            frames_t = self.transform(frames_t)
        if self.transforms is not None and crop_boxes is not None:
            frames_t, crop_boxes = _call_transforms(self.transforms, frames_t, crop_boxes, canvas)
        elif self.transforms is not None:
            frames_t, boxes_t = _call_transforms(self.transforms, frames_t, boxes_t, canvas)
        extra = {} if crop_boxes is None else {"crop_boxes": crop_boxes}
        return {
            "shop": self._shop(rec),
            "frames": frames_t,
            "frame_indices": torch.tensor(idx, dtype=torch.long),
            "boxes": boxes_t,
            "product_id": rec.product_id,
            "df2_class": rec.df2_class if rec.df2_class is not None else -1,
            "partition": rec.partition.value,
            "video_path": video.rel_path,
            "video_index": video.video_index,
            "index": self._position(index),
            "draw": int(index),
            "orig_size": (int(orig_size[0]), int(orig_size[1])),
            **extra,
        }

    def _cut(
        self, video: VideoRecord, idx: list[int], reader: FrameReader | None = None, *, planar: bool = False
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """Decode frames ``idx`` of ``video`` and cut them: (uint8 clip, output boxes, (H, W) decoded).

        Each decoded frame is cropped (or resized) as it is, never copied into a batch of full
        frames first. ``reader``: an open reader to use (caches and copies pass one opened for
        whole-video access, :meth:`sequential_reader`); default: the dataset's reader cache.
        ``planar``: the clip comes as ``[T, 3, h, w]``, written straight into the item's buffer
        (:func:`_into_planes`).
        """
        boxes = video.boxes.rows(idx)
        if self.crop == "tracklet":
            # each frame's crop window only: cut (and converted to RGB) as it is decoded
            box_of = dict(zip(idx, boxes, strict=True))
            sizes: dict[int, tuple[int, int]] = {}

            def window(i: int, h: int, w: int) -> tuple[int, int, int, int]:
                sizes.setdefault(i, (h, w))
                return crop_window(box_of[i], (h, w), self.context)

            cut = self._decode_list(video, idx, reader, window=window)
            h0, w0 = sizes[idx[0]] if idx else (0, 0)
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
        clip, scaled = self._whole(frames, boxes, planar=planar)
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
            self._build_index()
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

    def _cached(self, video: VideoRecord) -> _CacheMeta | None:
        """``video``'s crop-cache entry, checked (None: decode it live). Kept in a bounded
        least-recently-used map; an entry not used is remembered by name only (one warning)."""
        if self.crop_cache is None:
            return None
        key = _cache_key(video)
        if key in self._cache_unused:
            return None
        meta = self._cache_meta.get(key)
        if meta is not None:
            self._cache_meta.move_to_end(key)
            return meta
        meta = self._read_cached(video)
        if meta is None:
            self._cache_unused.add(key)
            return None
        self._cache_meta[key] = meta
        while len(self._cache_meta) > CACHE_METAS:
            self._cache_meta.popitem(last=False)
        return meta

    def _check_cache_entries(self, videos: Iterable[VideoRecord]) -> None:
        """Check the crop-cache entry of every video of ``videos`` as its first load would (meta,
        then the array's header and size), each one not used named in one warning and remembered
        (the metas themselves are read again where they are used). An entry built with other
        parameters is left to the first load (a ConfigError there)."""
        for video in videos:
            key = _cache_key(video)
            if key in self._cache_unused:
                continue
            try:
                meta = self._read_cached(video)
            except ConfigError:
                continue
            if meta is None:
                self._cache_unused.add(key)
                continue
            try:
                arr = np.load(self._cache_files(video)[0], mmap_mode="r")
                problem = _array_problem(arr, len(meta.frames), self.cache_params()["size"])
                del arr
                if problem is not None:
                    raise ValueError(problem)
            except (OSError, ValueError, EOFError) as exc:
                self._drop_cached(video, exc)

    def _read_cached(self, video: VideoRecord) -> _CacheMeta | None:
        """Read and check ``video``'s crop-cache meta (a warning when it is there but not used)."""
        meta_path = self._cache_files(video)[1]
        if not meta_path.is_file():
            self._note_legacy(video)
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
        if meta.get("params") != self.cache_params():
            raise ConfigError(
                f"crop cache built with {short_repr(meta.get('params'))}, dataset wants {self.cache_params()}",
                where=str(meta_path),
                hint="rebuild it with build_crop_cache for these settings",
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

    def _note_legacy(self, video: VideoRecord) -> None:
        """One warning (for the whole cache) when ``video``'s entry is there named the old way."""
        meta_path = self._cache_files(video)[1]
        legacy = legacy_entry(meta_path.parent, video.rel_path, entry_product(self, video), ".json")
        if not self._legacy_warned and legacy is not None:
            self._legacy_warned = True
            log.warning(
                "%s: crop cache entry named the old way (before names kept the extension), "
                "no longer read; its videos decode live: rerun mf crop-cache to rebuild it",
                legacy,
            )

    def _cache_files(self, video: VideoRecord) -> tuple[Path, Path]:
        """(array file, meta file) of ``video``'s entry in the crop cache."""
        assert self.crop_cache is not None
        return cache_entry(self.crop_cache, video.rel_path, entry_product(self, video))

    def _drop_cached(self, video: VideoRecord, exc: BaseException) -> None:
        """A crop-cache entry that cannot be read: warn once naming its file; decode the video live."""
        arr_path = self._cache_files(video)[0]
        log.warning(
            "%s: crop cache entry unusable (%s: %s); decoding %s live (rebuild the cache to fix it)",
            arr_path,
            type(exc).__name__,
            exc,
            video.rel_path,
        )
        key = _cache_key(video)
        self._cache_meta.pop(key, None)
        self._cache_unused.add(key)

    def _item_from_cache(
        self,
        index: int,
        rec: ProductRecord,
        vi: int,
        video: VideoRecord,
        idx: list[int],
        meta: _CacheMeta,
    ) -> dict[str, Any]:
        arr = self._arrays.get(self._cache_files(video)[0])
        problem = _array_problem(arr, len(meta.frames), self.cache_params()["size"])
        if problem is not None:
            raise ValueError(problem)
        pos = {f: i for i, f in enumerate(meta.frames.tolist())}
        rows = [pos[f] for f in idx]
        clip = np.empty((len(rows), arr.shape[3], *arr.shape[1:3]), np.uint8)
        for planes, r in zip(clip, rows, strict=True):  # one buffer, no [T, h, w, 3] copy first
            _into_planes(arr[r], planes)
        boxes = meta.boxes[rows].reshape(-1, 4)
        return self._make_item(index, rec, vi, video, idx, clip, boxes, meta.orig_size, planar=True)

    def _item_from_copy(
        self,
        index: int,
        rec: ProductRecord,
        vi: int,
        video: VideoRecord,
        idx: list[int],
        entry: CopyEntry,
    ) -> dict[str, Any]:
        pos = entry.rows()
        rows = [pos[f] for f in idx]
        clip = entry.read(rows)
        boxes = np.array(
            [[np.nan if v is None else v for v in entry.boxes[r]] for r in rows], dtype=np.float32
        ).reshape(-1, 4)
        return self._make_item(index, rec, vi, video, idx, clip, boxes, entry.orig_size)

    # ------------------------------------------------------------------ internals
    def _check_video(
        self, rec: ProductRecord, video: VideoRecord, shape: tuple[int, int] | None = None
    ) -> bool:
        """Check a video record's boxes once per process (each product's record of a video
        several products list on its own; the video is opened once). False = boxes were pruned or
        clipped: sample again.

        ``shape`` is the (H, W) of frames just decoded (saves decoding one to learn the size).
        """
        if video.checked:
            return True
        n, h, w = self._probe(rec, video, shape)
        video.num_frames, video.width, video.height = n, w, h
        cleaned = self._clean_boxes(rec.product_id, video.rel_path, video.boxes, w, h, n)
        video.checked = True  # not when a bad box raised: it raises again at the next load
        if cleaned is not None and cleaned != video.boxes:
            # boxes dropped (sample again) or clipped to the frame (cut again: the item must
            # hold the boxes every later load of it holds)
            video.set_boxes(cleaned)
            return False
        return True

    def _probe(
        self, rec: ProductRecord, video: VideoRecord, shape: tuple[int, int] | None
    ) -> tuple[int, int, int]:
        """(frames, H, W) of ``video``'s file, learnt once per path and process; raises
        :class:`BrokenVideo` when the record's boxes reach past the end of a video cut short."""
        key = str(video.path)
        probed = self._probed.get(key)
        n = probed[0] if probed is not None else len(self.cache.get(video.path))
        if any(f >= n for f in video.boxes):
            self._raise_if_cut_short(rec, video, n)
        if probed is not None:
            return probed
        if shape is not None:
            h, w = shape
        elif video.width is None or video.height is None:
            from movingfashion.media.readers import decode

            reader = self.cache.get(video.path)
            h, w = decode(reader, [0], backend=self.cache.backend).shape[1:3]  # MediaError if it fails
        else:
            h, w = video.height, video.width
        self._probed[key] = (n, h, w)
        return n, h, w

    def _drop_past_end(self, rec: ProductRecord, video: VideoRecord, n: int) -> None:
        """The video holds ``n`` frames: boxes past them are bad rows (``on_bad``), and whole-frame
        candidates stop at ``n``."""
        video.num_frames = n
        kept = dict(video.boxes)
        for f in sorted(f for f in video.boxes if f >= n):
            self._bad(
                rec.product_id,
                f"video {video.rel_path}: frame {f} is past the video's last frame {n - 1}",
                DataFormatError,
                str(self.split_path),
                PAST_END_HINT,
            )
            del kept[f]
        video.set_boxes(kept)

    def _raise_if_cut_short(self, rec: ProductRecord, video: VideoRecord, n: int) -> None:
        """Tracklet boxes lie past the ``n`` frames the video holds: :class:`BrokenVideo` (a
        MediaError naming product and file) when the file is what is wrong (:meth:`_cut_short`),
        so a truncated download is not reported as a tracklet past its end frame by frame."""
        key = f"{video.path}@{video.product_id}"  # the verdict weighs this record's boxes
        if key not in self._length_problems:
            self._length_problems[key] = self._cut_short(video, n)
        problem = self._length_problems[key]
        if problem is None:
            return
        raise BrokenVideo(
            f"product '{rec.product_id}': video {video.rel_path} is truncated or damaged: {problem}",
            where=str(video.path),
            hint="re-download or re-encode it (mf verify lists such files), or drop it from the split"
            + ("; or pass on_bad='skip' to drop such videos" if self.on_bad == "raise" else ""),
        )

    def _cut_short(self, video: VideoRecord, n: int) -> str | None:
        """Why a video whose boxes reach past its ``n`` frames is itself at fault, or None.

        At fault: its last frame does not decode with any backend, or it holds far fewer
        frames than expected: at most half of what its header declares, of what its tracklet
        file recorded, or of its last boxed frame; or 5% (at least 3) fewer than its header
        declares. Boxes past the end of a whole file (its last frame decodes and its header
        declares the frames it holds, or holds every packet its header declares while an edit
        list hides some, as a stream-copied cut does) are the tracklet's fault, however far past:
        dropped as bad rows of the split file."""
        from movingfashion.media.probe import probe_video, whole_frames
        from movingfashion.media.readers import decode

        if n <= 0:
            return "it holds no frame"
        try:
            decode(self.cache.get(video.path), [n - 1], backend=self.cache.backend)
        except MediaError:  # every backend tried (the decoders' own words: mf verify)
            return f"frame {n - 1}, the last of the {n} it holds, does not decode"
        try:
            declared: int | None = probe_video(video.path).frames
        except MediaError:
            declared = None
        if declared == n:  # header and decoded frames agree: the tracklet is what is off
            return None
        if declared and whole_frames(video.path) >= declared:  # whole: an edit list hides the rest
            return None
        last = max(video.boxes, default=n - 1)
        said = [f"its tracklet has boxes up to frame {last}"]
        if video.recorded_frames:
            said.append(f"its tracklet file records {video.recorded_frames} frames")
        if declared:
            said.insert(0, f"its header declares {declared}")
        expected = max(declared or 0, video.recorded_frames or 0, last + 1)
        if 2 * n <= expected or (declared and declared - n > max(2, declared // 20)):
            return f"it holds {n} frames, while {', '.join(said)}"
        return None

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

    def _crops(self, arr: Sequence[np.ndarray], boxes: np.ndarray, *, planar: bool = False) -> np.ndarray:
        """The crops of ``boxes`` resized to ``crop_size``: ``[T, h, w, 3]``, or ``[T, 3, h, w]``
        when ``planar``."""
        ch, cw = self.crop_size or (224, 224)
        into = _Resizer((ch, cw), len(arr), planar)
        for i, (img, b) in enumerate(zip(arr, boxes, strict=True)):
            xa, ya, xb, yb = crop_window(b, img.shape[:2], self.context)
            into(i, img[ya:yb, xa:xb])
        return into.out

    def _crop_boxes(self, boxes: np.ndarray, orig_size: tuple[int, int]) -> np.ndarray:
        """``boxes`` (source pixels) in the pixels of their crops (:meth:`_crops`, the windows of
        :func:`crop_window`), clipped to the crop; NaN rows stay NaN. Plain floats: this runs
        for every item (tens of microseconds for T = 10)."""
        ch, cw = self.crop_size or (224, 224)
        out = []
        for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4).tolist():
            if math.isnan(x1 + y1 + x2 + y2):
                out.append([math.nan] * 4)
                continue
            xa, ya, xb, yb = crop_window((x1, y1, x2, y2), orig_size, self.context)
            sx, sy = cw / (xb - xa), ch / (yb - ya)
            out.append(
                [
                    min(cw, max(0.0, (x1 - xa) * sx)),
                    min(ch, max(0.0, (y1 - ya) * sy)),
                    min(cw, max(0.0, (x2 - xa) * sx)),
                    min(ch, max(0.0, (y2 - ya) * sy)),
                ]
            )
        return np.array(out, np.float32).reshape(-1, 4)

    def _whole(
        self, arr: Sequence[np.ndarray], boxes: np.ndarray, *, planar: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Whole frames at ``frame_size`` (as decoded when None) and their boxes scaled alike:
        ``[T, H, W, 3]``, or ``[T, 3, H, W]`` when ``planar``."""
        h, w = arr[0].shape[:2]
        if self.frame_size is None:
            if not planar:
                return (arr if isinstance(arr, np.ndarray) else np.stack(arr)), boxes
            into = _Resizer((h, w), len(arr), planar)
        else:
            into = _Resizer(self.frame_size, len(arr), planar)
        for i, img in enumerate(arr):
            into(i, img)
        if self.frame_size is None:
            return into.out, boxes
        fh, fw = into.size
        return into.out, boxes * np.array([fw / w, fh / h, fw / w, fh / h], dtype=np.float32)

    def _tensor(self, arr: np.ndarray, *, planar: bool = False) -> torch.Tensor:
        return clip_tensor(arr, self.dtype, planar=planar)

    def _shop(self, rec: ProductRecord) -> Any:
        # the cached picture is read-only; the planar copy the tensor takes is its own
        img = _shop_image(*_shop_key(rec.shop_path), self.shop_size)
        t = self._tensor(img[None])[0]
        return self.shop_transform(t) if self.shop_transform is not None else t


class _Resizer:
    """Writes pictures resized to ``size`` = ``(h, w)`` (INTER_AREA; a picture already that size
    is copied) into row ``i`` of one new uint8 clip ``out``: ``[n, h, w, 3]``, or ``[n, 3, h, w]``
    when ``planar``, through one small scratch picture that stays in the CPU's cache.

    Planar straight into the item's buffer because a second clip-sized buffer is what costs: each
    fresh one is paged in by the kernel (one fault per 4 KiB, ~4 us each on the machines measured;
    368 for ten 224 px crops), and glibc hands the freed pair back to the kernel, so every item
    paid ~1.5 ms, more than the resizing itself (docs/performance.md, per-clip overhead)."""

    def __init__(self, size: Size, n: int, planar: bool) -> None:
        self.size = (int(size[0]), int(size[1]))
        h, w = self.size
        self.planar = planar
        self.out = np.empty((n, 3, h, w) if planar else (n, h, w, 3), np.uint8)
        self._scratch = np.empty((h, w, 3), np.uint8) if planar else None

    def __call__(self, i: int, img: np.ndarray) -> None:
        import cv2

        h, w = self.size
        if not self.planar:
            if img.shape[:2] == (h, w):
                self.out[i] = img
            else:
                cv2.resize(img, (w, h), dst=self.out[i], interpolation=cv2.INTER_AREA)
            return
        if img.shape[:2] == (h, w):
            src = img
        else:
            src = cv2.resize(img, (w, h), dst=self._scratch, interpolation=cv2.INTER_AREA)
        _into_planes(src, self.out[i])


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


def clip_tensor(arr: np.ndarray, dtype: torch.dtype = torch.float32, *, planar: bool = False) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> ``[N, 3, H, W]``: float in [0, 1], or uint8 as is (``torch.uint8``).
    ``planar``: ``arr`` is already ``[N, 3, H, W]`` (C-contiguous) and is taken as is."""
    t = torch.from_numpy(np.asarray(arr) if planar else _planar(np.asarray(arr)))
    if dtype == torch.uint8:
        return t
    if dtype == torch.float32:  # one pass (uint8 -> float32 / 255), bit-identical to two
        return unit_float(t)
    return t.to(dtype).div_(255.0)


def _planar(arr: np.ndarray) -> np.ndarray:
    """``[N, H, W, C]`` -> a C-contiguous ``[N, C, H, W]`` copy. For uint8 pictures OpenCV's
    split writes each plane in one vectorised pass, 3x faster than numpy's strided transpose
    (itself ~3x faster than torch's ``permute().contiguous()``): 0.15 against 0.45 ms for 10
    crops of 224 px, about 1.5% of ``dataset[i]`` on a 176x144 clip. Same bytes either way."""
    if arr.dtype != np.uint8 or arr.ndim != 4 or not 2 <= arr.shape[3] <= 4 or 0 in arr.shape:
        return arr.transpose(0, 3, 1, 2).copy(order="C")  # a fresh array: no negative stride left
    out = np.empty((arr.shape[0], arr.shape[3], *arr.shape[1:3]), np.uint8)
    for img, planes in zip(arr, out, strict=True):
        _into_planes(img, planes)
    return out


def _into_planes(img: np.ndarray, planes: np.ndarray) -> None:
    """Write uint8 ``img`` ``[H, W, C]`` into the C-contiguous ``planes`` ``[C, H, W]`` (one
    vectorised pass, as :func:`_planar`)."""
    import cv2

    cv2.split(img, list(planes))


class BrokenVideo(MediaError):
    """A video cut short or damaged, found when its tracklet reaches past the frames it holds
    (the message names product and video: raised and listed as it is)."""


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


def _cwd() -> str | None:
    """This process's working directory; None when it no longer exists (removed under it)."""
    try:
        return os.getcwd()
    except OSError:
        return None


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


def _same_pool(meta: dict[str, Any], video: VideoRecord, pool: int | None) -> bool:
    """Whether a crop-cache entry (its meta checked) holds the frames a build with ``pool`` stores:
    by the pool it records; an entry from before the pool was recorded, by its frames (tracklet
    crops: those ``pool`` picks from the boxes; whole frames: built again)."""
    if "pool" in meta:
        return meta["pool"] == pool
    if meta["params"]["crop"] != "tracklet":
        return False
    cand = sorted(video.boxes)
    want = cand if pool is None else sorted(set(get_sampler("rrs")(cand, pool, train=False)))
    return [int(f) for f in meta["frames"]] == want


def _cache_built(
    arr_path: Path, meta_path: Path, video: VideoRecord, params: dict[str, Any], pool: int | None
) -> bool:
    """Whether a crop-cache entry already holds ``video``'s crops cut with ``params`` from a pool
    of ``pool`` frames (None: every frame) and passes the checks the loader runs (meta, array
    header, array size): a damaged or stale entry is built again."""
    if not (meta_path.is_file() and arr_path.is_file()):
        return False
    meta = read_json_record(meta_path, utf8_only=True)  # None: not UTF-8 or JSON, nested too deeply
    if not (
        isinstance(meta, dict)
        and meta.get("params") == params
        and "video_sample" in meta  # an older toolkit's entry: built again, with the file's digest
        and entry_problem(meta, video) is None
        and _same_pool(meta, video, pool)
    ):
        return False
    try:
        arr = np.load(arr_path, mmap_mode="r")
        held = arr_path.stat().st_size
    except (OSError, ValueError, EOFError):  # an empty or cut header
        return False
    whole = held == arr.offset + arr.nbytes  # not cut short, nothing after the frames
    return whole and array_problem(arr, meta) is None


def entry_product(dataset: MovingFashionDataset, video: VideoRecord) -> str | None:
    """The product ``video``'s crop-cache entry is named after: its own when several products
    list the video (each crops its own boxes: one entry each), else none (one entry per video,
    the name caches had before)."""
    return video.product_id if video.rel_path in dataset.shared_videos else None


#: Frames decoded at a time while a crop cache is built (bounds memory on long videos).
CACHE_DECODE_CHUNK = 64


def build_crop_cache(
    dataset: MovingFashionDataset,
    out_dir: str | os.PathLike[str],
    *,
    pool: int | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    executor: Executor | None = None,
) -> dict[str, int]:
    """Decode every video once and store the crops (or resized frames) of its frames.

    ``pool=N`` keeps ``N`` frames spread over the video's candidates (chunk centres, as RRS in
    evaluation): the dataset opened with ``crop_cache=out_dir`` then samples its ``T`` frames
    from that pool. ``pool=None`` keeps *every* candidate frame, so sampling is unchanged: an
    item holds exactly the frames (and, the array being lossless, exactly the pixels) it would
    decode. Either way an item is read from one memory-mapped ``.npy`` per video instead of
    decoded. Videos already cached with the same settings and pool, from the same video (path
    and byte size) and tracklet boxes, whose entry passes the loader's checks, are skipped
    (reruns are cheap); other entries (a damaged array or meta included) are built again,
    entries named the old way (without the video's extension) are removed, and so are the
    temporary files of a killed build. Disk:
    ``frames * H * W * 3`` bytes per video (224 x 224 crops: 150 KB a frame, 4.8 MB for a
    pool of 32, 45 MB for every frame of a 300-frame tracklet).

    ``executor`` spreads the videos (default: here, in order; ``ray``: each worker holds a copy
    of the dataset, its relative paths read from this process's working directory
    (:meth:`MovingFashionDataset.anchor_paths`), writes a video's array straight into
    ``out_dir``, which must be a folder every node sees, and this process commits the entry by
    writing its ``.json``). An unexpected error of a worker is raised with a note naming the
    video. A video that does not decode, or whose worker dies (past the executor's retries), is
    listed in ``dataset.skipped`` and counted ``failed``; the others are cached (a rerun retries
    it).

    A video several products list gets one entry per product (``<video>@<product>``: each
    product's crops of its own boxes); an entry a build before that kept for such a video alone
    is removed and built again per product.
    """
    from movingfashion.executors import LocalExecutor

    if dataset.crop == "frame" and dataset.frame_size is None:
        raise ConfigError("a crop cache of whole frames needs frame_size", where="frame_size")
    if pool is not None and (isinstance(pool, bool) or not isinstance(pool, int) or pool < 1):
        raise ConfigError(
            f"pool must be a whole number >= 1 (frames kept per video), got {pool!r}",
            where="pool",
            hint="leave it out (None) to keep every boxed frame",
        )
    out = Path(out_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    sweep_partials(out)  # arrays a killed build left half-written
    params = dataset.cache_params()
    ex = executor or LocalExecutor()
    counts = {"built": 0, "already_cached": 0, "failed": 0}
    pairs = [(pi, vi) for pi, rec in enumerate(dataset.products) for vi in range(len(rec.videos))]

    def videos() -> Iterator[None]:
        todo = []
        for pi, vi in pairs:
            video = dataset.products[pi].videos[vi]
            product = entry_product(dataset, video)
            arr_path, meta_path = cache_entry(out, video.rel_path, product)
            if product is not None:  # an older build's one entry for all of
                for stale in cache_entry(out, video.rel_path):  # them: one product's crops only
                    stale.unlink(missing_ok=True)
            for p in {product, None}:  # entries named before names kept the extension
                remove_legacy(out, video.rel_path, p, (".npy", ".json"))
            if _cache_built(arr_path, meta_path, video, params, pool):
                counts["already_cached"] += 1
                yield
                continue
            todo.append((pi, vi))
        if not todo:
            return
        with ex.pool(
            _cache_video,
            setup=functools.partial(_sent, dataset, os.getcwd()),
            resources=WorkerResources(cpus=1),
        ) as workers:
            for pi, vi in todo:
                workers.submit((pi, vi, str(out), pool), tag=(pi, vi))
            first, noted = len(dataset.skipped), {}  # each video's skips (remote: listed in video order)
            for res in workers.drain():
                pi, vi = res.tag
                mark = len(dataset.skipped)
                video = dataset.products[pi].videos[vi]
                entry = cache_entry(out, video.rel_path, entry_product(dataset, video))
                if res.error is not None:
                    unseen = unseen_on_worker(res.error, ex.node_name(res.node)) if ex.remote else None
                    if unseen is not None:  # the dataset or --out is not shared with the workers' node
                        raise unseen
                    lost = isinstance(res.error, WorkerLostError)  # it killed its worker (or the node died)
                    if not lost and (
                        dataset.on_bad == "raise" or not isinstance(res.error, (MediaError, DataFormatError))
                    ):
                        if not isinstance(res.error, MFError):  # unexpected: say which video raised it
                            res.error.add_note(
                                f"while caching video {video.rel_path} of product "
                                f"{dataset.products[pi].product_id} ({video.path})"
                            )
                        raise res.error
                    # an undecodable video, or one whose worker died: listed, the others are cached
                    # (a rerun retries it)
                    dataset._skip_video(
                        dataset.products[pi], video, res.error, worker_cwd=os.getcwd() if ex.remote else None
                    )
                    for stale in entry:  # an older build's entry
                        stale.unlink(missing_ok=True)
                    counts["failed"] += 1
                    noted[res.tag] = dataset.skipped[mark:]
                    yield
                    continue
                meta, skipped = res.value
                if ex.remote:  # a worker's copy of the dataset checked the boxes: keep what it dropped
                    dataset.skipped.extend(skipped)
                atomic_write_json(entry[1], meta)
                counts["built"] += 1
                noted[res.tag] = dataset.skipped[mark:]
                yield
            if ex.remote:  # as they are listed here: in the order of the videos, not of their workers' finish
                dataset.skipped[first:] = [s for t in todo for s in noted.get(t, ())]

    steps = _Sized(videos(), len(pairs))
    for _ in progress(steps) if progress else steps:
        pass
    return counts


class _Sized:
    """An iterator with a known length (for a progress bar's total)."""

    def __init__(self, it: Iterator[Any], n: int) -> None:
        self.it, self.n = it, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Any]:
        return self.it


def _sent(dataset: MovingFashionDataset, cwd: str) -> MovingFashionDataset:
    """A worker's copy of ``dataset``, opened in ``cwd``: its relative paths read from there when
    the worker runs elsewhere (a Ray worker: wherever its node was started; here, the same
    object, untouched)."""
    if os.getcwd() != cwd:
        dataset.anchor_paths(cwd)
    return dataset


def _cache_video(
    dataset: MovingFashionDataset, task: tuple[int, int, str, int | None]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Decode one video, write its array into the cache; returns its meta and the rows the box
    check dropped (the caller writes the meta, which makes the entry valid)."""
    from movingfashion.sampling import get_sampler as _get

    pi, vi, out, pool = task
    rec = dataset.products[pi]
    video = rec.videos[vi]
    arr_path = cache_entry(Path(out), video.rel_path, entry_product(dataset, video))[0]
    before = len(dataset.skipped)
    identity = video_identity(video)  # before decoding: what the entry is cut from
    source_boxes = _source_boxes(video)  # the tracklet as loaded (what a load compares)
    dataset._check_video(rec, video)
    cand = dataset._candidates_uncached(video)
    frames = sorted(set(cand if pool is None else _get("rrs")(cand, pool, train=False)))
    out_boxes_l, orig = [], None
    reader = dataset.sequential_reader(video)
    with contextlib.closing(reader), atomic_open(arr_path, "wb") as fh:
        for start in range(0, max(len(frames), 1), CACHE_DECODE_CHUNK):
            chunk = frames[start : start + CACHE_DECODE_CHUNK]
            # whole-video access, each frame cut as it is decoded (no batch of full frames)
            clip, out_boxes, orig = dataset._cut(video, chunk, reader)
            if start == 0:
                np.lib.format.write_array_header_1_0(
                    fh,
                    {
                        "descr": np.lib.format.dtype_to_descr(clip.dtype),
                        "fortran_order": False,
                        "shape": (len(frames), *clip.shape[1:]),
                    },
                )
            fh.write(np.ascontiguousarray(clip).tobytes())
            out_boxes_l.append(out_boxes)
    out_boxes = np.concatenate(out_boxes_l) if out_boxes_l else np.zeros((0, 4), np.float32)
    meta = {
        "naming": NAMING,
        "video": video.rel_path,
        "product": rec.product_id,
        **identity,
        "source_boxes": source_boxes,
        "params": dataset.cache_params(),
        "pool": pool,
        "frames": frames,
        "orig_size": list(orig or (0, 0)),
        "boxes": [[None if np.isnan(v) else float(v) for v in b] for b in out_boxes],
    }
    return meta, dataset.skipped[before:]


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
