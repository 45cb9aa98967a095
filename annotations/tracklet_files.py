"""The tracklet files of a dataset: ``tracklets/<video stem>.json``, one richer
:class:`~schemas.dataset.VideoTracklets` per video (every tracklet, scores, classes, models), and
the ground-truth tracklet of each video in ``train.json``/``test.json``.

A video several products list (over all split files: one social video showing two garments that
are each a product) gets one file per product, ``tracklets/<video stem>@<product id>.json``: each
product's ground truth follows its own garment. :func:`tracklet_file` is the stages' door to
that rule (its one home, shared with the dataset loader, is :mod:`schemas.tracklet_names`); a file
``<video stem>.json`` left for such a video by an older build belongs to no product here (readers
do not use it, the builder builds both products' files and removes it), nor does a file
``<video stem>@<product>.json`` of a video only that product lists now (readers take
``<video stem>.json``; the builder renames the leftover to it).

Light on imports (no torch, no OpenCV): reading results is what ``mf-tracklets qa/sheets/review``,
the review server and the exporters do, and they start fast.

Writers hold :func:`dataset_lock` (``DATASET/.lock``, an exclusive ``flock``) around each
read-modify-write of these files: :func:`set_official_tracklet` and :func:`write_video_tracklets`
take it themselves; a caller that reads a tracklet file, changes it and writes it back (a review
pick, ``mf-tracklets import``) holds it from the read to the manifest refresh. It is re-entrant,
so such a caller may call the writers here while holding it. Readers need no lock: every file is
replaced atomically.

Beside each tracklet file the builder keeps its *build record*, ``tracklets/.build/<same
name>.json`` (hidden: no manifest, table or archive lists it): the build settings that change
the file and the identity of its inputs (the video's and the shop image's size, mtime and
SHA-256, the product's class), and a digest of the ground truth it chose. A rerun rebuilds a
video whose record no longer matches (:meth:`annotations.builder.TrackletBuilder.redo_reason`);
the flag settling leaves alone a video whose ground truth a person changed since
(:mod:`annotations.settle`). A tracklet file without a record (an older build) counts as done.

Every video of the split files needs a tracklet file name of its own (:func:`check_tracklet_names`:
two videos with the same file stem in different folders would share one); :func:`load_splits`
and :func:`tracklet_file` (through :func:`dataset_shared_videos`) refuse a dataset where two
would.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from movingfashion.archive.at_rest import DATASET_LOCK
from movingfashion.archive.verify import TRACKLET_BUILD_DIR, TRACKLET_SHEET_DIR
from schemas.atomic import atomic_write_text, file_lock
from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError, validation_text
from schemas.official import (
    HELD_OUT_HINT,
    SPLIT_FILES,
    BadVideo,
    BrokenEntry,
    OfficialEntry,
    OfficialHead,
    OfficialSplit,
    OnBad,
    broken_entry_videos,
    check_on_bad,
    read_official,
    read_official_entry,
    read_official_heads,
    read_official_heads_rows,
    read_official_on_bad,
    split_entries_apart,
    split_files,
    split_identity,
    write_official_entries,
)
from schemas.paths import plain_folder
from schemas.text_input import decode_utf8, read_file_bytes
from schemas.tracklet_names import (
    TRACKLET_NAME_HINT,
    is_tracklet_stem,
    product_key,
    tracklet_name_clashes,
    tracklet_stem,
    video_stem,
)
from schemas.tracklet_names import shared_videos as _shared_videos

__all__ = [
    "BUILD_DIR",
    "HELD_OUT_HINT",
    "LOCK_FILE",
    "SPLIT_FILES",
    "TRACKLET_DIR",
    "OnBad",
    "SplitRows",
    "build_record_file",
    "check_on_bad",
    "check_tracklet_names",
    "dataset_lock",
    "dataset_shared_videos",
    "ground_truth_digest",
    "held_out_rows",
    "load_results",
    "load_split_heads",
    "load_split_heads_on_bad",
    "load_split_heads_rows",
    "load_splits",
    "load_splits_rows",
    "read_build_record",
    "read_video_tracklets",
    "require_results",
    "set_official_tracklet",
    "set_official_tracklets",
    "shared_videos",
    "tracklet_file",
    "write_build_record",
    "write_video_tracklets",
]

TRACKLET_DIR = "tracklets"
#: the dataset's lock file (hidden: no manifest, table or archive lists it; ``mf verify`` looks at it)
LOCK_FILE = DATASET_LOCK
#: the build records' folder inside ``tracklets/`` (hidden, as the lock)
BUILD_DIR = TRACKLET_BUILD_DIR


@contextmanager
def dataset_lock(dataset: str | os.PathLike[str], *, timeout_s: float | None = None) -> Iterator[None]:
    """Hold the dataset's write lock (``DATASET/.lock``) for the ``with`` block: other writers of
    its tracklet and split files, in this process or another, wait until it ends. Re-entrant
    (see :func:`schemas.atomic.file_lock`). A wait says so once on stderr and gives up after
    ``timeout_s`` (default ``$MF_LOCK_WAIT_S`` or 180 s) with
    :class:`~schemas.atomic.LockBusy` (exit 2) naming the lock file and its holder."""
    who = "another mf publish / mf-tracklets build / mf review writes this dataset"
    with file_lock(Path(dataset) / LOCK_FILE, timeout_s=timeout_s, who=who):
        yield


def load_splits(dataset: str | os.PathLike[str]) -> dict[str, OfficialSplit]:
    """The official split files present in a dataset folder (at least one), by file name; a
    dataset where two videos would share a tracklet file is refused (:func:`check_tracklet_names`)."""
    splits = {p.name: read_official(p) for p in split_files(dataset)}
    check_tracklet_names(dataset, splits)
    return splits


class SplitRows(NamedTuple):
    """The split files read product by product (:func:`load_splits_rows`)."""

    #: the valid products, by split file name
    splits: dict[str, OfficialSplit]
    #: what is wrong with each product held out: one or more per product (each naming the file,
    #: the product and, when known, the video and frame key)
    held_out: list[BadVideo]
    #: ``(video, product id)`` of every video a held-out product's entry lists (when it lists them)
    held_videos: frozenset[tuple[str, str]]


def load_splits_rows(dataset: str | os.PathLike[str], on_bad: OnBad = "skip") -> SplitRows:
    """:func:`load_splits` that goes on past a product whose entry the reader refuses (a bad box, a
    missing or malformed field, a malformed number or a frame key twice in its tracklet:
    :func:`schemas.official.read_official_on_bad`, as ``MovingFashionDataset(on_bad="skip")``
    reads them): the valid products, and the others held out, each named (:class:`SplitRows`).
    ``on_bad="raise"``: :func:`load_splits` (the first bad row refuses the dataset, naming it).
    A file that does not read at all (not JSON, a product id twice) is refused either way."""
    check_on_bad(on_bad)
    if on_bad == "raise":
        return SplitRows(load_splits(dataset), [], frozenset())
    splits: dict[str, OfficialSplit] = {}
    held: list[BadVideo] = []
    videos: set[tuple[str, str]] = set()
    for p in split_files(dataset):
        splits[p.name], found = read_official_on_bad(p, on_bad)
        if found:
            held += found
            videos |= _listed_videos(p, {b.product_id for b in found}, read_official_heads_rows(p)[0])
    check_tracklet_names(dataset, splits)
    return SplitRows(splits, held, frozenset(videos))


def _listed_videos(p: Path, pids: set[str], heads: Mapping[str, OfficialHead]) -> set[tuple[str, str]]:
    """``(video, product id)`` of each video the entries of ``pids`` in split file ``p`` list: from
    their ``heads``, else from the file's JSON, read entry by entry when it does not decode whole
    (:func:`~schemas.official.split_entries_apart`: an entry with a malformed number outside its
    tracklets still lists the videos of its ``video_paths``); an entry whose ``video_paths`` is
    no list of strings lists none."""
    out = {(vp, pid) for pid in pids if pid in heads for vp in heads[pid].video_paths}
    rest = pids - heads.keys()
    if rest:
        try:
            text = decode_utf8(p.read_bytes(), str(p))
        except (OSError, DataFormatError):
            return out
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = split_entries_apart(text, str(p))
        for pid in rest:
            entry = data.get(pid) if isinstance(data, dict) else None
            if isinstance(entry, BrokenEntry):
                out.update((vp, pid) for vp in broken_entry_videos(text, entry, pid, str(p)))
                continue
            listed = entry.get("video_paths") if isinstance(entry, dict) else None
            if isinstance(listed, list):
                out.update((vp, pid) for vp in listed if isinstance(vp, str))
    return out


def held_out_rows(held: Iterable[BadVideo]) -> list[dict[str, str | None]]:
    """The products held out as the summaries list them (``--json``: ``held_out``): the split
    file, product, video and frame key (when known), and the error line with what to do."""
    return [
        {
            "file": b.path,
            "product_id": b.product_id,
            "video": b.video,
            "frame_key": b.frame_key,
            "error": b.line(),
        }
        for b in held
    ]


def load_split_heads(dataset: str | os.PathLike[str]) -> dict[str, dict[str, OfficialHead]]:
    """:func:`load_splits` without the boxes (:func:`schemas.official.read_official_heads`): each
    product's paths, source and which tracklets hold boxes, checked as :func:`load_splits` does."""
    heads = {p.name: read_official_heads(p) for p in split_files(dataset)}
    check_tracklet_names(dataset, heads)
    return heads


