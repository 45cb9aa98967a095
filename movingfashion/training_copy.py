"""The training copy: every boxed frame's crop, JPEG-compressed, one file per video.

A training copy holds, for each video of a split, exactly the crops ``MovingFashionDataset``
would cut live (tracklet crops at ``crop_size``, or whole frames at ``frame_size`` for
``crop="frame"``) for *every* candidate frame, so RRS and every other sampler draw the same
frame indices as the live path. The dataset opened with ``training_copy=DIR`` reads a clip as
T small JPEG decodes instead of decoding the video from its key frames.

Layout of ``DIR`` (per video, ``<stem>`` is :func:`entry_stem`: the video's path in the dataset,
extension kept, with ``%``, ``/`` and ``@`` percent-escaped, e.g. ``videos%2F101_0.mp4``; one
name per video, so ``X.mp4`` and ``X.mov`` or ``a/b.mp4`` and ``a__b.mp4`` never share one):

* ``<stem>.jpgs``: the frames' JPEG files back to back (decodable with any JPEG reader);
* ``<stem>.json``: the index: format and version, the dataset parameters it was cut with
  (``crop``, ``size``, ``context``), the video's path, byte size and end digest, the frame indices, each
  frame's byte offset and CRC-32, the boxes it was cut from and the original frame size.

A copy written before names kept the extension (``videos__101_0.jpgs``) is not read: each such
video is named in one warning and decoded live until ``mf training-copy`` is run again, which
writes the new names and removes the old files.

Why JPEG: ``benchmarks/bench_copy_formats.py`` measured the candidates on real clips (JPEG and
WebP at several qualities, all-intra and short-GOP H.264); JPEG at quality 90 (the default)
is the fastest to decode per clip within the 20 KB per frame budget (WebP is smaller but
slower to decode; H.264 pays a seek and a decoder flush per frame, or decodes up to a GOP of
frames nobody asked for). Pixels are within the documented tolerance of the live crops:
:data:`TOLERANCE` (mean absolute error in 0..255 levels, and PSNR), checked on every frame as it
is written; a frame that misses it at the chosen quality (fine colour detail in a small crop)
is stored at finer settings (:func:`encode_settings`: a higher quality, then no chroma
subsampling).

Deterministic: the same dataset, parameters and quality give byte-identical files (exact
decoders, OpenCV's JPEG encoder with fixed settings, sorted JSON). A copy that does not fit
(the source video changed size, the tracklet's boxes changed) or is corrupt (unreadable index,
an index whose frames, offsets or boxes cannot be the video's, truncated data, CRC mismatch, a
JPEG that does not decode) is not used: the dataset logs one warning naming the file and decodes
that video live (:meth:`TrainingCopy.check` checks every entry's index and data size when the
dataset is made, so DataLoader workers only name what reading finds: a CRC mismatch, a JPEG that
does not decode); ``mf training-copy`` run again writes it anew.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from schemas.atomic import sample_digest
from schemas.errors import ConfigError, short_repr
from schemas.official import MAX_FRAMES
from schemas.paths import MAX_NAME, PathEscapeError, inside
from schemas.redact import redacted_logger
from schemas.text_input import read_json_record

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.records import VideoRecord

log = redacted_logger(__name__)

FORMAT = "mf-training-copy"
VERSION = 1
#: JPEG quality written by default (see the module docstring for how it was chosen).
DEFAULT_QUALITY = 90
#: Pixel tolerance of a copy against the live crops, per frame (so per clip too): mean absolute
#: error in 0..255 levels at most, PSNR in dB at least. ``build_training_copy`` checks every
#: frame it writes and encodes one that misses it with finer settings (:func:`encode_settings`).
TOLERANCE = {"mean_abs_error": 4.0, "psnr_db": 30.0}
#: Frames decoded at a time while a copy is written (bounds memory on long videos).
BUILD_CHUNK = 64
#: Open copy files kept per process.
OPEN_FILES = 64


class CorruptCopy(OSError):
    """A training-copy file that cannot be used (the message says why)."""


#: Longest entry stem kept as is; a longer one is cut and ends in a hash of the whole name.
MAX_STEM = 200


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("/", "%2F").replace("@", "%40")


def entry_stem(rel_path: str, product_id: str | None = None) -> str:
    """The file name, without suffix, of a video's entry in a training copy or crop cache.

    The video's path relative to the dataset, extension kept, with ``%``, ``/`` and ``@``
    percent-escaped (``videos/a.mp4`` -> ``videos%2Fa.mp4``), then ``@<product>`` for one
    product's entry of a video several products list. Injective: two different (video,
    product) pairs never share a name (a stem longer than :data:`MAX_STEM` bytes is cut and
    ends in a SHA-1 of the whole one).
    """
    stem = _escape(rel_path)
    if product_id is not None:
        stem += "@" + product_id.replace("%", "%25").replace("/", "%2F")
    if len(stem.encode()) > MAX_STEM:
        import hashlib

        digest = hashlib.sha1(stem.encode()).hexdigest()
        stem = stem.encode()[: MAX_STEM - 41].decode(errors="ignore") + "~" + digest
    return stem


def legacy_stem(rel_path: str, product_id: str | None = None) -> str:
    """The stem entries had before :func:`entry_stem` (``/`` -> ``__``, extension dropped): it
    named ``X.mp4`` and ``X.mov`` alike, so such entries are rebuilt, never read."""
    stem = rel_path.replace("/", "__").rsplit(".", 1)[0]
    return stem + (f"@{product_id}" if product_id is not None else "")


#: Marks an entry's meta as written under :func:`entry_stem` (a legacy entry lacks it).
NAMING = 2


def _legacy_path(folder: Path, rel_path: str, product_id: str | None, suffix: str) -> Path | None:
    """``folder/<legacy stem><suffix>`` checked to stay inside ``folder``
    (:func:`schemas.paths.inside`: the old names did not escape a product id's ``/``, so an id
    such as ``x/../../f`` would name a file outside it), or None when it would leave ``folder``
    or is longer than file systems take (:data:`~schemas.paths.MAX_NAME` bytes: the old names
    were not cut short, so no entry was ever written under it, and asking for it would raise
    ENAMETOOLONG)."""
    name = f"{legacy_stem(rel_path, product_id)}{suffix}"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME:
        return None
    try:
        return inside(folder, name, what="training copy file")
    except PathEscapeError:
        return None


def legacy_entry(folder: Path, rel_path: str, product_id: str | None, suffix: str) -> Path | None:
    """``folder/<legacy stem><suffix>`` (:func:`legacy_stem`) when that file is there: an entry
    named the old way; else None, also for a name that would leave ``folder`` or that no file
    system takes (:func:`_legacy_path`)."""
    path = _legacy_path(folder, rel_path, product_id, suffix)
    return path if path is not None and path.is_file() else None


def remove_legacy(folder: Path, rel_path: str, product_id: str | None, suffixes: tuple[str, str]) -> None:
    """Delete ``rel_path``'s entry named the old way (:func:`legacy_stem`) from ``folder``; an
    entry of that name whose meta says it was written under the current names is kept."""
    meta = legacy_entry(folder, rel_path, product_id, suffixes[1])
    data = _legacy_path(folder, rel_path, product_id, suffixes[0])
    if meta is None or data is None:
        return
    doc = read_json_record(meta, utf8_only=True)
    if isinstance(doc, dict) and doc.get("naming") == NAMING:
        return  # a current entry whose name happens to look old
    for p in (data, meta):
        p.unlink(missing_ok=True)


def copy_entry(
    copy_dir: str | os.PathLike[str], rel_path: str, product_id: str | None = None
) -> tuple[Path, Path]:
    """(data file, index file) of one video in a training copy; with ``product_id``, of that
    product's crops of it (a video several products list, as the crop cache:
    :func:`movingfashion.crop_cache.entry_product`). Named by :func:`entry_stem`."""
    stem = entry_stem(rel_path, product_id)
    root = Path(copy_dir)
    return inside(root, f"{stem}.jpgs", what="training copy file"), inside(
        root, f"{stem}.json", what="training copy file"
    )


#: Quality added at a time to a frame whose JPEG misses :data:`TOLERANCE` (up to 100).
QUALITY_STEP = 5


def _encode(img: np.ndarray, quality: int, full_chroma: bool = False) -> bytes:
    """JPEG of RGB ``img``; ``full_chroma``: no chroma subsampling (4:4:4 instead of 4:2:0)."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if full_chroma:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), params)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise OSError("JPEG encoding failed")
    return buf.tobytes()


