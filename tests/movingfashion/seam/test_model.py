import pytest
import torch

from movingfashion.models import MatchHead
from movingfashion.seam.config import ModelConfig, Variant
from movingfashion.seam.model import MultiFrameHead, NonLocalBlock, SeamModel
from tests.movingfashion.seam.conftest import tiny_model


@pytest.mark.parametrize("variant", ["full", "no_nlb", "no_nlb_g"])
def test_forward_shapes_and_attention_sums_to_one(variant):
    model = tiny_model(variant).eval()
    track = torch.randn(3, 5, 8, 2, 2)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1, 3:] = False
    prob, weights = model(track, mask, torch.randn(3, 8, 2, 2))
    assert prob.shape == (3,) and weights.shape == (3, 5)
    assert ((prob >= 0) & (prob <= 1)).all()
    assert torch.allclose(weights.sum(1), torch.ones(3))
    assert (weights[1, 3:] == 0).all()


@pytest.mark.parametrize("variant", ["full", "no_nlb", "no_nlb_g"])
def test_padded_frames_do_not_change_the_descriptor(variant):
    head = tiny_model(variant).eval().head
    x = torch.randn(1, 3, 32)
    padded = torch.cat([x, torch.randn(1, 2, 32) * 50], 1)
    mask = torch.tensor([[True, True, True, False, False]])
    a, wa = head.aggregate(x)
    b, wb = head.aggregate(padded, mask)
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(wa, wb[:, :3], atol=1e-6)


def test_attention_variants_start_as_the_average_descriptor_model():
    """The learned part of g starts at zero: without the agreement term the attention variants
    start as the average; with it (the default) they start from the agreement prior alone."""
    from movingfashion.seam.checkpoint import build_model
    from tests.movingfashion.seam.conftest import TINY

    x = torch.randn(2, 4, 32)
    avg = tiny_model("no_nlb_g").head.aggregate(x)
    for variant in ("full", "no_nlb"):
        cfg = ModelConfig(variant=variant, dim=32, nlb_inter=16, attention_context=False)
        head = build_model(TINY, cfg).head
        assert torch.allclose(head.aggregate(x)[0], avg[0], atol=1e-6)
        prior = tiny_model(variant).head
        w = prior.aggregate(x)[1]
        expected = torch.softmax(
            prior.context.scale * prior.context.agreement(x, torch.ones(2, 4).bool()), -1
        )
        assert torch.allclose(w, expected, atol=1e-6)
    # the paper's random initialisation is a config switch away
    rnd = build_model(TINY, ModelConfig(variant="full", dim=32, nlb_inter=16, zero_init_attention=False)).head
    assert not torch.allclose(rnd.aggregate(x)[1], avg[1])


def test_variants_have_the_right_modules():
    assert tiny_model("full").head.nlb is not None and tiny_model("full").head.scorer is not None
    assert tiny_model("no_nlb").head.nlb is None and tiny_model("no_nlb").head.scorer is not None
    m = tiny_model("no_nlb_g").head
    assert m.nlb is None and m.scorer is None
    w = m.aggregate(torch.randn(2, 4, 32))[1]
    assert torch.allclose(w, torch.full((2, 4), 0.25))


def test_multi_frame_head_starts_from_the_single_frame_head():
    model = tiny_model("no_nlb_g").eval()
    # f~ and m~ are copies of f and m: identical outputs, separate parameters
    fm = torch.randn(4, 8, 2, 2)
    assert torch.allclose(model.head.extractor(fm), model.f(fm))
    assert torch.equal(model.head.match.fc.weight, model.m.fc.weight)
    assert model.head.extractor.fc.weight.data_ptr() != model.f.fc.weight.data_ptr()
    # a one-frame tracklet scores exactly like the single-frame head
    track, shop = torch.randn(2, 1, 8, 2, 2), torch.randn(2, 8, 2, 2)
    prob, _ = model(track, None, shop)
    assert torch.allclose(prob, model.m.score(model.f(track[:, 0]), model.f(shop)), atol=1e-6)


@pytest.mark.parametrize("form", ["concat", "gaussian"])
def test_nonlocal_block_starts_as_identity_and_mixes_frames_after_training_signal(form):
    torch.manual_seed(0)
    nlb = NonLocalBlock(16, 8, zero_init=True, form=form)
    x = torch.randn(2, 5, 16)
    assert torch.allclose(nlb(x), x)
    torch.nn.init.normal_(nlb.out.weight)
    y = nlb(x)
    x2 = x.clone()
    x2[:, 4] += 10  # changing one frame changes the others' outputs
    assert not torch.allclose(nlb(x2)[:, 0], y[:, 0])


def test_concat_nonlocal_block_is_relu_of_a_linear_map_of_the_pair_over_n():
    """The official form: f(i, j) = ReLU(w . [theta(x_i), phi(x_j)]), divided by the real frames."""
    torch.manual_seed(1)
    nlb = NonLocalBlock(6, 3, zero_init=False, form="concat")
    x = torch.randn(1, 4, 6)
    mask = torch.tensor([[True, True, True, False]])
    th, ph, g = nlb.theta(x)[0], nlb.phi(x)[0], nlb.g(x)[0]
    want = torch.zeros(4, 3)
    for i in range(4):
        for j in range(3):  # the padded frame takes no part
            f = torch.relu(nlb.pair(torch.cat([th[i], ph[j]])))
            want[i] += f * g[j] / 3
    assert torch.allclose(nlb(x, mask)[0], x[0] + nlb.out(want), atol=1e-5)


