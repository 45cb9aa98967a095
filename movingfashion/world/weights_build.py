"""Train the embedded default weights (``make weights``): a small YOLO detector and the
single-frame matcher, on an already generated synthetic world (and its DF2-format mini set).

    mf world generate --out build/weights-world --products 60 --seed 0
    python -m movingfashion.world.weights_build --world build/weights-world --out build/weights

Writes ``OUT/detector.pt`` and ``matcher.pt`` (float16 where a tensor fits it, batch-norm
statistics and anything float16 cannot hold in float32; never a non-finite value) and
``OUT/README.json`` with what they were trained on; ``make weights`` writes the embedded ones,
``movingfashion/models/weights/`` of the source checkout (``--out`` has no default: an installed
package is never written over). These weights only know
the synthetic world: real data needs DeepFashion2-trained weights (``mf train-detector``,
``mf pretrain-matcher``).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import torch

from annotations.training import train_detector
from movingfashion.deepfashion2 import has_split, write_yolo_dataset
from movingfashion.media.images import read_image, write_image
from movingfashion.media.video_source import VideoSource
from movingfashion.models import crops_from_frames, load_matcher
from movingfashion.models.detectors import DETECTORS, Detector
from movingfashion.models.matchrcnn import nonfinite_tensors
from movingfashion.models.pretrain import (
    CropSet,
    df2_crops,
    jitter_box,
    recalibrate_batchnorm,
    to_uint8,
    train_matcher,
)
from movingfashion.world.truth import WorldTruth, WorldVideo, load_video_gt, load_world
from schemas.atomic import atomic_write_json
from schemas.cli_support import (
    DETECTOR_RUN,
    FINITE_FLOAT,
    MATCHER_RUN,
    FiniteFloatRange,
    emit,
    run_file_option,
    run_main,
)
from schemas.errors import DataFormatError, MediaError

#: matcher samples: a garment is an identity crop only when at least this share of it shows
MIN_VISIBLE = 0.3
#: detector labels: every garment with at least this share showing gets its box (DeepFashion2
#: labels occluded garments too). 0.3 left 40% of the worlds' visible garment boxes unlabelled,
#: 57% of the shorts', which the top worn over them covers (the garment in frame, trained as
#: background): shorts and skirts were 43 of the 46 tracklet failures on the flag worlds
#: (generator-3 truth)
DETECTOR_MIN_VISIBLE = 0.05


def _videos(truth: WorldTruth) -> list[WorldVideo]:
    return [v for v in truth.videos if v.duplicate_of is None]


def _moving_offset(v: WorldVideo) -> list[int] | None:
    return [int(x) for x in v.split_screen.moving_box] if v.split_screen is not None else None


def world_frames(
    world: Path,
    truth: WorldTruth,
    every: int,
    videos: list[WorldVideo] | None = None,
    min_visible: float = MIN_VISIBLE,
) -> Iterator[tuple[WorldVideo, int, np.ndarray, list[tuple[str, int, list[float]]]]]:
    """(video, frame index, RGB frame, [(garment key, df2 class, box)]) every ``every`` frames,
    garments with at least ``min_visible`` of their pixels showing.

    Split-screen videos are cut to their moving half (as published), boxes shifted with them.
    Garment key = ``product_id/person``, unique within the video."""
    for v in videos or _videos(truth):
        gt = load_video_gt(world, v)
        src = VideoSource(world / v.path)
        try:
            idx = list(range(0, min(src.frames, len(gt.frames)), every))
            frames = src.get_batch(idx)
        finally:
            src.close()
        mb = _moving_offset(v)
        for t, rgb in zip(idx, frames, strict=True):
            objs = []
            for g in gt.frames[t]:
                if g.box is None or g.visible < min_visible:
                    continue
                b = list(g.box)
                if mb is not None:
                    b = [b[0] - mb[0], b[1] - mb[1], b[2] - mb[0], b[3] - mb[1]]
                objs.append((f"{g.product_id}/{g.person}", g.df2_class, b))
            if mb is not None:
                rgb = rgb[mb[1] : mb[3], mb[0] : mb[2]]
            yield v, t, np.ascontiguousarray(rgb), objs


def world_yolo(
    world: Path,
    truth: WorldTruth,
    out: Path,
    every: int = 10,
    val_fraction: float = 0.1,
    min_visible: float = DETECTOR_MIN_VISIBLE,
) -> Path:
    """Frames of the world's videos + true garment boxes as a YOLO dataset; returns data.yaml.

    Every garment with at least ``min_visible`` of it showing is labelled: one left out would be
    trained as background.

    ``out/frames`` and ``out/yolo`` are rebuilt from scratch: frames left by an earlier run with
    another world or ``every`` would otherwise join the training set unnoticed.
    """
    img_dir = out / "frames"
    for stale in (img_dir, out / "yolo"):
        shutil.rmtree(stale, ignore_errors=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    vids = _videos(truth)
    rng = random.Random(0)
    val = {v.video_id for v in rng.sample(vids, max(1, int(len(vids) * val_fraction)))}
    samples = []
    for v, t, rgb, objs in world_frames(world, truth, every, vids, min_visible):
        p = img_dir / f"{v.video_id}_{t:05d}.jpg"
        write_image(p, rgb, quality=90)
        split = "validation" if v.video_id in val else "train"
        samples.append((split, p, [(c, b) for _, c, b in objs], (rgb.shape[1], rgb.shape[0])))
    return write_yolo_dataset(samples, out / "yolo")


@dataclass
class _VideoSamples:
    """One video's identity-labelled boxes (jittered like detections) and its shop image boxes."""

    group: int
    frames: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)  #: one [K,4] array per frame
    ids: list[int] = field(default_factory=list)  #: per box, frame order then box order
    shop: np.ndarray | None = None
    shop_boxes: list[list[float]] = field(default_factory=list)  #: jittered whole-image boxes
    shop_id: int | None = None


