"""``mf crop-cache``'s work: :func:`build_crop_cache` decodes each video of a
:class:`~movingfashion.dataset.MovingFashionDataset` once and stores its crops as a crop-cache
entry (:mod:`movingfashion.crop_cache`), here or spread over an executor's workers."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from movingfashion.crop_cache import array_problem, cache_entry, entry_problem, entry_product
from movingfashion.executors import Executor, WorkerLostError, WorkerResources, unseen_on_worker
from movingfashion.sampling import get_sampler
from movingfashion.training_copy import NAMING, _source_boxes, remove_legacy, video_identity
from schemas.atomic import atomic_open, atomic_write_json, sweep_partials
from schemas.errors import ConfigError, DataFormatError, MediaError, MFError
from schemas.text_input import read_json_record

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.records import VideoRecord


#: Frames decoded at a time while a crop cache is built (bounds memory on long videos).
CACHE_DECODE_CHUNK = 64


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
