"""Feature banks: frozen crop-encoder feature maps of a fixed pool of tracklet frames per video.

The detector side of SEAM is frozen in phase 2 and at test time, so its output for a frame
never changes. A bank reads, once, ``pool`` equally spaced tracklet crops of each video through
``MovingFashionDataset`` (``crop="tracklet"``), runs the crop encoder and keeps the feature
maps (float16). Training draws ``T`` of the pool frames per step with the
loader's Restricted Random Sampling (random in training, chunk centres in evaluation), so each
frame is decoded once instead of once per epoch. Banks are cached on disk by content key and
reused on reruns.

Query tracklet of a video (paper section 5): when the dataset has the richer
``tracklets/<video stem>.json`` (several tracklets per video), the tracklet with the highest
average IoU with the ground-truth tracklet; otherwise the ground-truth tracklet itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from schemas.atomic import atomic_open, atomic_write_text, sha256_file
from schemas.dataset import VideoTracklets
from schemas.errors import DataFormatError
from schemas.geometry import box_iou

BANK_VERSION = 1


def mean_iou(candidate: dict[int, list[float]], reference: dict[int, list[float]]) -> float:
    """Average IoU over the reference frames (0 where the candidate has no box)."""
    if not reference:
        return 0.0
    return float(np.mean([box_iou(candidate[f], b) if f in candidate else 0.0 for f, b in reference.items()]))


def choose_query(gt: dict[int, list[float]], rich: VideoTracklets | None) -> tuple[dict, dict, str, float]:
    """(boxes, scores, source, iou) of the query tracklet: best mean IoU with ``gt`` among ``rich``."""
    if rich is None or not rich.tracklets or not gt:
        return gt, {}, "ground_truth", 1.0
    best = max(range(len(rich.tracklets)), key=lambda i: mean_iou(rich.tracklets[i].boxes, gt))
    trk = rich.tracklets[best]
    return dict(trk.boxes), dict(trk.scores), f"tracklets[{best}]", mean_iou(trk.boxes, gt)


@dataclass
class FeatureBank:
    """Frozen feature maps of the query tracklets of one split and of its shop images.

    ``fmaps`` [V, P, C, h, w] float16; ``frames`` [V, P] frame indices; ``positions`` [V, P] frame
    index / video length; ``conf`` [V, P] detector confidence (NaN when unknown);
    ``shop_fmaps`` [G, C, h, w]; ``targets`` [V] gallery row of each video's product.
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
        )


