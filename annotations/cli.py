"""``mf-tracklets``: build ground-truth tracklets with Match-RCNN; ``mf train-detector`` and
``mf pretrain-matcher`` train the models it uses. Thin click wrappers over annotations.*.

Only light modules load at import time (click, the configs, the detector names): torch,
ultralytics and OpenCV load inside a command, after its inputs are checked, so ``--help`` and a
missing folder answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import click

from annotations.config import BuildConfig
from annotations.exchange import EXPORTERS, IMPORTERS
from annotations.exchange.common import TRACK_CHOICES
from annotations.review.marks import require_catalog_knows_dataset, require_catalog_overlap
from annotations.tracklet_files import require_results
from movingfashion.executors.base import GPU_SHARE_HINT, gpu_share_problem
from movingfashion.executors.options import executor_options, threads_option
from movingfashion.models.checkpoints import device_option
from movingfashion.models.detectors.registry import DETECTORS
from schemas.cli_support import (
    DETECTOR_RUN,
    EXIT_STATUS,
    FINITE_FLOAT,
    HELP,
    MATCHER_RUN,
    FiniteFloatRange,
    catalog_option,
    dataset_option,
    emit,
    exit_if_failed,
    interrupt_line,
    json_option,
    out_option,
    progress,
    progress_bar,
    progress_option,
    require_dataset,
    root_option,
    run_file_option,
    run_main,
    stop_on_ctrl_c,
    terminal_text,
)
from schemas.errors import ConfigError, DataFormatError, validation_text
from schemas.render import counted

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from annotations.review.marks import MergedOwner
    from schemas.dataset import VideoTracklets

EMBED_SOURCES = list(get_args(BuildConfig.model_fields["embed_source"].annotation))


def _load_build_config(
    config: str | None,
    stride: int | None,
    batch: int | None,
    keyframes: bool,
    embed: str | None,
    conf: float | None,
) -> BuildConfig:
    from pydantic import ValidationError

    from schemas.config import load_config

    cfg = load_config(BuildConfig, config, stage="tracklets")
    upd: dict[str, object] = {}
    if stride is not None:
        upd["stride"] = stride
    if keyframes:
        upd["keyframes"] = True
    if embed is not None:
        upd["embed_source"] = embed
    det = cfg.detector.model_copy(
        update={k: v for k, v in (("batch", batch), ("conf", conf)) if v is not None}
    )
    try:
        return BuildConfig.model_validate({**cfg.model_dump(), **upd, "detector": det.model_dump()})
    except ValidationError as exc:  # an option's value the config's bounds refuse: one line
        err = exc.errors()[0]
        raise ConfigError(
            f"{'.'.join(str(x) for x in err['loc'])}: {validation_text(err)}",
            where=str(config) if config else "command line",
            hint="see mf-tracklets build --help",
        ) from None


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
@click.version_option(package_name="movingfashion-toolkit", prog_name="mf-tracklets")
def tracklets() -> None:
    """Build ground-truth tracklets for a dataset in the official format.

    \b
    Examples:
      mf-tracklets build --dataset dataset --stride 2 --sheets
      mf-tracklets qa --dataset dataset --reference reference-dataset
      mf-tracklets review --dataset dataset
      mf-tracklets export --format cvat --dataset dataset --out cvat

    Add --debug to any command to see a traceback on errors.
    """


#: ``--on-bad``: what ``build`` and ``export`` do with a product whose split-file entry the reader
#: refuses (the dataset's ``on_bad`` convention)
on_bad_option = click.option(
    "--on-bad",
    type=click.Choice(["skip", "raise"]),
    default="skip",
    show_default=True,
    help="A product whose split-file entry is refused (a bad box, a missing or malformed field): skip"
    " holds it out, names it (file, product, field, what to do; --json: held_out) and goes on with the"
    " others, exit 1; raise refuses the dataset before anything is written, exit 2.",
)


def held_out_lines(held: Sequence[Mapping[str, Any]]) -> str:
    """The summary's lines of the products held out (empty when none)."""
    if not held:
        return ""
    from annotations.tracklet_files import HELD_OUT_HINT

    products = {(h["file"], h["product_id"]) for h in held}
    return (
        f"\n  held out: {len(products)} product{'s' if len(products) > 1 else ''} ({HELD_OUT_HINT})"
        + "".join(f"\n    {terminal_text(str(h['error']))}" for h in held)
    )


