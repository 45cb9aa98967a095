"""Evaluation with the paper's protocol: baselines, AsymNet and SEAM variants on the test split.

Methods (paper Table 2):
- ``max_confidence``: the query tracklet's most confident detection over all its frames (paper
  section 5), matched with the single-frame head (f, m). When no confidence is known
  (ground-truth tracklets of the official JSON carry none) the tracklet's middle frame is used.
- ``max_matching``: the best single-frame score per shop image over every frame the test bank
  keeps of the tracklet (:func:`whole_tracklet_scores`). Both are the same at every T. A bank
  without the ``maxconf`` slot (made by hand, a training bank) gives both over the T frames
  instead (:func:`single_frame_scores`).
- ``average_distance``: the mean single-frame score over the T frames, per shop image.
- ``asymnet`` / ``asymnet_avg`` / ``asymnet_max``: an AsymNet checkpoint
  (:mod:`movingfashion.seam.asymnet`): its fusion tree, or the mean / max of its similarity nodes.
- ``seam_no_nlb_g`` / ``seam_no_nlb`` / ``seam``: a trained checkpoint of that variant
  (the aggregated descriptor h against f~(shop), scored by m~).
- ``seam_salient`` (beyond the paper): the main SEAM checkpoint on frames picked by the
  ``salient`` sampler (the best expressiveness score of each of the T chunks) instead of RRS.
The baselines use the single-frame head (f, m) of the first SEAM checkpoint given. Frames are
picked by Restricted Random Sampling at chunk centres (deterministic): for every T evaluated,
one frame from each of the T equal chunks of the query tracklet, the very frames the loader's
evaluation RRS takes (the test bank keeps them: :attr:`~movingfashion.seam.features.FeatureBank.slots`),
so evaluating a checkpoint twice gives identical numbers. Score matrices are computed in the expanded form
(:func:`movingfashion.models.score_matrix`), never as a [Q, G, 256] tensor, and in float64: a
float32 sigmoid is 1.0 for every margin past ~17 and resolves ~1e-3 at 10, which would tie shop
images the head told apart (and ties count against the true item); float64 separates margins up
to ~36.

Besides top-K per pool (mean, std and every pool's value), the results keep each query's hit
rate at the main length (for paired per-query differences between methods and seeds) and, when
the bank knows which query frames are corrupted (synthetic worlds), how much attention the
attention variants give corrupted frames: mean weight on corrupted and on clean frames and
the ROC AUC of minus the weight separating them (:func:`attention_noise`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from movingfashion.models.matchrcnn import score_matrix
from movingfashion.models.ranking import rank_gallery
from movingfashion.seam.augment import rrs_pool_indices
from movingfashion.seam.bank_cache import BankUse
from movingfashion.seam.config import EvalConfig, Variant
from movingfashion.seam.features import (
    FeatureBank,
    build_bank,
    clips_longer_than_tracklets,
    encoder_tag,
    fallback_counts,
)
from movingfashion.seam.model import SeamModel
from movingfashion.seam.protocol import STD, make_pools, per_query_hits, pooled_topk, query_groups, roc_auc
from movingfashion.seam.report import query_note
from schemas.errors import ConfigError
from schemas.redact import redacted_logger

log = redacted_logger(__name__)

#: the smallest pool ``mf evaluate`` suggests drawing when pools of the asked size do not fit
MIN_ADVISED_POOL = 10

BASELINES = ["max_confidence", "max_matching", "average_distance"]
VARIANT_METHOD = {Variant.NO_NLB_G: "seam_no_nlb_g", Variant.NO_NLB: "seam_no_nlb", Variant.FULL: "seam"}
METHOD_NAMES = {
    "max_confidence": "Max Confidence",
    "max_matching": "Max Matching",
    "asymnet": "AsymNet",
    "asymnet_avg": "AsymNet [AVG]",
    "asymnet_max": "AsymNet [MAX]",
    "average_distance": "Average Distance",
    "seam_no_nlb_g": "SEAM w/o NLB,g",
    "seam_no_nlb": "SEAM w/o NLB",
    "seam": "SEAM",
    "seam_salient": "SEAM + salient",
}
METHOD_ORDER = list(METHOD_NAMES)
SALIENT = "seam_salient"


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


def _missing_clips(bank: FeatureBank, frames: list[int]) -> list[int]:
    """The clip lengths of ``frames`` a bank built with clips (``slots``) keeps no frames for."""
    return [t for t in frames if bank.slots and f"rrs{t}" not in bank.slots]


def _slot(bank: FeatureBank, kind: str, frames: int) -> torch.Tensor:
    """[V, T] pool indices of the bank's ``kind`` frames of a ``frames``-frame clip."""
    if _missing_clips(bank, [frames]):
        raise ConfigError(
            f"the bank keeps no {frames}-frame clips (it has {', '.join(sorted(bank.slots))})",
            where="--frames",
            hint="build the test bank with every clip length evaluated (build_bank(clips=...))",
        )
    return bank.slots[f"{kind}{frames}"]


