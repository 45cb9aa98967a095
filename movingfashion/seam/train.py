"""Phase-2 training of SEAM Match-RCNN (phase 1 is the matcher pretraining, see ``phase1.py``).

Phase 2 (paper section 4.4): the detector / crop encoder is frozen (its feature maps come from
a :class:`~movingfashion.seam.features.FeatureBank`), f~ and m~ start as copies of the
pretrained f and m, NLB and g start random. Each step takes ``batch_size`` videos with their
pseudo-labelled tracklets (the dataset's tracklets, built by the training tracking procedure;
with ``positives: best_match``, the default, each frame's box is the detection that matches the
shop best, see :mod:`movingfashion.seam.positives`),
draws ``T`` frames each by Restricted Random Sampling (or as ``augment`` says, see
:mod:`movingfashion.seam.augment`) and scores every tracklet against every
shop image of the batch: its own shop is the positive, every other one a negative (2-class
cross-entropy, negatives weighted 1.0 and positives 0.3 by default). The single-frame head f, m is
fine-tuned on the same pairs, every detection of the tracklet counting as a positive.
SGD with momentum; AMP on CUDA only; DDP when launched by torchrun (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import atexit
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from movingfashion.models.checkpoints import pick_device
from movingfashion.models.matchrcnn import balanced_pair_loss
from movingfashion.seam.augment import frame_slots, frame_videos
from movingfashion.seam.checkpoint import read_checkpoint, save_checkpoint
from movingfashion.seam.config import TrainConfig
from movingfashion.seam.features import FeatureBank, clips_longer_than_tracklets
from movingfashion.seam.model import SeamModel
from movingfashion.seam.peers import peer_loss_named
from schemas.config import env_int
from schemas.errors import ConfigError, ModelError
from schemas.redact import redacted_logger

logger = redacted_logger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def weighted_pair_loss(
    logits: torch.Tensor, labels: torch.Tensor, pos_weight: float = 0.3, neg_weight: float = 1.0
) -> torch.Tensor:
    """2-class cross-entropy over every pair with class weights (the official multi-frame loss:
    negatives 1.0, positives 0.3), normalised by the summed weights."""
    weight = torch.tensor([neg_weight, pos_weight], dtype=torch.float32, device=logits.device)
    return F.cross_entropy(logits.reshape(-1, 2).float(), labels.reshape(-1).long(), weight=weight)


class Phase2Objective(nn.Module):
    """Loss of one batch: multi-frame pairs plus (weighted) single-frame pairs.

    Returns (loss to minimise, multi-frame loss, full objective): while ``multi_frame`` is off
    the multi-frame term is computed for the log but left out of the loss."""

    def __init__(self, model: SeamModel, cfg: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.single_frame_weight = cfg.single_frame_weight
        self.cfg = cfg
        self.multi_frame = True

    def pair_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.cfg.pair_loss == "balanced":
            return balanced_pair_loss(logits, labels)
        return weighted_pair_loss(logits, labels, self.cfg.pos_weight, self.cfg.neg_weight)

    def forward(
        self,
        track: torch.Tensor,
        shops: torch.Tensor,
        labels: torch.Tensor,
        context: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        head = self.model.head
        desc, _ = head.encode_tracklet(track, context=context)
        shop_desc = head.encode_shop(shops)
        logits = head.match.pair_logits(desc, shop_desc)  # [B, U, 2]
        loss_mf = self.pair_loss(logits, labels)
        loss = loss_mf if self.multi_frame else loss_mf * 0.0  # keeps every parameter in the graph (DDP)
        full = loss_mf.detach()
        if self.single_frame_weight > 0:
            b, t = track.shape[:2]
            f = self.model.f
            if track.dim() == 3:  # cached trunk outputs (frozen conv stacks)
                x, s = f.embed_trunk(track.flatten(0, 1)), f.embed_trunk(shops)
            else:
                x, s = f(track.flatten(0, 1)), f(shops)  # [B*T, dim]
            sf_logits = self.model.m.pair_logits(x, s)
            sf = self.single_frame_weight * balanced_pair_loss(sf_logits, labels.repeat_interleave(t, 0))
            loss = loss + sf
            full = full + sf.detach()
        return loss, loss_mf.detach(), full


def lr_factor(progress: float, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """Learning-rate multiplier at ``progress`` epochs into the run: linear warm-up from 1/10 over
    ``warmup_epochs``, then ``lr_gamma`` after each fraction of ``lr_steps``."""
    f = 1.0
    if cfg.warmup_epochs > 0 and progress < cfg.warmup_epochs:
        f = 0.1 + 0.9 * progress / cfg.warmup_epochs
    for frac in cfg.lr_steps:
        if progress >= frac * cfg.epochs:
            f *= cfg.lr_gamma
    return f


def _dist_env() -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts the process group when launched by torchrun."""
    torchrun = "unset it, or launch with torchrun, which sets it"
    world = env_int("WORLD_SIZE", 1, 1, torchrun)
    cuda = torch.cuda.is_available()
    local = env_int("LOCAL_RANK", 0, 0, torchrun)
    # one process: --device / $MF_DEVICE, else CUDA when present; under torchrun each rank its own GPU
    device = torch.device(f"cuda:{local}" if cuda else "cpu") if world > 1 else pick_device(None)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            if cuda:
                torch.cuda.set_device(device)
            start_process_group(backend="nccl" if cuda else "gloo")
        return dist.get_rank(), dist.get_world_size(), device
    return 0, 1, device


