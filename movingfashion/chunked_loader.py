"""A DataLoader whose workers make several batches per message: same batches, fewer hand-overs.

With workers, every batch crosses from a worker to the main process as one message: the
worker pickles it (its queue's feeder thread), the main process polls, reads and unpickles it,
and every message costs the DataLoader's own bookkeeping (an index sent, a reorder buffer
entry). For batches that cost a few milliseconds to make (the crop cache, the training copy
with small batches) that fixed cost is a large share of the batch.

:class:`ChunkedLoader` takes the arguments of a map-style ``DataLoader`` plus ``chunk``: each
worker gets ``chunk`` consecutive batches of the batch sampler at once, collates each of them
with the user's ``collate_fn`` (all of them in one shared-memory slot of
:mod:`movingfashion.batch_memory` when the collate is :func:`~movingfashion.batching.collate_clips`)
and sends them as one message; the main process hands them out one by one. The batches, their
order and their contents are those of ``DataLoader`` with the same arguments: the batch
sampler is iterated as the DataLoader would (one ``BatchSampler`` over the same sampler), only
the grouping of its batches into messages changes. What may differ is randomness a batch draws
from the worker's own generators (a transform calling ``torch.rand``): a chunk is made by one
worker, as it would be with another ``num_workers``; the datasets of this package draw from
``(seed, epoch, index)`` and give the same items in any worker.

Costs: the first batch of an epoch waits for a whole chunk; at the end of an epoch a worker
may be left with up to ``chunk`` batches more than the other; ``prefetch_factor`` counts
chunks, so ``chunk`` times as many batches wait in memory (:func:`chunked_settings` lowers it).
With no workers, or ``chunk=1``, it is a plain ``DataLoader``.

Measured (docs/performance.md, goal 3, "several batches per worker message"): on the copy and
the crop cache at batch 4 it cuts the main process's CPU from 0.4-0.7 to about 0.2 ms a batch
(chunk 4), and the hand-over alone from 1.40 to 1.08 ms a batch; the workers' own CPU per batch,
which is what keeps 2 workers under 1.8x there, does not fall. Opt-in: ``loader_settings``
stays the recommended setting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from movingfashion.batch_memory import arena
from movingfashion.batching import _at_least, collate_clips, loader_settings
from schemas.errors import ConfigError

#: Batches a worker makes per message by default (:class:`ChunkedLoader`, :func:`chunked_settings`):
#: 4 takes the main process's share of a batch of 4 from 0.4-0.7 to 0.2 ms, 8 to 0.1-0.2 with
#: twice the batches waiting in memory (``benchmarks/bench_loader.py --worker-chunks 1,4,8``).
DEFAULT_CHUNK = 4


class ChunkSampler(Sampler[list[list[int]]]):
    """Groups of ``chunk`` consecutive batches of ``batch_sampler`` (the last group may be short)."""

    def __init__(self, batch_sampler: Sampler[list[int]] | Sequence[list[int]], chunk: int) -> None:
        self.batch_sampler = batch_sampler
        self.chunk = _at_least(chunk, "chunk", 1)

    def __iter__(self) -> Iterator[list[list[int]]]:
        it = iter(self.batch_sampler)
        while group := list(itertools.islice(it, self.chunk)):
            yield group

    def __len__(self) -> int:
        return -(-len(self.batch_sampler) // self.chunk)  # type: ignore[arg-type]


class _ChunkFetch(Dataset):
    """What a worker runs per message: every batch of a chunk, collated; one slot for them all."""

    def __init__(self, dataset: Any, collate_fn: Callable[[list[Any]], Any]) -> None:
        self.dataset = dataset
        self.collate_fn = collate_fn

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, batches: list[list[int]]) -> list[Any]:
        with arena():  # collate_clips' tensors of the whole chunk share one slot: one to send
            return [self.collate_fn([self.dataset[i] for i in b]) for b in batches]


def _as_is(chunk: list[Any]) -> list[Any]:
    """The DataLoader's collate of a chunk: the worker already collated each batch."""
    return chunk


