from __future__ import annotations

import math

import pytest
import torch

from movingfashion.batch_memory import in_slot
from movingfashion.batching import PKSampler, collate_clips
from schemas.errors import ConfigError


class Labels:
    def __init__(self, labels):
        self.product_ids = labels

    def __len__(self):
        return len(self.product_ids)


def _labels():
    # 9 products: product j has j % 3 + 1 items
    return [f"p{j}" for j in range(9) for _ in range(j % 3 + 1)]


def test_pk_batches_hold_p_products_times_k_clips():
    ds = Labels(_labels())
    s = PKSampler(ds, p=3, k=2, seed=0)
    batches = s.batches()
    assert len(batches) == 3 and len(s) == 18 and list(s) == [i for b in batches for i in b]
    seen_products = set()
    for b in batches:
        labels = [ds.product_ids[i % len(ds)] for i in b]
        assert len(b) == 6 and len(set(labels)) == 3
        assert all(labels.count(x) == 2 for x in set(labels))
        assert len(set(b)) == 6  # repeats of a one-item product come as index + r * len
        seen_products |= set(labels)
    assert len(seen_products) == 9  # every product once per epoch


def test_pk_epoch_and_seed_change_the_order():
    ds = Labels(_labels())
    s = PKSampler(ds, p=3, k=2, seed=0)
    e0 = s.batches()
    s.set_epoch(1)
    assert s.batches() != e0
    s.set_epoch(0)
    assert s.batches() == e0 and PKSampler(ds, p=3, k=2, seed=1).batches() != e0


def test_pk_distributed_replicas_are_disjoint_and_equal():
    ds = Labels(_labels() + [f"q{j}" for j in range(11)])  # 20 products
    full = PKSampler(ds, p=2, k=2, seed=4, num_replicas=1, rank=0).batches()
    parts = [PKSampler(ds, p=2, k=2, seed=4, num_replicas=3, rank=r).batches() for r in range(3)]
    assert all(len(p) == len(parts[0]) == 3 for p in parts)
    flat = [tuple(b) for p in parts for b in p]
    assert len(set(flat)) == 9 and set(flat) <= {tuple(b) for b in full}
    assert len(PKSampler(ds, p=2, k=2, seed=4, num_replicas=3, rank=1)) == 12
    with pytest.raises(ConfigError):
        PKSampler(ds, p=2, k=2, num_replicas=2, rank=2)
    with pytest.raises(ConfigError, match="lower P"):
        PKSampler(ds, p=50, k=2)


def _item(t, pid):
    return {
        "shop": torch.ones(3, 4, 4),
        "frames": torch.full((t, 3, 4, 4), float(t)),
        "frame_indices": torch.arange(t),
        "boxes": torch.ones(t, 4),
        "product_id": pid,
        "df2_class": 3,
        "partition": "regular",
    }


def test_collate_pads_variable_length_clips_with_a_mask():
    b = collate_clips([_item(2, "a"), _item(5, "b")])
    assert b["frames"].shape == (2, 5, 3, 4, 4) and b["lengths"].tolist() == [2, 5]
    assert b["mask"].tolist() == [[True, True, False, False, False], [True] * 5]
    assert float(b["frames"][0, 2:].abs().sum()) == 0 and float(b["frames"][0, :2].mean()) == 2.0
    assert math.isnan(float(b["boxes"][0, 3, 0])) and b["frame_indices"][0].tolist() == [0, 1, -1, -1, -1]
    assert (
        b["product_id"] == ["a", "b"]
        and b["df2_class"].tolist() == [3, 3]
        and b["shop"].shape == (2, 3, 4, 4)
    )


def test_collate_keeps_frames_of_different_sizes_as_a_list():
    a, c = _item(2, "a"), _item(2, "b")
    c["frames"] = torch.zeros(2, 3, 6, 4)
    b = collate_clips([a, c])
    assert isinstance(b["frames"], list) and b["mask"].all()


def test_loader_settings_and_float_on_the_device_give_the_float_items(tiny_dataset):
    from movingfashion.batching import frames_to_float, loader_settings
    from movingfashion.dataset import MovingFashionDataset
    from movingfashion.malloc_tuning import MallocWorkerInit

    s = loader_settings(2, pin_memory=False)
    assert s == {
        "num_workers": 2,
        "pin_memory": False,
        "persistent_workers": True,
        "prefetch_factor": 4,
        "worker_init_fn": MallocWorkerInit(),
    }
    assert loader_settings(0, pin_memory=True) == {"num_workers": 0, "pin_memory": True}
    u8 = MovingFashionDataset(tiny_dataset, "train", seed=2, crop_size=32, dtype=torch.uint8)
    f32 = MovingFashionDataset(tiny_dataset, "train", seed=2, crop_size=32)
    dl = torch.utils.data.DataLoader(u8, batch_size=2, sampler=[0, 1, 2, 3], collate_fn=collate_clips, **s)
    got = torch.cat([frames_to_float(b["frames"], "cpu") for b in dl])
    want = torch.stack([f32[i]["frames"] for i in range(4)])
    assert got.dtype == torch.float32 and torch.equal(got, want)