def start_process_group(**init: Any) -> None:
    """``init_process_group(**init)``, and end the group when the process exits: a gloo group
    left to the interpreter's teardown can abort the process (``terminate called without an
    active exception``, SIGABRT) after its work is done, failing a finished torchrun."""
    import torch.distributed as dist

    dist.init_process_group(**init)
    atexit.register(end_process_group, dist.group.WORLD)


def end_process_group(group: Any) -> None:
    """Destroy ``group`` if it is still the live default group (a caller may have ended it,
    or started another one, already)."""
    import torch.distributed as dist

    if dist.is_initialized() and dist.group.WORLD is group:
        dist.destroy_process_group()


def param_groups(model: SeamModel, cfg: TrainConfig) -> list[dict[str, Any]]:
    """New modules (NLB, g's per-frame Linear) at ``lr``, the scale of g's agreement term at
    ``context_lr`` without weight decay, copies of pretrained heads (f~, f, m) at
    ``finetune_lr`` (without the conv stacks of f~ and f when ``train_trunk`` is off), m~ at
    ``match_lr`` (None, the default: with f~ at ``finetune_lr``; 0: not trained)."""
    head = model.head
    if not cfg.train_trunk:
        for p in list(head.extractor.convs.parameters()) + list(model.f.convs.parameters()):
            p.requires_grad_(False)
    new = [p for mod in (head.nlb, head.scorer) if mod is not None for p in mod.parameters()]
    context = list(head.context.parameters()) if head.context is not None else []
    match = [p for p in head.match.parameters() if p.requires_grad]
    if cfg.match_lr == 0:
        for p in match:
            p.requires_grad_(False)  # kept as pretrained (weight decay would still move it)
        match = []
    separate = cfg.match_lr is not None
    tuned = [p for p in head.extractor.parameters() if p.requires_grad] + ([] if separate else match)
    if cfg.single_frame_weight > 0:
        tuned += [p for p in list(model.f.parameters()) + list(model.m.parameters()) if p.requires_grad]
    else:
        for p in list(model.f.parameters()) + list(model.m.parameters()):
            p.requires_grad_(False)
    groups = [{"params": tuned, "lr": cfg.finetune_lr, "name": "finetune_lr"}]
    if separate and match:
        groups.append({"params": match, "lr": cfg.match_lr, "name": "match_lr"})
    if new:
        groups.append({"params": new, "lr": cfg.lr, "name": "lr"})
    if context:
        groups.append({"params": context, "lr": cfg.context_lr, "weight_decay": 0.0, "name": "context_lr"})
    return groups


def warn_clips_longer_than_tracklets(bank: FeatureBank, cfg: TrainConfig, rank: int = 0) -> None:
    """One warning (rank 0) when ``cfg.frames`` is longer than every training tracklet: each clip
    then repeats frames, as mf evaluate warns for its queries
    (:func:`~movingfashion.seam.features.clips_longer_than_tracklets`)."""
    line = clips_longer_than_tracklets(
        bank,
        [cfg.frames],
        kind="training",
        hint="pass --frames up to {longest}, or train on a split with longer tracklets",
    )
    if line and rank == 0:
        logger.warning("%s", line)


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``name: old -> new`` for every setting both records hold with different values (nested
    records by dotted name)."""
    out = []
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


#: training settings that do not shape what is learnt: a resumed run may change them (a run
#: stopped by a corrupt video under ``on_bad=raise`` continues with ``on_bad=skip``)
OPERATIONAL = ("on_bad", "save_every")


def resume_differences(ckpt: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """Settings of ``cfg`` other than those ``ckpt`` was trained with, the number of epochs aside:
    the head's architecture (``model.*``) and every training setting the checkpoint records."""
    from movingfashion.seam.checkpoint import model_config_of

    diffs = _differences(model_config_of(ckpt), cfg.model.model_dump(mode="json"), "model.")
    skip = ("model", "epochs", *OPERATIONAL)
    old = {k: v for k, v in (ckpt.get("train_config") or {}).items() if k not in skip}
    new = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in skip}
    return diffs + _differences(old, new)


