"""Clip loading speed: MovingFashionDataset vs reopen-and-seek (OpenCV) vs raw decord, PyAV, torchcodec.

Every method loads the *same* clips (T frames chosen by the dataset's RRS sampler in training
mode, tracklet crops resized to 224 x 224, plus the shop image), so the ratios compare
decoding strategies only. Each method runs two passes over the clips and the second is timed
(readers opened, workers started, page cache warm: the steady state of a training epoch):

* ``baseline``: open the video with OpenCV for every clip and seek once per frame (how
  existing MovingFashion loaders read), crop, resize, read the shop image;
* ``raw decord``: cached ``VideoReader.get_batch`` of exactly those frames, nothing else;
* ``raw pyav``: cached :class:`~movingfashion.media.readers.PyAVReader` (non-reference frames
  skipped) of exactly those frames;
* ``raw torchcodec``: cached :class:`~movingfashion.media.readers.TorchCodecReader`
  (``VideoDecoder(seek_mode="exact").get_frames_at``) of exactly those frames;
* ``loader``: ``MovingFashionDataset`` through a DataLoader with 0 and 2 workers, with the
  default ``backend="auto"`` (torchcodec where FFmpeg's libraries are installed), with
  ``backend="pyav"`` (the default before torchcodec) and with ``backend="decord"``;
* ``loader + full crop cache``: the same dataset reading a crop cache of *every* boxed frame
  (``pool=None``), built once (one-time cost printed, with the epochs it takes to pay back):
  the same clips, bit-identical;
* ``loader + pool cache``: a cache of a fixed pool of frames per video, so the clips differ.

Data: ``--dataset DIR`` (an official-format folder), else a synthetic world exported with
``movingfashion.world.gt_dataset.export_gt_dataset`` (H.264), else (world package not there)
a synthetic official-format folder of H.264 videos made here (``--frames``, ``--gop``, ``--size``).

Example:
  python benchmarks/bench_loader.py --products 12 --clips 48
  python benchmarks/bench_loader.py --dataset dataset --clips 200 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from movingfashion.batching import collate_clips  # noqa: E402
from movingfashion.dataset import MovingFashionDataset, build_crop_cache  # noqa: E402
from movingfashion.media.ffmpeg import encode_frames  # noqa: E402
from movingfashion.media.images import read_image  # noqa: E402

CROP = 224


def world_dataset(out: Path, products: int, seed: int) -> Path | None:
    """Export a generated world as an official-format dataset; None if the world package is missing."""
    try:
        from movingfashion.world import generate_world
        from movingfashion.world.gt_dataset import export_gt_dataset
    except ImportError:
        return None
    world = out / "world"
    if not (world / "world.json").is_file():
        generate_world(world, products=products, seed=seed, workers=1)
    ds = out / "dataset"
    if not (ds / "train.json").is_file():
        export_gt_dataset(world, ds)
    return ds


def synthetic_dataset(
    out: Path, products: int, frames: int, gop: int, size: tuple[int, int], seed: int
) -> Path:
    """Official-format folder: textured H.264 videos with a moving garment box, one per product."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size
    train = {}
    for p in range(products):
        pid = f"{1000 + p}"
        rel = f"videos/{pid}_0.mp4"
        tex = rng.integers(0, 255, (h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
        tex = cv2.resize(tex, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)
        boxes, vid = {}, []
        for i in range(frames):
            img = np.roll(tex[:h, :w], i % 16, axis=1).copy()
            x = int(w * 0.2 + (w * 0.3) * (0.5 + 0.5 * np.sin(i / 15)))
            y = int(h * 0.25)
            bw, bh = int(w * 0.35), int(h * 0.5)
            img[y : y + bh, x : x + bw] = img[y : y + bh, x : x + bw] // 2 + np.array([120, 20, 60], np.uint8)
            vid.append(img)
            if i % 7 != 3:  # a few frames without a box
                boxes[str(i)] = [x, y, x + bw, y + bh]
        if not (out / rel).is_file():
            encode_frames(vid, out / rel, fps=30, gop=gop, crf=23)
        shop = out / f"imgs/{pid}.jpg"
        shop.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(shop), cv2.resize(tex, (600, 800)))
        train[pid] = {"video_paths": [rel], "img_path": f"imgs/{pid}.jpg", "source": 1, "tracklets": [boxes]}
    (out / "train.json").write_text(json.dumps(train))
    return out


def baseline_clip(root: Path, rel: str, idx: list[int], boxes: list[list[float]], shop: Path) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(root / rel))
    crops = []
    for f, b in zip(idx, boxes, strict=True):
        cap.set(cv2.CAP_PROP_POS_FRAMES, f)
        ok, img = cap.read()
        if not ok:
            raise RuntimeError(f"{rel}: frame {f}")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x1, y1, x2, y2 = (int(v) for v in b)
        crops.append(cv2.resize(img[y1:y2, x1:x2], (CROP, CROP), interpolation=cv2.INTER_AREA))
    cap.release()
    read_image(shop, (CROP, CROP))
    return np.stack(crops)


