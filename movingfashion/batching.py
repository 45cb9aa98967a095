"""Training batches: P products x K clips per batch, and a collate that handles variable T.

``PKSampler`` yields flat indices; use it with ``DataLoader(ds, batch_size=p * k,
sampler=PKSampler(ds, p, k))``. Every consecutive block of ``p * k`` indices holds ``k`` clips
of each of ``p`` different products. A product with fewer than ``k`` items is repeated with
indices ``index + r * len(dataset)`` (r = 1, 2, ...), which the dataset maps back to
``index`` with a different generator, so the K clips of one product differ. Like
``DistributedSampler`` it takes ``num_replicas`` / ``rank`` / ``set_epoch``: all replicas
build the same epoch plan from ``(seed, epoch)`` and take every ``num_replicas``-th batch, so
their batches are disjoint and equally many. Its epoch is the dataset's
(:meth:`MovingFashionDataset.set_epoch <movingfashion.dataset.MovingFashionDataset.set_epoch>`:
one call reshuffles the batches and redraws the clips) until :meth:`PKSampler.set_epoch` sets
one of its own.

``collate_clips`` stacks clips of equal length; with variable T (the ``all`` sampler) it pads
``frames`` with zeros and ``boxes`` with NaN to the longest clip and returns ``mask``
[B, T_max] (True = real frame) and ``lengths``. Strings and other fields become lists.

``loader_settings`` are the DataLoader settings under which workers scale (measured with
``benchmarks/bench_loader.py``): open the dataset with ``dtype=torch.uint8`` (a quarter of the
bytes cross from the workers through shared memory, no float conversion in the workers),
keep the workers alive between epochs, let each prefetch a few batches, pin memory when a
GPU takes the batches, and convert on the device with :func:`frames_to_float`. They also fix
glibc's malloc thresholds in the calling process and in each worker
(:mod:`movingfashion.malloc_tuning`; Linux with glibc only, ``malloc_tuning=False`` to leave
malloc alone), so a clip's 1.5 MB buffers reuse pages instead of being faulted in afresh.
:class:`movingfashion.chunked_loader.ChunkedLoader` gives the same batches with several sent per
worker message (less CPU in the main process; opt-in, see its docstring).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from movingfashion.batch_memory import NUMPY_DTYPES, arena, batch_empty, crosses_inline
from movingfashion.malloc_tuning import MallocWorkerInit, tune_malloc
from movingfashion.unit_float import unit_float
from schemas.errors import ConfigError


class PKSampler(Sampler[int]):
    """P products x K clips per batch, DistributedSampler-compatible.

    The plan of an epoch comes from ``(seed, epoch)``; ``epoch`` is the dataset's ``epoch``
    (0 for a dataset without one) unless :meth:`set_epoch` was called.
    """

    def __init__(
        self,
        dataset: Any,
        p: int,
        k: int,
        seed: int = 0,
        *,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = True,
        labels: Sequence[str] | None = None,
    ) -> None:
        if p < 1 or k < 1:
            raise ConfigError(f"P and K must be >= 1, got P={p}, K={k}", where="PKSampler")
        if num_replicas is None or rank is None:
            dist = torch.distributed.is_available() and torch.distributed.is_initialized()
            num_replicas = (
                num_replicas
                if num_replicas is not None
                else (torch.distributed.get_world_size() if dist else 1)
            )
            rank = rank if rank is not None else (torch.distributed.get_rank() if dist else 0)
        if not 0 <= rank < num_replicas:
            raise ConfigError(f"rank {rank} outside [0, {num_replicas})", where="PKSampler")
        self.labels = list(labels if labels is not None else dataset.product_ids)
        self.n = len(self.labels)
        by_label: dict[str, list[int]] = {}
        for i, lab in enumerate(self.labels):
            by_label.setdefault(lab, []).append(i)
        self.groups = list(by_label.values())
        if len(self.groups) < p:
            raise ConfigError(
                f"P={p} products per batch but the dataset has {len(self.groups)}",
                where="PKSampler",
                hint="lower P",
            )
        self.p, self.k, self.seed = p, k, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.drop_last = drop_last
        self.dataset = dataset
        self._epoch: int | None = None  # None: follow the dataset's

    @property
    def epoch(self) -> int:
        """The epoch whose plan :meth:`batches` gives: the one :meth:`set_epoch` set, else the
        dataset's (``dataset.set_epoch(e)`` reshuffles the batches too)."""
        if self._epoch is not None:
            return self._epoch
        return int(getattr(self.dataset, "epoch", 0))

    @epoch.setter
    def epoch(self, epoch: int) -> None:
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` from now on, whatever the dataset's (as ``DistributedSampler.set_epoch``)."""
        self._epoch = _at_least(epoch, "epoch", 0)

    def __repr__(self) -> str:
        """P, K, the products, the batches per epoch and which epoch it follows."""
        follows = f"epoch={self._epoch}" if self._epoch is not None else "epoch=the dataset's"
        return (
            f"PKSampler(P={self.p}, K={self.k}, products={len(self.groups)}, "
            f"batches={len(self) // (self.p * self.k)}, seed={self.seed}, {follows}"
            + (f", rank={self.rank}/{self.num_replicas}" if self.num_replicas > 1 else "")
            + ")"
        )

    def batches(self) -> list[list[int]]:
        """The batches of this replica for the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.groups))
        if len(order) % self.p:
            if self.drop_last:
                order = order[: len(order) - len(order) % self.p]
            else:  # fill the last batch with products drawn from the start of the permutation
                order = np.concatenate([order, order[: self.p - len(order) % self.p]])
        plan = []
        for b in range(0, len(order), self.p):
            batch = []
            for g in order[b : b + self.p]:
                items = self.groups[int(g)]
                picks = rng.permutation(len(items))
                for j in range(self.k):
                    rep, pos = divmod(j, len(items))
                    batch.append(items[int(picks[pos])] + rep * self.n)
            plan.append(batch)
        per_rank = len(plan) // self.num_replicas
        return plan[self.rank : per_rank * self.num_replicas : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        for batch in self.batches():
            yield from batch

    def __len__(self) -> int:
        groups = len(self.groups) // self.p if self.drop_last else -(-len(self.groups) // self.p)
        return (groups // self.num_replicas) * self.p * self.k


def _batch_tensor(like: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """An empty tensor for a batch; inside a DataLoader worker it lives in shared memory from the
    start, so sending the batch to the main process does not copy it into shared memory again:
    a large one in a slot the worker reuses (:mod:`movingfashion.batch_memory`), else fresh."""
    shape = tuple(shape)
    if torch.utils.data.get_worker_info() is None or like.device.type != "cpu":
        return like.new_empty(shape)
    if crosses_inline(math.prod(shape) * like.element_size()):  # a small one: a plain tensor
        return like.new_empty(shape)
    pooled = batch_empty(shape, like.dtype)
    if pooled is not None:
        return pooled
    storage = like.untyped_storage()._new_shared(math.prod(shape) * like.element_size())
    return like.new_empty(0).set_(storage, 0, shape)


def _batch_copy(t: torch.Tensor) -> torch.Tensor:
    """``t`` (a fresh tensor of the collate's own) as a batch tensor: itself outside a DataLoader
    worker, and inside one when it is small enough to cross inline (no copy to make)."""
    if torch.utils.data.get_worker_info() is None or crosses_inline(t.nbytes):
        return t
    return _batch_tensor(t, t.shape).copy_(t)


def _numpy_views(vals: Sequence[torch.Tensor]) -> list[np.ndarray] | None:
    """The tensors as numpy views when numpy can copy them (CPU, strided, one dtype numpy holds,
    no autograd), else None."""
    dtype = vals[0].dtype
    if dtype not in NUMPY_DTYPES:
        return None
    for v in vals:
        if v.device.type != "cpu" or v.layout != torch.strided or v.dtype != dtype or v.requires_grad:
            return None
        if v.is_conj() or v.is_neg():
            return None
    return [v.numpy() for v in vals]


def _stack(vals: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack into a batch tensor. CPU tensors are copied by numpy on the calling thread: torch's
    copy splits a batch across its intra-op threads, which on a busy machine wait for a core
    and cost up to several times the CPU of one thread (``benchmarks/bench_collate.py``;
    workers run one thread anyway). Other tensors use ``torch.stack``."""
    if vals[0].layout != torch.strided:  # sparse: torch's own stack (and its own way across)
        return torch.stack(list(vals))
    out = _batch_tensor(vals[0], (len(vals), *vals[0].shape))
    arrays = _numpy_views(vals)  # the batch tensor lives where vals[0] does
    if arrays is None:
        return torch.stack(list(vals), out=out)
    np.stack(arrays, out=out.numpy())
    return out


def _pad_rows(vals: Sequence[torch.Tensor], tmax: int, fill: float) -> torch.Tensor:
    """Clips of different lengths padded to ``tmax`` with ``fill``; copied like :func:`_stack`."""
    pad = _batch_tensor(vals[0], (len(vals), tmax, *vals[0].shape[1:]))
    arrays = _numpy_views(vals)
    if arrays is None:
        pad.fill_(fill)
        for i, v in enumerate(vals):
            pad[i, : len(v)] = v
        return pad
    dst = pad.numpy()
    for row, a in zip(dst, arrays, strict=True):
        row[: len(a)] = a
        row[len(a) :] = fill
    return pad


def collate_clips(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of :class:`MovingFashionDataset` / ``MultiDeepFashion2Dataset``.

    Tensors of equal shape are stacked; ``frames`` / ``boxes`` / ``crop_boxes`` / ``frame_indices`` of different
    lengths are padded (zeros / NaN / -1) and ``mask`` + ``lengths`` say which frames are real.
    Whole frames of different sizes (``crop="frame"`` without ``frame_size``) stay a list.
    Items that stand in for undecodable ones (``on_bad="skip"``) carry ``skipped``: every such
    record of the batch is gathered into ``batch["skipped"]`` (absent when there is none). A key
    only some items have (``image_paths`` of Multi-DeepFashion2 items in a batch mixed with
    MovingFashion ones) becomes a list with None for the others.
    """
    if not items:
        raise ValueError("empty batch")
    with arena():  # in a DataLoader worker the batch's tensors share one reused slot
        return _collate(items)


def _collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lengths = [len(it["frames"]) for it in items]
    tmax = max(lengths)
    same_len = len(set(lengths)) == 1
    skipped = [s for it in items for s in it.get("skipped", ())]
    for key in dict.fromkeys(k for it in items for k in it):
        if key == "skipped":
            continue
        if any(key not in it for it in items):  # mixed datasets: a key only some items have
            out[key] = [it.get(key) for it in items]
            continue
        vals = [it[key] for it in items]
        if key in ("frames", "boxes", "crop_boxes", "frame_indices") and isinstance(vals[0], torch.Tensor):
            shapes = {tuple(v.shape[1:]) for v in vals}
            if len(shapes) > 1:
                out[key] = vals
            elif same_len:
                out[key] = _stack(vals)
            else:
                fill = {
                    "frames": 0.0,
                    "boxes": float("nan"),
                    "crop_boxes": float("nan"),
                    "frame_indices": -1,
                }[key]
                out[key] = _pad_rows(vals, tmax, fill)
        elif isinstance(vals[0], torch.Tensor) and len({tuple(v.shape) for v in vals}) == 1:
            out[key] = _stack(vals)
        elif isinstance(vals[0], (int, float)) and not isinstance(vals[0], bool):
            out[key] = _batch_copy(torch.tensor(vals))
        else:
            out[key] = vals
    mask = torch.zeros(len(items), tmax, dtype=torch.bool)
    for i, n in enumerate(lengths):
        mask[i, :n] = True
    out["mask"] = _batch_copy(mask)
    out["lengths"] = _batch_copy(torch.tensor(lengths))
    if skipped:
        out["skipped"] = skipped
    return out


def _at_least(value: Any, name: str, least: int) -> int:
    """``value`` as an int (numpy's too) of at least ``least``; ConfigError naming ``name`` else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}", where=name)
    return int(value)


def loader_settings(
    num_workers: int = 2,
    *,
    pin_memory: bool | None = None,
    malloc_tuning: bool = True,
    worker_init_fn: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """DataLoader keyword arguments for fast clip loading (see the module docstring).

    ``num_workers`` about the number of cores; ``pin_memory`` defaults to whether CUDA is
    available. Pass them with your own ``batch_size``, ``sampler`` and ``collate_fn``::

        DataLoader(ds, batch_size=8, sampler=PKSampler(ds, 4, 2), collate_fn=collate_clips,
                   **loader_settings(2))

    ``malloc_tuning`` (the default) fixes glibc's malloc thresholds
    (:func:`~movingfashion.malloc_tuning.tune_malloc`; Linux with glibc only, a no-op elsewhere)
    in the calling process, which the 0-worker path runs in, and with workers first in each
    worker (:class:`~movingfashion.malloc_tuning.MallocWorkerInit`), which then runs
    ``worker_init_fn`` if given (pass yours here, not to the DataLoader as well). It keeps each
    batch's buffers on pages already mapped; ``malloc_tuning=False`` leaves malloc as it is.
    """
    workers = _at_least(num_workers, "num_workers", 0)  # -1 was silently 0, 2.5 silently 2
    out: dict[str, Any] = {
        "num_workers": workers,
        "pin_memory": torch.cuda.is_available() if pin_memory is None else bool(pin_memory),
    }
    if malloc_tuning:
        tune_malloc()
    if workers:
        out.update(persistent_workers=True, prefetch_factor=4)
        if malloc_tuning:
            out["worker_init_fn"] = MallocWorkerInit(then=worker_init_fn)
        elif worker_init_fn is not None:
            out["worker_init_fn"] = worker_init_fn
    return out


def frames_to_float(frames: torch.Tensor, device: str | torch.device | None = None) -> torch.Tensor:
    """uint8 frames (``dtype=torch.uint8`` items) -> float in [0, 1] on ``device`` (moved first).

    Gives exactly what ``dtype=torch.float32`` would have given, converted where it is cheap.
    """
    t = frames.to(device, non_blocking=True) if device is not None else frames
    return unit_float(t)  # uint8 / float -> float32 in one pass (one thread on the CPU)