def _gpu_share(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """``--gpus-per-worker``: a share below 1 or a whole number of GPUs (what Ray can give)."""
    problem = None if value is None else gpu_share_problem(value)
    if problem is not None:
        raise click.BadParameter(f"{problem}: {GPU_SHARE_HINT}")
    return value


@tracklets.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@run_file_option("--weights", **DETECTOR_RUN, help="Detector weights (default: embedded).")
@run_file_option("--matcher", **MATCHER_RUN, help="Matcher checkpoint (default: embedded).")
@click.option(
    "--detector",
    type=click.Choice(list(DETECTORS)),
    default="ultralytics",
    show_default=True,
    help="Detector backend.",
)
@click.option("--stride", type=click.IntRange(min=1), help="Detect every k-th frame (default 1).")
@click.option("--keyframes", is_flag=True, help="Detect on the codec's key frames only.")
@click.option(
    "--embed",
    type=click.Choice(EMBED_SOURCES),
    help="How detections are matched: crops, roi (pooled from the detector's own feature maps by the"
    " RoI matcher), or auto (default: roi when the RoI matcher fits the detector, else crops).",
)
@click.option(
    "--conf", type=FiniteFloatRange(0.0, 1.0), help="Detector confidence threshold, 0..1 (default 0.1)."
)
@click.option("--shard", help="Process shard i of n, written i/n (e.g. 0/4).")
@click.option("--batch", type=click.IntRange(min=1), help="Frames per detector batch (default 16).")
@catalog_option(required=False, help="Catalog: mark noisy videos needs_review.")
@click.option(
    "--config", type=click.Path(dir_okay=False, exists=True), help="YAML with BuildConfig overrides."
)
@click.option("--sheets", is_flag=True, help="Also write contact sheets (tracklets/sheets/*.png).")
@click.option(
    "--force",
    is_flag=True,
    help="Redo videos that are already done (not those holding a person's work: see --discard-corrections).",
)
@click.option(
    "--discard-corrections",
    is_flag=True,
    help="Also build again the videos whose tracklet file holds a person's work (a CVAT import, a review"
    " pick, an accept since the build) when they are due (other weights or settings, --force); their"
    " corrections are lost. Without it they are kept, counted and named.",
)
@threads_option
@executor_options
@click.option(
    "--workers",
    type=click.IntRange(1),
    help="With --executor ray: workers (each with its own detector and matcher) [default: as many as "
    "the cluster holds].",
)
@click.option(
    "--gpus-per-worker",
    type=FiniteFloatRange(0, 64),
    callback=_gpu_share,
    help="With --executor ray: GPU share of each worker, below 1 (e.g. 0.5 for two per GPU) or a whole "
    "number [default: 1 when the cluster has GPUs, else 0].",
)
@on_bad_option
@json_option
@device_option
@progress_option
def build(
    dataset,
    weights,
    matcher,
    detector,
    stride,
    keyframes,
    embed,
    conf,
    shard,
    batch,
    catalog_path,
    config,
    sheets,
    force,
    discard_corrections,
    executor,
    ray_address,
    workers,
    gpus_per_worker,
    on_bad,
    as_json,
) -> None:
    """Detect, track and write the ground-truth tracklet of every video.

    Writes tracklets/<video>.json (every tracklet, scores, classes, model versions) and the
    ground-truth tracklets into train.json/test.json. Reruns skip done videos: built with the
    same weights and settings (all but review:) from the same video and shop image (files from
    an older build, which recorded neither, count as done); the models are loaded only when a
    video is to be built. A file holding a person's work (an
    import, a review pick, an accept since its build) is kept even when due (other weights or
    settings, --force) and named in the output; --discard-corrections builds it again (a kept
    file whose video changed is flagged for review); an unreadable video is reported,
    skipped and listed (exit 1; a rerun tries it again). A product whose split-file entry is
    refused (a bad box, a missing field) is held out and named, the others built (exit 1;
    --on-bad raise refuses the dataset instead). At the end every
    video's review flag is settled over the whole dataset (det_mean's rule is relative to it:
    the threshold used is printed); after sharded builds, one run without --shard (nothing left
    to build) settles the flags over every shard's videos.

    \b
    Examples:
      mf-tracklets build --dataset dataset --stride 2 --sheets
      mf-tracklets build --dataset dataset --threads 1   # the bytes a Ray build writes
      mf-tracklets build --dataset dataset --detector fasterrcnn --weights frcnn.pt --shard 0/2 --json
      # on a Ray cluster (the dataset on a folder every node sees; files written here only):
      mf-tracklets build --dataset /shared/dataset --executor ray --ray-address HEAD:6379 --gpus-per-worker 0.5
    """
    cfg = _load_build_config(config, stride, batch, keyframes, embed, conf)
    from annotations.builder import build_dataset_tracklets, parse_shard
    from movingfashion.executors import make_executor

    shard_ = parse_shard(shard)
    if (executor or cfg.executor) != "ray":
        if workers is not None:
            raise click.UsageError("--workers is read with --executor ray (local runs one video at a time)")
        if gpus_per_worker is not None:
            raise click.UsageError(
                "--gpus-per-worker is read with --executor ray (a local run uses this machine's GPU, if any)"
            )
    bar = progress_bar(desc="videos", unit="video")  # on stderr: --json's stdout stays JSON alone

    def on_video(job, outcome, rep):
        if bar.total is None:
            bar.total = rep.videos
        # no review count here: the flags are decided once every video is built (relative rules)
        bar.set_postfix(fps=f"{rep.fps:.1f}", failed=len(rep.failed))
        bar.update(1)
        if outcome == "failed":
            bar.write(f"failed: {_failure(rep.failed[-1])}", file=sys.stderr)

    try:
        with make_executor(executor or cfg.executor, workers=workers, address=ray_address) as ex:
            rep = build_dataset_tracklets(
                dataset,
                detector=detector,
                weights=weights,
                matcher=matcher,
                config=cfg,
                shard=shard_,
                catalog=catalog_path,
                force=force,
                discard_corrections=discard_corrections,
                sheets=sheets,
                on_video=on_video,
                executor=ex,
                gpus_per_worker=gpus_per_worker,
                on_bad=on_bad,
            )
            result = rep.as_dict() | ({"executor": ex.report()} if ex.remote else {})
    finally:
        bar.close()
    if shard_ != (0, 1):  # flags were settled over the videos built so far, not the dataset's
        result["shard"] = f"{shard_[0]}/{shard_[1]}"
        result["flags_final"] = False
        result["next"] = "when every shard has finished, run once more without --shard to settle the flags"
    emit(
        result,
        as_json,
        lambda d: (
            f"{counted(d['processed'], 'video')} processed, {d['skipped']} skipped (done), {len(d['failed'])} failed, "
            f"{len(d['needs_review'])} need review"
            + (
                f", {d['held_back']} held back for review by mf publish (mf-tracklets review lists them)"
                if d.get("held_back")
                else ""
            )
            + (
                f" ({len(d['accepted_in_review'])} more flagged, accepted in review)"
                if d["accepted_in_review"]
                else ""
            )
            + f"; {d['frames_detected']} frames at {d['frames_per_second']} frames/s"
            + "".join(_flag_threshold_line(s, t, cfg.review.rules) for s, t in d["flag_thresholds"].items())
            + (
                f"\n  {counted(d['redecided'], 'flag')} decided again over the dataset"
                if d["redecided"]
                else ""
            )
            + "".join(
                f"\n  built again: {counted(k, 'done video')}, {why}" for why, k in d["rebuilt"].items()
            )
            + (
                f"\n  {counted(d['decided_by_person'], 'video')} whose ground truth a person chose (review pick,"
                " import) keep their flag"
                if d["decided_by_person"]
                else ""
            )
            + (
                f"\n  {counted(d['split_truth_files'], 'video')} holding the split files' own ground truth: their flag is"
                " the detector's agreement with it, decided when it was kept"
                if d.get("split_truth_files")
                else ""
            )
            + _kept_human_line(d)
            + _kept_split_line(d)
            + _detector_choice_line(d)
            + _adopted_line(d)
            + _dropped_line(d)
            + (
                f"\n  note: {d['unrecorded']} done tracklet files have no build record (an older build):"
                " kept as done, but a change of settings, video or shop image is not seen for them"
                " (rebuild them with --force)"
                if d["unrecorded"]
                else ""
            )
            + "".join(
                f"\n  warning: {k} tracklet files have no {s} signal (an older build): its rule cannot"
                " flag them; rebuild them with --force"
                for s, k in d["flag_signals_missing"].items()
            )
            + "".join(f"\n  failed: {_failure(f)}" for f in d["failed"])
            + held_out_lines(d["held_out"])
            + (
                f"\n  not refreshed (tables, card, manifest): {terminal_text(d['not_refreshed'])}"
                if d.get("not_refreshed")
                else ""
            )
            + (f"\n  shard {d['shard']}: {d['next']}" if "shard" in d else "")
        ),
    )
    exit_if_failed(len(rep.failed) + len(rep.held_out))


def _adopted_line(d: dict) -> str:
    """The summary lines of files of videos no longer shared: adopted as the video's own file,
    and files of products that no longer list their video, removed (empty when none)."""
    adopted = d.get("adopted_unshared_videos") or []
    text = "".join(
        f"\n  no longer shared: {a['video']}: kept {a['kept']} as {a['file']} ({a['why']})"
        for a in adopted[:5]
    )
    if len(adopted) > 5:
        text += f"\n  ... and {len(adopted) - 5} more videos no longer shared (--json lists all)"
    removed = d.get("removed_unlisted") or []
    if removed:
        text += f"\n  removed {len(removed)} tracklet files of products that no longer list their video"
    return text


def _dropped_line(d: dict) -> str:
    """The summary line naming the videos built whose file was not written because no split file
    lists them any more (a ``mf publish`` run meanwhile; empty when none)."""
    dropped = d.get("dropped_unlisted") or []
    if not dropped:
        return ""
    return (
        f"\n  not written: {len(dropped)} videos no split file lists any more (a mf publish ran meanwhile):"
        f" {_names(dropped)}"
    )


def _flag_threshold_line(key: str, threshold: float, rules: Sequence[Any]) -> str:
    """The summary line of a relative review-flag rule's threshold settled over the dataset
    (``key`` as in ``flag_thresholds``, e.g. ``"det_mean <"``), in plain words: what flags a
    video, the threshold this dataset got and where it comes from (``rules``: the build's)."""
    from annotations.flags import SIGNALS

    signal, _, sign = key.rpartition(" ")
    op = "lt" if sign == "<" else "gt"
    rule = next((r for r in rules if r.signal == signal and r.op == op), None)
    what = SIGNALS.get(signal, signal)
    line = (
        f"\n  review flags: a video is flagged for review when the {what} ({signal}) is "
        f"{'below' if op == 'lt' else 'above'} {threshold:.3g}, this dataset's threshold"
    )
    if rule is None or rule.max_share is None:
        return line
    return line + (
        f" (the rule's {rule.threshold:.3g}"
        + (" as is" if round(threshold, 4) == round(rule.threshold, 4) else ", tightened")
        + f": relative to the dataset, it flags at most about {rule.max_share:.0%} of its videos"
        + (
            f", and always a video {'below' if op == 'lt' else 'above'} {rule.floor:.3g}"
            if rule.floor is not None
            else ""
        )
        + ")"
    )


def _kept_human_line(d: dict) -> str:
    """The summary line naming the files kept for a person's work (empty when none)."""
    kept = d.get("kept_human_videos") or []
    if not kept:
        return ""
    names = ", ".join(f"{k['video']} ({k['holds']})" for k in kept[:5])
    more = f" and {len(kept) - 5} more" if len(kept) > 5 else ""
    return (
        f"\n  kept {d['kept_human']} tracklet files holding a person's work instead of building them again:"
        f" {names}{more}; mf-tracklets build --discard-corrections builds them again (their corrections"
        " are lost)"
    )


def _kept_split_line(d: dict) -> str:
    """The summary line naming the videos built anew whose split-file tracklet stays their ground
    truth (empty when none)."""
    kept = d.get("kept_split_ground_truth") or []
    if not kept:
        return ""
    more = f" and {len(kept) - 5} more" if len(kept) > 5 else ""
    agree = d.get("split_truth_agreement") or {}
    low = d.get("split_truth_min_iou") or 0.0
    counts = [
        (sum(v is not None and v >= low for v in agree.values()), "agrees with it on {}"),
        (
            sum(v is not None and v < low for v in agree.values()),
            f"disagrees on {{}} (mean IoU below {low:g}: flagged for review)",
        ),
        (sum(v is None for v in agree.values()), "is missing on {} (the detector chose none: not flagged)"),
    ]
    said = ", ".join(what.format(n) for n, what in counts if n)
    return (
        f"\n  kept the split files' own ground truth of {len(kept)} videos built anew (the detector's"
        f" tracklets are beside it in their tracklet files): {', '.join(kept[:5])}{more}"
        + (f"; the detector's tracklet {said}" if said else "")
    )


def _detector_choice_line(d: dict) -> str:
    """The summary line naming the videos built anew whose split-file tracklet was an earlier
    build's detector choice, so not kept as the archive's (empty when none)."""
    named = d.get("split_detector_choice") or []
    if not named:
        return ""
    more = f" and {len(named) - 5} more" if len(named) > 5 else ""
    return (
        f"\n  built {len(named)} videos as any other whose split-file tracklet an earlier build wrote from"
        f" the detector's choice (not the archive's ground truth): {', '.join(named[:5])}{more}"
    )


def _reference(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return value if value is None or ctx.resilient_parsing else require_dataset(value, "--reference")


@tracklets.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@click.option(
    "--reference",
    required=True,
    type=click.Path(file_okay=False),
    callback=_reference,
    help="Reference dataset (official format) whose tracklets are the true item boxes, e.g. a "
    "hand-annotated copy or `mf world export-gt`.",
)
@click.option("--details", is_flag=True, help="Per-video figures in the JSON output.")
@on_bad_option
@json_option
def qa(dataset, reference, details, on_bad, as_json) -> None:
    """Compare ground-truth tracklets with a reference's true boxes: mean IoU and the >= 50% check.

    Video i of a product is the reference's video of the item metadata.video_items[i] of
    entries.jsonl names (a product merged from several items), else of the same product id and
    position in video_paths; boxes follow the crops recorded in entries.jsonl (source_crops).
    Every listed video counts (one without a tracklet file fails the check: no_tracklet_file), and
    so do those mf publish held back for review (held_back). Videos the reference lacks are
    listed as missing. A product of either dataset whose split-file entry is refused (a bad box,
    a malformed number, a frame key twice) is held out and named, the others scored (exit 1;
    --on-bad raise refuses instead, exit 2).

    \b
    Examples:
      mf-tracklets qa --dataset dataset --reference reference-dataset --json
      mf world export-gt --world world --out world-gt && mf-tracklets qa --dataset dataset --reference world-gt
    """
    from annotations.qa import reference_boxes, score_dataset
    from annotations.tracklet_files import held_out_rows

    results = require_results(dataset)
    ref_held: list = []
    truth = reference_boxes(dataset, reference, on_bad, held_out=ref_held)
    rep = score_dataset(dataset, results, truth, on_bad=on_bad)
    rep.held_out += held_out_rows(ref_held)
    require_overlap(rep.as_dict(), reference, "reference", "pass the reference made for this dataset")
    emit(
        rep.as_dict(details),
        as_json,
        lambda d: qa_human(d) + counted_apart(d) + held_out_lines(d["held_out"]),
    )
    exit_if_failed(len(rep.held_out))  # the others scored: exit 1, the output names each


def require_overlap(d: dict, where: str, what: str, hint: str) -> None:
    """Refuse QA figures (``DatasetQAReport.as_dict()``) that score no video because the
    reference (``what`` at ``where``) knows none of the dataset's: another world or dataset."""
    if d["videos"] == 0 and d["missing"]:
        n = len(d["missing"])
        raise DataFormatError(
            f"none of the dataset's {n} video{'s' if n != 1 else ''} is in this {what} "
            f"({_names(d['missing'], 3)}): nothing to score",
            where=where,
            hint=hint,
        )


def qa_human(d: dict) -> str:
    """One line of QA figures (``QAReport.as_dict()``) for people."""
    return (
        f"{d['videos']} video{'s' if d['videos'] != 1 else ''}: mean IoU {d['mean_iou']:.3f}, "
        f">=50% check passed by {100 * d['pass_rate']:.1f}%,"
        f" query mean IoU {d['query_mean_iou']:.3f}; flagged {d['flagged']} ({100 * d['flag_rate']:.1f}%),"
        + (
            f" flag recall {100 * d['flag_recall']:.1f}% of the failing videos"
            if d["flag_recall"] is not None
            else " no failing video to flag"
        )
        + (
            f"; {len(d['missing'])} video{'s' if len(d['missing']) != 1 else ''} not in the reference: "
            f"{_names(d['missing'])}"
            if d["missing"]
            else ""
        )
    )


def _names(videos: list[str], most: int = 5) -> str:
    """The first ``most`` of ``videos``, and how many more."""
    more = f" and {len(videos) - most} more" if len(videos) > most else ""
    return ", ".join(videos[:most]) + more


def counted_apart(d: dict) -> str:
    """The videos a dataset's QA counts that the split files do not show
    (``DatasetQAReport.as_dict()``; ``mf-tracklets qa`` and ``mf world score tracklets``): held
    back for review, listed without a tracklet file (failures)."""
    out = (
        f"; {d['held_back']} of the {d['videos']} scored videos are held back for review (in no split file)"
        if d["held_back"]
        else ""
    )
    if d["no_tracklet_file"]:
        n, names = len(d["no_tracklet_file"]), _names(d["no_tracklet_file"])
        out += f"; {n} without a tracklet file (counted as failing): {names}"
    return out


def _unknown_videos(dataset: str, stems: list[str]) -> None:
    if stems:
        raise DataFormatError(
            f"no tracklet file for video {stems[0]!r}",
            where=str(Path(dataset) / "tracklets"),
            hint="use the stem of one of the dataset's videos (the names in DATASET/tracklets/, without .json)",
        )


@tracklets.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@click.option("--video", "videos", multiple=True, help="Only these video stems (repeatable).")
@click.option("-n", "n", type=click.IntRange(min=1), default=8, show_default=True, help="Frames per sheet.")
@json_option
def sheets(dataset, videos, n, as_json) -> None:
    """Write contact sheets (shop image, tracklet crops, frames with boxes) to tracklets/sheets/.

    \b
    Examples:
      mf-tracklets sheets --dataset dataset
      mf-tracklets sheets --dataset dataset --video 1234_0 -n 12 --json

    A video whose sheet cannot be drawn (its video missing or unreadable, a box of its tracklet
    file far outside its frames) is reported and skipped: the other sheets are written and a
    published folder's manifest takes them in (exit 1 when some failed; a split file or row that
    does not read stops the command, exit 2). A video `mf publish` held back for review is not in
    the published folder: it is listed under `held_back` and skipped (its sheet from the build
    stands; `mf review` shows it).
    """
    results = require_results(dataset)
    stems = {Path(vt.video).stem for vt in results}
    _unknown_videos(dataset, [v for v in videos if v not in stems])
    from annotations.qa import held_videos
    from annotations.sheets import write_sheet
    from annotations.tracklet_files import tracklet_file
    from schemas.errors import MediaError, MFError
    from schemas.faults import reraise_local_fault

    held = held_videos(dataset)
    chosen = [vt for vt in results if not videos or Path(vt.video).stem in videos]
    held_back = [vt.video for vt in chosen if vt.video in held and not (Path(dataset) / vt.video).exists()]
    chosen = [vt for vt in chosen if vt.video not in held_back]
    out: list[str] = []
    failed: list[dict[str, str]] = []
    try:
        for vt in progress(chosen, desc="sheets", unit="video"):
            try:
                out.append(str(write_sheet(dataset, vt, n)))
            except MFError as exc:
                reraise_local_fault(exc)  # disk full etc. is not the video's fault: stop
                if not isinstance(exc, MediaError) and exc.where != str(
                    tracklet_file(dataset, vt.video, vt.product_id)
                ):
                    raise  # a split file or row that does not read: the dataset's input, exit 2
                failed.append({"video": vt.video, "product_id": vt.product_id, "error": str(exc)})
    finally:
        if out:
            _refresh_published(dataset, out)
    emit(
        {"sheets": out, "failed": failed, "held_back": held_back},
        as_json,
        lambda d: "\n".join(
            [
                *d["sheets"],
                *(f"failed: {_failure(f)}" for f in d["failed"]),
                *(
                    [
                        f"held back for review, not in the folder (its sheet from the build stands): {_names(held_back)}"
                    ]
                    if held_back
                    else []
                ),
            ]
        ),
    )
    exit_if_failed(failed)


def _refresh_published(dataset: str, written: list[str]) -> None:
    """A published folder's manifest takes in files a command added (sheets, review.jsonl), so
    ``mf verify`` still holds; only those files (and the folder's top files) are hashed again."""
    from movingfashion.archive.describe import refresh
    from schemas.errors import MFError

    root = Path(dataset)
    try:
        refresh(root, changed=[Path(w).resolve().relative_to(root.resolve()).as_posix() for w in written])
    except MFError as exc:  # the files are written; a bad row elsewhere only keeps the manifest old
        click.echo(f"warning: manifest not refreshed ({exc}); mf verify will list the new files", err=True)


def _listed_by_decisions(dataset: str, catalog: str | None) -> list[str] | None:
    """The files a published folder's manifest lists that recording decisions changes, to hash
    again (:func:`_refresh_published`): an older ``review.jsonl`` (moved to the hidden log: the
    folder's top files are hashed again) and the catalog when it is one of them; None when
    there is none (the log is hidden, the default catalog too): the split files, the tables and
    the manifest stay as they are, and nothing reads the split files whole."""
    from movingfashion.archive.describe import read_manifest
    from schemas.review import LEGACY_REVIEW_LOG

    doc = read_manifest(dataset)
    files = doc.get("files") if doc is not None else None
    if not isinstance(files, dict):
        return None  # no manifest: nothing to refresh
    root = Path(dataset).resolve()
    out: list[str] = []
    if catalog is not None:
        try:
            rel = Path(catalog).resolve().relative_to(root).as_posix()
        except ValueError:
            rel = None
        if rel is not None and any(f"{rel}{end}" in files for end in ("", "-wal", "-shm")):
            out.append(str(Path(catalog)))
    legacy = (root / LEGACY_REVIEW_LOG).is_file() or LEGACY_REVIEW_LOG in files
    return out if out or legacy else None


DEFAULT_HOST = "127.0.0.1"


def _serve_options(f):
    """--port, --host, --sample, --seed, --root of the review page."""
    f = root_option(
        required=False,
        help="Collection folder of mf-collect: the videos and shop images of the items mf publish holds "
        "back are shown from there when the dataset holds no copy (default: the catalog's folder).",
    )(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Seed of the QA sample.")(f)
    f = click.option(
        "--sample",
        type=FiniteFloatRange(0, 1),
        default=0.1,
        show_default=True,
        help="Share of the videos the builder accepted that join the queue as a QA sample.",
    )(f)
    f = click.option(
        "--host",
        default=DEFAULT_HOST,
        show_default=True,
        envvar="MF_REVIEW_HOST",
        show_envvar=True,
        help="Address to listen on. Only loopback unless --host is given on the command line.",
    )(f)
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=8766,
        show_default=True,
        help="Port (0: any free one).",
    )(f)


#: said when review decisions go nowhere mf publish reads them
NO_CATALOG_WARNING = (
    "no --catalog: decisions go to {where} only, which mf-tracklets build reads but mf publish does "
    "not; a video the catalog holds back (needs_review) stays held back: give --catalog C (the one "
    "mf publish uses) to record them there too"
)


def _given(name: str) -> bool:
    """Whether the current command's parameter ``name`` was given on the command line."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) == ParameterSource.COMMANDLINE


def _serve_review(dataset, catalog, host, port, sample, seed, as_json, root=None) -> None:
    """Serve the review page until Ctrl-C (see annotations.review.server)."""
    from click.core import ParameterSource

    from annotations.review.server import ReviewApp, check_bind, make_server, remove_new_catalog
    from schemas.atomic import lock_wait_s

    ctx = click.get_current_context()
    source = ctx.get_parameter_source("host")
    explicit = source == ParameterSource.COMMANDLINE
    check_bind(
        host,
        allow_non_loopback=explicit,
        where="$MF_REVIEW_HOST" if source == ParameterSource.ENVIRONMENT else "--host",
    )
    lock_wait_s()  # a bad $MF_LOCK_WAIT_S is refused now, not at the reviewer's first decision
    require_dataset(dataset)
    if not catalog:
        click.echo(f"warning: {NO_CATALOG_WARNING.format(where=Path(dataset) / '.review.sqlite')}", err=True)
    cat_path = Path(catalog) if catalog else Path(dataset) / ".review.sqlite"
    if catalog:  # another collection's catalog is refused before the bind, as the list and decisions do
        require_catalog_knows_dataset(dataset, catalog)
    # bound before the app opens (and may create) its catalog: a port in use leaves the dataset as it was
    srv = make_server(None, host, port, allow_non_loopback=explicit)
    try:
        app = ReviewApp(
            dataset, cat_path, sample_rate=sample, seed=seed, create_catalog=not catalog, collection=root
        )
    except BaseException:
        srv.server_close()
        raise
    srv.attach(app)
    q = app.queue
    info = {
        "url": srv.url,
        "catalog": str(cat_path),
        "queue": len(q.items),
        "flagged": q.flagged,
        "held_back": q.held_back,
        "missing_media": q.missing_media,
        "sampled": q.sampled,
        "sample_rate": q.sample_rate,
        "reconciled": app.reconciled,
    }
    serving = False  # nothing is decided before the server serves: a failed start leaves no catalog
    try:  # a Ctrl-C from the moment the URL is out stops the server cleanly
        # Ctrl-C (SIGINT) stops the server even when the shell started it in the background, where
        # SIGINT is ignored and Python then leaves it so (a script's `kill -INT` would do nothing)
        stop_on_ctrl_c()
        if as_json:  # one line: a script reads the URL as soon as the server is up
            emit(info, True, indent=None)
        else:
            click.echo(
                f"review page: {srv.url}\n{counted(len(q.items), 'video')} in the queue ({q.flagged} flagged, "
                f"{q.held_back} of them held back by mf publish; "
                f"{q.sampled} QA sample at {q.sample_rate:.0%}); decisions go to {cat_path}"
                + ("" if catalog else " (pass --catalog CATALOG so that mf publish sees them)")
                + (
                    f"\nwarning: {q.missing_media} held-back videos are neither in the dataset nor under "
                    f"{app.collection} (pass --root, the folder of mf-collect)"
                    if q.missing_media
                    else ""
                )
                + "\nCtrl-C stops the server; every decision is saved when it is made."
            )
        sys.stdout.flush()
        serving = True
        srv.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped: every decision is saved", err=True)
        sys.exit(130)  # interrupted, as every command (mf world serve too)
    finally:
        srv.server_close()
        app.close()
        if not serving and app.created_catalog:  # e.g. stdout closed before the URL was out
            remove_new_catalog(cat_path)


def _review_name(video: str, product_id: str, shared: frozenset[str]) -> str:
    """The name ``mf-tracklets review`` lists a review under: the stem of its tracklet file
    (``<video stem>``, or ``<video stem>@<product>`` for a video several products list)."""
    from schemas.tracklet_names import tracklet_stem

    return tracklet_stem(video, product_id, shared=video in shared)


def _listed_decisions(dataset, catalog, shared: frozenset[str]) -> dict[str, str | None]:
    """Review name (:func:`_review_name`) -> its verdict (accept/reject; None: undone) for the
    list of ``mf-tracklets review``: the newer of ``review.jsonl`` (``--accept``/``--reject``)
    and the catalog's review decisions (the review page's; ``catalog``, else
    ``DATASET/.review.sqlite`` when it exists, opened read-only)."""
    from datetime import UTC, datetime

    from annotations.review import read_decisions
    from schemas.catalog import Catalog
    from schemas.review import VERDICTS, list_decisions, review_states

    def when(at: object) -> datetime:
        """An ISO time (one without a zone read as UTC); none, or not a time (a log edited by
        hand: ``5``, ``"yesterday"``), is the earliest: the catalog's decision wins over it."""
        try:
            t = datetime.fromisoformat(at)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return datetime.min.replace(tzinfo=UTC)
        return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

    logged = read_decisions(dataset)
    out: dict[str, str | None] = {
        stem: d if isinstance(d := rec.get("decision"), str) else None for stem, rec in logged.items()
    }
    path = Path(catalog) if catalog else Path(dataset) / ".review.sqlite"
    if not path.is_file():
        return out
    with Catalog(path, read_only=True) as cat:
        states = review_states(cat)
        seen: dict[tuple[str, str], datetime] = {}  # review -> its latest verdict or undo of one there
        last: dict[tuple[str, str], int] = {}  # review -> the id of its latest verdict
        for d in list_decisions(cat, include_undone=True):
            if d.kind in VERDICTS:
                key = (d.video, d.product_id)
                seen[key] = max(seen.get(key, when(None)), when(d.at), when(d.undone_at))
                last[key] = max(last.get(key, 0), d.id)
    # one name may have two reviews: a merged product's video (P_1) decided on the product before
    # its verdicts went to the item that brought it in, and on that item since; the one with the
    # latest decision (by id) says the name's verdict, whatever order the reviews come in
    for key in sorted(seen, key=lambda k: last[k]):
        name, at = _review_name(*key, shared), seen[key]
        if name not in logged or at >= when(logged[name].get("at")):
            st = states.get(key)
            out[name] = st.verdict if st else None
    return out


def _shop_choices(shops: tuple[str, ...], catalog) -> dict[str, int]:
    """``--shop NAME=N`` options as review name -> candidate number (1-based); UsageError otherwise."""
    if shops and catalog is None:
        raise click.UsageError("--shop needs --catalog (the carousel candidates are the catalog's)")
    out: dict[str, int] = {}
    for opt in shops:
        name, _, n = opt.rpartition("=")
        if not name or not n.isdigit() or int(n) < 1:
            raise click.BadParameter(
                f"{opt!r}: give NAME=N, N the candidate's number from 1", param_hint="--shop"
            )
        out[name] = int(n)
    return out


def _shop_candidate(catalog, name: str, product_id: str, n: int, held: dict[str, Any]) -> str:
    """The collected path of candidate ``n`` (1-based) of the held-back item ``name``, or a
    ConfigError: the page offers a choice for held-back items only (a published product's is
    made by rejecting it: the next publish holds it back), and ``n`` must be one of them."""
    from annotations.review.marks import open_catalog
    from schemas.review import product_shop_candidates

    if name not in held:
        raise ConfigError(
            f"{name} is not held back by mf publish: the shop image of a published product is not chosen here",
            where="--shop",
            hint="reject it (the next mf publish holds it back), then choose its candidate",
        )
    with open_catalog(catalog) as cat:
        cands = product_shop_candidates(cat, product_id)
    if not 1 <= n <= len(cands):
        have = f"candidates 1..{len(cands)}" if cands else "no carousel candidates"
        raise ConfigError(f"{name} has {have}, not {n}", where="--shop")
    return cands[n - 1]


def _choose_shop(
    catalog, name: str, video: str, product_id: str, n: int, shop: str, note: str | None = None
) -> dict[str, Any]:
    """Store a ``shop`` decision: candidate ``n`` (``shop``, its path) of the held item ``name``;
    a ``note`` is stored beside it as the item's note (as the review page's ``n`` does)."""
    from annotations.review.marks import open_catalog
    from schemas.review import record_decision
    from schemas.text_input import clean_text

    note = clean_text(note) if note is not None else None  # a byte the shell passed undecoded: U+FFFD
    with open_catalog(catalog) as cat:
        record_decision(cat, video=video, product_id=product_id, kind="shop", shop=shop)
        if note and note.strip():
            record_decision(cat, video=video, product_id=product_id, kind="note", note=note)
    rec = {"video": name, "product_id": product_id, "decision": "shop", "candidate": n, "shop": shop}
    return rec | {"note": note}


def _class_choices(classes: tuple[str, ...], catalog, decided: list[str]) -> dict[str, int]:
    """``--class [NAME=]CLASS`` options as review name -> DeepFashion2 class id: ``NAME=CLASS``
    for that name, a plain ``CLASS`` for the only name the call decides (``decided``: the names
    of --accept/--reject/--shop). CLASS is a class name or number (``trousers``, ``8``,
    :func:`schemas.taxonomy.class_from_text`); a BadParameter (exit 2) listing the 13 otherwise."""
    from schemas.taxonomy import DF2_CLASSES, class_from_text

    if classes and catalog is None:
        raise click.UsageError("--class is recorded in the catalog (as the review page's c): add --catalog")
    names = list(dict.fromkeys(decided))
    out: dict[str, int] = {}
    for opt in classes:
        name, _, text = opt.rpartition("=")
        cid = class_from_text(text)
        if cid is None:
            valid = ", ".join(f"{n} {c}" for n, c in DF2_CLASSES.items())
            raise click.BadParameter(
                f"{text!r} is no DeepFashion2 class: give a name or number, one of {valid}",
                param_hint="--class",
            )
        if not name:
            if len(names) != 1:
                raise click.UsageError(
                    f"--class {opt!r} names no video: write --class NAME={text}"
                    + (f", NAME one of {', '.join(names)}" if names else "")
                )
            name = names[0]
        if out.get(name, cid) != cid:
            raise click.UsageError(f"--class gives {name} two classes: give each video one")
        out[name] = cid
    return out


def _class_refusals(dataset: str, catalog, targets: Mapping[str, tuple[str, str]]) -> None:
    """Refuse, before anything is recorded, a ``--class`` on a merged product's video that another
    item brought in (:func:`_merged_owners`): which item a class decision there should set is not
    settled; the product's own video takes it."""
    owners = _merged_owners(dataset, catalog, targets)
    for name, found in owners.items():
        pid = targets[name][1]
        raise ConfigError(
            f"{name} is item {found.product_id}'s video, brought into product {pid}: its class is "
            f"not set from here; give --class on one of product {pid}'s own videos",
            where=f"--class {name}",
        )


def _choose_class(dataset: str, catalog, name: str, video: str, product_id: str, cid: int) -> dict[str, Any]:
    """Store a ``class`` decision (``cid``) on review ``name`` exactly as the review page's ``c``
    does (:func:`annotations.review.decisions.decide`)."""
    from annotations.review.decisions import decide
    from annotations.review.marks import open_catalog
    from schemas.taxonomy import DF2_CLASSES

    with open_catalog(catalog) as cat:
        decide(dataset, cat, video=video, product_id=product_id, kind="class", df2_class=cid)
    return {"video": name, "product_id": product_id, "decision": "class", "df2_class": cid} | {
        "class_name": DF2_CLASSES[cid]
    }


def _decision_notes(notes: tuple[str, ...], names: list[str], *, note_all: bool) -> dict[str, str]:
    """Review name -> the note its decisions take, from the ``--note`` values: ``NAME=TEXT``
    (``NAME`` one of ``names``, the call's decided names) for that name's decisions, a plain
    ``TEXT`` for the only name decided, or for every one with ``note_all``. A UsageError for a
    plain note that could go with several decisions (before: stored with each, silently), two
    notes for one name, or --note-all without a plain note."""
    decided = list(dict.fromkeys(names))
    named: dict[str, str] = {}
    plain: list[str] = []
    for value in notes:
        name, eq, text = value.partition("=")
        if eq and name in decided:
            if name in named:
                raise click.UsageError(f"--note gives {name} two notes: give each decision one note")
            named[name] = text
        else:
            plain.append(value)
    if len(plain) > 1:
        raise click.UsageError(
            f"--note is given {len(plain)} notes naming no decision: write NAME=TEXT, NAME one of "
            f"{', '.join(decided)}"
        )
    if note_all and not plain:
        raise click.UsageError("--note-all stores the plain --note TEXT with every decision: give one")
    if plain and len(decided) > 1 and not note_all:
        raise click.UsageError(
            f"--note {plain[0]!r} could go with any of {len(decided)} decisions ({', '.join(decided)}): "
            "write --note NAME=TEXT for each, or add --note-all to store it with every one"
        )
    return {name: named[name] if name in named else plain[0] for name in decided if name in named or plain}


def _catalog_holds(
    dataset: str, catalog, heads: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, tuple[str, str, str | None]], dict[str, str]]:
    """What the catalog holds back for review, as the review page's queue takes it: review name
    -> (video, product, why) of the videos of the items :func:`schemas.review.held_for_review`
    names that the split files do not list (the association check's and the carousel pick's
    needs_review, tracklet flags after a republish, ...; named as publish names their videos,
    ``<product>_<n>``), and product -> why of every ``needs_review`` item (a listed one: the next
    mf publish holds it back). Both empty without a catalog. ``heads``: the split files' products
    (:func:`annotations.tracklet_files.load_split_heads`)."""
    if catalog is None or not Path(catalog).is_file():
        return {}, {}
    from schemas.catalog import Catalog
    from schemas.dataset import read_entry_rows
    from schemas.items import Status
    from schemas.review import STALE_NOTE, held_for_review, merged_ids, published_ids

    entries = Path(dataset) / "entries.jsonl"
    rows = read_entry_rows(entries) if entries.is_file() else {}
    listed = [pid for split in heads.values() for pid in split]
    published = published_ids(listed, rows)
    needs: dict[str, str] = {}
    with Catalog(catalog, read_only=True) as cat:
        require_catalog_overlap(dataset, catalog, published, cat.items())
        held = held_for_review(cat, published, merged_ids(listed, rows))
        for r in cat.items(status=Status.NEEDS_REVIEW):
            needs.setdefault(r.product_id or r.item.source_id, r.reason or "needs review")
    out = {Path(v).stem: (v, h.product_id, h.row.reason) for h in held for v, _ in h.videos}
    for h in held:  # a flagged video the item no longer has: decided on by the flag's name
        for stem, why in h.stale:
            note = STALE_NOTE.format(stem=stem, pid=h.product_id, dataset=dataset, catalog=catalog)
            out.setdefault(stem, (f"videos/{stem}.mp4", h.product_id, f"tracklets: {why}; {note}"))
    return out, needs


