"""Per-class collapses of SEAM w/o NLB,g: class structure or sampling noise, and where its gap comes from.

On a ``seam_bench`` output folder (its test set, feature cache, checkpoints and per-seed
``results.json``), two questions of issue 19 (docs/seam.md, 'Per-class collapses of the averaging
variant'):

1. **Are the per-class gaps more than chance?** From the protocol's per-query top-1 hit rates
   (mean over the seeds): for a pair of methods A, B the largest per-class sum of A's hits minus
   B's (how many queries one class loses B against A), against the same statistic with the
   class labels shuffled over the queries (class sizes kept; ``--permutations``); and, per
   method, how many classes score (near) zero top-1 against the shuffled labels.
2. **Which part of phase 2 makes the average lose?** Per seed, on the protocol's T frames (RRS at
   chunk centres), top-1 over the whole test gallery (ties pessimistic) of the mean descriptor
   and of the mean single-frame score (Average Distance) under each pair of heads: the
   multi-frame head's f~, m~ (SEAM w/o NLB,g as trained), the single-frame f, m as phase 2
   fine-tunes them (the baselines' heads), f~ with phase 2's m, and the pretrained f, m (the
   matcher, before phase 2); paired per-query differences over the seeds; and the top-1
   winners: the share of the query's own class, and the share of queries won by a "hub" (a
   shop image that is the top-1 of 3 or more queries).

Run: ``.venv/bin/python benchmarks/seam_class_gaps.py build/abl --seeds 0,1,2``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

PAIRS = [
    ("average_distance", "seam_no_nlb_g"),
    ("average_distance", "seam_no_nlb"),
    ("average_distance", "seam"),
    ("seam", "seam_no_nlb_g"),
    ("max_confidence", "average_distance"),
    ("max_confidence", "seam"),
]
HEAD_PAIRS = [
    ("avg f~,m~", "AD f,m"),
    ("avg f,m", "AD f,m"),
    ("avg f~,m~", "avg f~,m"),
    ("avg f~,m", "avg f,m"),
    ("AD f~,m~", "AD f,m"),
    ("avg pre f,m", "AD pre f,m"),
]


def class_gaps(
    hits: dict[str, np.ndarray], cls: np.ndarray, permutations: int, seed: int = 0
) -> dict[str, Any]:
    """The largest per-class loss of B against A (in queries) and its permutation p-value for
    :data:`PAIRS`; per method the number of classes under 0.05 top-1 and its p-value."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(cls.tolist()))
    onehot = np.stack([cls == c for c in classes]).astype(float)
    perms = np.stack([rng.permutation(len(cls)) for _ in range(permutations)])
    pairs = {}
    for a, b in PAIRS:
        if a not in hits or b not in hits:
            continue
        d = hits[a] - hits[b]
        per_class = onehot @ d
        null = (onehot @ d[perms].T).max(0)
        pairs[f"{a} - {b}"] = {
            "largest": round(float(per_class.max()), 2),
            "class": int(classes[int(per_class.argmax())]),
            "p": round(float((null >= per_class.max() - 1e-9).mean()), 3),
        }
    zeros = {}
    sizes = onehot.sum(1)
    for name, h in hits.items():
        obs = int(((onehot @ h) / sizes < 0.05).sum())
        null = (((onehot @ h[perms[:2000]].T) / sizes[:, None]) < 0.05).sum(0)
        zeros[name] = {
            "classes": obs,
            "shuffled_mean": round(float(null.mean()), 2),
            "p": round(float((null >= obs).mean()), 3),
        }
    return {
        "pairs": pairs,
        "zero_classes": zeros,
        "queries_per_class": {int(c): int(n) for c, n in zip(classes, sizes, strict=True)},
    }