def check_resume(ckpt: dict[str, Any], cfg: TrainConfig, last: Path, *, extend: bool = False) -> None:
    """Refuse (:class:`ConfigError`, naming ``last``) to continue ``ckpt`` with ``cfg`` when the
    settings or the architecture differ, when ``cfg.epochs`` is below the epochs it holds, or
    when the run's length changes without ``extend``."""
    done = int(ckpt.get("epoch", 0))
    if cfg.epochs < done:
        raise ConfigError(
            f"it holds {done} trained epochs, more than --epochs {cfg.epochs}",
            where=str(last),
            hint=f"pass --epochs {done} or more to continue it, or choose another --out",
        )
    diffs = resume_differences(ckpt, cfg)
    if diffs:
        raise ConfigError(
            "cannot resume with other settings than the run was started with: " + "; ".join(diffs),
            where=str(last),
            hint="rerun with the first run's settings (only --epochs may change, with --extend), "
            "or train in a new --out folder",
        )
    planned = (ckpt.get("train_config") or {}).get("epochs")
    if planned is not None and int(planned) != cfg.epochs and not extend:
        raise ConfigError(
            f"the run was started for {planned} epochs, not {cfg.epochs}",
            where=str(last),
            hint=f"pass --epochs {planned} to continue it, or add --extend to make it a {cfg.epochs}-epoch"
            f" run (the learning rates from epoch {done + 1} on are then those of an uninterrupted"
            f" {cfg.epochs}-epoch run)",
        )


def check_resume_world(ckpt: dict[str, Any], world: int, batch: int, last: Path) -> None:
    """Refuse to continue ``ckpt`` on another number of processes than it was trained on: the
    steps per epoch and the batch every step sees would change mid-run (checkpoints written
    before the number was kept are not checked)."""
    was = (ckpt.get("extra") or {}).get("world_size")
    if was is not None and int(was) != world:
        raise ConfigError(
            f"the run was trained on {was} process(es) (a batch of {batch * int(was)} per step), "
            f"not {world} ({batch * world} per step)",
            where=str(last),
            hint=f"continue it with `torchrun --nproc_per_node {was}` (or without torchrun for 1), "
            "or train in a new --out folder",
        )


def check_resume_data(ckpt: dict[str, Any], record: dict[str, Any], last: Path) -> None:
    """Refuse to continue ``ckpt`` on other training products than it was trained on."""
    old = ckpt.get("train_data") or {}
    if old.get("sha256") and old["sha256"] != record["sha256"]:
        raise ConfigError(
            f"the training split holds other products ({record['count']}) than the run was started"
            f" on ({old.get('count')} products of {old.get('dataset')})",
            where=str(last),
            hint="resume with the dataset of the first run, or train in a new --out folder",
        )


def restore_scaler(scaler: torch.amp.GradScaler, state: dict[str, Any] | None) -> bool:
    """Load a saved AMP loss-scaler state into ``scaler`` when both are there (a run resumed
    without AMP, or from a file written without it, starts a fresh scale); True when loaded."""
    if not state or not scaler.is_enabled():
        return False
    scaler.load_state_dict(state)
    return True


def _schedule(ckpt: dict[str, Any] | None, start: int, epochs: int) -> list[dict[str, int]]:
    """The run's learning-rate schedules: ``{"from_epoch", "epochs"}`` per length it was run for
    (a second entry after ``--extend``)."""
    segments = list((ckpt or {}).get("extra", {}).get("schedule", []))
    if not segments and ckpt is not None and (ckpt.get("train_config") or {}).get("epochs"):
        segments = [{"from_epoch": 0, "epochs": int(ckpt["train_config"]["epochs"])}]
    if not segments or segments[-1]["epochs"] != epochs:
        segments.append({"from_epoch": start, "epochs": epochs})
    return segments


def json_line(row: dict[str, Any]) -> str:
    """``row`` as one line of strict JSON: a number that is not finite (a value that does not
    exist) is written ``null``, never ``NaN`` (which strict readers, ``jq`` and ``JSON.parse``, refuse)."""
    return json.dumps(_finite_or_none(row), allow_nan=False)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def _write_history(out: Path, history: list[dict[str, Any]]) -> None:
    """``history.jsonl``: one JSON line per epoch that ``last.pt`` holds (rewritten atomically)."""
    from schemas.atomic import atomic_write_text

    atomic_write_text(out / "history.jsonl", "".join(json_line(row) + "\n" for row in history))


