"""``mf df2``: DeepFashion2 converters (COCO, YOLO) and the Multi-DeepFashion2 index."""

from __future__ import annotations

from pathlib import Path

import click

from schemas.cli_support import (
    EXIT_STATUS,
    HELP,
    emit,
    interrupt_line,
    json_option,
    legacy_argument,
    legacy_folder,
    out_option,
    progress,
    run_main,
)

_df2_opt = click.option(
    "--df2",
    "df2_root",
    type=click.Path(exists=True, file_okay=False),
    help="DeepFashion2 root (train/, validation/ with image/ and annos/), or a synthetic world folder"
    " holding df2/ (as mf train --df2 takes). Required.",
)


def _df2_root(folder: str) -> str:
    """The DeepFashion2-format root ``--df2`` names: the folder, or a world folder's df2/."""
    from movingfashion.deepfashion2.reader import df2_folder

    return str(df2_folder(folder))


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def df2() -> None:
    """DeepFashion2 converters and Multi-DeepFashion2 (DF2 root: --df2; positional before).

    \b
    Examples:
      mf df2 to-coco --df2 DF2_ROOT --split validation --out df2_val_coco.json
      mf df2 to-yolo --df2 DF2_ROOT --out df2_yolo
      mf df2 multidf2 --df2 DF2_ROOT --split validation --out multidf2_val.json
    """


@df2.command("to-coco", context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("df2_root", "--df2")
@_df2_opt
@click.option("--split", default="train", show_default=True, help="Split folder under DF2_ROOT.")
@out_option(file=True, help="COCO JSON file to write.")
@json_option
@interrupt_line(
    "interrupted: {out} was not written (it is written whole, at the end: an earlier one is kept); "
    "rerun the same command: the conversion starts over"
)
def to_coco_cmd(
    legacy_df2_root: str | None, df2_root: str | None, split: str, out: str, as_json: bool
) -> None:
    """Convert one DeepFashion2 split to COCO JSON (official conventions).

    image_id from the file name, bbox [x, y, w, h], area = w*h, 294-slot keypoints with the
    category's own slots filled, pair_id / style / source kept on every annotation.

    \b
    Examples:
      mf df2 to-coco --df2 world/df2 --split train --out coco_train.json --json
      mf df2 to-coco --df2 /data/DeepFashion2 --split validation --out coco_val.json
    """
    df2_root = _df2_root(legacy_folder(df2_root, legacy_df2_root, "--df2"))
    from movingfashion.deepfashion2 import write_coco

    counts = write_coco(
        df2_root, split, out, progress=lambda it: progress(it, desc=f"df2 {split}", unit="img")
    )
    result = {"out": str(out), "split": split, **counts}
    emit(result, as_json, lambda r: f"wrote {r['out']}: {r['images']} images, {r['annotations']} annotations")


@df2.command("to-yolo", context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("df2_root", "--df2")
@_df2_opt
@out_option(help="YOLO dataset folder to write.")
@click.option(
    "--split",
    "splits",
    multiple=True,
    default=("train", "validation"),
    show_default=True,
    help="Split folders to convert (repeatable).",
)
@click.option(
    "--val-as-train",
    is_flag=True,
    help="Without a train split, train on the validation images (a smoke test; by default no "
    "train split is an error).",
)
@click.option(
    "--train-as-val",
    is_flag=True,
    help="Without a validation split, validate on the training images, with a warning (by default no "
    "validation split is an error).",
)
@json_option
@interrupt_line(
    "interrupted: {out}'s images/ and labels/ are incomplete and it has no data.yaml of this run "
    "(written last; an earlier run's was removed first); rerun the same command: the conversion "
    "starts over"
)
def to_yolo_cmd(
    legacy_df2_root: str | None,
    df2_root: str | None,
    out: str,
    splits: tuple[str, ...],
    val_as_train: bool,
    train_as_val: bool,
    as_json: bool,
) -> None:
    """Convert DeepFashion2 to an ultralytics YOLO dataset (images, labels, data.yaml).

    The same converter detector training uses (class = DF2 id - 1). OUT's images/ and labels/
    are rebuilt on every run (files of an earlier run are removed; an OUT whose images/ or
    labels/ holds files no run wrote is refused, exit 2). A root without train/ is an
    error (data.yaml would train on the images it validates on) unless --val-as-train; one
    without validation/ is an error (it would validate on the images it trains on) unless
    --train-as-val.

    \b
    Examples:
      mf df2 to-yolo --df2 world/df2 --out df2_yolo --json
      mf df2 to-yolo --df2 /data/DeepFashion2 --out df2_yolo --split train --split validation
      mf df2 to-yolo --df2 /data/DeepFashion2 --out df2_fit --split train --train-as-val
      mf df2 to-yolo --df2 /data/DeepFashion2 --out df2_val --split validation --val-as-train
    """
    df2_root = _df2_root(legacy_folder(df2_root, legacy_df2_root, "--df2"))
    from movingfashion.deepfashion2 import df2_to_yolo

    data_yaml = df2_to_yolo(
        df2_root,
        out,
        tuple(splits),
        progress=lambda it: progress(it, desc="df2 -> yolo", unit="img"),
        val_as_train=val_as_train,
        train_as_val=train_as_val,
    )
    labels = sum(1 for _ in Path(out).glob("labels/*/*.txt"))
    emit(
        {"data_yaml": str(data_yaml), "images": labels},
        as_json,
        lambda r: f"wrote {r['data_yaml']} ({r['images']} images)",
    )


@df2.command("multidf2", context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("df2_root", "--df2")
@_df2_opt
@click.option("--split", default="validation", show_default=True, help="Split folder under DF2_ROOT.")
@out_option(file=True, help="Index JSON to write.")
@json_option
@interrupt_line(
    "interrupted: {out} was not written (it is written whole, at the end: an earlier one is kept); "
    "rerun the same command: the index is built again"
)
def multidf2_cmd(
    legacy_df2_root: str | None, df2_root: str | None, split: str, out: str, as_json: bool
) -> None:
    """Build the Multi-DeepFashion2 index: shop item + user images of the same pair and style.

    Load it with MultiDeepFashion2Dataset(DF2_ROOT, SPLIT, index=OUT).

    \b
    Examples:
      mf df2 multidf2 --df2 world/df2 --split validation --out multidf2_val.json --json
      mf df2 multidf2 --df2 /data/DeepFashion2 --split train --out multidf2_train.json
    """
    df2_root = _df2_root(legacy_folder(df2_root, legacy_df2_root, "--df2"))
    from movingfashion.multidf2 import write_multidf2

    counts = write_multidf2(df2_root, split, out)
    emit(
        {"out": str(out), **counts},
        as_json,
        lambda r: f"wrote {r['out']}: {r['sequences']} sequences, mean length {r['mean_length']}",
    )


def main() -> None:
    run_main(df2)


if __name__ == "__main__":
    main()