def cpu_per_clip(plans, indices, datasets: dict, raw: dict) -> dict[str, float]:
    """Process CPU milliseconds per clip of each raw reader and each dataset (0 workers).

    Interleaved clip by clip and rotated, with readers already open: CPU time does not count
    the time other processes hold the cores, so these ratios hold on a loaded machine where
    wall-clock ones drift.
    """
    calls = {f"raw_{name}": (lambda rel, idx, i, f=f: f(rel, sorted(set(idx)))) for name, f in raw.items()}
    calls.update({f"dataset_{name}": (lambda rel, idx, i, d=d: d[i]) for name, d in datasets.items()})
    names = list(calls)
    total = dict.fromkeys(names, 0.0)
    for k, (i, (rel, idx, _, _)) in enumerate(zip(indices, plans, strict=True)):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            t0 = time.process_time()
            calls[name](rel, idx, i)
            total[name] += time.process_time() - t0
    return {name: 1000 * t / len(plans) for name, t in total.items()}


def timed(fn, n: int) -> float:
    """Clips per second of ``fn`` that loads ``n`` clips."""
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, help="official-format folder (default: generate one)")
    ap.add_argument("--work", type=Path, help="where generated data goes (default: a temp folder)")
    ap.add_argument("--products", type=int, default=24)
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--frames-per-clip", type=int, default=10)
    ap.add_argument("--synthetic", action="store_true", help="skip the world, make plain synthetic videos")
    ap.add_argument("--frames", type=int, default=390, help="synthetic: frames per video")
    ap.add_argument("--gop", type=int, default=250, help="synthetic: key-frame interval (x264 default 250)")
    ap.add_argument("--size", default="632x768", help="synthetic: WxH")
    ap.add_argument("--pool", type=int, default=32, help="pool crop cache: frames kept per video")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tmp = None
    work = args.work or Path(tmp := tempfile.mkdtemp(prefix="bench_loader_"))
    try:
        source = "given"
        root = args.dataset
        if root is None and not args.synthetic:
            root = world_dataset(work, args.products, args.seed)
            source = "synthetic world (export_gt_dataset)"
        if root is None:
            w, h = (int(v) for v in args.size.split("x"))
            root = synthetic_dataset(
                work / "synthetic", args.products, args.frames, args.gop, (w, h), args.seed
            )
            source = f"synthetic H.264 {w}x{h}, {args.frames} frames, GOP {args.gop}"
        report = run(root, args, work, source)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))


