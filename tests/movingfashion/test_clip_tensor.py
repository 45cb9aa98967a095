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


class _Cutter:
    """What ``MovingFashionDataset._crops`` / ``_whole`` read of the dataset."""

    def __init__(self, crop_size, frame_size, context):
        self.crop_size, self.frame_size, self.context = crop_size, frame_size, context


@given(
    n=st.integers(1, 4),
    h=st.integers(2, 90),
    w=st.integers(2, 90),
    out=st.tuples(st.integers(1, 64), st.integers(1, 64)),
    context=st.sampled_from([0.0, 0.25]),
    same_size=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_planar_cut_is_the_planes_of_the_frame_ordered_cut(n, h, w, out, context, same_size, seed):
    """The live path writes crops and whole frames straight into ``[T, 3, h, w]``: the same bytes
    as cutting ``[T, h, w, 3]`` and splitting it, for upscaled, downscaled and same-size pictures
    (a box the output size exactly is copied)."""
    from movingfashion.dataset import MovingFashionDataset as MF

    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    if same_size:
        out = (h, w)
    x1, y1 = rng.uniform(-5, w - 1, n), rng.uniform(-5, h - 1, n)
    boxes = np.stack([x1, y1, x1 + rng.uniform(0.5, w, n), y1 + rng.uniform(0.5, h, n)], 1).astype(np.float32)
    if same_size:
        boxes[0] = [0, 0, w, h]
    cut = _Cutter(out, out, context)
    hwc = MF._crops(cut, frames, boxes)
    planar = MF._crops(cut, frames, boxes, planar=True)
    assert planar.flags.c_contiguous and np.array_equal(planar, reference(hwc))
    for frame_size in (out, None):
        cut.frame_size = frame_size
        (whole, b1), (whole_p, b2) = MF._whole(cut, frames, boxes), MF._whole(cut, frames, boxes, planar=True)
        assert np.array_equal(whole_p, reference(whole)) and np.array_equal(b1, b2)
