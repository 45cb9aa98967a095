"""``mf world``: generate and serve the synthetic MovingFashion world, export its ground truth as a
reference dataset, and score a stage's output against that truth."""

from __future__ import annotations

import contextlib
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from schemas.cli_support import (
    DETECTOR_RUN,
    EXIT_STATUS,
    HELP,
    FiniteFloatRange,
    dataset_option,
    emit,
    interrupt_line,
    json_option,
    legacy_argument,
    legacy_folder,
    move_to,
    out_option,
    progress_bar,
    run_file_option,
    run_main,
    stop_on_ctrl_c,
)

_world_opt = click.option(
    "--world",
    "world_dir",
    type=click.Path(exists=True, file_okay=False),
    help="World folder (mf world generate --out). Required.",
)


def summarize(
    truth: Any, out: Path, seconds: float | None = None, reused: bool | None = None
) -> dict[str, Any]:
    """Counts of a world for humans and machines; ``reused`` (when given): whether the folder
    already held this world, so that nothing was rendered."""
    by_source = Counter(p.source.value for p in truth.products)
    classes = sorted({p.df2_class for p in truth.products if p.df2_class is not None})
    out_d: dict[str, Any] = {
        "world": str(out),
        **({} if reused is None else {"reused": reused}),
        "seed": truth.seed,
        "products": len(truth.products),
        "videos": len(truth.videos),
        "by_source": dict(by_source),
        "classes": classes,
        "non_clothing": sum(p.df2_class is None for p in truth.products),
        "duplicates": sum(v.duplicate_of is not None for v in truth.videos),
        "repost_variants": sum(v.variant is not None for v in truth.videos),
        "retakes": sum(v.retake_of is not None for v in truth.videos),
        "split_screen": sum(v.split_screen is not None for v in truth.videos),
        "wrong_shop": sum(p.wrong_shop for p in truth.products),
        "frames": sum(v.frames for v in truth.videos),
        "noisy_frames": sum(v.noisy_frames or 0 for v in truth.videos),
    }
    if truth.df2_root:
        df2 = out / truth.df2_root
        out_d["df2_images"] = sum(1 for _ in df2.glob("*/image/*.jpg"))
    if seconds is not None:
        out_d["seconds"] = round(seconds, 1)
    return out_d


def _human(d: dict[str, Any]) -> str:
    return (
        f"world {d['world']}"
        + (" reused (the folder held this world already; nothing rendered)" if d.get("reused") else "")
        + f": {d['products']} products ({', '.join(f'{k} {v}' for k, v in d['by_source'].items())}), "
        f"{d['videos']} videos, {d['frames']} frames, {len(d['classes'])} classes, {d['non_clothing']} non-clothing, "
        f"{d['duplicates']} duplicates ({d['repost_variants']} re-post variants), {d['retakes']} retakes, "
        f"{d['split_screen']} split-screen, {d['wrong_shop']} wrong shop, "
        + (
            f"{d['noisy_frames']} frames with a corrupted tracker box or pixels, "
            if d.get("noisy_frames")
            else ""
        )
        + f"{d.get('df2_images', 0)} DeepFashion2-format images"
        + (f" in {d['seconds']} s" if "seconds" in d else "")
    )


@click.group(context_settings=HELP, epilog=EXIT_STATUS)
def world() -> None:
    """Generate and serve the synthetic MovingFashion world (ground truth for every stage).

    \b
    Examples:
      mf world generate --out world --products 60 --seed 0
      mf world serve --world world --port 8765 --faults retry_after_429=1
      mf world export-gt --world world --out world-gt
      mf world score tracklets --dataset dataset --world world
    """


