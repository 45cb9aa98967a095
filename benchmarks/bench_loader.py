"""Clip loading speed per clip family: the official way, raw decoders, the loader, the copy, the caches.

Every method loads the *same* clips (T frames chosen by the dataset's RRS sampler in training
mode, tracklet crops at 224 x 224, plus the shop image) so the ratios compare ways of reading
only. Clips are grouped by family (``families.json`` of ``benchmarks/real_clips.py``, else the
video's resolution). Per family it prints clips/s and the ratio against the official way:

* ``official``: OpenCV opens the video for every clip and seeks once per frame (how existing
  MovingFashion loaders read), crop, resize, shop image; FFmpeg decodes on one thread
  (``cv2.CAP_PROP_N_THREADS``) like every other row, ``--official-default-threads`` leaves
  OpenCV's default (one decoding thread per core);
* ``raw pyav`` / ``raw torchcodec`` / ``raw decord``: a cached reader's exactly-those-frames
  call, nothing else (decoding alone);
* ``loader 0w`` / ``loader 2w``: ``MovingFashionDataset`` (``backend="auto"``,
  ``dtype=torch.uint8``) through a DataLoader with 0 and 2 workers
  (:func:`movingfashion.batching.loader_settings`); ``loader 0w f32`` the float default;
* ``loader 0w frame``: the same with ``crop="frame"`` (whole frames at the video's own size; the
  crops are cut on the device, :func:`movingfashion.models.crops.crops_from_frames`), on its own
  draws (whole frames sample every frame, not only the boxed ones); ``--no-frame-row`` leaves it
  and its goal-2 line out;
* ``copy 0w`` / ``copy 2w``: the same dataset reading its training copy (``mf training-copy``);
* ``cache 0w`` / ``cache 2w``: the full crop cache (every boxed frame, lossless ``.npy``).

Wall-clock rates are the second of two passes (readers open, workers started, page cache
warm), and methods run one after the other, so on a shared machine they drift with the load;
the goals that compare two ways are therefore also measured as **process CPU time per clip,
interleaved clip by clip** (robust to other load; 0 workers only), ``--repeat`` times (default
3) on fresh RRS draws: the tables give the median (min-max), goal 1 is judged on the median
and says "within noise" when the runs straddle the goal, goal 2 on per-clip pairs (below).
Wall-clock rows are one run.

Shop-image cache (``--shop-cache``): by default (``cold``) the process-wide shop-image cache of
``movingfashion.dataset`` is cleared before every call of a dataset row, in DataLoader workers
too, as in training on the full split where it almost never hits; the official way decodes the
shop image every clip either way. ``warm`` measures the rows with it filled by the warm pass.

Pixel check: on the first clip of each family every raw decoder, ``dataset[i]`` (whole frames,
``crop="frame"``, its own draw of that item) and the official way must return the same pictures
(mean |diff| per frame <= ``PIXEL_TOLERANCE``); the result is printed and, when they differ, the
script exits 1 after printing everything, naming family, row and frame. A raw decoder that
refuses a family's video (it knows it would return other frames) is left out with one line.

Also printed: bytes per
frame (source video, training copy, crop cache), frames decoded per returned frame (the PyAV
reader's count over the T frames of every clip; it drains its decoder after the last wanted
packet, so frames held back for reordering count once; in brackets the packets handed to the
decoder, the non-reference ones it drops included), the one-time build costs, and the issue's
goals with OK / NOT MET:

1. training copy (2 workers) >= 10x the official way on camera footage, at <= 20 KB per frame;
2. ``dataset[i]`` >= 0.95x the fastest raw exact decoder at 0 workers (CPU time), every family.
   Judged on per-clip pairs: each clip of every run read both ways gives one ratio (plus
   ``--pairs`` clips of their own, read raw, item, item, raw); printed is their geometric mean
   and its 95% confidence interval, and whether the interval decides the goal (UNDECIDED when it
   straddles 0.95: run with more ``--pairs``). A second goal-2 line, not the verdict of record,
   judges the ``crop="frame"`` row the same way against the same raw decoder reading that row's
   frames (every clip of every run, and its own raw, item, item, raw in the ``--pairs`` pass, right
   after the crops' four calls of the clip), and prints what ``crops_from_frames`` costs on the
   CPU per clip at 1 torch thread: that work moves to the device, it is not removed. On a loaded 2-core machine one 176x144 call's CPU
   time varies by 8-11% (two calls of the same clip by the same row), so a run's 12 clips
   give a ratio good to about +-0.03 and three runs span about 0.1, which is why a median of run
   ratios could not decide it;
3. 2 workers >= 1.8x 0 workers for the live loader, the copy and the cache, in wall clock,
   judged on the **steady** figure: per row one epoch of the ``--worker-clips`` clips repeated
   ``--worker-rounds`` times (default 8: 192 batches of 4 for the copy and the cache; the live
   loader one round, its batches cost 100-400 ms), both loaders warm, 0- and 2-worker epochs
   interleaved ``--worker-repeat`` times (median ratio, range printed). Training runs thousands
   of batches an epoch, so what an epoch's start and end cost (the first batches before both
   workers run, one worker finishing alone) weighs there what it weighs in these epochs, not
   what it weighs in one pass of 24 batches that lasts 0.1-0.7 s for the copy and the cache.
   That one-pass figure (the second pass of ``--worker-clips`` clips, one run: what this
   benchmark judged before) is printed beside it. Each row also prints where its 2-worker
   epoch's wall clock went, from ``/proc/<pid>/task/<tid>/schedstat`` (Linux): the share each
   worker's main thread ran, waited for a core (other processes: on a loaded machine this is
   what takes the ratio down) or was idle (no index to work on, the epoch's ramp and tail), the
   main process's, the CPU ms per batch (all threads) and the minor page faults per batch
   (``/proc/<pid>/stat``; a batch whose buffers land on fresh pages pays hundreds) at 0 and 2
   workers, and the bound on this machine from the median pair's figures (:func:`cores_bound`):
   2 cores x the 0-worker CPU ms per batch / the 2-worker pass's (workers + main), what the
   ratio reaches with a core per process, and the same with the 0-worker wall (a bound under any
   load); memory stalls count as CPU, ``bench_memory_scaling.py`` measures them. The loaders use :func:`loader_settings`' defaults, glibc malloc tuning included
   (:mod:`movingfashion.malloc_tuning`). On a
   machine whose 2 cores are busy with other work the goal cannot show; the load is printed.
   ``--workers-only`` measures goal 3 alone (``--worker-rows copy,cache`` for two rows).
   ``--worker-chunks 1,4`` measures the copy and the cache also through
   :class:`~movingfashion.chunked_loader.ChunkedLoader` (each worker sends 4 batches per
   message), its 2-worker epochs interleaved with the same 0-worker ones; the verdict stays on
   the first value listed.

Data: ``--dataset DIR`` (any official-format folder; ``benchmarks/real_clips.py`` makes one of
real camera clips), else a quick synthetic world (``--products``, default 20; ``--full`` for
full-length clips) exported with ``export_gt_dataset``. ``--json``: stdout holds one JSON
document, the tables go to stderr.

Example:
  python benchmarks/real_clips.py --out build/real-clips
  python benchmarks/bench_loader.py --dataset build/real-clips/dataset --clips 16
  # goal 3 alone for the copy and the cache (about 5 minutes on an idle 2-core machine; the copy
  # and the cache kept in build/bench-work for the next run)
  python benchmarks/bench_loader.py --dataset build/real-clips/dataset --work build/bench-work \
      --workers-only --worker-rows copy,cache
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from real_clips import check_dataset, exit_on_error  # noqa: E402

from movingfashion.batching import collate_clips, loader_settings  # noqa: E402
from movingfashion.chunked_loader import DEFAULT_CHUNK, ChunkedLoader, chunked_settings  # noqa: E402
from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry  # noqa: E402
from movingfashion.items import _shop_image  # noqa: E402
from movingfashion.media.images import read_image  # noqa: E402
from movingfashion.media.logs import quiet_native_logs  # noqa: E402
from movingfashion.media.readers import (  # noqa: E402
    READERS,
    PyAVReader,
    torchcodec_problem,
)
from movingfashion.training_copy import build_training_copy, copy_entry  # noqa: E402
from schemas.errors import ConfigError, DataFormatError  # noqa: E402

CROP = 224
GOAL_COPY_X, GOAL_COPY_KB, GOAL_OVERHEAD, GOAL_WORKERS = 10.0, 20.0, 0.95, 1.8
#: the rows that read through ``MovingFashionDataset`` (their shop image comes from ``_shop_image``)
DATASET_ROWS = ("dataset[i]", "dataset[i] f32", "dataset[i] frame", "copy[i]", "cache[i]")
#: largest mean |difference| (0-255) per frame between two decodings of the same picture. Measured
#: on the real clips (box, vtest): pyav, decord, torchcodec and OpenCV return bit-identical RGB
#: (0.0), while two *adjacent* frames differ by only 0.85 (box) and 1.89 (vtest): a loose tolerance
#: would let a decoder one frame off pass
PIXEL_TOLERANCE = 0.25


class ColdShop(torch.utils.data.Dataset):
    """``ds`` with the process-wide shop-image cache cleared before every item (in DataLoader
    workers too): what training on the full split sees, where a 256-entry cache almost never hits."""

    def __init__(self, ds: MovingFashionDataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, index: int) -> dict:
        _shop_image.cache_clear()
        return self.ds[index]


def shop_regime(ds, cold: bool):
    """The dataset a row reads: with a cold shop-image cache (cleared first) or as it is."""
    _shop_image.cache_clear()
    return ColdShop(ds) if cold else ds


def world_dataset(out: Path, products: int, seed: int, quick: bool = True) -> Path:
    """Export a generated world (quick clips unless ``quick`` is False) as an official-format dataset."""
    from movingfashion.world import generate_world
    from movingfashion.world.gt_dataset import export_gt_dataset

    world = out / "world"
    if not (world / "world.json").is_file():
        generate_world(world, products=products, seed=seed, quick=quick, workers=1)
    ds = out / "dataset"
    if not (ds / "train.json").is_file():
        export_gt_dataset(world, ds)
    return ds


def open_official(path: Path, threads: int | None = 1):
    """OpenCV's capture of ``path``; FFmpeg decodes on ``threads`` threads (None: OpenCV's default,
    one per core)."""
    import cv2

    if threads is None:
        return cv2.VideoCapture(str(path))
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])


def check_official_threads(path: Path, threads: int | None) -> None:
    """Refuse (ConfigError) an OpenCV that cannot pin FFmpeg's decoding threads of ``path``."""
    import cv2

    if threads is None:
        return
    if not hasattr(cv2, "CAP_PROP_N_THREADS"):
        raise ConfigError(
            f"OpenCV {cv2.__version__} has no CAP_PROP_N_THREADS: the official way cannot decode on one thread",
            hint="pass --official-default-threads (its CPU time then counts FFmpeg's threading)",
        )
    cap = open_official(path, threads)
    if not cap.isOpened():  # an unreadable video: official_clip names it when it gets there
        return
    got = cap.get(cv2.CAP_PROP_N_THREADS)
    cap.release()
    if got != threads:
        raise ConfigError(
            f"OpenCV {cv2.__version__} did not pin FFmpeg to {threads} thread(s) (got {got})",
            where=str(path),
            hint="pass --official-default-threads (its CPU time then counts FFmpeg's threading)",
        )