def test_post_nlb_sum_lets_the_block_change_the_descriptor():
    """h = sum_t w_t NLB(x)_t (official); the pre-NLB sum could only change the weights."""
    from movingfashion.seam.checkpoint import build_model
    from tests.movingfashion.seam.conftest import TINY

    torch.manual_seed(2)
    x = torch.randn(2, 4, 32)
    for agg in ("post_nlb", "pre_nlb"):
        cfg = ModelConfig(variant="full", dim=32, nlb_inter=16, aggregate=agg, attention_context=False)
        head = build_model(TINY, cfg).head
        torch.nn.init.normal_(head.nlb.out.weight)  # the block is no longer the identity
        h, w = head.aggregate(x)
        plain = (w.unsqueeze(-1) * x).sum(1)
        assert torch.allclose(w, torch.full_like(w, 0.25))  # the scorer still starts at zero
        assert torch.allclose(h, plain) == (agg == "pre_nlb")


def test_f_tilde_and_m_tilde_start_as_the_single_frame_weights_by_name():
    """SEAM on a (pretrained-looking) single-frame matcher: f, m, f~, m~ hold its f, m weights
    under the same names, in parameters of their own."""
    from movingfashion.models import SingleFrameMatcher
    from movingfashion.seam.checkpoint import model_from_matcher

    torch.manual_seed(0)
    sf = SingleFrameMatcher()
    with torch.no_grad():
        for p in list(sf.f.parameters()) + list(sf.m.parameters()):
            p.add_(torch.randn_like(p))
        sf.f.bn.running_mean.uniform_()
        sf.f.bn.num_batches_tracked.fill_(100)
    model, arch = model_from_matcher(sf, ModelConfig(variant=Variant.FULL))
    assert arch["type"] == "matcher"
    for copy_f, copy_m in ((model.f, model.m), (model.head.extractor, model.head.match)):
        for name, value in sf.f.state_dict().items():
            assert torch.equal(copy_f.state_dict()[name], value), name
        for name, value in sf.m.state_dict().items():
            assert torch.equal(copy_m.state_dict()[name], value), name
        assert copy_f.fc.weight.data_ptr() != sf.f.fc.weight.data_ptr()
    assert model.head.extractor.fc.weight.data_ptr() != model.f.fc.weight.data_ptr()
    assert model.encoder is sf.encoder  # the encoder is shared and frozen, never copied
    # the pretrained batch-norm of f and f~ is recognised as such (kept frozen in training)
    assert model.f.bn in model._pretrained_bn and model.head.extractor.bn in model._pretrained_bn


def test_checkpoint_names_are_unchanged():
    """SEAM checkpoints written before f, m had one home load into this code (strict names)."""
    from tests.movingfashion.seam.conftest import tiny_model as tiny

    keys = set(tiny("full").state_dict())
    expected = {
        f"{p}.convs.{i}.{w}"
        for p in ("f", "head.extractor")
        for i in (0, 2, 4, 6)
        for w in ("weight", "bias")
    }
    expected |= {
        f"{p}.fc.{w}" for p in ("f", "m", "head.extractor", "head.match") for w in ("weight", "bias")
    }
    expected |= {
        f"{p}.bn.{w}"
        for p in ("f", "head.extractor")
        for w in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    }
    expected |= {f"head.nlb.{n}.{w}" for n in ("theta", "phi", "g", "out") for w in ("weight", "bias")}
    expected |= {"head.scorer.weight", "head.scorer.bias"}
    # the concatenation-form block adds its pairwise projection and version 3 the agreement scale;
    # the embedded-Gaussian form without the agreement term (how version-1 checkpoints were
    # trained) has exactly the old names, version 2 (concatenation, no agreement) the old + pair
    assert keys == expected | {"head.nlb.pair.weight", "head.context.scale"}
    from movingfashion.seam.checkpoint import build_model
    from tests.movingfashion.seam.conftest import TINY

    v1 = dict(variant="full", dim=32, nlb_inter=16, nlb_form="gaussian", attention_context=False)
    assert set(build_model(TINY, ModelConfig(**v1)).state_dict()) == expected
    v2 = dict(variant="full", dim=32, nlb_inter=16, attention_context=False)
    assert set(build_model(TINY, ModelConfig(**v2)).state_dict()) == expected | {"head.nlb.pair.weight"}


def test_seam_model_on_annotations_matcher_freezes_the_encoder():
    from movingfashion.models import SingleFrameMatcher

    sf = SingleFrameMatcher()
    model = SeamModel(sf.encoder, sf.f, sf.m, ModelConfig(variant=Variant.FULL))
    assert not any(p.requires_grad for p in model.encoder.parameters())
    model.train()
    assert not model.encoder.training and model.head.training
    fm = model.encode_crops(torch.rand(2, 3, 96, 96))
    assert fm.shape == (2, 256, 6, 6)


