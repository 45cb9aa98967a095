"""The split file's rows read into the records of :class:`~movingfashion.dataset.MovingFashionDataset`:
each row's fields, shop image, videos and tracklet boxes checked (a bad one raised or listed by
the dataset's ``on_bad``), the class / partition filter applied, and the items they make."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any

from movingfashion.frame_boxes import FrameBoxes
from movingfashion.records import ProductRecord, VideoRecord
from movingfashion.richer_files import RicherVideo, _RicherFiles, _tracklet_shared, other_split_files
from movingfashion.video_checks import _inside, clean_boxes
from schemas.dataset import read_entry_rows
from schemas.errors import ConfigError, DataFormatError, MediaError
from schemas.official import OfficialSplit, gc_paused, read_official, read_official_rows, store_listing
from schemas.paths import PathEscapeError, resolve_under, unicode_form_hint
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES, Partition

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset

#: the dataset's messages keep the dataset's logger name wherever their code lives: a user (and
#: ``mf train``, which quiets it while it opens the split) configures ``movingfashion.dataset``
log = redacted_logger("movingfashion.dataset")


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


def read_split(
    dataset: MovingFashionDataset,
    split_rows: tuple[OfficialSplit, list[tuple[str, str]]] | None,
    want_partition: Partition | None,
    want_classes: AbstractSet[int] | None,
    *,
    full_tracklet_files: bool = False,
) -> None:
    """Read the split file (and ``entries.jsonl``, the tracklet files) into ``dataset.products``:
    the products that load and that the filters keep, each bad row raised or listed in
    ``dataset.skipped`` (its ``on_bad``), with what :meth:`~movingfashion.dataset.MovingFashionDataset.skip_counts`
    needs (``_line_skips``, ``_listed``, ``_filtered``) and ``shared_videos``."""
    # the split's boxes and the records built from them: millions of objects, none of them
    # garbage, that the cyclic collector would walk again and again (a tenth of the time)
    with gc_paused():
        if split_rows is not None and (dataset.on_bad == "skip" or not split_rows[1]):
            official, bad_rows = split_rows  # read by the caller: not parsed again
        elif dataset.on_bad == "skip":  # row by row: a bad row is listed, the others load
            official, bad_rows = read_official_rows(dataset.split_path, box_arrays=True)
        else:  # raises, naming the first bad row
            official, bad_rows = read_official(dataset.split_path, box_arrays=True), []
        # its listing, kept beside it: what a dataset of the folder's other split reads of it
        for p in other_split_files(dataset.root, dataset.root / "-"):
            if p.resolve() == dataset.split_path.resolve():
                store_listing(p)
        dataset.skipped.extend(bad_rows)
        entries_path = dataset.root / "entries.jsonl"
        first_line = len(dataset.skipped)
        entries = (
            read_entry_rows(entries_path, bad=dataset.skipped if dataset.on_bad == "skip" else None)
            if entries_path.is_file()
            else None
        )
        #: what :meth:`skip_counts` needs to tell what a skip left out: the malformed entries.jsonl
        #: lines, the number of videos each product that loaded listed, the products a filter left out
        dataset._line_skips = set(dataset.skipped[first_line:])
        dataset._listed = {}
        filtered: set[str] = set()
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
        dataset.shared_videos = frozenset(rel for rel, pids in owners.items() if len(pids) > 1)
        # the tracklet files of this split's videos, each read once (what is used of it only)
        richer = _RicherFiles(
            dataset.root / "tracklets",
            _tracklet_shared(dataset.root, dataset.split_path, official),
            full=full_tracklet_files,
        )

        dataset.products = []
        for pid, entry in official.items():
            rec = build_product(dataset, pid, entry, entries, entries_path, richer)
            if rec is None:
                continue
            dataset._listed[pid] = len(entry.video_paths)
            if (want_partition is not None and rec.partition != want_partition) or (
                want_classes is not None and rec.df2_class not in want_classes
            ):
                filtered.add(pid)
                continue
            dataset.products.append(rec)
        dataset._filtered = frozenset(filtered)  # read-only: MovingFashionDataset.filtered_ids


def item_index(products: list[ProductRecord], videos_mode: str) -> list[tuple[int, int | None]]:
    """Items of ``products``: one per product, ``(product, None)``, or per (product, video) with
    videos='all'."""
    index: list[tuple[int, int | None]] = []
    for pi, rec in enumerate(products):
        if videos_mode == "all":
            index.extend((pi, vi) for vi in range(len(rec.videos)))
        else:
            index.append((pi, None))
    return index


def build_product(
    dataset: MovingFashionDataset,
    pid: str,
    entry: Any,
    entries: dict[str, dict[str, Any]] | None,
    entries_path: Path,
    richer: _RicherFiles,
) -> ProductRecord | None:
    """Product ``pid``'s record from its split row ``entry`` (every field and file checked;
    None: it does not load, raised or listed by ``dataset._bad``)."""
    where = str(dataset.split_path)
    df2_class: int | None = None
    partition = entry.partition
    if entries is not None:
        row = entries.get(pid)
        if row is not None:
            raw = row.get("df2_class")
            if not (isinstance(raw, int) and raw in DF2_CLASSES):
                dataset._bad(
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
            dataset.root, entry.img_path, what="img_path", where=where, root_label="the dataset"
        )
    except PathEscapeError as exc:  # e.g. a link leaving the dataset folder
        if dataset.on_bad == "raise":
            raise
        dataset.skipped.append((pid, str(exc)))
        return None
    problem = _file_problem(shop, "an image file")
    if problem is not None and problem.startswith(IS_FOLDER):
        dataset._bad(
            pid,
            f"img_path {entry.img_path!r:.80} {problem}",
            MediaError,
            str(shop),
            "name the shop image file itself in img_path, or put the image there",
        )
        return None
    if problem is not None:
        dataset._bad(
            pid,
            f"shop image {problem}: {entry.img_path}"
            if problem == "not found"
            else f"img_path {entry.img_path!r:.80}: {problem}",
            MediaError,
            str(shop) if problem == "not found" else where,
            (problem == "not found" and unicode_form_hint(dataset.root, entry.img_path))
            or "check img_path in the split JSON (a file name is at most 255 bytes)",
        )
        return None
    videos = []
    first_skip = len(dataset.skipped)  # this product's skips start here
    for vi, rel in enumerate(entry.video_paths):
        try:
            path = resolve_under(
                dataset.root, rel, what=f"video_paths[{vi}]", where=where, root_label="the dataset"
            )
        except PathEscapeError as exc:
            if dataset.on_bad == "raise":
                raise
            dataset.skipped.append((pid, str(exc)))
            continue
        problem = _file_problem(path, "a video file")
        if problem is not None and problem.startswith(IS_FOLDER):
            dataset._bad(
                pid,
                f"video_paths[{vi}] {rel!r:.80} {problem}",
                MediaError,
                str(path),
                "name the video file itself in video_paths, or put the video there",
            )
            continue
        if problem == "not found":
            dataset._bad(
                pid,
                f"video not found: {rel}",
                MediaError,
                str(path),
                unicode_form_hint(dataset.root, rel) or "check video_paths",
            )
            continue
        if problem is not None:
            dataset._bad(
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
            width, height = file_size(vt, path, boxes)
            nframes = vt.frames
            conf = vt.confidences
        # frame indices are checked against the decoded video's length at first use (and
        # by check()): the count a tracklet file records is not the video's authority
        boxes = clean_boxes(dataset, pid, rel, boxes, width, height, None)
        if boxes is None:
            continue
        if dataset.crop == "tracklet" and not boxes:
            dataset._bad(
                pid,
                f"empty tracklet for video {vi} ({rel})",
                DataFormatError,
                where,
                dataset.empty_tracklet_hint,
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
        if entry.video_paths and dataset.on_bad == "skip":
            product_dropped(dataset, pid, where, first_skip, len(entry.video_paths))
        return None
    return ProductRecord(pid, shop, df2_class, partition, videos)


def file_size(vt: RicherVideo, path: Path, boxes: dict[int, list[float]]) -> tuple[int, int]:
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


def product_dropped(dataset: MovingFashionDataset, pid: str, where: str, first: int, nvideos: int) -> None:
    """List a product left without a usable video once: its videos' reasons (at most one
    each: ``dataset.skipped[first:]``) folded into one entry; per-frame ones stay as they are."""
    own = dataset.skipped[first:]
    if not 0 < len(own) <= nvideos:
        dataset.skipped.append((pid, f"{where}: no usable video left"))
        return
    del dataset.skipped[first:]
    reasons = [r[len(where) + 2 :] if r.startswith(f"{where}: ") else r for _, r in own]
    dataset.skipped.append((pid, f"{where}: no usable video left: {'; '.join(reasons)}"))


def warn_empty(
    dataset: MovingFashionDataset, partition: Partition | None, classes: AbstractSet[int] | None
) -> None:
    """One warning, when the dataset is made, that it holds no item: the split file lists no
    product, or the filters (``partition``, ``classes`` as parsed) keep none of those that
    load; an empty dataset is allowed, but a DataLoader over it only fails later, unnamed."""
    if dataset._filtered:
        filters = []
        if classes is not None:
            filters.append(f"classes={[DF2_CLASSES[c] for c in sorted(classes)]!r}")
        if partition is not None:
            filters.append(f"partition={partition.value!r}")
        why = (
            f"{' and '.join(filters)} keep none of its {len(dataset._filtered)} products with a usable video"
        )
    else:
        why = "the split file lists no product"
    log.warning(
        "%s: the dataset is empty: %s (%s); indexing it raises IndexError",
        dataset.split_path,
        why,
        "drop or widen the filters" if dataset._filtered else "check the split file",
    )