def load_split_heads_rows(
    dataset: str | os.PathLike[str],
) -> tuple[dict[str, dict[str, OfficialHead]], list[BadVideo]]:
    """:func:`load_split_heads` that goes on past a video whose split-file tracklet holds a bad
    box (:func:`schemas.official.read_official_heads_rows`): the heads, and those videos (each
    naming its file, product, video and frame key) for the caller to hold out."""
    heads: dict[str, dict[str, OfficialHead]] = {}
    bad: list[BadVideo] = []
    for p in split_files(dataset):
        heads[p.name], found = read_official_heads_rows(p)
        bad += found
    check_tracklet_names(dataset, heads)
    return heads, bad


def load_split_heads_on_bad(
    dataset: str | os.PathLike[str], on_bad: OnBad = "skip"
) -> tuple[dict[str, dict[str, OfficialHead]], list[BadVideo]]:
    """:func:`load_split_heads` under the ``on_bad`` policy (:data:`~schemas.official.OnBad`):
    ``"skip"`` leaves out the heads of each product whose entry the reader refuses (a bad box, a
    malformed number, a frame key twice, a missing field: the product as a whole, as
    :func:`load_splits_rows` holds it out of a build) and lists each problem (:class:`BadVideo`);
    ``"raise"``: :func:`load_split_heads`, the first such product refusing the dataset, named."""
    check_on_bad(on_bad)
    if on_bad == "raise":
        return load_split_heads(dataset), []
    heads, bad = load_split_heads_rows(dataset)
    held = {(Path(b.path).name, b.product_id) for b in bad}
    kept = {
        name: {pid: h for pid, h in split.items() if (name, pid) not in held} for name, split in heads.items()
    }
    return kept, bad


