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