def _world_samples(
    world: Path, truth: WorldTruth, every: int, jitter: float, seed: int
) -> Iterator[_VideoSamples]:
    """The samples both matchers train on, video by video: garment boxes of every ``every``-th
    frame (identity = the garment in that video, group = the video) and the product's shop image
    (the still half for split-screen videos) as three jittered whole-image boxes of its own
    garment's identity."""
    rng = random.Random(seed)
    ident: dict[tuple[str, str], int] = {}
    for gi, v in enumerate(_videos(truth)):
        out = _VideoSamples(gi)
        for _, _, rgb, objs in world_frames(world, truth, every, [v]):
            if not objs:
                continue
            h, w = rgb.shape[:2]
            out.frames.append(rgb)
            out.boxes.append(np.asarray([jitter_box(b, w, h, rng, jitter) for _, _, b in objs], np.float32))
            out.ids += [ident.setdefault((v.video_id, key), len(ident)) for key, _, _ in objs]
        prod = truth.product(v.product_id)
        shop_rel = v.split_screen.still_image if v.split_screen is not None else prod.images.get("shop")
        own = [k for (vid, k) in ident if vid == v.video_id and k.split("/")[0] == v.product_id]
        if shop_rel and own:
            rgb = _shop_rgb(world / shop_rel)
            if rgb is not None:
                h, w = rgb.shape[:2]
                out.shop, out.shop_id = rgb, ident[(v.video_id, own[0])]
                out.shop_boxes = [jitter_box([0, 0, w, h], w, h, rng, 0.05) for _ in range(3)]
        yield out


def world_crops(
    world: Path, truth: WorldTruth, size: int, every: int = 3, jitter: float = 0.1, seed: int = 0
) -> CropSet:
    """Garment crops of every video (identity = the garment in that video, group = the video)
    plus each product's shop image as a crop of its own garment's identity."""
    crops, ids, groups, anchors = [], [], [], []
    for vs in _world_samples(world, truth, every, jitter, seed):
        for rgb, boxes in zip(vs.frames, vs.boxes, strict=True):
            crops.append(to_uint8(crops_from_frames([rgb], [boxes], size)))
        ids += vs.ids
        groups += [vs.group] * len(vs.ids)
        anchors += [False] * len(vs.ids)
        for box in vs.shop_boxes:
            crops.append(to_uint8(crops_from_frames([vs.shop], [box], size)))
            ids.append(vs.shop_id)
            groups.append(vs.group)
            anchors.append(True)
    if not crops:
        raise DataFormatError("no garment crops in the world", where=str(world))
    return CropSet(torch.cat(crops), torch.tensor(ids), torch.tensor(groups), torch.tensor(anchors))


