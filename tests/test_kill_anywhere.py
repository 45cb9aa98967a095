"""Kill anywhere: every long command, SIGKILLed at seeded random moments and rerun, ends exactly
where an uninterrupted run ends.

The pipeline runs once uninterrupted on the small synthetic world (the reference, each stage's
state kept). Then, for each command, a copy of the state before it is run as a chain: started,
killed with SIGKILL (its whole process group: ffmpeg, workers) after a seeded random fraction of
the reference's duration, started again, killed again, ... (``KILLS`` times), and finally run to
the end. The end state must equal the reference's:

* catalog: every row of ``items``, ``assets`` and ``meta``, all columns but the row id and the
  timestamps (``events`` is a log: each killed run may add lines);
* files (collection root, dataset, crop cache, training copy, run folders): the same paths, the
  same SHA-256; hidden files count too, so a leftover partial file fails the test (yt-dlp's
  download archive, a set written in completion order, compares as its sorted lines);
* ``mf train``: ``last.pt`` holds the same epoch, bit-identical model and optimizer tensors and the
  same loss history (a rerun resumes from the last saved epoch with ``--resume``); its cached
  feature bank compares as files;
* ``mf evaluate``: ``results.json`` equal but for the dataset folder it records (each copy has
  its own absolute path); its cached feature bank compares as files.

Every process runs with one CPU thread (``OMP_NUM_THREADS=1``), so float results do not depend on
how threads split the work. Two chains run at a time (one per core).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.damage import catalog_rows, tree_sha

#: ~2.5 min on two idle cores; the limit leaves room for a loaded machine (7 min at load 12)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

KILLS = 3
SEED = 20
BIN = Path(sys.executable).parent
#: loopback site: no need to pace requests like a real shop's
FAST_HTTP = (
    "http:\n  rate_per_host: 1000\n  burst_per_host: 100\n  max_concurrency_per_host: 8\n"
    "  backoff_base_s: 0.01\n  backoff_max_s: 0.05\n  retry_after_max_s: 0.1\n"
)


@dataclass
class Command:
    """One command of the pipeline: its argv (run in the work folder, with paths relative to it, so
    that recorded paths are the same in every copy), and what it changes there."""

    name: str
    argv: list[str]
    compares: tuple[str, ...]  # what to compare: "catalog", "checkpoint", "results", or a folder
    #: a file whose appearance times the first kill (a checkpoint: the rerun must resume from it)
    trigger: str | None = None
    #: the exit status of the uninterrupted run (and of every rerun after a kill)
    rc: int = 0
    runs: list[dict] = field(default_factory=list)


def _commands(fx: dict, base_url: str) -> list[Command]:
    mf = [sys.executable, "-m", "movingfashion"]
    collect = [str(BIN / "mf-collect")]
    common = ["--base-url", base_url, "--workers", "4", "--config", "../http.yaml"]

    def cmd(name, args, compares, trigger=None, rc=0):
        return Command(name, args, compares, trigger, rc)

    return [
        cmd(
            "collect netaporter",
            [*collect, "netaporter", fx["sitemap"], "--root", "data", *common],
            ("catalog", "data"),
        ),
        cmd(
            "collect tiktok",
            [
                *collect,
                "tiktok",
                *fx["tiktok_info"],
                "--shop-map",
                fx["tiktok_shops"],
                "--root",
                "data",
                *common,
            ],
            ("catalog", "data"),
        ),
        cmd(
            "clean",
            [*mf, "clean", "--catalog", "data/catalog.sqlite", "--root", "data"],
            ("catalog", "data"),
        ),
        cmd("splits", [*mf, "splits", "rebuild", "--catalog", "data/catalog.sqlite"], ("catalog",)),
        cmd(
            "publish",
            [*mf, "publish", "--catalog", "data/catalog.sqlite", "--root", "data", "--out", "ds"],
            ("catalog", "ds"),
        ),
        cmd(
            "tracklets build",
            [
                str(BIN / "mf-tracklets"),
                "build",
                "--dataset",
                "ds",
                "--catalog",
                "data/catalog.sqlite",
                "--stride",
                "8",
                "--shard",
                "0/3",
                "--sheets",
            ],
            ("catalog", "ds"),
        ),
        cmd("crop-cache", [*mf, "crop-cache", "ds", "--split", "test", "--out", "cc"], ("cc",)),
        cmd(
            "training-copy",
            [*mf, "training-copy", "--dataset", "ds", "--split", "test", "--out", "tc"],
            ("tc",),
        ),
        cmd(
            "train",
            [
                *mf,
                "train",
                "--dataset",
                "ds",
                "--phase",
                "2",
                "--out",
                "run",
                "--epochs",
                "4",
                "--resume",
            ],
            ("checkpoint", "run/features"),
            "run/last.pt",
            # tracklets are built for shard 0/3 only: the train products without them are skipped
            # and listed, exit 1 (as mf crop-cache and mf training-copy)
            1,
        ),
        cmd(
            "evaluate",
            [
                *mf,
                "evaluate",
                "--dataset",
                "ds",
                "--checkpoint",
                "run/last.pt",
                "--out",
                "eval",
                "--pools",
                "2",
                "--pool-size",
                "6",
                "--frames",
                "5",
                "--main-frames",
                "5",
            ],
            ("results", "eval/features"),
        ),
    ]


#: the reference run and a killed chain's rerun may publish on either side of midnight, and a
#: publish dates the data by its rows' last change (a killed run's rows changed later): both
#: are dated alike, as a reproducible build is
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",
    "SOURCE_DATE_EPOCH": "1733011200",
}


def _start(argv: list[str], work: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            argv,
            cwd=work,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=ENV,
            start_new_session=True,
        )


def _run(argv: list[str], work: Path, log: Path, timeout: float = 600) -> tuple[int, float]:
    t0 = time.perf_counter()
    proc = _start(argv, work, log)
    try:
        rc = proc.wait(timeout=timeout)
    finally:
        _kill(proc)
    return rc, time.perf_counter() - t0


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the process group; True when the command was still running."""
    alive = proc.poll() is None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


