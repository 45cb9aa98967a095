"""The single-frame matching API: shapes, vectorised scores, crops and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movingfashion.models import (
    MATCHER_KIND,
    CropEncoder,
    EmbeddingHead,
    MatchHead,
    SingleFrameMatcher,
    crops_from_frames,
    load_matcher,
)
from schemas.errors import ModelError


def test_shapes():
    enc, f = CropEncoder(), EmbeddingHead()
    maps = enc(torch.rand(3, 3, 96, 96))
    assert maps.shape == (3, 256, 6, 6)
    f.eval()
    assert f(maps).shape == (3, 256)
    m = SingleFrameMatcher().eval()
    with torch.no_grad():
        assert m.embed(torch.rand(5, 3, 96, 96), batch_size=2).shape == (5, 256)
        assert m.embed(torch.zeros(0, 3, 96, 96)).shape == (0, 256)
        assert m.embed_features(torch.rand(2, 256, 6, 6)).shape == (2, 256)


def test_score_matrix_equals_naive_broadcast():
    torch.manual_seed(0)
    head = MatchHead()
    a, b = torch.randn(7, 256) * 2, torch.randn(11, 256) * 2
    with torch.no_grad():
        fast = head.score_matrix(a, b)
        naive = head.score(a[:, None, :].expand(7, 11, 256), b[None, :, :].expand(7, 11, 256))
    assert fast.shape == (7, 11)
    assert torch.allclose(fast, naive, atol=1e-5)
    assert float(fast.min()) >= 0 and float(fast.max()) <= 1
    with torch.no_grad():
        rows = head.score(a[:3], b[:3])
    assert torch.allclose(rows, naive[torch.arange(3), torch.arange(3)], atol=1e-6)


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


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(1)
    m = SingleFrameMatcher(crop_size=64).eval()
    tag = m.save(tmp_path / "m.pt")
    assert tag.startswith(MATCHER_KIND)
    loaded = load_matcher(tmp_path / "m.pt", device="cpu")
    assert loaded.crop_size == 64 and loaded.tag == tag and not loaded.training
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        # fp16 storage: close, not bit-identical
        assert torch.allclose(m.embed(x), loaded.embed(x), atol=0.05, rtol=0.02)


def test_load_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_matcher(tmp_path / "missing.pt")
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelError, match="corrupt"):
        load_matcher(bad)
    other = tmp_path / "other.pt"
    torch.save({"kind": "yolo", "state_dict": {}}, other)
    with pytest.raises(ModelError, match="not a single-frame matcher"):
        load_matcher(other)
    wrong = tmp_path / "wrong.pt"
    torch.save(
        {
            "kind": MATCHER_KIND,
            "version": 1,
            "config": {"crop_size": 96},
            "state_dict": {"x": torch.zeros(1)},
        },
        wrong,
    )
    with pytest.raises(ModelError, match="does not fit"):
        load_matcher(wrong)