def world_roi_features(
    world: Path,
    truth: WorldTruth,
    detector: Detector,
    pool: int = 3,
    every: int = 3,
    jitter: float = 0.1,
    seed: int = 0,
) -> CropSet:
    """The samples of :func:`world_crops` (same boxes, identities, groups and shop anchors) as
    RoIAlign-pooled features of ``detector``'s own forward pass (float16
    ``[N, sum(channels), pool, pool]``), what :func:`movingfashion.models.pretrain.train_roi_matcher`
    trains on with the detector frozen."""
    from movingfashion.models.roi import pool_boxes

    capture = detector.feature_capture()
    feats, ids, groups, anchors = [], [], [], []
    try:
        with torch.no_grad():
            for vs in _world_samples(world, truth, every, jitter, seed):
                bs = detector.config.batch
                for i in range(0, len(vs.frames), bs):
                    frames = vs.frames[i : i + bs]
                    capture.clear()
                    detector.feature_pass(frames)
                    hw = [f.shape[:2] for f in frames]
                    feats.append(pool_boxes(capture, vs.boxes[i : i + bs], hw, pool).half().cpu())
                ids += vs.ids
                groups += [vs.group] * len(vs.ids)
                anchors += [False] * len(vs.ids)
                if vs.shop is not None:
                    capture.clear()
                    detector.feature_pass([vs.shop])
                    boxes = [np.asarray(vs.shop_boxes, np.float32)]
                    feats.append(pool_boxes(capture, boxes, [vs.shop.shape[:2]], pool).half().cpu())
                    ids += [vs.shop_id] * len(vs.shop_boxes)
                    groups += [vs.group] * len(vs.shop_boxes)
                    anchors += [True] * len(vs.shop_boxes)
    finally:
        capture.close()
    if not feats:
        raise DataFormatError("no garment boxes in the world", where=str(world))
    return CropSet(torch.cat(feats), torch.tensor(ids), torch.tensor(groups), torch.tensor(anchors))


def matcher_crops(
    world: Path, truth: WorldTruth, crop_size: int, df2: str | os.PathLike[str] | None = None
) -> CropSet:
    """What the matcher trains on: the world's garment and shop crops (:func:`world_crops`) plus
    its DeepFashion2-format train split (``df2`` or the world's own), jittered like detections."""
    sets = [world_crops(world, truth, crop_size)]
    df2_root = Path(df2) if df2 else (world / truth.df2_root if truth.df2_root else None)
    if df2_root is not None and has_split(df2_root, "train"):
        sets.append(df2_crops(df2_root, "train", crop_size, jitter=0.08))
    return CropSet.cat(sets)


