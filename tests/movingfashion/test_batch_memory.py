"""Batches from DataLoader workers in reused shared-memory slots (movingfashion.batch_memory):
the values are those of a plain collate, a batch (or a view of one) the loop keeps is never
written over, slots are reused, and a full pool falls back to fresh shared memory."""

from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as tmp

from movingfashion import batch_memory
from movingfashion.batching import collate_clips, loader_settings


class _Numbered(torch.utils.data.Dataset):
    """Item i: 2 or 3 frames full of i (mod 251), boxes of i, a shop of i, a label (a batch of 4
    has frames and shops above ``MIN_POOLED``, its other tensors under it)."""

    def __len__(self) -> int:
        return 24

    def __getitem__(self, i: int) -> dict:
        n = 2 + i % 2
        v = i % 251
        return {
            "frames": torch.full((n, 3, 96, 96), v, dtype=torch.uint8),
            "boxes": torch.full((n, 4), float(i)),
            "frame_indices": torch.arange(n) + i,
            "shop": torch.full((3, 96, 96), v, dtype=torch.uint8),
            "label": i % 13,
            "product_id": f"p{i}",
        }


#: the small tensors of a batch (labels, boxes, indices, mask, lengths)
SMALL = ("label", "boxes", "frame_indices", "mask", "lengths")


def _collate_with_stats(items: list[dict]) -> dict:
    batch = collate_clips(items)
    batch["pool"] = batch_memory.pool_stats()
    batch["in_slot"] = batch_memory.in_slot(batch["frames"])
    batch["small_in_slot"] = [k for k in SMALL if batch_memory.in_slot(batch[k])]
    pool = batch_memory._pool
    batch["slots_used"] = (
        len({id(pool.slot_of(batch[k])) for k in ("frames", "shop")}) if pool is not None else 0
    )
    return batch


def _loader(workers: int, batch: int = 4) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        _Numbered(),
        batch_size=batch,
        collate_fn=_collate_with_stats,
        **loader_settings(workers, pin_memory=False),
    )


def _expected(first: int, batch: int = 4) -> dict:
    ds = _Numbered()
    return collate_clips([ds[i] for i in range(first, first + batch)])


def _same(got: dict, want: dict) -> bool:
    for key in ("frames", "frame_indices", "shop", "mask", "lengths", "label"):
        if not torch.equal(got[key], want[key]):
            return False
    return torch.equal(got["boxes"].nan_to_num(-1.0), want["boxes"].nan_to_num(-1.0))


def test_batches_match_a_plain_collate_and_held_ones_are_never_overwritten():
    """Three epochs through 2 persistent workers: every batch equals the collate of its items in
    the main process, and the batches of the first epoch, all kept (one only as a view), still do
    after the workers made 12 more batches (a slot reused while held would have changed them)."""
    dl = _loader(2)
    held = []
    for epoch in range(3):
        for k, batch in enumerate(dl):
            assert batch["in_slot"], "a worker's batch is built in a pooled slot"
            assert _same(batch, _expected(4 * k)), (epoch, k)
            if epoch == 0:
                held.append(batch)
    view = held[1]["frames"][2]  # the only thing kept of batch 1: item 6, 2 frames + 1 of padding
    del held[1]
    for _ in range(2):
        for _ in dl:
            pass
    for k, batch in enumerate(held):
        kk = k if k < 1 else k + 1
        assert _same(batch, _expected(4 * kk)), kk
    assert view[:2].eq(6).all() and view[2].eq(0).all()


def test_slots_are_reused():
    """Over 6 epochs (18 batches a worker) a worker makes only as many slots as it has batches in
    flight: without reuse it would make one a batch."""
    dl = _loader(2)
    created = 0
    for _ in range(6):
        for batch in dl:
            created = max(created, batch["pool"]["created"])
    prefetch = loader_settings(2)["prefetch_factor"]
    assert 1 <= created <= prefetch + 3


#: what a worker's collate keeps of its own batches, with a copy of each (in the worker)
_WORKER_KEPT: list[tuple[torch.Tensor, torch.Tensor]] = []


def _collate_keeping_in_the_worker(items: list[dict]) -> dict:
    """The worker keeps, from its first epoch, batch 0's frames, a view of batch 2's shop and
    a tensor over a numpy array of batch 4's frames (each view holds its slot), and says whether
    all it keeps is unchanged."""
    batch = _collate_with_stats(items)
    batch["worker_kept_intact"] = all(torch.equal(t, copy) for t, copy in _WORKER_KEPT)
    batch["worker_kept"] = len(_WORKER_KEPT)
    b = int(batch["frames"][0, 0, 0, 0, 0]) // 4  # the batch's number in its epoch
    if len(_WORKER_KEPT) == b // 2 and b in (0, 2, 4):  # the first epoch
        if b == 0:
            kept = batch["frames"]
        elif b == 2:
            kept = batch["shop"][1:3]
        else:
            kept = torch.from_numpy(batch["frames"].numpy()[0])
        _WORKER_KEPT.append((kept, kept.clone()))
    return batch


