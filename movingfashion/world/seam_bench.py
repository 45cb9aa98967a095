"""The SEAM table on the hard preset, from nothing to the report (the README's numbers).

Two synthetic worlds made with ``--preset hard`` (tracklet noise of real footage, recorded per
frame): one to train on (exported with noisy tracklets, by default the embedded detector's own
boxes and confidences along the world tracker's path, ``--tracklets linked``; all but 3 products
in the train split), one to test on (every product in the test split, so the
gallery holds its every shop image). For each training seed: SEAM's three variants and AsymNet
are trained on the same frozen features (one feature bank, shared), then evaluated with the
paper's protocol (queries: the inference tracklets that best overlap the ground truth; pools;
T = 5, 10, 20); finally ``mf report`` pools the seeds (mean ± sample std over seeds and pools, paired
per-query differences, the attention on corrupted frames, the Fig. 8 curves).

Every step is skipped when its output exists, so an interrupted run continues where it stopped::

    python -m movingfashion.world.seam_bench --out build/seam-table

The first run records the arguments that define the results in ``OUT/bench_args.json``
(every one but ``--out``, ``--seeds``, ``--workers`` and ``--threads``: a rerun may add seeds);
a rerun with other values is refused, naming them (use a new ``--out``). An evaluation is
reused only when its ``results.json`` names the checkpoints and epochs trained now.

(18 minutes on 2 busy CPU cores with the defaults, measured 2026-12-05.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from movingfashion.world.config import preset_config

VARIANTS = ("full", "no_nlb", "no_nlb_g")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def finished_export(data: Path, tracklets: str) -> bool:
    """Whether ``data`` holds a finished export to reuse; :class:`ConfigError` when it was made
    with other ``--tracklets`` than ``tracklets`` (its manifest records them)."""
    manifest = data / "manifest.json"
    if not manifest.is_file():
        return False
    made_with = json.loads(manifest.read_text(encoding="utf-8")).get("tracklets")
    if made_with and made_with != tracklets:
        from schemas.errors import ConfigError

        raise ConfigError(
            f"{data} was exported with --tracklets {made_with}, not {tracklets}",
            where="--out",
            hint=f"pass --tracklets {made_with} to continue that run, or choose another --out",
        )
    return True


#: Arguments that do not change the results of a seed (``--seeds`` only picks which are run).
NOT_RESULT_ARGS = ("out", "seeds", "workers", "threads")
ARGS_FILE = "bench_args.json"


def result_args(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments that define the results of an ``--out`` folder (JSON values)."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in NOT_RESULT_ARGS}


def check_args(out: Path, args: argparse.Namespace) -> None:
    """Record :func:`result_args` in ``OUT/bench_args.json`` on the first run (in a folder of an
    older seam_bench, without the file: when the run ends); on a rerun refuse
    (:class:`ConfigError` naming every differing argument) other values than those recorded."""
    path = out / ARGS_FILE
    now = json.loads(json.dumps(result_args(args)))
    if path.is_file():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            from schemas.errors import DataFormatError

            raise DataFormatError(
                f"malformed JSON at line {exc.lineno}", where=str(path), hint="use a new --out"
            ) from None
        diffs = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
        if diffs:
            from schemas.errors import ConfigError

            said = ", ".join(f"--{k.replace('_', '-')} {before.get(k)!r} (now {now.get(k)!r})" for k in diffs)
            raise ConfigError(
                f"{out} holds results made with other arguments: {said}",
                where=str(path),
                hint="use a new --out for these arguments, or rerun with the recorded ones",
            )
        return
    if any((out / d).exists() for d in ("runs", "train-world", "test-world")):
        # made by an older seam_bench: its checkpoints refuse other settings (mf train --resume),
        # so the arguments are recorded once this run has gone through
        _log(f"note: {out} has no {ARGS_FILE} (an older seam_bench): it is written when this run ends")
        return
    record_args(out, args)


def record_args(out: Path, args: argparse.Namespace) -> None:
    """Write ``OUT/bench_args.json`` (:func:`result_args`) unless it is there."""
    from schemas.atomic import atomic_write_text

    if not (out / ARGS_FILE).is_file():
        atomic_write_text(out / ARGS_FILE, json.dumps(result_args(args), indent=1) + "\n")


def evaluation_current(results: Path, ckpts: list[Path]) -> bool:
    """Whether ``results`` (a results.json) evaluated exactly ``ckpts``, SEAM ones at the epoch
    each holds now (a checkpoint trained further since makes it stale)."""
    from movingfashion.seam.asymnet import ASYMNET_KIND, checkpoint_kind
    from movingfashion.seam.checkpoint import read_checkpoint

    if not results.is_file():
        return False
    try:
        recorded = json.loads(results.read_text(encoding="utf-8")).get("checkpoints") or {}
    except json.JSONDecodeError:
        return False
    by_path = {str(rec.get("path")): rec for rec in recorded.values()}
    if set(by_path) != {str(p) for p in ckpts}:
        return False
    for p in ckpts:
        if checkpoint_kind(p) == ASYMNET_KIND:
            continue
        if by_path[str(p)].get("epoch") != read_checkpoint(p).get("epoch"):
            return False
    return True


def worlds(out: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """Generate (or reuse) both worlds and export their datasets; returns (train set, test set)."""
    from movingfashion.world.generate import generate_world
    from movingfashion.world.gt_dataset import export_gt_dataset

    noise = args.noise_frames
    cfg = preset_config(args.preset, {"noise": {"frames": noise}} if noise is not None else None)
    sets = []
    for name, products, seed, frac in [
        ("train", args.train_products, args.train_world_seed, 0.0),
        ("test", args.test_products, args.test_world_seed, 1.0),
    ]:
        world, data = out / f"{name}-world", out / f"{name}-set"
        t0 = time.perf_counter()
        generate_world(world, products, seed, quick=args.quick, config=cfg, workers=args.workers)
        _log(f"{name} world: {products} products ({time.perf_counter() - t0:.0f} s)")
        if not finished_export(data, args.tracklets):
            t0 = time.perf_counter()
            export_gt_dataset(world, data, seed=0, tracklets=args.tracklets, test_fraction=frac)
            _log(f"{name} set: {args.tracklets} tracklets ({time.perf_counter() - t0:.0f} s)")
        sets.append(data)
    return sets[0], sets[1]


def train_seed(train_set: Path, runs: Path, cache: Path, seed: int, args: argparse.Namespace) -> list[Path]:
    """SEAM's three variants and AsymNet for one seed (each skipped when finished)."""
    from movingfashion.seam.asymnet import AsymNetConfig, run_asymnet
    from movingfashion.seam.config import AugmentConfig, ModelConfig, TrainConfig
    from movingfashion.seam.train import run_phase2

    ckpts = []
    for variant in VARIANTS:
        out = runs / variant
        cfg = TrainConfig(
            model=ModelConfig(variant=variant),
            epochs=args.epochs,
            batch_size=args.batch_size,
            frames=10,
            lr=args.lr,
            finetune_lr=args.finetune_lr,
            match_lr=args.match_lr,
            weight_decay=5e-4,
            train_trunk=False,
            seed=seed,
            pool_frames=args.pool_frames,
            pair_loss=args.pair_loss,
            augment=AugmentConfig.model_validate_json(args.augment),
        )
        t0 = time.perf_counter()
        res = run_phase2(train_set, out, cfg, resume=True, cache_dir=cache)
        _log(f"seed {seed} {variant}: loss {res['final_loss']} ({time.perf_counter() - t0:.0f} s)")
        ckpts.append(out / "last.pt")
    asym = runs / "asymnet"
    if not (asym / "last.pt").is_file():
        t0 = time.perf_counter()
        res = run_asymnet(
            train_set, asym, AsymNetConfig(seed=seed, pool_frames=args.pool_frames), cache_dir=cache
        )
        _log(f"seed {seed} asymnet: loss {res['final_loss']:.4f} ({time.perf_counter() - t0:.0f} s)")
    ckpts.append(asym / "last.pt")
    return ckpts