def train_phase2(
    bank: FeatureBank,
    model: SeamModel,
    arch: dict[str, Any],
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    extend: bool = False,
    train_data: dict[str, Any] | None = None,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
    trunk_cache: str | Path | None = None,
) -> dict[str, Any]:
    """Train the multi-frame head on a bank; writes ``out_dir/last.pt`` and ``history.jsonl`` (one
    JSON line per epoch the checkpoint holds) every ``save_every`` epochs and at the end.

    ``resume``: continue from ``out_dir/last.pt`` (none there: start at epoch 0) with the same
    variant, architecture, settings and training products (:func:`check_resume`); a finished
    run is not retrained. The learning-rate schedule (warm-up, ``lr_steps`` fractions of
    ``cfg.epochs``) is a function of the epoch, so a resumed run gets the learning rates of an
    uninterrupted one. ``extend``: ``cfg.epochs`` may differ from the run's (not below the
    epochs done); from the resume point on the learning rates are then those of an
    uninterrupted ``cfg.epochs``-epoch run (the epochs done keep those they were trained with:
    each history row records its learning rates and the run length they were computed for).
    ``train_data``: :func:`~movingfashion.seam.checkpoint.train_record` of the training split
    (default: the bank's products, no dataset folder). Returns a summary (epochs run, final
    loss, checkpoint path).
    """
    from movingfashion.seam.checkpoint import train_record

    out = Path(out_dir)
    rank, world, device = _dist_env()
    if rank == 0:
        from schemas.atomic import sweep_partials

        sweep_partials(out)  # a checkpoint a killed run left half-written
    seed_everything(cfg.seed)
    model = model.to(device)
    core = Phase2Objective(model, cfg)
    objective: nn.Module = core
    optimizer = torch.optim.SGD(
        param_groups(model, cfg), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    for group in optimizer.param_groups:
        group["base_lr"] = group["lr"]
    train_data = train_data or train_record(None, bank.product_ids)
    start = 0
    history: list[dict[str, Any]] = []
    last = out / "last.pt"
    ckpt = None
    if resume and last.is_file():
        ckpt = read_checkpoint(last, variant=model.variant, hint=DAMAGED_LAST)
        check_resume(ckpt, cfg, last, extend=extend)
        check_resume_data(ckpt, train_data, last)
        check_resume_world(ckpt, world, cfg.batch_size, last)
        try:
            model.load_state_dict(ckpt["model"])
            if ckpt.get("optimizer"):
                optimizer.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ModelError(
                f"cannot resume: {str(exc).splitlines()[0]}",
                where=str(last),
                hint="use a new --out folder or the same settings as the first run",
            ) from None
        start = int(ckpt["epoch"])
        history = list(ckpt.get("extra", {}).get("history", []))
        if rank == 0:
            _write_history(out, history)  # a run killed between the two writes left it behind
        if log:
            log(f"resuming {last} after epoch {start}")
    schedule = _schedule(ckpt, start, cfg.epochs)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        objective = DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None
        )
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if ckpt is not None:
        restore_scaler(scaler, ckpt.get("scaler"))
    n, pool = len(bank), bank.fmaps.shape[1]
    if n < 2:
        raise ModelError("phase 2 needs at least 2 training videos (in-batch negatives)", where="train split")
    batch = min(cfg.batch_size, n)
    warn_clips_longer_than_tracklets(bank, cfg, rank)
    frames_all, shop_all = bank.fmaps, bank.shop_fmaps
    if not cfg.train_trunk:
        frames_all, shop_all = trunk_features(model, bank, device, cache_dir=trunk_cache)
    mf_after = cfg.multi_frame_after if cfg.multi_frame_after < cfg.epochs else 0
    saved = start  # the epoch last.pt holds
    for epoch in range(start, cfg.epochs):
        model.train()
        core.multi_frame = epoch >= mf_after
        rng = np.random.default_rng([cfg.seed, epoch])  # same order on every rank
        order = rng.permutation(n)
        steps = n // (batch * world) or 1
        losses, mf_losses = [], []
        it = range(steps)
        if progress and rank == 0:
            it = progress(it, desc=f"epoch {epoch + 1}/{cfg.epochs}", total=steps, unit="step")
        first_factor = None
        for step in it:
            chunk = np.resize(order, (step + 1) * batch * world)[step * batch * world :]
            idx = chunk[rank * batch : (rank + 1) * batch]
            sel = [frame_slots(pool, cfg.frames, cfg.augment, rng) for _ in idx]
            # rng is shared: draw every rank's frames so ranks stay in step
            for _ in range((world - 1) * len(idx)):
                frame_slots(pool, cfg.frames, cfg.augment, rng)
            rows = frame_videos(chunk.tolist(), bank.targets, cfg.frames, cfg.augment, rng)
            rows = rows[rank * batch : rank * batch + len(idx)]  # [B, T] bank row of every frame
            slots = torch.as_tensor(sel, dtype=torch.long)
            track = frames_all[rows, slots]
            targets = bank.targets[torch.as_tensor(idx)]
            uniq, inv = torch.unique(targets, return_inverse=True)
            labels = (inv[:, None] == torch.arange(len(uniq))[None, :]).long()
            track = track.to(device, torch.float32)
            context = None
            if track.dim() == 3 and model.head.context is not None:  # cached trunk outputs
                context = bank.fmaps[rows, slots]
                context = context.to(device, torch.float32)
            shops = shop_all[uniq].to(device, torch.float32)
            factor = lr_factor(epoch + step / steps, cfg, steps)
            first_factor = factor if first_factor is None else first_factor
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
                loss, loss_mf, full = objective(track, shops, labels.to(device), context)
            _stop_if_diverged(full, world, epoch, step, last, saved)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(full))
            mf_losses.append(float(loss_mf))
        row = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "loss_multi_frame": float(np.mean(mf_losses)),
            "multi_frame": core.multi_frame,
            "lr_factor_first": round(first_factor, 6),
            "lr_factor": round(factor, 6),
            "lrs": {
                str(g.get("name", i)): round(float(g["lr"]), 10) for i, g in enumerate(optimizer.param_groups)
            },
            "schedule_epochs": cfg.epochs,
            "steps": steps,
        }
        history.append(row)
        if log and rank == 0:
            log(json_line(row))
        save_now = (epoch + 1) % cfg.save_every == 0 or epoch + 1 == cfg.epochs
        if save_now:  # every rank (DDP keeps their weights equal): they stop together
            _stop_if_broken(model, epoch, last, saved)
        if rank == 0 and save_now:
            save_checkpoint(
                last,
                model,
                arch,
                epoch=epoch + 1,
                optimizer=optimizer,
                scaler=scaler,
                train_config=cfg.model_dump(mode="json"),
                train_data=train_data,
                extra={
                    "history": history,
                    "schedule": schedule,
                    "world_size": world,
                    "train_sizes": {"videos": n, "products": len(bank.gallery_ids)},
                },
            )
            _write_history(out, history)
        if save_now:
            saved = epoch + 1  # the epoch last.pt holds (every rank knows it)
    if world > 1:
        import torch.distributed as dist

        # DDP syncs buffers (batch-norm statistics) before each forward; sync the last update too
        for buf in model.buffers():
            dist.broadcast(buf, 0)
        dist.barrier()
    return {
        "checkpoint": str(last),
        "variant": model.variant.value,
        "epochs": cfg.epochs,
        "epochs_run": cfg.epochs - start,
        "history": history,
        "rank": rank,
        "world_size": world,
        "final_loss": history[-1]["loss"] if history else None,
    }


