"""``generate_world``: plan, render and encode a synthetic world folder (layout in docs/contracts.md)."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from movingfashion.media.ffmpeg import encode_frames
from movingfashion.media.images import write_image
from movingfashion.world.truth import (
    DuplicateKind,
    GarmentInFrame,
    SplitScreen,
    VideoGroundTruth,
    WorldProduct,
    WorldTruth,
    WorldVideo,
    load_world,
    save_world,
)
from schemas.atomic import atomic_copy, atomic_write_json, sha256_file, sweep_partials
from schemas.errors import ConfigError
from schemas.items import SourceName
from schemas.paths import folder_listing
from schemas.worker_life import dying_with_parent, ending_pool

from .catalog import ProductSpec, plan_world, random_garment
from .config import GENERATOR_VERSION, NoiseConfig, WorldConfig
from .render import Pose, fabric_closeup, studio_object, studio_shot
from .scenes import hard_scene, letterbox, regular_scene, split_frame

PARAMS_FILE = "world_params.json"
#: one record per product rendered (its images and videos, as the render returned them), written
#: once all its files are: a rerun over a world cut short skips those products; removed once the
#: world is complete
RENDERED_DIR = ".rendered"
#: the folder of the DeepFashion2 mini set's records of the pairs drawn, inside :data:`RENDERED_DIR`
#: (:func:`movingfashion.world.df2.generate_df2`; a product's record is a file, ``<id>.json``)
DF2_DONE = "df2-pairs"


def _params(products: int, seed: int, quick: bool, cfg: WorldConfig) -> dict[str, Any]:
    config = cfg.model_dump(mode="json", exclude={"workers"})
    if not cfg.noise.enabled and cfg.noise == NoiseConfig():
        del config["noise"]  # worlds made without the noise knobs keep their parameters file
    for knob in (
        "rotated_reposts",
        "mirrored_rotated_reposts",
        "reframed_reposts",
        "filled_reposts",
        "one_bar_reposts",
    ):
        if not getattr(cfg, knob):
            del config[knob]  # nor those made before such re-posts were planted
    return {
        "products": products,
        "seed": seed,
        "quick": quick,
        "generator_version": GENERATOR_VERSION,
        "config": config,
    }


def world_matches(
    out_dir: str | os.PathLike[str],
    products: int,
    seed: int,
    quick: bool = False,
    cfg: WorldConfig | None = None,
) -> bool:
    """True when ``out_dir`` already holds a complete world made with these parameters."""
    cfg = cfg or WorldConfig()
    p = Path(out_dir, PARAMS_FILE)
    if not p.exists() or not Path(out_dir, "world.json").exists():
        return False
    try:
        return json.loads(p.read_text()) == _params(products, seed, quick, cfg)
    except (OSError, json.JSONDecodeError):
        return False


def _read_params(out: Path) -> dict[str, Any] | None:
    """The parameters file of a world folder (complete or cut short), None when it has none."""
    try:
        params = json.loads((out / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return params if isinstance(params, dict) and "generator_version" in params else None


def _flat(params: dict[str, Any], at: str = "") -> dict[str, Any]:
    """``params`` with nested config keys joined by dots (``config.noise.enabled``)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{at}{key}."))
        else:
            flat[f"{at}{key}"] = value
    return flat