def test_config_dim_mismatch_is_refused():
    with pytest.raises(ValueError, match="config.dim"):
        MultiFrameHead(torch.nn.Identity(), MatchHead(16), ModelConfig(dim=32))


@pytest.mark.parametrize("freeze", [True, False])
def test_pretrained_batch_norm_statistics_stay_frozen_in_training(freeze):
    from tests.movingfashion.seam.conftest import tiny_config

    base = tiny_model("full")
    bn = [m for m in base.f.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert bn
    for m in bn:  # as if the single-frame head had been pretrained
        m.num_batches_tracked.fill_(100)
        m.running_mean.fill_(0.5)
    model = SeamModel(None, base.f, base.m, tiny_config("full").model_copy(update={"freeze_bn": freeze}))
    model.train()
    mask = torch.ones(4, 5, dtype=torch.bool)
    model(torch.randn(4, 5, 8, 2, 2) * 3, mask, torch.randn(4, 8, 2, 2) * 3)
    means = [m.running_mean for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert means and all(torch.equal(r, torch.full_like(r, 0.5)) for r in means) == freeze


def test_agreement_term_weighs_a_frame_that_disagrees_with_its_tracklet_least():
    """g's context part: the frame unlike the others of its tracklet gets the lowest score; padded
    frames take no part; a tracklet of one frame scores 0."""
    from movingfashion.seam.model import TrackletAgreement

    torch.manual_seed(3)
    item, other = torch.randn(32), torch.randn(32)
    u = torch.stack([item + 0.3 * torch.randn(32) for _ in range(5)] + [other])[None]  # [1, 6, 32]
    mask = torch.ones(1, 6, dtype=torch.bool)
    a = TrackletAgreement.agreement(u, mask)
    assert int(a.argmin()) == 5 and float(a[0, :5].min()) > 0.8
    padded = torch.cat([u, 100 * torch.randn(1, 2, 32)], 1)
    pm = torch.cat([mask, torch.zeros(1, 2, dtype=torch.bool)], 1)
    assert torch.allclose(TrackletAgreement.agreement(padded, pm)[:, :6], a, atol=1e-5)
    assert float(TrackletAgreement.agreement(u[:, :1], mask[:, :1]).abs().max()) == 0.0
    # a common offset (the positive part of ReLU features) does not change the ranking
    assert torch.equal(TrackletAgreement.agreement(u + 10, mask).argsort(), a.argsort())


def test_version_2_checkpoint_loads_without_the_agreement_term(tmp_path):
    """A file written before the agreement term (version 2, its config without the field) loads
    as the head it was trained as."""
    from movingfashion.seam.checkpoint import build_model, load_checkpoint, save_checkpoint
    from tests.movingfashion.seam.conftest import TINY

    cfg = ModelConfig(variant="full", dim=32, nlb_inter=16, attention_context=False)
    model = build_model(TINY, cfg)
    save_checkpoint(tmp_path / "v3.pt", model, TINY, epoch=1)
    ckpt = torch.load(tmp_path / "v3.pt", weights_only=False)
    ckpt["version"] = 2
    del ckpt["model_config"]["attention_context"], ckpt["model_config"]["context_init"]
    torch.save(ckpt, tmp_path / "v2.pt")
    loaded, _ = load_checkpoint(tmp_path / "v2.pt", device="cpu")
    assert loaded.head.context is None
    x = torch.randn(2, 4, 8, 2, 2)
    assert torch.allclose(
        loaded.head.encode_tracklet(x)[0], model.eval().head.encode_tracklet(x)[0], atol=1e-6
    )


def test_version_3_checkpoint_trained_from_the_prior_keeps_its_scale(tmp_path):
    """Files of version 3 were trained with the agreement scale started at 3 (the old default);
    the default is now 0 (learned), which must not change how such a file loads."""
    from movingfashion.seam.checkpoint import SEAM_VERSION, build_model, load_checkpoint, save_checkpoint
    from tests.movingfashion.seam.conftest import TINY

    assert ModelConfig().context_init == 0.0 and SEAM_VERSION == 3
    model = build_model(TINY, ModelConfig(variant="full", dim=32, nlb_inter=16, context_init=3.0))
    with torch.no_grad():
        model.head.context.scale.fill_(3.00005)  # what training made of the prior
    save_checkpoint(tmp_path / "v3.pt", model, TINY, epoch=1)
    loaded, ckpt = load_checkpoint(tmp_path / "v3.pt", device="cpu")
    assert ckpt["version"] == 3 and ckpt["model_config"]["context_init"] == 3.0
    assert float(loaded.head.context.scale.detach()) == float(model.head.context.scale.detach())
    x = torch.randn(2, 4, 8, 2, 2)
    assert torch.allclose(loaded.head.encode_tracklet(x)[1], model.eval().head.encode_tracklet(x)[1])
    # and the weights are not uniform: the prior is in the file, not in the loader's default
    assert float(loaded.head.encode_tracklet(x)[1].detach().std()) > 0
