"""The single-frame Match-RCNN module: shapes, the one vectorised score, copies by name, checkpoints."""

from __future__ import annotations

import pytest
import torch

from movingfashion.models import (
    MATCHER_KIND,
    CropEncoder,
    EmbeddingHead,
    MatchHead,
    SingleFrameMatcher,
    default_matcher_path,
    load_matcher,
    margin_matrix,
    score_matrix,
    twin,
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


def test_expanded_ranking_equals_the_naive_broadcast_at_every_call_site():
    """One implementation of the (a - b)^2 expansion, reached by tracking (MatchHead.score_matrix),
    by SEAM's evaluation and by anyone holding only the Linear's weights."""
    import movingfashion.seam.evaluate as seam_evaluate
    from movingfashion.models import matchrcnn

    g = torch.Generator().manual_seed(3)
    head = MatchHead(64)
    with torch.no_grad():
        head.fc.weight.copy_(torch.randn(2, 64, generator=g) * 0.2)
        head.fc.bias.copy_(torch.randn(2, generator=g))
    q, gal = torch.randn(13, 64, generator=g) * 1.5, torch.randn(29, 64, generator=g) * 1.5
    with torch.no_grad():
        # the naive reference: the [Q, G, dim] tensor of squared differences through the Linear
        logits = head.fc((q[:, None, :] - gal[None, :, :]) ** 2)
        naive_margin = logits[..., 1] - logits[..., 0]
        naive_score = logits.softmax(-1)[..., 1]
        w, b = head.fc.weight, head.fc.bias
        assert torch.allclose(margin_matrix(q, gal, w, b), naive_margin, atol=1e-4)
        assert torch.allclose(head.margin_matrix(q, gal), naive_margin, atol=1e-4)
        assert torch.allclose(head.score_matrix(q, gal), naive_score, atol=1e-6)
        assert torch.allclose(score_matrix(q, gal, w, b), naive_score, atol=1e-6)
        assert torch.allclose(head.pair_logits(q, gal), logits)
        # in float64 the expansion is exact to rounding, and the rankings agree
        exact = margin_matrix(q.double(), gal.double(), w.double(), b.double())
        naive64 = head.double().fc((q.double()[:, None] - gal.double()[None]) ** 2)
        assert torch.allclose(exact, naive64[..., 1] - naive64[..., 0], atol=1e-9)
        assert torch.equal(exact.argsort(1), (naive64[..., 1] - naive64[..., 0]).argsort(1))
    # SEAM's evaluation ranks with this very function, not a copy of it
    assert seam_evaluate.score_matrix is matchrcnn.score_matrix


def test_expansion_computes_in_the_wider_dtype():
    head = MatchHead(8)
    q, g = torch.randn(3, 8), torch.randn(4, 8)
    assert head.score_matrix(q.half(), g.half()).dtype == torch.float32
    assert margin_matrix(q.double(), g.double(), head.fc.weight, head.fc.bias).dtype == torch.float64


def test_twin_copies_by_name_into_separate_parameters():
    torch.manual_seed(0)
    f, m = EmbeddingHead(8, 16, 32, 24), MatchHead(24)
    for bn in [f.bn]:
        bn.running_mean.uniform_()
        bn.num_batches_tracked.fill_(7)
    f.eval()
    state = torch.random.get_rng_state()
    f2, m2 = twin(f), twin(m)
    # copying draws nothing from the random generator (later initialisations stay the same)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert type(f2) is EmbeddingHead and f2.spec() == f.spec() == {
        "in_channels": 8,
        "mid": 16,
        "hidden": 32,
        "dim": 24,
    }
    for (ka, a), (kb, b) in zip(f.state_dict().items(), f2.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)
    assert torch.equal(m2.fc.weight, m.fc.weight) and m2.dim == 24
    assert not f2.training and m2.training  # the mode travels with the copy
    assert f2.fc.weight.data_ptr() != f.fc.weight.data_ptr()
    with torch.no_grad():
        f2.fc.weight.add_(1.0)
    assert not torch.equal(f2.fc.weight, f.fc.weight)
    with pytest.raises(ModelError, match="EmbeddingHead or MatchHead"):
        twin(torch.nn.Linear(2, 2))


def test_embedded_matcher_checkpoint_loads_with_the_names_of_this_code():
    """The committed weights (written before the heads had one home) load strictly."""
    ckpt = torch.load(default_matcher_path(), map_location="cpu", weights_only=True)
    model = SingleFrameMatcher(**ckpt["config"])
    assert set(ckpt["state_dict"]) == set(model.state_dict())
    loaded = load_matcher(device="cpu")
    assert loaded.tag == ckpt["tag"] and not loaded.training


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


def test_fused_copy_embeds_like_the_matcher_and_leaves_it_trainable():
    import torch

    from movingfashion.models import load_matcher

    m = load_matcher(None, device="cpu")
    fused = m.fused_for_inference()
    x = torch.rand(7, 3, m.crop_size, m.crop_size)
    with torch.no_grad():
        a, b = m.embed(x), fused.embed(x)
    assert float((a - b).abs().max()) < 1e-4 * float(a.abs().max())
    assert fused.tag == m.tag and not any(p.requires_grad for p in fused.parameters())
    assert all(p.requires_grad for p in m.parameters())  # the original is untouched
    assert sum(isinstance(x, torch.nn.BatchNorm2d) for x in fused.encoder.modules()) == 0
