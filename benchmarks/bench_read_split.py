"""Reading an official split file at the real dataset's scale: the per-box way vs the one-pass way.

Generates, in a temp folder, a ``train.json`` of ``--tracklets`` tracklets (default 1,700) of
``--boxes`` boxes each (default 390; the real train split holds ~8x as many tracklets), a small
``test.json`` and empty video and shop image files, then measures three things, each in a fresh
process per way (process CPU seconds, robust to other load on a shared machine, and wall-clock
seconds; peak RSS above the process's RSS after its imports):

* ``read_official``: parse and validate ``train.json``;
* ``dataset open``: ``MovingFashionDataset(root, "train")`` (it reads the other split too);
* ``bank reads``: what ``build_bank`` with a cache reads around the dataset: the split's rows
  (parsed once, for the bank key), the key's media stamps (from the listing that read kept),
  the dataset (given those rows: not parsed again), the gallery's shop images.

The old way is the same code with the one-pass checks switched off (every box through the
per-box pydantic validators, every FrameBoxes value by value, the collector on, no split
listing kept): what the reader did before. Both ways must give the same result (a digest of the
parsed split, of the dataset's boxes), else the script exits 1 after printing everything.

Usage: python benchmarks/bench_read_split.py [--tracklets 1700] [--boxes 390] [--repeat 1]
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import split_bench  # noqa: E402
from split_bench import Result, digest, random_tracklet, write_dataset  # noqa: E402

WHATS = ("read_official", "dataset open", "bank reads")


def make_dataset(root: Path, tracklets: int, boxes: int, seed: int = 0) -> Path:
    """An official-format folder: train.json of ``tracklets`` x ``boxes`` (one video a product,
    a few with three), a test.json of 20 products, empty media files."""
    rng = random.Random(seed)
    train: dict[str, Any] = {}
    made = 0
    while made < tracklets:
        pid = f"{len(train):07d}"
        n = 1 if rng.random() < 0.95 else min(3, tracklets - made)
        trks = [random_tracklet(rng, boxes) for _ in range(n)]
        train[pid] = {
            "video_paths": [f"videos/{pid}_{v}.mp4" for v in range(n)],
            "img_path": f"imgs/{pid}.jpg",
            "source": rng.choice([0, 1]),
            "tracklets": trks,
        }
        made += n
    test = {f"t{pid}": dict(e, tracklets=e["tracklets"][:1]) for pid, e in list(train.items())[:20]}
    for split in (train, test):
        for e in split.values():
            e["video_paths"] = e["video_paths"][: len(e["tracklets"])]
    return write_dataset(root, {"train": train, "test": test})


def old_way() -> contextlib.ExitStack:
    """The reader as it was: per-box validators, value-by-value tables, GC on, nothing kept."""
    from unittest import mock

    from movingfashion.frame_boxes import FrameBoxes, FrameScores
    from schemas import official

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(official, "_plain_tracklet", lambda trk, arrays=None: False))
    stack.enter_context(mock.patch.object(official, "canonical_frame_keys", lambda trk: False))
    stack.enter_context(mock.patch.object(official, "gc_paused", contextlib.nullcontext))
    stack.enter_context(mock.patch.object(official, "_remember", lambda *a: None))
    for cls in (FrameBoxes, FrameScores):
        stack.enter_context(mock.patch.object(cls, "_of_plain", classmethod(lambda c, t: None)))
    return stack


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _digest_split(split: Any) -> str:
    from schemas.official import dump_official

    return digest(dump_official(split))


def _digest_dataset(ds: Any) -> str:
    h = hashlib.sha256()
    for rec in ds.products:
        for v in rec.videos:
            h.update(v.rel_path.encode())
            h.update(v.boxes.frames.tobytes())
            h.update(v.boxes.coords.tobytes())
    h.update(repr(sorted(ds.shared_videos)).encode())
    return h.hexdigest()[:16]


def run_child(root: Path, what: str, way: str) -> Result:
    """Measure one ``what`` one ``way`` in this process: seconds, peak RSS above the start, digest."""
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.seam.features import media_stamps
    from schemas.official import read_official, read_official_rows, split_listing

    train = root / "train.json"
    with old_way() if way == "old" else contextlib.nullcontext():
        start_mb = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        if what == "read_official":
            split = read_official(train)
        else:
            rows = read_official_rows(train) if what == "bank reads" else None
            stamps = media_stamps(root, train) if what == "bank reads" else []
            ds = MovingFashionDataset(root, "train", split_rows=rows)
            del rows
            gallery = [img for _, _, img in split_listing(train).products] if what == "bank reads" else []
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if what == "read_official":  # neither timed nor in the peak
        digest = _digest_split(split)
    else:
        digest = _digest_dataset(ds) + f"{len(stamps)}:{len(gallery)}"
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb - start_mb, "digest": digest}


def _header(args: Any, size: float) -> str:
    return (
        f"== split file read: {args.tracklets} tracklets x {args.boxes} boxes "
        f"({args.tracklets * args.boxes} boxes), train.json {size:.1f} MB; each way in a fresh "
        f"process, best of {args.repeat} by CPU time (robust to other load; wall clock beside it); "
        "peak RSS above the process's after imports"
    )


COLUMNS = (
    f"{'what':<14} {'old cpu s':>9} {'new cpu s':>9} {'ratio':>7} {'old wall':>9} {'new wall':>9} "
    f"{'old +MB':>8} {'new +MB':>8}  same result"
)


def _row(what: str, old: Result, new: Result, same: bool) -> str:
    return (
        f"{what:<14} {old['cpu']:>9.2f} {new['cpu']:>9.2f} {old['cpu'] / new['cpu']:>6.1f}x "
        f"{old['seconds']:>9.2f} {new['seconds']:>9.2f} {old['peak_mb']:>8.0f} {new['peak_mb']:>8.0f}  "
        f"{'yes' if same else 'NO'}"
    )


def main(argv: list[str] | None = None) -> int:
    return split_bench.main(
        argv,
        script=__file__,
        doc=__doc__,
        whats=WHATS,
        make_dataset=make_dataset,
        run_child=run_child,
        header=_header,
        columns=COLUMNS,
        row=_row,
        differ="the old and the new way read different results",
    )


if __name__ == "__main__":
    raise SystemExit(main())