def params_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``--products 60 (now 24), --seed 0 (now 1)``: the parameters that differ (the first 4), as
    options when they are ones (``--quick``), else by their key in the parameters file."""
    a, b = _flat(old), _flat(new)
    shown = []
    for key in sorted(set(a) | set(b), key=lambda k: (k.startswith("config."), k)):
        if a.get(key, "(unset)") != b.get(key, "(unset)"):
            name = f"--{key}" if key in ("products", "seed", "quick") else key
            shown.append(f"{name} {a.get(key, '(unset)')!s} (now {b.get(key, '(unset)')!s})")
    more = f" and {len(shown) - 4} more" if len(shown) > 4 else ""
    return ", ".join(shown[:4]) + more if shown else "none"


def _check_out(out: Path, params: dict[str, Any]) -> None:
    """Refuse an ``out`` that is a file, a non-empty folder that holds no world (a world cut
    short holds its parameters file): the world's files would mix with whatever is there, or a
    world cut short that was started with other parameters than ``params`` (it is resumed only
    with its own)."""
    if out.exists() and not out.is_dir():
        raise ConfigError("not a folder", where=str(out), hint="pass a new or empty folder as --out")
    entries = [p.name for p in out.iterdir()] if out.is_dir() else []
    if not entries:
        return
    before = _read_params(out)
    if before is not None:
        if before != params:
            raise ConfigError(
                f"holds a world cut short that was started with other parameters: {params_difference(before, params)}",
                where=str(out),
                hint="rerun with its parameters to resume it; for these, pass another --out or remove the folder",
            )
        return
    raise ConfigError(
        f"folder is not empty and holds no world of mf world generate ({folder_listing(entries)})",
        where=str(out),
        hint="pass a new or empty folder as --out",
    )


def generate_world(
    out_dir: str | os.PathLike[str],
    products: int = 60,
    seed: int = 0,
    *,
    quick: bool = False,
    config: WorldConfig | None = None,
    workers: int | None = None,
    progress: Any = None,
) -> WorldTruth:
    """Render a synthetic MovingFashion world into ``out_dir`` and return its ground truth.

    Reuses ``out_dir`` when it already holds the same world (same products, seed, quick, config),
    resumes a world cut short with the same parameters (the partial files of its killed writers
    removed; a product whose record in :data:`RENDERED_DIR` names files that are all there, its
    videos with their recorded SHA-256, is not rendered again: every file is written atomically
    and the record after them, and rendering is deterministic, so the world ends byte-identical
    to an uninterrupted one); :class:`ConfigError` (exit 2) naming the parameters that differ for
    a folder holding another world, complete or cut short, and for a folder holding anything else.
    ``progress(done, total)`` is called after each product when given.
    """
    cfg = config or WorldConfig()
    out = Path(out_dir)
    if world_matches(out, products, seed, quick, cfg):
        return load_world(out)
    params = _params(products, seed, quick, cfg)
    if Path(out, "world.json").exists():
        before = _read_params(out)
        raise ConfigError(
            "folder already holds a different world"
            + (f": {params_difference(before, params)}" if before is not None else ""),
            where=str(out),
            hint="use another --out folder or delete this one",
        )
    specs = plan_world(products, seed, cfg)  # checks the request before anything is written
    _check_out(out, params)
    sweep_partials(out, recursive=True)  # what a killed run left half-written: same bytes as a fresh world
    out.mkdir(parents=True, exist_ok=True)
    # written first, again at the end: marks the folder as a world being rendered (a rerun resumes)
    atomic_write_json(out / PARAMS_FILE, params)
    by_id = {s.product_id: s for s in specs}
    dups: dict[str, list[ProductSpec]] = {}
    for s in specs:
        if s.duplicate_of or s.retake_of:  # rendered with their source item
            dups.setdefault(s.duplicate_of or s.retake_of or "", []).append(s)
    tasks = [
        (str(out), s, dups.get(s.product_id, []), cfg, quick, seed, _wrong_specs(s, by_id))
        for s in specs
        if not (s.duplicate_of or s.retake_of)
    ]
    n_workers = cfg.workers if workers is None else workers
    results: dict[str, dict] = {}
    total = len(tasks)
    for t in list(tasks):  # rendered before this run was cut short
        if (got := _rendered(out, t[1].product_id)) is not None:
            results.update(got)
            tasks.remove(t)
    done = total - len(tasks)
    if progress and done:
        progress(done, total)

    def finished(res: dict[str, dict], product_id: str) -> None:
        nonlocal done
        results.update(res)
        atomic_write_json(out / RENDERED_DIR / f"{product_id}.json", res)
        done += 1
        if progress:
            progress(done, total)

    if n_workers > 1 and len(tasks) > 4:
        order = sorted(tasks, key=lambda t: -_cost(t[1]))
        spawn = get_context("spawn")  # workers end with this process, even when it is killed
        # Ctrl-C or a failed product ends the workers at once (the finished products are on disk)
        with ending_pool(ProcessPoolExecutor(n_workers, mp_context=spawn, **dying_with_parent())) as pool:
            for t, res in zip(order, pool.map(_render_product, order, chunksize=1), strict=True):
                finished(res, t[1].product_id)
    else:
        for t in tasks:
            finished(_render_product(t), t[1].product_id)
    # wrong shop associations: the served shop image is another product's
    for s in specs:
        if s.wrong_shop_kind == "shop" and s.wrong_shop_of:
            src = out / results[s.wrong_shop_of]["images"]["shop"]
            dst = out / results[s.product_id]["images"]["shop"]
            atomic_copy(src, dst)
    truth = _assemble(specs, results, seed, by_id)
    from .df2 import generate_df2

    truth.df2_root = generate_df2(out, seed, cfg, quick, done_dir=out / RENDERED_DIR / DF2_DONE)
    save_world(out, truth)
    atomic_write_json(out / PARAMS_FILE, params)
    shutil.rmtree(out / RENDERED_DIR, ignore_errors=True)  # complete: world_matches answers now
    return truth


def _rendered(out: Path, product_id: str) -> dict[str, dict] | None:
    """What a run cut short rendered of ``product_id``'s task (its result, with its duplicates'),
    when its record reads and every file it names is there (each video with its recorded
    SHA-256); else None: the product is rendered again."""
    try:
        res = json.loads((out / RENDERED_DIR / f"{product_id}.json").read_text(encoding="utf-8"))
        if not isinstance(res, dict) or product_id not in res:
            return None
        for r in res.values():
            files = [*r["images"].values(), *(v[k] for v in r["videos"] for k in ("path", "gt"))]
            if not all(isinstance(f, str) and (out / f).is_file() for f in files):
                return None
            if any(sha256_file(out / v["path"]) != v["sha256"] for v in r["videos"]):
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return res


def _wrong_specs(s: ProductSpec, by_id: dict[str, ProductSpec]) -> tuple[ProductSpec, ...]:
    """The items whose shop images a wrong carousel or a wrong split-screen still shows."""
    if s.wrong_shop_kind not in ("carousel", "split_screen") or not s.wrong_shop_of:
        return ()
    return tuple(by_id[i] for i in (s.wrong_shop_of, s.wrong_extra_of) if i)


def _owner_shot(owner: ProductSpec, cfg: WorldConfig) -> np.ndarray:
    """``owner``'s studio shop image, rendered again (the same pixels as its own shop image)."""
    return studio_shot(owner.garment, cfg.shop_size, variant=owner.index)


