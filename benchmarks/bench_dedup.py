"""Near-duplicate videos: re-post variants on synthetic worlds, and multi-index hashing vs all pairs.

1. Worlds with every re-post variant planted (crop, zoom-crop, letterbox, pillarbox, mirror,
   rescale, colour grade, caption/watermark, speed change; with ``--rotated``, ``--mirrored-rotated``,
   ``--reframed`` and ``--filled`` also turned, mirrored and turned, other frame rate, 16:9
   pillarbox, trimmed, cropped to fill and blurred-fill ones) and hard negatives (retakes: another
   clip of the same garment on the same wearer), seeds used by no test or default. Prints
   precision/recall per kind for the detector (``cleaning.dedup`` with its default config) and
   for a hash-only baseline (one centre-cropped pHash per frame and the time alignment, what the
   detector did before re-posts were planted), the verification scores and aligned Hamming
   distances of duplicates vs non-duplicates with the margin between them, and the time per
   video of both (ratio measured in this run), and of the detector without its fill views
   (``fill_aspects`` [] and ``strip_blurred_fill`` off: what the crop-to-fill windows and the
   blurred-fill search cost, ratio measured in this run).
2. For N in 1K / 10K / 100K random codes with 1% planted near-duplicates (0..radius flipped
   bits), time :class:`cleaning.mih.MultiIndexHash` ``pairs(radius)`` against the brute-force
   baseline (:func:`upper_pairs`: numpy popcount over each pair once, an upper-triangle scan in
   blocks of rows; the pairs must be identical to the index's). Above 20K codes the all-pairs
   time is *estimated* from a measured sample of evenly spaced row blocks, scaled by the
   distances computed (cost is linear in them); the pairs found by both are compared on the rows
   that were scanned.

Run: ``.venv/bin/python benchmarks/bench_dedup.py`` (``--help`` for the sizes and seeds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleaning.config import DedupConfig  # noqa: E402
from cleaning.mih import MultiIndexHash  # noqa: E402

#: world seeds of the benchmark: no test, default or tuning run uses them (thresholds were chosen on
#: worlds 201, 202, 301, 302 and 303)
BENCH_SEEDS = "401,402,403"


def make_codes(n: int, radius: int, seed: int = 0) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    planted = max(1, n // 100)
    src = rng.choice(n, planted, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), planted, replace=False)
    for i, j in zip(src, dst, strict=True):
        c = codes[i]
        for b in rng.choice(64, int(rng.integers(0, radius + 1)), replace=False):
            c ^= np.uint64(1) << np.uint64(b)
        codes[j] = c
    return codes, planted


def upper_pairs(
    codes: np.ndarray, radius: int, blocks: np.ndarray | None = None, block: int | None = None
) -> tuple[np.ndarray, int]:
    """The all-pairs baseline: pairs ``(i, j)``, ``i < j``, within ``radius``, and the distances computed.

    Rows go in blocks (:func:`row_block`) and block ``[s, e)`` is compared with columns ``s..``
    only: each pair's distance once, plus the block's own small lower triangle
    (:func:`cleaning.mih.all_pairs` computes the full N x N matrix, every pair twice, and drops
    ``i >= j``). ``blocks``: scan only these block numbers (a sample, for an estimate). Pairs are
    sorted like ``MultiIndexHash.pairs``.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    n = len(codes)
    block = block or row_block(n)
    starts = range(0, n, block) if blocks is None else [int(b) * block for b in blocks]
    out, work = [], 0
    for s in starts:
        d = np.bitwise_count(codes[s : s + block, None] ^ codes[None, s:])
        work += d.size
        i, j = np.nonzero(d <= radius)
        keep = i < j  # row s + i, column s + j
        out.append(np.stack([i[keep] + s, j[keep] + s], axis=1))
    res = np.concatenate(out).astype(np.int64) if out else np.zeros((0, 2), np.int64)
    return res[np.lexsort((res[:, 1], res[:, 0]))], work