# ---------------------------------------------------------------------- what "equal" means
def _checkpoint(path: Path) -> dict:
    import torch

    if not path.is_file():
        return {"missing": str(path)}
    ckpt = torch.load(path, map_location="cpu", weights_only=False)

    def flat(obj, prefix=""):
        if isinstance(obj, torch.Tensor):
            return {prefix: hashlib.sha256(obj.detach().contiguous().numpy().tobytes()).hexdigest()}
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                out.update(flat(v, f"{prefix}/{k}"))
            return out
        if isinstance(obj, list | tuple):
            out = {}
            for i, v in enumerate(obj):
                out.update(flat(v, f"{prefix}[{i}]"))
            return out
        return {prefix: repr(obj)}

    return flat({k: ckpt[k] for k in ("epoch", "variant", "model", "optimizer", "extra")})


def snapshot(work: Path, compares: tuple[str, ...]) -> dict:
    out = {}
    for what in compares:
        if what == "catalog":
            out[what] = catalog_rows(work / "data" / "catalog.sqlite")
        elif what == "checkpoint":
            out[what] = _checkpoint(work / "run" / "last.pt")
        elif what == "results":
            res = json.loads((work / "eval" / "results.json").read_text())
            res.pop("dataset")
            out[what] = json.dumps(res, sort_keys=True)
        else:
            out[what] = tree_sha(work / what)
    return out