def _cost(s: ProductSpec) -> float:
    if not s.has_video:
        return 0.1
    return 2.0 if s.source != SourceName.NETAPORTER else 1.0


def _assemble(
    specs: list[ProductSpec], results: dict[str, dict], seed: int, by_id: dict[str, ProductSpec]
) -> WorldTruth:
    products, videos = [], []
    for s in specs:
        r = results[s.product_id]
        m = s.meta
        products.append(
            WorldProduct(
                product_id=s.product_id,
                source=s.source,
                partition=s.partition,
                df2_class=s.df2_class,
                kind=s.kind,
                confusable_group=s.confusable_group,
                title=m["title"],
                description=m["description"],
                category_path=m["category_path"],
                caption=m["caption"],
                hashtags=m["hashtags"],
                designer=m["designer"],
                colour=m["colour"],
                images=r["images"],
                videos=[v["video_id"] for v in r["videos"]],
                wrong_shop=s.wrong_shop_of is not None,
                wrong_shop_of=s.wrong_shop_of,
                wrong_shop_kind=s.wrong_shop_kind,
            )
        )
        for v in r["videos"]:
            videos.append(WorldVideo.model_validate(v))
    return WorldTruth(seed=seed, products=products, videos=videos, generator_version=GENERATOR_VERSION)