@world.command(context_settings=HELP, epilog=EXIT_STATUS)
@out_option(help="World folder to write: new, empty or an earlier world (reused when identical).")
@click.option(
    "--products",
    type=click.IntRange(max=1_000_000),
    default=60,
    show_default=True,
    help="Source items, duplicates and non-clothing included (at least 20, at most a million).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Same seed, same world (metadata and frames).",
)
@click.option(
    "--quick", is_flag=True, help="Shorter clips and a smaller DeepFashion2-format set (for tests)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes rendering videos (default from config: 2).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML/JSON overriding WorldConfig defaults (sizes, frames, fractions; repost_variants, "
    "rotated_reposts, mirrored_rotated_reposts, reframed_reposts, filled_reposts, one_bar_reposts, retakes, noise), applied "
    "over the preset.",
)
@click.option(
    "--preset",
    type=click.Choice(["default", "hard"]),
    default="default",
    show_default=True,
    help="hard: tracklet noise of real footage on (35% of each clip's frames: the tracker's box on "
    "another garment or a look-alike, occlusion, motion blur, item out of frame), recorded per frame.",
)
@json_option
def generate(
    out: str,
    products: int,
    seed: int,
    quick: bool,
    workers: int | None,
    config_path: str | None,
    preset: str,
    as_json: bool,
) -> None:
    """Render a world folder: world.json, media/, gt/ and df2/ (reused when identical).

    \b
    Examples:
      mf world generate --out world --products 60 --seed 0
      mf world generate --out small --products 24 --quick --json
      mf world generate --out hard --products 400 --preset hard
    """
    from schemas.config import load_config

    from .config import WorldConfig, preset_config
    from .generate import generate_world, world_matches

    cfg = load_config(WorldConfig, config_path, stage="world")
    if preset != "default":
        cfg = preset_config(preset, cfg.model_dump(mode="json", exclude_unset=True), where=config_path)
    bar = progress_bar(desc="rendering products", unit="product")

    def progress(done: int, total: int) -> None:
        move_to(bar, done, total)

    t0 = time.perf_counter()
    reused = world_matches(out, products, seed, quick, cfg)  # what generate_world reuses as it is
    try:  # closed before any message: an interrupt or an error is the last thing shown
        truth = generate_world(
            out, products, seed, quick=quick, config=cfg, workers=workers, progress=progress
        )
    finally:
        bar.close()
    emit(summarize(truth, Path(out), time.perf_counter() - t0, reused), as_json, _human)


@world.command(context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("world_dir", "--world")
@_world_opt
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="TCP port (0 picks a free one).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--faults",
    "faults",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fault switch, repeatable: latency_s=0.2, retry_after_429=1, burst_5xx=2, oversized_bytes=N, "
    "evil_ids=true, robots_disallow=/path/, and, for the world's product ids, truncate=<id,...>, "
    "wrong_content_type=, html_as_image=, html_as_video=, short_length=, reset_mid_body=, stall_mid_body= "
    "(stall_s=N), redirect_foreign=, oversized=, malformed_jsonld=, no_range=, "
    "taken_down= (an id the world lacks is refused).",
)
@click.option(
    "--fixtures",
    "fixtures_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write yt-dlp/instaloader fixtures (default WORLD_DIR/fixtures).",
)
@click.option("--once", is_flag=True, hidden=True, help="Start, write fixtures, print and stop (for tests).")
@json_option
@interrupt_line("stopped")  # Ctrl-C is how a server ends: nothing to resume
def serve(
    legacy_world_dir: str | None,
    world_dir: str | None,
    port: int,
    host: str,
    faults: tuple[str, ...],
    fixtures_dir: str | None,
    once: bool,
    as_json: bool,
) -> None:
    """Serve a world as Net-A-Porter-like pages, TikTok/Instagram media and plain files until Ctrl-C.

    \b
    Examples:
      mf world serve --world world --port 8765
      mf world serve --world world --faults retry_after_429=1 --faults truncate=PRODUCT_ID   # an id of world.json
    """
    world_dir = legacy_folder(world_dir, legacy_world_dir, "--world")
    from .faults import check_fault_ids, parse_faults
    from .server import WorldServer

    stop_on_ctrl_c()  # "Ctrl-C to stop", also when a script started it in the background
    server = WorldServer(world_dir, port=port, host=host, faults=parse_faults(list(faults)))
    check_fault_ids(server.faults, (p.product_id for p in server.truth.products))
    fx_dir = Path(fixtures_dir or Path(world_dir) / "fixtures")
    with _fixtures_held(fx_dir):
        _serve(server, fx_dir, world_dir, once, as_json)