def build_weights(
    world: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    df2: str | os.PathLike[str] | None = None,
    epochs: int = 40,
    imgsz: int = 192,
    frame_every: int = 8,
    matcher_steps: int = 600,
    crop_size: int = 64,
    skip_detector: bool = False,
    skip_matcher: bool = False,
    work: str | os.PathLike[str] | None = None,
    detector_init: str | os.PathLike[str] | None = None,
    lr0: float = 0.002,
    matcher_init: str | os.PathLike[str] | None = None,
    matcher_lr: float = 1e-3,
    recalibrate_matcher: str | os.PathLike[str] | None = None,
    bn_batches: int = 300,
    bn_modules: tuple[str, ...] = ("f.bn",),
    lost_dims_weight: float = 1.0,
    min_visible: float = DETECTOR_MIN_VISIBLE,
) -> dict:
    """Train both default models; returns what was done (sizes, figures, seconds).

    ``detector_init`` / ``matcher_init`` continue from existing weights (e.g. the embedded
    ones) instead of a random initialisation: a second, longer stage on a new world.
    ``recalibrate_matcher`` instead re-estimates that matcher's batch-norm statistics
    (``bn_modules``, over ``bn_batches`` training batches of the world's crops, every weight
    frozen: :func:`movingfashion.models.pretrain.recalibrate_batchnorm`) and saves it; the
    repair of a checkpoint whose float16 variances overflowed; ``lost_dims_weight`` then scales
    m's weights on the descriptor dimensions whose statistics were lost (1 = restore them fully:
    they were dead while the rest of the recipe was tuned).
    """
    wdir = Path(world)
    if not (wdir / "world.json").is_file():
        raise DataFormatError(
            "no world.json: generate the world first",
            where=str(wdir),
            hint=f"mf world generate --out {wdir} --products 60 --seed 0",
        )
    truth = load_world(wdir)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir = Path(work) if work else Path("build") / "weights-work"
    info: dict = {"world": str(wdir), "world_seed": truth.seed, "products": len(truth.products)}
    if not skip_detector:
        t = time.perf_counter()
        data = world_yolo(wdir, truth, work_dir, every=frame_every, min_visible=min_visible)
        # from scratch, few CPU epochs: short warm-up, no mosaic, a higher AdamW rate, small
        # batches (more updates per second), validation only at the end
        best = train_detector(
            None,
            work_dir / "det",
            epochs=epochs,
            imgsz=imgsz,
            batch=8,
            data_yaml=data,
            model=str(detector_init) if detector_init else "yolov8n.yaml",
            optimizer="AdamW",
            lr0=lr0,
            warmup_epochs=0.5,
            close_mosaic=epochs,
            val=False,
        )
        _slim_yolo(best, out_dir / "detector.pt")
        info["detector"] = {
            "epochs": epochs,
            "imgsz": imgsz,
            "frame_every": frame_every,
            "min_visible": min_visible,
            "lr0": lr0,
            "init": str(detector_init) if detector_init else "yolov8n.yaml (random)",
            "seconds": round(time.perf_counter() - t, 1),
        }
    if recalibrate_matcher is not None:
        t = time.perf_counter()
        model = load_matcher(recalibrate_matcher, device="cpu", allow_nonfinite=True)
        before = nonfinite_tensors(model.state_dict())
        bn = model.f.bn
        lost = ~(torch.isfinite(bn.running_var) & torch.isfinite(bn.running_mean))
        data = matcher_crops(wdir, truth, model.crop_size, df2)
        done = recalibrate_batchnorm(model, data, batches=bn_batches, modules=bn_modules)
        if lost.any() and lost_dims_weight != 1.0:
            with torch.no_grad():
                model.m.fc.weight[:, lost] *= lost_dims_weight
        tag = model.save(
            out_dir / "matcher.pt",
            meta={"trained_on": "synthetic world", "world": str(wdir), "recalibrated": done},
        )
        info["matcher"] = {
            "tag": tag,
            "stage": "batch-norm re-estimation (every weight frozen)",
            "init": str(recalibrate_matcher),
            "nonfinite_before": before,
            "lost_dims": int(lost.sum()),
            "lost_dims_weight": lost_dims_weight,
            "crops": len(data),
            **done,
            "seconds": round(time.perf_counter() - t, 1),
        }
    elif not skip_matcher:
        t = time.perf_counter()
        data = matcher_crops(wdir, truth, crop_size, df2)
        init = load_matcher(matcher_init, device="cpu") if matcher_init else None
        model = train_matcher(
            data,
            steps=matcher_steps,
            crop_size=crop_size,
            init=init,
            lr=matcher_lr,
            log=lambda s, v: (s % 50 == 0) and print(f"matcher step {s}: loss {v:.3f}", file=sys.stderr),
        )
        tag = model.save(
            out_dir / "matcher.pt",
            meta={"trained_on": "synthetic world", "world": str(wdir), "steps": matcher_steps},
        )
        info["matcher"] = {
            "tag": tag,
            "crops": len(data),
            "steps": matcher_steps,
            "lr": matcher_lr,
            "init": str(matcher_init) if matcher_init else "random",
            "seconds": round(time.perf_counter() - t, 1),
        }
    info["sizes_mb"] = {p.name: round(p.stat().st_size / 2**20, 2) for p in out_dir.glob("*.pt")}
    card = out_dir / "README.json"
    old = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}
    # one card per folder: a detector-only or matcher-only stage keeps the other model's entry,
    # and every stage is appended to the history (the weights' lineage)
    merged = {**{k: v for k, v in old.items() if k in ("detector", "matcher", "roi_matcher")}, **info}
    merged["history"] = [*old.get("history", []), {k: v for k, v in info.items() if k != "sizes_mb"}]
    merged["note"] = "trained on the synthetic world only; use DeepFashion2-trained weights for real data"
    atomic_write_json(card, merged)
    return info