def frame_error(img: np.ndarray, blob: bytes) -> tuple[float, float]:
    """(mean absolute error in levels, PSNR in dB) of JPEG ``blob`` decoded as the dataset
    decodes it, against the RGB ``img`` it was encoded from (PSNR inf when identical)."""
    import cv2

    dec = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR_RGB)
    diff = dec.astype(np.int16) - img.astype(np.int16)
    mae = float(np.abs(diff).mean())
    mse = float(np.square(diff, dtype=np.int32).mean())
    return mae, (float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse)))


def within(error: tuple[float, float], tolerance: dict[str, float]) -> bool:
    """Whether a frame's ``(mean absolute error, PSNR)`` meets ``tolerance``."""
    return error[0] <= tolerance["mean_abs_error"] and error[1] >= tolerance["psnr_db"]


def encode_settings(quality: int) -> list[tuple[int, bool]]:
    """The (quality, full chroma) settings :func:`encode_within` tries, in order: ``quality`` and
    one :data:`QUALITY_STEP` above it with 4:2:0 chroma, then without chroma subsampling from
    ``quality`` up to 100 (fine colour detail, e.g. a saturated print in a small crop, misses
    the tolerance at any quality with 4:2:0, and 4:4:4 at the same quality is smaller than
    4:2:0 at 100)."""
    q = int(quality)
    steps = [(q, False)] + ([(min(100, q + QUALITY_STEP), False)] if q < 100 else [])
    steps += [(v, True) for v in range(q, 100, QUALITY_STEP)] + [(100, True)]
    return list(dict.fromkeys(steps))


