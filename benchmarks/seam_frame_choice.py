"""Why the plain average loses to Max Confidence on noisy tracklets (the paper ordering's second step).

On a ``seam_bench`` output folder (its test set, feature cache and checkpoints), per training
seed, on one set of T frames per query (Restricted Random Sampling at chunk centres over a
``--pool``-frame pool, the same frames for every method): how many of the frames are corrupted
(the synthetic world's truth), how often the most confident frame and the centre frame are, and
top-1 over the whole test gallery of

- Max Confidence (the most confident frame) and the centre frame (no confidence at all),
- Average Distance (the mean single-frame score),
- the single-frame descriptor f (the full variant's checkpoint: f as phase 2 fine-tunes it, not
  the multi-frame head's f~) averaged over the T frames, and the same average over the clean
  frames only (an oracle that knows the corruption),
- SEAM w/o NLB,g and SEAM (the protocol's pooled top-1 at T, for reference),

and the paired per-query difference of the average over all T frames minus Max Confidence, with
its standard error over the queries. Top-1 counts ties pessimistically (the protocol's rule);
the figures other than the protocol's are over the queries whose T frames' truth is known
(frames of unknown truth are never taken for clean); a test set without any truth stops the
script with an error. Crops are read at the checkpoint's crop size. ``--drop-kinds out_of_frame,background`` keeps out of each
query the frames where a tracklet linked from detections would have no box at all (the camera
swung away, the box held on the background): their T frames are then spread evenly over the
other pool frames of the video.

Run: ``.venv/bin/python benchmarks/seam_frame_choice.py build/seam-table --seeds 0,1,2``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def kept_indices(noise: Any, frames: int, drop: set[int], centres: list[int]) -> Any:
    """[V, T] pool indices: ``centres`` where no frame of a kind in ``drop`` (its noise code) is
    among them, else T frames at chunk centres of the video's other pool frames (all of them
    when fewer than T are left)."""
    import torch

    rows = []
    for codes in noise.tolist():
        ok = [p for p, c in enumerate(codes) if c not in drop]
        if len(ok) < frames:
            ok = list(range(len(codes)))
        step = len(ok) / frames
        rows.append([ok[int(step * (k + 0.5))] for k in range(frames)] if drop else centres)
    return torch.tensor(rows, dtype=torch.long)


def require_truth(bank: Any, out: Path) -> None:
    """Stop (SystemExit naming ``out``) unless the bank knows, for some query frame, whether it
    is corrupted (``noise`` -1 everywhere: a world without the noise knobs, or real data)."""
    if not bool((bank.noise >= 0).any()):
        raise SystemExit(
            f"{out}: the test bank has no corruption truth (a synthetic hard-preset world is needed)"
        )


def top1_hits(scores: Any, targets: Any) -> Any:
    """[Q] 1.0 where the query's product ranks first, ties counted pessimistically (the
    protocol's rule, :mod:`movingfashion.models.ranking`)."""
    from movingfashion.models.ranking import ranks_of_targets

    return (ranks_of_targets(scores, targets) < 1).float()


def clean_average(x: Any, noise: Any) -> Any:
    """[Q, D] mean of the descriptors ``x`` [Q, T, D] over the frames the truth marks clean
    (``noise`` 0; unknown frames, -1, are not taken for clean); a query without a clean frame
    keeps the plain average of its T frames (the oracle has nothing better)."""
    clean = (noise == 0).float().unsqueeze(-1)
    n = clean.sum(1)
    return (x * clean).sum(1).div(n.clamp(min=1)).where(n > 0, x.mean(1))