def check_tracklet_names(
    dataset: str | os.PathLike[str], splits: Mapping[str, Mapping[str, OfficialEntry | OfficialHead]]
) -> None:
    """Refuse, naming both videos, split files where two different videos would share a tracklet
    file: the file is named after the video's stem only (``videos/a/clip.mp4`` and
    ``videos/b/clip.mp4``, or ``clip.mp4`` and ``clip.webm``, are both ``clip.json``), plus
    ``@<product>`` for a video several products list (``x@P1.mp4`` against ``x.mp4`` listed by
    ``P1``). One would overwrite the other's tracklets and hand its ground truth to the wrong
    product. ``mf publish`` names every video after its product, so only hand-made folders hit it."""
    rows = [
        (vp, pid, name) for name, split in splits.items() for pid, e in split.items() for vp in e.video_paths
    ]
    clashes = tracklet_name_clashes(rows)
    if clashes:
        key, (first_vp, first_pid, first_split), (vp, pid, name) = clashes[0]
        raise DataFormatError(
            f"videos {first_vp!r} (product {first_pid} in {first_split}) and {vp!r} (product "
            f"{pid} in {name}) would share one tracklet file, {TRACKLET_DIR}/{key}.json",
            where=str(Path(dataset) / name),
            hint=TRACKLET_NAME_HINT,
        )