def _lr_or_none(text: str) -> float | None:
    """A learning rate >= 0, or None for ``none``."""
    if text.strip().lower() == "none":
        return None
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"a learning rate >= 0 or 'none', not {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line of :func:`main`."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--preset", default="hard")
    ap.add_argument(
        "--noise-frames",
        type=float,
        help="share of each clip's frames corrupted (the preset's noise.frames; hard: 0.35)",
    )
    ap.add_argument(
        "--train-products", type=int, default=400, help="world size (~78%% become train products)"
    )
    ap.add_argument("--test-products", type=int, default=140, help="world size (~78%% become test products)")
    ap.add_argument("--train-world-seed", type=int, default=101)
    ap.add_argument("--test-world-seed", type=int, default=202)
    ap.add_argument("--seeds", default="0,1,2", help="training seeds, comma separated")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.04)
    ap.add_argument("--finetune-lr", type=float, default=0.004)
    ap.add_argument(
        "--match-lr",
        type=_lr_or_none,
        default=None,
        help="learning rate of the multi-frame match head m~ (TrainConfig.match_lr; default none:"
        " --finetune-lr, the paper's; 0: kept as pretrained)",
    )
    ap.add_argument("--pool-frames", type=int, default=30)
    ap.add_argument(
        "--pair-loss",
        choices=["weighted", "balanced"],
        default="weighted",
        help="phase 2's multi-frame pair loss (TrainConfig.pair_loss; weighted: the official one)",
    )
    ap.add_argument(
        "--augment",
        default="{}",
        help='phase-2 augmentations as JSON (AugmentConfig), e.g. \'{"flip": 0.5, "mix_videos": true}\'',
    )
    ap.add_argument(
        "--tracklets",
        choices=["tracked", "detected", "linked"],
        default="linked",
        help="the datasets' tracklets: the world tracker's boxes; those a tracklet linked from"
        " detections would have (no box where the camera swung away or on the background); or"
        " the embedded detector's own boxes and confidences along the tracker's path (linked:"
        " no planted confidence, so Max Confidence ranks real detector scores)",
    )
    ap.add_argument("--pools", type=int, default=20)
    ap.add_argument("--pool-size", type=int, default=100)
    ap.add_argument("--quick", action=argparse.BooleanOptionalAction, default=True, help="48-frame clips")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return ap


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = parser()
    args = ap.parse_args(argv)
    from pydantic import ValidationError

    from movingfashion.seam.config import AugmentConfig

    try:
        AugmentConfig.model_validate_json(args.augment)
    except ValidationError as exc:
        ap.error(f"--augment: {' '.join(str(exc).splitlines()[:3])}")

    from movingfashion.seam.config import EvalConfig
    from movingfashion.seam.evaluate import run_evaluate, summary_table
    from movingfashion.seam.report import write_report

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    check_args(out, args)
    t_all = time.perf_counter()
    train_set, test_set = worlds(out, args)
    cache = out / "features"
    results = []
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        runs = out / "runs" / f"seed{seed}"
        ckpts = train_seed(train_set, runs, cache, seed, args)
        ev = runs / "eval"
        if not evaluation_current(ev / "results.json", ckpts):
            if (ev / "results.json").is_file():
                _log(
                    f"seed {seed}: {ev / 'results.json'} evaluated other checkpoints or epochs; evaluating again"
                )
            t0 = time.perf_counter()
            res = run_evaluate(
                test_set,
                ckpts,
                EvalConfig(frames=[5, 10, 20], pools=args.pools, pool_size=args.pool_size, seed=0),
                out_dir=ev,
                cache_dir=cache,
            )
            _log(f"seed {seed} evaluated ({time.perf_counter() - t0:.0f} s)\n{summary_table(res)}")
        results.append(ev / "results.json")
    rep = write_report(results, out / "report", dataset=str(test_set))
    summary = {
        "out": str(out),
        "report": str(out / "report" / "report.md"),
        "seeds": len(results),
        "ordering": rep["ordering"],
        "seconds": round(time.perf_counter() - t_all, 1),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    from schemas.atomic import atomic_write_json

    atomic_write_json(out / "summary.json", summary, indent=1)
    record_args(out, args)
    _log(f"done in {summary['seconds']:.0f} s: {summary['report']}")
    return summary


if __name__ == "__main__":
    import sys

    import torch

    _threads = argparse.ArgumentParser(add_help=False)
    _threads.add_argument("--threads", type=int, default=2)
    torch.set_num_threads(_threads.parse_known_args(sys.argv[1:])[0].threads)  # the entry point sets it
    from schemas.errors import MFError

    try:
        main()
    except MFError as exc:  # one line naming what is wrong, as the toolkit's CLIs print it
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