# ----------------------------------------------------------------------------- one product (worker)


def _render_product(task: tuple) -> dict[str, dict]:
    """Render one product's images and video (and its duplicates'); returns id -> {images, videos}."""
    out_s, spec, dup_specs, cfg, quick, seed, *rest = task
    wrong: tuple[ProductSpec, ...] = rest[0] if rest else ()
    cv2.setNumThreads(1)
    out = Path(out_s)
    spec: ProductSpec
    cfg: WorldConfig
    rng = np.random.default_rng([seed, spec.index, 3])
    images: dict[str, str] = {}

    def save(view: str, img: np.ndarray) -> None:
        rel = f"media/products/{spec.product_id}/{view}.jpg"
        write_image(out / rel, img)
        images[view] = rel

    shop = (
        studio_shot(spec.garment, cfg.shop_size, variant=spec.index)
        if spec.kind == "clothing"
        else studio_object(spec.kind, spec.other_colour or "black", cfg.shop_size, spec.index)
    )
    n = cfg.n_frames(quick)
    videos: list[dict] = []
    frames: list[np.ndarray] = []
    gts: list[list[dict]] = []
    size: tuple[int, int] = cfg.regular_size
    if spec.source == SourceName.NETAPORTER:
        save("shop", shop)
        if spec.kind == "clothing":
            save("rear", studio_shot(spec.garment, cfg.shop_size, back=True, variant=spec.index))
            save("fabric", fabric_closeup(spec.garment, cfg.fabric_size))
        scene = regular_scene(spec, rng, size, n)
        a = scene.actors[0]
        front, _ = scene.frame(0, pose0=Pose(cx=size[0] / 2, feet_y=a.feet_y, height=a.height), zoom=1.0)
        save("front", front)
    elif spec.split_layout is None:
        if spec.source == SourceName.TIKTOK:
            save("shop", shop)
        else:
            cands = [
                shop,
                studio_shot(random_garment(rng, int(rng.integers(1, 14))), cfg.shop_size, variant=1),
            ]
            if wrong:  # a carousel without the item's shop image: other items' product shots
                cands = [_owner_shot(w, cfg) for w in wrong]
            if spec.kind == "clothing":
                cands.append(fabric_closeup(spec.garment, cfg.shop_size[0]))
            order = rng.permutation(len(cands))
            for k, j in enumerate(order):
                save(f"candidate-{k + 1}", cands[j])
            save("shop", shop)
        size = cfg.hard_size
        scene = hard_scene(spec, rng, size, n)
    if spec.has_video and spec.split_layout is None:
        tracker = _noisy_tracker(spec, scene, cfg, seed)
        track: list[tuple] = []
        for t in range(n):
            if tracker is None:
                f, g = scene.frame(t)
            else:
                f, g, *rest = tracker.frame(t)
                track.append(tuple(rest))
            frames.append(f)
            gts.append(g)
        vid = _write_video(out, spec, frames, gts, size, cfg, cfg.crf, track=track or None)
        videos.append(vid)
    elif spec.has_video:
        still_of = _owner_shot(wrong[0], cfg) if wrong else shop
        vid = _split_video(out, spec, rng, still_of, cfg, n, frames, gts, seed)
        size = (vid["width"], vid["height"])
        videos.append(vid)
    result = {spec.product_id: {"images": images, "videos": videos}}
    for d in dup_specs:
        if d.retake_of:
            result[d.product_id] = _retake(out, spec, d, images, scene, videos[0], cfg, seed)
        elif d.variant:
            result[d.product_id] = _variant(out, spec, d, images, videos[0], frames, gts, size, cfg, seed)
        else:
            result[d.product_id] = _duplicate(out, spec, d, images, videos[0], frames, gts, size, cfg, seed)
    return result