def official_frame(cap, rel: str, f: int):
    """Frame ``f`` as the official way reads it: seek, read, BGR -> RGB."""
    import cv2

    cap.set(cv2.CAP_PROP_POS_FRAMES, f)
    ok, img = cap.read()
    if not ok:
        raise RuntimeError(f"{rel}: frame {f}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def official_clip(
    root: Path, rel: str, idx: list[int], boxes: list[list[float]], shop: Path, threads: int | None = 1
) -> None:
    import cv2

    cap = open_official(root / rel, threads)
    for f, b in zip(idx, boxes, strict=True):
        img = official_frame(cap, rel, f)
        x1, y1, x2, y2 = (int(v) for v in b)
        cv2.resize(img[y1:y2, x1:x2], (CROP, CROP), interpolation=cv2.INTER_AREA)
    cap.release()
    read_image(shop, (CROP, CROP))


def families(ds: MovingFashionDataset, root: Path) -> dict[str, list[int]]:
    """Item indices by family: real_clips' ``families.json`` names, else the video resolution."""
    named = (root / "families.json").is_file()
    out: dict[str, list[int]] = {}
    for i, rec in enumerate(ds.products):
        if named:
            key = rec.product_id.rstrip("0123456789")
        else:
            h, w = ds.cache.get(rec.videos[0].path).size
            key = f"{w}x{h}"
        out.setdefault(key, []).append(i)
    return out


def make_loader(ds, sampler: list[int], batch: int, workers: int, chunk: int = 1):
    """The benchmark's loader: ``collate_clips`` and :func:`loader_settings` (no pinned memory);
    with ``chunk`` > 1 and workers, a :class:`ChunkedLoader` (:func:`chunked_settings`)."""
    if chunk > 1 and workers:
        return ChunkedLoader(
            ds, batch, sampler=sampler, **chunked_settings(workers, chunk=chunk, pin_memory=False)
        )
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        collate_fn=collate_clips,
        **loader_settings(workers, pin_memory=False),
    )


def loader_rate(
    ds: MovingFashionDataset, items: list[int], workers: int, batch: int = 4, chunk: int = 1
) -> float:
    """Clips/s of the second pass through a DataLoader over ``items`` in batches of ``batch``
    (``chunk`` batches per worker message, :class:`ChunkedLoader`)."""
    dl = make_loader(ds, items, batch, workers, chunk)
    for _ in dl:
        pass
    t0 = time.perf_counter()
    for _ in dl:
        pass
    rate = len(items) / (time.perf_counter() - t0)
    del dl
    return rate


