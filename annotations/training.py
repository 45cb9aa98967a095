"""Detector training: a YOLO clothing detector (ultralytics) on DeepFashion2 or a YOLO dataset.

DeepFashion2 is read and converted by :mod:`movingfashion.deepfashion2` (``df2_to_yolo``).
The single-frame matcher is pretrained by :mod:`movingfashion.models.pretrain`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from movingfashion.deepfashion2 import check_df2_splits, df2_to_yolo
from movingfashion.models.checkpoints import one_line, pick_device
from movingfashion.models.detectors.base import refuse_other_checkpoint
from movingfashion.models.detectors.ultralytics_backend import (
    ULTRALYTICS_PREFIX,
    check_saved_config,
    check_weights_globals,
    keeping_torch_threads,
    no_eval_models,
    offline_ultralytics,
    refuse_bare_network,
    refuse_nonfinite_network,
)
from schemas.atomic import atomic_copy
from schemas.config import parse_config_text
from schemas.errors import ConfigError, DataFormatError, MFError, ModelError
from schemas.text_input import read_text_input

MODEL_HINT = (
    "pass a model config such as yolov8n.yaml, or YOLO weights (.pt) that exist on disk:"
    " this toolkit never downloads weights (get them yourself and give their path)"
)
DATA_HINT = (
    "give a YOLO data.yaml: a mapping with train: and val: image folders (or lists of them) that"
    " exist, relative to path: or to the yaml's folder, and names: (or nc:)"
)


def check_data_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The YOLO data yaml at ``path``, checked before ultralytics reads it: a mapping whose
    ``train``/``val`` (``validation``) images exist under ``path:`` (default: the yaml's folder,
    a relative one read from the current folder, as ultralytics does) and with ``names`` or
    ``nc``. A ``download:`` key is refused: ultralytics would fetch the dataset from the internet
    into its own datasets folder, outside the output folder. Read as a config file is
    (:func:`schemas.config.parse_config_text`: a key given twice, an alias bomb refused). Raises
    :class:`ConfigError`."""
    p = Path(path)
    where = str(p)
    text = read_text_input(p, "data yaml", ConfigError, hint=DATA_HINT)  # not UTF-8: the byte, and what to do
    data = parse_config_text(p, text, "data yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"not a YOLO data yaml: it holds a {type(data).__name__}, not a mapping",
            where=where,
            hint=DATA_HINT,
        )
    if "download" in data:
        raise ConfigError(
            "the data yaml has a download: key: ultralytics would fetch the dataset from the internet"
            " into its own datasets folder",
            where=where,
            hint="download and unpack the dataset yourself, point train:/val: at it and remove download:",
        )
    if "val" not in data and "validation" in data:
        data = {**data, "val": data["validation"]}
    root_key = data.get("path")
    if root_key is not None and not isinstance(root_key, str):
        raise ConfigError("path: must be a folder name", where=where, hint=DATA_HINT)
    root = Path(root_key) if root_key else p.parent
    if not root.is_dir():
        raise ConfigError(
            f"path: {root_key!r} is not a folder",
            where=where,
            hint="give path: as an existing folder (a relative one is read from the current folder)",
        )
    for key in ("train", "val"):
        value = data.get(key)
        items = [value] if isinstance(value, str) else value
        if not items or not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
            raise ConfigError(
                f"the data yaml has no {key}: images (a folder or a list of them)",
                where=where,
                hint=DATA_HINT,
            )
        for item in items:
            full = root / item
            if not full.exists() and item.startswith("../"):
                full = root / item[3:]  # ultralytics' own fallback
            if not full.exists():
                raise ConfigError(
                    f"{key}: {item!r} not found (looked for {full})", where=where, hint=DATA_HINT
                )
    names, nc = data.get("names"), data.get("nc")
    if names is None and nc is None:
        raise ConfigError("the data yaml has neither names: nor nc:", where=where, hint=DATA_HINT)
    if names is not None and (not isinstance(names, list | dict) or not names):
        raise ConfigError(
            "names: must be a non-empty list or mapping of class names", where=where, hint=DATA_HINT
        )
    if nc is not None:
        if isinstance(nc, bool) or not isinstance(nc, int | float) or nc != int(nc) or nc < 1:
            raise ConfigError(f"nc: {nc!r} is not a positive whole number", where=where, hint=DATA_HINT)
        if names is not None and len(names) != int(nc):
            raise ConfigError(f"names: has {len(names)} classes but nc: {nc}", where=where, hint=DATA_HINT)
    return data


