"""Evaluation with the paper's protocol: baselines and SEAM variants on the test split.

Methods (paper Table 2):
- ``max_confidence``: the tracklet's most confident detection among the T sampled frames,
  matched with the single-frame head (f, m). The ground-truth tracklets of the official JSON
  carry no confidences; when none is known the centre frame of the sample is used.
- ``max_matching``: the best single-frame score over the T frames, per shop image.
- ``average_distance``: the mean single-frame score over the T frames, per shop image.
- ``seam_no_nlb_g`` / ``seam_no_nlb`` / ``seam``: a trained checkpoint of that variant
  (the aggregated descriptor h against f~(shop), scored by m~).
The baselines use the single-frame head (f, m) of the first checkpoint given. Frames are
picked by Restricted Random Sampling at chunk centres (deterministic), so evaluating a
checkpoint twice gives identical numbers. Score matrices are computed in the expanded form
(:func:`movingfashion.models.score_matrix`), never as a [Q, G, 256] tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from movingfashion.models.matchrcnn import score_matrix
from movingfashion.models.ranking import rank_gallery
from movingfashion.seam.config import EvalConfig, Variant
from movingfashion.seam.features import FeatureBank, build_bank, encoder_tag
from movingfashion.seam.model import SeamModel
from movingfashion.seam.protocol import make_pools, pooled_topk, query_groups
from movingfashion.seam.train import rrs_pool_indices
from schemas.errors import ConfigError

BASELINES = ["max_confidence", "max_matching", "average_distance"]
VARIANT_METHOD = {Variant.NO_NLB_G: "seam_no_nlb_g", Variant.NO_NLB: "seam_no_nlb", Variant.FULL: "seam"}
METHOD_NAMES = {
    "max_confidence": "Max Confidence",
    "max_matching": "Max Matching",
    "average_distance": "Average Distance",
    "seam_no_nlb_g": "SEAM w/o NLB,g",
    "seam_no_nlb": "SEAM w/o NLB",
    "seam": "SEAM",
}
METHOD_ORDER = list(METHOD_NAMES)


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


def sample_indices(bank: FeatureBank, frames: int) -> torch.Tensor:
    """[V, T] pool indices by RRS at chunk centres (the same for every video of the bank)."""
    return torch.tensor(rrs_pool_indices(bank.fmaps.shape[1], frames, train=False)).repeat(len(bank), 1)


@torch.no_grad()
def single_frame_scores(
    model: SeamModel, bank: FeatureBank, sel: torch.Tensor, device: torch.device
) -> dict[str, torch.Tensor]:
    """Score matrices [V, G] of the three single-frame baselines for the frames ``sel`` [V, T]."""
    v, t = sel.shape
    fm = bank.fmaps[torch.arange(v)[:, None], sel]  # [V, T, C, h, w]
    x = _batched(lambda z: model.f(z.to(device, torch.float32)).cpu(), fm.flatten(0, 1)).view(v, t, -1)
    shop = _batched(lambda z: model.f(z.to(device, torch.float32)).cpu(), bank.shop_fmaps)
    w, b = model.m.fc.weight.detach().cpu(), model.m.fc.bias.detach().cpu()
    per_frame = torch.stack([score_matrix(x[:, i], shop, w, b) for i in range(t)], 1)  # [V, T, G]
    conf = bank.conf[torch.arange(v)[:, None], sel]
    known = ~torch.isnan(conf)
    best = torch.where(known, conf, torch.full_like(conf, -1.0)).argmax(1)
    best = torch.where(known.any(1), best, torch.full_like(best, t // 2))
    return {
        "max_confidence": per_frame[torch.arange(v), best],
        "max_matching": per_frame.max(1).values,
        "average_distance": per_frame.mean(1),
    }


@torch.no_grad()
def seam_scores(
    model: SeamModel, bank: FeatureBank, sel: torch.Tensor, device: torch.device, batch: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """SEAM score matrix [V, G] and the attention weights [V, T]."""
    head = model.head
    descs, weights = [], []
    for s in range(0, len(bank), batch):
        ids = torch.arange(s, min(s + batch, len(bank)))
        fm = bank.fmaps[ids[:, None], sel[ids]].to(device, torch.float32)
        d, w = head.encode_tracklet(fm)
        descs.append(d.cpu())
        weights.append(w.cpu())
    shop = _batched(lambda z: head.encode_shop(z.to(device, torch.float32)).cpu(), bank.shop_fmaps)
    fc = head.match.fc
    return score_matrix(torch.cat(descs), shop, fc.weight.detach().cpu(), fc.bias.detach().cpu()), torch.cat(
        weights
    )


@torch.no_grad()
def attention_profile(
    model: SeamModel, bank: FeatureBank, device: torch.device, frames: int = 21
) -> dict[str, Any]:
    """Paper Fig. 8: attention of ``frames`` equally spaced frames, binned every 100/(frames-1) percent."""
    pool = bank.fmaps.shape[1]
    idx = torch.tensor(np.round(np.linspace(0, pool - 1, frames)).astype(int)).repeat(len(bank), 1)
    _, w = seam_scores(model, bank, idx, device)
    pos = bank.positions[torch.arange(len(bank))[:, None], idx]
    bins = torch.clamp(torch.round(pos * (frames - 1)).long(), 0, frames - 1)
    out: dict[str, Any] = {"percentiles": [round(100 * i / (frames - 1), 1) for i in range(frames)]}
    parts = np.asarray(bank.partitions)
    for name, mask in [
        ("all", np.ones(len(bank), bool)),
        ("regular", parts == "regular"),
        ("hard", parts == "hard"),
    ]:
        m = torch.as_tensor(mask)
        if not bool(m.any()):
            continue
        means, stds = [], []
        for b in range(frames):
            vals = w[m][bins[m] == b]
            means.append(float(vals.mean()) if len(vals) else float("nan"))
            stds.append(float(vals.std(unbiased=False)) if len(vals) else float("nan"))
        out[name] = {"mean": means, "std": stds, "videos": int(m.sum())}
    return out


def evaluate_bank(
    models: list[SeamModel],
    bank: FeatureBank,
    cfg: EvalConfig,
    *,
    device: torch.device | None = None,
    progress: Callable | None = None,
    qualitative: int = 8,
) -> dict[str, Any]:
    """Every method at every sequence length on one bank; returns the results record."""
    if not models:
        raise ConfigError("no checkpoint to evaluate", where="--checkpoint")
    device = device or next(models[0].parameters()).device
    seen: set[str] = set()
    for m in models:
        name = VARIANT_METHOD[m.variant]
        if name in seen:
            raise ConfigError(
                f"two checkpoints of variant {m.variant.value!r}",
                where="--checkpoint",
                hint="give at most one checkpoint per variant",
            )
        seen.add(name)
        m.eval()
    pool = bank.fmaps.shape[1]
    if max(cfg.frames + [cfg.main_frames]) > pool:
        raise ConfigError(
            f"asked for {max(cfg.frames + [cfg.main_frames])} frames but the bank holds {pool} per video",
            where="--frames",
            hint="raise pool_frames or ask for fewer frames",
        )
    groups = query_groups(bank.partitions, bank.classes)
    pools = make_pools(len(bank.gallery_ids), cfg.pools, cfg.pool_size, cfg.seed)
    targets = bank.targets
    frames_list = sorted(set(cfg.frames) | {cfg.main_frames})
    methods: dict[str, dict[str, Any]] = {}
    qual: list[dict[str, Any]] = []
    steps = [(t, m) for t in frames_list for m in ["baselines", *models]]
    it = progress(steps, desc="evaluate", total=len(steps), unit="method") if progress else steps
    for t, what in it:
        sel = sample_indices(bank, t)
        if what == "baselines":
            scores = single_frame_scores(models[0], bank, sel, device)
        else:
            s, _ = seam_scores(what, bank, sel, device)
            scores = {VARIANT_METHOD[what.variant]: s}
        for name, s in scores.items():
            methods.setdefault(name, {})[str(t)] = pooled_topk(s, targets, groups, pools, cfg.ks)
            if t == cfg.main_frames and name == _main_method(models):
                qual = _qualitative(bank, s, sel, qualitative)
    attention = {}
    for m in models:
        if m.variant is not Variant.NO_NLB_G and pool >= 2:
            attention[VARIANT_METHOD[m.variant]] = attention_profile(
                m, bank, device, min(cfg.attention_frames, pool)
            )
    n_gallery = len(bank.gallery_ids)
    pool_n = min(n_gallery, cfg.pool_size)
    return {
        "protocol": {
            "ks": cfg.ks,
            "frames": frames_list,
            "main_frames": cfg.main_frames,
            "pools": len(pools),
            "pool_size": pool_n,
            "seed": cfg.seed,
            "queries": len(bank),
            "gallery": n_gallery,
            "query_tracklets": _count(bank.tracklet_sources),
        },
        "chance": {f"top{k}": min(k, pool_n) / pool_n for k in cfg.ks},
        "methods": {k: methods[k] for k in METHOD_ORDER if k in methods},
        "names": {k: METHOD_NAMES[k] for k in METHOD_ORDER if k in methods},
        "attention": attention,
        "qualitative": qual,
    }


def _main_method(models: list[SeamModel]) -> str:
    for v in (Variant.FULL, Variant.NO_NLB, Variant.NO_NLB_G):
        if any(m.variant is v for m in models):
            return VARIANT_METHOD[v]
    return "average_distance"


def _count(items: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        key = "ground_truth" if x == "ground_truth" else "tracklets"
        out[key] = out.get(key, 0) + 1
    return out


def _qualitative(bank: FeatureBank, scores: torch.Tensor, sel: torch.Tensor, n: int) -> list[dict[str, Any]]:
    """The first ``n`` queries: 3 of their frames, their top-5 shop images, correct one marked.

    The listing and ``rank`` come from the metrics' ranking (:func:`rank_gallery`, ties counted
    pessimistically), so ``correct_rank`` is the query's rank when it is below 5."""
    ranked = rank_gallery(scores[:n], bank.targets[:n], k=5)
    top, ranks = ranked.order, ranked.ranks
    out = []
    for q in range(min(n, len(bank))):
        frames = bank.frames[q, sel[q]].tolist()
        pick = [frames[0], frames[len(frames) // 2], frames[-1]]
        out.append(
            {
                "video": bank.videos[q],
                "product_id": bank.product_ids[q],
                "frames": pick,
                "top5": [bank.gallery_ids[g] for g in top[q].tolist()],
                "top5_paths": [bank.shop_paths[g] for g in top[q].tolist()] if bank.shop_paths else [],
                "correct_rank": int(ranks[q]) if int(ranks[q]) < top.shape[1] else None,
                "rank": int(ranks[q]),
            }
        )
    return out


def evaluate_dataset(
    dataset: str | Path,
    models: list[SeamModel],
    cfg: EvalConfig,
    *,
    cache_dir: str | Path | None = None,
    progress: Callable | None = None,
    crop_size: int = 96,
) -> dict[str, Any]:
    """Build (or reuse) the test bank of a dataset folder and evaluate every method."""
    if models[0].encoder is None:
        raise ConfigError("the checkpoint has no crop encoder, it cannot read videos", where="--checkpoint")
    for m in models[1:]:
        if encoder_tag(m) != encoder_tag(models[0]):
            raise ConfigError(
                "checkpoints were trained on different frozen encoders",
                where="--checkpoint",
                hint="evaluate them separately",
            )
    device = next(models[0].parameters()).device
    pool = max(cfg.pool_frames, max(cfg.frames + [cfg.main_frames]), cfg.attention_frames)
    bank = build_bank(
        dataset,
        "test",
        models[0].encoder.to(device),
        crop_size=crop_size,
        pool=pool,
        cache_dir=cache_dir,
        encoder_tag=encoder_tag(models[0]),
        progress=progress,
        on_bad=cfg.on_bad,
    )
    res = evaluate_bank(models, bank, cfg, device=device, progress=progress)
    res["dataset"] = str(Path(dataset).resolve())
    res["skipped_videos"] = bank.skipped
    return res


def run_evaluate(
    dataset: str | Path,
    checkpoints: list[str | Path],
    cfg: EvalConfig,
    *,
    out_dir: str | Path | None = None,
    variant: str | None = None,
    progress: Callable | None = None,
) -> dict[str, Any]:
    """Load checkpoints (``variant`` checked when given, only with one checkpoint), evaluate,
    write ``OUT/results.json`` when ``out_dir`` is given; returns the results."""
    from movingfashion.seam.checkpoint import load_checkpoint
    from schemas.atomic import atomic_write_json

    if not checkpoints:
        raise ConfigError("no checkpoint given", where="--checkpoint", hint="pass --checkpoint RUN/last.pt")
    if variant is not None and len(checkpoints) != 1:
        raise ConfigError("--variant checks a single checkpoint", where="--variant")
    torch.manual_seed(cfg.seed)
    loaded = [load_checkpoint(p, variant=variant) for p in checkpoints]
    models = [m for m, _ in loaded]
    crop = int(loaded[0][1]["arch"].get("matcher_config", {}).get("crop_size", 96))
    cache = Path(out_dir) / "features" if out_dir is not None else None
    res = evaluate_dataset(dataset, models, cfg, cache_dir=cache, progress=progress, crop_size=crop)
    res["checkpoints"] = {
        VARIANT_METHOD[m.variant]: {"path": str(p), "epoch": c.get("epoch")}
        for p, (m, c) in zip(checkpoints, loaded, strict=True)
    }
    res["config"] = cfg.model_dump(mode="json")
    if out_dir is not None:
        atomic_write_json(Path(out_dir) / "results.json", res, indent=1)
    return res


def summary_table(res: dict[str, Any]) -> str:
    """A short plain-text table: top-K of every method (all queries) at the main length, and chance."""
    t = str(res["protocol"]["main_frames"])
    ks = res["protocol"]["ks"]
    lines = [f"{'method':<20}" + "".join(f"{'T-' + str(k):>16}" for k in ks)]
    for key, by_t in res["methods"].items():
        row = by_t.get(t, {}).get("all", {})
        lines.append(
            f"{res['names'][key]:<20}"
            + "".join(f"{row.get(f'top{k}', float('nan')):>9.3f}±{row.get(f'top{k}_std', 0):.3f}" for k in ks)
        )
    lines.append(f"{'chance':<20}" + "".join(f"{res['chance'][f'top{k}']:>16.3f}" for k in ks))
    p = res["protocol"]
    lines.append(
        f"({p['queries']} queries, gallery {p['gallery']}, {p['pools']} pool(s) of {p['pool_size']}, T={t})"
    )
    return "\n".join(lines)