@torch.no_grad()
def trunk_features(
    model: SeamModel, bank: FeatureBank, device: torch.device, cache_dir: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs of f~'s frozen conv stack for every bank frame [V, P, hidden] and shop [G, hidden].

    f~ and f start as copies of the same pretrained head; with their stacks frozen the single-frame
    loss reads the same cached outputs (checked: the two stacks must hold the same weights).
    With ``cache_dir`` and a cached bank (``bank.key``) the outputs are kept on disk, keyed by the
    bank and the stack's weights, so several variants and seeds compute them once (and they go
    with the bank when a changed dataset replaces it: :func:`~movingfashion.seam.bank_cache.remove_stale`)."""
    import hashlib

    from movingfashion.seam.bank_cache import trunk_cache_name

    ext, f = model.head.extractor, model.f
    for a, b in zip(ext.convs.parameters(), f.convs.parameters(), strict=True):
        if not torch.equal(a, b):
            raise ModelError(
                "f~ and f have different conv stacks; train_trunk: false needs them equal",
                where="train_trunk",
                hint="start from a fresh model (f~ and f are copies of the pretrained f)",
            )
    path = None
    if cache_dir is not None and bank.key:
        h = hashlib.sha256(bank.key.encode())
        for v in ext.convs.state_dict().values():
            h.update(v.detach().float().cpu().numpy().tobytes())
        path = Path(cache_dir) / trunk_cache_name(bank.key, h.hexdigest()[:16])
        if path.is_file():
            try:
                got = torch.load(path, map_location="cpu", weights_only=True)
                return got["frames"], got["shops"]
            except Exception:  # noqa: BLE001 - a broken cache is rebuilt
                path.unlink(missing_ok=True)
    was = ext.training
    ext.eval()
    v, p = bank.fmaps.shape[:2]
    flat = bank.fmaps.flatten(0, 1)
    out = torch.cat(
        [ext.trunk(flat[i : i + 256].to(device, torch.float32)).cpu() for i in range(0, len(flat), 256)]
    )
    shops = torch.cat(
        [
            ext.trunk(bank.shop_fmaps[i : i + 256].to(device, torch.float32)).cpu()
            for i in range(0, len(bank.shop_fmaps), 256)
        ]
    )
    ext.train(was)
    frames = out.view(v, p, -1)
    if path is not None:
        from movingfashion.models.checkpoints import save_torch_file

        path.parent.mkdir(parents=True, exist_ok=True)
        save_torch_file({"frames": frames, "shops": shops}, path)
    return frames, shops


def resolve_matcher_path(matcher: str | Path | None, out_dir: Path) -> Path | None:
    """The single-frame weights phase 2 starts from: ``--matcher``, else ``OUT/phase1/matcher.pt``
    or ``OUT/../phase1/matcher.pt`` when phase 1 wrote one there, else None (embedded default)."""
    if matcher is not None:
        return Path(matcher)
    for cand in (out_dir / "phase1" / "matcher.pt", out_dir.parent / "phase1" / "matcher.pt"):
        if cand.is_file():
            return cand
    return None


def matcher_origin(
    given: str | Path | None, path: Path | None, out_dir: Path, recorded: str | None = None
) -> str:
    """Why phase 2 reads ``path`` (None: the embedded default), for ``mf train``'s report:
    ``given`` is ``--matcher``, ``recorded`` the matcher ``OUT/last.pt`` records on ``--resume``."""
    if given is not None:
        return "given with --matcher"
    if recorded is not None and recorded == (str(path) if path else "embedded default"):
        return "the one OUT/last.pt started from (--resume)"
    if path is None:
        return "no OUT/phase1/matcher.pt nor OUT/../phase1/matcher.pt"
    for cand, where in ((out_dir / "phase1", "OUT/phase1"), (out_dir.parent / "phase1", "OUT/../phase1")):
        if path == cand / "matcher.pt":
            return f"phase 1's, found in {where}"
    return "found in the run folder"


def resume_matcher_path(ckpt: dict[str, Any], matcher: str | Path | None, out_dir: Path) -> Path | None:
    """The single-frame weights a resumed run reads: ``--matcher`` when given, else the file the
    checkpoint records (None for the embedded default), else :func:`resolve_matcher_path`'s
    default when that file is gone (:func:`check_resume_encoder` then compares the encoders)."""
    if matcher is not None:
        return Path(matcher)
    recorded = (ckpt.get("arch") or {}).get("matcher_path")
    if recorded == "embedded default":
        return None
    if recorded and Path(recorded).is_file():
        return Path(recorded)
    return resolve_matcher_path(None, out_dir)


def check_resume_encoder(ckpt: dict[str, Any], arch: dict[str, Any], last: Path, *, given: bool) -> None:
    """Refuse (:class:`ModelError`) to continue ``ckpt`` on the features of another frozen encoder
    than the one it was trained on (``arch``: the record of the matcher now loaded), or, ``given``
    (``--matcher``), from another matcher than the one it started from (:func:`check_resume_heads`)."""
    from movingfashion.seam.checkpoint import checkpoint_encoder_tag

    want = checkpoint_encoder_tag(ckpt)
    if arch["encoder_tag"] != want:
        recorded = (ckpt.get("arch") or {}).get("matcher_path", "not recorded")
        how = "--matcher" if given else "the default matcher"
        raise ModelError(
            f"{how} {arch['matcher_path']} has another frozen encoder (tag {arch['encoder_tag']}) than"
            f" the run was trained on (tag {want}, matcher {recorded})",
            where=str(last),
            hint="resume with --matcher set to the matcher the run started from, or train in a new --out folder",
        )
    if given:
        check_resume_heads(ckpt, arch, last)


def check_resume_heads(ckpt: dict[str, Any], arch: dict[str, Any], last: Path) -> None:
    """Refuse (:class:`ModelError`) a ``--matcher`` whose tag is not the one of the matcher the run
    started from (recorded in ``ckpt``; not checked when the checkpoint records none): a resumed
    run continues its own f and m heads, so another matcher's would be silently ignored."""
    recorded = (ckpt.get("arch") or {}).get("matcher_tag")
    if not recorded or arch.get("matcher_tag") == recorded:
        return
    started = (ckpt.get("arch") or {}).get("matcher_path", "not recorded")
    raise ModelError(
        f"--matcher {arch['matcher_path']} is another matcher (tag {arch.get('matcher_tag')}) than the run"
        f" started from ({started}, tag {recorded}); a resumed run keeps its own f and m heads",
        where=str(last),
        hint="resume without --matcher, which uses the run's own matcher, or with that matcher; or train"
        " from the new matcher in a new --out folder",
    )


