"""What reads the split files for a few videos costs: naming a tracklet file, starting imported
videos from their split-file entries, recording an accept/reject on a published folder.

Generates, in a temp folder, a ``train.json`` of ``--videos`` one-video products of ``--boxes``
boxes each (``bench_review_queue.make_archive``, described once as ``mf publish`` would:
tables, card, manifest), then measures, each against its baseline in the same run (the old way:
the split files parsed whole with every box), best of ``--repeat`` by process CPU time:

- ``tracklet_file`` the first time (which videos several products list): the heads read
  (``read_official_heads_rows``) against ``read_official_rows``, in a fresh process (the heads
  scan costs about as much CPU as the whole read) and after the heads were read (by the review
  page's queue, the importer, the review list: then kept, not read again);
- ``--imports`` videos without a tracklet file started from their split-file entries (what
  ``mf-tracklets import`` reads for each): the heads and that entry alone against
  ``load_splits`` once per video;
- ``mf-tracklets review --accept`` on the published folder: the command as it is against the
  same command plus the refresh it ran before (tables rewritten from the split files read whole);
- what one ``mf-tracklets qa --reference`` run reads of the split files (``reference_boxes`` and
  the scored videos' list, ``listed_videos``; the folder is its own reference, read whole as
  before), in a fresh process each (CPU and peak memory): the dataset's video lists from the
  heads read once, against ``load_splits`` twice.

Usage: python benchmarks/bench_light_split_reads.py [--videos 3000] [--boxes 390] [--imports 20]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_review_queue import make_archive  # noqa: E402
from timing import best_of  # noqa: E402

import schemas.official as official  # noqa: E402
from annotations.tracklet_files import _SHARED, load_splits, shared_videos, tracklet_file  # noqa: E402
from movingfashion.archive.describe import describe, refresh  # noqa: E402
from schemas.cli_support import run_main  # noqa: E402


def _fresh() -> None:
    """Nothing kept from an earlier read of the split files (a new process)."""
    official._entry_spans.clear()
    official._listings.clear()
    _SHARED.clear()


def _qa(root: Path, way: str) -> None:
    """What one ``mf-tracklets qa`` run reads of the split files (``reference_boxes`` and the
    scored videos' list), ``way`` old: the dataset's split files parsed whole by each; prints
    the process's CPU seconds, peak RSS (MB) and a digest of the result."""
    import annotations.tracklet_files as tf
    from annotations.qa import listed_videos, reference_boxes

    if way == "old":
        tf.load_split_heads = tf.load_splits  # type: ignore[assignment]
    c = time.process_time()
    got = repr((sorted(reference_boxes(root, root).items()), listed_videos(root)))
    cpu = time.process_time() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps([cpu, rss, hashlib.sha256(got.encode()).hexdigest()[:16]]))


def _qa_child(root: Path, way: str) -> tuple[float, float, str]:
    """:func:`_qa` in a fresh process (its own peak memory)."""
    cmd = [sys.executable, __file__, "--qa-child", way, "--root", str(root)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu, rss, digest = json.loads(out.strip().splitlines()[-1])
    return cpu, rss, digest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=3_000)
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--imports", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--qa-child", choices=("old", "new"), help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.qa_child:
        _qa(args.root, args.qa_child)
        return 0
    pids = [f"{(i * 7919) % args.videos:07d}" for i in range(args.imports)]
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = make_archive(Path(tmp), args.videos, args.boxes)
        path = root / "train.json"

        def name_new() -> Any:
            _fresh()
            return tracklet_file(root, "videos/0000001_0.mp4", "0000001")

        # after a heads read (name_new's, timed before it, is kept), as the review page's queue,
        # the importer and the review list leave it
        def name_kept() -> Any:
            _SHARED.clear()
            return tracklet_file(root, "videos/0000001_0.mp4", "0000001")

        def name_old() -> Any:
            _fresh()
            return shared_videos({"train.json": official.read_official_rows(path)[0]})

        def start_new() -> Any:
            _fresh()
            for pid in pids:
                video = f"videos/{pid}_0.mp4"
                identity = official.split_identity(path)
                assert video in official.read_official_heads(path)[pid].video_paths
                assert official.read_official_entry(path, pid, video, identity=identity) is not None

        def start_old() -> Any:
            _fresh()
            for pid in pids:
                assert load_splits(root)["train.json"][pid] is not None

        from annotations.cli import tracklets

        describe(root)  # a published folder: its tables, card and manifest
        stems = iter(range(1_000_000))

        def accept_new() -> Any:
            _fresh()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                try:
                    run_main(
                        tracklets, ["review", "--dataset", str(root), "--accept", f"{next(stems):07d}_0"]
                    )
                except SystemExit as exc:
                    assert not exc.code, exc.code

        def accept_old() -> Any:  # the same, then the refresh it ran (the tables from the whole files)
            accept_new()
            refresh(root, changed=[])

        for what, new, old in (
            ("tracklet_file, first call in a fresh process", name_new, name_old),
            (
                "tracklet_file, first call after the heads read (review page, import, review list)",
                name_kept,
                name_old,
            ),
            (f"{args.imports} imported videos started from the split file", start_new, start_old),
            ("mf-tracklets review --accept on a published folder", accept_new, accept_old),
        ):
            old_cpu, old_wall, _ = best_of(old, args.repeat)
            new_cpu, new_wall, _ = best_of(new, args.repeat)
            lines.append(
                f"{what}: {new_cpu:.3f} s CPU, {new_wall:.3f} s wall; split files parsed whole (baseline)"
                f" {old_cpu:.3f} s CPU, {old_wall:.3f} s wall; ratio {old_cpu / max(new_cpu, 1e-6):.1f}x CPU"
            )
        runs = {w: [_qa_child(root, w) for _ in range(args.repeat)] for w in ("old", "new")}
        (old_cpu, old_rss, old_digest), (new_cpu, new_rss, new_digest) = (
            (min(r[0] for r in runs[w]), max(r[1] for r in runs[w]), {r[2] for r in runs[w]})
            for w in ("old", "new")
        )
        lines.append(
            f"mf-tracklets qa's split reads, in a fresh process (the folder its own reference): {new_cpu:.3f} s"
            f" CPU, peak {new_rss:.0f} MB; the dataset's split files parsed whole twice (baseline) {old_cpu:.3f} s"
            f" CPU, peak {old_rss:.0f} MB; ratio {old_cpu / max(new_cpu, 1e-6):.1f}x CPU,"
            f" {old_rss / max(new_rss, 1e-6):.2f}x memory; same result: {len(old_digest | new_digest) == 1}"
        )
    print(f"{args.videos} videos x {args.boxes} boxes (best of {args.repeat}):")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
