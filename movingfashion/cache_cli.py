"""``mf crop-cache``: decode a dataset's videos once into a crop cache the loader reads."""

from __future__ import annotations

import click

from movingfashion.executors.options import executor_options
from movingfashion.media.readers import backend_names
from movingfashion.split_cli_support import apart_from_the_other_kind, crop_view_options, open_split
from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    dataset_option,
    emit,
    exit_if_failed,
    json_option,
    legacy_argument,
    merge_legacy,
    out_option,
    progress,
    progress_option,
    require_dataset,
)


@click.command("crop-cache", context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("dataset", "--dataset")
@dataset_option(required=False, help="Dataset folder (official format, mf publish). Required.")
@out_option(help="Cache folder to write.")
@click.option(
    "--pool",
    type=click.IntRange(1),
    default=None,
    help="Keep N frames per video (a fixed pool) instead of every boxed frame.",
)
@crop_view_options
@click.option(
    "--backend",
    type=click.Choice(backend_names()),
    default="auto",
    show_default=True,
    help="Video decoder (auto: torchcodec, then PyAV, decord, OpenCV).",
)
@executor_options
@click.option(
    "--workers", type=click.IntRange(1), help="With --executor ray: workers [default: the cluster's CPUs]."
)
@json_option
@progress_option
def crop_cache(
    legacy_dataset: str | None,
    dataset: str | None,
    split: str,
    out: str,
    pool: int | None,
    crop: str,
    crop_size: int,
    frame_size: int | None,
    context: float,
    backend: str,
    executor: str | None,
    ray_address: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Decode every video of a split once and store its crops as memory-mapped arrays.

    Without --pool every boxed frame is kept, so
    ``MovingFashionDataset(..., crop_cache=OUT)`` returns exactly the items it would decode
    (same frames, same pixels), only faster. --pool N keeps N frames per video (less disk,
    frames then come from that pool). The dataset must be opened with the same --crop,
    --crop-size / --frame-size and --context. Reruns skip videos already cached from the same
    video and tracklet boxes with the same --pool (a changed one, a damaged one, or one a cache
    named the old way holds, is built again); bad rows are skipped and listed (exit 1). The
    dataset was positional before: `mf crop-cache DATASET` still works, with a deprecation
    warning.

    \b
    Examples:
      mf crop-cache --dataset dataset --split train --out cache/train
      mf crop-cache --dataset dataset --split train --out cache/train-pool --pool 32 --json
      mf crop-cache --dataset /shared/dataset --out /shared/cache/train --executor ray --ray-address HEAD:6379
    """
    dataset = require_dataset(merge_legacy(dataset, legacy_dataset, "--dataset"))
    from schemas.paths import outside_dataset

    outside_dataset(out, dataset, what="crop cache")
    apart_from_the_other_kind(out, "crop cache")
    if workers is not None and executor != "ray":
        raise click.UsageError("--workers is read with --executor ray (local decodes one video at a time)")
    # after the checks above, which answer at once: torch loads with the dataset (3 s)
    from movingfashion.crop_cache_build import build_crop_cache
    from movingfashion.executors import make_executor
    from movingfashion.skips import describe_skips, skipped_lines

    with make_executor(executor or "local", workers=workers, address=ray_address) as ex:
        ds = open_split(
            dataset,
            split,
            crop=crop,
            crop_size=crop_size,
            frame_size=frame_size,
            context=context,
            backend=backend,
        )
        counts = build_crop_cache(
            ds, out, pool=pool, progress=lambda it: progress(it, desc="crop cache", unit="video"), executor=ex
        )
    result = {
        "out": str(out),
        "split": split,
        "pool": pool,
        **counts,
        **ds.skipped_report(),
        **({"executor": ex.report()} if ex.remote else {}),
    }
    emit(
        result,
        as_json,
        lambda r: (
            f"crop cache {r['out']}: {r['built']} videos built, "
            f"{r['already_cached']} already cached, skipped {describe_skips(r['skipped_counts'])}"
            + skipped_lines(r["skipped"])
        ),
    )
    exit_if_failed(result["skipped"])
