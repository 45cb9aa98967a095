"""What a review pick or an import of a few videos costs a published folder's derived files: the
box rows of those videos spliced into ``boxes/<split>.jsonl``, not the tables written whole.

Generates, in a temp folder, a ``train.json`` of ``--videos`` one-video products of ``--boxes``
boxes each (``bench_review_queue.make_archive``, described once as ``mf publish`` would: tables,
card, Croissant metadata, manifest), then times ``--repeat`` rounds of: ``--changed`` videos' new
ground truth put into the split file (``set_official_tracklets``, as an import or a pick does;
not timed) followed by the refresh an import or a pick runs (``describe.refresh`` told the
files it changed). The new way gives the refresh those videos (their rows alone rewritten,
spliced in; the pairs from the split file's heads); the baseline, in the same run, is the old
way: the tables written from the split files read whole, every box row formatted again. Both
ways leave the same bytes (checked: every file of the folder is compared after each round).
The ratio is the baseline's CPU time over the new way's (best of ``--repeat``).

Usage: python benchmarks/bench_published_refresh.py [--videos 3000] [--boxes 390] [--changed 5]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pick_refresh import _Pick  # noqa: E402
from bench_review_queue import make_archive  # noqa: E402
from timing import best_of  # noqa: E402

from annotations.tracklet_files import set_official_tracklets  # noqa: E402
from movingfashion.archive.describe import describe, refresh, tables_current  # noqa: E402


def _digest(root: Path) -> str:
    """One digest of every file of the folder but the dataset's lock (names and bytes)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != ".lock":
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=3_000)
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--changed", type=int, default=5, help="videos whose ground truth each round changes")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    rounds = iter(range(1_000_000))

    def picks() -> list[_Pick]:  # other videos and boxes each round
        n = next(rounds)
        out = []
        for k in range(args.changed):
            pid = f"{((n * args.changed + k) * 7919) % args.videos:07d}"
            boxes = {str(f): [f, 1, f + 10 + n % 7, 20] for f in range(args.boxes)}
            out.append(_Pick(pid, f"videos/{pid}_0.mp4", boxes))
        return out

    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_archive(Path(tmp), args.videos, args.boxes)
        describe(root)  # a published folder
        mb = (root / "boxes/train.jsonl").stat().st_size / 1e6

        def run(way: str) -> Any:
            todo = picks()
            assert tables_current(root)
            set_official_tracklets(root, todo)
            videos = [(p.product_id, p.video) for p in todo] if way == "new" else None
            cpu, wall, _ = best_of(lambda: refresh(root, changed=[], videos=videos), 1)
            digests[way] = _digest(root)
            return cpu, wall

        def whole() -> Any:  # what the refresh after the same change gave before
            return run("old")

        def spliced() -> Any:
            return run("new")

        times: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
        same = True
        for _ in range(args.repeat):  # interleaved: both ways see the same load
            times["old"].append(whole())
            times["new"].append(spliced())
            # the folder the new way left, refreshed whole, is unchanged: the same bytes
            before = digests["new"]
            refresh(root)
            same &= _digest(root) == before
    (old_cpu, old_wall), (new_cpu, new_wall) = (min(times[w]) for w in ("old", "new"))
    print(
        f"refresh after {args.changed} videos' ground truth changed, {args.videos} videos x {args.boxes} boxes"
        f" (boxes/train.jsonl {mb:.0f} MB, best of {args.repeat}): box rows spliced {new_cpu:.3f} s CPU,"
        f" {new_wall:.3f} s wall; tables written whole (baseline) {old_cpu:.3f} s CPU, {old_wall:.3f} s wall;"
        f" ratio {old_cpu / max(new_cpu, 1e-6):.1f}x CPU, {old_wall / max(new_wall, 1e-6):.1f}x wall;"
        f" same bytes as a whole refresh: {same}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