def _fixtures_held(fx_dir: Path) -> contextlib.ExitStack:
    """Hold ``FIXTURES/.serve.lock`` while serving: a second ``mf world serve`` writing the same
    fixtures folder would point its URLs at its own port, dead once it stops, under the first
    server's collectors. A folder this process cannot write (a read-only world) is not guarded:
    its unchanged fixtures are not rewritten."""
    from schemas.atomic import file_lock
    from schemas.errors import LocalFault

    stack = contextlib.ExitStack()
    with contextlib.suppress(LocalFault):
        stack.enter_context(
            file_lock(
                fx_dir / ".serve.lock",
                timeout_s=0,
                who="another mf world serve of this fixtures folder is serving (its URLs are in "
                f"{fx_dir / 'fixtures.json'})",
                hint="collect against that server, stop it first, or give this one --fixtures DIR",
            )
        )
    return stack


def _serve(server: Any, fx_dir: Path, world_dir: str, once: bool, as_json: bool) -> None:
    """Start ``server``, write its fixtures into ``fx_dir``, print where, serve until Ctrl-C."""
    server.start()
    try:
        fx = server.write_fixtures(fx_dir)
        info = {
            "base_url": server.base_url,
            "fixtures": fx,
            "faults": server.faults.model_dump(exclude_defaults=True),
        }
        emit(
            info,
            as_json,
            lambda d: (
                f"serving {world_dir} at {d['base_url']} (fixtures in "
                f"{Path(d['fixtures']['urls']).parent}); Ctrl-C to stop"
            ),
        )
        sys.stdout.flush()
        while not once:
            time.sleep(1)
    finally:
        server.stop()