def _noisy_tracker(spec: ProductSpec, scene: Any, cfg: WorldConfig, seed: int) -> Any:
    """The noise of a clothing clip (None with the knobs off: nothing is drawn, nothing changes)."""
    if not cfg.noise.enabled or spec.kind != "clothing":
        return None
    from .noise import NoisyTracker

    return NoisyTracker(scene, spec, cfg.noise, np.random.default_rng([seed, spec.index, 29]))


def _gt_model(
    video_id: str,
    product_id: str,
    gts: list[list[dict]],
    rename: dict[str, str] | None = None,
    track: list[tuple] | None = None,
) -> VideoGroundTruth:
    rename = rename or {}
    frames = [
        [GarmentInFrame(**{**g, "product_id": rename.get(g["product_id"], g["product_id"])}) for g in fr]
        for fr in gts
    ]
    extra: dict[str, Any] = {}
    if track is not None:
        extra = {
            "tracked": [b for b, _, _ in track],
            "confidence": [c for _, c, _ in track],
            "noise": [k for _, _, k in track],
        }
    return VideoGroundTruth(video_id=video_id, product_id=product_id, frames=frames, **extra)


def _video_row(
    out: Path, spec: ProductSpec, video_id: str, size: tuple[int, int], n: int, cfg: WorldConfig, **extra: Any
) -> dict:
    rel = f"media/videos/{video_id}.mp4"
    return {
        "video_id": video_id,
        "product_id": spec.product_id,
        "source": spec.source,
        "partition": spec.partition,
        "path": rel,
        "sha256": sha256_file(out / rel),
        "frames": n,
        "fps": cfg.fps,
        "width": size[0],
        "height": size[1],
        "codec": "h264",
        "gt": f"gt/{video_id}.json",
        **extra,
    }


def _write_gt(out: Path, gt: VideoGroundTruth) -> None:
    from schemas.atomic import atomic_write_text

    atomic_write_text(out / "gt" / f"{gt.video_id}.json", gt.model_dump_json() + "\n")


def _write_video(
    out: Path,
    spec: ProductSpec,
    frames: list[np.ndarray],
    gts: list[list[dict]],
    size: tuple[int, int],
    cfg: WorldConfig,
    crf: int,
    track: list[tuple] | None = None,
    **extra: Any,
) -> dict:
    video_id = spec.product_id
    encode_frames(frames, out / f"media/videos/{video_id}.mp4", size=size, fps=cfg.fps, crf=crf, gop=cfg.gop)
    _write_gt(out, _gt_model(video_id, spec.product_id, gts, track=track))
    if track is not None:
        extra["noisy_frames"] = sum(1 for _, _, k in track if k is not None)
    return _video_row(out, spec, video_id, size, len(frames), cfg, **extra)