def encode_within(
    img: np.ndarray, quality: int, tolerance: dict[str, float] | None
) -> tuple[bytes, bool, bool]:
    """JPEG of ``img``: at ``quality``, or at the first of :func:`encode_settings` whose decoded
    frame is within ``tolerance`` (None: no check). Returns (bytes, stored above ``quality``'s
    4:2:0 setting, within the tolerance)."""
    settings = encode_settings(quality)
    for k, (q, full) in enumerate(settings):
        blob = _encode(img, q, full)
        if tolerance is None:
            return blob, False, True
        if within(frame_error(img, blob), tolerance):
            return blob, k > 0, True
    return blob, True, False


def _boxes_json(boxes: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in b] for b in boxes]


def build_training_copy(
    dataset: MovingFashionDataset,
    out_dir: str | os.PathLike[str],
    *,
    quality: int = DEFAULT_QUALITY,
    tolerance: dict[str, float] | None = TOLERANCE,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> dict[str, int]:
    """Write the training copy of every video of ``dataset`` (see the module docstring).

    Videos decode sequentially (the reader registry's choice for whole-video access), each
    frame is cropped as it arrives (full frames are never stacked), and the data file and its
    index are written atomically, the index last. Every frame is checked against ``tolerance``
    (default :data:`TOLERANCE`; None: no check) after encoding, and a frame that misses it at
    ``quality`` is encoded again with finer settings (:func:`encode_settings`), so every clip
    read from the copy is within it. A video already copied with the same parameters, quality,
    tolerance, boxes and source size, whose entry passes the checks the loader runs on it
    (:func:`index_problem`, the data file's size), is skipped; a damaged one is written again,
    and the temporary files of a killed build are removed. A video that does not decode raises
    under the dataset's ``on_bad="raise"``; under ``"skip"`` it is listed in ``dataset.skipped``
    and the others are copied (a rerun retries it). Returns counts: ``built``, ``already_copied``,
    ``failed``, ``frames_raised`` (frames stored with finer settings than ``quality``) and
    ``frames_outside_tolerance`` (still outside it at 4:4:4 and quality 100).
    """
    from schemas.atomic import atomic_open, atomic_write_json, sweep_partials
    from schemas.errors import DataFormatError, MediaError

    if not 1 <= int(quality) <= 100:
        raise ConfigError(f"JPEG quality must be 1..100, got {quality}", where="quality")
    if dataset.crop == "frame" and dataset.frame_size is None:
        raise ConfigError("a training copy of whole frames needs frame_size", where="frame_size")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sweep_partials(out)  # data files a killed build left half-written
    params = dataset.cache_params()
    counts = dict.fromkeys(
        ("built", "already_copied", "failed", "frames_raised", "frames_outside_tolerance"), 0
    )
    tol = dict(tolerance) if tolerance is not None else None
    pairs = [(rec, v) for rec in dataset.products for v in rec.videos]
    for rec, video in progress(pairs) if progress else pairs:
        product = video.product_id if video.rel_path in dataset.shared_videos else None
        data_path, index_path = copy_entry(out, video.rel_path, product)
        if product is not None:  # an older copy's one entry for a video several products list
            for stale in copy_entry(out, video.rel_path):  # (one product's crops only)
                stale.unlink(missing_ok=True)
        for p in {product, None}:  # entries named before names kept the extension
            remove_legacy(out, video.rel_path, p, (".jpgs", ".json"))
        identity = video_identity(video)  # before decoding: what the entry is cut from
        settings = {"params": params, "quality": quality, "tolerance": tol}
        if _copied(data_path, index_path, video, dataset.crop, settings):
            counts["already_copied"] += 1
            continue
        source_boxes = _source_boxes(video)
        try:
            frames, offsets, crcs, boxes, orig, raised, outside = _write_frames(
                dataset, rec, video, data_path, quality, tol, atomic_open
            )
        except (MediaError, DataFormatError) as exc:
            if dataset.on_bad == "raise":
                raise
            dataset._skip_video(rec, video, exc)
            counts["failed"] += 1
            continue
        counts["frames_raised"] += raised
        counts["frames_outside_tolerance"] += outside
        if outside:
            log.warning(
                "%s: %d frames outside the tolerance %s even at JPEG 4:4:4, quality 100",
                video.rel_path,
                outside,
                tol,
            )
        atomic_write_json(
            index_path,
            {
                "format": FORMAT,
                "version": VERSION,
                "naming": NAMING,
                "codec": "jpeg",
                "quality": int(quality),
                "tolerance": tol,
                "frames_raised": raised,
                "video": video.rel_path,
                "product": video.product_id,
                **identity,
                "params": params,
                "frames": [int(f) for f in frames],
                "offsets": offsets,
                "crc32": crcs,
                "boxes": _boxes_json(boxes),
                "source_boxes": source_boxes,
                "orig_size": [int(orig[0]), int(orig[1])],
            },
        )
        counts["built"] += 1
    return counts


def _write_frames(
    dataset: MovingFashionDataset,
    rec: Any,
    video: VideoRecord,
    data_path: Path,
    quality: int,
    tolerance: dict[str, float] | None,
    atomic_open: Callable[..., Any],
) -> tuple[list[int], list[int], list[int], np.ndarray, tuple[int, int], int, int]:
    """Decode one video and write its frames' JPEGs to ``data_path`` (atomically); returns the
    frame indices, byte offsets, CRC-32s, boxes, original size, and the frames raised above
    ``quality`` / still outside ``tolerance``."""
    dataset._check_video(rec, video)
    frames = dataset._candidates_uncached(video)
    offsets, crcs, boxes_l, orig = [0], [], [], (0, 0)
    raised = outside = 0
    reader = dataset.sequential_reader(video)
    try:
        with atomic_open(data_path, "wb") as fh:
            for start in range(0, len(frames), BUILD_CHUNK):
                chunk = frames[start : start + BUILD_CHUNK]
                clip, boxes, orig = dataset._cut(video, chunk, reader)
                for img in clip:
                    blob, above, ok = encode_within(img, quality, tolerance)
                    raised += above
                    outside += not ok
                    fh.write(blob)
                    offsets.append(offsets[-1] + len(blob))
                    crcs.append(zlib.crc32(blob))
                boxes_l.append(boxes)
    finally:
        reader.close()
    boxes = np.concatenate(boxes_l) if boxes_l else np.zeros((0, 4), np.float32)
    return frames, offsets, crcs, boxes, orig, raised, outside


def boxes_fingerprint(boxes: dict[int, list[float]]) -> str:
    """CRC-32 of a tracklet's boxes (frame -> [x1, y1, x2, y2])."""
    text = json.dumps(sorted((int(k), [float(v) for v in b]) for k, b in boxes.items()))
    return f"{zlib.crc32(text.encode()):08x}"


def _source_boxes(video: VideoRecord) -> str:
    """Fingerprint of the tracklet a copy or crop-cache entry is cut from: of its boxes as the
    dataset loaded them from the split (boxes the dataset's own checks pruned or clipped since,
    ``VideoRecord.pruned``, map back to that), so an entry stays valid in a process that has
    checked the video, and goes stale when the split's boxes change."""
    fp = boxes_fingerprint(video.boxes)
    return video.pruned.get(fp, fp)


def load_index(index_path: Path) -> dict[str, Any]:
    """A copy entry's index with its fields typed (``frames`` and ``crc32`` int lists,
    ``offsets`` an int64 array, ``orig_size`` a pair); CorruptCopy when it does not read or is
    not a version-:data:`VERSION` training copy."""
    try:
        meta = json.loads(index_path.read_text(encoding="utf-8"))
        index = {
            **meta,
            "format": meta["format"],
            "params": meta["params"],
            "frames": [int(f) for f in meta["frames"]],
            "offsets": np.asarray(meta["offsets"], np.int64),
            "crc32": [int(c) for c in meta["crc32"]],
            "boxes": list(meta["boxes"]),
            "orig_size": (int(meta["orig_size"][0]), int(meta["orig_size"][1])),
        }
    except (OSError, ValueError, KeyError, TypeError, IndexError, OverflowError, RecursionError) as exc:
        # OverflowError: int(Infinity), an offset past int64; RecursionError: JSON nested too deeply
        raise CorruptCopy(f"unreadable index {index_path.name} ({type(exc).__name__})") from None
    if index["format"] != FORMAT or index.get("version") != VERSION:
        raise CorruptCopy(f"{index_path.name} is not a version-{VERSION} training copy")
    return index


def video_identity(video: VideoRecord) -> dict[str, Any]:
    """What a copy or crop-cache entry records of the file it is cut from (``video_size``,
    ``video_sample``: :func:`schemas.atomic.sample_digest`); :func:`same_video_file` checks it."""
    return {"video_size": video.path.stat().st_size, "video_sample": sample_digest(video.path)}


def same_video_file(meta: dict[str, Any], video: VideoRecord) -> bool:
    """Whether ``video`` is the file a copy or crop-cache entry was cut from: its size and its
    :func:`schemas.atomic.sample_digest` (an entry written before that was recorded: its size
    alone, which missed a same-size replacement)."""
    if meta.get("video_size") != video.path.stat().st_size:
        return False
    return "video_sample" not in meta or meta["video_sample"] == sample_digest(video.path)


def stale_problem(meta: dict[str, Any], video: VideoRecord) -> str | None:
    """Why a copy entry's index is not about ``video`` as the split lists it now (another video,
    the video or its tracklet changed since, another product's); None when it is."""
    if meta.get("video") != video.rel_path:
        return f"the entry holds video {short_repr(meta.get('video'))}"
    if not same_video_file(meta, video):
        return "the video changed since the copy was made"
    if meta.get("source_boxes") != _source_boxes(video):
        return "the tracklet changed since the copy was made"
    if meta.get("product", video.product_id) != video.product_id:
        return f"the copy is product {short_repr(meta.get('product'))}'s"
    return None


def _is_box(box: Any) -> bool:
    return (
        isinstance(box, list)
        and len(box) == 4
        and all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in box)
    )


