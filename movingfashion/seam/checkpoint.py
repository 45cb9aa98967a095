"""SEAM checkpoints: tagged files (kind "seam") holding the model, optimizer (and AMP loss scaler),
epoch, variant, configs and what the model was trained on (``train_data``: dataset folder and
product ids, for ``mf evaluate``'s held-out check).

The architecture record (``arch``) says how to rebuild the model before loading the weights:
``{"type": "matcher", "matcher_config": {...}, "matcher_tag": ...}`` (the crop encoder, f and m of
``movingfashion.models.SingleFrameMatcher``) or ``{"type": "head", "in_channels": ...}`` (f and m
only, for banks of precomputed feature maps: tests, benchmarks).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from movingfashion.models.checkpoints import pick_device, read_tagged_checkpoint, save_torch_file
from movingfashion.models.matchrcnn import EmbeddingHead, MatchHead, SingleFrameMatcher
from movingfashion.seam.config import ModelConfig, Variant
from movingfashion.seam.model import SeamModel
from schemas.errors import ModelError

SEAM_KIND = "seam"
#: 2: concatenation-form non-local block and post-NLB sum; 3: the attention's tracklet-agreement
#: term; older files load as they were made.
SEAM_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


def model_config_of(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The ModelConfig fields of a checkpoint; older files get the head they were trained as
    (version 1: embedded-Gaussian block, pre-NLB sum, block output random when the scorer started
    at zero; versions 1 and 2: no agreement term in g)."""
    cfg = dict(ckpt["model_config"])
    if ckpt.get("version") in (1, 2):
        cfg.setdefault("attention_context", False)
    if ckpt.get("version") == 1:
        cfg.setdefault("nlb_form", "gaussian")
        cfg.setdefault("aggregate", "pre_nlb")
        cfg.setdefault("nlb_zero_init", not cfg.get("zero_init_attention", True))
    return cfg


def model_from_matcher(matcher: SingleFrameMatcher, config: ModelConfig) -> tuple[SeamModel, dict[str, Any]]:
    """SEAM on top of a single-frame matcher: frozen encoder, f~/m~ initialised from its f, m."""
    arch = {
        "type": "matcher",
        "matcher_config": dict(matcher.config()),
        "matcher_tag": getattr(matcher, "tag", ""),
    }
    return SeamModel(matcher.encoder, matcher.f, matcher.m, config), arch


def head_arch(in_channels: int, mid: int = 256, hidden: int = 1024, dim: int = 256) -> dict[str, Any]:
    return {"type": "head", "in_channels": in_channels, "mid": mid, "hidden": hidden, "dim": dim}


def build_model(arch: dict[str, Any], config: ModelConfig) -> SeamModel:
    """A freshly initialised SeamModel of the recorded architecture."""
    if arch.get("type") == "matcher":
        matcher = SingleFrameMatcher(**arch.get("matcher_config", {}))
        return SeamModel(matcher.encoder, matcher.f, matcher.m, config)
    if arch.get("type") == "head":
        f = EmbeddingHead(arch["in_channels"], arch["mid"], arch["hidden"], arch["dim"])
        return SeamModel(None, f, MatchHead(arch["dim"]), config)
    raise ValueError(f"unknown architecture type {arch.get('type')!r}")


def crop_size_of(ckpt: dict[str, Any]) -> int:
    """Side of the square crops the checkpoint's encoder reads (96 when the file does not say)."""
    return int((ckpt.get("arch") or {}).get("matcher_config", {}).get("crop_size", 96))


def checkpoint_encoder_tag(ckpt: dict[str, Any]) -> str:
    """The :func:`~movingfashion.seam.features.encoder_tag` of the frozen encoder a checkpoint
    holds: recorded in ``arch`` by newer files, else computed from its ``encoder.*`` weights."""
    from movingfashion.seam.features import state_tag

    tag = (ckpt.get("arch") or {}).get("encoder_tag")
    if tag:
        return str(tag)
    prefix = "encoder."
    return state_tag({k[len(prefix) :]: v for k, v in ckpt["model"].items() if k.startswith(prefix)})


def train_record(dataset: str | os.PathLike[str] | None, product_ids: list[str]) -> dict[str, Any]:
    """What a checkpoint keeps about its training data: the dataset folder (resolved) and the
    sorted ids of the products trained on, their count and SHA-256 (``mf evaluate`` checks that
    the test split holds none of them)."""
    ids = sorted(set(product_ids))
    return {
        "dataset": str(Path(dataset).resolve()) if dataset is not None else None,
        "products": ids,
        "count": len(ids),
        "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
    }