def _stop_if_diverged(loss: torch.Tensor, world: int, epoch: int, step: int, last: Path, saved: int) -> None:
    """Raise :class:`ModelError` when the loss is not finite (on any rank), before the step that
    would carry it into the weights: ``last.pt`` keeps the last finished epoch."""
    bad = ~torch.isfinite(loss.detach().float().reshape(()))
    if world > 1:
        import torch.distributed as dist

        bad = bad.to(torch.int32)
        dist.all_reduce(bad)  # every rank stops together
        bad = bad > 0
    if bool(bad):
        value = float(loss.detach().float().reshape(()))
        shown = f"loss {value}" if not np.isfinite(value) else "on another rank"
        raise ModelError(
            f"phase 2 diverged: the loss is not finite at epoch {epoch + 1}, step {step + 1}"
            f" ({_kept(last, saved)}), {shown}",
            where=str(last.parent),
            hint=DIVERGED_HINT,
        )


#: what to do about a diverged run (:func:`_stop_if_diverged`, :func:`_stop_if_broken`)
DIVERGED_HINT = (
    "rerun in a new --out folder with a lower lr, context_lr or finetune_lr (--config), or the official"
    " pair_loss 'weighted' (--resume refuses settings other than the run's); or check the training"
    " data: once it is fixed, --resume continues from last.pt"
)


