"""AsymNet (Cheng et al., ICCV 2017) on SEAM's features: the paper's Table 2 comparison rows.

Built from the AsymNet paper's description, on the same inputs as every other method here: the
frozen crop encoder and the pretrained single-frame extractor f give a 256-d descriptor per
tracklet frame and per shop image.

- Video side: a 2-layer LSTM over the T frame descriptors gives one hidden state per frame. We
  add the LSTM's (zero-initialised) projection to the descriptor, so the hidden states start in
  f's space: ``h_t = x_t + P(LSTM(x)_t)``.
- Similarity network nodes (SNN, the tree's leaves): per hidden state and shop descriptor s, two
  fully connected layers (256 and 1 outputs) on the pair ``[h_t * s, (h_t - s)^2]`` and a logistic
  output: ``y_t = sigmoid(fc2(relu(fc1(.))))``.
- Fusion nodes: a binary tree over the T leaves. Each node weighs its two children by a softmax
  of ``v . x`` (x: the fc1 activations of the child, averaged over the leaves below it) and
  passes on the weighted similarity; the root gives the global similarity. One gate vector v per
  tree level (the paper has one per node; sharing them per level lets one model run on 5, 10
  or 20 frames).
- Training, each part separately (paper section 4.3): first the LSTM and the SNN with a
  logarithmic loss on every (hidden state, shop) pair, then, with those fixed, the fusion
  nodes by maximising the likelihood of the mixture (for a binary label this is the
  cross-entropy of the root's similarity).
- Variants: AsymNet[AVG] and AsymNet[MAX] take the mean or the max of the SNN similarities
  instead of the tree.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from movingfashion.models.checkpoints import (  # checkpoint_kind: evaluate, seam_bench import it here
    checkpoint_kind,  # noqa: F401
    pick_device,
    save_torch_file,
    unreadable_checkpoint,
)
from movingfashion.models.matchrcnn import EmbeddingHead, twin
from movingfashion.seam.config import AsymNetConfig  # defined there: mf config loads it without torch
from movingfashion.seam.train import json_line
from schemas.errors import ModelError

ASYMNET_KIND = "asymnet"
ASYMNET_VERSION = 1
#: Method keys of the three scores an AsymNet gives (``evaluate`` rows).
MODES = {"tree": "asymnet", "avg": "asymnet_avg", "max": "asymnet_max"}


class AsymNet(nn.Module):
    """Frozen encoder + frozen f, then the LSTM, the similarity network nodes and the fusion tree."""

    def __init__(
        self, encoder: nn.Module | None, f: EmbeddingHead, config: AsymNetConfig | None = None
    ) -> None:
        super().__init__()
        self.config = config or AsymNetConfig()
        c = self.config
        self.encoder = encoder
        self.f = twin(f).eval()  # frozen, batch-norm statistics included
        for p in self.frozen_parameters():
            p.requires_grad_(False)
        dim = self.f.dim
        self.lstm = nn.LSTM(dim, c.hidden, num_layers=c.layers, batch_first=True)
        self.lstm_out = nn.Linear(c.hidden, dim)
        nn.init.zeros_(self.lstm_out.weight)
        nn.init.zeros_(self.lstm_out.bias)
        self.fc1 = nn.Linear(2 * dim, c.snn_hidden)
        self.fc2 = nn.Linear(c.snn_hidden, 1)
        self.gates = nn.ModuleList(nn.Linear(c.snn_hidden, 1, bias=False) for _ in range(c.levels))
        for g in self.gates:
            nn.init.zeros_(g.weight)  # starts as the plain average of the leaves

    def frozen_parameters(self) -> list[nn.Parameter]:
        enc = list(self.encoder.parameters()) if self.encoder is not None else []
        return enc + list(self.f.parameters())

    def train(self, mode: bool = True) -> AsymNet:
        super().train(mode)
        self.f.eval()  # frozen: the same features as the other methods
        if self.encoder is not None:
            self.encoder.eval()
        return self

    def snn_parameters(self) -> list[nn.Parameter]:
        return [
            *self.lstm.parameters(),
            *self.lstm_out.parameters(),
            *self.fc1.parameters(),
            *self.fc2.parameters(),
        ]

    def fusion_parameters(self) -> list[nn.Parameter]:
        return list(self.gates.parameters())

    @torch.no_grad()
    def describe(self, fmaps: torch.Tensor) -> torch.Tensor:
        """Frozen descriptors f: [..., C, h, w] -> [..., dim]."""
        lead = fmaps.shape[:-3]
        self.f.eval()
        return self.f(fmaps.reshape(-1, *fmaps.shape[-3:]).float()).view(*lead, -1)

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """LSTM hidden states in f's space: [B, T, dim] -> [B, T, dim]."""
        return x + self.lstm_out(self.lstm(x)[0])

    def snn(self, h: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Similarity network nodes on broadcast pairs: (logits [...], fc1 activations [..., H])."""
        h, s = torch.broadcast_tensors(h, s)
        a = torch.relu(self.fc1(torch.cat([h * s, (h - s) ** 2], -1)))
        return self.fc2(a).squeeze(-1), a

    def tree(self, y: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Fuse leaf similarities ``y`` [..., T] by the binary tree, gates on ``feats`` [..., T, H]."""
        level = 0
        while y.shape[-1] > 1:
            if y.shape[-1] % 2:  # an odd node is passed up unchanged (paired with itself)
                y = torch.cat([y, y[..., -1:]], -1)
                feats = torch.cat([feats, feats[..., -1:, :]], -2)
            gate = self.gates[min(level, len(self.gates) - 1)]
            e = gate(feats).squeeze(-1)  # [..., M]
            pair = e.unflatten(-1, (-1, 2)).softmax(-1)
            y = (pair * y.unflatten(-1, (-1, 2))).sum(-1)
            feats = feats.unflatten(-2, (-1, 2)).mean(-2)
            level += 1
        return y[..., 0]

    def pair_scores(self, x: torch.Tensor, shops: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every tracklet [Q, T, dim] against every shop [G, dim]: {mode: [Q, G]} in [0, 1]."""
        h = self.hidden_states(x)[:, None]  # [Q, 1, T, dim]
        z, a = self.snn(h, shops[None, :, None, :])  # [Q, G, T], [Q, G, T, H]
        y = torch.sigmoid(z)
        return {"tree": self.tree(y, a), "avg": y.mean(-1), "max": y.max(-1).values}

    @torch.no_grad()
    def score_matrices(
        self, x: torch.Tensor, shops: torch.Tensor, chunk: int = 16
    ) -> dict[str, torch.Tensor]:
        """:meth:`pair_scores` in chunks of queries (keys are the evaluation's method names)."""
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in MODES}
        for i in range(0, len(x), chunk):
            for k, v in self.pair_scores(x[i : i + chunk], shops).items():
                parts[k].append(v.cpu())
        return {MODES[k]: torch.cat(v) for k, v in parts.items()}


def _batches(n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    steps = max(1, n // batch)
    return [np.resize(order, (s + 1) * batch)[s * batch :] for s in range(steps)]


def _balanced_bce(logits: torch.Tensor, labels: torch.Tensor, probs: bool = False) -> torch.Tensor:
    """Mean of the positives' and the negatives' log losses (the paper's logarithmic loss)."""
    lab = labels.float()
    if probs:
        ce = F.binary_cross_entropy(logits.clamp(1e-6, 1 - 1e-6), lab, reduction="none")
    else:
        ce = F.binary_cross_entropy_with_logits(logits, lab, reduction="none")
    pos = lab > 0.5
    parts = [ce[pos].mean()] if bool(pos.any()) else []
    if bool((~pos).any()):
        parts.append(ce[~pos].mean())
    return torch.stack(parts).mean()


def train_asymnet(
    model: AsymNet,
    descriptors: torch.Tensor,
    shop_descriptors: torch.Tensor,
    targets: torch.Tensor,
    *,
    log: Callable[[str], None] | None = None,
    progress: Callable | None = None,
) -> list[dict[str, Any]]:
    """Both training stages on frozen descriptors: ``descriptors`` [V, P, dim] (P pool frames per
    video), ``shop_descriptors`` [G, dim], ``targets`` [V] gallery row of each video. Frames are
    drawn by Restricted Random Sampling from the pool. Returns one history row per epoch.
    ``progress``: the progress hook (:func:`schemas.cli_support.progress`), one bar per stage
    over its epochs."""
    from movingfashion.seam.augment import rrs_pool_indices

    c = model.config
    torch.manual_seed(c.seed)
    rng = np.random.default_rng([c.seed, 17])
    n, pool = descriptors.shape[:2]
    if n < 2:
        raise ModelError("AsymNet needs at least 2 training videos (in-batch negatives)", where="train split")
    batch = min(c.batch_size, n)
    history: list[dict[str, Any]] = []
    stages = [
        ("snn", c.snn_epochs, model.snn_parameters()),
        ("fusion", c.fusion_epochs, model.fusion_parameters()),
    ]
    model.train()
    for number, (stage, epochs, params) in enumerate(stages, start=1):
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        # an epoch on frozen descriptors is short: one bar per stage, an epoch a step
        rounds: Iterable[int] = range(epochs)
        if progress:
            rounds = progress(rounds, desc=f"AsymNet stage {number}/2 ({stage})", total=epochs, unit="epoch")
        for epoch in rounds:
            losses = []
            for step, idx in enumerate(_batches(n, batch, rng)):
                sel = torch.tensor([rrs_pool_indices(pool, c.frames, train=True, rng=rng) for _ in idx])
                x = descriptors[torch.as_tensor(idx)[:, None], sel].float()
                tgt = targets[torch.as_tensor(idx)]
                uniq, inv = torch.unique(tgt, return_inverse=True)
                labels = (inv[:, None] == torch.arange(len(uniq))[None, :]).long()  # [B, U]
                shops = shop_descriptors[uniq].float()
                h = model.hidden_states(x)[:, None]
                z, a = model.snn(h, shops[None, :, None, :])  # [B, U, T]
                if stage == "snn":
                    loss = _balanced_bce(z, labels[..., None].expand_as(z))
                else:
                    loss = _balanced_bce(model.tree(torch.sigmoid(z), a), labels, probs=True)
                _stop_if_diverged(float(loss.detach()), stage, epoch, step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
            row = {"stage": stage, "epoch": epoch + 1, "loss": float(np.mean(losses))}
            history.append(row)
            if log:
                log(json_line(row))
    for p in model.parameters():
        p.requires_grad_(False)
    return history


def _stop_if_diverged(loss: float, stage: str, epoch: int, step: int) -> None:
    """Raise :class:`ModelError` when the loss is not finite, before the step that would carry it
    into the weights (nothing is written: ``OUT/last.pt`` comes once both stages are done)."""
    if not math.isfinite(loss):
        raise ModelError(
            f"AsymNet diverged: the loss is not finite at stage {stage}, epoch {epoch + 1}, step {step + 1}"
            f" (loss {loss}; no checkpoint was written)",
            hint="rerun with a lower lr (--config), or check the training data",
        )


def save_asymnet(
    path: str | os.PathLike[str],
    model: AsymNet,
    arch: dict[str, Any],
    history: list,
    train_data: dict[str, Any] | None = None,
) -> None:
    """Write an AsymNet checkpoint atomically; ``train_data``: what it was trained on
    (:func:`movingfashion.seam.checkpoint.train_record`, for ``mf evaluate``'s held-out check).

    Refuses (:class:`ModelError`, nothing written) weights that are not finite: a last step whose
    loss was finite can still carry the weights to inf or NaN."""
    from movingfashion.models.matchrcnn import nonfinite_tensors

    bad = nonfinite_tensors(model.state_dict())
    if bad:
        name, count = next(iter(bad.items()))
        raise ModelError(
            f"AsymNet diverged: weights not finite after training ({name}: {count} values;"
            " no checkpoint was written)",
            where=str(path),
            hint="rerun with a lower lr (--config), or check the training data",
        )
    ckpt = {
        "kind": ASYMNET_KIND,
        "version": ASYMNET_VERSION,
        "config": model.config.model_dump(mode="json"),
        "arch": arch,
        "train_data": train_data or {},
        "model": model.state_dict(),
        "extra": {"history": history},
    }
    save_torch_file(ckpt, path)


def load_asymnet(
    path: str | os.PathLike[str], device: torch.device | str | None = None
) -> tuple[AsymNet, dict[str, Any]]:
    """Rebuild an AsymNet checkpoint written by ``mf train --method asymnet`` (eval mode)."""
    from movingfashion.models.matchrcnn import SingleFrameMatcher

    p = Path(path)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError("checkpoint not found", where=str(p)) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types on corrupt files
        raise ModelError(unreadable_checkpoint(exc), where=str(p)) from None
    if (
        not isinstance(ckpt, dict)
        or ckpt.get("kind") != ASYMNET_KIND
        or ckpt.get("version") != ASYMNET_VERSION
    ):
        raise ModelError("not an AsymNet checkpoint of this version", where=str(p))
    try:
        arch = ckpt["arch"]
        if arch.get("type") == "matcher":
            m = SingleFrameMatcher(**arch.get("matcher_config", {}))
            encoder, f = m.encoder, m.f
        else:
            encoder, f = None, EmbeddingHead(arch["in_channels"], arch["mid"], arch["hidden"], arch["dim"])
        model = AsymNet(encoder, f, AsymNetConfig.model_validate(ckpt["config"]))
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise ModelError(
            f"checkpoint does not fit AsymNet: {str(exc).splitlines()[0]}", where=str(p)
        ) from None
    dev = torch.device(device) if device is not None else pick_device(None)
    return model.to(dev).eval(), ckpt


def run_asymnet(
    dataset: str | Path,
    out_dir: str | Path,
    cfg: AsymNetConfig,
    *,
    matcher: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``mf train --method asymnet``: the train bank of a dataset folder (shared with SEAM's runs
    through ``cache_dir``), both training stages (``cfg.snn_epochs`` then ``cfg.fusion_epochs``),
    ``OUT/last.pt`` written once both are done (no resume)."""
    from movingfashion.models import load_matcher
    from movingfashion.seam.checkpoint import model_from_matcher, train_record
    from movingfashion.seam.config import ModelConfig
    from movingfashion.seam.features import build_bank, encoder_tag
    from movingfashion.seam.train import matcher_origin, resolve_matcher_path, seed_everything

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "last.pt").is_file():
        raise ModelError(
            "a checkpoint already exists here", where=str(out / "last.pt"), hint="choose another --out"
        )
    device = pick_device(None)  # --device, $MF_DEVICE, else CUDA when present
    mpath = resolve_matcher_path(matcher, out)
    sf = load_matcher(mpath, device=device)
    seam, arch = model_from_matcher(sf, ModelConfig())  # the arch record and encoder tag SEAM uses
    arch["matcher_path"] = str(mpath) if mpath else "embedded default"
    bank = build_bank(
        dataset,
        "train",
        sf.encoder,
        crop_size=sf.crop_size,
        pool=max(cfg.pool_frames, cfg.frames),
        cache_dir=Path(cache_dir) if cache_dir else out / "features",
        encoder_tag=encoder_tag(seam),
        select_query=False,
        on_bad=cfg.on_bad,
        progress=progress,
    )
    seed_everything(cfg.seed)  # the new LSTM / SNN / gate weights follow --seed
    model = AsymNet(sf.encoder, sf.f, cfg).to(device)
    v, p = bank.fmaps.shape[:2]
    desc = torch.cat([model.describe(bank.fmaps[i : i + 32].to(device)) for i in range(0, v, 32)])
    shops = model.describe(bank.shop_fmaps.to(device))
    history = train_asymnet(model, desc, shops, bank.targets.to(device), log=log, progress=progress)
    save_asymnet(out / "last.pt", model, arch, history, train_record(dataset, bank.product_ids))
    return {
        "method": "asymnet",
        "snn_epochs": cfg.snn_epochs,
        "fusion_epochs": cfg.fusion_epochs,
        "checkpoint": str(out / "last.pt"),
        "matcher": arch["matcher_path"],
        "matcher_via": matcher_origin(matcher, mpath, out),
        "train_videos": len(bank),
        "train_products": len(bank.gallery_ids),
        "history": history,
        "final_loss": history[-1]["loss"] if history else None,
    }
