"""What the split-file benchmarks (``bench_read_split.py``, ``bench_split_checks.py``) share: a
large official-format folder written at random, the old-vs-new comparison of each measure in fresh
processes of the calling script (best of ``--repeat`` by CPU time, both ways interleaved), its
command line and a digest of a result.

Not a benchmark itself (``run_benchmarks.py`` runs ``bench_*.py`` only): a script imports it as
its sibling (``from split_bench import ...``), as the benchmarks import ``real_clips``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: one measure's result in a child process: ``seconds``, ``cpu`` (process CPU seconds), ``digest``, ...
Result = dict[str, Any]


def random_tracklet(rng: random.Random, boxes: int) -> dict[str, list[int | float]]:
    """``boxes`` consecutive frames from a random start below 50, each a random box; one frame in 4
    of whole numbers (ints stay ints in the file)."""
    start = rng.randrange(50)
    trk: dict[str, list[int | float]] = {}
    for f in range(start, start + boxes):
        x1, y1 = round(rng.uniform(0, 600), 2), round(rng.uniform(0, 900), 2)
        box = [x1, y1, round(x1 + rng.uniform(10, 300), 2), round(y1 + rng.uniform(10, 500), 2)]
        trk[str(f)] = [round(v) for v in box] if f % 4 == 0 else box
    return trk


def write_dataset(root: Path, splits: dict[str, dict[str, Any]]) -> Path:
    """``root`` with ``<split>.json`` of each of ``splits`` and an empty file for every video and
    shop image they list."""
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("videos", "imgs"):
        (root / sub).mkdir(exist_ok=True)
    for split, data in splits.items():
        (root / f"{split}.json").write_text(json.dumps(data))
        for e in data.values():
            for rel in (*e["video_paths"], e["img_path"]):
                (root / rel).touch()
    return root


def digest(value: Any) -> str:
    """A short digest of a JSON-able value (dict keys in order)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def measure(script: str, root: Path, what: str, way: str) -> Result:
    """``script``'s ``run_child`` in a fresh process (its own peak RSS): its last line of JSON."""
    cmd = [sys.executable, script, "--child", way, "--what", what, "--root", str(root)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def best_of(script: str, root: Path, what: str, repeat: int) -> tuple[Result, Result, bool]:
    """The old and the new way's fastest run of ``what`` by CPU time (``repeat`` runs each,
    interleaved: both ways see the same load), and whether every run gave the same digest."""
    runs: dict[str, list[Result]] = {"old": [], "new": []}
    for _ in range(repeat):
        for way in runs:
            runs[way].append(measure(script, root, what, way))
    old, new = (min(runs[w], key=lambda r: r["cpu"]) for w in ("old", "new"))
    same = {r["digest"] for r in runs["old"] + runs["new"]} == {old["digest"]}
    return old, new, same


def main(
    argv: list[str] | None,
    *,
    script: str,
    doc: str,
    whats: Sequence[str],
    make_dataset: Callable[[Path, int, int], Path],
    run_child: Callable[[Path, str, str], Result],
    header: Callable[[argparse.Namespace, float], str],
    columns: str,
    row: Callable[[str, Result, Result, bool], str],
    differ: str,
) -> int:
    """A split benchmark's command line: as a child (``--child``), one measure's JSON line; else
    ``make_dataset`` in a temp folder, ``header`` (given the arguments and train.json's MB),
    ``columns``, and per measure of ``whats`` its :func:`best_of` as ``row``; exit 1 (``differ``
    on stderr) after everything was printed when a measure's two ways disagree."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--tracklets", type=int, default=1700)
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--repeat", type=int, default=1, help="runs per way (the fastest is kept)")
    ap.add_argument("--child", choices=("old", "new"), help=argparse.SUPPRESS)
    ap.add_argument("--what", choices=whats, help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.root, args.what, args.child)))
        return 0
    ok = True
    with tempfile.TemporaryDirectory(prefix=f"{Path(script).stem}-") as tmp:
        root = make_dataset(Path(tmp) / "ds", args.tracklets, args.boxes)
        print(header(args, (root / "train.json").stat().st_size / 1e6))
        print(columns)
        for what in whats:
            old, new, same = best_of(script, root, what, args.repeat)
            ok &= same
            print(row(what, old, new, same))
    if not ok:
        print(differ, file=sys.stderr)
        return 1
    return 0