def _split_truth(
    dataset: str,
    shared: frozenset[str],
    heads: Mapping[str, Mapping[str, Any]],
    identities: Mapping[str, Any],
    held_out: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, tuple[str, str, str]]:
    """Review name -> (video, product, why) of the split files' videos that have no tracklet file
    of their product but whose split-file entry holds a tracklet (the real archive as downloaded):
    the review page queues them, flagged, showing that tracklet as the ground truth
    (:func:`annotations.review.queue.queued_truth_reason`: the archive's, or an earlier build's
    detector choice), and an accept or reject decides on them as on a video with a file.
    ``heads``: the split files' products without their boxes
    (:func:`annotations.tracklet_files.load_split_heads`), ``identities`` the versions read; a
    video's boxes are read only when an earlier build's record names it. ``held_out``: (video,
    product) pairs left out (their split-file tracklet holds a bad box)."""
    from annotations.review.queue import SplitTruth, queued_truth_reason, split_origin
    from annotations.tracklet_files import tracklet_file

    out: dict[str, tuple[str, str, str]] = {}
    origin = None  # read once a video without a tracklet file holds a split tracklet
    for name, split in heads.items():
        for pid, entry in split.items():
            for vi, vp in enumerate(entry.video_paths):
                if (vp, pid) in held_out:
                    continue
                has_file = tracklet_file(dataset, vp, pid, shared=vp in shared).is_file()
                if not has_file and vi < len(entry.with_boxes) and entry.with_boxes[vi]:
                    origin = split_origin(Path(dataset)) if origin is None else origin
                    truth = SplitTruth(Path(dataset) / name, pid, vp, vi, identities.get(name))
                    out[_review_name(vp, pid, shared)] = (vp, pid, queued_truth_reason(origin, truth))
    return out