def run(root: Path, args: argparse.Namespace, work: Path, source: str) -> dict:
    T = args.frames_per_clip
    ds = MovingFashionDataset(
        root, "train", frames=T, seed=args.seed, crop_size=CROP, shop_size=CROP, on_bad="skip"
    )  # default backend: auto
    n = max(8, args.clips // 8 * 8)
    indices = list(range(n))  # indices >= len(ds) map to repeats of items with their own random frames
    plans = []
    for i in indices:
        rec, vi, idx = ds.plan(i)
        v = rec.videos[vi]
        plans.append((v.rel_path, idx, [v.boxes[f] for f in idx], rec.shop_path))
    lengths = sorted({len(ds.cache.get(root / p[0])) for p in plans})
    auto_backend = ds.cache.get(root / plans[0][0]).backend
    print(
        f"data: {source}; {len(ds)} products, {n} clips of T={T}, video lengths {lengths[0]}..{lengths[-1]}; "
        f"backend='auto' decodes with {auto_backend}"
    )

    def run_baseline():
        for rel, idx, boxes, shop in plans:
            baseline_clip(root, rel, idx, boxes, shop)

    import decord

    readers: dict[str, decord.VideoReader] = {}

    def run_raw():
        for rel, idx, _, _ in plans:
            vr = readers.get(rel)
            if vr is None:
                vr = readers[rel] = decord.VideoReader(str(root / rel), num_threads=1)
            vr.get_batch(sorted(set(idx))).asnumpy()

    from movingfashion.media.readers import PyAVReader

    pyav: dict[str, PyAVReader] = {}

    def run_pyav():
        for rel, idx, _, _ in plans:
            r = pyav.get(rel)
            if r is None:
                r = pyav[rel] = PyAVReader(str(root / rel))
            r.get(sorted(set(idx)))

    from movingfashion.media.readers import TorchCodecReader, torchcodec_problem

    tc: dict[str, TorchCodecReader] = {}

    def run_torchcodec():
        for rel, idx, _, _ in plans:
            r = tc.get(rel)
            if r is None:
                r = tc[rel] = TorchCodecReader(str(root / rel), device="cpu")
            r.get(sorted(set(idx)))

    def loader_pass(dataset, workers):
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=8,
            sampler=indices,
            num_workers=workers,
            collate_fn=collate_clips,
            persistent_workers=workers > 0,
        )

        def one_pass():
            for _ in loader:
                pass

        return one_pass

    def steady(fn) -> float:
        """Second pass of ``fn`` (readers open, workers started, page cache warm): clips/s."""
        fn()
        return timed(fn, n)

    res: dict[str, float] = {}
    res["baseline_cv2_seek"] = steady(run_baseline)
    res["raw_decord_get_batch"] = steady(run_raw)
    res["raw_pyav_skip_nonref"] = steady(run_pyav)
    if torchcodec_problem() is None:
        res["raw_torchcodec"] = steady(run_torchcodec)
    res["loader_0_workers"] = steady(loader_pass(ds, 0))
    res["loader_2_workers"] = steady(loader_pass(ds, 2))
    ds_av = MovingFashionDataset(
        root,
        "train",
        frames=T,
        seed=args.seed,
        crop_size=CROP,
        shop_size=CROP,
        on_bad="skip",
        backend="pyav",
    )
    res["loader_pyav_0_workers"] = steady(loader_pass(ds_av, 0))
    res["loader_pyav_2_workers"] = steady(loader_pass(ds_av, 2))
    ds_dc = MovingFashionDataset(
        root,
        "train",
        frames=T,
        seed=args.seed,
        crop_size=CROP,
        shop_size=CROP,
        on_bad="skip",
        backend="decord",
    )
    res["loader_decord_0_workers"] = steady(loader_pass(ds_dc, 0))
    res["loader_decord_2_workers"] = steady(loader_pass(ds_dc, 2))
    ds.dtype = torch.uint8  # no float conversion: shows what the [0, 1] float output costs
    res["loader_0_workers_uint8"] = steady(loader_pass(ds, 0))
    ds.dtype = torch.float32
    t0 = time.perf_counter()
    full_dir = work / "crop_cache_full"
    build_full = build_crop_cache(ds, full_dir, pool=None)
    full_s = time.perf_counter() - t0
    full_mb = sum(f.stat().st_size for f in full_dir.glob("*.npy")) / 2**20
    full = MovingFashionDataset(
        root,
        "train",
        frames=T,
        seed=args.seed,
        crop_size=CROP,
        shop_size=CROP,
        on_bad="skip",
        crop_cache=full_dir,
    )
    same = all(full.plan(i)[2] == p[1] for i, p in zip(indices, plans, strict=True))
    res["full_cache_0_workers"] = steady(loader_pass(full, 0))
    res["full_cache_2_workers"] = steady(loader_pass(full, 2))
    t0 = time.perf_counter()
    cache_dir = work / "crop_cache"
    build = build_crop_cache(ds, cache_dir, pool=args.pool)
    build_s = time.perf_counter() - t0
    cached = MovingFashionDataset(
        root,
        "train",
        frames=T,
        seed=args.seed,
        crop_size=CROP,
        shop_size=CROP,
        on_bad="skip",
        crop_cache=cache_dir,
    )
    res["pool_cache_0_workers"] = steady(loader_pass(cached, 0))
    res["pool_cache_2_workers"] = steady(loader_pass(cached, 2))
    cached.dtype = torch.uint8  # a quarter of the bytes to pass from workers
    res["pool_cache_2_workers_uint8"] = steady(loader_pass(cached, 2))
    # paired, interleaved per clip (robust to load drift on a shared machine): dataset[i] (decord) vs raw
    t_ds = t_raw = 0.0
    for i, (rel, idx, _, _) in zip(indices, plans, strict=True):
        t0 = time.perf_counter()
        readers[rel].get_batch(sorted(set(idx))).asnumpy()
        t1 = time.perf_counter()
        ds_dc[i]
        t_raw, t_ds = t_raw + t1 - t0, t_ds + time.perf_counter() - t1
    res["paired_dataset_getitem"] = n / t_ds
    res["paired_raw_decord"] = n / t_raw
    raw_calls = {
        "pyav": lambda rel, idx: pyav[rel].get(idx),
        "decord": lambda rel, idx: readers[rel].get_batch(idx).asnumpy(),
    }
    if tc:
        raw_calls["torchcodec"] = lambda rel, idx: tc[rel].get(idx)
    cpu = cpu_per_clip(plans, indices, {"auto": ds, "pyav": ds_av, "decord": ds_dc}, raw_calls)
    base, raw = res["baseline_cv2_seek"], res["raw_decord_get_batch"]
    print(f"{'method':<24}{'clips/s':>10}{'x baseline':>12}{'x raw decord':>14}")
    for k, v in res.items():
        print(f"{k:<24}{v:>10.1f}{v / base:>11.2f}x{v / raw:>13.2f}x")
    # epochs of the baseline the full cache's one-time build costs: build_s / (clips per epoch / base)
    epoch_clips = len(ds)
    payback = full_s / (epoch_clips / base - epoch_clips / res["full_cache_2_workers"])
    print(f"pool cache build (one-time, pool {args.pool}, {build['built']} videos): {build_s:.1f} s")
    print(
        f"full cache build (one-time, every boxed frame, {build_full['built']} videos, {full_mb:.0f} MB): "
        f"{full_s:.1f} s, paid back after {payback:.1f} epochs of {epoch_clips} clips; same clips as the "
        f"loader: {same}"
    )
    print(
        f"ratio loader (2 workers, auto = {auto_backend}) / baseline: {res['loader_2_workers'] / base:.2f}x "
        f"(aim >= 5x; backend=pyav {res['loader_pyav_2_workers'] / base:.2f}x, backend=decord "
        f"{res['loader_decord_2_workers'] / base:.2f}x, full crop cache {res['full_cache_2_workers'] / base:.2f}x)"
    )
    print(
        f"loader (0 workers) / raw decord: {res['loader_0_workers'] / raw:.2f} (aim >= 0.8; backend=pyav "
        f"{res['loader_pyav_0_workers'] / raw:.2f}, backend=decord {res['loader_decord_0_workers'] / raw:.2f}); "
        f"raw pyav / raw decord: {res['raw_pyav_skip_nonref'] / raw:.2f}"
        + (
            f"; raw torchcodec / raw decord: {res['raw_torchcodec'] / raw:.2f}"
            if "raw_torchcodec" in res
            else ""
        )
    )
    print(
        f"auto ({auto_backend}) / pyav, same run: loader 0 workers "
        f"{res['loader_0_workers'] / res['loader_pyav_0_workers']:.2f}x, 2 workers "
        f"{res['loader_2_workers'] / res['loader_pyav_2_workers']:.2f}x"
    )
    print("CPU ms per clip (process CPU time, interleaved per clip: robust to other load on the machine):")
    for k, v in cpu.items():
        print(f"  {k:<22}{v:>8.1f}")
    if "raw_torchcodec" in cpu:
        print(
            f"CPU ratio torchcodec / pyav (>1: torchcodec faster): raw {cpu['raw_pyav'] / cpu['raw_torchcodec']:.2f}, "
            f"dataset[i] {cpu['dataset_pyav'] / cpu['dataset_auto']:.2f}; torchcodec / decord: raw "
            f"{cpu['raw_decord'] / cpu['raw_torchcodec']:.2f}, dataset[i] {cpu['dataset_decord'] / cpu['dataset_auto']:.2f}"
        )
    print(
        f"paired per clip, interleaved: dataset[i] (backend=decord) / raw decord = "
        f"{res['paired_dataset_getitem'] / res['paired_raw_decord']:.2f}"
    )
    print(
        f"ratio pool-cache loader (2 workers) / baseline: {res['pool_cache_2_workers'] / base:.2f}x "
        f"(uint8: {res['pool_cache_2_workers_uint8'] / base:.2f}x; frames from a fixed pool of {args.pool})"
    )
    return {
        "source": source,
        "auto_backend": auto_backend,
        "clips": n,
        "T": T,
        "clips_per_s": res,
        "cpu_ms_per_clip": cpu,
        "pool_cache_build_s": build_s,
        "full_cache_build_s": full_s,
        "full_cache_mb": full_mb,
        "full_cache_payback_epochs": payback,
        "full_cache_same_clips": same,
        "cpu_count": os.cpu_count(),
    }


if __name__ == "__main__":
    main()