def _kept(last: Path, saved: int) -> str:
    """What the run folder keeps: the epoch ``last.pt`` holds, or none written."""
    return f"{last} keeps epoch {saved}" if saved else "no checkpoint was written"


def _stop_if_broken(model: nn.Module, epoch: int, last: Path, saved: int) -> None:
    """Raise :class:`ModelError` instead of saving weights that are not finite (a last step whose
    gradients overflowed): ``last.pt`` keeps the last finite epoch."""
    broken = [
        n for n, p in model.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()
    ]
    if broken:
        raise ModelError(
            f"phase 2 diverged: weights not finite after epoch {epoch + 1} ({broken[0]};"
            f" {_kept(last, saved)})",
            where=str(last.parent),
            hint=DIVERGED_HINT,
        )


#: what to do when ``--resume`` finds an OUT/last.pt it cannot read (last.pt is written
#: atomically, so a crash of the run never leaves one half-written: the disk or a copy damaged it)
DAMAGED_LAST = (
    "restore it from a copy, or move it away and rerun to start again at epoch 0 (a run never leaves "
    "last.pt half-written: it was damaged afterwards)"
)


def finished_run_summary(
    ckpt: dict[str, Any], cfg: TrainConfig, dataset: str | Path, out: Path, matcher: str | Path | None
) -> dict[str, Any] | None:
    """What :func:`run_phase2` returns for ``--resume`` of a run that holds its ``cfg.epochs``
    already, read from ``ckpt`` alone (the same record a full pass returns, without loading the
    matcher and the feature bank: 0.04-0.08 s against 0.9-2.0 s on the 24-product test world, more
    on a larger bank); ``history.jsonl`` is written
    again as on any resume. None (the full pass decides) while epochs are left, with ``--matcher``
    given (it is checked against the run's), or for a checkpoint written before the training
    sizes were recorded. The products and the encoder are not compared with the run's here:
    nothing is trained on them."""
    extra = ckpt.get("extra") or {}
    sizes = extra.get("train_sizes")
    recorded = (ckpt.get("arch") or {}).get("matcher_path")
    if int(ckpt.get("epoch", 0)) < cfg.epochs or matcher is not None or not sizes or recorded is None:
        return None
    last = out / "last.pt"
    rank, world, _ = _dist_env()
    check_resume_world(ckpt, world, cfg.batch_size, last)
    history = list(extra.get("history", []))
    if rank == 0:
        from schemas.atomic import sweep_partials

        sweep_partials(out)
        _write_history(out, history)  # a run killed between the two writes left it behind
    mpath = resume_matcher_path(ckpt, None, out)
    return {
        "checkpoint": str(last),
        "variant": cfg.model.variant.value,
        "epochs": cfg.epochs,
        "epochs_run": 0,
        "history": history,
        "rank": rank,
        "world_size": world,
        "final_loss": history[-1]["loss"] if history else None,
        "dataset": str(dataset),
        "matcher": recorded,
        "matcher_via": matcher_origin(None, mpath, out, recorded),
        "train_videos": int(sizes["videos"]),
        "train_products": int(sizes["products"]),
    }


