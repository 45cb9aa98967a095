"""ChunkedLoader: workers make several batches per message, the loop gets the DataLoader's
batches, in its order, with its contents (variable-length padding per batch, a short last
batch, a shuffled sampler, two epochs of persistent workers, a PK sampler over real clips)."""

from __future__ import annotations

import pytest
import torch

from movingfashion import batch_memory
from movingfashion.batching import PKSampler, collate_clips, loader_settings
from movingfashion.chunked_loader import ChunkedLoader, ChunkSampler, chunked_settings
from schemas.errors import ConfigError


class _Numbered(torch.utils.data.Dataset):
    """Item i: 2 + i % 3 frames full of i (batches pad to their own longest clip), a shop of i."""

    def __len__(self) -> int:
        return 26

    def __getitem__(self, i: int) -> dict:
        n = 2 + i % 3
        return {
            "frames": torch.full((n, 3, 64, 64), i, dtype=torch.uint8),
            "boxes": torch.full((n, 4), float(i)),
            "frame_indices": torch.arange(n) + i,
            "shop": torch.full((3, 96, 96), i, dtype=torch.uint8),
            "product_id": f"p{i}",
        }


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], torch.Tensor):
                assert x[k].shape == y[k].shape and torch.equal(x[k].nan_to_num(-7), y[k].nan_to_num(-7)), k
            else:
                assert x[k] == y[k], k


def test_chunks_give_the_dataloaders_batches_in_its_order_every_epoch():
    ds = _Numbered()
    plain = torch.utils.data.DataLoader(  # the same settings: persistent workers draw their seed once
        ds,
        batch_size=4,
        shuffle=True,
        generator=torch.Generator().manual_seed(5),
        collate_fn=collate_clips,
        **loader_settings(2, pin_memory=False),
    )
    chunked = ChunkedLoader(
        ds,
        4,
        shuffle=True,
        generator=torch.Generator().manual_seed(5),
        **chunked_settings(2, chunk=3, pin_memory=False),
    )
    assert len(chunked) == len(plain) == 7  # 6 batches of 4, a short one of 2; chunks of 3, 3, 1
    for _ in range(2):  # the second epoch: persistent workers, a new shuffle
        want, got = list(plain), list(chunked)
        _same(got, want)
        assert any(len(set(b["lengths"].tolist())) > 1 for b in got)  # padding per batch was checked


def test_a_chunks_batches_share_one_slot_and_plain_settings_stay_a_dataloader():
    def collate(items: list[dict]) -> dict:
        batch = collate_clips(items)
        pool = batch_memory._pool
        batch["slot"] = id(pool.slot_of(batch["frames"])) if pool is not None else None
        return batch

    dl = ChunkedLoader(_Numbered(), 4, sampler=range(16), collate_fn=collate, chunk=2, num_workers=1)
    seen = [b["slot"] for b in dl]
    # from the second chunk on (the first sizes the slots) one message is one slot
    assert seen[2] is not None and seen[2] == seen[3] and seen[-2] == seen[-1]
    assert not ChunkedLoader(_Numbered(), 4, chunk=1, num_workers=2)._chunked  # a plain DataLoader
    assert not ChunkedLoader(_Numbered(), 4, chunk=4, num_workers=0)._chunked
    assert (
        list(ChunkSampler([[0], [1], [2]], 2)) == [[[0], [1]], [[2]]] and len(ChunkSampler([[0]] * 5, 2)) == 3
    )
    s = chunked_settings(2, chunk=4, pin_memory=False)
    assert s == {**loader_settings(2, pin_memory=False), "chunk": 4, "prefetch_factor": 2}
    for bad in (
        {"chunk": 0},
        {"chunk": 2.5},
        {"batch_size": None},
        {"batch_sampler": [[0]], "batch_size": 4},
    ):
        with pytest.raises(ConfigError):
            ChunkedLoader(_Numbered(), **{"batch_size": 4, **bad})


def test_pk_batches_of_real_clips_are_the_same_with_chunks(tiny_dataset):
    from movingfashion.dataset import MovingFashionDataset

    ds = MovingFashionDataset(tiny_dataset, "train", seed=3, crop_size=32, shop_size=32, dtype=torch.uint8)
    sampler = PKSampler(ds, p=1, k=2, seed=1)  # 3 batches of 2: chunks of 2 and 1
    want = list(torch.utils.data.DataLoader(ds, batch_size=2, sampler=sampler, collate_fn=collate_clips))
    got = list(ChunkedLoader(ds, 2, sampler=sampler, chunk=2, num_workers=2))
    _same(got, want)
    assert len(got) == 3
