"""The training epoch a dataset draws its randomness from, shared with its DataLoader workers.

``DataLoader(persistent_workers=True)`` (what :func:`movingfashion.batching.loader_settings`
sets) keeps each worker's copy of the dataset alive across epochs, so an epoch number held in
a plain attribute never reaches the workers after ``dataset.set_epoch(e)`` in the main process:
every epoch would draw the same clips. :class:`SharedEpoch` keeps the number in a one-element
tensor in shared memory; the workers' copies (forked, or pickled for spawn by torch's
multiprocessing) read the same memory, so a new epoch set before ``iter(loader)`` reaches them.
A plain ``pickle`` (e.g. to another machine) or ``copy.deepcopy`` copies the value into shared
memory of its own, so the copy's epoch reaches the workers forked from it (without it the copy's
persistent workers would draw epoch 0's clips every epoch).
"""

from __future__ import annotations

from typing import Any

import torch


class SharedEpoch:
    """An epoch number readable in every DataLoader worker of the process that set it."""

    def __init__(self, value: int = 0) -> None:
        self._value = torch.zeros((), dtype=torch.int64).share_memory_()
        self.set(value)

    def get(self) -> int:
        """The epoch now."""
        return int(self._value.item())

    def set(self, value: int) -> None:
        """Set the epoch (seen by the workers of the loaders iterated after this call)."""
        self._value.fill_(int(value))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A pickled or deep-copied epoch: torch's multiprocessing pickler sends the shared memory
        itself (a spawned worker reads the same number); a plain pickle and ``copy.deepcopy`` give
        an ordinary tensor, moved into shared memory here so that forked workers see the copy's
        :meth:`set` too."""
        self.__dict__.update(state)
        if not self._value.is_shared():
            self._value.share_memory_()

    def __repr__(self) -> str:
        return f"SharedEpoch({self.get()})"