def check_model(model: str | os.PathLike[str]) -> None:
    """Refuse (:class:`ConfigError`) a ``--model`` that is neither an existing file nor a ``.yaml``
    config name (ultralytics would download weights by that name, or a URL), and weights whose
    pickle names more than network layers and plain values (:func:`check_weights_globals`)."""
    text = os.fspath(model)
    is_cfg = Path(text).suffix in (".yaml", ".yml")
    if "://" in text or not (is_cfg or Path(text).is_file()):
        raise ConfigError(
            f"{text!r} is neither an existing file nor a model config (.yaml)",
            where="--model",
            hint=MODEL_HINT,
        )
    if not is_cfg:
        check_weights_globals(text)


@contextlib.contextmanager
def prints_to_stderr() -> Iterator[None]:
    """ultralytics' banner, log and progress bars on stderr while inside: stdout is the command's
    result (``--json``). Its logger's handler holds the stdout of when ultralytics was imported,
    so the handler's stream is switched too, and put back on leaving."""
    logger = logging.getLogger("ultralytics")
    handlers = [
        h
        for h in logger.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    streams = [h.stream for h in handlers]
    # assigned, not setStream(): that flushes the stream it replaces, which raises when it is a
    # stdout closed since the import (a test runner's capture, say)
    for h in handlers:
        _swap_stream(h, sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h, s in zip(handlers, streams, strict=True):
            _swap_stream(h, s)


def _swap_stream(handler: logging.StreamHandler, stream: Any) -> None:
    """Point ``handler`` at ``stream`` without touching the stream it had."""
    handler.acquire()
    try:
        handler.stream = stream
    finally:
        handler.release()


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
    resume: bool = False,
    **train_args,
) -> Path:
    """``resume``: continue the run a kill stopped, from ``out/train/weights/last.pt`` (its epoch,
    optimizer and schedule; the other settings are the checkpoint's); a run that finished is not
    trained again (its ``out/detector.pt`` is returned). Otherwise:

    Convert DeepFashion2 (a root, or a world folder holding ``df2/``: :func:`df2_folder`), or use
    ``data_yaml`` (checked first by :func:`check_data_yaml`: a bad one is refused before anything
    is written), and train a YOLO detector with ultralytics, its prints on stderr.

    Returns ``out/detector.pt`` (a copy of the best weights). CPU runs use ``amp=False``,
    ``workers=0``, ``plots=False``. ``train_args`` go to ultralytics' ``train`` as they are.
    ultralytics runs offline (:func:`offline_ultralytics`: no font, weights or AMP-check model
    download). Failures (a bad data yaml or ``model`` (:func:`check_model`), ultralytics
    failing) raise :class:`MFError`.
    """
    if resume:
        with offline_ultralytics(), no_eval_models():
            return _resume(Path(out), device)
    if data_yaml is None and df2_root is None:
        raise DataFormatError("need a DeepFashion2 root or a data.yaml", where="train_detector")
    if data_yaml is not None:
        check_data_yaml(data_yaml)
    else:
        df2_root = df2_folder(df2_root)
        check_df2_splits(df2_root)  # before ultralytics loads, builds the model and makes --out
    check_model(model)
    with offline_ultralytics(), no_eval_models():
        return _train(df2_root, out, epochs, imgsz, batch, model, device, data_yaml, patience, train_args)


def df2_folder(root: str | os.PathLike[str]) -> Path:
    """The DeepFashion2-format folder of ``root``: ``root`` itself, or ``root/df2`` (a synthetic
    world folder): :func:`movingfashion.deepfashion2.df2_folder`, which every ``--df2`` uses."""
    from movingfashion.deepfashion2.reader import df2_folder as _df2_folder

    return _df2_folder(root)


def _resume(out_dir: Path, device: str | None) -> Path:
    """:func:`train_detector` with ``resume`` (ultralytics offline)."""
    last = out_dir / "train" / "weights" / "last.pt"
    if not last.is_file():
        raise ModelError(
            "nothing to resume: no training checkpoint here",
            where=str(last),
            hint="start the training without --resume (with the same --out)",
        )
    check_weights_globals(last)  # only network layers and plain values: safe to unpickle
    import torch

    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    nets = [ckpt.get(k) for k in ("ema", "model")] if isinstance(ckpt, dict) else []
    if not any(isinstance(n, torch.nn.Module) for n in nets) or not isinstance(ckpt.get("train_args"), dict):
        # not what ultralytics' trainer saves (another checkpoint put there, a file cut short):
        # refused before ultralytics loads it (an uncaught error then), or a finished run's copy
        # makes it OUT/detector.pt
        raise ModelError(
            "nothing to resume: this is no ultralytics training checkpoint (no network or no "
            "train_args in it)",
            where=str(last),
            hint="start the training again without --resume, in a new --out or after removing OUT/train",
        )
    if ckpt.get("epoch", -1) == -1 or ckpt.get("optimizer") is None:  # ultralytics' mark of a finished run
        done = out_dir / "detector.pt"
        return done if done.is_file() else _keep_best(out_dir)
    with prints_to_stderr():
        from ultralytics import YOLO

        yolo = YOLO(str(last))
    with _training_errors("ultralytics could not resume", last, "start the training again without --resume"):
        yolo.train(resume=True, device=_device_arg(device), workers=0)
    return _keep_best(out_dir)


def _device_arg(device: str | None) -> str:
    """The device ultralytics is given: the CUDA one :func:`pick_device` picks, else the CPU."""
    dev = pick_device(device)
    return str(dev) if dev.type == "cuda" else "cpu"


@contextlib.contextmanager
def _training_errors(what: str, where: str | os.PathLike[str], hint: str) -> Iterator[None]:
    """Run an ultralytics training with its prints on stderr and torch's threads kept; a failure
    other than the toolkit's own is one :class:`ModelError` (``what``: its first words)."""
    with prints_to_stderr(), keeping_torch_threads():  # its trainer sets torch's threads on the CPU
        try:
            yield
        except MFError:
            raise
        except Exception as exc:
            raise ModelError(
                f"{what}: {type(exc).__name__}: {one_line(exc)}", where=str(where), hint=hint
            ) from None


def _keep_best(out_dir: Path) -> Path:
    """``out/detector.pt``: a copy of the run's best (else last) weights."""
    wdir = out_dir / "train" / "weights"
    best = wdir / "best.pt" if (wdir / "best.pt").is_file() else wdir / "last.pt"
    if not best.is_file():
        raise ModelError("ultralytics finished without writing weights", where=str(wdir))
    dst = out_dir / "detector.pt"
    _refuse_nonfinite_weights(best, dst)
    atomic_copy(best, dst)  # a copy cut short leaves the previous weights whole
    return dst


def _refuse_nonfinite_weights(weights: Path, dst: Path) -> None:
    """Refuse (:class:`ModelError` naming ``weights``; ``dst`` is not written) the weights a
    training wrote when a value in them is NaN or infinite: a run that diverged, or float16
    values that overflowed (ultralytics saves its weights as float16)."""
    import torch

    check_weights_globals(weights)  # only network layers and plain values: safe to unpickle
    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    net = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if net is not None:
        refuse_nonfinite_network(net, weights, written=f"; {dst} was not written")


def _train(
    df2_root: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    epochs: int,
    imgsz: int,
    batch: int,
    model: str,
    device: str | None,
    data_yaml: str | os.PathLike[str] | None,
    patience: int,
    train_args: dict[str, Any],
) -> Path:
    """:func:`train_detector` once its inputs are checked (ultralytics offline)."""
    with prints_to_stderr():
        from ultralytics import YOLO

        try:
            yolo = YOLO(model)
            check_saved_config(yolo.model)
        except Exception as exc:
            if str(model).endswith(".pt") and Path(model).is_file():  # say what the file is instead
                refuse_other_checkpoint(model, "a YOLO .pt or a model .yaml")  # a matcher, SEAM (G4)
                refuse_bare_network(Path(model))  # a whole pickled network, a bare state dict
            raise ModelError(
                f"cannot build the YOLO model: {ULTRALYTICS_PREFIX.sub('', one_line(exc))}",
                where=str(model),
                hint=MODEL_HINT,
            ) from None
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if data_yaml is None:
        data_yaml = df2_to_yolo(df2_root, out_dir / "yolo-data")
        check_data_yaml(data_yaml)
    dev = _device_arg(device)
    with _training_errors("ultralytics training failed", data_yaml, "check the dataset's images and labels"):
        yolo.train(
            data=str(data_yaml),
            epochs=epochs,
            imgsz=imgsz,
            batch=batch,
            device=dev,
            workers=0,
            plots=False,
            amp=dev != "cpu",
            project=str(out_dir.resolve()),
            name="train",
            exist_ok=True,
            verbose=False,
            patience=patience,
            seed=0,
            deterministic=False,
            **train_args,
        )
    return _keep_best(out_dir)