def _split_video(
    out: Path,
    spec: ProductSpec,
    rng: np.random.Generator,
    shop: np.ndarray,
    cfg: WorldConfig,
    n: int,
    frames: list[np.ndarray],
    gts: list[list[dict]],
    seed: int = 0,
) -> dict:
    """A Hard clip in one half, a still picture of the shop item in the other."""
    layout = spec.split_layout or "left-right"
    w, h = cfg.split_lr_size if layout == "left-right" else cfg.split_tb_size
    half = (w // 2, h) if layout == "left-right" else (w, h // 2)
    still_first = bool(rng.random() < 0.5)
    still = letterbox(shop, half, colour=(248, 246, 242))
    scene = hard_scene(spec, rng, half, n)
    if layout == "left-right":
        still_half, moving_half = ("left", "right") if still_first else ("right", "left")
        off = (half[0], 0) if still_first else (0, 0)
        sbox = [0, 0, half[0], h] if still_first else [half[0], 0, w, h]
    else:
        still_half, moving_half = ("top", "bottom") if still_first else ("bottom", "top")
        off = (0, half[1]) if still_first else (0, 0)
        sbox = [0, 0, w, half[1]] if still_first else [0, half[1], w, h]
    mbox = [off[0], off[1], off[0] + half[0], off[1] + half[1]]
    tracker = _noisy_tracker(spec, scene, cfg, seed)
    track: list[tuple] = []

    def shift(b: list[float]) -> list[float]:
        return [b[0] + off[0], b[1] + off[1], b[2] + off[0], b[3] + off[1]]

    for t in range(n):
        if tracker is None:
            f, g = scene.frame(t)
        else:
            f, g, tb, conf, kind = tracker.frame(t)
            track.append((shift(tb) if tb is not None else None, conf, kind))
        frames.append(split_frame(still, f, layout, still_first))
        for x in g:
            if x["box"] is not None:
                x["box"] = shift(x["box"])
        gts.append(g)
    still_rel = f"media/stills/{spec.product_id}.png"
    write_image(out / still_rel, still)
    ss = SplitScreen(
        layout=layout, still_half=still_half, still_box=sbox, moving_box=mbox, still_image=still_rel
    )
    return _write_video(
        out,
        spec,
        frames,
        gts,
        (w, h),
        cfg,
        cfg.crf,
        track=track or None,
        split_screen=ss.model_dump(mode="json"),
    )


def _duplicate(
    out: Path,
    orig: ProductSpec,
    d: ProductSpec,
    images: dict[str, str],
    vrow: dict,
    frames: list[np.ndarray],
    gts: list[list[dict]],
    size: tuple[int, int],
    cfg: WorldConfig,
    seed: int,
) -> dict:
    """A re-post of ``orig``'s video under item ``d``: exact copy, re-encode or sub-clip."""
    rng = np.random.default_rng([seed, d.index, 5])
    new_images = {}
    for view, rel in images.items():
        nrel = rel.replace(f"/{orig.product_id}/", f"/{d.product_id}/")
        (out / nrel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / rel, out / nrel)
        new_images[view] = nrel
    vid = d.product_id
    rel = f"media/videos/{vid}.mp4"
    rename = {orig.product_id: d.product_id}
    extra: dict[str, Any] = {"duplicate_of": vrow["video_id"], "duplicate_kind": d.duplicate_kind}
    if d.duplicate_kind == DuplicateKind.EXACT:
        shutil.copyfile(out / vrow["path"], out / rel)
        _write_gt(out, _gt_model(vid, d.product_id, gts, rename))
        n, nsize = len(frames), size
        extra["split_screen"] = vrow.get("split_screen")
    elif d.duplicate_kind == DuplicateKind.REENCODE:
        w, h = size
        c = int(rng.integers(2, 6)) * 2
        scale = float(rng.choice([0.75, 1.25]))
        nw, nh = int(round((w - 2 * c) * scale / 2) * 2), int(round((h - 2 * c) * scale / 2) * 2)
        gain = float(rng.choice([0.85, 1.15]))
        lut = np.clip(np.arange(256) * gain, 0, 255).astype(np.uint8)

        def tf(f: np.ndarray) -> np.ndarray:
            return cv2.LUT(cv2.resize(f[c : h - c, c : w - c], (nw, nh), interpolation=cv2.INTER_AREA), lut)

        encode_frames(
            (tf(f) for f in frames),
            out / rel,
            size=(nw, nh),
            fps=cfg.fps,
            crf=cfg.reencode_crf,
            gop=cfg.gop * 2,
        )
        sx, sy = nw / (w - 2 * c), nh / (h - 2 * c)
        new_gts = []
        for fr in gts:
            row = []
            for g in fr:
                g = dict(g)
                if g["box"] is not None:
                    b = g["box"]
                    x1, y1 = max(0.0, (b[0] - c) * sx), max(0.0, (b[1] - c) * sy)
                    x2, y2 = min(nw, (b[2] - c) * sx), min(nh, (b[3] - c) * sy)
                    g["box"] = (
                        [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)]
                        if x2 > x1 and y2 > y1
                        else None
                    )
                    if g["box"] is None:
                        g["visible"] = 0.0
                row.append(g)
            new_gts.append(row)
        _write_gt(out, _gt_model(vid, d.product_id, new_gts, rename))
        n, nsize = len(frames), (nw, nh)
        extra["codec"] = "h264"
    else:
        total = len(frames)
        length = max(8, int(total * rng.uniform(0.4, 0.6)))
        start = int(rng.integers(1, total - length))
        encode_frames(
            frames[start : start + length], out / rel, size=size, fps=cfg.fps, crf=cfg.crf, gop=cfg.gop
        )
        _write_gt(out, _gt_model(vid, d.product_id, gts[start : start + length], rename))
        n, nsize = length, size
        extra["subclip_start"] = start
        extra["split_screen"] = vrow.get("split_screen")
    row = _video_row(out, d, vid, nsize, n, cfg, **{k: v for k, v in extra.items() if k != "codec"})
    return {"images": new_images, "videos": [row]}