class ChunkedLoader:
    """``DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler, collate_fn=..., drop_last,
    **kwargs)`` (map-style datasets) whose workers each make ``chunk`` batches per message.

    Iterating it gives the same batches in the same order as that DataLoader; ``len`` is its
    number of batches. ``collate_fn`` defaults to :func:`~movingfashion.batching.collate_clips`.
    ``chunk=1`` or ``num_workers=0``: a plain DataLoader inside.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler[int] | Sequence[int] | None = None,
        batch_sampler: Sampler[list[int]] | Sequence[list[int]] | None = None,
        *,
        chunk: int = DEFAULT_CHUNK,
        collate_fn: Callable[[list[Any]], Any] = collate_clips,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(dataset, IterableDataset):
            raise ConfigError(
                "ChunkedLoader needs a map-style dataset (indices), got an IterableDataset",
                where="ChunkedLoader",
                hint="use torch's DataLoader for iterable datasets",
            )
        self.chunk = _at_least(chunk, "chunk", 1)
        if batch_sampler is None:
            if batch_size is None:
                raise ConfigError(
                    "ChunkedLoader: batch_size=None (no batching) has nothing to chunk",
                    where="batch_size",
                    hint="give a batch_size or a batch_sampler",
                )
            if sampler is None:
                sampler = (
                    RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
                )
            elif shuffle:
                raise ConfigError(
                    "sampler and shuffle=True cannot both be given (as DataLoader)", where="shuffle"
                )
            batch_sampler = BatchSampler(sampler, _at_least(batch_size, "batch_size", 1), drop_last)
        elif sampler is not None or shuffle or drop_last or batch_size not in (None, 1):
            raise ConfigError(
                "batch_sampler excludes batch_size, shuffle, sampler and drop_last (as DataLoader)",
                where="batch_sampler",
            )
        self.dataset = dataset
        self.batch_sampler = batch_sampler
        self.batch_size = getattr(batch_sampler, "batch_size", None)
        self.num_workers = int(kwargs.get("num_workers", 0))
        if self.chunk == 1 or self.num_workers == 0:
            self.loader = DataLoader(
                dataset, batch_sampler=batch_sampler, collate_fn=collate_fn, generator=generator, **kwargs
            )
            self._chunked = False
        else:
            self.loader = DataLoader(
                _ChunkFetch(dataset, collate_fn),
                batch_size=None,
                sampler=ChunkSampler(batch_sampler, self.chunk),
                collate_fn=_as_is,
                generator=generator,
                **kwargs,
            )
            self._chunked = True

    def __iter__(self) -> Iterator[Any]:
        if not self._chunked:
            yield from self.loader
            return
        for batches in self.loader:
            yield from batches

    def __len__(self) -> int:
        return len(self.batch_sampler)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        """Chunk, workers, batches."""
        return f"ChunkedLoader(chunk={self.chunk}, num_workers={self.num_workers}, batches={len(self)})"


def chunked_settings(
    num_workers: int = 2, *, chunk: int = DEFAULT_CHUNK, pin_memory: bool | None = None
) -> dict[str, Any]:
    """:func:`~movingfashion.batching.loader_settings` plus ``chunk`` for :class:`ChunkedLoader`,
    with ``prefetch_factor`` (which counts chunks) lowered so that about as many batches wait per
    worker as without chunks::

        ChunkedLoader(ds, batch_size=8, sampler=PKSampler(ds, 4, 2), **chunked_settings(2))
    """
    out = loader_settings(num_workers, pin_memory=pin_memory)
    out["chunk"] = _at_least(chunk, "chunk", 1)
    if out.get("prefetch_factor"):
        out["prefetch_factor"] = max(2, -(-out["prefetch_factor"] // out["chunk"]))
    return out
