"""``mf training-copy``: write a dataset split's training copy (compact JPEG crops per video)."""

from __future__ import annotations

import click

from movingfashion.media.readers import backend_names
from movingfashion.split_cli_support import apart_from_the_other_kind, crop_view_options, open_split
from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    dataset_option,
    emit,
    exit_if_failed,
    json_option,
    out_option,
    progress,
    progress_option,
)


@click.command("training-copy", context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@out_option(help="Training-copy folder to write.")
@crop_view_options
@click.option("--quality", type=click.IntRange(1, 100), default=90, show_default=True, help="JPEG quality.")
@click.option(
    "--tolerance/--no-tolerance",
    default=True,
    show_default=True,
    help="Check every frame against the documented pixel tolerance (mean abs error <= 4 levels, "
    "PSNR >= 30 dB) and store one that misses it at a higher quality.",
)
@click.option(
    "--backend",
    type=click.Choice(backend_names()),
    default="auto",
    show_default=True,
    help="Video decoder (auto: the registry's choice for whole-video decoding).",
)
@json_option
@progress_option
def training_copy(
    dataset: str,
    split: str,
    out: str,
    crop: str,
    crop_size: int,
    frame_size: int | None,
    context: float,
    quality: int,
    tolerance: bool,
    backend: str,
    as_json: bool,
) -> None:
    """Store every boxed frame's crop of a split as JPEG, one file per video, for fast training.

    ``MovingFashionDataset(..., training_copy=OUT)`` then samples the same frame indices as
    the live path and reads each clip as T small JPEG decodes (every frame checked to be within
    the documented tolerance of the live crops, ~10-15 KB per frame at 224 px and quality 90). Open the
    dataset with the same --crop, --crop-size / --frame-size and --context. Reruns skip videos
    already copied from the same video and tracklet boxes (a changed one, a damaged one, or one
    a copy named the old way holds, is copied again; what a killed run left half-written is
    removed); bad rows are skipped and listed (exit 1 then).

    \b
    Examples:
      mf training-copy --dataset dataset --out dataset-copy/train
      mf training-copy --dataset dataset --split test --out dataset-copy/test --quality 95 --json
    """
    from schemas.paths import outside_dataset

    # before torch loads with the dataset (3 s): a wrong --out answers at once
    outside_dataset(out, dataset, what="training copy")
    apart_from_the_other_kind(out, "training copy")
    from movingfashion.skips import describe_skips, skipped_lines
    from movingfashion.training_copy import TOLERANCE, build_training_copy

    ds = open_split(
        dataset,
        split,
        crop=crop,
        crop_size=crop_size,
        frame_size=frame_size,
        context=context,
        backend=backend,
    )
    counts = build_training_copy(
        ds,
        out,
        quality=quality,
        tolerance=TOLERANCE if tolerance else None,
        progress=lambda it: progress(it, desc="training copy", unit="video"),
    )
    result = {
        "out": str(out),
        "split": split,
        "quality": quality,
        **counts,
        **ds.skipped_report(),
    }
    emit(
        result,
        as_json,
        lambda r: (
            f"training copy {r['out']}: {r['built']} videos written, {r['already_copied']} already there, "
            f"skipped {describe_skips(r['skipped_counts'])}; {r['frames_raised']} frames stored above quality "
            f"{r['quality']} to stay within the tolerance"
            + (f", {r['frames_outside_tolerance']} still outside it" if r["frames_outside_tolerance"] else "")
            + skipped_lines(r["skipped"])
        ),
    )
    exit_if_failed(result["skipped"])
