"""Phase 1: Match-RCNN pretraining (crop encoder + single-frame head f, m) on DeepFashion2 pairs.

Phase 1 calls annotations' pretraining (``annotations.training.pretrain_matcher``, the code
behind ``mf pretrain-matcher``). When that cannot be imported, this module's small fallback trains :class:`movingfashion.models.SingleFrameMatcher` on the shop/user pairs of a
DeepFashion2-format folder (``train/image``, ``train/annos``): a shop item and a user item are a
positive pair when they share ``pair_id`` and ``style > 0``; every other shop item in the batch
is a negative (2-class cross-entropy, balanced). The detector is trained separately
(``mf train-detector``) and is not needed here: SEAM's frozen encoder is the matcher's.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from schemas.errors import DataFormatError


def df2_root(path: str | Path) -> Path:
    """A DeepFashion2-format root: ``path`` itself, or ``path/df2`` (a synthetic world folder)."""
    p = Path(path)
    for cand in (p, p / "df2"):
        if (cand / "train" / "annos").is_dir():
            return cand
    raise DataFormatError(
        "no DeepFashion2-format train/annos folder here",
        where=str(p),
        hint="pass a DeepFashion2 root or a synthetic world folder (it holds df2/)",
    )


def df2_pairs(
    root: Path, split: str = "train"
) -> dict[tuple[int, int], dict[str, list[tuple[Path, list[float]]]]]:
    """(pair_id, style) -> {"shop": [(image, box)], "user": [...]} for items with style > 0."""
    out: dict[tuple[int, int], dict[str, list[tuple[Path, list[float]]]]] = {}
    for anno in sorted((root / split / "annos").glob("*.json")):
        try:
            data = json.loads(anno.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"malformed JSON at line {exc.lineno}", where=str(anno)) from None
        image = root / split / "image" / f"{anno.stem}.jpg"
        source = data.get("source")
        for key, item in data.items():
            if not key.startswith("item") or not isinstance(item, dict) or int(item.get("style", 0)) <= 0:
                continue
            slot = out.setdefault(
                (int(data.get("pair_id", -1)), int(item["style"])), {"shop": [], "user": []}
            )
            if source in slot:
                slot[source].append((image, [float(v) for v in item["bounding_box"]]))
    return {k: v for k, v in out.items() if v["shop"] and v["user"]}


def _annotations_pretrain() -> Callable[..., Any] | None:
    for target in ("annotations.training:pretrain_matcher",):
        module, attr = target.split(":")
        try:
            fn = getattr(importlib.import_module(module), attr, None)
        except ImportError:
            continue
        if callable(fn):
            return fn
    return None


def run_phase1(
    data: str | Path,
    out_dir: str | Path,
    *,
    steps: int = 300,
    seed: int = 0,
    batch_size: int = 16,
    lr: float = 0.01,
    use_annotations: bool = True,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Pretrain the single-frame matcher for ``steps`` steps; writes ``OUT/matcher.pt``
    (phase 2 starts from it)."""
    root = df2_root(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "matcher.pt"
    fn = _annotations_pretrain() if use_annotations else None
    if fn is not None:
        params = inspect.signature(fn).parameters
        kwargs = {k: v for k, v in {"steps": steps, "seed": seed}.items() if k in params}
        result = fn(root, target, **kwargs)
        return {
            "phase": 1,
            "matcher": str(target),
            "via": f"{fn.__module__}.{fn.__name__}",
            "result": result if isinstance(result, dict | str | int | float) else str(result),
        }
    return _fallback_pretrain(
        root, target, steps=steps, seed=seed, batch_size=batch_size, lr=lr, progress=progress, log=log
    )


def _fallback_pretrain(
    root: Path,
    target: Path,
    *,
    steps: int,
    seed: int,
    batch_size: int,
    lr: float,
    progress: Callable | None,
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    from movingfashion.dataset import read_image
    from movingfashion.models import SingleFrameMatcher, crops_from_frames
    from movingfashion.seam.train import balanced_pair_loss

    torch.manual_seed(seed)
    pairs = df2_pairs(root)
    if len(pairs) < 2:
        raise DataFormatError(
            f"only {len(pairs)} shop/user pairs with style > 0",
            where=str(root / "train" / "annos"),
            hint="phase 1 needs at least 2 pairs",
        )
    keys = sorted(pairs)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    matcher = SingleFrameMatcher().to(device)
    size = matcher.crop_size
    cache: dict[tuple[Path, tuple[float, ...]], torch.Tensor] = {}

    def crop(image: Path, box: list[float]) -> torch.Tensor:
        k = (image, tuple(box))
        if k not in cache:
            cache[k] = crops_from_frames([read_image(image)], [box], size)[0]
        return cache[k]

    opt = torch.optim.SGD(matcher.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    rng = np.random.default_rng(seed)
    history = []
    batch = max(2, min(batch_size, len(keys)))
    epochs = max(1, -(-steps // max(1, len(keys) // batch)))
    for epoch in range(epochs):
        matcher.train()
        order = rng.permutation(len(keys))
        steps = max(1, len(keys) // batch)
        it = (
            progress(range(steps), desc=f"phase 1 epoch {epoch + 1}/{epochs}", unit="step")
            if progress
            else range(steps)
        )
        losses = []
        for s in it:
            chosen = [keys[i] for i in order[s * batch : (s + 1) * batch]]
            shops = torch.stack(
                [crop(*pairs[k]["shop"][rng.integers(len(pairs[k]["shop"]))]) for k in chosen]
            )
            users = torch.stack(
                [crop(*pairs[k]["user"][rng.integers(len(pairs[k]["user"]))]) for k in chosen]
            )
            a = matcher.embed(users.to(device))
            b = matcher.embed(shops.to(device))
            logits = matcher.m.fc((a[:, None, :] - b[None, :, :]) ** 2)
            loss = balanced_pair_loss(logits, torch.eye(len(chosen), device=device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses))})
        if log:
            log(json.dumps(history[-1]))
    matcher.eval()
    tag = matcher.save(
        target,
        half=False,
        meta={"trained_by": "movingfashion.seam.phase1 fallback", "pairs": len(keys), "epochs": epochs},
    )
    return {
        "phase": 1,
        "matcher": str(target),
        "tag": tag,
        "via": "movingfashion.seam.phase1 fallback",
        "pairs": len(keys),
        "history": history,
    }


def df2_from_dataset(
    dataset: str | Path, out_dir: str | Path, *, split: str = "train", frames_per_video: int = 3
) -> Path:
    """A DeepFashion2-format folder built from a MovingFashion split (when no DF2 set is at hand).

    Each product becomes one pair: its shop image (``source: shop``, whole image) and
    ``frames_per_video`` evenly spaced tracklet frames of its videos (``source: user``, the
    tracklet box). Only for the synthetic world and smoke tests: the paper pretrains on the
    real DeepFashion2. Returns the root (``OUT/train/{image,annos}``).
    """
    import cv2

    from movingfashion.dataset import read_image
    from movingfashion.media.readers import read_frames
    from schemas.atomic import atomic_write_json
    from schemas.official import read_official

    root = Path(dataset)
    out = Path(out_dir)
    (out / "train" / "image").mkdir(parents=True, exist_ok=True)
    (out / "train" / "annos").mkdir(parents=True, exist_ok=True)
    entries = {}
    ep = root / "entries.jsonl"
    if ep.is_file():
        for line in ep.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                entries[str(row["product_id"])] = int(row.get("df2_class") or 1)
    n = 0

    def write(img: np.ndarray, anno: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if not ok:
            raise DataFormatError("cannot encode a JPEG", where=str(out))
        (out / "train" / "image" / f"{n:06d}.jpg").write_bytes(buf.tobytes())
        atomic_write_json(out / "train" / "annos" / f"{n:06d}.json", anno)

    for pair_id, (pid, entry) in enumerate(sorted(read_official(root / f"{split}.json").items()), 1):
        cls = entries.get(pid, 1)
        shop = read_image(root / entry.img_path)
        h, w = shop.shape[:2]
        write(
            shop,
            {
                "source": "shop",
                "pair_id": pair_id,
                "item1": {"category_id": cls, "style": 1, "bounding_box": [0, 0, w, h]},
            },
        )
        for vi, video in enumerate(entry.video_paths):
            boxes = entry.tracklet_boxes(vi)
            if not boxes:
                continue
            keys = sorted(boxes)
            pick = sorted({keys[int(round(p))] for p in np.linspace(0, len(keys) - 1, frames_per_video)})
            for f, img in zip(pick, read_frames(root / video, pick), strict=True):
                write(
                    img,
                    {
                        "source": "user",
                        "pair_id": pair_id,
                        "item1": {
                            "category_id": cls,
                            "style": 1,
                            "bounding_box": [float(v) for v in boxes[f]],
                        },
                    },
                )
    return out