def _file_review_reason(
    vt: VideoTracklets, held_why: str | None, held: bool, needs: dict[str, str]
) -> str | None:
    """Why ``mf-tracklets review`` lists a tracklet file (None: it does not; "": no reason known),
    as the review page's queue lists it: the builder flagged it, or the catalog holds its item
    back for review (``held``, ``held_why`` the catalog's reason) or marks its listed product
    needs_review (``needs``: product -> why, the next mf publish holds it back)."""
    if vt.needs_review:
        return vt.review_reason or ""
    if held:
        return held_why or ""
    return needs.get(vt.product_id)


def _review_targets(dataset: str, results: dict, names: list[str], held: dict | None = None) -> None:
    """Refuse a name ``--accept``/``--reject`` cannot decide on: an unknown one, or the plain stem
    of a video several products list (each product has its own review: ``<stem>@<product>``;
    ``results``: review name -> its tracklet file, named by :func:`_review_name`)."""
    from schemas.tracklet_names import video_stem

    for name in names:
        if name in results or name in (held or {}):
            continue
        # the products' reviews of video stem ``name``: their names are not its stem
        per_product = sorted(n for n, vt in results.items() if n != name and video_stem(vt.video) == name)
        if per_product:
            raise DataFormatError(
                f"video {name!r} is listed by {len(per_product)} products, each with its own review",
                where=str(Path(dataset) / "tracklets"),
                hint=f"name the product's review: {', '.join(per_product)}",
            )
        # a product id given for its video (``1234`` for ``1234_0``), or another video number
        near = [
            n
            for n in sorted({*results, *(held or {})})
            if _review_product(n) in (name, _review_product(name))
        ]
        raise DataFormatError(
            f"no tracklet file for video {name!r}",
            where=str(Path(dataset) / "tracklets"),
            hint=(f"did you mean {', '.join(near[:5])}? " if near else "")
            + "use the stem of one of the dataset's videos (the names in DATASET/tracklets/, without "
            ".json; a video without a file when its split-file entry holds a tracklet), or, with "
            "--catalog, <product>_<n> of an item mf publish holds back (mf-tracklets review --catalog "
            "CATALOG lists them)",
        )


