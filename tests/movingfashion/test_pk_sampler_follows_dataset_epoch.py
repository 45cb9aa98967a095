"""``PKSampler`` takes its epoch from the dataset unless set itself: the README's one call
``dataset.set_epoch(e)`` reshuffles the batches every epoch, and an epoch repeats exactly."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from movingfashion.batching import PKSampler, collate_clips
from movingfashion.dataset import MovingFashionDataset


class _Products:
    """A dataset of 24 items, 2 per product, with an epoch as ``MovingFashionDataset`` has."""

    def __init__(self) -> None:
        self.product_ids = [f"p{i // 2}" for i in range(24)]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def test_consecutive_dataset_epochs_give_other_batches_and_an_epoch_repeats():
    ds = _Products()
    sampler = PKSampler(ds, 4, 2, seed=3)
    plans = []
    for e in (0, 1, 2, 1):
        ds.set_epoch(e)
        plans.append(sampler.batches())
    assert plans[0] != plans[1] != plans[2] != plans[0]
    assert plans[3] == plans[1]  # the same epoch, the same batches
    assert sampler.epoch == 1


def test_set_epoch_of_the_sampler_still_wins():
    ds = _Products()
    sampler = PKSampler(ds, 4, 2, seed=3)
    ds.set_epoch(5)
    at5 = sampler.batches()
    sampler.set_epoch(2)
    ds.set_epoch(7)  # the sampler keeps its own epoch from now on
    assert sampler.epoch == 2 and sampler.batches() != at5
    sampler.set_epoch(5)
    assert sampler.batches() == at5
    # a dataset without an epoch: epoch 0 until set
    plain = PKSampler(list(range(24)), 4, 2, seed=3, labels=ds.product_ids)
    assert plain.epoch == 0


def test_the_readme_recipe_reshuffles_products_every_epoch(tiny_dataset):
    ds = MovingFashionDataset(tiny_dataset, "train", seed=1, frames=2, crop_size=16, dtype=torch.uint8)
    dl = DataLoader(ds, batch_size=2, sampler=PKSampler(ds, 1, 2), collate_fn=collate_clips)
    order = []
    for e in range(6):
        ds.set_epoch(e)  # the one call the README asks for
        order.append(tuple(b["product_id"][0] for b in dl))
    assert len(set(order)) > 1
    ds.set_epoch(3)
    assert tuple(b["product_id"][0] for b in dl) == order[3]
