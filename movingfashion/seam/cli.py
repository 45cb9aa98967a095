"""``mf train``, ``mf evaluate``, ``mf report``: thin click wrappers over the seam modules."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from movingfashion.models.checkpoints import device_option
from movingfashion.seam.config import Variant
from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    MATCHER_RUN,
    FiniteFloatRange,
    dataset_option,
    emit,
    exit_if_failed,
    interrupt_line,
    json_option,
    legacy_folder,
    on_interrupt,
    out_option,
    progress,
    progress_option,
    require_dataset,
    run_file_option,
)
from schemas.config import SEED_MAX

VARIANTS = [v.value for v in Variant]


TRAIN_RUN = "the --out folder of an mf train run that finished at least one epoch"


def _log(as_json: bool):
    return lambda s: click.echo(s, err=True) if not as_json else None


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option(
    required=False, exists=False, help="Phase 2: a MovingFashion dataset folder (mf publish). Required."
)
@click.option(
    "--df2",
    type=click.Path(exists=True, file_okay=False),
    help="Phase 1: a DeepFashion2-format root (or a synthetic world folder holding df2/). Required.",
)
@click.option("--phase", type=click.Choice(["1", "2"]), default="2", show_default=True)
@click.option(
    "--method",
    type=click.Choice(["seam", "asymnet"]),
    default="seam",
    show_default=True,
    help="Phase 2: SEAM's multi-frame head (--variant), or AsymNet (LSTM + similarity nodes + fusion "
    "tree, trained in two stages on the same frozen features; its three rows in mf evaluate).",
)
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default=None,
    help="Multi-frame head: full (NLB + g), no_nlb (g only), no_nlb_g (average descriptor) "
    "[default: the --config file's model.variant, else full].",
)
@out_option(help="Run folder (last.pt, history.jsonl, features/).")
@click.option(
    "--epochs",
    type=int,
    default=None,
    help="SEAM: phase-2 epochs (default: config, 10). AsymNet: the epochs of its first stage "
    "(LSTM + similarity nodes, snn_epochs, default 20); its second stage (fusion tree) runs "
    "fusion_epochs of the --config file (default 10).",
)
@click.option(
    "--steps", type=click.IntRange(1), default=300, show_default=True, help="Phase 1 training steps."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue OUT/last.pt of an interrupted phase-2 SEAM run, with the same variant, settings, "
    "dataset and matcher (others are refused). Without OUT/last.pt (or without OUT) the run starts "
    "at epoch 0.",
)
@click.option(
    "--extend",
    is_flag=True,
    help="With --resume: let --epochs differ from the run's (not below the epochs done); from the "
    "resume point on the learning rates are those of an uninterrupted run of the new length.",
)
@run_file_option(
    "--matcher",
    **MATCHER_RUN,
    exists=False,
    default=None,
    help="Phase-1 matcher weights to start phase 2 from (default: OUT/phase1/matcher.pt or "
    "OUT/../phase1/matcher.pt when present, else the embedded default; with --resume: the one "
    "OUT/last.pt records, and one with another frozen encoder is refused).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML/JSON overrides of TrainConfig or, with --method asymnet, of AsymNetConfig "
    "(both in movingfashion/seam/config.py).",
)
@click.option("--frames", type=int, default=None, help="T frames per tracklet (default 10).")
@click.option("--batch-size", type=int, default=None, help="Videos per batch (in-batch negatives).")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=None)
@json_option
@device_option
@progress_option
@interrupt_line("interrupted before training began: nothing was written; rerun the same command")
def train(
    dataset: str | None,
    df2: str | None,
    phase: str,
    method: str,
    variant: str | None,
    out: str,
    epochs: int | None,
    steps: int,
    resume: bool,
    extend: bool,
    matcher: str | None,
    config_path: str | None,
    frames: int | None,
    batch_size: int | None,
    seed: int | None,
    as_json: bool,
) -> None:
    """Train SEAM Match-RCNN: phase 1 (single-frame pretraining) or phase 2 (multi-frame head).

    Phase 2 freezes the crop encoder, copies f, m into f~, m~ and trains on the dataset's
    tracklets with in-batch negatives; OUT/last.pt and OUT/history.jsonl (one line per epoch)
    are written every epoch (save_every in --config). Launch with
    torchrun for DDP (gloo on CPU, nccl on CUDA).

    Phase 1 reads --df2 (it took --dataset before, which still works with a warning).

    An interrupted phase-2 run continues with the same command plus --resume; a finished one
    is made longer with --resume --extend and a larger --epochs (third and fourth examples).

    Phase 2 trains on the products of the train split it can load; those it skips (a missing
    video, say) are listed after the result and the exit status is 1, as for mf crop-cache and
    mf training-copy. Options (--epochs 0, a bad --config) are checked before the dataset is read.

    \b
    Examples:
      mf train --df2 world --phase 1 --out runs/phase1 --steps 300
      mf train --dataset dataset --phase 2 --variant full --out runs/full --epochs 10
      mf train --dataset dataset --phase 2 --variant full --out runs/full --epochs 10 --resume --json
      mf train --dataset dataset --phase 2 --variant full --out runs/full --epochs 15 --resume --extend
      mf train --dataset dataset --method asymnet --out runs/asymnet --epochs 20
      torchrun --nproc_per_node 2 -m movingfashion.seam.cli train --dataset dataset --out runs/ddp
    """
    from schemas.config import load_config

    log = _log(as_json)
    if phase == "1":
        _phase1_options(
            {
                "--dataset": df2 is not None and dataset is not None,  # alone: phase 1's old --df2
                "--method": method != "seam",
                "--variant": variant is not None,
                "--epochs": epochs is not None,
                "--resume": resume,
                "--extend": extend,
                "--matcher": matcher is not None,
                "--config": config_path is not None,
                "--frames": frames is not None,
                "--batch-size": batch_size is not None,
            },
            out,
        )
        if df2 is None and dataset is not None:
            click.echo(
                "warning: phase 1 reads --df2 (a DeepFashion2-format root); --dataset is deprecated", err=True
            )
        df2 = legacy_folder(df2, dataset if df2 is None else None, "--df2")
        from movingfashion.seam.phase1 import run_phase1

        on_interrupt("interrupted: phase 1 does not resume; rerun to start it again")
        result = run_phase1(df2, out, steps=steps, seed=seed or 0, progress=progress, log=log)
    elif method == "asymnet":
        if resume or extend:
            raise click.UsageError(
                "--resume/--extend are for SEAM runs: AsymNet writes OUT/last.pt only when both of its "
                "stages are done (a few minutes on frozen features); rerun without --resume in a new --out"
            )
        from movingfashion.seam.config import AsymNetConfig  # no torch before the inputs are checked

        acfg = load_config(  # the options first: a bad --epochs is named before the dataset is read
            AsymNetConfig,
            config_path,
            option_names={"snn_epochs": "--epochs"},
            stage="asymnet",
            snn_epochs=epochs,
            frames=frames,
            batch_size=batch_size,
            seed=seed,
        )
        skips = _phase2_dataset(dataset, out)
        _no_finished_run(out, "asymnet")
        on_interrupt(
            "interrupted: AsymNet writes OUT/last.pt only when both stages are done; rerun to start again"
        )
        from movingfashion.seam.asymnet import run_asymnet

        result = run_asymnet(dataset, out, acfg, matcher=matcher, progress=progress, log=log)
    else:
        from movingfashion.seam.config import TrainConfig  # no torch before the inputs are checked

        cfg = load_config(  # the options first: a bad --epochs is named before the dataset is read
            TrainConfig,
            config_path,
            stage="train",
            epochs=epochs,
            frames=frames,
            batch_size=batch_size,
            seed=seed,
        )
        if variant is not None:
            cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"variant": Variant(variant)})})
        skips = _phase2_dataset(dataset, out)
        _resume_start(out, resume, extend)
        on_interrupt(f"interrupted: rerun with --resume to go on from the last epoch saved in {out}/last.pt")
        from movingfashion.seam.train import run_phase2

        result = run_phase2(
            dataset, out, cfg, resume=resume, extend=extend, matcher=matcher, progress=progress, log=log
        )
        if result.get("rank", 0) != 0:
            return
    if phase == "1":
        emit(result, as_json, _train_human)
        return
    from movingfashion.skips import skipped_lines

    result = {**result, **(skips or {})}
    if result.get("matcher"):  # on stderr, with --json too (where "matcher" and "matcher_via" say it)
        via = f" ({result['matcher_via']})" if result.get("matcher_via") else ""
        click.echo(f"phase 2 started from matcher: {result['matcher']}{via}", err=True)
    emit(result, as_json, lambda r: _train_human(r) + skipped_lines(r.get("skipped", [])))
    exit_if_failed(
        result.get("skipped", [])
    )  # as mf crop-cache and mf training-copy: a skipped product is exit 1


def _phase1_options(given: dict[str, bool], out: str) -> None:
    """Usage error (exit 2) for the phase-2 options given to phase 1 (they were dropped without a
    word, an invalid --config too), and for an OUT/matcher.pt already there (phase 2 starts from
    it: a rerun replaced it silently)."""
    extra = [name for name, used in given.items() if used]
    if extra:
        raise click.UsageError(
            f"{', '.join(extra)} {'is' if len(extra) == 1 else 'are'} for phase 2; phase 1 takes --df2, "
            "--out, --steps and --seed (`mf pretrain-matcher` has every pretraining setting)"
        )
    target = Path(out) / "matcher.pt"
    if target.exists():
        raise click.UsageError(
            f"{target} exists: phase 2 starts from it; remove it to train it again, or pass another --out"
        )


def _phase2_dataset(dataset: str | None, out: str) -> dict[str, Any]:
    """Usage error (exit 2) unless ``--dataset`` names a published dataset folder; ``--out`` inside
    it is refused (exit 2), as for ``mf evaluate``: the run's files (last.pt, history.jsonl,
    features/) are none of the dataset's, so they broke ``mf verify`` and stopped ``mf publish``.
    Returns the train split's skips (:func:`require_usable_train`)."""
    from schemas.paths import outside_dataset

    if dataset is None:
        raise click.UsageError("Missing option '--dataset' (phase 2 trains on a published dataset).")
    require_dataset(dataset)
    outside_dataset(out, dataset, what="training run")
    return require_usable_train(dataset)