def frame_choice(
    out: Path, seed: int, frames: int = 10, pool: int = 30, drop_kinds: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The figures above for one training seed of the ``seam_bench`` folder ``out``: over the
    queries whose T frames' truth is known (all of them on a hard-preset world), the whole test
    gallery, ties counted pessimistically."""
    import torch

    from movingfashion.models.matchrcnn import score_matrix
    from movingfashion.seam.checkpoint import crop_size_of, load_checkpoint
    from movingfashion.seam.config import EvalConfig
    from movingfashion.seam.evaluate import _batched, evaluate_bank, sample_indices
    from movingfashion.seam.features import build_bank, encoder_tag

    runs = out / "runs" / f"seed{seed}"
    loaded = [load_checkpoint(runs / v / "last.pt") for v in ("full", "no_nlb", "no_nlb_g")]
    models = [m for m, _ in loaded]
    m0 = models[0]
    cfg = EvalConfig(frames=[frames], main_frames=frames, pools=5, pool_size=40, seed=0, pool_frames=pool)
    bank = build_bank(
        out / "test-set",
        "test",
        m0.encoder,
        crop_size=crop_size_of(loaded[0][1]),
        pool=max(pool, frames, cfg.attention_frames),
        cache_dir=out / "features",
        encoder_tag=encoder_tag(m0),
    )
    require_truth(bank, out)
    torch.manual_seed(cfg.seed)
    res = evaluate_bank(models, bank, cfg, qualitative=0)
    torch.manual_seed(cfg.seed)
    sel = sample_indices(bank, frames)
    drop = {1 + bank.noise_names.index(k) for k in drop_kinds if k in bank.noise_names}
    sel = kept_indices(bank.noise, frames, drop, sel[0].tolist())
    rows = torch.arange(len(bank))[:, None]
    known = (bank.noise[rows, sel] >= 0).all(1)  # queries whose every frame's truth is known
    sel, rows = sel[known], rows[known]
    targets = bank.targets[known]
    v = len(sel)
    conf, noise = bank.conf[rows, sel], bank.noise[rows, sel]
    best = torch.where(torch.isnan(conf), torch.full_like(conf, -1.0), conf).argmax(1)
    with torch.no_grad():
        x = _batched(lambda z: m0.f(z.float()), bank.fmaps[rows, sel].flatten(0, 1)).view(v, frames, -1)
        shop = _batched(lambda z: m0.f(z.float()), bank.shop_fmaps)
        w, b = m0.m.fc.weight.detach(), m0.m.fc.bias.detach()
        per = torch.stack([score_matrix(x[:, i], shop, w, b) for i in range(frames)], 1)
        avg = score_matrix(x.mean(1), shop, w, b)
        avg_clean = score_matrix(clean_average(x, noise), shop, w, b)

    def top1(scores: torch.Tensor) -> float:
        return round(float(top1_hits(scores, targets).mean()), 3)

    confident = per[torch.arange(v), best]
    diff = top1_hits(avg, targets) - top1_hits(confident, targets)

    def protocol(method: str) -> float:
        return round(float(res["methods"][method][str(frames)]["all"]["top1"]), 3)

    return {
        "seed": seed,
        "queries": v,
        "queries left out (truth unknown)": int((~known).sum()),
        "corrupted: all frames": round(float((noise > 0).float().mean()), 3),
        "corrupted: most confident frame": round(float((noise[torch.arange(v), best] > 0).float().mean()), 3),
        "corrupted: centre frame": round(float((noise[:, frames // 2] > 0).float().mean()), 3),
        "top1 Max Confidence": top1(confident),
        "top1 centre frame": top1(per[:, frames // 2]),
        "top1 Average Distance": top1(per.mean(1)),
        "top1 f averaged": top1(avg),
        "top1 f averaged over clean frames (oracle)": top1(avg_clean),
        "pooled top1 SEAM w/o NLB,g": protocol("seam_no_nlb_g"),
        "pooled top1 SEAM": protocol("seam"),
        "pooled top1 Max Confidence": protocol("max_confidence"),
        "f averaged - Max Confidence, paired": round(float(diff.mean()), 3),
        "its standard error": round(float(diff.std() / max(v, 1) ** 0.5), 3),
        "dropped kinds": sorted(k for k in drop_kinds if k in bank.noise_names),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="a seam_bench --out folder")
    ap.add_argument("--seeds", default="0", help="training seeds, comma separated")
    ap.add_argument("--frames", type=int, default=10, help="T")
    ap.add_argument("--pool", type=int, default=30, help="frames per query the RRS samples from")
    ap.add_argument(
        "--drop-kinds",
        default="",
        help="corruption kinds kept out of the queries, comma separated (e.g. out_of_frame,background)",
    )
    args = ap.parse_args()
    drop = tuple(k for k in args.drop_kinds.split(",") if k)
    for s in args.seeds.split(","):
        print(json.dumps(frame_choice(args.out, int(s), args.frames, args.pool, drop)))


if __name__ == "__main__":
    main()
