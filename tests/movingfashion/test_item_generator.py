from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from movingfashion.dataset import MovingFashionDataset


@pytest.mark.parametrize(
    "key", [(0, 0, 0), (2**32 - 1, 3, 2**32 - 1), (7, 0, 2**32), (2**40 + 5, 1, 9), (123, 2, 456)]
)
def test_the_items_generator_is_default_rng_of_seed_epoch_index(key):
    """dataset.generator builds its generator from uint32 words when each part fits one: the very
    generator default_rng([seed, epoch, index]) gives, past one word too."""
    seed, epoch, index = key
    got = MovingFashionDataset.generator(SimpleNamespace(seed=seed, epoch=epoch), index)
    want = np.random.default_rng([seed, epoch, index])
    assert got.bit_generator.state == want.bit_generator.state