def frames_problem(
    frames: Sequence[int], boxes: Sequence[Any], video: VideoRecord, crop: str, *, every_frame: bool
) -> str | None:
    """Why the frame indices and boxes a training-copy index or crop-cache entry lists cannot be
    ``video``'s (a damaged file that still parses): indices not increasing, a frame without a
    tracklet box (``crop="tracklet"``), not 0, 1, 2, ... (``crop="frame"`` with
    ``every_frame``: each frame stored), or boxes that are not 4 values per frame; None when
    they can be."""
    if any(b <= a for a, b in zip(frames, frames[1:], strict=False)) or (frames and frames[0] < 0):
        return "frame indices do not increase"
    if frames and frames[-1] >= MAX_FRAMES:  # no video has it; the loader's int32 arrays cannot hold it
        return f"frame index {frames[-1]} is past any video's"
    if crop == "tracklet":
        stray = next((f for f in frames if f not in video.boxes), None)
        if stray is not None:
            return f"frame {stray} is listed, but has no tracklet box"
    elif every_frame and list(frames) != list(range(len(frames))):
        return "frame indices are not 0, 1, 2, ..."
    if len(boxes) != len(frames) or not all(_is_box(b) for b in boxes):
        return "boxes are not 4 numbers per frame"
    return None


def index_problem(index: dict[str, Any], video: VideoRecord, crop: str) -> str | None:
    """Why a loaded index (:func:`load_index`) cannot describe ``video``'s copy: lists of
    different lengths, byte offsets that do not increase from 0, or frames and boxes
    :func:`frames_problem` refuses; None when it can (the data file's size is checked apart)."""
    frames, offsets = index["frames"], index["offsets"]
    if not (offsets.ndim == 1 and len(offsets) == len(frames) + 1 == len(index["crc32"]) + 1):
        return "frames, offsets, CRCs and boxes disagree"
    if offsets[0] != 0 or np.any(np.diff(offsets) <= 0):
        return "byte offsets do not increase from 0"
    return frames_problem(frames, index["boxes"], video, crop, every_frame=True)