def row_block(n: int) -> int:
    """Rows per block of :func:`upper_pairs`: about 4M distances (cache-friendly, bounded memory;
    ``all_pairs``' block), at most a 16th of the rows (the blocks' own triangles stay small)."""
    return max(1, min(4_000_000 // max(1, n), -(-n // 16)))


def upper_work(n: int, block: int | None = None) -> int:
    """Distances :func:`upper_pairs` computes over all ``n`` codes."""
    block = block or row_block(n)
    return sum(min(block, n - s) * (n - s) for s in range(0, n, block))


def bench_index(sizes: str, sample_rows: int) -> None:
    cfg = DedupConfig()
    radius, m = cfg.index_radius, cfg.index_chunks
    print(
        f"\n== multi-index hashing vs all pairs: radius {radius} bits, m={m} substrings; CPU, numpy "
        f"{np.__version__}, one process; all pairs = an upper-triangle scan, each pair's distance once"
    )
    print(f"{'N':>8} {'index s':>9} {'all-pairs s':>12} {'ratio':>8}  pairs  same-pairs  note")
    for n in (int(s) for s in sizes.split(",")):
        codes, planted = make_codes(n, radius)
        t0 = time.perf_counter()
        idx_pairs = MultiIndexHash(codes, m).pairs(radius)
        t_idx = time.perf_counter() - t0
        if n <= 20000:
            t0 = time.perf_counter()
            bf, _ = upper_pairs(codes, radius)
            t_bf = time.perf_counter() - t0
            same = np.array_equal(idx_pairs, bf)
            note = "measured"
        else:
            block = row_block(n)
            n_blocks = -(-n // block)
            # evenly spaced blocks: a row's cost falls linearly with its position in the triangle
            picked = np.unique(np.linspace(0, n_blocks - 1, max(1, sample_rows // block)).round().astype(int))
            rows = np.concatenate([np.arange(b * block, min(n, (b + 1) * block)) for b in picked])
            t0 = time.perf_counter()
            bf, work = upper_pairs(codes, radius, blocks=picked, block=block)
            total = upper_work(n, block)
            t_bf = (time.perf_counter() - t0) * total / work
            # the index's pairs whose first member is a scanned row must equal brute force on those rows
            mine = idx_pairs[np.isin(idx_pairs[:, 0], rows)]
            same = np.array_equal(mine, bf)
            note = (
                f"all-pairs ESTIMATED from {len(rows)} measured rows ({len(picked)} blocks, "
                f"{work / total:.1%} of the distances); compared on those rows"
            )
        print(
            f"{n:>8} {t_idx:>9.3f} {t_bf:>12.3f} {t_bf / t_idx:>7.1f}x  {len(idx_pairs):>5}  "
            f"{'yes' if same else 'NO'}  {note} (planted {planted})"
        )
        if not same:
            raise SystemExit(f"N={n}: the index and the all-pairs scan found different pairs")


def _baseline_records(world: Path, truth, cfg: DedupConfig) -> list:
    """One centre-cropped pHash per sampled frame, no file for verification: the hash-only baseline."""
    from cleaning.dedup import VideoRecord
    from cleaning.fingerprint import decode_size, sample_times
    from cleaning.phash import phash_batch
    from movingfashion.media.readers import read_frames

    out = []
    for v in truth.videos:
        idx = sample_times(v.frames, v.fps, cfg.step_s, cfg.max_frames)
        w, h = decode_size(v.width, v.height)
        frames = read_frames(world / v.path, idx, size=(h, w))
        h = phash_batch(list(frames), cfg.crop_fraction)
        out.append(VideoRecord(v.video_id, v.sha256, h, v.frames, v.fps, v.width, v.height, v.partition))
    return out


def _ratio(num: int, den: int) -> str:
    """``num / den`` to 3 decimals, "-" when there is nothing to divide by."""
    return f"{num / den:.3f}" if den else "-"


def _quantiles(xs: list[float]) -> str:
    if not xs:
        return "-"
    q = np.percentile(xs, [0, 5, 50, 95, 100])
    return " ".join(f"{x:6.3f}" for x in q)


def bench_worlds(
    seeds: list[int],
    products: int,
    copies: int,
    retakes: int,
    work: Path,
    *,
    rotated: int = 0,
    mirrored_rotated: int = 0,
    reframed: int = 0,
    filled: int = 0,
) -> None:
    from cleaning.dedup import find_video_duplicates, video_pair_evidence
    from movingfashion.world.config import WorldConfig
    from movingfashion.world.dedup_eval import kind_scores, score_margin, world_records
    from movingfashion.world.generate import generate_world

    cfg = DedupConfig()
    cfg_off = cfg.model_copy(update={"fill_aspects": [], "strip_blurred_fill": False})
    wcfg = WorldConfig(
        repost_variants=copies,
        retakes=retakes,
        rotated_reposts=rotated,
        mirrored_rotated_reposts=mirrored_rotated,
        reframed_reposts=reframed,
        filled_reposts=filled,
    )
    print(
        f"== re-post variants: worlds {seeds}, {products} products (quick clips), {copies} re-posts per "
        f"variant kind, {retakes} retakes (hard negatives) each, {rotated} rotated, {mirrored_rotated} "
        f"mirrored rotated, {reframed} reframed and {filled} filled re-posts per kind; verify_threshold "
        f"{cfg.verify_threshold}"
    )
    # per detector and kind, pooled over the worlds: [found, n, right, predicted]
    counts: dict[str, dict[str, list[int]]] = {
        "new": defaultdict(lambda: [0, 0, 0, 0]),
        "base": defaultdict(lambda: [0, 0, 0, 0]),
    }
    times = defaultdict(float)
    n_videos = 0
    dup_scores, non_scores, all_dups, all_nons = defaultdict(list), defaultdict(list), [], []
    hard = {"new": [0, 0], "base": [0, 0]}
    for seed in seeds:
        world = work / f"world-{products}-{seed}-{copies}-{retakes}"
        truth = generate_world(world, products, seed, quick=True, config=wcfg, workers=1)
        n_videos += len(truth.videos)
        t0 = time.perf_counter()
        base = _baseline_records(world, truth, cfg)
        times["base fingerprint"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        res_base = find_video_duplicates(base, cfg)
        times["base dedup"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = world_records(world, truth, cfg)
        times["new fingerprint"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        res = find_video_duplicates(recs, cfg)
        times["new dedup"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        recs_off = world_records(world, truth, cfg_off)
        times["off fingerprint"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        find_video_duplicates(recs_off, cfg_off)
        times["off dedup"] += time.perf_counter() - t0
        for name, r in (("new", res), ("base", res_base)):
            ks = kind_scores(truth, r)
            for k, v in ks.items():
                if k == "hard_negatives":
                    hard[name][0] += v["merged"]
                    hard[name][1] += v["n"]
                elif k != "false_pairs":
                    c = counts[name][k]
                    c[0] += v["found"]
                    c[1] += v["n"]
                    c[2] += v["right"]
                    c[3] += v["predicted"]
            if name == "new" and ks["false_pairs"]["pairs"]:
                print(f"   seed {seed}: false pairs {ks['false_pairs']['pairs']}")
        ev = video_pair_evidence(recs, cfg, exhaustive=True)
        m = score_margin(truth, ev)
        for d in m["duplicates"]:
            all_dups.append(
                (d["score"] if d["score"] is not None else -1.0, d["kind"], d["bits"], seed, d["pair"])
            )
            dup_scores[d["kind"]].append(d["score"] if d["score"] is not None else -1.0)
        for d in m["non_duplicates"]:
            all_nons.append(
                (d["score"] if d["score"] is not None else -1.0, d["kind"], d["bits"], seed, d["pair"])
            )
            non_scores[d["kind"]].append(d["score"] if d["score"] is not None else -1.0)
        print(
            f"   seed {seed}: {len(truth.videos)} videos, {sum(1 for v in truth.videos if v.variant)} re-posts, "
            f"{m['hard_negatives']} retakes ({m['hard_negative_candidates']} reached verification), "
            f"{len(m['non_duplicates'])} non-duplicate candidate pairs of {len(truth.videos) * (len(truth.videos) - 1) // 2}"
        )
    print(
        f"\n{'kind':>10} {'n':>4}  {'new P':>6} {'new R':>6}  {'baseline P':>10} {'baseline R':>10}"
        "  (pooled over the worlds; P '-': no pair predicted)"
    )
    for k in sorted(counts["new"]):
        n_, b_ = counts["new"][k], counts["base"][k]
        print(
            f"{k:>10} {n_[1]:>4}  {_ratio(n_[2], n_[3]):>6} {_ratio(n_[0], n_[1]):>6}  "
            f"{_ratio(b_[2], b_[3]):>10} {_ratio(b_[0], b_[1]):>10}"
        )
    print(
        f"{'retakes':>10} {hard['new'][1]:>4}  merged with their source: new {hard['new'][0]}, "
        f"baseline {hard['base'][0]} (must be 0)"
    )
    print("\nverification score per kind (duplicate = a re-post and its source), quantiles 0/5/50/95/100%:")
    for k in sorted(dup_scores):
        print(f"  duplicate {k:>10}: {_quantiles(dup_scores[k])}  (n={len(dup_scores[k])})")
    for k in sorted(non_scores):
        print(
            f"  non-dup   {k:>10}: {_quantiles(non_scores[k])}  (n={len(non_scores[k])}, the pairs that reached verification)"
        )
    all_dups.sort()
    all_nons.sort(reverse=True)

    def show(rows: list) -> str:
        return ", ".join(
            f"{s:.3f} {k}" + (f" ({b:.0f} bits)" if b is not None else "") for s, k, b, *_ in rows[:5]
        )

    print("  worst duplicates:    ", show(all_dups))
    print("  best non-duplicates: ", show(all_nons))
    worst, best = all_dups[0][0], (all_nons[0][0] if all_nons else -1.0)
    print(
        f"MARGIN (score): worst duplicate {worst:.3f} - best non-duplicate {best:.3f} = {worst - best:+.3f}; "
        f"threshold {cfg.verify_threshold} sits {worst - cfg.verify_threshold:+.3f} below the one and "
        f"{cfg.verify_threshold - best:+.3f} above the other"
    )
    bits_d = [x[2] for x in all_dups if x[2] is not None]
    bits_n = [x[2] for x in all_nons]
    print(
        f"aligned Hamming distance (median over frames, bits): duplicates worst {max(bits_d):.1f}, "
        f"non-duplicate candidates best {min(bits_n) if bits_n else float('nan'):.1f} (the hashes alone overlap: "
        "verification on pixels separates them)"
    )
    print(f"\ntime per video ({n_videos} videos, this run):")
    for stage in ("fingerprint", "dedup"):
        b, n = times[f"base {stage}"] / n_videos, times[f"new {stage}"] / n_videos
        print(f"  {stage:>11}: baseline {b * 1000:7.1f} ms  new {n * 1000:7.1f} ms  ratio {n / b:5.1f}x")
    tb = (times["base fingerprint"] + times["base dedup"]) / n_videos
    tn = (times["new fingerprint"] + times["new dedup"]) / n_videos
    print(f"  {'total':>11}: baseline {tb * 1000:7.1f} ms  new {tn * 1000:7.1f} ms  ratio {tn / tb:5.1f}x")
    print("  the fill views (crop-to-fill windows and blurred-fill search on / off, this run):")
    for stage in ("fingerprint", "dedup"):
        o, n = times[f"off {stage}"] / n_videos, times[f"new {stage}"] / n_videos
        print(f"  {stage:>11}: off {o * 1000:7.1f} ms  on {n * 1000:7.1f} ms  ratio {n / o:5.2f}x")
    to = (times["off fingerprint"] + times["off dedup"]) / n_videos
    print(f"  {'total':>11}: off {to * 1000:7.1f} ms  on {tn * 1000:7.1f} ms  ratio {tn / to:5.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default=BENCH_SEEDS, help="world seeds (comma-separated)")
    ap.add_argument("--products", type=int, default=40, help="products per world")
    ap.add_argument("--copies", type=int, default=3, help="re-posts per variant kind per world")
    ap.add_argument("--retakes", type=int, default=8, help="retakes (hard negatives) per world")
    ap.add_argument("--rotated", type=int, default=1, help="rotated re-posts per quarter turn per world")
    ap.add_argument(
        "--mirrored-rotated", type=int, default=1, help="mirrored rotated re-posts per quarter turn per world"
    )
    ap.add_argument(
        "--reframed",
        type=int,
        default=1,
        help="frame-rate, 16:9 pillarbox and trimmed re-posts per kind per world",
    )
    ap.add_argument(
        "--filled", type=int, default=1, help="crop-to-fill and blurred-fill re-posts per kind per world"
    )
    ap.add_argument(
        "--work", type=Path, default=None, help="folder for the worlds (reused; default: a temp dir)"
    )
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--sample-rows", type=int, default=2000, help="rows scanned by all-pairs above 20K codes")
    ap.add_argument("--skip-worlds", action="store_true", help="only the index benchmark")
    ap.add_argument("--skip-index", action="store_true", help="only the world benchmark")
    args = ap.parse_args()
    if not args.skip_worlds:
        seeds = [int(s) for s in args.seeds.split(",")]
        more = {
            "rotated": args.rotated,
            "mirrored_rotated": args.mirrored_rotated,
            "reframed": args.reframed,
            "filled": args.filled,
        }
        if args.work:
            bench_worlds(seeds, args.products, args.copies, args.retakes, args.work, **more)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-dedup-") as tmp:
                bench_worlds(seeds, args.products, args.copies, args.retakes, Path(tmp), **more)
    if not args.skip_index:
        bench_index(args.sizes, args.sample_rows)


if __name__ == "__main__":
    main()
