"""The one matcher pretraining path: crop sets, batches with shop anchors, the pair loss, the
training loop and user->shop retrieval evaluation.

The matcher (crop encoder + f + m) learns from *identity-labelled crops*: two crops match when
they show the same garment (DeepFashion2: same ``pair_id`` and the same ``style > 0``, shop or
user image; synthetic world: the same garment in different frames, or a product's garment and
its shop image). Each batch holds P identities x K crops; every pair in the batch is scored by
``m`` and the loss is the 2-class cross-entropy, positives and negatives weighted equally.

The RoI matcher (:mod:`movingfashion.models.roi`) trains through the same loop
(:func:`fit_pairs`, :func:`train_roi_matcher`): its samples are the RoIAlign-pooled detector
features of the same identity-labelled boxes instead of pixel crops, the detector frozen.

Used by ``mf pretrain-matcher``, SEAM phase 1 (``mf train --phase 1``) and the embedded weights'
recipe (``movingfashion.world.weights_build``). DeepFashion2 is read through
:mod:`movingfashion.deepfashion2`.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from movingfashion.deepfashion2 import has_split, iter_split, resolve_root, split_dir
from movingfashion.media.images import read_image
from movingfashion.models.checkpoints import pick_device
from movingfashion.models.crops import crops_from_frames
from movingfashion.models.matchrcnn import MatchHead, SingleFrameMatcher, balanced_pair_loss, load_matcher
from movingfashion.models.ranking import ranks_of_targets
from schemas.errors import DataFormatError, MediaError, ModelError

if TYPE_CHECKING:
    from movingfashion.models.roi import RoIMatcher

#: ``progress(iterable, desc=..., total=..., unit=...)``, e.g. ``schemas.cli_support.progress``.
Progress = Callable[..., Iterable[int]]


@dataclass
class CropSet:
    """Crops ``uint8 [N,3,S,S]`` with identity labels ``[N]`` (``-1`` = never a positive) and
    optional groups ``[N]`` (e.g. the video: identities of one group are sampled together, so
    batches hold hard negatives such as the other garments of the same scene) and ``anchors``
    ``[N]`` bool (shop images: every sampled identity that has one brings one, so each batch
    holds shop-to-frame pairs, the pairs training tracking ranks)."""

    crops: torch.Tensor
    ids: torch.Tensor
    groups: torch.Tensor | None = None
    anchors: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def cat(sets: list[CropSet]) -> CropSet:
        """Concatenate; identities and groups are renumbered so sets never share one."""
        sets = [s for s in sets if len(s)]
        ids, groups, anchors, off_i, off_g = [], [], [], 0, 0
        for s in sets:
            anchors.append(s.anchors if s.anchors is not None else torch.zeros_like(s.ids, dtype=torch.bool))
            ids.append(torch.where(s.ids >= 0, s.ids + off_i, s.ids))
            off_i += int(s.ids.max()) + 1 if len(s.ids) else 0
            g = s.groups if s.groups is not None else torch.full_like(s.ids, -1)
            groups.append(torch.where(g >= 0, g + off_g, g))
            off_g += int(g.max()) + 1 if len(g) and int(g.max()) >= 0 else 0
        return CropSet(
            torch.cat([s.crops for s in sets]), torch.cat(ids), torch.cat(groups), torch.cat(anchors)
        )


def to_uint8(crops: torch.Tensor) -> torch.Tensor:
    """Float crops in [0, 1] -> ``uint8`` (how crop sets store them)."""
    return (crops * 255).round().clamp(0, 255).to(torch.uint8)


def jitter_box(box: list[float], w: int, h: int, rng: random.Random, amount: float) -> list[float]:
    """Shift/scale a box by up to ``amount`` of its size (mimics detector imprecision)."""
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    dx1, dy1, dx2, dy2 = (rng.uniform(-amount, amount) for _ in range(4))
    return [
        max(0.0, x1 + dx1 * bw),
        max(0.0, y1 + dy1 * bh),
        min(float(w), x2 + dx2 * bw),
        min(float(h), y2 + dy2 * bh),
    ]


def df2_crops(
    df2_root: str | os.PathLike[str],
    split: str = "train",
    size: int = 64,
    jitter: float = 0.0,
    seed: int = 0,
    limit: int | None = None,
) -> CropSet:
    """Crops of every DeepFashion2 item of a split (the first ``limit`` images when given);
    identity = (pair_id, style) when style > 0, anchors = the shop images' items."""
    folder = split_dir(df2_root, split)
    rng = random.Random(seed)
    ident: dict[tuple[int, int], int] = {}
    crops, ids, anchors = [], [], []
    for img in itertools.islice(iter_split(df2_root, split), limit):
        try:
            rgb = read_image(img.image_path, orientation="stored")  # DF2 boxes: stored pixels
        except MediaError:
            raise DataFormatError(
                "image of this annotation is missing or unreadable", where=str(img.image_path)
            ) from None
        h, w = rgb.shape[:2]
        boxes = [jitter_box(it.box, w, h, rng, jitter) for it in img.items]
        if not boxes:
            continue
        crops.append(to_uint8(crops_from_frames([rgb], [np.asarray(boxes)], size)))
        for it in img.items:
            ids.append(ident.setdefault((img.pair_id, it.style), len(ident)) if it.style > 0 else -1)
            anchors.append(img.source == "shop")
    if not crops:
        raise DataFormatError("no annotated items", where=str(folder))
    return CropSet(torch.cat(crops), torch.tensor(ids, dtype=torch.int64), anchors=torch.tensor(anchors))


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Float crops in [0,1]: random horizontal flip, brightness/contrast jitter and a per-channel
    gain (the colour cast of a scene's light: a white shop garment looks tinted in a video)."""
    n = len(x)
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    b = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    c = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.3
    gain = 1 + (torch.rand(n, 3, 1, 1, generator=gen) - 0.5) * 0.2
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (((x - mean) * c + mean + b) * gain).clamp(0, 1)


def pair_loss(head: MatchHead, emb: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """:func:`~movingfashion.models.matchrcnn.balanced_pair_loss` over every ordered pair
    i != j of the batch (identity ``-1`` is never a positive)."""
    n = len(ids)
    logits = head.pair_logits(emb, emb)  # [n,n,2]
    same = (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0)
    off = ~torch.eye(n, dtype=torch.bool, device=emb.device)
    return balanced_pair_loss(logits[off], same[off])


def identity_batches(
    ids: torch.Tensor,
    p: int,
    k: int,
    rng: random.Random,
    groups: torch.Tensor | None = None,
    anchors: torch.Tensor | None = None,
) -> Iterator[list[int]]:
    """Endless batches of crop indices: ``p`` identities x ``k`` crops, half of the identities
    taken group by group (hard negatives from one scene), one shop anchor first for every
    identity that has one, plus a few unlabelled crops (negatives only)."""
    by_id: dict[int, list[int]] = defaultdict(list)
    anchor_of: dict[int, list[int]] = defaultdict(list)
    singles = []
    is_anchor = anchors.tolist() if anchors is not None else [False] * len(ids)
    for i, v in enumerate(ids.tolist()):
        if v >= 0:
            (anchor_of if is_anchor[i] else by_id)[v].append(i)
        else:
            singles.append(i)
    for v in anchor_of:  # an identity made of anchors only still counts
        by_id.setdefault(v, [])
    multi = [v for v, idx in by_id.items() if len(idx) + len(anchor_of.get(v, ())) >= 2]
    if not multi:
        raise DataFormatError(
            "no identity has two crops: nothing to learn a match from",
            where="matcher training",
            hint="DeepFashion2 needs shop and user items sharing pair_id and style > 0",
        )
    by_group: dict[int, list[int]] = defaultdict(list)
    if groups is not None:
        for v in multi:
            g = int(groups[by_id[v][0]])
            if g >= 0:
                by_group[g].append(v)
    gkeys = list(by_group)
    while True:
        chosen: list[int] = []
        # half of the identities come from whole groups (hard negatives), the rest at random
        while gkeys and len(chosen) < p // 2:
            chosen += [v for v in by_group[rng.choice(gkeys)] if v not in chosen]
        rest = [v for v in multi if v not in chosen]
        chosen = chosen[:p] + rng.sample(rest, max(0, min(p - len(chosen), len(rest))))
        batch = []
        for v in chosen:
            idx, own = by_id[v], anchor_of.get(v)
            if own:  # one shop image + (k - 1) frame crops
                batch.append(rng.choice(own))
                batch += (
                    rng.sample(idx, min(k - 1, len(idx))) if idx else rng.sample(own, min(k - 1, len(own)))
                )
            else:
                batch += rng.sample(idx, min(k, len(idx)))
        if singles:
            batch += rng.sample(singles, min(len(singles), max(1, p // 4)))
        yield batch


def train_matcher(
    data: CropSet,
    *,
    steps: int = 300,
    p: int = 16,
    k: int = 4,
    lr: float = 1e-3,
    crop_size: int | None = None,
    init: SingleFrameMatcher | None = None,
    seed: int = 0,
    device: str | None = None,
    log: Callable[[int, float], None] | None = None,
    progress: Progress | None = None,
) -> SingleFrameMatcher:
    """Train (or fine-tune ``init``) a matcher on identity-labelled crops (AdamW, one-cycle
    schedule, gradient clipping); ``log(step, loss)`` after every step."""
    torch.manual_seed(seed)
    size = int(data.crops.shape[-1])
    model = init or SingleFrameMatcher(crop_size=crop_size or size)
    if model.crop_size != size:
        raise ModelError(
            f"crops are {size}px but the matcher wants {model.crop_size}px", where="train_matcher"
        )
    dev = pick_device(device)

    def embed(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return model.f(model.encoder(augment(x.float() / 255, gen).to(dev)))

    return fit_pairs(
        model,
        embed,
        data,
        steps=steps,
        p=p,
        k=k,
        lr=lr,
        seed=seed,
        device=dev,
        log=log,
        progress=progress,
        desc="matcher",
    )


def fit_pairs(
    model: SingleFrameMatcher | RoIMatcher,
    embed: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    data: CropSet,
    *,
    steps: int,
    p: int,
    k: int,
    lr: float,
    seed: int,
    device: torch.device,
    log: Callable[[int, float], None] | None = None,
    progress: Progress | None = None,
    desc: str = "matcher",
) -> Any:
    """The one training loop of the matchers: :func:`identity_batches` of ``data``,
    ``embed(samples, generator)`` -> descriptors, :func:`pair_loss` with ``model.m``, AdamW
    (weight decay 1e-4), one-cycle schedule, gradient clipping at 5; returns ``model`` in eval mode."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    it = identity_batches(data.ids, p, k, rng, data.groups, data.anchors)
    loop = progress(range(steps), desc=desc, total=steps, unit="step") if progress else range(steps)
    for step in loop:
        idx = torch.tensor(next(it))
        emb = embed(data.crops[idx], gen)
        loss = pair_loss(model.m, emb, data.ids[idx].to(device))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        if log is not None:
            log(step, float(loss.detach()))
    return model.eval()


def augment_pooled(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Pooled RoI features (level 0 = the image's 3 channels first): the colour part of
    :func:`augment` on the image cells (brightness, per-channel gain); deep levels unchanged."""
    n = len(x)
    b = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.2
    gain = 1 + (torch.rand(n, 3, 1, 1, generator=gen) - 0.5) * 0.2
    img = (x[:, :3] + b) * gain
    return torch.cat([img, x[:, 3:]], dim=1)


def train_roi_matcher(
    data: CropSet,
    *,
    channels: tuple[int, ...],
    strides: tuple[float, ...],
    detector: str | None = None,
    steps: int = 1500,
    p: int = 16,
    k: int = 4,
    lr: float = 2e-3,
    init: RoIMatcher | None = None,
    seed: int = 0,
    device: str | None = None,
    log: Callable[[int, float], None] | None = None,
    progress: Progress | None = None,
) -> RoIMatcher:
    """Train (or fine-tune ``init``) an :class:`~movingfashion.models.roi.RoIMatcher` head on
    identity-labelled *pooled features* (``data.crops``: :func:`movingfashion.models.roi.pool_boxes`
    of the true boxes, ``[N, sum(channels), pool, pool]``, the detector frozen), through the
    same loop, batches and loss as the crop matcher (:func:`fit_pairs`)."""
    from movingfashion.models.roi import RoIMatcher

    torch.manual_seed(seed)
    model = init or RoIMatcher(channels, strides, pool=int(data.crops.shape[-1]), detector=detector)
    if sum(model.head.channels) != int(data.crops.shape[1]):
        raise ModelError(
            f"features have {int(data.crops.shape[1])} channels, the head wants {sum(model.head.channels)}",
            where="train_roi_matcher",
        )
    dev = pick_device(device)

    def embed(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return model.head(augment_pooled(x.float(), gen).to(dev))

    return fit_pairs(
        model,
        embed,
        data,
        steps=steps,
        p=p,
        k=k,
        lr=lr,
        seed=seed,
        device=dev,
        log=log,
        progress=progress,
        desc="RoI matcher",
    )


@torch.no_grad()
def roi_retrieval_top1(model: RoIMatcher, queries: CropSet, gallery: CropSet) -> float:
    """:func:`retrieval_top1` for an RoI matcher on pooled features."""
    model.eval()
    return _top1(
        model.score_matrix(
            model.embed_pooled(queries.crops.float()), model.embed_pooled(gallery.crops.float())
        ),
        queries,
        gallery,
    )


@torch.no_grad()
def recalibrate_batchnorm(
    model: SingleFrameMatcher,
    data: CropSet,
    *,
    batches: int = 300,
    modules: Iterable[str] = ("f.bn",),
    p: int = 16,
    k: int = 4,
    seed: int = 0,
    device: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Re-estimate the running statistics of the batch norms named in ``modules`` (every other
    weight and statistic frozen) on ``batches`` training batches of ``data``, in place.

    The batches are the training feed (:func:`identity_batches` + :func:`augment`, same ``p``,
    ``k``); the chosen batch norms run in train mode with a cumulative average (momentum
    ``None``), everything else in eval mode, so each statistic is the mean of its per-batch
    statistics over exactly what it sees at inference. Used to repair a checkpoint whose
    statistics were lost (an overflowed float16 variance). Returns what was done.
    """
    named = dict(model.named_modules())
    missing = [m for m in modules if not isinstance(named.get(m), torch.nn.modules.batchnorm._BatchNorm)]
    if missing:
        raise ModelError(f"no batch norm named {missing} in the matcher", where="recalibrate_batchnorm")
    bns = [named[m] for m in modules]
    dev = pick_device(device)
    model.to(dev).eval()
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
        bn.train()
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    it = identity_batches(data.ids, p, k, rng, data.groups, data.anchors)
    loop = (
        progress(range(batches), desc="batch norm", total=batches, unit="batch")
        if progress
        else range(batches)
    )
    seen = 0
    try:
        for _ in loop:
            idx = torch.tensor(next(it))
            model.f(model.encoder(augment(data.crops[idx].float() / 255, gen).to(dev)))
            seen += len(idx)
    finally:
        for bn, mom in zip(bns, momenta, strict=True):
            bn.momentum = mom
        model.eval()
    return {"modules": list(modules), "batches": batches, "crops_seen": seen, "p": p, "k": k, "seed": seed}


@torch.no_grad()
def retrieval_top1(model: SingleFrameMatcher, queries: CropSet, gallery: CropSet) -> float:
    """Top-1 accuracy: for each query with an identity in the gallery, is its best-scoring gallery
    crop of the same identity? A wrong crop tied with the best right one counts as ahead
    (:mod:`movingfashion.models.ranking`)."""
    model.eval()
    q = model.embed(queries.crops.float() / 255)
    g = model.embed(gallery.crops.float() / 255)
    return _top1(model.score_matrix(q, g), queries, gallery)


def _top1(scores: torch.Tensor, queries: CropSet, gallery: CropSet) -> float:
    s = scores.cpu()
    qids, gids = queries.ids.cpu(), gallery.ids.cpu()
    true = (qids[:, None] == gids[None, :]) & (qids[:, None] >= 0)
    valid = true.any(1)
    if not valid.any():
        return 0.0
    ranks = ranks_of_targets(s[valid], true[valid])
    return float((ranks == 0).float().mean())


def split_shop_user(df2_root: str | os.PathLike[str], split: str, size: int) -> tuple[CropSet, CropSet]:
    """(user crops, shop crops) of one DF2 split, for retrieval evaluation."""
    crops = df2_crops(df2_root, split, size)
    shop = crops.anchors
    return CropSet(crops.crops[~shop], crops.ids[~shop]), CropSet(crops.crops[shop], crops.ids[shop])


def pretrain_matcher(
    df2_root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    steps: int = 300,
    crop_size: int = 64,
    p: int = 16,
    k: int = 4,
    lr: float = 1e-3,
    jitter_copies: int = 2,
    init: str | os.PathLike[str] | None = None,
    seed: int = 0,
    device: str | None = None,
    log: Callable[[int, float], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Pretrain the single-frame matcher on DeepFashion2 street-to-shop pairs; writes ``out``.
    ``df2_root``: a DeepFashion2-format root, or a synthetic world folder holding ``df2/``
    (:func:`~movingfashion.deepfashion2.resolve_root`, as ``mf train --phase 1`` takes it).

    Returns figures: crops, identities, the user->shop top-1 retrieval on ``validation``
    (or ``train`` when there is none) and on ``train``, each with its chance level.
    """
    df2_root = resolve_root(df2_root)
    sets = [
        df2_crops(df2_root, "train", crop_size, jitter=0.08 if c else 0.0, seed=seed + c)
        for c in range(max(1, jitter_copies))
    ]
    data = CropSet.cat(sets)
    model = train_matcher(
        data,
        steps=steps,
        p=p,
        k=k,
        lr=lr,
        crop_size=crop_size,
        seed=seed,
        device=device,
        init=load_matcher(init, device="cpu") if init else None,
        log=log,
        progress=progress,
    )
    eval_split = "validation" if has_split(df2_root, "validation") else "train"
    figures = {}
    for name, split in (("", eval_split), ("train_", "train")):
        users, shops = split_shop_user(df2_root, split, crop_size)
        figures[f"{name}top1"] = round(retrieval_top1(model, users, shops), 4)
        figures[f"{name}chance"] = round(1 / max(1, len(set(shops.ids.tolist()) - {-1})), 4)
    tag = model.save(out, meta={"trained_on": "deepfashion2", "steps": steps})
    return {
        "out": str(out),
        "tag": tag,
        "crops": len(sets[0]),
        "identities": int(len(set(data.ids.tolist()) - {-1})),
        "eval_split": eval_split,
        **figures,
    }