def sample_indices(bank: FeatureBank, frames: int) -> torch.Tensor:
    """[V, T] pool indices of each video's T frames by RRS at chunk centres: one frame from each
    of the T equal chunks of its query tracklet, the loader's own (kept by a bank built with
    clips); a bank without them (made by hand, a training bank) takes RRS over its pool."""
    if bank.slots:
        return _slot(bank, "rrs", frames)
    return torch.tensor(rrs_pool_indices(bank.fmaps.shape[1], frames, train=False)).repeat(len(bank), 1)


def salient_indices(bank: FeatureBank, frames: int) -> torch.Tensor:
    """[V, T] pool indices chosen by the ``salient`` sampler on each frame's expressiveness score:
    of a bank built with clips, the best pool frame of each of the query tracklet's T chunks;
    otherwise the sampler over the pool."""
    from movingfashion.sampling import get_sampler

    if bank.slots:
        return _slot(bank, "salient", frames)
    sampler = get_sampler("salient")
    pool = list(range(bank.fmaps.shape[1]))
    rows = []
    for q in bank.quality.tolist():
        rows.append(sampler(pool, frames, train=False, scores=dict(enumerate(q))))
    return torch.tensor(rows, dtype=torch.long)


@torch.no_grad()
def single_frame_scores(
    model: SeamModel, bank: FeatureBank, sel: torch.Tensor, device: torch.device
) -> dict[str, torch.Tensor]:
    """Score matrices [V, G] of the three single-frame baselines for the frames ``sel`` [V, T]."""
    v, t = sel.shape
    fm = bank.fmaps[torch.arange(v)[:, None], sel]  # [V, T, C, h, w]
    x = (
        _batched(lambda z: model.f(z.to(device, torch.float32)).cpu(), fm.flatten(0, 1))
        .view(v, t, -1)
        .double()
    )
    shop = _batched(lambda z: model.f(z.to(device, torch.float32)).cpu(), bank.shop_fmaps).double()
    w, b = model.m.fc.weight.detach().cpu(), model.m.fc.bias.detach().cpu()
    conf = bank.conf[torch.arange(v)[:, None], sel]
    known = ~torch.isnan(conf)
    best = torch.where(known, conf, torch.full_like(conf, -1.0)).argmax(1)
    best = torch.where(known.any(1), best, torch.full_like(best, t // 2))
    # one frame's [V, G] at a time: never a [V, T, G] tensor
    total = picked = top = score_matrix(x[:, 0], shop, w, b)
    for i in range(1, t):
        s = score_matrix(x[:, i], shop, w, b)
        total, top = total + s, torch.maximum(top, s)
        picked = torch.where((best == i)[:, None], s, picked)
    return {"max_confidence": picked, "max_matching": top, "average_distance": total / t}


@torch.no_grad()
def whole_tracklet_scores(
    model: SeamModel, bank: FeatureBank, device: torch.device
) -> dict[str, torch.Tensor]:
    """Score matrices [V, G] of Max Confidence and Max Matching as the paper defines them, their
    single frame chosen "by looking at the entire pool of frames in a tracklet" instead of among
    the T sampled ones: Max Confidence matches the query tracklet's most confident detection
    (the test bank's ``maxconf`` frame, :func:`~movingfashion.seam.features.pool_parts`), Max
    Matching takes the best score over every frame the bank keeps of the tracklet (its evenly
    spaced pool, every evaluated T's RRS and salient frames and that detection: a dense sample of
    the tracklet, not each of its frames). Empty for a bank without ``maxconf`` (one made by
    hand, a training bank, a cache older than ``BANK_VERSION`` 6): the T-frame definitions of
    :func:`single_frame_scores` stand."""
    if "maxconf" not in bank.slots:
        return {}
    v, p = bank.fmaps.shape[:2]

    def encode(z: torch.Tensor) -> torch.Tensor:
        return model.f(z.to(device, torch.float32)).cpu().double()

    x = _batched(encode, bank.fmaps.flatten(0, 1)).view(v, p, -1)  # every pool frame encoded once
    shop = _batched(encode, bank.shop_fmaps)
    w, b = model.m.fc.weight.detach().cpu(), model.m.fc.bias.detach().cpu()
    best = score_matrix(x[:, 0], shop, w, b)
    for col in range(1, p):  # a running max: never a [V, P, G] tensor
        best = torch.maximum(best, score_matrix(x[:, col], shop, w, b))
    picked = x[torch.arange(v), bank.slots["maxconf"][:, 0]]
    return {"max_confidence": score_matrix(picked, shop, w, b), "max_matching": best}


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
    shop = _batched(lambda z: head.encode_shop(z.to(device, torch.float32)).cpu(), bank.shop_fmaps).double()
    fc = head.match.fc
    return score_matrix(
        torch.cat(descs).double(), shop, fc.weight.detach().cpu(), fc.bias.detach().cpu()
    ), torch.cat(weights)


@torch.no_grad()
def asymnet_scores(
    model: Any, bank: FeatureBank, sel: torch.Tensor, device: torch.device
) -> dict[str, torch.Tensor]:
    """The three AsymNet score matrices [V, G] for the frames ``sel`` [V, T]."""
    v, t = sel.shape
    fm = bank.fmaps[torch.arange(v)[:, None], sel]
    x = torch.cat([model.describe(fm[i : i + 64].to(device)) for i in range(0, v, 64)])
    shops = model.describe(bank.shop_fmaps.to(device))
    return model.score_matrices(x, shops)


def attention_noise(weights: torch.Tensor, codes: torch.Tensor, names: list[str]) -> dict[str, Any] | None:
    """How attention weights [V, T] treat corrupted frames (``codes`` [V, T]: -1 unknown, 0 clean,
    k > 0 the kind ``names[k - 1]``): mean weight on clean and corrupted frames, the ROC AUC of
    -weight for corrupted vs clean (0.5 = blind, 1 = every corrupted frame weighs less than every
    clean one), the mean of the per-tracklet AUCs, and the same per kind. None when unknown."""
    known = codes >= 0
    if not bool(known.any()):
        return None
    w, c = weights[known].double().numpy(), codes[known].numpy()
    bad = c > 0
    out: dict[str, Any] = {
        "frames": int(known.sum()),
        "corrupted": int(bad.sum()),
        "mean_clean": float(w[~bad].mean()) if (~bad).any() else None,
        "mean_corrupted": float(w[bad].mean()) if bad.any() else None,
        "auc": roc_auc(-w, bad),
    }
    per = []
    for row_w, row_c in zip(weights.double().numpy(), codes.numpy(), strict=True):
        k = row_c >= 0
        b = row_c[k] > 0
        if b.any() and (~b).any():
            per.append(roc_auc(-row_w[k], b))
    out["auc_within_tracklet"] = float(np.mean(per)) if per else None
    out["tracklets_with_both"] = len(per)
    kinds = {}
    for i, name in enumerate(names, 1):
        sel = (c == i) | (c == 0)
        if (c == i).any() and (c == 0).any():
            kinds[name] = {
                "frames": int((c == i).sum()),
                "mean": float(w[c == i].mean()),
                "auc": roc_auc(-w[sel], c[sel] == i),
            }
    out["by_kind"] = kinds
    return out


@torch.no_grad()
def attention_profile(
    model: SeamModel, bank: FeatureBank, device: torch.device, frames: int = 21
) -> dict[str, Any]:
    """Paper Fig. 8: attention of ``frames`` equally spaced frames, binned every 100/(frames-1) percent:
    per bin the mean, the sample std (ddof=1; 0 for a single frame) and the number of frames ``n``
    (a bin no frame falls in has mean and std None: ``null`` in ``results.json``). The frames are
    taken from the bank's evenly spaced ones (its ``uniform`` slots, else its pool)."""
    cols = np.round(np.linspace(0, _uniform_width(bank) - 1, frames)).astype(int)
    if "uniform" in bank.slots:
        idx = bank.slots["uniform"][:, torch.as_tensor(cols)]
    else:
        idx = torch.tensor(cols).repeat(len(bank), 1)
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
        means: list[float | None] = []
        stds: list[float | None] = []
        counts: list[int] = []
        for b in range(frames):
            vals = w[m][bins[m] == b]
            means.append(float(vals.mean()) if len(vals) else None)  # no frame in the bin: null
            stds.append((float(vals.std()) if len(vals) > 1 else 0.0) if len(vals) else None)
            counts.append(len(vals))
        out[name] = {"mean": means, "std": stds, "n": counts, "videos": int(m.sum())}
    return out


def _uniform_width(bank: FeatureBank) -> int:
    """How many evenly spaced frames of each video the bank holds."""
    return int(bank.slots["uniform"].shape[1]) if "uniform" in bank.slots else int(bank.fmaps.shape[1])


def warn_clips_longer_than_queries(bank: FeatureBank, cfg: EvalConfig) -> None:
    """One warning when a T evaluated is longer than every query tracklet
    (:func:`~movingfashion.seam.features.clips_longer_than_tracklets`, as mf train warns)."""
    line = clips_longer_than_tracklets(
        bank,
        [*cfg.frames, cfg.main_frames],
        kind="query",
        hint="ask --frames up to {longest}, or evaluate a test split with longer tracklets",
    )
    if line:
        log.warning("%s", line)


def evaluate_bank(
    models: list[SeamModel],
    bank: FeatureBank,
    cfg: EvalConfig,
    *,
    asymnets: list[Any] | None = None,
    device: torch.device | None = None,
    progress: Callable | None = None,
    qualitative: int = 8,
) -> dict[str, Any]:
    """Every method at every sequence length on one bank; returns the results record."""
    if not models:
        raise ConfigError(
            "no SEAM checkpoint to evaluate",
            where="--checkpoint",
            hint="the first SEAM checkpoint gives the baselines",
        )
    asymnets = list(asymnets or [])
    if len(asymnets) > 1:
        raise ConfigError("two AsymNet checkpoints", where="--checkpoint", hint="give at most one")
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
    for a in asymnets:
        a.eval()
    pool = _uniform_width(bank)
    missing = _missing_clips(bank, cfg.frames + [cfg.main_frames])
    if missing:
        raise ConfigError(
            f"the bank keeps no clips of {', '.join(map(str, sorted(set(missing))))} frames",
            where="--frames",
            hint="build the test bank with every clip length evaluated (build_bank(clips=...))",
        )
    if not bank.slots and max(cfg.frames + [cfg.main_frames]) > pool:
        raise ConfigError(
            f"asked for {max(cfg.frames + [cfg.main_frames])} frames but the bank holds {pool} per video",
            where="--frames",
            hint="raise pool_frames or ask for fewer frames",
        )
    warn_clips_longer_than_queries(bank, cfg)
    groups = query_groups(bank.partitions, bank.classes)
    pools = make_pools(len(bank.gallery_ids), cfg.pools, cfg.pool_size, cfg.seed)
    if cfg.pools > 1 and len(pools) == 1:
        gallery = len(bank.gallery_ids)
        log.warning(
            "asked for %d pools of %d shop images, but the gallery holds %d: one pool of the whole "
            "gallery is evaluated, so no std over pools is given (use a larger test split%s)",
            cfg.pools,
            cfg.pool_size,
            gallery,
            # pools of half a small gallery or less would tell nothing: no advice to draw them
            f", or --pool-size {gallery // 2} for pools drawn from it"
            if gallery // 2 >= MIN_ADVISED_POOL
            else "",
        )
    targets = bank.targets
    frames_list = sorted(set(cfg.frames) | {cfg.main_frames})
    main = _main_method(models)
    main_model = (
        next(m for m in models if VARIANT_METHOD[m.variant] == main) if main != "average_distance" else None
    )
    methods: dict[str, dict[str, Any]] = {}
    per_query: dict[str, dict[str, list[float | None]]] = {}
    noise: dict[str, Any] = {}
    qual: list[dict[str, Any]] = []
    steps: list[tuple[int, Any]] = [(t, m) for t in frames_list for m in ["baselines", *models, *asymnets]]
    if main_model is not None and cfg.salient:
        steps += [(t, SALIENT) for t in frames_list]
    it = progress(steps, desc="evaluate", total=len(steps), unit="method") if progress else steps
    whole: dict[str, torch.Tensor] | None = None
    for t, what in it:
        sel = sample_indices(bank, t)
        if what == "baselines":
            if whole is None:  # the same for every T: computed once
                whole = whole_tracklet_scores(models[0], bank, device)
            scores = {**single_frame_scores(models[0], bank, sel, device), **whole}
        elif what == SALIENT:
            assert main_model is not None
            sel = salient_indices(bank, t)
            scores = {SALIENT: seam_scores(main_model, bank, sel, device)[0]}
        elif isinstance(what, SeamModel):
            s, w = seam_scores(what, bank, sel, device)
            name = VARIANT_METHOD[what.variant]
            scores = {name: s}
            if t == cfg.main_frames and what.variant is not Variant.NO_NLB_G:
                rec = attention_noise(w, bank.noise[torch.arange(len(bank))[:, None], sel], bank.noise_names)
                if rec is not None:
                    noise[name] = rec
        else:
            scores = asymnet_scores(what, bank, sel, device)
        for name, s in scores.items():
            methods.setdefault(name, {})[str(t)] = pooled_topk(s, targets, groups, pools, cfg.ks)
            if t == cfg.main_frames:
                per_query[name] = {
                    f"top{k}": [_rounded(x) for x in per_query_hits(s, targets, pools, k)] for k in (1, 5)
                }
                if name == main:
                    qual = _qualitative(bank, s, sel, qualitative)
    attention = {}
    for m in models:
        if m.variant is not Variant.NO_NLB_G and pool >= 2:
            attention[VARIANT_METHOD[m.variant]] = attention_profile(
                m, bank, device, min(cfg.attention_frames, pool)
            )
    n_gallery = len(bank.gallery_ids)
    pool_n = min(n_gallery, cfg.pool_size)
    known = bank.noise >= 0
    return {
        "protocol": {
            "ks": cfg.ks,
            "frames": frames_list,
            "main_frames": cfg.main_frames,
            "pools": len(pools),
            "pool_size": pool_n,
            "std": STD,  # every top{k}_std: the sample std over pools (ddof=1)
            "seed": cfg.seed,
            "queries": len(bank),
            "gallery": n_gallery,
            "query_tracklets": _count(bank.tracklet_sources),
            "query_min_iou": cfg.query_min_iou,
            # ground-truth queries by reason: no inference tracklet / the best below cfg.query_min_iou
            "query_fallbacks": fallback_counts(bank.query_fallbacks),
            "query_below_min_iou": sum(bank.query_below_min),
            "corrupted_share": float(bank.corrupted()[known].float().mean()) if bool(known.any()) else None,
        },
        "chance": {f"top{k}": min(k, pool_n) / pool_n for k in cfg.ks},
        "methods": {k: methods[k] for k in METHOD_ORDER if k in methods},
        "names": {k: METHOD_NAMES[k] for k in METHOD_ORDER if k in methods},
        "per_query": {
            "videos": list(bank.videos),
            **{k: per_query[k] for k in METHOD_ORDER if k in per_query},
        },
        # in the order of per_query's videos: each query tracklet's mean IoU with the ground truth
        # (null when the ground truth stood in), the best inference tracklet's (null without one)
        # and why the ground truth stood in (null when it did not)
        "query_iou": [_rounded_or_none(x) for x in bank.query_ious],
        "query_best_iou": [_rounded_or_none(x) for x in bank.query_best_ious],
        "query_fallback": list(bank.query_fallbacks),
        "attention": attention,
        "attention_noise": noise,
        "qualitative": qual,
    }


def _rounded(x: float) -> float | None:
    """``x`` rounded to 4 places; None (``null``) for NaN, a query in no pool."""
    return round(float(x), 4) if np.isfinite(x) else None


def _rounded_or_none(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


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
    asymnets: list[Any] | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable | None = None,
    crop_size: int = 96,
    train_data: dict[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    """Build (or reuse) the test bank of a dataset folder and evaluate every method.

    ``train_data``: checkpoint path -> what it was trained on (its ``train_data`` record, None
    when the file keeps none); ``train_overlap`` of the results then says, per checkpoint, how
    many test products (the gallery) it was trained on (:func:`~movingfashion.seam.checkpoint.train_overlap`)."""
    from movingfashion.seam.checkpoint import train_overlap

    if not models:
        raise ConfigError(
            "no SEAM checkpoint given", where="--checkpoint", hint="the first one gives the baselines"
        )
    if models[0].encoder is None:
        raise ConfigError("the checkpoint has no crop encoder, it cannot read videos", where="--checkpoint")
    for m in [*models[1:], *(asymnets or [])]:
        if encoder_tag(m) != encoder_tag(models[0]):
            raise ConfigError(
                "checkpoints were trained on different frozen encoders",
                where="--checkpoint",
                hint="evaluate them separately",
            )
    device = next(models[0].parameters()).device
    pool = max(cfg.pool_frames, max(cfg.frames + [cfg.main_frames]), cfg.attention_frames)
    clips = sorted(set(cfg.frames) | {cfg.main_frames})  # each T's own RRS frames (one per chunk)
    used: list[BankUse] = []
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
        query_min_iou=cfg.query_min_iou,
        clips=clips,
        on_use=used.append,
    )
    res = evaluate_bank(models, bank, cfg, asymnets=asymnets, device=device, progress=progress)
    if used:
        res["test_bank"] = {**used[0].record(), "line": bank_line(used[0], res)}
    res["dataset"] = str(Path(dataset).resolve())
    res["skipped_videos"] = bank.skipped
    res["train_overlap"] = {
        str(p): train_overlap(rec, bank.gallery_ids) for p, rec in (train_data or {}).items()
    }
    return res


def run_evaluate(
    dataset: str | Path,
    checkpoints: list[str | Path],
    cfg: EvalConfig,
    *,
    out_dir: str | Path | None = None,
    variant: str | None = None,
    progress: Callable | None = None,
    cache_dir: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load checkpoints (SEAM, one per variant, and at most one AsymNet; ``variant`` checked when
    given, only with one checkpoint), evaluate, write ``OUT/results.json`` when ``out_dir`` is
    given; returns the results, with ``test_bank`` (what was done with the test bank and why,
    :func:`bank_line`; left out of ``results.json``). The test bank is cached in ``cache_dir``
    (default OUT/features).

    ``warn`` gets one line per checkpoint trained on products of the test split (how many; the
    results' ``train_overlap`` has the numbers) and one note per checkpoint that keeps no record
    of its training products (older files: not checked)."""
    from movingfashion.seam.asymnet import ASYMNET_KIND, checkpoint_kind, load_asymnet
    from movingfashion.seam.checkpoint import crop_size_of, load_checkpoint
    from schemas.atomic import atomic_write_json

    if not checkpoints:
        raise ConfigError("no checkpoint given", where="--checkpoint", hint="pass --checkpoint RUN/last.pt")
    if variant is not None and len(checkpoints) != 1:
        raise ConfigError("--variant checks a single checkpoint", where="--variant")
    torch.manual_seed(cfg.seed)
    seam_paths = [p for p in checkpoints if checkpoint_kind(p) != ASYMNET_KIND]
    asym_paths = [p for p in checkpoints if checkpoint_kind(p) == ASYMNET_KIND]
    loaded = [load_checkpoint(p, variant=variant) for p in seam_paths]
    asym = [load_asymnet(p) for p in asym_paths]
    models = [m for m, _ in loaded]
    if not models:
        if asym_paths:
            raise ConfigError(
                f"{asym_paths[0]} is an AsymNet checkpoint, which needs a SEAM checkpoint beside it"
                " (the SEAM checkpoint reads the videos and gives the baselines)",
                where="--checkpoint",
                hint=f"pass both: --checkpoint SEAM_RUN/last.pt --checkpoint {asym_paths[0]}",
            )
        raise ConfigError(
            "no SEAM checkpoint given",
            where="--checkpoint",
            hint="the first SEAM checkpoint gives the baselines",
        )
    check_checkpoints(
        [*zip(seam_paths, models, strict=True), *zip(asym_paths, [a for a, _ in asym], strict=True)]
    )
    crop = crop_size_of(loaded[0][1])
    records = {str(p): c.get("train_data") or None for p, (_, c) in zip(seam_paths, loaded, strict=True)}
    records.update({str(p): c.get("train_data") or None for p, (_, c) in zip(asym_paths, asym, strict=True)})
    cache = (
        cache_dir if cache_dir is not None else (Path(out_dir) / "features" if out_dir is not None else None)
    )
    if out_dir is not None:
        from schemas.atomic import sweep_partials

        sweep_partials(out_dir)  # what a killed run left half-written
    res = evaluate_dataset(
        dataset,
        models,
        cfg,
        asymnets=[a for a, _ in asym],
        cache_dir=cache,
        progress=progress,
        crop_size=crop,
        train_data=records,
    )
    for line in [*([res["test_bank"]["line"]] if "test_bank" in res else []), *overlap_lines(res, dataset)]:
        if warn:
            warn(line)
    res["checkpoints"] = {
        VARIANT_METHOD[m.variant]: {"path": str(p), "epoch": c.get("epoch")}
        for p, (m, c) in zip(seam_paths, loaded, strict=True)
    }
    for p, _ in zip(asym_paths, asym, strict=True):
        res["checkpoints"]["asymnet"] = {"path": str(p)}
    res["config"] = cfg.model_dump(mode="json")
    if out_dir is not None:
        # how the bank was had is this run's, not the results': a killed-and-rerun evaluation
        # (which reuses the bank the killed one saved) writes the same results.json
        kept = {k: v for k, v in res.items() if k != "test_bank"}
        atomic_write_json(Path(out_dir) / "results.json", kept, indent=1)
    return res


def check_checkpoints(given: list[tuple[str | Path, Any]]) -> None:
    """Refuse (:class:`ConfigError` naming the file) a checkpoint without a crop encoder (trained
    on a bank of precomputed features: it cannot read videos), a second SEAM checkpoint of one
    variant, or one whose frozen encoder differs from the first one's. ``given``: (path, model)
    of every checkpoint, the SEAM ones first."""
    first: tuple[str | Path, str] | None = None
    variants: dict[Variant, str | Path] = {}
    for path, model in given:
        if model.encoder is None:
            raise ConfigError(
                "the checkpoint has no crop encoder (it was trained on a bank of precomputed features),"
                " so it cannot read the test videos",
                where=str(path),
                hint="evaluate a checkpoint of `mf train --dataset ...` (it keeps the matcher's encoder)",
            )
        variant = getattr(model, "variant", None)
        if isinstance(model, SeamModel) and variant in variants:
            raise ConfigError(
                f"a second checkpoint of variant {variant.value!r} (the first: {variants[variant]})",
                where=str(path),
                hint="give at most one checkpoint per variant; evaluate the others separately",
            )
        if isinstance(model, SeamModel):
            variants[variant] = path
        tag = encoder_tag(model)
        if first is None:
            first = (path, tag)
        elif tag != first[1]:
            raise ConfigError(
                f"the checkpoint was trained on another frozen encoder (tag {tag}) than {first[0]}"
                f" (tag {first[1]})",
                where=str(path),
                hint="evaluate checkpoints of different matchers separately",
            )


def bank_line(use: BankUse, res: dict[str, Any]) -> str:
    """One line: what the evaluation did with its test bank (reused or built, where, how many,
    why) and what it computed."""
    lengths = ",".join(map(str, sorted({int(t) for by_t in res["methods"].values() for t in by_t})))
    scores = f"the scores of {len(res['methods'])} methods at T={lengths}"
    where = f" {use.path}" if use.path is not None else ""
    size = f"{use.videos} queries, {use.gallery} shop images"
    if use.action == "reused":
        return f"test bank: reused{where} ({size}), {use.why}; computed {scores}"
    return f"test bank: built{where} ({size} encoded): {use.why}; computed it, then {scores}"


def overlap_lines(res: dict[str, Any], dataset: str | Path) -> list[str]:
    """The warnings (checkpoints trained on test products) and notes (no record) of
    ``res["train_overlap"]``."""
    lines = []
    for path, rec in (res.get("train_overlap") or {}).items():
        if not rec.get("recorded"):
            lines.append(
                f"note: {path} keeps no record of its training products (an older checkpoint): "
                f"not checked against the test split of {dataset}"
            )
        elif rec["overlap"]:
            lines.append(
                f"warning: {rec['overlap']} of the {rec['test_products']} test products of {dataset} were "
                f"training products of {path} (trained on {rec.get('train_dataset') or 'an unnamed bank'}): "
                "these results are not on held-out products"
            )
    return lines


def summary_table(res: dict[str, Any]) -> str:
    """A short plain-text table: top-K of every method (all queries) at the main length, and
    chance; under it the protocol and where the queries came from (:func:`~.report.query_note`)."""
    t = str(res["protocol"]["main_frames"])
    ks = res["protocol"]["ks"]
    p = res["protocol"]
    one_pool = int(p["pools"]) <= 1  # no std exists: none is printed (not a std of 0)

    def cell(row: dict[str, Any], k: int) -> str:
        mean = row.get(f"top{k}", float("nan"))
        return f"{mean:>16.3f}" if one_pool else f"{mean:>9.3f}±{row.get(f'top{k}_std', 0):.3f}"

    lines = [f"{'method':<20}" + "".join(f"{'T-' + str(k):>16}" for k in ks)]
    for key, by_t in res["methods"].items():
        row = by_t.get(t, {}).get("all", {})
        lines.append(f"{res['names'][key]:<20}" + "".join(cell(row, k) for k in ks))
    lines.append(f"{'chance':<20}" + "".join(f"{res['chance'][f'top{k}']:>16.3f}" for k in ks))
    lines.append(
        f"({p['queries']} queries, gallery {p['gallery']}, {p['pools']} pool(s) of {p['pool_size']}, T={t}; "
        + ("one pool: no std over pools)" if one_pool else "mean±sample std over pools)")
    )
    lines.append(query_note(res))
    return "\n".join(lines)