def _review_product(name: str) -> str:
    """The product part of a review name (``<product>_<n>``, ``<stem>@<product>``)."""
    if "@" in name:
        return name.rsplit("@", 1)[1]
    head, _, tail = name.rpartition("_")
    return head if head and tail.isdigit() else name


def _merged_owners(
    dataset: str, catalog: str | None, targets: Mapping[str, tuple[str, str]]
) -> dict[str, MergedOwner]:
    """Review name -> the item that owns the video (``targets``: review name -> (video, product))
    when that is another item than the product's own (:func:`annotations.review.marks.merged_owner`:
    a merged product's video, brought in by the item that joined the product with its shop image).
    Empty without a catalog."""
    if catalog is None or not targets or not Path(catalog).is_file():
        return {}
    from annotations.review.marks import merged_owner
    from schemas.catalog import Catalog
    from schemas.video_items import video_items

    items = video_items(dataset)
    if not items:
        return {}
    with Catalog(catalog, read_only=True) as cat:
        found = {name: merged_owner(cat, items, video, pid) for name, (video, pid) in targets.items()}
    return {name: owner for name, owner in found.items() if owner is not None}


def _verdict_owners(dataset: str, catalog: str | None, targets: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The item each ``--accept``/``--reject`` of a merged product's video decides (review name ->
    the owner's product id, :func:`_merged_owners`): the item that brought the video in, not the
    product's (before, a ``--reject P_1`` rejected P, whose own video and shop pair were fine).
    Refused, before any decision is recorded, while the catalog holds that item: the hold is of the
    video under the owner's own name, and only a verdict on that name lifts it; the error names
    the owner's entry that decides it."""
    from annotations.review.marks import OWNER_REFUSAL

    owners = _merged_owners(dataset, catalog, targets)
    for name, found in owners.items():
        if found.held:
            text = OWNER_REFUSAL.format(
                name=name,
                owner=found.product_id,
                pid=targets[name][1],
                stem=found.stem,
                dataset=dataset,
                catalog=catalog,
            )
            raise ConfigError(text, where=f"--accept/--reject {name}")
    return {name: found.product_id for name, found in owners.items()}


def _decided_item(rec: Mapping[str, Any], done: str = "decided") -> str:
    """What the line of a recorded verdict (or, ``done``, its undo) adds when it decided another
    item than the product's (``item``: a merged product's video, decided on the item that brought
    it in)."""
    item = rec.get("item")
    if not item:
        return ""
    return f" (item {item}'s video, brought into product {rec['product_id']}: {done} on item {item})"


def _undo_targets(dataset: str, catalog: str | None, targets: dict[str, tuple[str, str]]) -> dict[str, int]:
    """Review name -> the id of the decision ``--undo`` takes back (``targets``: review name ->
    (video, product)): the latest live one of the video's review, the product's, or, for a merged
    product's video, the item's that brought it in (:func:`_merged_owners`; its verdicts are
    recorded there), whichever came last; an import is never taken back. Refused, before anything
    is written, for a name with none."""
    if not targets:
        return {}
    from annotations.review.marks import open_catalog
    from schemas.review import list_decisions

    owners = _merged_owners(dataset, catalog, targets)
    out: dict[str, int] = {}
    with open_catalog(catalog) as cat:
        for name, (video, pid) in targets.items():
            keys = {pid} | ({owners[name].product_id} if name in owners else set())
            live = [d for d in list_decisions(cat, video=video) if d.product_id in keys]
            if not live or live[-1].kind == "import":
                why = "its latest is an import, which is not undone" if live else "none is live"
                raise ConfigError(
                    f"{name}: no decision to undo ({why})",
                    where=str(catalog),
                    hint=f"mf-tracklets review --dataset {dataset} --catalog {catalog} --all lists the decided videos",
                )
            out[name] = live[-1].id
    return out


def _undo_one(
    dataset: str, catalog: str, name: str, video: str, pid: str, decision_id: int
) -> dict[str, Any]:
    """Take back decision ``decision_id`` of review ``name`` (:func:`_undo_targets`) and, for a
    verdict, log what the review holds now (:func:`annotations.review.marks.log_undo`)."""
    from annotations.review.decisions import undo
    from annotations.review.marks import log_undo, open_catalog
    from schemas.review import VERDICTS, list_decisions, review_states

    with open_catalog(catalog) as cat:
        d, _ = undo(dataset, cat, decision_id)
        st = review_states(cat, video=video).get((video, d.product_id))
        live = [
            x for x in list_decisions(cat, video=video) if x.product_id == d.product_id and x.kind in VERDICTS
        ]
    verdict = st.verdict if st else None
    rec = {"video": name, "product_id": pid, "undone": {"id": d.id, "kind": d.kind}, "verdict": verdict}
    if d.product_id != pid:
        rec["item"] = d.product_id
    if d.kind in VERDICTS:
        at = next((x.at for x in reversed(live) if x.kind == verdict), None) if verdict else None
        log_undo(dataset, name, pid, rec["undone"], verdict, at, owner=d.product_id)
    return rec


def _undone_line(rec: Mapping[str, Any]) -> str:
    """The line of one ``--undo``: what was taken back, and the verdict left."""
    left = rec["verdict"] or "no verdict"
    return f"undo {rec['undone']['kind']}: {rec['video']} (decision {rec['undone']['id']}){_decided_item(rec, 'taken back')}; now {left}"


def _class_part(rec: Mapping[str, Any]) -> str:
    """What the line of a recorded class decision adds: the class, by name and number."""
    return f" -> {rec['class_name']} ({rec['df2_class']})" if rec.get("decision") == "class" else ""


def _accept_classes(catalog: str | None, products: dict[str, str]) -> None:
    """Refuse, before any decision is recorded, an ``--accept`` of an item the catalog holds
    without a DeepFashion2 class (``products``: review name -> product): the next mf publish
    could not publish it (the review page's ``c`` sets one)."""
    if catalog is None or not products or not Path(catalog).is_file():
        return
    from schemas.catalog import Catalog
    from schemas.review import NO_CLASS, accept_lacks_class

    with Catalog(catalog, read_only=True) as cat:
        lacking = [name for name, pid in products.items() if accept_lacks_class(cat, pid)]
    if lacking:
        raise ConfigError(
            f"{', '.join(lacking)}: {NO_CLASS}",
            where="--accept",
            hint=f"add --class {lacking[0]}=CLASS (a DeepFashion2 class name or number, e.g. trousers or 8) "
            f"to this command, or set it with c on the review page (mf review --catalog {catalog})",
        )


@tracklets.command(context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@catalog_option(
    required=False,
    exists=False,
    help="Also record decisions in this catalog; the list shows the review page's decisions from it "
    "too (with --serve: the one decisions go to; default DATASET/.review.sqlite).",
)
@click.option(
    "--accept",
    "accept",
    multiple=True,
    help="Accept this video (stem, e.g. 1234_0; STEM@PRODUCT for a video several products list).",
)
@click.option("--reject", "reject", multiple=True, help="Reject this video (named as for --accept).")
@click.option(
    "--undo",
    "undo_names",
    multiple=True,
    metavar="NAME",
    help="Take back the latest live decision on this video (named as for --accept; needs --catalog), as "
    "the review page's u does: the item gets the state its remaining decisions give. A merged "
    "product's video's verdict is taken back on the item that brought the video in.",
)
@click.option(
    "--shop",
    "shops",
    multiple=True,
    metavar="NAME=N",
    help="Make carousel candidate N (1-based, as the review page numbers them) the shop image of this "
    "held-back item (needs --catalog); the next mf publish publishes it.",
)
@click.option(
    "--class",
    "classes",
    multiple=True,
    metavar="[NAME=]CLASS",
    help="Set the DeepFashion2 class of this video's product, as the review page's c does (needs "
    "--catalog): CLASS a name or number 1-13 (trousers, 8); NAME=CLASS (repeatable) for NAME, a plain "
    "CLASS for the one video the call accepts, rejects or gives a shop. Recorded before the call's "
    "--accept, so it lifts a hold for want of a class; --undo takes it back.",
)
@click.option(
    "--note",
    "notes",
    multiple=True,
    metavar="[NAME=]TEXT",
    help="A note stored with a decision. NAME=TEXT (repeatable) goes with the decisions of NAME, one of "
    "the names given to --accept/--reject/--shop; a plain TEXT only when the call decides one name, "
    "or with --note-all.",
)
@click.option(
    "--note-all",
    is_flag=True,
    help="Store the plain --note TEXT with every decision of the call (a NAME=TEXT note still wins for NAME).",
)
@click.option("--all", "show_all", is_flag=True, help="List decided videos too.")
@click.option("--serve", is_flag=True, help="Serve the review page instead (same as mf review).")
@_serve_options
@json_option
def review(
    dataset,
    catalog_path,
    accept,
    reject,
    undo_names,
    shops,
    classes,
    notes,
    note_all,
    show_all,
    serve,
    port,
    host,
    sample,
    seed,
    root,
    as_json,
) -> None:
    """List videos that need review (with their contact sheets) or record decisions.

    With --catalog the list and the decisions take in the items mf publish holds back that have
    no video in the dataset (the association check's and the carousel pick's needs_review, named
    <product>_<n> as publish names their videos; with the sheet of the tracklet file publish kept,
    flagged by the builder or not), and listed videos whose item the catalog marks needs_review
    (the next mf publish holds them back): the review page's set. An accept lets the next mf
    publish publish the item, a reject keeps it out.

    \b
    Examples:
      mf-tracklets review --dataset dataset
      mf-tracklets review --dataset dataset --accept 1234_0 --reject 987_1 --catalog data/catalog.sqlite
      mf-tracklets review --dataset dataset --catalog data/catalog.sqlite --shop instagram-C1qTCdY9V_V_0=2 \\
          --accept instagram-C1qTCdY9V_V_0
      mf-tracklets review --dataset dataset --catalog data/catalog.sqlite --class trousers --accept 1234_0
      mf-tracklets review --dataset dataset --catalog data/catalog.sqlite --reject 1234_0 \\
          --reject 987_1 --note 1234_0="wrong garment" --note 987_1="blurry"
      mf-tracklets review --dataset dataset --accept 1234_0 --accept 987_1 --note "checked" --note-all
      mf-tracklets review --dataset dataset --catalog data/catalog.sqlite --undo 987_1
      mf-tracklets review --dataset dataset --catalog data/catalog.sqlite --serve
    """
    if serve:
        if accept or reject or undo_names or shops or classes or notes or note_all or show_all:
            raise click.UsageError(
                "--serve cannot be combined with --accept/--reject/--undo/--shop/--class/--note/--note-all/--all"
            )
        return _serve_review(dataset, catalog_path, host, port, sample, seed, as_json, root)
    page_only = [f"--{name}" for name in ("port", "host", "sample", "seed", "root") if _given(name)]
    if page_only:
        raise click.UsageError(f"{', '.join(page_only)}: for the review page only: add --serve")
    both = sorted(set(accept) & set(reject))
    if both:
        raise click.UsageError(
            f"--accept and --reject both name {', '.join(both)}: give each video one decision"
        )
    both = sorted(set(undo_names) & (set(accept) | set(reject)))
    if both:
        raise click.UsageError(
            f"--undo and --accept/--reject both name {', '.join(both)}: give each video one"
        )
    chosen_class = _class_choices(
        classes, catalog_path, [*accept, *reject, *_shop_choices(shops, catalog_path)]
    )
    both = sorted(set(undo_names) & set(chosen_class))
    if both:
        raise click.UsageError(f"--undo and --class both name {', '.join(both)}: give each video one")
    if undo_names and catalog_path is None:
        raise click.UsageError("--undo takes back a decision the catalog holds: add --catalog")
    if (notes or note_all) and not (accept or reject or shops):
        raise click.UsageError("--note is stored with a decision: add --accept, --reject or --shop")
    if show_all and (accept or reject or shops or chosen_class or undo_names):
        raise click.UsageError(
            "--all lists the decided videos: it records nothing, drop it with --accept/--reject/--undo/--shop/--class"
        )
    from annotations.review import record_decision
    from annotations.sheets import sheet_path
    from annotations.tracklet_files import (
        load_results,
        load_split_heads_rows,
        shared_videos,
        split_files_present,
    )
    from schemas.official import SPLIT_FILES, split_identity

    require_dataset(dataset)
    if catalog_path is not None and Path(catalog_path).is_file():
        from schemas.catalog import Catalog

        with Catalog(catalog_path, must_exist=True):  # an older schema is upgraded, as mf review does
            pass
    # the split files read once, without their boxes (a video's are read only when needed)
    identities = {name: split_identity(Path(dataset) / name) for name in SPLIT_FILES}
    heads, bad = load_split_heads_rows(dataset) if split_files_present(dataset) else ({}, [])
    # a video whose split-file tracklet holds a bad box is held out, as the review page holds it
    # out: named here, the rest listed and decided on
    held_out = {(b.video, b.product_id): b for b in bad}
    for b in bad:
        click.echo(f"warning: held out of the review (fix that entry first): {b.line()}", err=True)
    shared = shared_videos(heads)
    held_all, needs = _catalog_holds(dataset, catalog_path, heads)
    # no tracklet file, the split file's ground truth
    truth = _split_truth(dataset, shared, heads, identities, frozenset(held_out))
    found = load_results(dataset) if held_all or truth else require_results(dataset)
    out_names = {
        _review_name(vp, pid, shared): held_out[(v, pid)]
        for split in heads.values()
        for pid, e in split.items()
        for vp in e.video_paths
        for v in (vp, None)
        if (v, pid) in held_out
    }
    results = {
        name: vt for vt in found if (name := _review_name(vt.video, vt.product_id, shared)) not in out_names
    }
    held = {name: h for name, h in held_all.items() if name not in results}  # no tracklet file names it
    truth = {name: t for name, t in truth.items() if name not in results and name not in held}
    fileless = {**held, **truth}

    def target(name: str) -> tuple[str, str]:
        """(dataset-relative video, product) of a review name."""
        return (results[name].video, results[name].product_id) if name in results else fileless[name][:2]

    if accept or reject or shops or chosen_class or undo_names:
        chosen = _shop_choices(shops, catalog_path)
        for name in [*accept, *reject, *chosen, *chosen_class, *undo_names]:
            if name in out_names:
                raise DataFormatError(
                    f"{name} is held out of the review: {out_names[name].line().removeprefix(out_names[name].path + ': ')}",
                    where=out_names[name].path,
                    hint="fix that box in the split file, then decide on the video",
                )
        note_of = _decision_notes(notes, [*chosen, *accept, *reject], note_all=note_all)
        _review_targets(dataset, results, [*accept, *reject, *chosen, *chosen_class, *undo_names], fileless)
        # every check before the first write: a refused option stores nothing
        picks = {
            name: _shop_candidate(catalog_path, name, target(name)[1], n, held_all)
            for name, n in chosen.items()
        }
        # a merged product's video is decided on the item that brought it in (refused while held)
        owner_of = _verdict_owners(dataset, catalog_path, {name: target(name) for name in [*accept, *reject]})
        _class_refusals(dataset, catalog_path, {name: target(name) for name in chosen_class})
        # a product the call gives a class (recorded first) passes the accept's class check
        given = {target(name)[1] for name in chosen_class}
        _accept_classes(
            catalog_path,
            {n: pid for n in accept if (pid := owner_of.get(n, target(n)[1])) not in given},
        )
        undos = _undo_targets(dataset, catalog_path, {name: target(name) for name in undo_names})
        if catalog_path is None:  # said once the decisions are known good: a refused one is one line
            click.echo(
                f"warning: {NO_CATALOG_WARNING.format(where=Path(dataset) / '.review.jsonl')}", err=True
            )
        listed = _listed_by_decisions(dataset, catalog_path)  # before the legacy log is moved
        recs = [
            # an accept or reject of the same name stores its note: stored once
            _choose_shop(
                catalog_path,
                name,
                *target(name),
                n,
                picks[name],
                None if name in accept or name in reject else note_of.get(name),
            )
            for name, n in chosen.items()
        ]
        recs += [
            _choose_class(dataset, catalog_path, name, *target(name), cid)
            for name, cid in chosen_class.items()
        ]
        recs += [
            record_decision(
                dataset,
                vid,
                target(vid)[1],
                dec,
                catalog_path,
                note_of.get(vid),
                video_path=target(vid)[0],
                owner=owner_of.get(vid),
            )
            for vid, dec in [(v, "accept") for v in accept] + [(v, "reject") for v in reject]
        ]
        undone = [_undo_one(dataset, catalog_path, name, *target(name), undos[name]) for name in undo_names]
        if listed is not None:  # only then: the refresh reads the split files whole for the tables
            _refresh_published(dataset, listed)
        emit(
            {"recorded": recs, "undone": undone},
            as_json,
            lambda d: "\n".join(
                [f"{r['decision']}: {r['video']}{_decided_item(r)}{_class_part(r)}" for r in d["recorded"]]
                + [_undone_line(r) for r in d["undone"]]
            ),
        )
        return
    decisions = _listed_decisions(dataset, catalog_path, shared)
    # a merged product's video another item brought in: decided on that item (as that item's own
    # video while it is held)
    from annotations.review.marks import OWNER_NOTE, ROUTE_NOTE

    owners = _merged_owners(
        dataset, catalog_path, {n: (vt.video, vt.product_id) for n, vt in results.items()}
    )
    rows = []
    for stem, vt in sorted(results.items()):
        h = held_all.get(stem)
        is_held = h is not None and h[1] == vt.product_id  # held back, its tracklet file kept
        why = _file_review_reason(vt, h[2] if is_held else None, is_held, needs)
        if why is None or (decisions.get(stem) and not show_all):
            continue
        if stem in owners:
            o = owners[stem]
            note = OWNER_NOTE if o.held else ROUTE_NOTE
            why = f"{why}; {note.format(owner=o.product_id, stem=o.stem, pid=vt.product_id, name=stem)}"
        sp = sheet_path(dataset, vt.video, vt.product_id, shared=vt.video in shared)
        row = {
            "video": stem,
            "product_id": vt.product_id,
            "reason": why or None,
            "sheet": str(sp) if sp.is_file() else None,
            "decision": decisions.get(stem),
        }
        rows.append(row | ({"held_back": True, "has_file": True} if is_held else {}))
    # no tracklet file: held back (no sheet), or the split file's boxes (the review page shows them)
    for videos, extra in ((held, {"held_back": True}), (truth, {})):
        for name, (_, pid, why) in sorted(videos.items()):
            if decisions.get(name) and not show_all:
                continue
            row = {
                "video": name,
                "product_id": pid,
                "reason": why,
                "sheet": None,
                "decision": decisions.get(name),
            }
            rows.append(row | extra | {"has_file": False})
    emit(
        {"needs_review": rows},
        as_json,
        lambda d: (
            "\n".join(
                f"{r['video']}  {r['reason'] or '(decided in review)'}  "
                + (
                    "held back by mf publish (no video in the dataset)"
                    if r.get("held_back") and not r.get("has_file")
                    else "(mf review shows its boxes)"
                    if r.get("has_file") is False
                    else ("held back by mf publish; " if r.get("held_back") else "")
                    + f"sheet: {r['sheet'] or '(none: run mf-tracklets sheets)'}"
                )
                + (f"  [{r['decision']}]" if r["decision"] else "")
                for r in d["needs_review"]
            )
            or f"nothing to review ({len(results)} videos with tracklets)"
        ),
    )


@click.command("review", context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option(help="Dataset folder (of mf publish).")
@catalog_option(
    required=False,
    exists=False,
    help="Catalog the decisions go to (the one mf publish reads). Default: DATASET/.review.sqlite.",
)
@_serve_options
@json_option
def review_page(dataset, catalog_path, port, host, sample, seed, root, as_json) -> None:
    """Review tracklets in the browser: serve the review page on 127.0.0.1 and print its URL.

    The queue holds the videos the tracklet builder flagged, then a random QA sample of the
    ones it accepted. With --catalog it also holds what mf publish holds back from the split
    files (needs_review items of cleaning or of the tracklet flags, review's own rejects), shown
    from the collection folder (--root) when the dataset holds no copy. Keys: arrows step frames, space plays, a accepts, r rejects (with a
    reason), c changes the class, t/p show and pick another tracklet, n adds a note, u undoes;
    under a carousel pick's candidates, "use this one" makes another candidate the shop image.
    Each decision is written to the catalog at once; `mf publish` leaves rejected products out.
    The URL carries a random token that every request must present. --json prints the URL and
    the queue's counts as one JSON line before serving.

    \b
    Examples:
      mf review --dataset dataset --catalog data/catalog.sqlite
      mf review --dataset dataset --port 0 --sample 0.2 --json
    """
    _serve_review(dataset, catalog_path, host, port, sample, seed, as_json, root)


@tracklets.command("export", context_settings=HELP, epilog=EXIT_STATUS)
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(list(EXPORTERS)),
    help="Output format.",
)
@dataset_option()
@out_option(help="Folder to write.")
@click.option(
    "--tracks",
    type=click.Choice(TRACK_CHOICES),
    default="gt",
    show_default=True,
    help="The ground-truth tracklet only, or every tracklet (candidates too).",
)
@click.option(
    "--video",
    "videos",
    multiple=True,
    help="Only these video stems (repeatable); the other videos' files in --out stay.",
)
@click.option(
    "--clean",
    is_flag=True,
    help="Remove the files of an earlier export in --out that this export does not write.",
)
@on_bad_option
@json_option
def export(fmt, dataset, out, tracks, videos, clean, on_bad, as_json) -> None:
    """Export tracklets for annotation tools.

    A video's tracklets come from tracklets/<video>.json (mf-tracklets build), or else from its
    entry in train.json/test.json (the archive's ground truth: one track, label "item"). Videos
    with neither are left out and listed (a warning line; --json: left_out, left_out_videos).

    An --out folder holding files of an earlier export of other videos (a product removed since)
    is refused before anything is written: CVAT's and FiftyOne's folder imports would load them
    with the new files. --clean removes them (--json: removed); --video updates the named videos'
    files and keeps the others'. A video left out now keeps its earlier files unless --clean
    (a warning line; --json: stale). An --out folder holding an export in another format is
    refused, --clean or not: a folder import reads one format.

    A product whose split-file entry is refused (a bad box, a missing field) is held out: its
    videos are left out, each problem named (a warning line; --json: held_out), the others
    exported (exit 1; --on-bad raise refuses the dataset instead, exit 2). A video that is
    missing, or does not open or decode (MOT: or gives no frame rate), is skipped and listed
    (product, path; --json: failed), the others exported (exit 1); once it is back, rerun: the
    files already exported are kept.

    \b
    cvat      OUT/<video>.xml: CVAT for video 1.1, one task per video; OUT/cvat-labels.json:
              the task's labels (paste into CVAT's label editor, "Raw", before uploading)
    mot       OUT/<video>/gt/gt.txt, gt/labels.txt, seqinfo.ini (MOT 1.1; CVAT takes a zip)
    fiftyone  OUT/data/<video>.mp4 + OUT/labels/<video>.xml (fo.types.CVATVideoDataset)

    \b
    Examples:
      mf-tracklets export --format cvat --dataset dataset --out cvat
      mf-tracklets export --format fiftyone --dataset dataset --out fo --tracks all
    """
    from annotations.exchange import export_dataset
    from annotations.exchange.common import left_out_line
    from schemas.atomic import sweep_partials

    sweep_partials(out, recursive=True)  # what a killed export left half-written
    res = export_dataset(dataset, fmt, out, tracks=tracks, videos=videos, clean=clean, on_bad=on_bad)
    emit(
        res,
        as_json,
        lambda d: (
            f"{d['videos']} videos, {d['tracks']} tracks, {d['boxes']} boxes -> {d['out']} ({d['format']});"
            f" written {len(d['written'])}, unchanged {len(d['unchanged'])}"
            + held_out_lines(d["held_out"])
            + "".join(
                f"\n  failed: product {terminal_text(f['product_id'])}: {terminal_text(_failure(f))}"
                for f in d["failed"]
            )
        ),
    )
    if res["left_out"] and not as_json:
        click.echo(f"warning: {left_out_line(res['left_out_videos'])}", err=True)
    if res["stale"] and not as_json:
        n = len(res["stale"])
        click.echo(
            f"warning: {n} file{'s' if n > 1 else ''} of an earlier export of videos left out stay in "
            f"{terminal_text(res['out'])}: {terminal_text(', '.join(res['stale'][:3]))}"
            f"{' ...' if n > 3 else ''} (--clean removes them)",
            err=True,
        )
    # the others exported: exit 1, the output names each held-out product and skipped video
    exit_if_failed(len(res["held_out"]) + len(res["failed"]))


def _import_format(value: str) -> str:
    """``--format`` of ``import``: one of :data:`IMPORTERS`; an export-only format is named as
    such, with the way to bring its boxes back."""
    if value in IMPORTERS:
        return value
    readable = ", ".join(IMPORTERS)
    if value in EXPORTERS:
        raise click.BadParameter(
            f"{value!r} is an export format only: import reads {readable} (export the videos with"
            f" --format cvat, edit them in CVAT, and import that)"
        )
    raise click.BadParameter(f"{value!r} is not a format import reads ({readable})")


@tracklets.command("import", context_settings=HELP, epilog=EXIT_STATUS)
@click.argument("source", type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    metavar="[" + "|".join(IMPORTERS) + "]",
    default="cvat",
    show_default=True,
    callback=lambda ctx, param, value: _import_format(value),
    help="The format read back (the other export formats are for viewing only).",
)
@dataset_option()
@catalog_option(
    required=False,
    help="Record an import decision in this catalog for each video the file changed "
    "(none for one unchanged; an import is never an accept).",
)
@click.option(
    "--tracks",
    type=click.Choice(TRACK_CHOICES),
    default="gt",
    show_default=True,
    help="Replace the ground-truth tracklet only, or every tracklet the file holds.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Import tracks whose tracklet changed after the file was exported (the file wins).",
)
@json_option
def import_(source, fmt, dataset, catalog_path, tracks, force, as_json) -> None:
    """Import corrected tracks (CVAT for video 1.1 XML: a file or a folder of them).

    Rewrites tracklets/<video>.json and the video's tracklet in train.json/test.json; every
    file is checked before anything is written. A video without a tracklet file starts from its
    tracklet in train.json/test.json (the file is then written). A CVAT job export, or a task
    over part of the video, replaces the boxes of its start_frame..stop_frame only. A whole-video
    file whose edited track was exported before another import (or pick, or rebuild) changed
    that tracklet is refused: it would undo that change (--force lets it).

    \b
    Examples:
      mf-tracklets import --format cvat cvat/1234_0.xml --dataset dataset --catalog data/catalog.sqlite
      # every tracklet, from an export made with --tracks all (after a --tracks gt export each
      # other tracklet is reported as having no track in the file, and kept)
      mf-tracklets import cvat-all --dataset dataset --tracks all --json
    """
    from annotations.exchange.importer import import_cvat

    res = import_cvat(dataset, source, tracks=tracks, catalog=catalog_path, force=force)
    emit(res, as_json, _import_summary)


def _import_summary(d: dict) -> str:
    """The human line of mf-tracklets import: counts, the part-video frame ranges applied and
    the tracklet files created from the split files."""
    text = f"{counted(d['videos'], 'video')} imported, {len(d['changed_videos'])} changed ({d['changed_boxes']} boxes)"
    if d.get("changed_classes"):
        text += f"; tracks relabelled in {', '.join(d['changed_classes'])}"
    if d.get("ground_truth_moved"):
        text += f"; ground truth moved to another track in {', '.join(d['ground_truth_moved'])}"
    parts = [
        f"{stem} frames {r['start']}..{'' if r['stop'] is None else r['stop']}"
        + (f" step {r['step']}" if r["step"] > 1 else "")
        for stem, r in d["frame_ranges"].items()
        if not r["whole"]
    ]
    if parts:
        text += "; only the file's frames replaced: " + ", ".join(parts)
    if d["created"]:
        text += f"; tracklet files created from the split files: {', '.join(d['created'])}"
    return text


_df2_root = click.Path(file_okay=False, exists=True)


@click.command("train-detector", context_settings=HELP, epilog=EXIT_STATUS)
@click.option(
    "--df2",
    "df2",
    type=_df2_root,
    help="DeepFashion2 root (train/, validation/), or a synthetic world folder holding df2/ (as"
    " mf pretrain-matcher --df2 takes).",
)
@click.option(
    "--data",
    "data_yaml",
    type=click.Path(dir_okay=False, exists=True),
    help="An existing YOLO data.yaml instead.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--imgsz", type=click.IntRange(min=32), default=320, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=16, show_default=True)
@click.option(
    "--model",
    default="yolov8n.yaml",
    show_default=True,
    help="YOLO config (.yaml) or an existing weights file (.pt) to start from; nothing is downloaded.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the training a kill stopped in OUT (its epoch, optimizer and schedule; the other "
    "options are the checkpoint's); a finished one is not trained again.",
)
@json_option
@device_option
@interrupt_line("interrupted: rerun with --resume to go on from the last epoch saved in {out}")
def train_detector(df2, data_yaml, out, epochs, imgsz, batch, model, resume, as_json) -> None:
    """Convert DeepFashion2 to YOLO format and train a clothing detector with ultralytics.

    Writes OUT/detector.pt, usable as `mf-tracklets build --weights OUT/detector.pt`.

    \b
    Examples:
      mf train-detector --df2 /data/DeepFashion2 --out runs/det --epochs 50 --imgsz 640
      mf train-detector --df2 world --out runs/det --epochs 5   # a synthetic world's df2/
      mf train-detector --data df2_yolo/data.yaml --out runs/det --json
      mf train-detector --out runs/det --resume      # after a kill: on from the last epoch
    """
    if not df2 and not data_yaml and not resume:
        raise click.UsageError("give --df2 ROOT or --data data.yaml")
    if df2 and data_yaml:
        raise click.UsageError("--df2 and --data both name the training data: give one of them")
    from annotations.training import train_detector as _train

    path = _train(
        df2, out, epochs=epochs, imgsz=imgsz, batch=batch, model=model, data_yaml=data_yaml, resume=resume
    )
    emit({"weights": str(path)}, as_json, lambda d: f"detector weights: {d['weights']}")


@click.command("pretrain-matcher", context_settings=HELP, epilog=EXIT_STATUS)
@click.option(
    "--df2",
    "df2",
    required=True,
    type=_df2_root,
    help="DeepFashion2 root (or a synthetic world folder holding df2/, as mf train --df2 takes).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Matcher checkpoint to write.")
@click.option("--steps", type=click.IntRange(min=1), default=300, show_default=True)
@click.option(
    "--crop-size",
    type=click.IntRange(min=16),
    default=None,
    help="Crop side in pixels (a multiple of 16, at least 16)  [default: the --init matcher's, else 64]",
)
@click.option("--lr", type=FINITE_FLOAT, default=1e-3, show_default=True)
@run_file_option("--init", **MATCHER_RUN, help="Fine-tune this matcher instead of starting fresh.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@json_option
@device_option
@interrupt_line("interrupted: nothing was written (pretraining does not resume); rerun to start again")
def pretrain_matcher(df2, out, steps, crop_size, lr, init, force, as_json) -> None:
    """Pretrain the single-frame matcher on DeepFashion2 street-to-shop pairs.

    Positives: shop and user items with the same pair_id and style > 0; negatives: every
    other item in the batch; 2-class cross-entropy. Prints user->shop top-1 retrieval.

    \b
    Examples:
      mf pretrain-matcher --df2 /data/DeepFashion2 --out matcher.pt --steps 5000
      mf pretrain-matcher --df2 world --out matcher.pt --init matcher-old.pt --json
    """
    if crop_size is not None and crop_size % 16:
        raise click.BadParameter(f"{crop_size} is not a multiple of 16", param_hint="'--crop-size'")
    if Path(out).exists() and not force:  # tracklets and SEAM runs name the matcher they used
        raise ConfigError(
            "a matcher is already there",
            where=str(out),
            hint="pass another --out, or --force to replace it (tracklets built with it are then built anew)",
        )
    from movingfashion.models.pretrain import pretrain_matcher as _pretrain

    if init is not None:
        from movingfashion.models import load_matcher

        size = load_matcher(init, device="cpu", option="--init").crop_size
        if crop_size not in (None, size):
            raise click.BadParameter(
                f"{crop_size}, but the --init matcher {init} was trained on {size}px crops: pass "
                f"--crop-size {size} or leave it out",
                param_hint="'--crop-size'",
            )
        crop_size = size
    crop_size = crop_size or 64

    res = _pretrain(df2, out, steps=steps, crop_size=crop_size, lr=lr, init=init, progress=progress)
    emit(
        res,
        as_json,
        lambda d: (
            f"matcher: {d['out']} ({d['tag']}); top-1 user->shop on {d['eval_split']}: "
            f"{d['top1']:.3f} (chance {d['chance']:.3f})"
        ),
    )


def main() -> None:
    run_main(tracklets)


def _failure(f: dict) -> str:
    """A failed video's line: its error, led by the video when the error does not name it (a
    worker that died names no file)."""
    video, error = str(f.get("video", "")), str(f["error"])
    return error if not video or Path(video).name in error else f"{video}: {error}"


if __name__ == "__main__":  # python -m annotations.cli, as mf-tracklets
    main()