def sched_times(pid: int, tid: int | None = None) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for one) of thread ``tid`` of process
    ``pid`` so far (default its main thread), from Linux's ``schedstat``; None where it cannot be
    read."""
    path = f"/proc/{pid}/schedstat" if tid is None else f"/proc/{pid}/task/{tid}/schedstat"
    try:
        on_cpu, waiting = Path(path).read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def thread_times(pid: int) -> dict[int, float]:
    """Seconds on a CPU so far of each live thread of process ``pid`` (its main thread, queue
    feeder threads, decoder threads); empty where they cannot be read."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return {}
    out = {}
    for t in tids:
        got = sched_times(pid, t)
        if got is not None:
            out[t] = got[0]
    return out


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds a process's threads spent between two :func:`thread_times` readings (a thread
    started in between counts from 0; one that ended in between is not seen)."""
    return sum(v - before.get(t, 0.0) for t, v in after.items())


def minor_faults(pid: int) -> int | None:
    """Minor page faults of process ``pid`` so far (all its threads, Linux's ``/proc/<pid>/stat``);
    None where it cannot be read."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])
    except (OSError, ValueError, IndexError):
        return None


def timed_pass(dl, clips: int) -> dict:
    """One timed epoch of ``dl``: clips/s and, on Linux, the CPU ms per batch of its workers and
    of the main process (all their threads) and, with workers, where its wall clock went: per
    worker the share of the pass its main thread ran (``run``), waited for a core (``queue``:
    other processes, the main one included) or slept (``idle``: no index to work on, a full
    result queue, the ramp and the tail of the epoch), and the main process's main thread's
    shares on a CPU and waiting for one."""
    inner = getattr(dl, "loader", dl)  # a ChunkedLoader's DataLoader
    it = getattr(inner, "_iterator", None)  # persistent workers, started by an earlier pass
    workers = [w.pid for w in getattr(it, "_workers", ())] if dl.num_workers else []
    pids = [os.getpid(), *workers]
    before = {p: sched_times(p) for p in pids}
    threads0 = {p: thread_times(p) for p in pids}
    faults0 = {p: minor_faults(p) for p in pids}
    t0 = time.perf_counter()
    for _ in dl:
        pass
    wall = time.perf_counter() - t0
    out: dict = {"rate": clips / wall, "wall_s": wall}
    after = {p: sched_times(p) for p in pids}
    threads1 = {p: thread_times(p) for p in pids}
    faults1 = {p: minor_faults(p) for p in pids}
    if not all(before[p] and after[p] and threads1[p] for p in pids):
        return out
    run = {p: after[p][0] - before[p][0] for p in pids}
    queue = {p: after[p][1] - before[p][1] for p in pids}
    cpu = {p: cpu_between(threads0[p], threads1[p]) for p in pids}
    batches = len(dl)
    main = pids[0]
    out["cpu_ms_per_batch"] = {
        "workers": 1000 * sum(cpu[p] for p in workers) / batches,
        "main": 1000 * cpu[main] / batches,
    }
    if all(faults0[p] is not None and faults1[p] is not None for p in pids):
        flt = {p: faults1[p] - faults0[p] for p in pids}
        out["faults_per_batch"] = {
            "workers": sum(flt[p] for p in workers) / batches,
            "main": flt[main] / batches,
        }
    if workers:
        w_run, w_queue = statistics.mean(run[p] for p in workers), statistics.mean(queue[p] for p in workers)
        out["split"] = {
            "run": w_run / wall,
            "queue": w_queue / wall,
            "idle": max(0.0, 1 - (w_run + w_queue) / wall),
            "main_run": run[main] / wall,
            "main_queue": queue[main] / wall,
        }
    return out


def steady_scaling(
    ds, items: list[int], batch: int, rounds: int, repeat: int, chunks: tuple[int, ...] = (1,)
) -> dict:
    """Goal 3 as training sees it: 0 and 2 workers over one epoch of ``items`` repeated
    ``rounds`` times (training runs thousands of batches an epoch, so the epoch's start and end
    weigh little), both loaders warm (workers started, persistent), their passes interleaved
    ``repeat`` times so that a change of the machine's load hits both; ratio per pair of passes.
    The 2-worker loader once per value of ``chunks`` (batches a worker sends per message,
    :class:`ChunkedLoader`), all interleaved; the top-level figures are those of the first one."""
    sampler = items * rounds
    dls = {(0, 1): make_loader(ds, sampler, batch, 0)}
    dls.update({(2, c): make_loader(ds, sampler, batch, 2, c) for c in chunks})
    for dl in dls.values():  # a whole warm epoch: workers started, readers open (one cut short
        for _ in dl:  # would leave its batches in flight for the next epoch to drain)
            pass
    runs: dict[tuple[int, int], list[dict]] = {k: [] for k in dls}
    for _ in range(repeat):
        for k, dl in dls.items():
            runs[k].append(timed_pass(dl, len(sampler)))
    del dls
    by_chunk = {}
    for c in chunks:
        ratios = [b["rate"] / a["rate"] for a, b in zip(runs[0, 1], runs[2, c], strict=True)]
        mid = sorted(range(repeat), key=lambda k: ratios[k])[(repeat - 1) // 2]  # the median pair
        by_chunk[c] = {
            "ratio": spread(ratios),
            "2w": statistics.median(r["rate"] for r in runs[2, c]),
            "split": runs[2, c][mid].get("split"),
            "cpu_ms_per_batch": {
                0: runs[0, 1][mid].get("cpu_ms_per_batch"),
                2: runs[2, c][mid].get("cpu_ms_per_batch"),
            },
            "faults_per_batch": {
                0: runs[0, 1][mid].get("faults_per_batch"),
                2: runs[2, c][mid].get("faults_per_batch"),
            },
            "bound": cores_bound(runs[0, 1][mid], runs[2, c][mid], -(-len(sampler) // batch)),
        }
    judged = by_chunk[chunks[0]]
    return {
        "ratio": judged["ratio"],
        "0w": statistics.median(r["rate"] for r in runs[0, 1]),
        "2w": judged["2w"],
        "clips": len(sampler),
        "batches": -(-len(sampler) // batch),
        "rounds": rounds,
        "split": judged["split"],
        "cpu_ms_per_batch": judged["cpu_ms_per_batch"],
        "faults_per_batch": judged["faults_per_batch"],
        "chunk": chunks[0],
        "by_chunk": by_chunk,
    }


def cores_bound(zero: dict, two: dict, batches: int, cores: int | None = None) -> dict | None:
    """What a 2-worker pass could reach on this machine, from one interleaved pair of passes
    (``zero`` with 0 workers, ``two`` with 2; :func:`timed_pass`). The 2-worker pass's processes
    spent ``cpu2`` ms per batch (workers + main process, every thread), which ``cores`` cores run
    in at least ``cpu2 / cores`` ms of wall clock: its ratio cannot beat ``wall``, the 0-worker
    wall ms per batch / (``cpu2`` / ``cores``), whatever the load. ``cpu``, ``cores`` x the
    0-worker CPU ms per batch / ``cpu2``, is the same bound with every process on a core of its
    own (no other load: then the 0-worker wall is its CPU), so it does not move with the load.
    Memory stalls count as CPU time: a copy that slows down when two processes share the memory
    bus raises ``cpu2`` (``bench_memory_scaling.py``). None when the pair lacks a figure."""
    cores = cores or os.cpu_count() or 1
    cpu0, cpu2 = zero.get("cpu_ms_per_batch"), two.get("cpu_ms_per_batch")
    if not cpu0 or not cpu2 or "wall_s" not in zero or not batches:
        return None
    spent0 = cpu0["workers"] + cpu0["main"]
    spent = cpu2["workers"] + cpu2["main"]
    if spent <= 0:
        return None
    wall0 = 1000 * zero["wall_s"] / batches
    return {
        "wall0_ms": wall0,
        "cpu0_ms": spent0,
        "cpu2_ms": spent,
        "cores": cores,
        "wall": wall0 / (spent / cores),
        "cpu": cores * spent0 / spent,
    }


def wall_rate(fn, n: int) -> float:
    fn()
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, help="official-format folder (default: a synthetic world)")
    ap.add_argument("--work", type=Path, help="where the copy, caches and generated data go (default: temp)")
    ap.add_argument("--products", type=int, default=20, help="synthetic world: products (at least 20)")
    ap.add_argument("--full", action="store_true", help="synthetic world: full-length clips (default: quick)")
    ap.add_argument("--clips", type=int, default=16, help="clips per family")
    ap.add_argument("--frames-per-clip", type=int, default=10)
    ap.add_argument("--families", help="comma list: only these families")
    ap.add_argument("--no-workers", action="store_true", help="skip the 2-worker rows (faster)")
    ap.add_argument(
        "--no-frame-row",
        action="store_true",
        help='skip the crop="frame" row (whole frames, crops cut on the device) and its goal-2 line: its'
        " calls in the CPU loop (the item and each raw decoder on its frames) and in the --pairs pass",
    )
    ap.add_argument(
        "--worker-clips",
        type=int,
        default=96,
        help="clips per family for goal 3's 0- vs 2-worker rows (with only a few batches the"
        " second worker idles and the ratio cannot pass 1.5x)",
    )
    ap.add_argument(
        "--worker-batch",
        type=int,
        default=4,
        help="batch size of goal 3's rows (the paper trains on 16 products per batch)",
    )
    ap.add_argument(
        "--worker-rounds",
        type=int,
        default=8,
        help="goal 3's steady figure: the copy's and the cache's epoch holds the --worker-clips clips this many"
        " times (8: 192 batches of 4), so the epoch's start and end weigh what they weigh in training",
    )
    ap.add_argument(
        "--worker-repeat",
        type=int,
        default=3,
        help="goal 3's steady figure: interleaved pairs of 0- and 2-worker epochs; judged on the median ratio",
    )
    ap.add_argument(
        "--worker-chunks",
        default="1",
        help="goal 3, copy and cache rows: comma list of batches a worker makes per message"
        " (movingfashion.chunked_loader.ChunkedLoader; 1: a plain DataLoader), each measured as a 2-worker"
        " loader interleaved with the same 0-worker one, judged on the first (default 1; '1,4' also"
        f" measures ChunkedLoader's default of {DEFAULT_CHUNK}). The live loader row sends one batch per message",
    )
    ap.add_argument(
        "--worker-rows",
        default="loader,copy,cache",
        help="comma list of goal 3's rows (loader, copy, cache)",
    )
    ap.add_argument(
        "--workers-only",
        action="store_true",
        help="goal 3 alone: no CPU loop, raw decoders, official way or pixel check (a few minutes;"
        " pass --work DIR to keep the copy and the cache between runs)",
    )
    ap.add_argument(
        "--official-default-threads",
        action="store_true",
        help="the official way with OpenCV's default FFmpeg threads (one per core) instead of one thread"
        " like every other row (its CPU time then counts FFmpeg's threading)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of the interleaved CPU-time loop, each on fresh RRS draws; the goals are judged on"
        " the median, the range is printed",
    )
    ap.add_argument(
        "--pairs",
        type=int,
        default=0,
        help="goal 2: this many more clips per family read by the fastest raw decoder and dataset[i]"
        " alone (raw, item, item, raw), added to the pairs of the CPU loop's runs; a narrower"
        " confidence interval when the default one straddles the goal",
    )
    ap.add_argument(
        "--shop-cache",
        choices=("cold", "warm"),
        default="cold",
        help="cold (default): the shop-image cache is cleared before every dataset row's call, as in"
        " training on the full split (14,855 products, a 256-entry cache almost never hits); warm: as"
        " it is after a warm pass over these few products (the official way reads it every clip)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="stdout: one JSON document (the tables go to stderr)")
    args = ap.parse_args()
    quiet_native_logs()  # the official way opens OpenCV itself: its FFmpeg's messages off
    if args.repeat < 1:
        ap.error(f"--repeat: at least 1 run, got {args.repeat}")
    for name in ("worker_rounds", "worker_repeat", "worker_clips", "worker_batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')}: at least 1, got {getattr(args, name)}")
    try:
        args.worker_chunks = tuple(int(c) for c in args.worker_chunks.split(",") if c.strip())
    except ValueError:
        args.worker_chunks = ()
    if not args.worker_chunks or min(args.worker_chunks) < 1:
        ap.error(f"--worker-chunks: a comma list of whole numbers >= 1, got {args.worker_chunks!r}")
    args.worker_rows = [r.strip() for r in args.worker_rows.split(",") if r.strip()]
    if not args.worker_rows or set(args.worker_rows) - {"loader", "copy", "cache"}:
        ap.error(f"--worker-rows: a comma list of loader, copy, cache; got {','.join(args.worker_rows)!r}")
    if args.workers_only and args.no_workers:
        ap.error("--workers-only and --no-workers: pick one")
    if args.pairs < 0:
        ap.error(f"--pairs: 0 or more clips, got {args.pairs}")
    if args.dataset is not None:
        check_dataset(args.dataset)
    torch.set_num_threads(1)
    tmp = None
    work = args.work or Path(tmp := tempfile.mkdtemp(prefix="bench_loader_"))
    # with --json, everything printed on the way goes to stderr: stdout holds the JSON document only
    tables = contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext()
    try:
        with tables:
            root, source = args.dataset, "given folder"
            if root is None:
                root, source = (
                    world_dataset(work, args.products, args.seed, quick=not args.full),
                    f"synthetic world ({'full' if args.full else 'quick'} clips, export_gt_dataset)",
                )
            report = run(root, args, work, source)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    bad = [m for f in report.get("families", {}).values() for m in f.get("pixel_mismatches", [])]
    if bad:
        raise SystemExit(
            f"pixel check: {len(bad)} frames differ between the rows, the ratios compare different pictures: "
            + "; ".join(bad)
        )


def run(root: Path, args: argparse.Namespace, work: Path, source: str) -> dict:
    T = args.frames_per_clip
    kw = {"frames": T, "seed": args.seed, "crop_size": CROP, "shop_size": CROP, "on_bad": "skip"}
    live = MovingFashionDataset(root, "train", dtype=torch.uint8, **kw)
    if len(live) == 0:
        raise DataFormatError("no product to read in the train split", where=str(root / "train.json"))
    live_f32 = MovingFashionDataset(root, "train", **kw)
    # the pixel check's dataset[i]: whole frames at the video's own size, same draws
    full = MovingFashionDataset(
        root, "train", dtype=torch.uint8, **{**kw, "crop": "frame", "frame_size": None}
    )
    threads = None if args.official_default_threads else 1
    check_official_threads(root / live.products[0].videos[0].rel_path, threads)
    copy_dir, cache_dir = work / "training_copy", work / "crop_cache"
    t0 = time.perf_counter()
    build_training_copy(live, copy_dir)
    copy_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_crop_cache(live, cache_dir, pool=None)
    cache_s = time.perf_counter() - t0
    copy = MovingFashionDataset(root, "train", dtype=torch.uint8, training_copy=copy_dir, **kw)
    cache = MovingFashionDataset(root, "train", dtype=torch.uint8, crop_cache=cache_dir, **kw)
    meta = json.loads((root / "families.json").read_text()) if (root / "families.json").is_file() else {}
    groups = families(live, root)
    if args.families:
        groups = {k: v for k, v in groups.items() if k in args.families.split(",")}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"data: {source} ({root}); {len(live)} products; T={T}, crops {CROP}x{CROP}, {args.clips} clips per "
        f"family; {os.cpu_count()} cores, load average {load:.1f} at start; build: training copy {copy_s:.1f} s, "
        f"crop cache {cache_s:.1f} s; official way: "
        + ("OpenCV's default FFmpeg threads" if threads is None else f"{threads} FFmpeg thread")
        + f"; CPU loop {args.repeat} runs (fresh draws); shop-image cache {args.shop_cache} ("
        + (
            "cleared before every dataset row's call, as training on the full split"
            if args.shop_cache == "cold"
            else "warm after the warm pass: the dataset rows skip the shop decode the official way pays"
        )
        + ")"
    )
    report: dict = {
        "source": source,
        "T": T,
        "official_threads": "default" if threads is None else threads,
        "load_start": load,
        "copy_build_s": copy_s,
        "cache_build_s": cache_s,
        "repeat": args.repeat,
        "shop_cache": args.shop_cache,
    }
    setup = LoaderRun(root, live, live_f32, full, copy, cache, copy_dir, cache_dir, threads, args)
    fams: dict[str, dict] = {}
    if args.workers_only:
        for name, prods in groups.items():
            witems = family_items(prods, len(live), args.worker_clips)
            print(f"\n== {name}: goal 3 only, {len(witems)} clips; shop-image cache {args.shop_cache}")
            fams[name] = {"workers": worker_rows(live, copy, cache, witems, args)}
            print_workers(fams[name]["workers"])
        report["families"] = fams
        report["load_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\n(load average {load:.1f} at start, {report['load_end']:.1f} at end)")
        return report
    for name, prods in groups.items():
        n_items = len(live)
        rounds = -(-args.clips // len(prods))  # draws of each product per run
        draws = [family_items(prods, n_items, args.clips, start=r * rounds) for r in range(args.repeat)]
        witems = family_items(prods, n_items, args.worker_clips)
        pair_items = (
            family_items(prods, n_items, args.pairs, start=args.repeat * rounds) if args.pairs else None
        )
        fams[name] = family_run(setup, FamilyDraws(name, draws, witems, pair_items))
        fams[name]["camera"] = meta.get(name, {}).get("camera", None)
        fams[name]["size"] = meta.get(name, {}).get("size", name)
    report["families"] = fams
    report["load_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print_goals(fams, report)
    return report


def family_items(prods: list[int], n_items: int, count: int, start: int = 0) -> list[int]:
    """``count`` dataset indices of these products, each repeat a fresh RRS draw (index + k * n,
    k from ``start``)."""
    rounds = (count + len(prods) - 1) // len(prods)
    return [p + k * n_items for k in range(start, start + rounds) for p in prods][:count]


def frame_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |difference| (0-255) of two RGB frames; infinite when their shapes differ."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def clip_frames(
    root: Path, rel: str, idx: list[int], raw_names: list[str], full: dict | None, threads: int | None
) -> dict[str, list[np.ndarray]]:
    """The uncropped RGB frames ``idx`` of ``rel`` per row: each raw decoder, ``dataset[i]`` (an
    item of a ``crop="frame"`` dataset at the video's own size, when given) and the official way."""
    uniq = sorted(set(idx))
    pos = {f: k for k, f in enumerate(uniq)}
    out: dict[str, list[np.ndarray]] = {}
    for b in raw_names:
        got = READERS[b](str(root / rel)).get(uniq)
        out[f"raw {b}"] = [np.asarray(got[pos[f]]) for f in idx]
    if full is not None:
        fr = full["frames"].numpy()
        if fr.ndim == 4 and fr.shape[1] == 3 and fr.shape[-1] != 3:
            fr = fr.transpose(0, 2, 3, 1)
        out["dataset[i]"] = list(fr)
    cap = open_official(root / rel, threads)
    out["official"] = [official_frame(cap, rel, f) for f in idx]
    cap.release()
    return out


def disagreements(
    frames: dict[str, list[np.ndarray]], idx: list[int], tol: float = PIXEL_TOLERANCE
) -> tuple[list[tuple[str, int, float, str]], dict[str, float]]:
    """Per frame, the rows whose picture differs (mean |diff| > ``tol``) from the one most rows
    agree with (ties: the first row listed). Returns (row, frame, diff, reference row) for each
    difference and each row's largest diff to its frame's reference."""
    names = list(frames)
    bad: list[tuple[str, int, float, str]] = []
    worst = dict.fromkeys(names, 0.0)
    for k, f in enumerate(idx):
        d = {(a, b): frame_diff(frames[a][k], frames[b][k]) for a in names for b in names}
        ref = max(names, key=lambda a: sum(d[a, b] <= tol for b in names))
        for a in names:
            worst[a] = max(worst[a], d[a, ref])
            if d[a, ref] > tol:
                bad.append((a, f, d[a, ref], ref))
    return bad, worst


def pixel_check(name, root, live, full, item, raw_names, threads) -> list[str]:
    """Do all rows return the same pictures on clip ``item``? Prints the result; the differences."""
    rec, vi, idx = live.plan(item)
    rel = rec.videos[vi].rel_path
    fitem = None
    if full is not None:  # whole frames draw over every frame, not only the boxed ones: its own draw
        fitem = full[item]
        rel, idx = fitem["video_path"], fitem["frame_indices"].tolist()
    frames = clip_frames(root, rel, list(idx), raw_names, fitem, threads)
    bad, worst = disagreements(frames, list(idx))
    rows = ", ".join(f"{m} {sum(b[0] == m for b in bad)}/{len(idx)}" for m in frames)
    print(
        f"   pixels (first clip, {rel}, frames {list(idx)}; tolerance mean |diff| {PIXEL_TOLERANCE}): frames "
        f"differing per row: {rows}; largest |diff| to the agreed picture: "
        + ", ".join(f"{m} {v:.2f}" for m, v in worst.items())
        + ("" if bad else ": SAME")
    )
    return [f"{name}: {m} frame {f} differs from {ref} (mean |diff| {d:.1f})" for m, f, d, ref in bad]


def spread(values: list[float]) -> dict:
    """Median, min, max and the runs of one measured quantity."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def fmt(s: dict, digits: int = 2) -> str:
    """``median (min-max)``, the range only when there is more than one run."""
    if len(s["runs"]) == 1:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


#: a call is over when the process spends less than this CPU in a SETTLE_WINDOW_S sleep
SETTLE_QUIET_S = 0.0002
SETTLE_WINDOW_S = 0.002


def settle(limit_s: float = 0.5) -> float:
    """CPU seconds the process still spends after a call returned, until a quiet
    ``SETTLE_WINDOW_S`` (at most ``limit_s`` of waiting): decoder threads finishing or reading
    ahead (decord ~12 ms and torchcodec 1.5-3 ms after a 176x144 clip's call), which a CPU
    clock read right away would charge to whatever row runs next."""
    spent = waited = 0.0
    while waited < limit_s:
        t0 = time.process_time()
        time.sleep(SETTLE_WINDOW_S)
        d = time.process_time() - t0
        spent += d
        waited += SETTLE_WINDOW_S
        if d < SETTLE_QUIET_S:
            break
    return spent


def timed_call(call, k: int, prep=None) -> float:
    """CPU seconds of ``call(k)``, charged until the process is quiet again (:func:`settle`);
    ``prep()`` and whatever ran before are nobody's."""
    if prep is not None:
        prep()
    settle()
    t0 = time.process_time()
    call(k)
    return time.process_time() - t0 + settle()


def cpu_pass(calls: dict, n: int, prep, per_clip: dict | None = None) -> dict[str, float]:
    """CPU ms per clip of every row: one warm pass, then interleaved and rotated clip by clip;
    ``prep()`` runs (untimed) before each timed call of a dataset row. A row is charged what the
    process spends until it is quiet again (:func:`settle`), not only until the call returns.
    ``per_clip``: filled with each row's CPU ms of every clip (the pairs goal 2 is judged on)."""
    for k in range(n):
        for f in calls.values():
            f(k)
    per = {m: [0.0] * n for m in calls}
    names = list(calls)
    for k in range(n):
        for m in names[k % len(names) :] + names[: k % len(names)]:
            per[m][k] = 1000 * timed_call(calls[m], k, prep if m in DATASET_ROWS else None)
    if per_clip is not None:
        per_clip.update(per)
    return {m: sum(v) / n for m, v in per.items()}


def abba_pass(raw, item, n: int, prep) -> tuple[list[float], list[float]]:
    """One pair of rows through :func:`abba_passes`."""
    return abba_passes({"": (raw, item)}, n, prep)[""]


def abba_passes(rows: dict, n: int, prep) -> dict[str, tuple[list[float], list[float]]]:
    """Goal 2's own pairs (``--pairs``): for each ``rows[name] = (raw, item)``, per clip ``raw(k)``,
    ``item(k)``, ``item(k)``, ``raw(k)`` (a drift within a clip cancels), the rows one after the
    other within each clip; CPU ms of each call averaged over its two calls; one untimed warm pass
    first. ``prep()`` runs (untimed) before each ``item`` call."""
    for k in range(n):
        for raw, item in rows.values():
            raw(k)
            item(k)
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in rows}
    for k in range(n):
        for name, (raw, item) in rows.items():
            r1 = timed_call(raw, k)
            d1 = timed_call(item, k, prep)
            d2 = timed_call(item, k, prep)
            r2 = timed_call(raw, k)
            out[name][0].append(500 * (r1 + r2))
            out[name][1].append(500 * (d1 + d2))
    return out


def frame_plans(full: MovingFashionDataset, items: list[int]) -> list[tuple]:
    """(video, frame indices) each ``crop="frame"`` item of ``items`` decodes (its own draw: whole
    frames sample every frame, not only the boxed ones), what its raw rows read."""
    out = []
    for i in items:
        rec, vi, idx = full.plan(i)
        out.append((rec.videos[vi].rel_path, idx))
    return out


def device_crop_cost(full: MovingFashionDataset, items: list[int], size: int) -> tuple[list[float], list]:
    """CPU ms of :func:`~movingfashion.models.crops.crops_from_frames` cutting ``size`` crops out of each
    whole-frame item of ``items`` (its boxes; the whole frame where it has none) with one torch thread:
    the work ``crop="frame"`` leaves to the device. Also the distinct (H, W) of the items' frames."""
    from movingfashion.models.crops import crops_from_frames

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spent, sizes = [], []
        for i in items:
            it = full[i]
            frames = it["frames"].permute(0, 2, 3, 1).numpy()
            boxes = [None if math.isnan(float(b[0])) else b.numpy() for b in it["boxes"]]
            crops_from_frames(frames, boxes, size)  # warm
            spent.append(1000 * timed_call(lambda k, f=frames, b=boxes: crops_from_frames(f, b, size), 0))
            if list(frames.shape[1:3]) not in sizes:
                sizes.append(list(frames.shape[1:3]))
    finally:
        torch.set_num_threads(threads)
    return spent, sizes


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile (Hill's expansion around the normal one: within 0.1% of the exact
    value for df >= 10, within 1% for df >= 3)."""
    z = statistics.NormalDist().inv_cdf(p)
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def paired_ratio(num: list[float], den: list[float], level: float = 0.95) -> dict:
    """``num / den`` from per-clip pairs (the same clip read both ways): the geometric mean of the
    clips' ratios and its ``level`` confidence interval (t interval on the log ratios). Pairing
    takes out what the clips differ by (video, crop sizes, shop image); what is left is each
    call's own noise, which the interval shows and more pairs shrink."""
    logs = [math.log(a / b) for a, b in zip(num, den, strict=True) if a > 0 and b > 0]
    n = len(logs)
    mean = statistics.fmean(logs) if logs else float("nan")
    if n < 2:
        return {
            "ratio": math.exp(mean) if logs else float("nan"),
            "low": float("nan"),
            "high": float("nan"),
            "pairs": n,
            "sd_log": float("nan"),
        }
    sd = statistics.stdev(logs)
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return {
        "ratio": math.exp(mean),
        "low": math.exp(mean - half),
        "high": math.exp(mean + half),
        "pairs": n,
        "sd_log": sd,
        "level": level,
    }


def decided(ci: dict, goal: float) -> str:
    """OK / NOT MET on a paired ratio's point estimate, and whether its interval decides it."""
    if not ci["pairs"] or math.isnan(ci["low"]):
        return ok(ci["ratio"] >= goal)
    side = "met" if ci["low"] >= goal else "not met" if ci["high"] < goal else None
    pct = f"{100 * ci.get('level', 0.95):.0f}%"
    # the interval rounded outwards: a low end of 0.9495 shows as 0.949, not as the goal itself
    low, high = math.floor(ci["low"] * 1000) / 1000, math.ceil(ci["high"] * 1000) / 1000
    what = f"{ci['pairs']} pairs, {pct} CI {low:.3f}-{high:.3f}"
    if side is None:
        return f"{ok(ci['ratio'] >= goal)}, UNDECIDED ({what} straddles {goal}: more --pairs)"
    return f"{ok(ci['ratio'] >= goal)} ({what}: {side})"


def clip_plans(live: MovingFashionDataset, copy: MovingFashionDataset, items: list[int]) -> list[tuple]:
    plans = []
    for i in items:
        rec, vi, idx = live.plan(i)
        v = rec.videos[vi]
        plans.append((v.rel_path, idx, [v.boxes[f] for f in idx], rec.shop_path))
    assert all(copy.plan(i)[2] == p[1] for i, p in zip(items, plans, strict=True)), "copy plans differ"
    return plans


def usable_decoders(root: Path, plans: list[tuple]) -> list[str]:
    """The raw decoders that open every video of ``plans``; one that refuses one (a reader that
    knows it would return other frames there) is left out with one line."""
    names = ["pyav", "decord"] + (["torchcodec"] if torchcodec_problem() is None else [])
    out = []
    for b in names:
        try:
            for rel in sorted({p[0] for p in plans}):
                READERS[b](str(root / rel))
        except OSError as exc:
            print(f"   raw {b}: left out, it refuses {rel}: {exc}")
            continue
        out.append(b)
    return out


@dataclass(frozen=True)
class LoaderRun:
    """What every family's rows read, built once by :func:`run` from the parsed arguments."""

    root: Path  #: the official-format dataset folder
    live: MovingFashionDataset  #: its train split, uint8 crops (``dataset[i]``)
    live_f32: MovingFashionDataset  #: the same as float32 (``dataset[i] f32``)
    full: MovingFashionDataset  #: whole frames at the video's size, the pixel check's ``dataset[i]``
    copy: MovingFashionDataset  #: reading the training copy (``copy[i]``)
    cache: MovingFashionDataset  #: reading the crop cache (``cache[i]``)
    copy_dir: Path
    cache_dir: Path
    threads: int | None  #: the official way's FFmpeg threads (None: OpenCV's default)
    args: argparse.Namespace


@dataclass(frozen=True)
class FamilyDraws:
    """One family's clips: ``draws`` the items of each repeat of the CPU loop (fresh RRS draws;
    the first one also feeds the wall-clock rows), ``witems`` goal 3's, ``pair_items`` goal 2's
    extra pairs (:func:`abba_pass`), on draws of their own."""

    name: str
    draws: list[list[int]]
    witems: list[int]
    pair_items: list[int] | None = None


def family_run(setup: LoaderRun, family: FamilyDraws) -> dict:
    """One family's rows, figures and table (see :class:`LoaderRun`, :class:`FamilyDraws`)."""
    root, live, live_f32, full, copy, cache = (
        setup.root,
        setup.live,
        setup.live_f32,
        setup.full,
        setup.copy,
        setup.cache,
    )
    copy_dir, cache_dir, threads, args = setup.copy_dir, setup.cache_dir, setup.threads, setup.args
    name, draws, witems, pair_items = family.name, family.draws, family.witems, family.pair_items
    items = draws[0]
    n = len(items)
    raw_names = usable_decoders(root, clip_plans(live, copy, items))
    readers = {b: {} for b in raw_names}
    cold = args.shop_cache == "cold"
    prep = _shop_image.cache_clear if cold else (lambda: None)
    mismatches = pixel_check(name, root, live, full, items[0], raw_names, threads)

    frame_row = not args.no_frame_row

    def make_calls(items: list[int]) -> tuple[dict, list[tuple]]:
        plans = clip_plans(live, copy, items)
        fplans = frame_plans(full, items) if frame_row else []

        def raw(b, plans=plans):
            def go(k):
                rel, idx = plans[k][0], sorted(set(plans[k][1]))
                r = readers[b].get(rel)
                if r is None:
                    r = readers[b][rel] = READERS[b](str(root / rel))
                r.get(idx)

            return go

        calls = {f"raw {b}": raw(b) for b in raw_names}
        calls["dataset[i]"] = lambda k: live[items[k]]
        calls["dataset[i] f32"] = lambda k: live_f32[items[k]]
        calls["copy[i]"] = lambda k: copy[items[k]]
        calls["cache[i]"] = lambda k: cache[items[k]]
        calls["official"] = lambda k: official_clip(root, *plans[k][:3], plans[k][3], threads)
        if frame_row:  # whole frames (crops cut on the device), and each raw decoder on their frames
            calls["dataset[i] frame"] = lambda k: full[items[k]]
            calls.update({f"raw {b} frame": raw(b, fplans) for b in raw_names})
        return calls, plans

    # CPU time per clip, interleaved and rotated clip by clip, once per repeat on fresh draws
    runs, clips = [], {}
    for rep_items in draws:
        calls_r, _ = make_calls(rep_items)
        per: dict[str, list[float]] = {}
        runs.append(cpu_pass(calls_r, len(rep_items), prep, per))
        for m, v in per.items():
            clips.setdefault(m, []).extend(v)
    calls, plans = make_calls(items)
    cpu_runs = {m: [r[m] for r in runs] for m in calls}
    cpu = {m: statistics.median(v) for m, v in cpu_runs.items()}
    # goal 2 on pairs: every clip of every run read by the fastest raw decoder (over all runs) and
    # by dataset[i], plus --pairs clips of their own (raw, item, item, raw)
    fastest = min(raw_names, key=lambda b: sum(clips[f"raw {b}"]))
    num, den = list(clips[f"raw {fastest}"]), list(clips["dataset[i]"])
    fnum, fden = (
        (list(clips[f"raw {fastest} frame"]), list(clips["dataset[i] frame"])) if frame_row else ([], [])
    )
    if pair_items:  # one pass: per clip raw, item, item, raw for the crops, then for whole frames
        calls_p, _ = make_calls(pair_items)
        rows = {"crops": (calls_p[f"raw {fastest}"], calls_p["dataset[i]"])}
        if frame_row:
            rows["frame"] = (calls_p[f"raw {fastest} frame"], calls_p["dataset[i] frame"])
        got = abba_passes(rows, len(pair_items), prep)
        num, den = num + got["crops"][0], den + got["crops"][1]
        if frame_row:
            fnum, fden = fnum + got["frame"][0], fden + got["frame"][1]
    ratios = {
        "overhead_paired": paired_ratio(num, den),
        "copy_cpu_x": spread([r["official"] / r["copy[i]"] for r in runs]),
        "overhead": spread([min(r[f"raw {b}"] for b in raw_names) / r["dataset[i]"] for r in runs]),
        "overhead_f32": spread([min(r[f"raw {b}"] for b in raw_names) / r["dataset[i] f32"] for r in runs]),
    }
    cpu_x = {m: spread([r["official"] / r[m] for r in runs]) for m in calls}
    # wall clock, clips/s (one run, on the first draw)
    rate = {"official": wall_rate(lambda: [calls["official"](k) for k in range(n)], n)}
    for b in raw_names:
        rate[f"raw {b}"] = wall_rate(lambda b=b: [calls[f"raw {b}"](k) for k in range(n)], n)
    rate["loader 0w"] = loader_rate(shop_regime(live, cold), items, 0)
    rate["loader 0w f32"] = loader_rate(shop_regime(live_f32, cold), items, 0)
    rate["copy 0w"] = loader_rate(shop_regime(copy, cold), items, 0)
    rate["cache 0w"] = loader_rate(shop_regime(cache, cold), items, 0)
    frame = None
    if frame_row:
        rate["loader 0w frame"] = loader_rate(shop_regime(full, cold), items, 0)
        crops_ms, sizes = device_crop_cost(full, items, CROP)
        frame = {
            "crop": full.crop,
            "sizes": sizes,
            "overhead_paired": paired_ratio(fnum, fden),
            "pairs_ms": {f"raw {fastest}": fnum, "dataset[i] frame": fden},
            "crops_from_frames_ms": spread(crops_ms),
            "torch_threads": 1,
        }
    scaling = {}
    if not args.no_workers:
        scaling = worker_rows(live, copy, cache, witems, args)
        rate.update({f"{k} 2w": v["2w"] for k, v in scaling.items()})
    # bytes per frame and decoded frames per returned frame
    rels = sorted({p[0] for p in plans})
    nframes = sum(len(READERS["pyav"](str(root / r))) for r in rels)
    video_b = sum((root / r).stat().st_size for r in rels)
    boxed = sum(len(json.loads(copy_entry(copy_dir, r)[1].read_text())["frames"]) for r in rels)
    copy_b = sum(copy_entry(copy_dir, r)[0].stat().st_size for r in rels)
    cache_b = sum(cache_entry(cache_dir, r)[0].stat().st_size for r in rels)
    counter: dict[str, PyAVReader] = {}
    for rel, idx, _, _ in plans:
        counter.setdefault(rel, PyAVReader(str(root / rel))).get(sorted(set(idx)))
    # per frame returned: T a clip, a frame drawn twice by RRS decoded once
    returned = sum(len(p[1]) for p in plans)
    decoded = sum(r.frames_decoded for r in counter.values()) / returned
    # packets handed to the decoder (the non-reference ones it drops unwanted included)
    packets = sum(r.packets_decoded for r in counter.values()) / returned
    auto = live.cache.get(root / plans[0][0]).backend
    base = rate["official"]
    print(
        f"\n== {name}: {n} clips x {len(draws)} CPU runs; auto decodes with {auto}; {decoded:.1f} frames decoded"
        f" ({packets:.1f} packets) per returned frame (pyav, {args.frames_per_clip} returned per clip); shop-image cache {args.shop_cache}"
    )
    print(
        f"   {'method':<16}{'clips/s':>9}{'x official':>12}{'CPU ms/clip':>22}{'CPU x official':>24}"
        "   (CPU: median (min-max) of the runs)"
    )
    cpu_key = {
        "loader 0w": "dataset[i]",
        "loader 0w f32": "dataset[i] f32",
        "copy 0w": "copy[i]",
        "cache 0w": "cache[i]",
        "loader 0w frame": "dataset[i] frame",
    }
    for m, v in rate.items():
        c = cpu_key.get(m, m)
        cols = f"  {fmt(spread(cpu_runs[c]), 1):>20}  {fmt(cpu_x[c]):>22}" if c in cpu_runs else ""
        print(f"   {m:<16}{v:>9.1f}{v / base:>11.2f}x{cols}")
    print(
        f"   bytes per frame: video {video_b / nframes / 1024:.1f} KB, training copy {copy_b / boxed / 1024:.1f} KB, "
        f"crop cache {cache_b / boxed / 1024:.1f} KB"
    )
    return {
        "auto_backend": auto,
        "clips": n,
        "cpu_runs": len(draws),
        "shop_cache": args.shop_cache,
        "clips_per_s": rate,
        "cpu_ms_per_clip": cpu,
        "cpu_ms_per_clip_runs": cpu_runs,
        "ratios": ratios,
        "decoded_per_returned": decoded,
        "packets_per_returned": packets,
        "kb_per_frame": {
            "video": video_b / nframes / 1024,
            "copy": copy_b / boxed / 1024,
            "cache": cache_b / boxed / 1024,
        },
        "overhead_ratio": ratios["overhead"]["median"],
        "overhead_ratio_f32": ratios["overhead_f32"]["median"],
        "fastest_raw": fastest,
        "overhead_paired": ratios["overhead_paired"],
        "overhead_pairs_ms": {"raw": num, "dataset[i]": den},
        "workers": scaling,
        "pixel_mismatches": mismatches,
        "frame_row": frame,
    }


def worker_rows(live, copy, cache, witems: list[int], args: argparse.Namespace) -> dict[str, dict]:
    """Goal 3 per row of ``--worker-rows``: the one-pass figure (the second pass of
    ``witems`` with 0 and with 2 workers, one run each: what this benchmark printed before) and
    the steady one (:func:`steady_scaling`; the live loader on one round, its batches already
    cost 100-400 ms)."""
    cold = args.shop_cache == "cold"
    out = {}
    for key, ds in (("loader", live), ("copy", copy), ("cache", cache)):
        if key not in args.worker_rows:
            continue
        chunks = (1,) if key == "loader" else args.worker_chunks
        r0 = loader_rate(shop_regime(ds, cold), witems, 0, args.worker_batch)
        r2 = loader_rate(shop_regime(ds, cold), witems, 2, args.worker_batch, chunks[0])
        rounds = 1 if key == "loader" else args.worker_rounds
        steady = steady_scaling(
            shop_regime(ds, cold), witems, args.worker_batch, rounds, args.worker_repeat, chunks
        )
        out[key] = {"0w": r0, "2w": r2, "ratio": r2 / r0, "clips": len(witems), "batch": args.worker_batch}
        out[key]["steady"] = steady
    return out


def print_workers(workers: dict[str, dict]) -> None:
    """Goal 3's lines: the steady ratio it is judged on, the one-pass figure, where a 2-worker
    pass's wall clock went."""
    if not workers:
        return
    first = next(iter(workers.values()))
    st = {k: v["steady"]["ratio"] for k, v in workers.items()}
    chunk = {k: v["steady"].get("chunk", 1) for k, v in workers.items()}
    print(
        f"   3. 2 workers / 0 workers (wall, batches of {first['batch']}; steady: one epoch of "
        + ", ".join(f"{k} {v['steady']['batches']}" for k, v in workers.items())
        + f" batches, median (min-max) of {len(first['steady']['ratio']['runs'])} interleaved pairs): "
        + ", ".join(
            f"{k} {fmt(v)}x" + (f" (chunk {chunk[k]})" if chunk[k] > 1 else "") for k, v in st.items()
        )
        + f" (goal >= {GOAL_WORKERS}): {ok(min(v['median'] for v in st.values()) >= GOAL_WORKERS)}"
    )
    print(
        f"      one pass of {first['clips']} clips ({-(-first['clips'] // first['batch'])} batches, one run, the"
        " epoch's start and end included): " + ", ".join(f"{k} {v['ratio']:.2f}x" for k, v in workers.items())
    )
    for k, v in workers.items():
        by_chunk = v["steady"].get("by_chunk") or {1: v["steady"]}
        for c, r in by_chunk.items():
            name = f"{k} chunk {c}" if len(by_chunk) > 1 else k
            sp, cpu = r["split"], r.get("cpu_ms_per_batch") or {}
            if len(by_chunk) > 1:
                print(f"      {name}: steady {fmt(r['ratio'])}x")
            if sp:
                print(
                    f"      {name} 2w epoch: each worker ran {100 * sp['run']:.0f}%, waited for a core"
                    f" {100 * sp['queue']:.0f}%, idle {100 * sp['idle']:.0f}% of it; main process ran"
                    f" {100 * sp['main_run']:.0f}% and waited for a core {100 * sp['main_queue']:.0f}%"
                )
            if cpu.get(0) and cpu.get(2):
                print(
                    f"      {name} CPU ms per batch: 0 workers {cpu[0]['main']:.1f}; 2 workers"
                    f" {cpu[2]['workers']:.1f} in the workers + {cpu[2]['main']:.1f} in the main process"
                )
            b = r.get("bound")
            if b:
                print(
                    f"      {name} bound on this machine (this pair's CPU ms per batch): {b['cores']} cores x"
                    f" 0 workers {b['cpu0_ms']:.1f} / 2 workers {b['cpu2_ms']:.1f} (workers + main) ="
                    f" {b['cpu']:.2f}x with a core per process; {b['wall']:.2f}x with this run's 0-worker"
                    f" wall ({b['wall0_ms']:.1f} ms per batch, other load included)"
                )
            flt = r.get("faults_per_batch") or {}
            if flt.get(0) and flt.get(2):
                print(
                    f"      {name} minor page faults per batch: 0 workers {flt[0]['main']:.0f}; 2 workers"
                    f" {flt[2]['workers']:.0f} in the workers + {flt[2]['main']:.0f} in the main process"
                )


def print_frame_line(f: dict) -> None:
    """Goal 2's second line (``frame_row``): the alternative where ``dataset[i]`` returns whole frames
    and the crops are cut on the device; not the verdict of record, and with the CPU cost of the
    crops it leaves to do (:func:`device_crop_cost`)."""
    fr = f.get("frame_row")
    if not fr:
        return
    pr, cf = fr["overhead_paired"], fr["crops_from_frames_ms"]
    sizes = ", ".join(f"{w}x{h}" for h, w in fr["sizes"])
    print(
        f'   2. alternative, crops cut on the device (not the verdict): dataset[i] crop="{fr["crop"]}" (whole'
        f" frames {sizes}) / raw {f['fastest_raw']} on the same frames, CPU time at 0 workers; goal >="
        f" {GOAL_OVERHEAD}: per-clip pairs {pr['ratio']:.3f}: {decided(pr, GOAL_OVERHEAD)}"
    )
    print(
        f"      the work moves, it is not removed: crops_from_frames ({CROP}x{CROP}, RoIAlign bilinear, not"
        f" the crops' INTER_AREA) costs {fmt(cf, 1)} CPU ms a clip at {fr['torch_threads']} torch thread"
        f" (median (min-max) of {len(cf['runs'])} clips), on the device in training"
    )


def ok(flag: bool) -> str:
    return "OK" if flag else "NOT MET"


def verdict(value: float, s: dict | None, goal: float, met: bool | None = None) -> str:
    """OK / NOT MET on ``value`` (a median) against ``goal`` (higher is better), plus "within
    noise" when the runs' range ``s`` straddles the goal."""
    out = ok(value >= goal if met is None else met)
    if s is not None and len(s["runs"]) > 1 and s["min"] < goal <= s["max"]:
        out += f" (within noise: runs {s['min']:.2f}-{s['max']:.2f} straddle {goal})"
    return out


def print_goals(fams: dict[str, dict], report: dict) -> None:
    print(
        f"\n== goals (load average {report['load_start']:.1f} at start, {report['load_end']:.1f} at end; "
        f"CPU ratios: median (min-max) of {report.get('repeat', 1)} runs; shop-image cache "
        f"{report.get('shop_cache', 'warm')})"
    )
    for name, f in fams.items():
        r, kb = f["clips_per_s"], f["kb_per_frame"]["copy"]
        copy_x = r.get("copy 2w", r["copy 0w"]) / r["official"]
        cx, oh, oh32 = f["ratios"]["copy_cpu_x"], f["ratios"]["overhead"], f["ratios"]["overhead_f32"]
        kind = {True: "camera", False: "not camera", None: "?"}[f["camera"]]
        print(f"-- {name} ({f['size']}, {kind})")
        met1 = min(copy_x, cx["median"]) >= GOAL_COPY_X and kb <= GOAL_COPY_KB
        print(
            f"   1. training copy {copy_x:.1f}x the official way (wall, one run, {'2' if 'copy 2w' in r else '0'} "
            f"workers; CPU time {fmt(cx, 1)}x) at {kb:.1f} KB/frame: {verdict(cx['median'], cx, GOAL_COPY_X, met1)}"
        )
        pr = f.get("overhead_paired")
        if pr is None:
            judged = verdict(oh["median"], oh, GOAL_OVERHEAD)
        else:
            judged = f"per-clip pairs {pr['ratio']:.3f}: {decided(pr, GOAL_OVERHEAD)}"
        print(
            f"   2. dataset[i] / fastest raw decoder ({f['fastest_raw']}), CPU time at 0 workers: uint8 "
            f"{fmt(oh)}, float32 {fmt(oh32)} (runs: median (min-max)); goal >= {GOAL_OVERHEAD}: {judged}"
        )
        print_frame_line(f)
        print_workers(f["workers"])
        bad = f["pixel_mismatches"]
        print(
            "   pixels: every row returns the same frames"
            if not bad
            else f"   pixels: {len(bad)} DIFFERENCES (the ratios compare different pictures): "
            + "; ".join(bad[:5])
        )


if __name__ == "__main__":
    exit_on_error(main)