# ---------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def reference(world_server, tmp_path_factory):
    """The pipeline run once, uninterrupted: the state before and after every command."""
    base = tmp_path_factory.mktemp("kill")
    (base / "http.yaml").write_text(FAST_HTTP)
    fx = world_server.write_fixtures(base / "fixtures")
    commands = _commands(fx, world_server.base_url)
    work = base / "ref" / "w"
    work.mkdir(parents=True)
    shutil.copyfile(base / "http.yaml", work.parent / "http.yaml")
    states = [base / "state-0"]
    shutil.copytree(work, states[0])
    for n, c in enumerate(commands, 1):
        rc, seconds = _run(c.argv, work, base / "ref.log")
        assert rc == c.rc, f"{c.name}: exit {rc}\n" + (base / "ref.log").read_text()[-3000:]
        c.runs.append({"reference_seconds": round(seconds, 2)})
        states.append(base / f"state-{n}")
        shutil.copytree(work, states[-1])
    return base, commands, states


def _chain(base: Path, n: int, c: Command, before: Path, after: Path) -> dict:
    work = base / f"chain-{n}" / "w"
    shutil.copytree(before, work)
    shutil.copyfile(base / "http.yaml", work.parent / "http.yaml")  # ../http.yaml of the argv
    log = work.parent / "log"
    rng = random.Random(f"{SEED}/{c.name}")
    ref_seconds = c.runs[0]["reference_seconds"]
    landed = []
    for k in range(KILLS):
        at = rng.uniform(0.2, 0.95) * ref_seconds
        proc = _start(c.argv, work, log)
        t0 = time.perf_counter()
        if k == 0 and c.trigger:  # first kill: just after the trigger file appears
            while not (work / c.trigger).exists() and proc.poll() is None:
                time.sleep(0.01)
            at = time.perf_counter() - t0 + rng.uniform(0.0, 0.1) * ref_seconds
        while time.perf_counter() < t0 + at and proc.poll() is None:
            time.sleep(0.01)
        landed.append((round(at, 2), _kill(proc)))
    rc, _ = _run(c.argv, work, log)
    return {
        "command": c.name,
        "kills": landed,
        "rc": rc,
        "want_rc": c.rc,
        "log": log.read_text(errors="replace")[-20000:],
        "state": snapshot(work, c.compares),
        "want": snapshot(after, c.compares),
    }


def test_every_command_killed_anywhere_then_rerun_ends_like_an_uninterrupted_run(reference):
    base, commands, states = reference
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(_chain, base, n, c, states[n - 1], states[n]) for n, c in enumerate(commands, 1)
        ]
        results = [f.result() for f in futures]
    summary = {r["command"]: r["kills"] for r in results}
    print(f"\n[kill anywhere] (seconds into the run, still running when killed): {json.dumps(summary)}")
    problems = []
    train = next(r for r in results if r["command"] == "train")
    if "resuming" not in train["log"]:
        problems.append("train: no rerun resumed from a saved epoch")
    for r in results:
        if r["rc"] != r["want_rc"]:
            problems.append(f"{r['command']}: the rerun exited {r['rc']}\n{r['log'][-3000:]}")
        for what, want in r["want"].items():
            got = r["state"][what]
            if got != want:
                problems.append(
                    f"{r['command']}: {what} differs from the uninterrupted run: {_diff(want, got)}"
                )
    assert not problems, "\n".join(problems)
    # the kills landed while the commands ran (not only before or after them)
    assert sum(alive for r in results for _, alive in r["kills"]) >= len(results) * KILLS // 2, summary


def _diff(want, got) -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        keys = sorted(set(want) | set(got))
        bad = [k for k in keys if want.get(k) != got.get(k)]
        parts = []
        for k in bad[:5]:
            if isinstance(want.get(k), dict | list) and isinstance(got.get(k), dict | list):
                parts.append(f"{k}: {_diff(want.get(k), got.get(k))}")
            else:
                parts.append(f"{k}: want {str(want.get(k))[:120]} got {str(got.get(k))[:120]}")
        return "; ".join(parts) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else "")
    if isinstance(want, list) and isinstance(got, list):
        extra = [x for x in got if x not in want][:3]
        missing = [x for x in want if x not in got][:3]
        return f"missing {missing} extra {extra}"
    return f"want {want!r} got {got!r}"