def run_phase2(
    dataset: str | Path,
    out_dir: str | Path,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    extend: bool = False,
    matcher: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Phase 2 on a dataset folder: load f, m (+ frozen encoder), build the train bank, train.

    The feature bank is cached in ``cache_dir`` (default ``OUT/features``); runs of several
    variants can share one folder (the cache key includes the encoder weights). ``resume``
    continues ``OUT/last.pt`` (see :func:`train_phase2`; its settings are checked before the
    bank is built) from the matcher it records (:func:`resume_matcher_path`); a matcher with
    another frozen encoder is refused. The checkpoint records the dataset folder and the
    training products (``train_data``)."""
    from movingfashion.models import load_matcher
    from movingfashion.seam.checkpoint import model_from_matcher, train_record
    from movingfashion.seam.features import build_bank, encoder_tag
    from movingfashion.seam.positives import ShopMatcher

    out = Path(out_dir)
    last = out / "last.pt"
    if last.is_file() and not resume:
        raise ModelError(
            "a checkpoint already exists here",
            where=str(last),
            hint="pass --resume to continue it, or choose another --out",
        )
    ckpt = (
        read_checkpoint(last, variant=cfg.model.variant, hint=DAMAGED_LAST)
        if resume and last.is_file()
        else None
    )
    if ckpt is not None:
        check_resume(ckpt, cfg, last, extend=extend)  # before the feature bank is built
        done = finished_run_summary(ckpt, cfg, dataset, out, matcher)
        if done is not None:
            return done  # nothing to train: neither the matcher nor the bank is loaded
    rank, world, device = _dist_env()
    seed_everything(cfg.seed)
    mpath = resolve_matcher_path(matcher, out) if ckpt is None else resume_matcher_path(ckpt, matcher, out)
    sf = load_matcher(mpath, device=device)
    model, arch = model_from_matcher(sf, cfg.model)
    out.mkdir(parents=True, exist_ok=True)  # once the matcher is checked: a refused one leaves no folder
    arch["matcher_path"] = str(mpath) if mpath else "embedded default"
    via = matcher_origin(matcher, mpath, out, (ckpt.get("arch") or {}).get("matcher_path") if ckpt else None)
    arch["encoder_tag"] = encoder_tag(model)
    if ckpt is not None:
        check_resume_encoder(ckpt, arch, last, given=matcher is not None)
        arch = {**ckpt["arch"], "encoder_tag": arch["encoder_tag"]}  # the record of the first run
    kwargs = dict(
        crop_size=sf.crop_size,
        pool=max(cfg.pool_frames, cfg.frames),
        cache_dir=Path(cache_dir) if cache_dir else out / "features",
        encoder_tag=arch["encoder_tag"],
        select_query=False,
        on_bad=cfg.on_bad,
        positives=(
            ShopMatcher(model.encoder, model.f, model.m, sf.crop_size)
            if cfg.positives == "best_match"
            else None
        ),
        positive_threshold=cfg.positive_threshold,
        augment=cfg.augment,
        augment_seed=cfg.seed,
    )
    # a rank that dies (killed, out of memory): one line on every other, not the backend's traceback
    with peer_loss_named(world, rank, out):
        if world > 1 and rank != 0:
            import torch.distributed as dist

            dist.barrier()  # rank 0 writes the cache first
            bank = build_bank(dataset, "train", model.encoder, **kwargs)
        else:
            bank = build_bank(dataset, "train", model.encoder, progress=progress, **kwargs)
            if world > 1:
                import torch.distributed as dist

                dist.barrier()
        summary = train_phase2(
            bank,
            model,
            arch,
            cfg,
            out,
            resume=resume,
            extend=extend,
            train_data=train_record(dataset, bank.product_ids),
            progress=progress,
            log=log,
            trunk_cache=kwargs["cache_dir"],
        )
    summary.update(
        {
            "dataset": str(dataset),
            "matcher": arch["matcher_path"],
            "matcher_via": via,
            "train_videos": len(bank),
            "train_products": len(bank.gallery_ids),
        }
    )
    return summary