class _Clips(torch.utils.data.Dataset):
    """Clips of 2 and 3 frames whose pixels say which clip they are."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        n = 2 + i % 2
        return {
            "frames": torch.full((n, 3, 96, 96), i, dtype=torch.uint8),
            "boxes": torch.full((n, 4), float(i)),
            "frame_indices": torch.arange(n),
            "shop": torch.full((3, 96, 96), i, dtype=torch.uint8),
        }


def _collate_noting_memory(items: list[dict]) -> dict:
    batch = collate_clips(items)
    batch["stacked_shared"] = [
        batch[k].is_shared() or in_slot(batch[k]) for k in ("frames", "boxes", "shop", "frame_indices")
    ]
    return batch


def test_collate_builds_batches_in_shared_memory_inside_workers():
    """In a DataLoader worker the batch's frames and shops are stacked straight into shared
    memory (a reused slot of movingfashion.batch_memory; no second copy when it crosses to the
    main process), its small tensors (boxes, indices) cross inline, in ordinary memory; in the
    main process it all stays ordinary memory; the values and padding are the same either way."""
    ds = _Clips()
    here = _collate_noting_memory([ds[i] for i in range(4)])
    assert here["stacked_shared"] == [False] * 4
    dl = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1, collate_fn=_collate_noting_memory)
    (there,) = list(dl)
    assert there["stacked_shared"] == [True, False, True, False]  # frames, boxes, shop, indices
    for key in ("frames", "frame_indices", "shop", "mask", "lengths"):
        assert torch.equal(here[key], there[key]), key
    assert torch.equal(here["boxes"].nan_to_num(-7.0), there["boxes"].nan_to_num(-7.0))
    assert there["frames"][0, 2].eq(0).all() and there["boxes"][0, 2].isnan().all()
    assert there["frames"][3, 2].eq(3).all() and there["frame_indices"][0, 2] == -1


def test_loader_settings_and_pk_sampler_epoch_refuse_what_they_cannot_use_and_the_sampler_shows_itself():
    """``loader_settings(-1)`` was silently no worker and ``(2.5)`` two; ``sampler.set_epoch(-1)``
    was numpy's ValueError at the next epoch; repr() was ``<... object at 0x...>``."""
    import numpy as np

    from movingfashion.batching import PKSampler, loader_settings
    from schemas.errors import ConfigError

    for bad in (-1, 2.5, "2"):
        with pytest.raises(ConfigError, match="num_workers") as err:
            loader_settings(bad, pin_memory=False)
        assert err.value.where == "num_workers"
    assert loader_settings(np.int64(1), pin_memory=False)["num_workers"] == 1
    sampler = PKSampler(None, 2, 2, labels=["a", "b", "c", "d", "e"])
    text = repr(sampler)
    assert "P=2, K=2, products=5, batches=2" in text and "epoch=the dataset's" in text
    with pytest.raises(ConfigError) as err:
        sampler.set_epoch(-1)
    assert err.value.where == "epoch"
    sampler.set_epoch(np.int64(3))
    assert sampler.epoch == 3 and "epoch=3" in repr(sampler)


@pytest.mark.parametrize(
    "dtype", [torch.uint8, torch.float32, torch.float16, torch.int64, torch.bool, torch.bfloat16]
)
def test_collate_copies_cpu_batches_on_one_thread_with_the_bytes_torch_stack_gives(dtype, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    items = []
    for n in (3, 3, 2):  # two equal lengths and one shorter: stacked fields and padded ones
        frames = torch.randint(0, 200, (n, 3, 5, 4), generator=gen).to(dtype)
        boxes = torch.rand(n, 4, generator=gen)
        items.append(
            {"frames": frames, "boxes": boxes, "label": torch.randint(0, 9, (2,), generator=gen).to(dtype)}
        )
    want_label = torch.stack([it["label"] for it in items])
    want_frames = torch.zeros(3, 3, 3, 5, 4, dtype=dtype)
    want_boxes = torch.full((3, 3, 4), float("nan"))
    for i, it in enumerate(items):
        want_frames[i, : len(it["frames"])] = it["frames"]
        want_boxes[i, : len(it["boxes"])] = it["boxes"]
    real_stack = torch.stack
    calls = []

    def counting_stack(*args, **kwargs):  # torch's copy spreads over the intra-op threads
        calls.append(args[0][0].dtype)
        return real_stack(*args, **kwargs)

    monkeypatch.setattr(torch, "stack", counting_stack)
    batch = collate_clips(items)
    assert torch.equal(batch["label"], want_label) and batch["label"].dtype == dtype
    assert torch.equal(batch["frames"], want_frames) and batch["frames"].dtype == dtype
    assert torch.allclose(batch["boxes"], want_boxes, equal_nan=True)
    # numpy copies every dtype it holds on the calling thread; bfloat16 falls back to torch
    assert calls == ([torch.bfloat16] if dtype == torch.bfloat16 else [])