def require_usable_train(dataset: str) -> dict[str, Any]:
    """Before ``--out`` is made: a DataFormatError saying why when the train split has no usable
    video (the tracklets not built yet, say), with its first skipped row and what to do. Else the
    split's skips (``skipped``, ``skipped_counts``: :meth:`MovingFashionDataset.skipped_report`),
    read without the loader's warning: the run's own read of the split gives it (once)."""
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.dataset import log as dataset_log
    from movingfashion.split_errors import no_usable_videos, require_products

    rows = require_products(dataset, "train")  # lists no product: nothing to train on at all
    level = dataset_log.level
    dataset_log.setLevel(logging.ERROR)
    try:
        train = MovingFashionDataset(
            dataset,
            "train",
            crop="tracklet",
            shop_size=None,
            on_bad="skip",
            empty_tracklet_hint=f"run mf-tracklets build --dataset {dataset} first",
            split_rows=rows,
        )
    finally:
        dataset_log.setLevel(level)
    if len(train) == 0:
        raise no_usable_videos("train", train, dataset)
    return train.skipped_report()


#: what ``mf train --method M`` says of an OUT/last.pt of its own method (or of no kind it knows)
SAME_METHOD_HINTS = {
    "seam": "--resume continues it (--resume --extend --epochs N trains it longer); remove it to train "
    "again from epoch 0, or pass another --out",
    "asymnet": "remove it to train AsymNet again, or pass another --out",
}
#: how each method's run is named in a message about a folder holding it
METHOD_NAMES = {"seam": "SEAM", "asymnet": "AsymNet"}