def shared_videos(splits: Mapping[str, Mapping[str, OfficialEntry | OfficialHead]]) -> frozenset[str]:
    """The video paths several products list, over all the split files given
    (:func:`schemas.tracklet_names.shared_videos`)."""
    return _shared_videos((pid, e.video_paths) for split in splits.values() for pid, e in split.items())


def dataset_shared_videos(dataset: str | os.PathLike[str]) -> frozenset[str]:
    """:func:`shared_videos` of the split files present in ``dataset`` (none: no video); a row
    that does not read is left out (a reader of another product's file is not stopped by it).
    Read once per version of the split files (their size and mtime), however many files ask; a
    rewrite that changes only tracklets (:func:`set_official_tracklet`, a review pick) keeps it."""
    key = str(Path(dataset).resolve())
    stamp = _split_stamp(dataset)
    held = _SHARED.get(key)
    if held is not None and held[0] == stamp:
        return held[1]
    # the video lists alone (no boxes parsed; a product with a bad box still lists its videos)
    splits = {name: read_official_heads_rows(Path(dataset) / name)[0] for name, _, _ in stamp}
    check_tracklet_names(dataset, splits)
    shared = shared_videos(splits)
    _SHARED[key] = (stamp, shared)
    return shared


#: dataset folder -> (the split files' stamp, its shared videos)
_SHARED: dict[str, tuple[tuple[tuple[str, int, int], ...], frozenset[str]]] = {}


