"""``clip_tensor``: frames ``[N, H, W, C]`` to the loader's ``[N, C, H, W]`` tensors, the same
bytes whichever way the copy is made (OpenCV's split for uint8 pictures, numpy otherwise)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from movingfashion.dataset import clip_tensor


def reference(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(arr).transpose(0, 3, 1, 2))


@given(
    n=st.integers(0, 4),
    h=st.integers(1, 17),
    w=st.integers(1, 17),
    c=st.integers(1, 5),
    flip=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_uint8_frames_keep_every_byte_in_planar_order(n, h, w, c, flip, seed):
    arr = np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)
    if flip:  # a non-contiguous view, as a sliced batch would be
        arr = arr[:, ::-1]
    t = clip_tensor(arr, torch.uint8)
    assert t.dtype == torch.uint8 and t.is_contiguous()
    assert np.array_equal(t.numpy(), reference(arr))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_float_output_is_the_uint8_planes_over_255(dtype):
    arr = np.random.default_rng(1).integers(0, 256, (3, 8, 6, 3), dtype=np.uint8)
    t = clip_tensor(arr, dtype)
    assert t.dtype == dtype
    assert torch.equal(t, torch.from_numpy(reference(arr)).to(dtype).div_(255.0) if dtype != torch.float32
                       else torch.div(torch.from_numpy(reference(arr)), 255.0))  # fmt: skip