def _no_finished_run(out: str, method: str) -> None:
    """Usage error (exit 2) when OUT/last.pt holds a run already: training again without
    ``--resume`` would replace it with a new run's first epoch (it did, silently). A run of the
    other method (the checkpoint's kind) is named as such: its folder is no place for this one."""
    last = Path(out) / "last.pt"
    if not last.is_file():
        return
    from movingfashion.models.checkpoints import checkpoint_kind
    from schemas.errors import ConfigError

    kind = checkpoint_kind(last)
    if kind in METHOD_NAMES and kind != method:
        raise ConfigError(
            f"holds a {METHOD_NAMES[kind]} run ({last}, mf train --method {kind})",
            where=str(out),
            hint=f"pass another --out to train {METHOD_NAMES[method]} (or remove {last} to replace that run)",
        )
    # a ConfigError, not a click usage error: ``--json``'s error document names the file (its
    # "path" was null) and the line no longer ends in "see --help", which has nothing on it
    raise ConfigError("exists (a run trained there)", where=str(last), hint=SAME_METHOD_HINTS[method])


def _resume_start(out: str, resume: bool, extend: bool) -> None:
    """Check ``--resume``/``--extend`` before anything is built. Without OUT/last.pt one stderr
    line says the run starts at epoch 0 (never silently: a typo in ``--out`` shows there); the
    same ``--resume`` command then serves the first run and every rerun after a kill."""
    if extend and not resume:
        raise click.UsageError("--extend changes the length of a run given --resume; add --resume")
    if not resume:
        _no_finished_run(out, "seam")
        return
    last = Path(out) / "last.pt"
    if not last.is_file():
        where = "" if Path(out).is_dir() else f" ({out} does not exist yet: check --out)"
        click.echo(f"no {last}{where}: starting at epoch 0", err=True)