def _split_stamp(dataset: str | os.PathLike[str]) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of each split file present: what :func:`dataset_shared_videos` read."""
    return tuple(
        (p.name, st.st_size, st.st_mtime_ns) for p in split_files_present(dataset) for st in [p.stat()]
    )


def _carry_shared(dataset: str | os.PathLike[str], before: tuple[tuple[str, int, int], ...]) -> None:
    """After a rewrite of the split files that changed no video list: what was read for ``before``
    holds for the new stamp too."""
    key = str(Path(dataset).resolve())
    held = _SHARED.get(key)
    if held is not None and held[0] == before:
        _SHARED[key] = (_split_stamp(dataset), held[1])


def split_files_present(dataset: str | os.PathLike[str]) -> list[Path]:
    """The split files of ``dataset`` that exist (possibly none)."""
    return [Path(dataset) / n for n in SPLIT_FILES if (Path(dataset) / n).is_file()]


def tracklet_folders(dataset: str | os.PathLike[str]) -> Path:
    """``DATASET/tracklets``, where tracklet files, their build records and contact sheets are
    written and removed: refused (:class:`~schemas.paths.PathEscapeError`) when it, ``sheets/`` or
    ``.build/`` in it is a symbolic link or not a folder, so no write lands outside the dataset."""
    for rel in (TRACKLET_DIR, f"{TRACKLET_DIR}/{TRACKLET_SHEET_DIR}", f"{TRACKLET_DIR}/{BUILD_DIR}"):
        plain_folder(
            dataset,
            rel,
            what="tracklet folder",
            hint=f"replace {Path(dataset) / rel} by a plain folder (tracklet files are written there)",
        )
    return Path(dataset) / TRACKLET_DIR


def tracklet_file(
    dataset: str | os.PathLike[str],
    video_path: str,
    product_id: str | None = None,
    *,
    shared: bool | None = None,
) -> Path:
    """``DATASET/tracklets/<video stem>.json``; for a video several products list (``shared``,
    read from the dataset's split files when None and ``product_id`` is given),
    ``DATASET/tracklets/<video stem>@<product_id>.json``, the file of that product's tracklets of
    it. Without ``product_id`` the file of a video one product lists (the name of every file
    before videos were shared). The rule: :func:`schemas.tracklet_names.tracklet_stem`."""
    if shared is None:
        shared = product_id is not None and video_path in dataset_shared_videos(dataset)
    return Path(dataset) / TRACKLET_DIR / f"{tracklet_stem(video_path, product_id, shared=shared)}.json"


def read_video_tracklets(
    path: str | os.PathLike[str], *, video: str | None = None, product_id: str | None = None
) -> VideoTracklets:
    """Read a richer tracklet file (clear error naming the file and the field).

    The file must belong to the video it names: its ``video`` (and every tracklet's) is the video
    whose :func:`tracklet_file` it is, so a file cannot make a writer overwrite another video's
    tracklets. ``video``/``product_id``, when given (the split files' video path and product),
    must be what the file says too.
    """
    p = Path(path)
    try:
        vt = VideoTracklets.model_validate_json(read_file_bytes(p, what="tracklet file"))
    except FileNotFoundError:
        raise DataFormatError(
            "tracklet file not found", where=str(p), hint="run mf-tracklets build"
        ) from None
    except ValidationError as exc:
        message = field_error(exc)
        hint = "delete it and rerun mf-tracklets build"
        if "lone surrogate" in message:
            hint = f"rename the video (or the product) with a UTF-8 name in the split files, then {hint}"
        raise DataFormatError(message, where=str(p), hint=hint) from None
    except OSError as exc:
        raise DataFormatError(
            f"unreadable tracklet file ({exc.strerror or exc})", where=str(p), hint="check the file"
        ) from None
    _check_owner(p, vt, video, product_id)
    return vt


def field_error(exc: ValidationError) -> str:
    """The first error of a validation as ``field 'a.b': msg`` (a dict key's error as ``field
    'tracklets.0.boxes': key '-3': msg``; one of the whole file, its JSON, as ``msg``)."""
    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"]]
    if loc and loc[-1] == "[key]":
        return f"field '{'.'.join(loc[:-2])}': key {loc[-2]!r}: {validation_text(err)}"
    if not loc:
        return _surrogate_or(validation_text(err))
    return f"field '{'.'.join(loc)}': {validation_text(err)}"


def _surrogate_or(message: str) -> str:
    """``message``, said plainly when it is about a lone UTF-16 surrogate (``\\udcff``: a file
    name that is not UTF-8, half an emoji), which tracklet files (strict UTF-8 JSON) cannot hold."""
    if "surrogate" not in message:
        return message
    return f"a product id or video path holds a lone surrogate (a name that is not UTF-8 text) ({message})"


def _check_owner(p: Path, vt: VideoTracklets, video: str | None, product_id: str | None) -> None:
    """Refuse a tracklet file whose ``video``/``product_id`` is not the video (and, for a file
    ``<video stem>@<product>.json``, the product) it is the file of."""
    hint = "restore the file, or delete it and rerun mf-tracklets build"
    problem = file_owner_problem(p.name, vt)
    if problem is not None:
        raise DataFormatError(problem, where=str(p), hint=hint)
    if video is not None and vt.video != video:
        raise DataFormatError(
            f"field 'video': {vt.video!r}, but the split files list the video as {video!r}",
            where=str(p),
            hint=hint,
        )
    if product_id is not None and vt.product_id != product_id:
        raise DataFormatError(
            f"field 'product_id': {vt.product_id!r}, but the split files list {vt.video!r} "
            f"under product {product_id!r}",
            where=str(p),
            hint=hint,
        )
    for i, t in enumerate(vt.tracklets):
        if t.video != vt.video:
            raise DataFormatError(
                f"field 'tracklets.{i}.video': {t.video!r}, not the file's video {vt.video!r}",
                where=str(p),
                hint=hint,
            )


def file_owner_problem(name: str, vt: VideoTracklets) -> str | None:
    """Why a tracklet file called ``name`` cannot hold ``vt`` (None when it can): its stem is the
    video's stem, or ``<video stem>@<vt.product_id>``."""
    stem = video_stem(vt.video)
    if is_tracklet_stem(Path(name).stem, vt.video, vt.product_id):
        return None
    if is_tracklet_stem(Path(name).stem, vt.video):  # another product's file of the video
        return (
            f"field 'product_id': {vt.product_id!r} is not this file's product (its file would be "
            f"{TRACKLET_DIR}/{product_key(stem, vt.product_id)}.json)"
        )
    return (
        f"field 'video': {vt.video!r} is not this file's video (its file would be {TRACKLET_DIR}/{stem}.json)"
    )


def load_results(dataset: str | os.PathLike[str]) -> list[VideoTracklets]:
    """Every tracklet file of a dataset, in file name order."""
    return [read_video_tracklets(p) for p in sorted((Path(dataset) / TRACKLET_DIR).glob("*.json"))]


def require_results(dataset: str | os.PathLike[str]) -> list[VideoTracklets]:
    """:func:`load_results`, or a :class:`DataFormatError` naming the folder when there is none yet."""
    results = load_results(dataset)
    if not results:
        raise DataFormatError(
            "no tracklet files", where=str(Path(dataset) / TRACKLET_DIR), hint="run mf-tracklets build first"
        )
    return results


def write_video_tracklets(
    dataset: str | os.PathLike[str], vt: VideoTracklets, *, shared: bool | None = None
) -> Path:
    """Write ``vt``'s :func:`tracklet_file` (``shared``: whether several products list its video,
    None: read from the split files) atomically (the builder's formatting), under
    :func:`dataset_lock`.

    What is written is validated first (a caller may have changed ``vt`` after it was built: a
    box put on frame -3), so no file is written that :func:`read_video_tracklets` would refuse;
    a :class:`DataFormatError` names the file and the field instead.
    """
    p = tracklet_file(dataset, vt.video, vt.product_id, shared=shared)
    try:
        text = vt.model_dump_json(indent=1) + "\n"
    except PydanticSerializationError as exc:  # a lone surrogate: a name that is not UTF-8 text
        raise DataFormatError(
            f"cannot write the tracklet file of product {vt.product_id!r}, video {vt.video!r}: "
            f"{_surrogate_or(str(exc))}; nothing written",
            where=str(p),
            hint="rename the video (or the product) with a UTF-8 name in the split files and rerun",
        ) from None
    try:
        VideoTracklets.model_validate_json(text)
    except ValidationError as exc:
        raise DataFormatError(
            f"{field_error(exc)}; nothing written", where=str(p), hint="fix the tracklets before writing them"
        ) from None
    with dataset_lock(dataset):
        tracklet_folders(dataset)
        atomic_write_text(p, text)
    return p


def build_record_file(tracklet_path: str | os.PathLike[str]) -> Path:
    """The build record of a tracklet file: ``tracklets/.build/<its name>``."""
    p = Path(tracklet_path)
    return p.parent / BUILD_DIR / p.name


def read_build_record(tracklet_path: str | os.PathLike[str]) -> dict | None:
    """The build record of a tracklet file; None when it has none (written by an older build, or
    copied without it); ``{}`` when it does not read (it matches no build: the video is redone)."""
    p = build_record_file(tracklet_path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def write_build_record(tracklet_path: str | os.PathLike[str], record: dict) -> None:
    """Write a tracklet file's build record atomically. The builder writes it twice: marked
    ``"pending"`` before the tracklet file, final after it, so a run killed in between leaves a
    pending record, and the rerun builds the video again."""
    tracklet_folders(Path(tracklet_path).parent.parent)
    atomic_write_text(build_record_file(tracklet_path), json.dumps(record, indent=1, sort_keys=True) + "\n")


def ground_truth_digest(vt: VideoTracklets) -> str | None:
    """A hash of the video's ground-truth tracklet (None: none): a review pick or an import that
    changes the ground truth changes it; a flag re-decided does not."""
    gt = vt.ground_truth_tracklet()
    return None if gt is None else tracklet_digest(gt.model_dump(mode="json"))


def tracklet_digest(data: Any) -> str:
    """The digest of a tracklet given as the JSON it is written as (:func:`ground_truth_digest`
    of a file read without validating it gives the same when ``data`` is the builder's dump)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]


#: In a folder this toolkit did not describe (the real archive as downloaded), which split-file
#: tracklets ``mf-tracklets build`` wrote from the detector's choice: split file -> product ->
#: video index -> digests (:func:`split_tracklet_digest`) of what it wrote there. A split-file
#: tracklet named here is the detector's, never the archive's own ground truth, even once the
#: tracklet files are gone (:func:`annotations.builder.split_ground_truths`); any other (the
#: authors', a person's edit of the split file, a review pick or an import) is not named.
SPLIT_ORIGIN = ".split-tracklets-origin.json"

#: what the file says of itself
_ORIGIN_ABOUT = (
    "split-file tracklets mf-tracklets build wrote from the detector's choice (not the archive's"
    " own ground truth): split file -> product -> video index -> digests of the tracklet written"
)

SplitOrigin = dict[str, dict[str, dict[str, list[str]]]]


def split_tracklet_digest(trk: Mapping[str, Any]) -> str:
    """A digest of a split-file tracklet (frame key -> box) that does not depend on key order or
    on how a number is written (``12`` and ``12.0`` are the same box)."""
    import numpy as np

    if not trk:
        return hashlib.sha256(b"").hexdigest()[:20]
    frames = np.fromiter(map(int, trk), np.int64, count=len(trk))
    boxes = np.fromiter(chain.from_iterable(trk.values()), np.float64).reshape(len(trk), -1)
    order = np.argsort(frames, kind="stable")
    digest = hashlib.sha256(frames[order].tobytes())
    digest.update(boxes[order].tobytes())
    return digest.hexdigest()[:20]


def read_split_origin(dataset: str | os.PathLike[str]) -> SplitOrigin:
    """The folder's :data:`SPLIT_ORIGIN` record (empty when there is none); a record that does not
    read is refused, naming it: without it a detector's choice would pass for the archive's."""
    p = Path(dataset) / SPLIT_ORIGIN
    if not p.is_file():
        return {}
    try:
        data = json.loads(read_file_bytes(p, what="split tracklet origin"))
        detector = data["detector"]
        if not all(
            isinstance(d, list) and all(isinstance(x, str) for x in d)
            for pids in detector.values()
            for slots in pids.values()
            for d in slots.values()
        ):
            raise TypeError("a digest list holds something else")
        return detector
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DataFormatError(
            f"not a record of which split-file tracklets a build wrote ({exc})",
            where=str(p),
            hint="restore it; delete it only if no tracklet in train.json/test.json came from an earlier"
            " mf-tracklets build (each is then kept as the archive's own ground truth)",
        ) from None


def write_split_origin(dataset: str | os.PathLike[str], origin: SplitOrigin) -> None:
    """Write the :data:`SPLIT_ORIGIN` record atomically (sorted, so equal records are equal files)."""
    from schemas.atomic import atomic_write_json

    atomic_write_json(
        Path(dataset) / SPLIT_ORIGIN, {"about": _ORIGIN_ABOUT, "detector": origin}, sort_keys=True
    )


def detector_wrote(
    origin: SplitOrigin, split_name: str, product_id: str, index: int, trk: Mapping[str, Any]
) -> bool:
    """Whether the split-file tracklet ``trk`` (video ``index`` of ``product_id`` in ``split_name``)
    is one a build wrote from the detector's choice (:data:`SPLIT_ORIGIN`)."""
    wrote = origin.get(split_name, {}).get(product_id, {}).get(str(index))
    return bool(wrote) and split_tracklet_digest(trk) in wrote


def set_official_tracklet(dataset: str | os.PathLike[str], vt: VideoTracklets) -> str | None:
    """Put ``vt``'s ground-truth tracklet (``{}`` when none) into the split file listing its video.

    Only that entry changes (the entry of ``vt.product_id``: another product listing the same
    video keeps its own tracklet); extra keys are kept. The split file is read and written under
    :func:`dataset_lock`, so a concurrent writer's change to another entry is kept. Returns the
    split file rewritten (None when no split lists the video or the entry already holds that
    tracklet).
    """
    written = set_official_tracklets(dataset, [vt])
    return written[0] if written else None


def check_split_writable(dataset: str | os.PathLike[str], pairs: Iterable[tuple[str, str]]) -> None:
    """Refuse (:class:`DataFormatError`) a write of the split-file tracklet of any ``(product,
    video)`` of ``pairs`` whose entry the split file holds out (a malformed number in its
    ``source``, a bad box in that video's tracklet: :func:`read_official_heads_rows`), naming the
    file, product and field and what to do: nothing can be written into an entry that does not
    read (the readers hold it out; its bytes stay for a person to fix). The other products'
    entries of the file are written as usual."""
    wanted = set(pairs)
    if not wanted:
        return
    products = {pid for pid, _ in wanted}
    root = Path(dataset)
    for name in SPLIT_FILES:
        p = root / name
        if not p.is_file():
            continue
        _, bad = read_official_heads_rows(p)
        for b in bad:
            if b.product_id in products and (b.video is None or (b.product_id, b.video) in wanted):
                raise DataFormatError(
                    f"{b.line()}; the split file's tracklet of this product cannot be written until"
                    " its entry reads (nothing was saved)",
                    hint=HELD_OUT_HINT,
                )


class GroundTruthSource(Protocol):
    """What :func:`set_official_tracklets` reads of a video: a :class:`VideoTracklets`, or anything
    with its ``product_id``, ``video`` and ``official()``."""

    product_id: str
    video: str

    def official(self) -> dict[str, list[float]]: ...


def set_official_tracklets(dataset: str | os.PathLike[str], vts: Iterable[GroundTruthSource]) -> list[str]:
    """:func:`set_official_tracklet` for many videos at once: each split file is written at most
    once, and only the entries of those videos are read and rewritten
    (:func:`schemas.official.write_official_entries`: where each entry is comes from the heads
    read, kept per version of the file, so a pick reads no split file whole and the next queue
    build checks no box again). Returns the split files rewritten."""
    vts = list(vts)
    if not vts:
        return []
    root = Path(dataset)
    with dataset_lock(dataset):
        before = _split_stamp(dataset)
        written = []
        todo = {(vt.product_id, vt.video): vt for vt in vts}
        check_split_writable(dataset, todo)  # an entry held out is refused before any write
        for name in SPLIT_FILES:
            p = root / name
            if not todo or not p.is_file():
                continue
            heads, _ = read_official_heads_rows(p)  # an entry with a bad box raises when read below
            identity = split_identity(p)
            split = {
                vt.product_id: read_official_entry(p, vt.product_id, vt.video, identity=identity)
                for vt in todo.values()
                if vt.video in getattr(heads.get(vt.product_id), "video_paths", ())
            }
            changed = _set_entries(split, todo)
            if changed:
                write_official_entries(p, {pid: split[pid] for pid in changed})
                written.append(name)
        if written:  # only tracklets changed: the videos each product lists are the same
            _carry_shared(dataset, before)
        return written


def _set_entries(split: dict[str, Any], todo: dict[tuple[str, str], GroundTruthSource]) -> set[str]:
    """Put the ground truth of every ``todo`` video its split lists into its entry; the videos
    found are taken out of ``todo``. Returns the products whose entry changed."""
    changed: set[str] = set()
    for key, vt in list(todo.items()):
        entry = split.get(vt.product_id)
        if entry is None or vt.video not in entry.video_paths:
            continue
        del todo[key]
        boxes = vt.official()
        i = entry.video_paths.index(vt.video)
        trk = list(entry.tracklets) + [{} for _ in range(len(entry.video_paths) - len(entry.tracklets))]
        if trk[i] == boxes and "tracklets" in entry.model_fields_set:
            continue
        trk[i] = boxes
        entry.tracklets = trk
        changed.add(vt.product_id)
    return changed