def build_roi_matcher(
    world: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    detector: str = "ultralytics",
    detector_weights: str | os.PathLike[str] | None = None,
    detector_imgsz: int | None = None,
    steps: int = 1500,
    lr: float = 2e-3,
    every: int = 3,
    seed: int = 0,
    log: Callable[[int, float], None] | None = None,
) -> dict:
    """Train the RoI matcher's head on ``world`` (:func:`world_roi_features` of the frozen
    ``detector`` backend with ``detector_weights``: default the embedded YOLO; ``fasterrcnn`` pools
    its FPN levels; then :func:`movingfashion.models.pretrain.train_roi_matcher`), write
    ``out/roi_matcher.pt`` (float32, naming the detector weights it fits) and its entry
    ``roi_matcher`` in ``out/README.json``; returns that entry. The features are pooled at the
    world's true garment boxes, so the head learns whatever the detector's maps hold."""
    from movingfashion.models.detectors import DetectorConfig, build_detector
    from movingfashion.models.pretrain import roi_retrieval_top1, train_roi_matcher

    wdir = Path(world)
    if not (wdir / "world.json").is_file():
        raise DataFormatError("no world.json: generate the world first", where=str(wdir))
    truth = load_world(wdir)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    det = build_detector(detector, detector_weights, DetectorConfig(device="cpu", imgsz=detector_imgsz))
    data = world_roi_features(wdir, truth, det, every=every, seed=seed)
    t_feats = time.perf_counter() - t
    capture = det.feature_capture()
    channels, strides = capture.channels, capture.strides
    capture.close()
    model = train_roi_matcher(
        data, channels=channels, strides=strides, detector=det.version, steps=steps, lr=lr, seed=seed, log=log
    )
    shop = data.anchors
    top1 = roi_retrieval_top1(
        model, CropSet(data.crops[~shop], data.ids[~shop]), CropSet(data.crops[shop], data.ids[shop])
    )
    path = out_dir / "roi_matcher.pt"
    tag = model.save(path, meta={"trained_on": "synthetic world", "world": str(wdir), "steps": steps})
    entry = {
        "tag": tag,
        "detector": det.version,
        "world": f"{wdir} (seed {truth.seed}, {len(truth.products)} products)",
        "samples": len(data),
        "identities": int(len(set(data.ids.tolist()))),
        "frame_every": every,
        "steps": steps,
        "lr": lr,
        "seed": seed,
        "pool": model.pool,
        "multiply_adds_per_box": model.head.macs(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "storage": "float32; saving and loading refuse non-finite tensors",
        "train_frame_to_shop_top1": round(top1, 4),
        "size_kb": round(path.stat().st_size / 1024, 1),
        "seconds": {"features": round(t_feats, 1), "total": round(time.perf_counter() - t, 1)},
    }
    card = out_dir / "README.json"
    old = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}
    atomic_write_json(card, {**old, "roi_matcher": entry})
    return entry


def _shop_rgb(path: Path) -> np.ndarray | None:
    """The shop image as RGB, None when it is missing or does not decode."""
    try:
        return read_image(path)
    except MediaError:
        return None


def _slim_yolo(src: Path, dst: Path) -> None:
    """Copy ultralytics weights without optimizer state (ultralytics already strips best.pt/last.pt
    at the end of training; strip again in case training was cut short)."""
    try:
        from movingfashion.models.detectors.ultralytics_backend import load_ultralytics

        load_ultralytics()
        from ultralytics.utils.torch_utils import strip_optimizer

        tmp = dst.with_suffix(".tmp.pt")
        shutil.copyfile(src, tmp)
        strip_optimizer(str(tmp))
        os.replace(tmp, dst)
    except Exception:
        shutil.copyfile(src, dst)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--world",
    default=os.environ.get("MF_WEIGHTS_WORLD", "build/weights-world"),
    show_default=True,
    type=click.Path(file_okay=False),
    help="An already generated synthetic world.",
)
@click.option(
    "--df2", type=click.Path(file_okay=False), help="DF2-format folder (default: the world's df2/)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder the weights are written to (the embedded ones are movingfashion/models/weights of a "
    "source checkout, as `make weights` writes them; never an installed package's).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--imgsz", type=click.IntRange(min=32), default=192, show_default=True)
