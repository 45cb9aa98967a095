"""Crops cut out of frames with RoIAlign."""

from __future__ import annotations

import numpy as np

from movingfashion.models import crops_from_frames


def test_crops_from_frames_cuts_the_box():
    frame = np.zeros((100, 120, 3), np.uint8)
    frame[20:60, 30:90] = (255, 0, 0)
    frame2 = np.full((50, 50, 3), 128, np.uint8)
    crops = crops_from_frames([frame, frame, frame2], [[30, 20, 90, 60], np.zeros((0, 4)), None], 32)
    assert crops.shape == (2, 3, 32, 32)
    inner = crops[0, :, 4:28, 4:28]
    assert float(inner[0].min()) > 0.95 and float(inner[1].max()) < 0.05
    assert abs(float(crops[1].mean()) - 128 / 255) < 0.01
    batch = np.stack([frame, frame])
    two = crops_from_frames(batch, [np.array([[30, 20, 90, 60], [0, 0, 10, 10]]), None], 16)
    assert two.shape == (3, 3, 16, 16)
    assert float(two[1].max()) < 0.05


def test_crops_equal_roi_align_over_the_whole_frame():
    """Only the boxes' region is converted to float: the crops are those of RoIAlign on the whole
    frame (inside, at the frame's edges, boxes past them, tiny and fractional boxes)."""
    import torch
    from torchvision.ops import roi_align

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 72, 96, 3), dtype=np.uint8)
    boxes = [
        np.array([[10.3, 5.7, 40.2, 60.9], [0, 0, 96, 72], [80.5, 60.2, 99.0, 75.0]], np.float32),
        np.array([[50.0, 20.0, 50.4, 20.2], [-3.0, -2.0, 20.0, 10.0]], np.float32),
        None,
    ]
    got = crops_from_frames(frames, boxes, 24)
    ref = []
    for f, b in zip(frames, boxes, strict=True):
        arr = np.array([[0, 0, 96, 72]], np.float32) if b is None else b.copy()
        arr[:, 2] = np.maximum(arr[:, 2], arr[:, 0] + 1)
        arr[:, 3] = np.maximum(arr[:, 3], arr[:, 1] + 1)
        img = torch.from_numpy(f).permute(2, 0, 1).float().div(255)[None]
        r = torch.from_numpy(np.concatenate([np.zeros((len(arr), 1), np.float32), arr], 1))
        ref.append(roi_align(img, r, (24, 24), 1.0, 2, True).clamp(0, 1))
    ref = torch.cat(ref)
    assert got.shape == ref.shape == (6, 3, 24, 24)
    assert float((got - ref).abs().max()) < 1e-5


def test_far_apart_boxes_are_cut_from_their_own_regions():
    """Two small boxes at both ends of a wide frame: each gets its own region (less to convert),
    and the crops are still those of RoIAlign on the whole frame."""
    import torch
    from torchvision.ops import roi_align

    from movingfashion.models.crops import _regions

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (90, 400, 3), dtype=np.uint8)
    boxes = np.array(
        [[1.5, 10.2, 30.7, 50.1], [360.2, 40.0, 399.9, 89.6], [-5.0, 80.0, 12.0, 95.0]], np.float32
    )
    regions = _regions(boxes, 400, 90)
    assert len(regions) == 3 and [r[4].tolist() for r in regions] == [[0], [1], [2]]
    got = crops_from_frames([frame], [boxes], 16)
    img = torch.from_numpy(frame).permute(2, 0, 1).float().div(255)[None]
    r = torch.from_numpy(np.concatenate([np.zeros((3, 1), np.float32), boxes], 1))
    ref = roi_align(img, r, (16, 16), 1.0, 2, True).clamp(0, 1)
    # float32 sample positions round at ulp(400 px) ~3e-5 px in the frame but finer in a region:
    # on noise (gradients up to 1 per pixel) that is a few 1e-5, far below one grey level (0.004)
    assert float((got - ref).abs().max()) < 5e-5
    # one box alone, or boxes close together: one region around all of them
    assert len(_regions(boxes[:1], 400, 90)) == 1
    assert len(_regions(np.array([[10, 10, 50, 50], [40, 20, 90, 60]], np.float32), 400, 90)) == 1