def train_overlap(record: dict[str, Any] | None, test_ids: list[str]) -> dict[str, Any]:
    """How many of ``test_ids`` a checkpoint's :func:`train_record` holds (``recorded`` False and
    no count for older files, which keep no record)."""
    test = set(test_ids)
    if not record or "products" not in record:
        return {"recorded": False, "test_products": len(test)}
    shared = sorted(test & set(record["products"]))
    return {
        "recorded": True,
        "train_dataset": record.get("dataset"),
        "train_products": int(record.get("count", len(record["products"]))),
        "test_products": len(test),
        "overlap": len(shared),
        "overlap_ids": shared[:20],
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    model: SeamModel,
    arch: dict[str, Any],
    *,
    epoch: int,
    phase: int = 2,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
    train_config: dict[str, Any] | None = None,
    train_data: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (a crash never leaves a half-written file).

    ``scaler``: the AMP loss scaler, kept when it is enabled (``--resume`` restores it);
    ``train_data``: :func:`train_record` of the training split."""
    ckpt = {
        "kind": SEAM_KIND,
        "version": SEAM_VERSION,
        "variant": model.variant.value,
        "phase": phase,
        "epoch": epoch,
        "model_config": model.config.model_dump(mode="json"),
        "arch": arch,
        "train_config": train_config or {},
        "train_data": train_data or {},
        "model": model.state_dict(),
        # the batch norm that arrived trained (kept frozen): a loaded model freezes the same set
        "pretrained_bn": model.pretrained_bn_names(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "extra": extra or {},
    }
    save_torch_file(ckpt, path)


#: what to do with an AsymNet checkpoint where a SEAM one was expected (``--resume`` into an
#: AsymNet run's folder, the library's loaders)
ASYMNET_HINT = (
    "this is an AsymNet run (mf train --method asymnet): mf evaluate takes it beside a SEAM checkpoint "
    "(--checkpoint SEAM_RUN --checkpoint ASYMNET_RUN); it cannot be resumed: train SEAM in another --out"
)


def read_checkpoint(
    path: str | os.PathLike[str], *, variant: str | Variant | None = None, hint: str | None = None
) -> dict[str, Any]:
    """Read and check a checkpoint; ``variant`` (when given) must match the one it was trained as.

    Raises :class:`ModelError` naming the file when it is missing, corrupt, not a SEAM checkpoint,
    of another version or of another variant. ``hint``: what to do when the file is missing,
    unreadable or of another version (default: how to train one).
    """
    p = Path(path)
    ckpt = read_tagged_checkpoint(
        p,
        kind=SEAM_KIND,
        version=READABLE_VERSIONS,
        what="SEAM",
        hint=hint or "train one with `mf train --phase 2 ...` (it writes OUT/last.pt)",
        kind_hint="single-frame matcher files go to --matcher, SEAM checkpoints to --checkpoint",
        kind_hints={"asymnet": ASYMNET_HINT},
    )
    if variant is not None and ckpt.get("variant") != Variant(variant).value:
        raise ModelError(
            f"checkpoint is variant {ckpt.get('variant')!r}, but {Variant(variant).value!r} was asked for",
            where=str(p),
            hint="pass the checkpoint of that variant, or drop/adjust --variant",
        )
    return ckpt


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    variant: str | Variant | None = None,
    device: torch.device | str | None = None,
) -> tuple[SeamModel, dict[str, Any]]:
    """Rebuild the model of a checkpoint and load its weights (eval mode)."""
    ckpt = read_checkpoint(path, variant=variant)
    try:
        config = ModelConfig.model_validate(model_config_of(ckpt))
        if config.variant.value != ckpt["variant"]:
            raise ValueError("model_config.variant disagrees with variant")
        model = build_model(ckpt["arch"], config)
        model.load_state_dict(ckpt["model"])
        if isinstance(ckpt.get("pretrained_bn"), list):
            model.set_pretrained_bn(ckpt["pretrained_bn"])
        else:  # written before the set was recorded: the layers with trained statistics
            model.find_pretrained_bn()
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise ModelError(
            f"checkpoint does not fit a SEAM {ckpt.get('variant')!r} model: {str(exc).splitlines()[0]}",
            where=str(path),
            hint="the file was edited or written by other code; retrain it",
        ) from None
    return model.to(pick_device(device)).eval(), ckpt