@click.option(
    "--frame-every",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Detector: one frame in N.",
)
@click.option(
    "--min-visible",
    type=FiniteFloatRange(0, 1),
    default=DETECTOR_MIN_VISIBLE,
    show_default=True,
    help="Detector: label every garment with at least this share of it showing.",
)
@click.option("--matcher-steps", type=click.IntRange(min=1), default=600, show_default=True)
@click.option(
    "--lr0", type=FINITE_FLOAT, default=0.002, show_default=True, help="Detector: initial AdamW rate."
)
@run_file_option("--init-detector", **DETECTOR_RUN, help="Continue from these YOLO weights.")
@click.option("--matcher-lr", type=FINITE_FLOAT, default=1e-3, show_default=True)
@run_file_option("--init-matcher", **MATCHER_RUN, help="Continue from this matcher checkpoint.")
@run_file_option(
    "--recalibrate-matcher",
    **MATCHER_RUN,
    help="Re-estimate this matcher's batch-norm statistics on the world's crops (weights frozen)"
    " and save it to OUT/matcher.pt, instead of training one.",
)
@click.option(
    "--bn-batches",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Batches for --recalibrate-matcher.",
)
@click.option(
    "--lost-dims-weight",
    type=FiniteFloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="With --recalibrate-matcher: scale of m's weights on the dimensions whose statistics were lost.",
)
@click.option("--skip-detector", is_flag=True)
@click.option("--skip-matcher", is_flag=True)
@click.option(
    "--roi-matcher-only",
    is_flag=True,
    help="Only train the RoI matcher's head on the world (the embedded detector, or --detector-weights,"
    " frozen) and write OUT/roi_matcher.pt.",
)
@click.option(
    "--roi-steps",
    type=click.IntRange(min=1),
    default=1500,
    show_default=True,
    help="RoI matcher training steps.",
)
@run_file_option(
    "--detector-weights",
    **DETECTOR_RUN,
    help="With --roi-matcher-only: the detector whose features the head learns (default: embedded).",
)
@click.option(
    "--detector",
    "detector_backend",
    type=click.Choice(list(DETECTORS)),
    default="ultralytics",
    show_default=True,
    help="With --roi-matcher-only: the detector backend of --detector-weights (fasterrcnn: pass its"
    " state dict; the head then pools its FPN levels).",
)
def main(
    world,
    df2,
    out,
    epochs,
    imgsz,
    frame_every,
    min_visible,
    matcher_steps,
    lr0,
    init_detector,
    matcher_lr,
    init_matcher,
    recalibrate_matcher,
    bn_batches,
    lost_dims_weight,
    skip_detector,
    skip_matcher,
    roi_matcher_only,
    roi_steps,
    detector_weights,
    detector_backend,
) -> None:
    """Retrain the embedded default detector and matcher on a synthetic world.

    \b
    Example:
      mf world generate --out build/weights-world --products 60 --seed 0
      python -m movingfashion.world.weights_build --world build/weights-world --out build/weights
      python -m movingfashion.world.weights_build --world build/weights-world --skip-detector \\
          --recalibrate-matcher old/matcher.pt --out build/repaired
      python -m movingfashion.world.weights_build --world build/weights-world --roi-matcher-only \\
          --out build/roi
      python -m movingfashion.world.weights_build --world build/weights-world --roi-matcher-only \\
          --detector fasterrcnn --detector-weights frcnn.pt --out build/frcnn-roi
    """
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    if roi_matcher_only:
        entry = build_roi_matcher(
            world,
            out,
            detector=detector_backend,
            detector_weights=detector_weights,
            steps=roi_steps,
            log=lambda s, v: (s % 100 == 0) and print(f"RoI matcher step {s}: loss {v:.3f}", file=sys.stderr),
        )
        emit(entry, as_json=True)
        return
    info = build_weights(
        world,
        out,
        df2=df2,
        epochs=epochs,
        imgsz=imgsz,
        frame_every=frame_every,
        matcher_steps=matcher_steps,
        skip_detector=skip_detector,
        skip_matcher=skip_matcher,
        detector_init=init_detector,
        lr0=lr0,
        matcher_init=init_matcher,
        matcher_lr=matcher_lr,
        recalibrate_matcher=recalibrate_matcher,
        bn_batches=bn_batches,
        lost_dims_weight=lost_dims_weight,
        min_visible=min_visible,
    )
    emit(info, as_json=True)


if __name__ == "__main__":
    run_main(main)
