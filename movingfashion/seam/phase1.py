"""Phase 1: Match-RCNN pretraining (crop encoder + single-frame head f, m) on DeepFashion2 pairs.

Phase 1 is the one matcher pretraining path, :func:`movingfashion.models.pretrain.pretrain_matcher`
(the code behind ``mf pretrain-matcher``): a shop item and a user item are a positive pair when
they share ``pair_id`` and ``style > 0``; every other item in the batch is a negative (2-class
cross-entropy, balanced). The detector is trained separately (``mf train-detector``) and is not
needed here: SEAM's frozen encoder is the matcher's. :func:`df2_from_dataset` makes a
DeepFashion2-format set from a MovingFashion split when no DeepFashion2 set is at hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from movingfashion.deepfashion2 import resolve_root
from movingfashion.models.pretrain import pretrain_matcher
from schemas.official import OnBad
from schemas.paths import inside
from schemas.redact import redacted_logger

log = redacted_logger(__name__)

#: where :func:`run_phase1`'s training code lives (reported as ``via``)
VIA = f"{pretrain_matcher.__module__}.{pretrain_matcher.__name__}"


def run_phase1(
    data: str | Path,
    out_dir: str | Path,
    *,
    steps: int = 300,
    seed: int = 0,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
    **pretrain: Any,
) -> dict[str, Any]:
    """Pretrain the single-frame matcher for ``steps`` steps on a DeepFashion2-format root (or a
    synthetic world folder holding ``df2/``); writes ``OUT/matcher.pt`` (phase 2 starts from it).

    ``pretrain`` goes to :func:`~movingfashion.models.pretrain.pretrain_matcher` (``crop_size``,
    ``p``, ``k``, ``lr``, ...). ``log`` gets a JSON line every 50 steps and after the last one.
    """
    root = resolve_root(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "matcher.pt"

    def step_log(step: int, loss: float) -> None:
        if log is not None and ((step + 1) % 50 == 0 or step + 1 == steps):
            log(json.dumps({"phase": 1, "step": step + 1, "loss": round(loss, 4)}))

    result = pretrain_matcher(
        root, target, steps=steps, seed=seed, log=step_log, progress=progress, **pretrain
    )
    return {"phase": 1, "matcher": str(target), "via": VIA, "result": result}


def df2_from_dataset(
    dataset: str | Path,
    out_dir: str | Path,
    *,
    split: str = "train",
    frames_per_video: int = 3,
    on_bad: OnBad = "skip",
) -> Path:
    """A DeepFashion2-format folder built from a MovingFashion split (when no DF2 set is at hand).

    Each product becomes one pair: its shop image (``source: shop``, whole image) and
    ``frames_per_video`` evenly spaced tracklet frames of its videos (``source: user``, the
    tracklet box). Only for the synthetic world and smoke tests: the paper pretrains on the
    real DeepFashion2. Returns the root (``OUT/train/{image,annos}``).

    ``on_bad`` (:data:`schemas.official.OnBad`): ``"skip"`` holds out a product whose split-file
    entry the reader refuses (a bad box, a malformed number, a frame key twice, a missing field),
    named in a warning, and makes pairs of the others; ``"raise"`` refuses the split, naming it.
    """
    from movingfashion.media.images import encode_image, read_image
    from movingfashion.media.readers import read_frames
    from schemas.atomic import atomic_write_bytes, atomic_write_json
    from schemas.dataset import read_entry_classes
    from schemas.official import read_official_on_bad, warn_held_out

    root = Path(dataset)
    out = Path(out_dir)
    (out / "train" / "image").mkdir(parents=True, exist_ok=True)
    (out / "train" / "annos").mkdir(parents=True, exist_ok=True)
    ep = root / "entries.jsonl"
    entries = read_entry_classes(ep) if ep.is_file() else {}
    n = 0

    def write(img: np.ndarray, anno: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        atomic_write_bytes(out / "train" / "image" / f"{n:06d}.jpg", encode_image(img, ".jpg", quality=95))
        atomic_write_json(out / "train" / "annos" / f"{n:06d}.json", anno)

    official, held = read_official_on_bad(root / f"{split}.json", on_bad)
    warn_held_out(held, "the DeepFashion2-format pairs", log)
    for pair_id, (pid, entry) in enumerate(sorted(official.items()), 1):
        cls = entries.get(pid, 1)
        shop = read_image(inside(root, entry.img_path, what="img_path", where=pid))
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
            for f, img in zip(
                pick, read_frames(inside(root, video, what="video_paths", where=pid), pick), strict=True
            ):
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