def _copy_images(out: Path, orig: ProductSpec, d: ProductSpec, images: dict[str, str]) -> dict[str, str]:
    new_images = {}
    for view, rel in images.items():
        nrel = rel.replace(f"/{orig.product_id}/", f"/{d.product_id}/")
        (out / nrel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / rel, out / nrel)
        new_images[view] = nrel
    return new_images


def _variant(
    out: Path,
    orig: ProductSpec,
    d: ProductSpec,
    images: dict[str, str],
    vrow: dict,
    frames: list[np.ndarray],
    gts: list[list[dict]],
    size: tuple[int, int],
    cfg: WorldConfig,
    seed: int,
) -> dict:
    """A re-post of ``orig``'s video under item ``d`` changed the way of ``d.variant`` (see reposts.py)."""
    from .reposts import make_repost

    rng = np.random.default_rng([seed, d.index, 17])
    rp = make_repost(d.variant or "", size, len(frames), rng)
    vid = d.product_id
    crf = int(rng.integers(cfg.crf + 3, cfg.reencode_crf + 1))
    fps = cfg.fps * rp.fps_scale
    encode_frames(
        rp.frames(frames), out / f"media/videos/{vid}.mp4", size=rp.size, fps=fps, crf=crf, gop=cfg.gop
    )
    new_gts = []
    for k in rp.source_index:
        row = []
        for g in gts[k]:
            g = dict(g)
            g["box"] = rp.box(g["box"])
            if g["box"] is None:
                g["visible"] = 0.0
            row.append(g)
        new_gts.append(row)
    _write_gt(out, _gt_model(vid, d.product_id, new_gts, {orig.product_id: d.product_id}))
    row = _video_row(
        out,
        d,
        vid,
        rp.size,
        len(rp.source_index),
        cfg,
        duplicate_of=vrow["video_id"],
        duplicate_kind=d.duplicate_kind,
        variant=rp.kind.value,
        variant_detail=rp.detail,
        **({"fps": fps} if rp.fps_scale != 1.0 else {}),
        **({"subclip_start": rp.source_index[0]} if d.duplicate_kind == "subclip" else {}),
    )
    return {"images": _copy_images(out, orig, d, images), "videos": [row]}


def _retake(
    out: Path,
    orig: ProductSpec,
    d: ProductSpec,
    images: dict[str, str],
    scene: Any,
    vrow: dict,
    cfg: WorldConfig,
    seed: int,
) -> dict:
    """Another clip of ``orig``'s garment on the same wearer (item ``d``): a hard negative, not a duplicate."""
    from .scenes import retake_scene

    rng = np.random.default_rng([seed, d.index, 19])
    again = retake_scene(scene, rng, new_room=d.index % 2 == 0)
    frames, gts = [], []
    for t in range(scene.n_frames):
        f, g = again.frame(t)
        frames.append(f)
        gts.append(g)
    vid = d.product_id
    encode_frames(
        frames, out / f"media/videos/{vid}.mp4", size=scene.size, fps=cfg.fps, crf=cfg.crf, gop=cfg.gop
    )
    _write_gt(out, _gt_model(vid, d.product_id, gts, {orig.product_id: d.product_id}))
    row = _video_row(out, d, vid, scene.size, len(frames), cfg, retake_of=vrow["video_id"])
    return {"images": _copy_images(out, orig, d, images), "videos": [row]}
