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
from movingfashion.models.matchrcnn import (
    fits_float16,
    is_batchnorm_statistic,
    nonfinite_tensors,
    storage_dtypes,
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


def _stored(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_shipped_matcher_is_finite_and_stored_where_nothing_overflows():
    """Every tensor of the committed weights is finite; batch-norm statistics are float32 and a
    float16 tensor holds nothing float16 cannot (its values round-trip within FLOAT16_RTOL)."""
    state = _stored(default_matcher_path())
    assert nonfinite_tensors(state) == {}
    for name, v in state.items():
        if not v.is_floating_point():
            continue
        assert bool(torch.isfinite(v).all()), name
        if is_batchnorm_statistic(name):
            assert v.dtype == torch.float32, name
        assert v.dtype == torch.float32 or fits_float16(v.float()), name
    assert any(is_batchnorm_statistic(k) for k in state)
    assert float(state["f.bn.running_var"].max()) > 0 and float(state["f.bn.running_var"].min()) > 0


def test_every_descriptor_dimension_of_the_shipped_matcher_varies(small_world):
    """With eval-mode batch norm, a dimension with an infinite (overflowed) variance is constant
    for every input; every one of the 256 must vary across garments."""
    from movingfashion.models.pretrain import df2_crops

    crops = df2_crops(small_world / "df2", "train", 64)
    m = load_matcher(device="cpu")
    with torch.no_grad():
        emb = m.embed(crops.crops.float() / 255)
    assert len(emb) >= 20 and bool(torch.isfinite(emb).all())
    std = emb.std(0)
    assert std.shape == (256,)
    # per-dimension spread across crops: none constant, none negligible next to the others
    assert float(std.min()) > 0.1 * float(std.median()) > 0, std.sort().values[:8].tolist()


def test_save_refuses_non_finite_tensors_and_writes_nothing(tmp_path):
    m = SingleFrameMatcher(crop_size=16).eval()
    m.f.bn.running_var[:3] = float("inf")
    with pytest.raises(ModelError, match=r"non-finite.*f\.bn\.running_var.*3 of 256"):
        m.save(tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []
    m.f.bn.running_var[:3] = 1.0
    m.m.fc.bias.data[0] = float("nan")
    with pytest.raises(ModelError, match="m.fc.bias"):
        m.save(tmp_path / "m.pt")


def test_batchnorm_statistics_and_large_values_are_saved_exactly(tmp_path):
    torch.manual_seed(2)
    m = SingleFrameMatcher(crop_size=16).eval()
    m.f.bn.running_var.copy_(torch.linspace(1e3, 2e5, 256))  # above float16's 65,504
    m.f.bn.running_mean.copy_(torch.linspace(-900.3, 800.7, 256))
    m.m.fc.weight.data[0, 0] = 7e4  # a parameter float16 cannot hold
    m.save(tmp_path / "m.pt")
    state = _stored(tmp_path / "m.pt")
    assert (
        state["f.bn.running_var"].dtype == torch.float32 and state["f.bn.running_mean"].dtype == torch.float32
    )
    assert state["m.fc.weight"].dtype == torch.float32 and state["f.fc.weight"].dtype == torch.float16
    loaded = load_matcher(tmp_path / "m.pt", device="cpu")
    for k in ("f.bn.running_var", "f.bn.running_mean", "m.fc.weight"):
        assert torch.equal(loaded.state_dict()[k], m.state_dict()[k]), k
    # without half every tensor is float32 and the round trip is exact
    m.save(tmp_path / "full.pt", half=False)
    full = load_matcher(tmp_path / "full.pt", device="cpu").state_dict()
    assert all(torch.equal(full[k], v) for k, v in m.state_dict().items())
    assert storage_dtypes({"a": torch.full((3,), 1e5)}) == {"a": torch.float32}
    assert storage_dtypes({"a": torch.full((3,), 1e-9)}) == {"a": torch.float32}  # would flush to 0
    assert storage_dtypes({"a": torch.ones(3)}) == {"a": torch.float16}
    assert storage_dtypes({"a": torch.ones(3)}, half=False) == {"a": torch.float32}


def test_load_refuses_a_checkpoint_with_overflowed_statistics(tmp_path):
    m = SingleFrameMatcher(crop_size=16).eval()
    m.save(tmp_path / "m.pt")
    ckpt = torch.load(tmp_path / "m.pt", weights_only=True)
    var = ckpt["state_dict"]["f.bn.running_var"].half()
    var[:109] = float("inf")  # what an overflowed float16 save looked like
    ckpt["state_dict"]["f.bn.running_var"] = var
    torch.save(ckpt, tmp_path / "old.pt")
    with pytest.raises(ModelError, match="non-finite") as e:
        load_matcher(tmp_path / "old.pt", device="cpu")
    assert "109 of 256" in str(e.value) and "old.pt" in str(e.value) and "recalibrate" in str(e.value)
    repairable = load_matcher(tmp_path / "old.pt", device="cpu", allow_nonfinite=True)
    assert int(torch.isinf(repairable.f.bn.running_var).sum()) == 109


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