def _copied(
    data_path: Path, index_path: Path, video: VideoRecord, crop: str, settings: dict[str, Any]
) -> bool:
    """Whether a copy entry already holds ``video`` cut with ``settings`` (index fields: params,
    quality, tolerance) and passes the checks the loader runs before it reads one (a damaged
    entry, even one whose index still reads, is written again)."""
    if not (data_path.is_file() and index_path.is_file()):
        return False
    try:
        index = load_index(index_path)
    except CorruptCopy:
        return False
    return (
        all(index.get(k) == v for k, v in settings.items())
        and "video_sample" in index  # an older toolkit's entry: written again, with the file's digest
        and stale_problem(index, video) is None
        and index_problem(index, video, crop) is None
        and data_path.stat().st_size == int(index["offsets"][-1])
    )


@dataclass
class CopyEntry:
    """One video's copy: its index and an open data file (read with ``pread``, fork-safe)."""

    data_path: Path
    frames: list[int]
    offsets: np.ndarray
    crcs: list[int]
    boxes: list[list[float | None]]
    orig_size: tuple[int, int]
    fd: int

    def rows(self) -> dict[int, int]:
        return {f: i for i, f in enumerate(self.frames)}

    def read(self, rows: Sequence[int]) -> np.ndarray:
        """uint8 RGB ``[len(rows), H, W, 3]`` of the stored frames ``rows``; CorruptCopy when bad."""
        import cv2

        out: np.ndarray | None = None
        for k, r in enumerate(rows):
            a, b = int(self.offsets[r]), int(self.offsets[r + 1])
            try:
                blob = os.pread(self.fd, b - a, a)
            except (OSError, ValueError) as exc:  # offsets the index check let through, an I/O error
                raise CorruptCopy(f"frame {self.frames[r]}: unreadable ({exc})") from None
            if len(blob) != b - a or zlib.crc32(blob) != self.crcs[r]:
                raise CorruptCopy(f"frame {self.frames[r]}: stored bytes do not match their CRC-32")
            img = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR_RGB)
            if img is None:
                raise CorruptCopy(f"frame {self.frames[r]}: not a decodable JPEG")
            if out is None:
                out = np.empty((len(rows), *img.shape), np.uint8)
            out[k] = img
        return out if out is not None else np.zeros((0, 0, 0, 3), np.uint8)