def _train_human(r: dict) -> str:
    """What ``mf train`` prints without ``--json``: where the weights are, and the last loss."""
    if str(r.get("phase")) == "1":
        return f"phase 1: matcher {r['matcher']} ({r.get('via', '')})"
    if r.get("method") == "asymnet":
        return (
            f"asymnet: stage 1 (LSTM + similarity nodes, --epochs) {r['snn_epochs']} epochs, stage 2 "
            f"(fusion tree, fusion_epochs) {r['fusion_epochs']} epochs on {r['train_videos']} videos of "
            f"{r['train_products']} products; final loss {r['final_loss']:.4f}; checkpoint {r['checkpoint']}"
        )
    loss = r.get("final_loss")
    if r.get("epochs_run") == 0 and loss is not None:  # --resume of a finished run
        return (
            f"phase 2 ({r['variant']}): the run already has its {r['epochs']} epochs, nothing was trained "
            f"(--resume --extend --epochs N trains it longer); final loss {loss:.4f}; checkpoint {r['checkpoint']}"
        )
    return (
        f"phase 2 ({r['variant']}): {r['epochs_run']} of {r['epochs']} epochs run on {r['train_videos']} videos"
        f" of {r['train_products']} products; final loss {loss:.4f}; checkpoint {r['checkpoint']}"
        if loss is not None
        else f"phase 2 ({r['variant']}): nothing left to train; checkpoint {r['checkpoint']}"
    )


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@run_file_option(
    "--checkpoint",
    "checkpoints",
    filename="last.pt",
    what="checkpoint",
    made_by=TRAIN_RUN,
    required=True,
    multiple=True,
    help="SEAM checkpoint (repeat: one per variant, the first one also gives the baselines); beside "
    "them at most one AsymNet checkpoint (mf train --method asymnet: adds the AsymNet, [AVG] and "
    "[MAX] rows; it needs a SEAM checkpoint too).",
)
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default=None,
    help="Refuse a checkpoint of another variant.",
)
@click.option("--frames", default="5,10,20", show_default=True, help="Sequence lengths, comma separated.")
@click.option("--main-frames", type=int, default=10, show_default=True, help="T of the main table.")
@click.option("--pools", type=int, default=20, show_default=True)
@click.option("--pool-size", type=int, default=800, show_default=True)
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@out_option(required=False, help="Write OUT/results.json (+ cache).")
@click.option(
    "--cache",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of cached feature banks (default OUT/features); share it between evaluations.",
)
@click.option("--no-salient", is_flag=True, help="Leave out the 'SEAM + salient' row.")
@click.option(
    "--query-min-iou",
    type=FiniteFloatRange(0, 1),
    default=None,
    help="Least mean IoU with the ground truth for the best inference tracklet to be a video's query; "
    "below it the ground-truth tracklet is (counted beside the tables). [default: 0, the paper's "
    "protocol: the best inference tracklet whatever its IoU]",
)
@json_option
@device_option
@progress_option
@interrupt_line(
    "interrupted: results.json was not written; rerun the same command: the evaluation starts over "
    "(a test bank already written to the cache is reused)"
)
def evaluate(
    dataset: str,
    checkpoints: tuple[str, ...],
    variant: str | None,
    frames: str,
    main_frames: int,
    pools: int,
    pool_size: int,
    seed: int,
    out: str | None,
    cache: str | None,
    no_salient: bool,
    query_min_iou: float | None,
    as_json: bool,
) -> None:
    """Evaluate with the paper's protocol: top-1/5/10/20 in pools, all / Regular / Hard / per class.

    Queries are the inference tracklets that best overlap each test video's ground-truth
    tracklet (the ground-truth tracklet itself only for a video without inference tracklets, or
    below --query-min-iou; the counts are printed under the table); the gallery is every test
    shop image. Methods: Max Confidence, Max Matching,
    Average Distance (single-frame head), one SEAM row per checkpoint (its variant), SEAM +
    salient (the main SEAM checkpoint on salient frames) and, with an AsymNet checkpoint, AsymNet,
    AsymNet [AVG] and [MAX]. On synthetic worlds made with the noise knobs, results.json also
    says how much attention corrupted frames get (attention_noise: ROC AUC of -weight).
    A checkpoint trained on products of the test split gets a warning on stderr
    (train_overlap in results.json: how many).

    \b
    Examples:
      mf evaluate --dataset dataset --checkpoint runs/full/last.pt --out runs/eval
      mf evaluate --dataset dataset --checkpoint runs/full/last.pt --checkpoint runs/avg/last.pt \\
          --frames 5,10,20 --pools 20 --pool-size 800 --json
    """
    from movingfashion.seam.config import EvalConfig
    from movingfashion.seam.evaluate import run_evaluate, summary_table
    from schemas.config import load_config
    from schemas.errors import ConfigError
    from schemas.paths import outside_dataset

    for option, folder in (("--out", out), ("--cache", cache)):
        if folder is not None:
            outside_dataset(folder, dataset, what="evaluation", option=option)
    try:
        frame_list = [int(x) for x in frames.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, got {frames!r}", where="--frames") from None
    cfg = load_config(
        EvalConfig,
        None,
        frames=frame_list,
        main_frames=main_frames,
        pools=pools,
        pool_size=pool_size,
        seed=seed,
        salient=not no_salient,
        query_min_iou=query_min_iou,
        option_names={"salient": "--no-salient"},
    )
    res = run_evaluate(
        dataset,
        list(checkpoints),
        cfg,
        out_dir=out,
        variant=variant,
        progress=progress,
        cache_dir=cache,
        warn=lambda line: click.echo(line, err=True),
    )
    emit(res, as_json, summary_table)


@click.command(context_settings=HELP, epilog=EXIT_STATUS)
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True))
@out_option(help="Report folder to write (tables, CSV, plots).")
@dataset_option(
    required=False, help="Dataset folder for the qualitative sheets (default: the one recorded in RESULTS)."
)
@json_option
@interrupt_line(
    "interrupted: {out} keeps an earlier report as it was (or, stopped while swapping the new files "
    "in, no report.md); rerun the same command: the report is written again from the results"
)
def report(results: tuple[str, ...], out: str, dataset: str | None, as_json: bool) -> None:
    """Tables 2, 4, 5 (Markdown + CSV) and PNG plots from evaluations' results.json.

    Several results (e.g. one per training seed, same test set) are pooled: every cell is the
    mean (sample std) over seeds and pools; paired.md gives paired per-query differences between
    methods, attention_noise.md the attention on corrupted frames, attention.png the Fig. 8
    curves.

    \b
    Examples:
      mf report runs/eval/results.json --out runs/report
      mf report runs/eval/results.json --out runs/report --dataset dataset --json
      mf report runs/seed0/eval runs/seed1/eval runs/seed2/eval --out runs/report
    """
    from movingfashion.seam.report import write_report

    res = write_report(list(results), out, dataset=dataset)
    emit(res, as_json, lambda r: "\n".join([*(str(Path(r["out"]) / f) for f in r["files"]), r["queries"]]))


@click.group()
def _group() -> None:
    """SEAM commands (for ``python -m movingfashion.seam.cli`` / torchrun)."""


_group.add_command(train)
_group.add_command(evaluate)
_group.add_command(report)


def main() -> None:
    from schemas.cli_support import run_main

    run_main(_group)


if __name__ == "__main__":
    main()