def test_a_batch_the_worker_keeps_is_never_overwritten():
    """Tensors cut from a slot are views of one storage whose use count says when the worker
    lets go (no finalizer per batch): what the worker keeps (a batch's frames, a view of a shop,
    a numpy array over frames) keeps its slot out of use while 15 more batches go by."""
    dl = torch.utils.data.DataLoader(
        _Numbered(),
        batch_size=4,
        collate_fn=_collate_keeping_in_the_worker,
        **loader_settings(1, pin_memory=False),
    )
    for epoch in range(3):
        for k, batch in enumerate(dl):
            assert batch["in_slot"] and batch["worker_kept_intact"], (epoch, k)
            assert batch["worker_kept"] == (3 if epoch else (k + 1) // 2)
            assert _same(batch, _expected(4 * k)), (epoch, k)


class _Growing(_Numbered):
    """Clips of 1 to 4 frames, the same within a batch of 4 and different from batch to batch."""

    def __getitem__(self, i: int) -> dict:
        item = super().__getitem__(i)
        n = 1 + (i // 4) % 4
        item["frames"] = torch.full((n, 3, 96, 96), i % 251, dtype=torch.uint8)
        item["boxes"], item["frame_indices"] = torch.full((n, 4), float(i)), torch.arange(n) + i
        return item


def _collate_with_views(items: list[dict]) -> dict:
    batch = _collate_with_stats(items)
    batch["views"] = max(len(s.views) for s in batch_memory._pool.slots)
    return batch


def test_slot_views_serve_batches_of_other_sizes(monkeypatch):
    """A slot keeps the views it cut, by place, size and dtype, and makes new ones for batches of
    other sizes (starting again past MAX_VIEWS): every batch is right, the views stay bounded."""
    monkeypatch.setattr(batch_memory, "MAX_VIEWS", 3)  # the forked worker sees it
    dl = torch.utils.data.DataLoader(
        _Growing(), batch_size=4, collate_fn=_collate_with_views, **loader_settings(1, pin_memory=False)
    )
    ds = _Growing()
    for _ in range(2):
        for k, batch in enumerate(dl):
            assert batch["in_slot"] and 1 <= batch["views"] <= 3
            assert _same(batch, collate_clips([ds[i] for i in range(4 * k, 4 * k + 4)])), k


class _ShopFirst(_Numbered):
    """The shop before the frames, as in ``MovingFashionDataset`` items."""

    def __getitem__(self, i: int) -> dict:
        item = super().__getitem__(i)
        return {"shop": item.pop("shop"), **item}


def test_a_batch_crosses_in_one_slot():
    """After a worker's first batch (which shows it how large a batch is) the frames and the shop
    of a batch share one slot: one descriptor, one mapping. Before, the shop (collated first)
    went into a small slot and the frames into another, for every batch."""
    dl = torch.utils.data.DataLoader(
        _ShopFirst(), batch_size=4, collate_fn=_collate_with_stats, **loader_settings(2, pin_memory=False)
    )
    for epoch in range(3):
        for batch in dl:
            assert batch["in_slot"]
            if epoch:
                assert batch["slots_used"] == 1


def test_a_slot_crosses_its_descriptor_once():
    """The main process maps a slot once and keeps the mapping: later batches in that slot carry
    its token only (before, every batch passed a descriptor over a socket and was mapped anew)."""
    before = batch_memory.received_stats()["mapped"]
    dl = _loader(2)
    batches, created = 0, 0
    for _ in range(6):
        for k, batch in enumerate(dl):
            assert _same(batch, _expected(4 * k))
            batches += 1
            created = max(created, batch["pool"]["created"])
    assert batches == 36
    assert batch_memory.received_stats()["mapped"] - before <= 2 * created < batches


def test_mappings_of_workers_that_left_are_dropped():
    """Workers that are not persistent leave after each epoch: the next epoch's first batch drops
    the main process's kept mappings of their slots (else each epoch would add its slots)."""
    dl = torch.utils.data.DataLoader(
        _Numbered(),
        batch_size=4,
        collate_fn=_collate_with_stats,
        **{**loader_settings(1, pin_memory=False), "persistent_workers": False},
    )
    for _ in dl:
        pass
    it = iter(dl)
    next(it)
    owners = {batch_memory._count(m, batch_memory._OWNER) for m in batch_memory._kept.values()}
    assert owners and owners <= {w.pid for w in it._workers}
    del it


def test_a_token_without_its_mapping_is_refused():
    with pytest.raises(RuntimeError, match="without its descriptor"):
        batch_memory._mapped_slot(12345)


def test_keeping_the_small_tensors_of_every_batch_keeps_no_slot():
    """A loop that keeps each batch's labels, boxes, mask and lengths (for its metrics) keeps
    their bytes only: they are not cut from the batch's slot, so the worker reuses its slots as
    when nothing is kept (each kept label held its batch's frames before: one slot a batch)."""
    dl = _loader(1)
    kept, created = [], 0
    for _ in range(6):
        for batch in dl:
            assert batch["in_slot"] and batch["small_in_slot"] == []
            # inline, in the message: no shared-memory file of their own either
            assert not any(batch[k].is_shared() for k in SMALL)
            kept.append({k: batch[k] for k in SMALL})
            created = max(created, batch["pool"]["created"])
    assert created <= loader_settings(1)["prefetch_factor"] + 3
    for k, small in enumerate(kept):
        want = _expected(4 * (k % 6))
        assert torch.equal(small["label"], want["label"]) and torch.equal(small["lengths"], want["lengths"])


def test_a_full_pool_falls_back_to_fresh_shared_memory(monkeypatch):
    """With room for 2 slots and every batch kept, the later batches take torch's shared memory
    (not a slot) and every batch is still right."""
    monkeypatch.setattr(batch_memory, "MAX_SLOTS", 2)  # the forked workers see it
    dl = _loader(1)
    batches = list(dl)
    assert [b["in_slot"] for b in batches[:2]] == [True, True]
    assert not any(b["in_slot"] for b in batches[2:])
    assert all(b["pool"]["slots"] <= 2 for b in batches)
    for k, batch in enumerate(batches):
        assert _same(batch, _expected(4 * k)), k


def _child_sum(q_in, q_out) -> None:
    t = q_in.get()
    q_out.put(int(t.sum()))


def test_a_received_batch_can_be_sent_on():
    """A tensor received from a slot is an ordinary tensor: torch.multiprocessing sends it on, and
    its storage is its own bytes (not the whole slot its batch was cut from, which sending it on
    or keeping it would copy)."""
    batch = next(iter(_loader(1)))
    for key in ("frames", "shop"):
        assert batch[key].untyped_storage().nbytes() == batch[key].numel() * batch[key].element_size()
    ctx = tmp.get_context("spawn")
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_child_sum, args=(q_in, q_out))
    p.start()
    try:
        q_in.put(batch["frames"])
        assert q_out.get(timeout=120) == int(batch["frames"].sum())
    finally:
        p.join(timeout=60)
        if p.is_alive():
            p.kill()


def test_outside_an_arena_or_a_worker_nothing_is_pooled():
    assert batch_memory.batch_empty((4, 4), torch.uint8) is None
    batch = collate_clips([_Numbered()[i] for i in range(4)])
    assert not batch_memory.in_slot(batch["frames"])


class _WithSparse(_Numbered):
    def __getitem__(self, i: int) -> dict:
        item = super().__getitem__(i)
        item["extra"] = torch.eye(3).to_sparse()
        return item


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")  # torch's own, sending a sparse tensor
def test_tensors_that_are_not_batch_slots_cross_as_torch_sends_them():
    """A sparse tensor beside the pooled ones is stacked and crosses as torch does it (it failed
    in collate before: a sparse stack has no dense out buffer)."""
    dl = torch.utils.data.DataLoader(
        _WithSparse(), batch_size=4, collate_fn=_collate_with_stats, **loader_settings(1, pin_memory=False)
    )
    for k, batch in enumerate(dl):
        assert _same(batch, _expected(4 * k))
        assert batch["extra"].is_sparse and torch.equal(
            batch["extra"].to_dense(), torch.eye(3).expand(4, 3, 3)
        )


def _checksum(t: torch.Tensor) -> int:
    return int(t.to(torch.int64).sum()) * 1_000_003 + int(
        (t.to(torch.int64) * torch.arange(t.numel()).view(t.shape)).sum()
    )


def test_a_forked_child_letting_go_never_frees_the_parents_kept_batch():
    """The child inherits the batch and its finalizers: its release once marked the slot free
    while the parent still held it, and the workers wrote later batches over the kept one."""
    import os

    dl = _loader(2)
    it = iter(dl)
    kept = next(it)
    want = _expected(0)
    pid = os.fork()
    if pid == 0:  # the child looks at the batch, lets go of it and leaves
        del kept
        import gc

        gc.collect()
        os._exit(0)
    os.waitpid(pid, 0)
    for _ in it:
        pass
    for _ in range(3):
        for _ in dl:
            pass
    assert _same(kept, want)


def test_a_batch_a_forked_child_still_reads_is_not_reused_after_the_parent_lets_go():
    """Forked while the parent held the batch: once the parent drops it, the child's copy (the
    same shared pages) must not be written over by the workers' later batches."""
    import os

    dl = _loader(2)
    it = iter(dl)
    batch = next(it)
    want = _checksum(batch["frames"])
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # wait until the parent has dropped its copy and run 3 more epochs
        os._exit(0 if _checksum(batch["frames"]) == want else 1)
    os.close(r)
    del batch
    for _ in it:
        pass
    for _ in range(3):
        for _ in dl:
            pass
    os.write(w, b"x")
    os.close(w)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, "the child's batch was written over"