def head_scores(out: Path, seed: int, frames: int) -> dict[str, Any]:
    """Score matrices of the mean descriptor and the mean score under each pair of heads, and
    the query classes, gallery classes and targets, for one training seed."""
    import torch

    from movingfashion.models import load_matcher
    from movingfashion.models.matchrcnn import margin_matrix, score_matrix
    from movingfashion.seam.checkpoint import crop_size_of, load_checkpoint, model_from_matcher
    from movingfashion.seam.config import EvalConfig, ModelConfig
    from movingfashion.seam.evaluate import sample_indices, seam_scores
    from movingfashion.seam.features import build_bank, encoder_tag

    runs = out / "runs" / f"seed{seed}"
    avg, ck = load_checkpoint(runs / "no_nlb_g" / "last.pt", device="cpu")
    full, _ = load_checkpoint(runs / "full" / "last.pt", device="cpu")
    cfg = EvalConfig(frames=[5, 10, 20])
    bank = build_bank(
        out / "test-set",
        "test",
        avg.encoder,
        crop_size=crop_size_of(ck),
        pool=max(cfg.pool_frames, max(cfg.frames), cfg.attention_frames),
        cache_dir=out / "features",
        encoder_tag=encoder_tag(avg),
        on_bad=cfg.on_bad,
        query_min_iou=cfg.query_min_iou,
        clips=cfg.frames,
    )
    sel = sample_indices(bank, frames)
    pre, _ = model_from_matcher(
        load_matcher(None, device=torch.device("cpu")), ModelConfig(variant="no_nlb_g")
    )
    v = len(bank)
    fm = bank.fmaps[torch.arange(v)[:, None], sel].float()

    @torch.no_grad()
    def desc(head: Any) -> tuple[Any, Any]:
        head.eval()
        return head(fm.flatten(0, 1)).view(v, frames, -1).double(), head(bank.shop_fmaps.float()).double()

    def wb(match: Any) -> tuple[Any, Any]:
        return match.fc.weight.detach().double(), match.fc.bias.detach().double()

    f, ft, fp = desc(avg.f), desc(avg.head.extractor), desc(pre.f)
    m, mt, mp = wb(avg.m), wb(avg.head.match), wb(pre.m)

    def mean_desc(x: Any, w: Any) -> Any:
        return margin_matrix(x[0].mean(1), x[1], *w)

    def mean_score(x: Any, w: Any) -> Any:
        return sum(score_matrix(x[0][:, t], x[1], *w) for t in range(frames)) / frames

    scores = {
        "AD f,m": mean_score(f, m),
        "avg f~,m~": seam_scores(avg, bank, sel, torch.device("cpu"))[0],
        "avg f,m": mean_desc(f, m),
        "avg f~,m": mean_desc(ft, m),
        "AD f~,m~": mean_score(ft, mt),
        "avg pre f,m": mean_desc(fp, mp),
        "AD pre f,m": mean_score(fp, mp),
        "SEAM": seam_scores(full, bank, sel, torch.device("cpu"))[0],
    }
    cls = dict(zip(bank.product_ids, bank.classes, strict=True))
    return {
        "scores": scores,
        "cls": np.asarray(bank.classes),
        "gcls": np.asarray([cls.get(g, 0) for g in bank.gallery_ids]),
        "targets": bank.targets,
        "videos": list(bank.videos),
    }


def head_table(out: Path, seeds: list[int], frames: int) -> tuple[dict[str, Any], np.ndarray, list[str]]:
    """Top-1 over the whole gallery per head pair and seed, paired differences, winners; and the
    query classes and videos (the bank's order)."""
    from movingfashion.models.ranking import ranks_of_targets

    hit: dict[str, list[np.ndarray]] = {}
    winners: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        got = head_scores(out, seed, frames)
        cls, videos = got["cls"], got["videos"]
        for name, s in got["scores"].items():
            hit.setdefault(name, []).append((ranks_of_targets(s, got["targets"]).numpy() < 1).astype(float))
            win = s.argmax(1).numpy()
            counts = Counter(win.tolist())
            rec = winners.setdefault(name, {"same_class": [], "hub_won": [], "most_won": []})
            rec["same_class"].append(float((got["gcls"][win] == got["cls"]).mean()))
            rec["hub_won"].append(sum(n for n in counts.values() if n >= 3) / len(win))
            rec["most_won"].append(max(counts.values()))
    top1 = {k: [round(float(h.mean()), 3) for h in v] for k, v in hit.items()}
    paired = {}
    for a, b in HEAD_PAIRS:
        per = [float((x - y).mean()) for x, y in zip(hit[a], hit[b], strict=True)]
        diff = np.mean([x - y for x, y in zip(hit[a], hit[b], strict=True)], 0)
        paired[f"{a} - {b}"] = {
            "mean": round(float(np.mean(per)), 3),
            "std_over_seeds": round(float(np.std(per, ddof=1)), 3) if len(per) > 1 else 0.0,
            "per_seed": [round(x, 3) for x in per],
            "query_se": round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 3),
        }
    table = {
        "top1": top1,
        "paired": paired,
        "winners": {
            k: {
                "same_class": round(float(np.mean(v["same_class"])), 2),
                "hub_won": round(float(np.mean(v["hub_won"])), 2),
                "most_won": v["most_won"],
            }
            for k, v in winners.items()
        },
    }
    return table, cls, videos


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="a seam_bench --out folder")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--permutations", type=int, default=20000)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    res = [json.loads((args.out / "runs" / f"seed{s}" / "eval" / "results.json").read_text()) for s in seeds]
    heads, cls, videos = head_table(args.out, seeds, args.frames)
    hits = {
        m: np.nanmean([np.asarray(r["per_query"][m]["top1"], dtype=float) for r in res], axis=0)
        for m in res[0]["per_query"]
        if m != "videos"
    }
    if res[0]["per_query"]["videos"] != videos:
        raise SystemExit(f"{args.out}: the results' queries are not the bank's (another test set?)")
    gaps = class_gaps(hits, cls, args.permutations)
    out = {"seeds": seeds, "class_gaps": gaps, "heads": heads}
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