@world.command(context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("world_dir", "--world")
@_world_opt
@out_option(
    required=False,
    default="world-pictures",
    show_default=True,
    help="Folder of the PNG files (the README's are docs/images of a source checkout).",
)
@json_option
def pictures(legacy_world_dir: str | None, world_dir: str | None, out: str, as_json: bool) -> None:
    """Render README pictures: frames with ground-truth boxes and a contact sheet of shop images.

    \b
    Examples:
      mf world pictures --world world --out docs/images
      mf world pictures --world world --out /tmp/pictures --json
    """
    world_dir = legacy_folder(world_dir, legacy_world_dir, "--world")
    from .pictures import render_pictures

    emit(render_pictures(world_dir, out), as_json, lambda d: "wrote " + ", ".join(d.values()))


@world.command("export-gt", context_settings=HELP, epilog=EXIT_STATUS)
@legacy_argument("world_dir", "--world")
@_world_opt
@out_option(help="Dataset folder to write: new, empty or an earlier export (replaced whole).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Split seed.")
@click.option(
    "--tracklets",
    type=click.Choice(["truth", "tracked", "detected", "linked"]),
    default="truth",
    show_default=True,
    help="Official tracklets: the item's true boxes, or the world tracker's boxes (noisy on worlds "
    "made with --preset hard: what training tracking publishes on real footage); detected: the "
    "tracker's boxes without the frames where it holds a box on nothing (camera swung away, "
    "background), as a tracklet linked from detections has them; linked: along the tracker's "
    "path, the detector's own boxes (IoU >= 0.5 with the tracker's) and their confidences, "
    "frames without one left out (runs the detector: ~30 ms a frame on 2 cores).",
)
@run_file_option(
    "--weights",
    **DETECTOR_RUN,
    help="Detector weights for --tracklets linked (default: the embedded detector).",
)
@click.option(
    "--test-fraction",
    type=FiniteFloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of each class in the test split, at least 3 products (0: none, a training-only "
    "export; 1.0: a world made for testing only).",
)
@json_option
@interrupt_line("interrupted: {out} was left as it was; rerun the same command: the export starts over")
def export_gt(
    legacy_world_dir: str | None,
    world_dir: str | None,
    out: str,
    seed: int,
    tracklets: str,
    weights: str | None,
    test_fraction: float,
    as_json: bool,
) -> None:
    """Write what a perfect pipeline would publish: the official-format dataset of the world, its
    tracklets the true item boxes (a reference for `mf-tracklets qa --reference`). The richer
    tracklets/ files also hold inference tracklets (the item's, and every other garment in view)
    and, on noisy worlds, which frames of the tracker's boxes are corrupted.

    \b
    Examples:
      mf world export-gt --world world --out world-gt
      mf-tracklets qa --dataset dataset --reference world-gt
      mf world export-gt --world hard-world --out hard-gt --tracklets tracked
      mf world export-gt --world hard-world --out hard-linked --tracklets linked --json
    """
    world_dir = legacy_folder(world_dir, legacy_world_dir, "--world")
    from schemas.official import read_official

    from .gt_dataset import export_gt_dataset

    detector = None
    if weights is not None:
        if tracklets != "linked":
            raise click.UsageError("--weights is for --tracklets linked (the detector it runs)")
        from movingfashion.models.detectors.registry import build_detector

        detector = build_detector(weights=weights)
    bar = progress_bar(desc="exporting products", unit="product")

    def progress(done: int, total: int) -> None:
        move_to(bar, done, total)

    try:  # closed before any message: an interrupt or an error is the last thing shown
        path = export_gt_dataset(
            world_dir,
            out,
            seed=seed,
            tracklets=tracklets,
            test_fraction=test_fraction,
            detector=detector,
            progress=progress,
        )
    finally:
        bar.close()
    counts = {name: len(read_official(path / f"{name}.json")) for name in ("train", "test")}
    emit(
        {"out": str(path), **counts},
        as_json,
        lambda d: f"wrote {d['out']}: {d['train']} train and {d['test']} test products",
    )


@world.group(context_settings=HELP, epilog=EXIT_STATUS)
def score() -> None:
    """Score what a stage produced against the world's truth.

    \b
    Examples:
      mf world score tracklets --dataset dataset --world world --json
      mf stats --catalog data/catalog.sqlite --root data --world world   # the cleaning figures
    """


@score.command("tracklets", context_settings=HELP, epilog=EXIT_STATUS)
@dataset_option()
@click.option(
    "--world",
    "world_dir",
    required=True,
    type=click.Path(exists=True),
    help="The synthetic world the dataset was built from (folder or world.json).",
)
@click.option("--details", is_flag=True, help="Per-video figures in the JSON output.")
@json_option
def score_tracklets_cmd(dataset: str, world_dir: str, details: bool, as_json: bool) -> None:
    """Ground-truth tracklets of a dataset against the world's true item boxes: mean IoU, the
    paper's >= 50% check and the query selection's mean IoU, over every video the split files
    list (one without a tracklet file fails the check: no_tracklet_file) and those mf publish
    held back for review (held_back), with the review flags' rate and recall.

    \b
    Examples:
      mf world score tracklets --dataset demo-out/dataset --world demo-out/world --json
      mf world score tracklets --dataset dataset --world world/world.json --details --json
    """
    from annotations.cli import counted_apart, qa_human, require_overlap

    from .scoring.tracklets import score_tracklets
    from .truth import world_folder

    rep = score_tracklets(dataset, world_folder(world_dir))
    hint = "pass the world this dataset was collected from: the folder mf world generate --out wrote"
    require_overlap(rep.as_dict(), world_dir, "world", hint)
    emit(rep.as_dict(details), as_json, lambda d: qa_human(d) + counted_apart(d))


def main() -> None:
    run_main(world)
