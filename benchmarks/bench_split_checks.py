"""The split-file rules at the real archive's scale: the per-box way vs the one-pass way.

Generates, in a temp folder, an archive-layout ``train.json`` of ``--tracklets`` tracklets
(default 1,700) of ``--boxes`` boxes each (default 390; the real train split holds ~8x as many
tracklets, ~5M boxes), a ``test.json`` of one video a product, and empty media files. A few
tracklets hold one box the archive never holds (zero width, zero height, left of or above the
picture), so both ways also report findings. Then measures three things, each in a fresh process
per way (process CPU seconds, robust to other load on a shared machine, and wall-clock seconds):

* ``split_findings``: :func:`schemas.official_checks.split_findings` of both split files, read;
* ``schema validate``: ``mf schema validate train.json test.json --json``, end to end in-process
  (its reads included, its imports not);
* ``verify tracklets``: ``mf verify``'s tracklets check (:meth:`_Audit.tracklets`: frame keys in
  the video, boxes inside the frame) over both splits, every video's facts given (the media are
  empty files here, so nothing decodes).

The old way is the same code with the one-pass checks switched off (every box through
``box_problem``, every frame key and box through verify's loop): what the checks did before. Both
ways must give the same result (a digest of the findings, of the output, of the breaks), else the
script exits 1 after printing everything.

Usage: python benchmarks/bench_split_checks.py [--tracklets 1700] [--boxes 390] [--repeat 1]
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import split_bench  # noqa: E402
from split_bench import Result, digest, random_tracklet, write_dataset  # noqa: E402

WHATS = ("split_findings", "schema validate", "verify tracklets")
#: the frame size and count every video is given for ``verify tracklets``
WIDTH, HEIGHT, FRAMES_PAST = 1000, 1500, 60
#: every this many tracklets, one holds a bad box (of the kinds below, in turn)
BAD_EVERY = 97
BAD_BOXES = ([10, 40, 10, 80], [10, 40, 30, 40], [-4, 40, 10, 80], [10, -0.5, 30, 80])


def make_dataset(root: Path, tracklets: int, boxes: int, seed: int = 0) -> Path:
    """An archive-layout folder: train.json of ``tracklets`` x ``boxes`` (one video a product, a few
    with three), test.json of 20 one-video products, empty media files; one tracklet in
    :data:`BAD_EVERY` holds one of :data:`BAD_BOXES`."""
    rng = random.Random(seed)
    splits: dict[str, dict[str, Any]] = {"train": {}, "test": {}}
    made = 0
    total = tracklets + 20
    while made < total:
        split = "train" if made < tracklets else "test"
        pid = f"{split[:2]}{len(splits[split]):07d}"
        n = 1 if split == "test" or rng.random() < 0.95 else min(3, tracklets - made)
        trks = [random_tracklet(rng, boxes) for _ in range(n)]
        for i, trk in enumerate(trks):
            if (made + i) % BAD_EVERY == BAD_EVERY - 1:
                bad = BAD_BOXES[(made + i) // BAD_EVERY % len(BAD_BOXES)]
                trk[rng.choice(list(trk))] = list(bad)
        source = rng.choice([0, 1])
        splits[split][pid] = {
            "video_paths": [f"videos/{pid}_{v}.mp4" for v in range(n)],
            "img_path": f"imgs/{pid}{'.jpg' if source == 1 else '.png'}",
            "source": source,
            "tracklets": trks,
        }
        made += n
    return write_dataset(root, splits)


def old_way() -> contextlib.ExitStack:
    """The checks as they were: every box through ``box_problem``, every frame key and box of
    verify's tracklets check through its loop."""
    from unittest import mock

    from movingfashion.archive import verify
    from schemas import official_checks

    never = lambda *a, **k: False  # noqa: E731
    stack = contextlib.ExitStack()
    for module in (official_checks, verify):
        stack.enter_context(mock.patch.object(module, "archive_boxes_valid", never))
    stack.enter_context(mock.patch.object(verify, "_tracklet_fits", never))
    return stack


def _verify_audit(root: Path) -> Any:
    """A verify audit of ``root`` with its splits loaded and every video's facts given."""
    from movingfashion.archive.verify import VideoFacts, _Audit

    audit = _Audit(root, False, 1, None)
    audit.load()
    for p in audit.products:
        for i, rel in enumerate(p.videos):
            last = max(map(int, p.tracklets[i]), default=0) if p.tracklets else 0
            audit.facts[rel] = VideoFacts(last + FRAMES_PAST, WIDTH, HEIGHT)
    return audit


def run_child(root: Path, what: str, way: str) -> Result:
    """Measure one ``what`` one ``way`` in this process: seconds, CPU seconds, a digest of the result."""
    import numpy  # noqa: F401 - imported before the clock by both ways (the reader imports it anyway)

    from movingfashion.app.cli import cli
    from schemas.cli_support import run_main
    from schemas.official import read_official
    from schemas.official_checks import split_findings

    files = [str(root / "train.json"), str(root / "test.json")]
    audit = _verify_audit(root) if what == "verify tracklets" else None
    splits = {Path(f).stem: read_official(f) for f in files} if what == "split_findings" else None
    out = io.StringIO()
    with old_way() if way == "old" else contextlib.nullcontext():
        t0, c0 = time.perf_counter(), time.process_time()
        if what == "split_findings":
            result: Any = [f.as_dict() for f in split_findings(splits, tests={"test"})]
        elif what == "schema validate":
            with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
                run_main(cli, ["schema", "validate", *files, "--json"])
            result = out.getvalue()
        else:
            audit.tracklets()
            result = [[r.name, r.checked, [str(b) for b in r.breaks]] for r in audit.results.values()]
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    findings = (
        len(result)
        if what == "split_findings"
        else sum(len(f["findings"]) for f in json.loads(result)["files"].values())
        if what == "schema validate"
        else sum(len(r[2]) for r in result)
    )
    return {"seconds": seconds, "cpu": cpu, "findings": findings, "digest": digest(result)}


def _header(args: Any, size: float) -> str:
    return (
        f"== split-file checks: {args.tracklets} tracklets x {args.boxes} boxes "
        f"({args.tracklets * args.boxes} boxes, one tracklet in {BAD_EVERY} with a bad box), "
        f"train.json {size:.1f} MB; each way in a fresh process, best of {args.repeat} by CPU "
        "time (robust to other load; wall clock beside it)"
    )


COLUMNS = (
    f"{'what':<16} {'old cpu s':>9} {'new cpu s':>9} {'ratio':>7} {'old wall':>9} {'new wall':>9} "
    f"{'findings':>8}  same result"
)


def _row(what: str, old: Result, new: Result, same: bool) -> str:
    return (
        f"{what:<16} {old['cpu']:>9.2f} {new['cpu']:>9.2f} {old['cpu'] / new['cpu']:>6.1f}x "
        f"{old['seconds']:>9.2f} {new['seconds']:>9.2f} {new['findings']:>8}  "
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
        differ="the old and the new way found different things",
    )


if __name__ == "__main__":
    raise SystemExit(main())
