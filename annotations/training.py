"""Detector training: a YOLO clothing detector (ultralytics) on DeepFashion2 or a YOLO dataset.

DeepFashion2 is read and converted by :mod:`movingfashion.deepfashion2` (``df2_to_yolo``).
The single-frame matcher is pretrained by :mod:`movingfashion.models.pretrain`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from movingfashion.deepfashion2 import df2_to_yolo
from movingfashion.models.checkpoints import pick_device
from schemas.errors import DataFormatError, ModelError


def train_detector(
    df2_root: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    epochs: int = 30,
    imgsz: int = 320,
    batch: int = 16,
    model: str = "yolov8n.yaml",
    device: str | None = None,
    data_yaml: str | os.PathLike[str] | None = None,
    patience: int = 50,
    **train_args,
) -> Path:
    """Convert DeepFashion2 (or use ``data_yaml``) and train a YOLO detector with ultralytics.

    Returns ``out/detector.pt`` (a copy of the best weights). CPU runs use ``amp=False``,
    ``workers=0``, ``plots=False``. ``train_args`` go to ultralytics' ``train`` as they are.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if data_yaml is None:
        if df2_root is None:
            raise DataFormatError("need a DeepFashion2 root or a data.yaml", where="train_detector")
        data_yaml = df2_to_yolo(df2_root, out_dir / "yolo-data")
    dev = pick_device(device)
    try:
        yolo = YOLO(model)
    except Exception as exc:
        raise ModelError(
            f"cannot build the YOLO model: {str(exc)[:200]}",
            where=str(model),
            hint="pass a model config such as yolov8n.yaml or a .pt file",
        ) from None
    yolo.train(
        data=str(data_yaml),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        device=str(dev) if dev.type == "cuda" else "cpu",
        workers=0,
        plots=False,
        amp=dev.type == "cuda",
        project=str(out_dir.resolve()),
        name="train",
        exist_ok=True,
        verbose=False,
        patience=patience,
        seed=0,
        deterministic=False,
        **train_args,
    )
    wdir = out_dir / "train" / "weights"
    best = wdir / "best.pt" if (wdir / "best.pt").is_file() else wdir / "last.pt"
    if not best.is_file():
        raise ModelError("ultralytics finished without writing weights", where=str(wdir))
    dst = out_dir / "detector.pt"
    shutil.copyfile(best, dst)
    return dst