def encoder_tag(model: nn.Module) -> str:
    """Hash of a model's frozen encoder weights (part of the bank cache key)."""
    h = hashlib.sha256()
    encoder = getattr(model, "encoder", None)
    if encoder is not None:
        for k, v in sorted(encoder.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def _encode(encoder: nn.Module, crops: torch.Tensor, device: torch.device, batch: int = 64) -> torch.Tensor:
    out = [encoder(crops[i : i + batch].to(device)).half().cpu() for i in range(0, len(crops), batch)]
    return torch.cat(out)


def bank_key(root: Path, split: str, encoder_tag: str, pool: int, crop_size: int) -> str:
    """Content key of a bank: split file, entries and tracklet files, encoder, pool and crop size."""
    h = hashlib.sha256(f"v{BANK_VERSION}|{split}|{encoder_tag}|{pool}|{crop_size}".encode())
    for p in [root / f"{split}.json", root / "entries.jsonl", *sorted((root / "tracklets").glob("*.json"))]:
        if p.is_file():
            h.update(p.name.encode())
            h.update(sha256_file(p).encode())
    return h.hexdigest()[:16]


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
) -> FeatureBank:
    """Encode ``pool`` tracklet crops of every video of ``split`` (and every shop image), cached.

    Reads the folder through :class:`movingfashion.dataset.MovingFashionDataset` (``crop="tracklet"``,
    the ``uniform`` sampler: ``pool`` evenly spaced tracklet frames, first and last included).
    ``select_query`` (default: on for ``test``) replaces each ground-truth tracklet by the
    best-IoU tracklet of ``tracklets/<video>.json`` when that file exists.
    """
    from movingfashion.dataset import MovingFashionDataset, load_richer_tracklets

    root = Path(root)
    select_query = (split == "test") if select_query is None else select_query
    cache = None
    if cache_dir is not None:
        key = bank_key(root, split, f"{encoder_tag}|q{int(select_query)}", pool, crop_size)
        cache = Path(cache_dir) / f"{split}-{key}.pt"
        if cache.is_file():
            try:
                return FeatureBank.from_state(torch.load(cache, map_location="cpu", weights_only=False))
            except Exception:  # noqa: BLE001 - a broken cache is rebuilt
                cache.unlink(missing_ok=True)
    ds = MovingFashionDataset(
        root,
        split,
        frames=pool,
        sampler="uniform",
        crop="tracklet",
        crop_size=crop_size,
        shop_size=crop_size,
        videos="all",
        train=False,
        on_bad=on_bad,
    )
    if len(ds) == 0:
        raise DataFormatError(f"no usable videos in the {split} split", where=str(ds.split_path))
    richer = load_richer_tracklets(root / "tracklets") if select_query else {}
    device = next(encoder.parameters()).device
    encoder.eval()
    fmaps, frames, positions, conf, sources = [], [], [], [], []
    pids, videos, parts, classes = [], [], [], []
    shop_maps: dict[str, torch.Tensor] = {}
    shop_paths: dict[str, str] = {}
    it = progress(range(len(ds)), desc=f"features {split}", unit="video") if progress else range(len(ds))
    for i in it:
        rec, vi, _ = ds.plan(i)
        video = rec.videos[vi]
        boxes, scores, source, _iou = choose_query(video.boxes, richer.get(Path(video.rel_path).name))
        video.boxes, video.confidences = boxes, (scores or video.confidences)
        item = ds[i]
        idx = item["frame_indices"]
        fmaps.append(_encode(encoder, item["frames"], device))
        n = max(video.num_frames or int(idx.max()) + 1, 1)
        frames.append(idx)
        positions.append(idx.float() / n)
        conf.append(
            torch.tensor([video.confidences.get(int(f), float("nan")) for f in idx], dtype=torch.float32)
        )
        sources.append(source)
        pids.append(rec.product_id)
        videos.append(item["video_path"])
        parts.append(item["partition"])
        classes.append(max(int(item["df2_class"]), 0))
        if rec.product_id not in shop_maps:
            shop_maps[rec.product_id] = _encode(encoder, item["shop"][None], device)[0]
            shop_paths[rec.product_id] = str(rec.shop_path.relative_to(root))
    gallery_ids = sorted(shop_maps)
    row = {g: k for k, g in enumerate(gallery_ids)}
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
        shop_fmaps=torch.stack([shop_maps[g] for g in gallery_ids]),
        targets=torch.tensor([row[p] for p in pids]),
        shop_paths=[shop_paths[g] for g in gallery_ids],
        tracklet_sources=sources,
        skipped=[[pid, why] for pid, why in ds.skipped],
    )
    if cache is not None:
        with atomic_open(cache, "wb") as fh:
            torch.save(bank.state(), fh)
        atomic_write_text(
            cache.with_suffix(".json"),
            json.dumps(
                {
                    "split": split,
                    "videos": len(bank),
                    "gallery": len(gallery_ids),
                    "skipped": len(bank.skipped),
                }
            )
            + "\n",
        )
    return bank


def synthetic_bank(
    n_products: int,
    videos_per_product: int = 1,
    pool: int = 12,
    channels: int = 8,
    size: int = 2,
    noise: float = 0.6,
    distractor_rate: float = 0.3,
    seed: int = 0,
    classes: int = 3,
    return_distractors: bool = False,
):
    """A bank of random feature maps with known structure (tests and benchmarks).

    Each product has a prototype map; its shop map is the prototype plus a little noise, each
    tracklet frame the prototype plus ``noise`` or, with probability ``distractor_rate``, a wrong
    detection (one background map shared by all videos, plus noise) whose confidence is drawn a
    little higher on average.
    """
    g = torch.Generator().manual_seed(seed)
    proto = torch.randn(n_products, channels, size, size, generator=g)
    shop = proto + 0.1 * torch.randn(proto.shape, generator=g)
    v = n_products * videos_per_product
    owner = torch.arange(n_products).repeat_interleave(videos_per_product)
    frames = proto[owner][:, None] + noise * torch.randn(v, pool, channels, size, size, generator=g)
    distract = torch.rand(v, pool, generator=g) < distractor_rate
    background = torch.randn(channels, size, size, generator=g)  # wrong detections look alike
    frames[distract] = background + noise * torch.randn(
        int(distract.sum()), channels, size, size, generator=g
    )
    conf = (0.5 + 0.2 * torch.rand(v, pool, generator=g) + 0.25 * distract.float()).clamp(max=1)
    idx = torch.arange(pool).repeat(v, 1) * 3
    ids = [f"p{i:05d}" for i in range(n_products)]
    parts = ["regular" if i % 3 else "hard" for i in range(n_products)]
    bank = FeatureBank(
        product_ids=[ids[o] for o in owner.tolist()],
        videos=[f"videos/v{i}.mp4" for i in range(v)],
        partitions=[parts[o] for o in owner.tolist()],
        classes=[1 + o % classes for o in owner.tolist()],
        fmaps=frames.half(),
        frames=idx,
        positions=idx.float() / (3 * pool),
        conf=conf,
        gallery_ids=ids,
        shop_fmaps=shop.half(),
        targets=owner.clone(),
        shop_paths=[
            f"imgs/{i}.{'jpg' if p == 'regular' else 'png'}" for i, p in zip(ids, parts, strict=True)
        ],
        tracklet_sources=["ground_truth"] * v,
    )
    return (bank, distract) if return_distractors else bank
