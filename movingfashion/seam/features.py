"""Feature banks: frozen crop-encoder feature maps of a fixed pool of tracklet frames per video.

The detector side of SEAM is frozen in phase 2 and at test time, so its output for a frame
never changes. A bank reads, once, ``pool`` equally spaced tracklet crops of each video through
``MovingFashionDataset`` (``crop="tracklet"``), runs the crop encoder and keeps the feature
maps (float16). Training draws ``T`` of the pool frames per step with the
loader's Restricted Random Sampling (random in training, chunk centres in evaluation), so each
frame is decoded once instead of once per epoch. A test bank (``clips``: the clip lengths
evaluated) also keeps, for every such ``T``, the very frames the loader's evaluation RRS takes
of the query tracklet (one per chunk, at its centre) and the best-scoring pool frame of each of
its chunks (the ``salient`` pick), the tracklet's most confident detection (Max Confidence's
frame), and where each sits in the pool (:attr:`FeatureBank.slots`):
the pool is then every distinct frame of those and of the evenly spaced ones. Banks are cached
on disk by content key and reused on reruns; a bank the dataset changed under is replaced, with one
line saying which files changed (:mod:`movingfashion.seam.bank_cache`).

Query tracklet of a video (paper section 5): when the dataset has the richer
``tracklets/<video stem>.json`` with inference tracklets, the one with the highest average IoU
with the ground-truth tracklet (over the frames either of them boxes), whatever that IoU (the
default :data:`QUERY_MIN_IOU` 0; a stricter ``query_min_iou`` may be asked for). The ground-truth
tracklet itself is the query only when there is no inference tracklet (or, with a minimum, when
the best one stays below it); the bank records why (:data:`NO_INFERENCE`, :data:`BELOW_MIN_IOU`),
and such a query's IoU is unknown (None), never 1.0. Banks also keep, per
frame, the world's truth about the query box (clean or how it is corrupted) when the richer
file carries it, and the frame's expressiveness score for the ``salient`` sampler.

The gallery is every shop image of the split, once: products sharing a shop image (the same
resolved file, or files with the same bytes) share one gallery entry, and a query hits when the
retrieved entry is its product's image.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from movingfashion.media.images import read_image
from movingfashion.models.checkpoints import save_torch_file
from movingfashion.sampling import FrameSampler, crop_sharpness, frame_quality, get_sampler
from movingfashion.seam.augment import augment_crops
from movingfashion.seam.bank_cache import (  # BANK_VERSION, bank_key, media_stamps: imported from here too
    BANK_VERSION,
    BankUse,
    bank_inputs,
    bank_key,
    bank_slot,
    media_stamps,  # noqa: F401
    remove_stale,
    stale_banks,
    unowned_files,
    unowned_line,
    why_built,
    why_reused,
)
from movingfashion.seam.config import BELOW_MIN_IOU, NO_INFERENCE, AugmentConfig
from movingfashion.seam.positives import DEFAULT_THRESHOLD, OTHER_DETECTION, ShopMatcher, best_match_boxes
from movingfashion.split_errors import held_records, no_product, no_usable_videos, require_products, unusable
from schemas.atomic import atomic_write_text, sha256_file
from schemas.dataset import VideoTracklets
from schemas.errors import MFError
from schemas.geometry import tracklet_iou as mean_iou
from schemas.official import read_official, split_listing
from schemas.paths import resolve_under
from schemas.redact import redacted_logger

log = redacted_logger(__name__)

#: Modes of the tracklets a query may be chosen from (the builder's and the world export's).
INFERENCE_MODE = "inference"
#: The least mean IoU with the ground truth for an inference tracklet to become the query. The
#: paper takes the best one whatever its IoU (0); with a minimum, below it the ground truth is.
QUERY_MIN_IOU = 0.0
#: Version of the query records of a test bank (part of its cache key): 2 records fallbacks.
QUERY_RECORD_VERSION = 2


@dataclass
class QueryChoice:
    """The tracklet a video is queried with, and where it came from."""

    boxes: dict[int, list[float]]
    scores: dict[int, float]
    source: str  # "tracklets[i]" (an inference tracklet) or "ground_truth"
    #: mean IoU of ``boxes`` with the ground truth; None when the ground truth stands in for the
    #: inference query (:attr:`fallback`): no inference tracklet was measured
    iou: float | None
    noise: dict[int, str] = field(default_factory=dict)
    #: the best inference candidate's mean IoU (None without candidates)
    best_iou: float | None = None
    #: why the ground truth is the query instead of an inference tracklet (:data:`NO_INFERENCE`,
    #: :data:`BELOW_MIN_IOU`); None when an inference tracklet is, or the bank's own tracklet is used
    fallback: str | None = None

    @property
    def below_min_iou(self) -> bool:
        """Whether inference tracklets were there but none reached the minimum IoU."""
        return self.fallback == BELOW_MIN_IOU


def choose_query(
    gt: dict[int, list[float]], rich: VideoTracklets | None, min_iou: float = QUERY_MIN_IOU
) -> QueryChoice:
    """The query tracklet of a video (paper section 5): among the *inference* tracklets of the
    richer file, the one with the highest average IoU with the ground-truth tracklet ``gt``
    (:func:`mean_iou`: over the frames either boxes) when it reaches ``min_iou`` (default 0: the
    best one, whatever its IoU); else the ground-truth tracklet itself, with IoU None and
    :attr:`QueryChoice.fallback` saying why. Ties go to the first candidate."""
    cands = (
        []
        if rich is None or not gt
        else [i for i, t in enumerate(rich.tracklets) if t.mode == INFERENCE_MODE]
    )
    ious = {i: mean_iou(rich.tracklets[i].boxes, gt) for i in cands}
    best = max(cands, key=ious.__getitem__) if cands else None
    if best is None or ious[best] < min_iou:
        noise = {}
        if rich is not None and rich.ground_truth is not None and rich.ground_truth < len(rich.tracklets):
            noise = dict(rich.tracklets[rich.ground_truth].noise)
        if best is None:
            return QueryChoice(gt, {}, "ground_truth", None, noise, None, NO_INFERENCE)
        return QueryChoice(gt, {}, "ground_truth", None, noise, ious[best], BELOW_MIN_IOU)
    trk = rich.tracklets[best]
    return QueryChoice(
        dict(trk.boxes), dict(trk.scores), f"tracklets[{best}]", ious[best], dict(trk.noise), ious[best]
    )


def fallback_counts(fallbacks: list[str | None]) -> dict[str, int]:
    """How many queries fell back to the ground truth, by reason (both reasons always listed)."""
    return {why: sum(f == why for f in fallbacks) for why in (NO_INFERENCE, BELOW_MIN_IOU)}


def _best_match_query(
    root: Path,
    rec,
    video,
    frames: list[int],
    rich: VideoTracklets | None,
    q: QueryChoice,
    matcher: ShopMatcher,
    threshold: float,
) -> tuple[QueryChoice, set[int]]:
    """``q`` with the best-matching box of each planned frame (see :mod:`.positives`), and the
    frames whose truth becomes unknown (a replaced box where the dataset's box was already wrong)."""
    img = read_image(rec.shop_path, (matcher.crop_size, matcher.crop_size))
    shop = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div(255.0)
    try:
        boxes, changed = best_match_boxes(
            video.path, frames, q.boxes, rich, shop, matcher, threshold=threshold
        )
    except (MFError, OSError):
        return q, set()  # the loader reports the unreadable video in its own way
    noise = dict(q.noise)
    unsure = {f for f in changed if f in noise}
    noise.update({f: OTHER_DETECTION for f in changed if f not in noise})
    return QueryChoice(
        {**q.boxes, **boxes}, q.scores, "best_match", q.iou, noise, q.best_iou, q.fallback
    ), unsure


def noise_known(rich: VideoTracklets | None) -> bool:
    """Whether a richer file carries the truth of its corrupted frames (exported from a world)."""
    return rich is not None and (rich.detector or "").startswith("world-")


@dataclass
class FeatureBank:
    """Frozen feature maps of the query tracklets of one split and of its shop images.

    ``fmaps`` [V, P, C, h, w] float16; ``frames`` [V, P] frame indices; ``positions`` [V, P] frame
    index / video length; ``conf`` [V, P] detector confidence (NaN when unknown);
    ``shop_fmaps`` [G, C, h, w], one row per shop image (``gallery_ids``: the first of its
    products, ``gallery_products``: all of them); ``targets`` [V] gallery row of each video's
    product's image; ``query_ious`` [V] the query tracklet's mean IoU with the ground truth (1.0
    when the dataset's own tracklet is the query of a training bank, None when the ground truth
    stands in for an inference query), ``query_best_ious`` [V] the best inference candidate's
    (None without one), ``query_fallbacks`` [V] why the ground truth is the query
    (:attr:`QueryChoice.fallback`, None when it is not a fallback), ``query_below_min`` [V]
    whether the ground truth stood in for inference tracklets below the minimum IoU
    (:func:`choose_query`; all empty in banks made by hand);
    ``noise`` [V, P] int8: -1 unknown, 0 clean, ``k > 0`` corrupted as ``noise_names[k - 1]``
    (the synthetic world's truth about the query tracklet's box); ``quality`` [V, P] the
    expressiveness score of each frame (:func:`movingfashion.sampling.frame_quality`, crop
    sharpness included), read by the ``salient`` sampler; ``slots`` name -> [V, n] pool index of
    each video's frames of a kind (a bank built with ``clips``, :func:`pool_parts`): ``uniform``
    the ``pool`` evenly spaced frames, ``rrs{T}`` the loader's evaluation RRS frames,
    ``salient{T}`` the salient picks of a T-frame clip and ``maxconf`` [V, 1] the query
    tracklet's most confident detection; a video's pool holds each distinct frame
    once, in temporal order, padded at the end by repeating its last frame (no slot points
    there). Empty for a bank without clips (a training bank, one made by hand): its pool is the
    ``pool`` evenly spaced frames.
    """

    product_ids: list[str]
    videos: list[str]
    partitions: list[str]
    classes: list[int]
    fmaps: torch.Tensor
    frames: torch.Tensor
    positions: torch.Tensor
    conf: torch.Tensor
    gallery_ids: list[str]
    shop_fmaps: torch.Tensor
    targets: torch.Tensor
    shop_paths: list[str] = field(default_factory=list)
    tracklet_sources: list[str] = field(default_factory=list)
    skipped: list[list[str]] = field(default_factory=list)  # [product id, why] rows the loader dropped
    noise: torch.Tensor | None = None
    noise_names: list[str] = field(default_factory=list)
    quality: torch.Tensor | None = None
    key: str = ""  # content key of the cached bank ("" when not built by build_bank with a cache)
    gallery_products: list[list[str]] = field(default_factory=list)
    query_ious: list[float | None] = field(default_factory=list)
    query_below_min: list[bool] = field(default_factory=list)
    query_best_ious: list[float | None] = field(default_factory=list)
    query_fallbacks: list[str | None] = field(default_factory=list)
    slots: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        v, p = self.fmaps.shape[:2]
        if self.noise is None:
            self.noise = torch.full((v, p), -1, dtype=torch.int8)
        if self.quality is None:
            self.quality = torch.zeros((v, p), dtype=torch.float32)

    def corrupted(self) -> torch.Tensor:
        """[V, P] bool: frames whose box the truth marks as corrupted."""
        return self.noise > 0

    def __len__(self) -> int:
        return len(self.product_ids)

    def state(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict) -> FeatureBank:
        return cls(**state)

    def subset(self, idx: list[int] | np.ndarray) -> FeatureBank:
        """Videos ``idx`` only (the gallery is kept whole)."""
        idx = [int(i) for i in idx]
        t = torch.as_tensor(idx, dtype=torch.long)
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        return FeatureBank(
            pick(self.product_ids),
            pick(self.videos),
            pick(self.partitions),
            pick(self.classes),
            self.fmaps[t],
            self.frames[t],
            self.positions[t],
            self.conf[t],
            self.gallery_ids,
            self.shop_fmaps,
            self.targets[t],
            self.shop_paths,
            pick(self.tracklet_sources) if self.tracklet_sources else [],
            self.skipped,
            self.noise[t],
            self.noise_names,
            self.quality[t],
            gallery_products=self.gallery_products,
            query_ious=pick(self.query_ious) if self.query_ious else [],
            query_below_min=pick(self.query_below_min) if self.query_below_min else [],
            query_best_ious=pick(self.query_best_ious) if self.query_best_ious else [],
            query_fallbacks=pick(self.query_fallbacks) if self.query_fallbacks else [],
            slots={k: v[t] for k, v in self.slots.items()},
        )


def longest_tracklet(bank: FeatureBank) -> int:
    """The most distinct frames any video of ``bank`` holds (a video's pool repeats its last
    frame when its tracklet is shorter than the pool)."""
    return max((len(set(row)) for row in bank.frames.tolist()), default=0)


def clips_longer_than_tracklets(bank: FeatureBank, lengths: list[int], *, kind: str, hint: str) -> str | None:
    """The one warning line when a clip length of ``lengths`` is longer than every ``kind``
    tracklet of ``bank`` ("query" in mf evaluate, "training" in mf train): each such clip repeats
    frames (the samplers' rule for short tracklets), so it is no T-frame clip. ``hint`` says what
    to do and may use ``{longest}``. None when every length fits (or the bank is empty)."""
    longest = longest_tracklet(bank)
    longer = [t for t in sorted(set(lengths)) if longest and t > longest]
    if not longer:
        return None
    return (
        f"T = {', '.join(map(str, longer))}: longer than every {kind} tracklet (the longest has {longest} "
        f"frames), so each of these clips repeats frames and is no {'/'.join(map(str, longer))}-frame "
        f"clip ({hint.format(longest=longest)})"
    )


def encoder_tag(model: nn.Module) -> str:
    """Hash of a model's frozen encoder weights (part of the bank cache key)."""
    encoder = getattr(model, "encoder", None)
    return state_tag(encoder.state_dict() if encoder is not None else {})


def state_tag(state: dict[str, torch.Tensor]) -> str:
    """Hash of a state dict (names and values): :func:`encoder_tag` of the encoder it holds."""
    h = hashlib.sha256()
    for k, v in sorted(state.items()):
        h.update(k.encode())
        h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def _encode(encoder: nn.Module, crops: torch.Tensor, device: torch.device, batch: int = 64) -> torch.Tensor:
    out = [encoder(crops[i : i + batch].to(device)).half().cpu() for i in range(0, len(crops), batch)]
    return torch.cat(out)


def most_confident(candidates: list[int], confidences: Mapping[int, float] | None) -> int | None:
    """The candidate frame with the highest detection confidence (the earliest of equals); None
    when no candidate has one (a ground-truth tracklet of the official JSON carries none)."""
    best: tuple[float, int] | None = None
    for f in candidates:
        c = (confidences or {}).get(int(f))
        if c is None or not np.isfinite(c):
            continue
        if best is None or float(c) > best[0]:
            best = (float(c), int(f))
    return None if best is None else best[1]


def pool_parts(
    candidates: list[int], pool: int, clips: list[int], confidences: Mapping[int, float] | None = None
) -> dict[str, list[int]]:
    """The frames of a test bank's pool by kind, of a video whose query tracklet boxes the sorted
    ``candidates``: ``uniform`` the ``pool`` evenly spaced ones (first and last included), for
    every ``T`` of ``clips`` ``rrs{T}``: the loader's evaluation RRS frames (the centre of each of
    the T equal chunks: :class:`~movingfashion.sampling.RestrictedRandomSampler`), and
    ``maxconf``: the tracklet's most confident detection over all its frames (Max Confidence's
    frame, paper section 5), or its middle frame when its ``confidences`` know none."""
    parts = {"uniform": get_sampler("uniform")(candidates, pool, train=False)}
    for t in clips:
        parts[f"rrs{t}"] = get_sampler("rrs")(candidates, t, train=False)
    best = most_confident(candidates, confidences)
    parts["maxconf"] = [candidates[len(candidates) // 2] if best is None else best]
    return parts


class _PoolSampler(FrameSampler):
    """What the dataset decodes of a video for a test bank: every distinct frame of
    :func:`pool_parts`, in temporal order (the clip length varies); the dataset passes the query
    tracklet's detection confidences as ``scores``."""

    name = "bank-pool"
    fixed_length = False
    scores_from = "confidence"

    def __init__(self, pool: int, clips: list[int]) -> None:
        self.pool, self.clips = pool, clips

    def __call__(self, candidates, num, *, train=False, generator=None, scores=None):
        parts = pool_parts(sorted(int(c) for c in candidates), self.pool, self.clips, scores)
        return sorted({f for frames in parts.values() for f in frames})


def _salient_frames(candidates: list[int], t: int, quality: dict[int, float]) -> list[int]:
    """The salient sampler's evaluation pick of a T-frame clip restricted to the pool frames
    ``quality`` scores: the best-scoring pool frame of each of the T chunks of ``candidates``
    (each chunk holds its RRS centre, a pool frame; ties: nearest the centre)."""
    scores = {f: 1.0 + q for f, q in quality.items()}  # above every frame outside the pool (0)
    return get_sampler("salient")(candidates, t, train=False, scores=scores)


def _video_slots(
    candidates: list[int],
    pooled: list[int],
    pool: int,
    clips: list[int],
    quality: torch.Tensor,
    confidences: Mapping[int, float] | None = None,
) -> dict[str, torch.Tensor]:
    """Where each kind of frame of :func:`pool_parts` (and each T's salient pick) sits in a video's
    pool ``pooled`` (its frames in pool order, ``quality`` their scores)."""
    at = {f: i for i, f in enumerate(pooled)}
    parts = pool_parts(candidates, pool, clips, confidences)
    scores = dict(zip(pooled, quality.tolist(), strict=True))
    for t in clips:
        parts[f"salient{t}"] = _salient_frames(candidates, t, scores)
    return {name: torch.tensor([at[f] for f in frames], dtype=torch.long) for name, frames in parts.items()}


def _pad_rows(rows: list[torch.Tensor]) -> list[torch.Tensor]:
    """Rows of different lengths (dim 0) made as long as the longest, each repeating its last entry."""
    width = max(len(r) for r in rows)
    return [
        torch.cat([r, r[-1:].expand(width - len(r), *r.shape[1:])]) if len(r) < width else r for r in rows
    ]


def build_bank(
    root: str | Path,
    split: str,
    encoder: nn.Module,
    *,
    crop_size: int,
    pool: int,
    cache_dir: str | Path | None = None,
    encoder_tag: str = "encoder",
    select_query: bool | None = None,
    on_bad: str = "raise",
    progress=None,
    positives: ShopMatcher | None = None,
    positive_threshold: float = DEFAULT_THRESHOLD,
    augment: AugmentConfig | None = None,
    augment_seed: int = 0,
    query_min_iou: float = QUERY_MIN_IOU,
    clips: list[int] | None = None,
    on_use: Callable[[BankUse], None] | None = None,
) -> FeatureBank:
    """Encode ``pool`` tracklet crops of every video of ``split`` (and every shop image), cached.

    Reads the folder through :class:`movingfashion.dataset.MovingFashionDataset` (``crop="tracklet"``,
    the ``uniform`` sampler: ``pool`` evenly spaced tracklet frames, first and last included).
    ``select_query`` (default: on for ``test``) replaces each ground-truth tracklet by the
    best-IoU inference tracklet of ``tracklets/<video>.json`` when that file has one (and it
    reaches ``query_min_iou``, default 0: always) (:func:`choose_query`). The gallery holds every shop image of the
    split once (products sharing an image, by resolved path or by bytes, share its entry).
    ``positives`` (phase 2, with ``select_query`` off): in each pool frame the box that scores
    highest against the shop image among the richer file's boxes replaces the dataset's box
    when its score reaches ``positive_threshold`` (:mod:`movingfashion.seam.positives`); such
    frames are marked ``other_detection`` in the bank's truth when the dataset's box was clean.
    ``augment`` (phase 2): its pixel augmentations change each video's crops before the encoder,
    drawn from ``(augment_seed, row)`` (:func:`movingfashion.seam.augment.augment_crops`); the
    expressiveness scores are computed on the crops as decoded.
    ``clips`` (a test bank: the clip lengths evaluated): the pool also holds, for every such ``T``,
    the loader's evaluation RRS frames of the query tracklet, and the bank's ``slots`` say where
    each kind of frame sits (:func:`pool_parts`; the salient picks too, :attr:`FeatureBank.slots`).
    ``on_bad`` is the dataset's: with ``"skip"`` a bad row of the split file is in neither the
    queries nor the gallery, listed once in the bank's ``skipped`` (and counted in the dataset's
    warning). A cached bank that left something out is served to ``"skip"`` callers only: a
    ``"raise"`` caller builds and gets the error. ``on_use`` gets what was done with the cache
    (:class:`~movingfashion.seam.bank_cache.BankUse`: reused or built, and why).
    """
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.dataset import log as dataset_log

    root = Path(root)
    clips = sorted({int(t) for t in clips or ()})
    select_query = (split == "test") if select_query is None else select_query
    cache = None
    cached_why: str | None = None  # what was wrong with a cached file of this very key
    inputs: dict[str, str] = {}
    # parsed once: the key lists it, the dataset takes it; a split listing no product is the one
    # error before the dataset, whose own warning would say it twice
    rows = require_products(root, split)
    if cache_dir is not None:
        from schemas.atomic import sweep_partials

        sweep_partials(cache_dir)  # what a killed run left half-written
        tag = f"{encoder_tag}|q{int(select_query)}"
        if select_query:
            tag += f"|iou{query_min_iou:g}|qr{QUERY_RECORD_VERSION}"
        if positives is not None and not select_query:
            tag += f"|best{positive_threshold:g}"
        if augment is not None and augment.pixels:
            px = (augment.pixel_noise, augment.half_resolution, augment.flip)
            tag += f"|aug{px[0]:g},{px[1]:g},{px[2]:g},s{augment_seed}"
        if clips:
            tag += f"|clips{','.join(map(str, clips))}"
        inputs = bank_inputs(root, split)
        key = bank_key(root, split, tag, pool, crop_size, inputs)
        slot = bank_slot(root, split, tag, pool, crop_size, Path(cache_dir))
        cache = Path(cache_dir) / f"{split}-{key}.pt"
        if cache.is_file():
            try:
                cached = FeatureBank.from_state(
                    {**torch.load(cache, map_location="cpu", weights_only=True), "key": key}
                )
            except Exception:  # noqa: BLE001 - a broken cache is rebuilt
                cache.unlink(missing_ok=True)
                cached_why = f"the cached {cache.name} did not load (removed)"
            else:
                # a bank that left rows out (on_bad='skip') is no answer to on_bad='raise': the
                # build below raises, naming the first bad row (one that skipped nothing is the
                # bank either mode builds, and is served to both)
                if on_bad != "raise" or not cached.skipped:
                    if on_use is not None:
                        n = len(inputs)
                        on_use(
                            BankUse("reused", cache, len(cached), len(cached.gallery_ids), n, why_reused(n))
                        )
                    return cached
                cached_why = (
                    f"the cached {cache.name} left {len(cached.skipped)} bad rows out (an error here)"
                )
    stale = []
    if cache is not None:
        stale = stale_banks(Path(cache_dir), split, key, root, tag, pool, crop_size)
        for old in stale[:1]:
            log.warning(
                "%s: %s; building the %s feature bank again (it replaces that file)",
                old.path,
                old.why(inputs),
                split,
            )
        unowned = unowned_files(Path(cache_dir), split)
        if unowned:
            log.warning("%s", unowned_line(unowned))
    with held_records(dataset_log) as held:  # every row skipped: the error below says it all
        ds = MovingFashionDataset(
            root,
            split,
            frames=pool,
            sampler=_PoolSampler(pool, clips) if clips else "uniform",
            crop="tracklet",
            crop_size=crop_size,
            shop_size=crop_size,
            videos="all",
            train=False,
            on_bad=on_bad,
            empty_tracklet_hint=f"run mf-tracklets build --dataset {root} first",
            split_rows=rows,
            full_tracklet_files=True,  # each video's file read once, in full: its inference tracklets
        )
        if unusable(ds):
            held.clear()
    del rows  # the dataset holds what it uses of them
    if len(ds) == 0 and not ds.skipped:  # not the tracklets: no query and an empty gallery
        raise no_product(split, ds.split_path)
    if len(ds) == 0:
        raise no_usable_videos(split, ds, root)
    device = next(encoder.parameters()).device
    encoder.eval()
    fmaps, frames, positions, conf, sources, noise, quality = [], [], [], [], [], [], []
    pids, videos, parts, classes = [], [], [], []
    query_ious: list[float | None] = []
    best_ious: list[float | None] = []
    fallbacks: list[str | None] = []
    below_min: list[bool] = []
    slots: dict[str, list[torch.Tensor]] = {}
    names: list[str] = []
    # the gallery by image: product -> image key (content hash), image key -> features and path
    image_of: dict[str, str] = {}
    shop_maps: dict[str, torch.Tensor] = {}
    shop_paths: dict[str, str] = {}
    hashes: dict[Path, str] = {}

    def image_key(path: Path) -> str:
        resolved = path.resolve()
        if resolved not in hashes:
            hashes[resolved] = sha256_file(resolved)
        return hashes[resolved]

    it = progress(range(len(ds)), desc=f"features {split}", unit="video") if progress else range(len(ds))
    for i in it:
        rec, vi, planned = ds.plan(i)
        video = rec.videos[vi]
        vt = video.tracklet_file  # the file the dataset read for this product's video
        if select_query:
            q = choose_query(video.boxes, vt, query_min_iou)
            known = noise_known(vt)
        else:  # the dataset's own tracklet, with the truth about it when the richer file has it
            gt = vt.tracklets[vt.ground_truth] if vt is not None and vt.ground_truth is not None else None
            same = gt is not None and all(int(k) in gt.boxes for k in video.boxes)
            q = QueryChoice(video.boxes, {}, "ground_truth", 1.0, dict(gt.noise) if same else {})
            known = noise_known(vt) and same
        unsure: set[int] = set()
        if positives is not None and not select_query:
            q, unsure = _best_match_query(root, rec, video, planned, vt, q, positives, positive_threshold)
        video.boxes, video.confidences = q.boxes, (q.scores or video.confidences)
        item = ds[i]
        if int(item["index"]) != i:  # on_bad="skip": video i did not load (listed in ds.skipped)
            continue
        idx = item["frame_indices"]
        crops = item["frames"]
        if augment is not None and augment.pixels:
            crops, _ = augment_crops(crops, augment, np.random.default_rng([augment_seed, i]))
        fmaps.append(_encode(encoder, crops, device))
        n = max(video.num_frames or int(idx.max()) + 1, 1)
        frames.append(idx)
        positions.append(idx.float() / n)
        conf.append(
            torch.tensor([video.confidences.get(int(f), float("nan")) for f in idx], dtype=torch.float32)
        )
        codes = []
        for f in idx.tolist():
            kind = q.noise.get(int(f))
            if kind is not None and kind not in names:
                names.append(kind)
            if not known or int(f) in unsure:
                codes.append(-1)
            else:
                codes.append(0 if kind is None else 1 + names.index(kind))
        noise.append(torch.tensor(codes, dtype=torch.int8))
        sharp = crop_sharpness(item["frames"].float().numpy())
        expr = frame_quality(
            video.boxes,
            video.width,
            video.height,
            video.confidences,
            sharpness={int(f): float(v) for f, v in zip(idx.tolist(), sharp, strict=True)},
        )
        quality.append(torch.tensor([expr.get(int(f), 0.0) for f in idx], dtype=torch.float32))
        if clips:
            for name, picked in _video_slots(
                sorted(video.boxes), idx.tolist(), pool, clips, quality[-1], video.confidences
            ).items():
                slots.setdefault(name, []).append(picked)
        sources.append(q.source)
        query_ious.append(None if q.iou is None else float(q.iou))
        best_ious.append(None if q.best_iou is None else float(q.best_iou))
        fallbacks.append(q.fallback)
        below_min.append(q.below_min_iou)
        pids.append(rec.product_id)
        videos.append(item["video_path"])
        parts.append(item["partition"])
        classes.append(max(int(item["df2_class"]), 0))
        if rec.product_id not in image_of:
            key_ = image_of[rec.product_id] = image_key(rec.shop_path)
            if key_ not in shop_maps:
                shop_maps[key_] = _encode(encoder, item["shop"][None], device)[0]
                shop_paths[key_] = str(rec.shop_path.relative_to(ds.root))
    # the gallery is every shop image of the split, also of products whose videos were dropped;
    # a bad row (on_bad='skip': in ds.skipped, counted in the dataset's one warning) is in neither
    listing = split_listing(ds.split_path)  # read when the dataset opened: not parsed again
    if listing.bad and on_bad == "raise":  # the file changed since the dataset read it whole
        read_official(ds.split_path)  # raises, naming the first bad product
    for pid, _, img_path in listing.products:
        if pid in image_of:
            continue
        try:
            path = resolve_under(root, img_path, what="img_path", where=pid)
            key_ = image_key(path)
            if key_ not in shop_maps:
                img = read_image(path, (crop_size, crop_size))
                shop = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div(255.0)
                shop_maps[key_] = _encode(encoder, shop[None], device)[0]
                shop_paths[key_] = img_path
        except (MFError, OSError):
            continue
        image_of[pid] = key_
    products_of: dict[str, list[str]] = {}
    for pid in sorted(image_of):
        products_of.setdefault(image_of[pid], []).append(pid)
    entries = sorted(products_of, key=lambda k: products_of[k][0])  # by first product id
    gallery_ids = [products_of[k][0] for k in entries]
    row = {k: g for g, k in enumerate(entries)}
    if clips and fmaps:  # pools of different sizes: padded, no slot points past a video's own
        fmaps, frames, positions, conf, noise, quality = (
            _pad_rows(x) for x in (fmaps, frames, positions, conf, noise, quality)
        )
    bank = FeatureBank(
        product_ids=pids,
        videos=videos,
        partitions=parts,
        classes=classes,
        fmaps=torch.stack(fmaps),
        frames=torch.stack(frames),
        positions=torch.stack(positions),
        conf=torch.stack(conf),
        gallery_ids=gallery_ids,
        shop_fmaps=torch.stack([shop_maps[k] for k in entries]),
        targets=torch.tensor([row[image_of[p]] for p in pids]),
        shop_paths=[shop_paths[k] for k in entries],
        tracklet_sources=sources,
        skipped=[[pid, why] for pid, why in ds.skipped],
        noise=torch.stack(noise),
        noise_names=names,
        quality=torch.stack(quality),
        gallery_products=[products_of[k] for k in entries],
        query_ious=query_ious,
        query_below_min=below_min,
        query_best_ious=best_ious,
        query_fallbacks=fallbacks,
        slots={name: torch.stack(rows) for name, rows in slots.items()},
    )
    if cache is not None:  # the summary first, the bank (what a rerun takes as done) last
        bank.key = key
        atomic_write_text(
            cache.with_suffix(".json"),
            json.dumps(
                {
                    "split": split,
                    "videos": len(bank),
                    "gallery": len(gallery_ids),
                    "shared_shop_images": sum(len(g) > 1 for g in bank.gallery_products),
                    "query_min_iou": query_min_iou if select_query else None,
                    "query_fallbacks": fallback_counts(fallbacks),
                    "query_below_min_iou": sum(below_min),
                    "corrupted_frames": int(bank.corrupted().sum()),
                    "skipped": len(bank.skipped),
                    "slot": slot,
                    "version": BANK_VERSION,
                    "inputs": inputs,
                }
            )
            + "\n",
        )
        save_torch_file(bank.state(), cache)
        remove_stale(stale)
    if on_use is not None:
        why = why_built(cached_why, stale, inputs) if cache is not None else "no cache folder given"
        on_use(BankUse("built", cache, len(bank), len(gallery_ids), len(inputs), why))
    return bank
