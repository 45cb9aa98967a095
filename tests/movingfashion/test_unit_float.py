"""``unit_float``: uint8 -> float32 / 255 on one thread on the CPU, bit for bit ``torch.div``'s."""

from __future__ import annotations

import torch

from movingfashion.batching import frames_to_float
from movingfashion.dataset import clip_tensor
from movingfashion.unit_float import unit_float


def test_every_uint8_value_divides_to_torch_div_bit_for_bit_without_torch_div(monkeypatch):
    values = torch.arange(256, dtype=torch.uint8).repeat(64).reshape(4, 4, 32, 32)  # vectorised paths too
    want = torch.div(values, 255.0)
    strided = values.transpose(1, 3)  # a view that is not contiguous
    want_strided = torch.div(strided, 255.0)
    planar = values.numpy()[:, :3].copy()
    want_planar = torch.div(torch.from_numpy(planar), 255.0)
    calls = []
    real_div = torch.div
    monkeypatch.setattr(torch, "div", lambda *a, **k: calls.append(a) or real_div(*a, **k))
    got = unit_float(values)
    assert got.dtype == torch.float32 and torch.equal(got.view(torch.int32), want.view(torch.int32))
    assert torch.equal(unit_float(strided), want_strided)
    assert torch.equal(frames_to_float(values), want) and torch.equal(frames_to_float(values, "cpu"), want)
    assert torch.equal(clip_tensor(planar, torch.float32, planar=True), want_planar)
    assert calls == []  # the CPU path never went through torch's threaded division
    unit_float(values.to(torch.float16))  # anything but uint8 keeps torch.div
    assert len(calls) == 1
