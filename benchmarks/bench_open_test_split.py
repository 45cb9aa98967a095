"""Opening the small test split of a large folder: the other split's listing parsed vs kept.

``MovingFashionDataset(root, "test")`` needs, of ``train.json``, only which videos the two
splits share. The old way parses all of ``train.json`` for it in every new process (seconds at
the archive's size: ~15K products, ~220 MB); the new way reads the listing kept beside it
(``schemas.official.listing_file``, written by the first open of either split).

Also, with ``--what train``: the train split's own open, whose box tables take the arrays the
split reader's check built (``OfficialEntry.box_array``) instead of building each again (the old
way: built again).

For each ``--tracklets`` size this writes, in a temp folder, ``train.json`` of that many tracklets
of ``--boxes`` boxes (``bench_read_split.make_dataset``: ~0.9 products a tracklet) and a
``test.json`` of 20 products, opens the train split once (which keeps the listing), then times
the test split's open both ways in this process, each run as a new process would see it (what
the process kept of the split files forgotten first): best of ``--repeat`` by process CPU time
(``timing.best_of``; wall clock beside it). Also timed: the listing write the train split's open
adds (``store_listing``). Both ways must give the same records (a digest of every video's
frames and boxes, and of which tracklet file each read), else the script exits 1.

Usage: nice python benchmarks/bench_open_test_split.py [--tracklets 3000] [--boxes 390] [--repeat 3]
[--what test train]
(the archive's size and a fifth of it: --tracklets 15000 3000)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_read_split import make_dataset  # noqa: E402
from timing import best_of  # noqa: E402

from movingfashion.dataset import MovingFashionDataset  # noqa: E402
from schemas import official  # noqa: E402


def _forget() -> None:
    """Drop what this process kept of the split files: the next open is a new process's."""
    with official._listings_lock:
        official._listings.clear()
        official._entry_spans.clear()


def old_way() -> contextlib.AbstractContextManager[Any]:
    """The other split parsed at every open (no listing kept on disk read or written), and each
    box table built again from the lists (the reader's arrays not taken)."""
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(official, "_stored_listing", lambda *a: None))
    stack.enter_context(mock.patch.object(official, "_store", lambda *a: None))
    stack.enter_context(mock.patch.object(official.OfficialEntry, "box_array", lambda self, i: None))
    return stack


def records_digest(ds: MovingFashionDataset) -> str:
    """The dataset's :meth:`MovingFashionDataset.records_digest`, shortened for the table."""
    return ds.records_digest()[:16]


def open_test(root: Path, way: str, split: str = "test") -> MovingFashionDataset:
    _forget()
    with old_way() if way == "old" else contextlib.nullcontext():
        return MovingFashionDataset(root, split)


def run_size(tracklets: int, boxes: int, repeat: int, whats: list[str]) -> bool:
    with tempfile.TemporaryDirectory(prefix="mf_bench_open_") as tmp:
        root = make_dataset(Path(tmp) / "ds", tracklets, boxes)
        train = root / "train.json"
        n_products = len(official.split_listing(train).products)
        MovingFashionDataset(root, "train")  # keeps train.json's listing beside it
        store_cpu, _, _ = best_of(lambda: official.store_listing(train), repeat)
        print(
            f"== {tracklets} tracklets x {boxes} boxes: {n_products} products, train.json "
            f"{train.stat().st_size / 1e6:.0f} MB, test.json 20 products; best of {repeat}, CPU s"
        )
        same = True
        for split in whats:
            got: dict[str, tuple[float, float, str]] = {}
            for way in ("old", "new"):
                cpu, wall, ds = best_of(lambda w=way, s=split: open_test(root, w, s), repeat)
                got[way] = (cpu, wall, records_digest(ds))
                del ds
            (oc, ow, od), (nc, nw, nd) = got["old"], got["new"]
            print(f"  {split:<5} split open  old cpu {oc:7.2f}  new cpu {nc:7.2f}  ratio {oc / nc:6.1f}x")
            print(f"                    old wall {ow:6.2f}  new wall {nw:6.2f}")
            print(f"  same records: {'yes' if od == nd else 'NO'} ({od} / {nd})")
            same = same and od == nd
        print(f"  listing write a split's open adds: {store_cpu * 1000:.0f} ms CPU")
        return same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracklets", type=int, nargs="+", default=[3000])
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--what", nargs="+", choices=["test", "train"], default=["test"])
    args = ap.parse_args(argv)
    same = [run_size(n, args.boxes, args.repeat, args.what) for n in args.tracklets]
    if not all(same):
        print("the old and the new way opened different records", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