class TrainingCopy:
    """A training-copy folder as the dataset reads it: entries opened on first use, per process.

    :meth:`entry` returns the copy of a video, or None (with one warning naming the file)
    when it is missing, stale or corrupt; :meth:`drop` takes a video off after a read failed.
    """

    def __init__(self, root: str | os.PathLike[str], params: dict[str, Any]) -> None:
        self.root = Path(root)
        self.params = params
        self._pid = os.getpid()
        self._open: OrderedDict[str, CopyEntry] = OrderedDict()
        self._bad: set[str] = set()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # workers reopen files themselves
        return {"root": self.root, "params": self.params, "bad": self._bad}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"], state["params"])
        self._bad = set(state["bad"])

    def _forked(self) -> None:
        if os.getpid() != self._pid:  # never share file descriptors' owners across processes
            self._open = OrderedDict()
            self._pid = os.getpid()

    @staticmethod
    def _key(rel_path: str, product_id: str | None) -> str:
        return rel_path if product_id is None else f"{rel_path}@{product_id}"

    def unbuilt(self, videos: Iterable[tuple[VideoRecord, str | None]]) -> list[VideoRecord]:
        """The videos of ``videos`` (each with the product its entry is named after) the copy has
        no entry for, not even one named the old way: each is then decoded live without a
        warning of its own (the caller counts them in one)."""
        out = []
        for video, product_id in videos:
            index = copy_entry(self.root, video.rel_path, product_id)[1]
            legacy = legacy_entry(self.root, video.rel_path, product_id, ".json")
            if not index.is_file() and legacy is None:
                self._bad.add(self._key(video.rel_path, product_id))
                out.append(video)
        return out

    def warn(self, rel_path: str, problem: str, product_id: str | None = None) -> None:
        """One warning per entry: the copy is not used, the video decodes live."""
        key = self._key(rel_path, product_id)
        if key not in self._bad:
            self._bad.add(key)
            where = copy_entry(self.root, rel_path, product_id)[0]
            log.warning("%s: training copy not used (%s); decoding the video live", where, problem)

    def drop(self, rel_path: str, problem: str, product_id: str | None = None) -> None:
        key = self._key(rel_path, product_id)
        with self._lock:
            e = self._open.pop(key, None)
        if e is not None:
            os.close(e.fd)
        self.warn(rel_path, problem, product_id)

    def entry(self, video: VideoRecord, product_id: str | None = None) -> CopyEntry | None:
        """The copy of ``video`` when it is usable, else None (one warning per entry);
        ``product_id``: the product whose entry it is, for a video several products list."""
        key = self._key(video.rel_path, product_id)
        with self._lock:
            self._forked()
            e = self._open.get(key)
            if e is not None:
                self._open.move_to_end(key)
                return e
        if key in self._bad:
            return None
        try:
            e = self._load(video, product_id)
        except CorruptCopy as exc:
            self.warn(video.rel_path, str(exc), product_id)
            return None
        if e is None:
            return None
        with self._lock:
            self._open[key] = e
            while len(self._open) > OPEN_FILES:
                os.close(self._open.popitem(last=False)[1].fd)
        return e

    def check(self, videos: Iterable[tuple[VideoRecord, str | None]]) -> None:
        """Check the entry of every video of ``videos`` (each with the product its entry is named
        after) as :meth:`entry` would on first use (index, staleness, data file size), without
        opening it: each one not used is named in one warning now, in the process that makes the
        dataset, and DataLoader workers get the set with the dataset (they warn only about what
        reading finds, a CRC mismatch). A copy cut with other parameters is left to the first
        load (a ConfigError there)."""
        for video, product_id in videos:
            if self._key(video.rel_path, product_id) in self._bad:
                continue
            try:
                found = self._index(video, product_id)
                if found is not None:
                    data_path, index = found
                    self._size_problem(data_path.stat().st_size, index)
            except CorruptCopy as exc:
                self.warn(video.rel_path, str(exc), product_id)
            except ConfigError:
                continue
            except OSError as exc:  # the data file is not there (or cannot be read)
                self.warn(video.rel_path, f"data file missing ({exc.strerror})", product_id)

    @staticmethod
    def _size_problem(held: int, index: dict[str, Any]) -> None:
        """CorruptCopy when a data file of ``held`` bytes is not the one ``index`` describes."""
        want = int(index["offsets"][-1])
        if held != want:
            raise CorruptCopy(f"data file holds {held} bytes, its index says {want}")

    def _index(self, video: VideoRecord, product_id: str | None) -> tuple[Path, dict[str, Any]] | None:
        """(data file, checked index) of ``video``'s entry; None (one warning) when it is not in
        the copy or stale; CorruptCopy when its index is damaged; ConfigError when it was cut with
        other parameters."""
        data_path, index_path = copy_entry(self.root, video.rel_path, product_id)
        if not index_path.is_file():
            legacy = legacy_entry(self.root, video.rel_path, product_id, ".json")
            problem = "not in the copy"
            if legacy is not None:
                problem += (
                    f"; {legacy.name} is its entry named the old way, no longer read: "
                    "run mf training-copy again to rebuild it"
                )
            self.warn(video.rel_path, problem, product_id)
            return None
        index = load_index(index_path)
        if index["params"] != self.params:
            raise ConfigError(
                f"training copy cut with {index['params']}, the dataset wants {self.params}",
                where=str(index_path),
                hint="open the dataset with the settings the copy was cut with, or cut one for these into a "
                "new folder: mf training-copy --out NEW_FOLDER with the dataset's --crop, "
                "--crop-size/--frame-size and --context",
            )
        stale = stale_problem(index, video)
        if stale is not None:
            self.warn(video.rel_path, stale, product_id)
            return None
        problem = index_problem(index, video, self.params["crop"])
        if problem is not None:
            raise CorruptCopy(f"{index_path.name}: {problem}")
        return data_path, index

    def _load(self, video: VideoRecord, product_id: str | None = None) -> CopyEntry | None:
        found = self._index(video, product_id)
        if found is None:
            return None
        data_path, index = found
        try:
            fd = os.open(data_path, os.O_RDONLY)
        except OSError as exc:
            raise CorruptCopy(f"data file missing ({exc.strerror})") from None
        try:
            self._size_problem(os.fstat(fd).st_size, index)
        except CorruptCopy:
            os.close(fd)
            raise
        return CopyEntry(
            data_path,
            index["frames"],
            index["offsets"],
            index["crc32"],
            index["boxes"],
            index["orig_size"],
            fd,
        )
