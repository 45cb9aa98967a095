"""Shared memory that DataLoader workers reuse for their batches instead of making it anew.

A batch a worker sends crosses to the main process in shared memory. By default every tensor
of every batch gets a fresh shared-memory file: the worker creates it, faults in and the kernel
zeroes every page, one file descriptor per tensor crosses through a socket, and the last
process to let go frees the pages again. On 2 cores that cost about as much as reading the
clips from the crop cache or the training copy (``benchmarks/bench_loader.py``, goal 3).

Here each worker keeps a pool of *slots* (anonymous ``memfd`` files, mapped once).
:func:`collate_clips <movingfashion.batching.collate_clips>` opens an :func:`arena` for each
batch, and :func:`batch_empty` cuts every tensor of the batch out of one slot. When the batch
is pickled for the main process, the slot crosses once (its descriptor, as torch's own tensors'
do) and the receiver maps it once and keeps that mapping: the slot's later batches carry only
its token (no socket round trip to pass a descriptor, no mmap/munmap per batch), and a batch
takes one slot (its first slot is made as large as the largest batch yet). The receiver drops a
kept mapping when its worker closed the slot or left (checked when it maps a new slot; the
slots of workers that leave after the last batch stay mapped until then), and it gets plain
tensors. A slot is reused only when neither
side holds it: the worker holds it while any tensor it cut from the slot lives (every one is a view of the
slot's one base tensor, so the use count of that storage tells, with no finalizer per batch;
the views a slot reuses are made once per place and dtype), and the slot's header counts
the times it was sent (written by the worker) and released (written by the receiver, when the
last tensor or view of that message on it is freed). A batch the training loop keeps, or a view
of one of its large tensors (``frames``, ``shop``), keeps its slot out of use for as long as it
lives. Tensors under :data:`MIN_POOLED` bytes (indices, labels, boxes, masks, lengths) are not
cut from the slot: they cross inline, as bytes in the message (no shared-memory file, no
descriptor), so a loop that keeps them (for its metrics) keeps their own bytes, not the batch's.

Outside an arena, without ``os.memfd_create`` (not Linux), or once the pool holds
:data:`MAX_SLOTS` busy slots, a tensor takes torch's fresh shared memory as before. The
receiving process is the one that reads the worker's queue (the DataLoader's). A process
that forks while it holds a batch never releases that batch's slot (the child shares its pages
and may read them after the parent lets go); the child never releases anything.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import mmap
import multiprocessing.util
import os
import struct
import threading
import weakref
from collections.abc import Iterator, Sequence
from multiprocessing.reduction import DupFd, ForkingPickler
from typing import Any

import numpy as np
import torch

#: Bytes before a slot's data, little-endian uint64 fields: the ``sent`` count (bytes 0-7,
#: written by the worker only), the ``released`` count (8-15, by the receiver only), the pid of
#: the receiver that keeps the slot mapped (16-23, by the receiver), 1 once the worker closed the
#: slot or exited (24-31, by the worker) and the worker's pid (32-39).
HEADER = 64
_COUNT = struct.Struct("<Q")
_SENT, _RELEASED, _RECEIVER, _CLOSED, _OWNER = 0, 8, 16, 24, 32
#: Slots one worker keeps at most (busy ones count; at the limit a free slot too small is
#: replaced, and with none free the tensor takes fresh shared memory). A batch takes one, and
#: a worker has ``prefetch_factor`` + 1 batches in flight plus those the training loop keeps.
MAX_SLOTS = 64
#: Tensors smaller than this many bytes cross inline (their bytes in the message), not in a
#: slot: the small fields of a batch (``index``, ``df2_class``, ``boxes``, ``mask``...) that a
#: training loop keeps would otherwise keep the whole batch's slot (its frames) out of use.
MIN_POOLED = 64 * 1024
#: Typed views a slot keeps for reuse (batches of other sizes make others; past this it starts again).
MAX_VIEWS = 64
#: Slot sizes are rounded up to this, so batches of slightly different sizes share slots.
GRAIN = 256 * 1024
#: Tensors in a slot start at multiples of this many bytes.
ALIGN = 64
_MEMFD = hasattr(os, "memfd_create")
#: how many tensors and storage objects share a storage (torch's own, used by its CUDA graphs)
_storage_use_count = torch._C._storage_Use_Count
#: torch dtypes numpy holds as they are, and numpy's dtype for each: a tensor of one crosses
#: (:func:`_reduce_tensor`) and is rebuilt through numpy, in fewer calls than torch's own
NUMPY_DTYPES: dict[torch.dtype, np.dtype] = {
    t: np.dtype(n)
    for t, n in (
        (torch.uint8, np.uint8),
        (torch.int8, np.int8),
        (torch.int16, np.int16),
        (torch.int32, np.int32),
        (torch.int64, np.int64),
        (torch.bool, np.bool_),
        (torch.float16, np.float16),
        (torch.float32, np.float32),
        (torch.float64, np.float64),
    )
}


def _count(view: mmap.mmap, at: int) -> int:
    return _COUNT.unpack_from(view, at)[0]


class _Slot:
    """One memfd of ``capacity`` data bytes after the header, mapped in this (worker) process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.fd = os.memfd_create("mf-batch", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, HEADER + capacity)
            self.map = mmap.mmap(self.fd, HEADER + capacity)
        except BaseException:
            os.close(self.fd)
            raise
        self.data = np.frombuffer(self.map, dtype=np.uint8, offset=HEADER)
        self.address = int(self.data.ctypes.data)
        self.token = int.from_bytes(os.urandom(8), "little")  # the receiver's key for its mapping
        _COUNT.pack_into(self.map, _OWNER, os.getpid())
        #: one uint8 tensor over the data for the slot's life, and its storage: every tensor cut
        #: from the slot is a view of it, so the storage's use count says whether any still lives
        self.base = torch.from_numpy(self.data)
        self.storage = self.base.untyped_storage()
        #: typed views of the base made for earlier batches, by (start, bytes, dtype): a batch
        #: tensor is a fresh ``view(shape)`` of one (one call, not three); never handed out
        self.views: dict[tuple[int, int, torch.dtype], torch.Tensor] = {}
        self.used = 0  # bytes handed out in the current arena
        self.handle = _SlotHandle(self)

    def held(self) -> bool:
        """Whether a tensor of this (worker) process still views the slot: a batch not yet sent,
        or one the worker keeps. Nothing but the base, its storage object and the cached views
        holds the storage otherwise."""
        return _storage_use_count(self.storage._cdata) != 2 + len(self.views)

    def free(self) -> bool:
        return not self.held() and _count(self.map, _SENT) == _count(self.map, _RELEASED)

    def view(self, start: int, nbytes: int, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
        """A new tensor of ``shape`` and ``dtype`` over ``nbytes`` bytes from ``start``."""
        typed = self.views.get((start, nbytes, dtype))
        if typed is None:
            if len(self.views) >= MAX_VIEWS:  # batches of ever new sizes: start again
                self.views.clear()
            typed = self.base[start : start + nbytes].view(dtype)
            self.views[start, nbytes, dtype] = typed
        return typed.view(shape)

    def close(self) -> None:
        _COUNT.pack_into(self.map, _CLOSED, 1)  # the receiver may let go of its mapping
        self.views.clear()
        del self.base, self.storage, self.data
        self.map.close()
        os.close(self.fd)


class _SlotHandle:
    """What crosses for a slot: pickled once per message however many tensors use it (the
    pickler's memo), counted as one send. Its descriptor crosses only while the process that
    started this worker (the DataLoader's) has not mapped the slot yet; after that the slot's
    token alone, and the receiver reuses its mapping (no socket round trip, no mmap)."""

    def __init__(self, slot: _Slot) -> None:
        self.slot = slot

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        slot = self.slot
        _COUNT.pack_into(slot.map, _SENT, _count(slot.map, _SENT) + 1)
        if _count(slot.map, _RECEIVER) == _parent_pid():
            return _mapped_slot, (slot.token,)
        return _map_slot, (DupFd(slot.fd), slot.capacity, slot.token)


#: (this process's pid, the pid of the process that started it), found once per process
_parent: tuple[int, int] = (0, 0)


def _parent_pid() -> int:
    global _parent
    pid = os.getpid()
    if _parent[0] != pid:
        import multiprocessing

        parent = multiprocessing.parent_process()
        _parent = (pid, parent.pid if parent is not None and parent.pid is not None else os.getppid())
    return _parent[1]


class _Pool:
    """The slots of one worker process, found by address."""

    def __init__(self) -> None:
        self.slots: list[_Slot] = []  # sorted by address
        self.pid = os.getpid()
        self.created = 0
        self.lock = threading.RLock()
        self.arena: _Slot | None = None
        self.arena_total = 0  # bytes cut in the open arena, over every slot it took
        self.arena_bytes = 0  # the largest batch an arena held: what a batch's first slot must hold

    def _new_slot(self, nbytes: int) -> _Slot | None:
        least = -(-nbytes // GRAIN) * GRAIN  # the smallest slot that fits (sizes are in GRAINs)
        best = None
        for s in self.slots:  # the smallest free slot that fits, the first of equals; no slot
            # is smaller than ``least``, so the first free one of that size ends the search
            if s.capacity >= nbytes and (best is None or s.capacity < best.capacity) and s.free():
                best = s
                if s.capacity <= least:
                    break
        if best is not None:
            return best
        free = [s for s in self.slots if s.free()]
        # free slots too small for a whole batch would never again start one: closed
        for old in [s for s in free if s.capacity < self.arena_bytes]:
            self.slots.remove(old)
            old.close()
            free.remove(old)
        if len(self.slots) >= MAX_SLOTS:
            if not free:
                return None
            old = min(free, key=lambda s: s.capacity)
            self.slots.remove(old)
            old.close()
        slot = _Slot(-(-max(nbytes, self.arena_bytes) // GRAIN) * GRAIN)
        bisect.insort(self.slots, slot, key=lambda s: s.address)
        self.created += 1
        return slot

    def cut(self, nbytes: int, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor | None:
        """A tensor of ``nbytes`` from the open arena's slot (a new slot when it is full), a view
        of the slot's base; None when no slot is free."""
        with self.lock:
            slot = self.arena
            if slot is None or slot.used + nbytes > slot.capacity:
                # a batch's first slot holds the largest batch yet, so one batch takes one slot
                slot = self._new_slot(max(nbytes, self.arena_bytes) if slot is None else nbytes)
                if slot is None:
                    return None
                slot.used = 0
                self.arena = slot
            start = slot.used
            slot.used = -(-(start + nbytes) // ALIGN) * ALIGN
            self.arena_total += slot.used - start
            self.arena_bytes = max(self.arena_bytes, self.arena_total)
            return slot.view(start, nbytes, dtype, shape)

    def close_all(self) -> None:
        """Mark every slot closed (the worker is leaving): its receiver drops their mappings."""
        if os.getpid() != self.pid:  # a forked child leaving: its parent's slots stay open
            return
        with self.lock:
            for slot in self.slots:
                _COUNT.pack_into(slot.map, _CLOSED, 1)

    def slot_of(self, t: torch.Tensor) -> _Slot | None:
        address = t.untyped_storage().data_ptr()
        k = bisect.bisect_right(self.slots, address, key=lambda s: s.address) - 1
        if k >= 0 and address < self.slots[k].address + self.slots[k].capacity:
            return self.slots[k]
        return None


_pool: _Pool | None = None
_arena_depth = threading.local()


@contextlib.contextmanager
def arena() -> Iterator[None]:
    """Tensors :func:`batch_empty` makes inside share a slot (one batch: one slot to send)."""
    depth = getattr(_arena_depth, "n", 0)
    _arena_depth.n = depth + 1
    try:
        yield
    finally:
        _arena_depth.n = depth
        if depth == 0 and _pool is not None:
            with _pool.lock:
                _pool.arena = None
                _pool.arena_total = 0


def batch_empty(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor | None:
    """An uninitialised tensor for a batch a DataLoader worker will send: cut from the open
    :func:`arena`'s slot, or under :data:`MIN_POOLED` bytes a plain tensor that crosses inline,
    in the message itself (:func:`_reduce_tensor`); None outside an arena, without memfd, or with
    every slot busy (the caller then takes torch's shared memory)."""
    global _pool
    if not _MEMFD or not getattr(_arena_depth, "n", 0):
        return None
    shape = tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if _pool is None:
        _pool = _Pool()
        ForkingPickler.register(torch.Tensor, _reduce_tensor)
        # at the worker's exit its receiver may let go of the slots it keeps mapped
        multiprocessing.util.Finalize(_pool, _pool.close_all, exitpriority=0)
    if nbytes < MIN_POOLED:
        return torch.empty(shape, dtype=dtype)
    return _pool.cut(nbytes, dtype, shape)


def crosses_inline(nbytes: int) -> bool:
    """Whether a private (not shared) tensor of ``nbytes`` that a batch of this worker's open
    :func:`arena` holds crosses inline, as bytes in the message: then it needs no copy into
    shared memory (:func:`batch_empty` would only give it a plain tensor of its own again)."""
    return _MEMFD and nbytes < MIN_POOLED and bool(getattr(_arena_depth, "n", 0))


def in_slot(t: torch.Tensor) -> bool:
    """Whether ``t`` lives in a slot of this process's pool (a batch tensor made in a worker)."""
    return _pool is not None and _pool.slot_of(t) is not None


def pool_stats() -> dict[str, int]:
    """This process's pool: slots kept, slots ever made, their bytes (zeros outside a worker)."""
    if _pool is None:
        return {"slots": 0, "created": 0, "bytes": 0}
    with _pool.lock:
        return {
            "slots": len(_pool.slots),
            "created": _pool.created,
            "bytes": sum(s.capacity for s in _pool.slots),
        }


def _reduce_tensor(t: torch.Tensor) -> tuple[Any, tuple[Any, ...]]:
    """Pickle a small tensor (under :data:`MIN_POOLED` bytes, not in shared memory) as its bytes,
    inline; a tensor on a slot as the slot's handle plus where in it the tensor lies; any other
    tensor as torch does. Runs for every tensor of every batch (in the worker's feeder thread):
    the common cases take as few calls as they can."""
    if t.is_cpu and t.layout == torch.strided and not t.requires_grad:
        if t.nbytes < MIN_POOLED and not t.untyped_storage().is_shared():
            # no shared-memory file, no descriptor to pass: a few bytes in the message itself
            if t.dtype in NUMPY_DTYPES and not t.is_neg():
                data = t.numpy().tobytes()  # C order, whatever the tensor's strides
            else:
                data = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            return _rebuild_inline, (data, t.dtype, tuple(t.shape))
        slot = _pool.slot_of(t) if _pool is not None else None
        if slot is not None:
            return _reduce_in_slot(t, slot)
    # not a batch tensor of this worker (sparse, CUDA, anything else): as torch does
    from torch.multiprocessing.reductions import reduce_tensor

    return reduce_tensor(t)


def _reduce_in_slot(t: torch.Tensor, slot: _Slot) -> tuple[Any, tuple[Any, ...]]:
    """A tensor on ``slot``: only the bytes it spans (its storage is the whole arena's), so the
    receiver's tensor gets a storage of its own size, as if it had been made alone."""
    itemsize = t.element_size()
    contiguous = t.is_contiguous()
    if t.numel():
        first = t.untyped_storage().data_ptr() + t.storage_offset() * itemsize - slot.address
        span = (
            t.numel()
            if contiguous
            else 1 + sum((n - 1) * s for n, s in zip(t.shape, t.stride(), strict=True))
        )
    else:
        first = span = 0
    return _rebuild_tensor, (
        slot.handle,
        first,
        span * itemsize,
        t.dtype,
        tuple(t.shape),
        None if contiguous else t.stride(),
        0,
    )


class _Mapped:
    """A slot as one message's receiver mapped it; released when its last tensor is freed.

    Only the process that received it releases it, and never when it forked while holding
    it: a forked child shares the mapping (and inherits the finalizers), so the slot then
    stays out of use for good; the worker makes another (:func:`_pin_before_fork`)."""

    def __init__(self, mapped: mmap.mmap) -> None:
        self.map = mapped
        self.live = 0
        self.pid = os.getpid()
        self.pinned = False
        _received.add(self)

    def drop(self) -> None:
        with _receiver_lock:
            self.live -= 1
            if self.live == 0 and not self.pinned and os.getpid() == self.pid:
                _COUNT.pack_into(self.map, _RELEASED, _count(self.map, _RELEASED) + 1)


_receiver_lock = threading.Lock()
#: the slots this process has mapped as a receiver and not yet unmapped
_received: weakref.WeakSet[_Mapped] = weakref.WeakSet()


def _pin_before_fork() -> None:
    """Before a fork: every slot a batch of this process still holds is never released, since
    the child may read it after this process lets go (a child's release is ignored too)."""
    with _receiver_lock:
        for mapped in list(_received):
            if mapped.live > 0:
                mapped.pinned = True


#: the slots this process keeps mapped as a receiver, by token: a slot's later messages carry
#: its token only (:class:`_SlotHandle`)
_kept: dict[int, mmap.mmap] = {}
#: descriptors this process received and mapped (one per slot, not one per batch)
_maps = 0


def received_stats() -> dict[str, int]:
    """This process as a receiver: slot descriptors it mapped, mappings it keeps for reuse."""
    with _receiver_lock:
        return {"mapped": _maps, "kept": len(_kept)}


def _map_slot(df: Any, capacity: int, token: int) -> _Mapped:
    """The first message of a slot to this process: map it, keep the mapping for its later ones."""
    global _maps
    fd = df.detach()
    try:
        mapped = mmap.mmap(fd, HEADER + capacity)
    finally:
        os.close(fd)
    with _receiver_lock:
        _forget_closed()
        _maps += 1
        _kept[token] = mapped
        _COUNT.pack_into(mapped, _RECEIVER, os.getpid())
    return _Mapped(mapped)


def _mapped_slot(token: int) -> _Mapped:
    """A later message of a slot this process keeps mapped."""
    with _receiver_lock:
        mapped = _kept.get(token)
    if mapped is None:
        raise RuntimeError(
            "a batch's shared-memory slot arrived without its descriptor in a process that has not"
            " mapped it: batches of DataLoader workers can only be received by the process that"
            " started the workers"
        )
    return _Mapped(mapped)


def _forget_closed() -> None:
    """Drop the kept mappings of slots their worker closed, or whose worker is gone (a tensor
    still on one keeps its mapping alive until it is freed)."""
    for token, mapped in list(_kept.items()):
        gone = _count(mapped, _CLOSED) != 0
        if not gone:
            try:
                os.kill(_count(mapped, _OWNER), 0)
            except ProcessLookupError:
                gone = True
            except OSError:
                pass
        if gone:
            del _kept[token]


def _rebuild_inline(data: bytes, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """A small tensor sent inline (:func:`_reduce_tensor`): its own memory, nothing shared."""
    as_numpy = NUMPY_DTYPES.get(dtype)
    if as_numpy is not None:  # one torch call
        return torch.from_numpy(np.frombuffer(bytearray(data), dtype=as_numpy).reshape(shape))
    if not data:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).view(shape)


def _rebuild_tensor(
    mapped: _Mapped,
    start: int,
    nbytes: int,
    dtype: torch.dtype,
    shape: tuple[int, ...],
    stride: tuple[int, ...] | None,
    offset: int,
) -> torch.Tensor:
    """The receiver's side: view the slot's bytes as the sent tensor (``stride`` None: contiguous)."""
    data = np.frombuffer(mapped.map, dtype=np.uint8, count=nbytes, offset=HEADER + start)
    with _receiver_lock:
        mapped.live += 1
    weakref.finalize(data, mapped.drop).atexit = False
    as_numpy = NUMPY_DTYPES.get(dtype)
    if stride is None and offset == 0 and as_numpy is not None:
        return torch.from_numpy(data.view(as_numpy).reshape(shape))
    t = torch.from_numpy(data).view(dtype)
    return t.view(shape) if stride is None else t.as_strided(shape, stride, offset)


def _forget_in_child() -> None:
    """A process forked from one with a pool must not hand out its parent's slots."""
    global _pool
    _pool = None


os.register_at_fork(before=_pin_before_fork, after_in_child=_forget_in_child)
