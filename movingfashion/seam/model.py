"""The Multi-frame Matching Head of SEAM Match-RCNN and the whole SEAM model.

Shapes follow the official heads: f~ is the single-frame extractor f
(:class:`movingfashion.models.EmbeddingHead`: conv stack 256->256->256->256->1024, average pool,
Linear 1024->256 + BatchNorm1d), a non-local block runs over the N descriptors of a tracklet
(256 channels, 128 inside, the concatenation form, starting as the identity), the attention
scorer g is Linear(256, 1) plus a tracklet-agreement term (:class:`TrackletAgreement`, beyond
the official code: ``attention_context``) with a softmax over frames, the aggregation sums the
post-NLB descriptors, h = sum_i w_i NLB(x)_i, and the match score m~ is m
(:class:`movingfashion.models.MatchHead`: Linear(256, 2) on (a - b)^2). f~ and m~ start as
copies of f and m made by name (:func:`movingfashion.models.twin`).
"""

from __future__ import annotations

import torch
from torch import nn

from movingfashion.models.matchrcnn import EmbeddingHead, MatchHead, twin
from movingfashion.seam.config import ModelConfig, Variant

NLB_FORMS = ("concat", "gaussian")


class NonLocalBlock(nn.Module):
    """Non-local block over the N descriptors of a tracklet (residual: ``z = x + W_z y``).

    ``form="concat"`` (the official one): the pairwise weight of frames i, j is
    ``ReLU(w . [theta(x_i), phi(x_j)])`` divided by the number of real frames, no softmax;
    ``form="gaussian"``: ``softmax_j(theta(x_i) . phi(x_j))`` (the embedded-Gaussian form).
    ``mask`` [B, N] (True = real frame) keeps padded frames out of every row. With
    ``zero_init`` the output projection W_z starts at zero: the block starts as the identity.
    """

    def __init__(
        self, channels: int = 256, inter: int = 128, zero_init: bool = True, form: str = "concat"
    ) -> None:
        super().__init__()
        if form not in NLB_FORMS:
            raise ValueError(f"unknown non-local form {form!r} ({' | '.join(NLB_FORMS)})")
        self.form = form
        self.theta = nn.Linear(channels, inter)
        self.phi = nn.Linear(channels, inter)
        self.g = nn.Linear(channels, inter)
        self.out = nn.Linear(inter, channels)
        if form == "concat":
            self.pair = nn.Linear(2 * inter, 1, bias=False)
        if zero_init:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def affinity(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pairwise weights [B, N, N] (rows: the frame being updated)."""
        th, ph = self.theta(x), self.phi(x)
        if self.form == "gaussian":
            aff = th @ ph.transpose(1, 2)
            if mask is not None:
                aff = aff.masked_fill(~mask[:, None, :], float("-inf"))
            return aff.softmax(-1)
        inter = th.shape[-1]
        w = self.pair.weight[0]
        # w . [theta_i, phi_j] = w_theta . theta_i + w_phi . phi_j: no [B, N, N, 2*inter] tensor
        aff = torch.relu((th @ w[:inter])[:, :, None] + (ph @ w[inter:])[:, None, :])
        if mask is not None:
            aff = aff * mask[:, None, :].to(aff.dtype)
        return aff / self._count(x, mask)

    @staticmethod
    def _count(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Number of real frames (the N the concatenation form divides by)."""
        if mask is None:
            return torch.full((), float(x.shape[1]), dtype=x.dtype, device=x.device)
        return mask.sum(1).clamp(min=1).to(x.dtype)[:, None, None]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return x + self.out(self.affinity(x, mask) @ self.g(x))


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis; masked entries get weight 0."""
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return logits.softmax(-1)


class TrackletAgreement(nn.Module):
    """The context part of the attention scorer g: ``scale * corr(u_i, mean_{j != i} u_j)``, how
    well each frame agrees with the other real frames of its tracklet, where ``u`` are the
    frames' input feature maps (the frozen detector's features, flattened) and ``corr`` is the
    Pearson correlation over their features.

    The paper's g maps the whole tracklet R^(N x 256) to N scores. A per-frame Linear(256, 1)
    alone can only learn which *kinds* of descriptors to trust: a wrong detection that looks like
    an ordinary garment (another person's clothes) gets as much weight as the item, and what it
    learns about the wrong detections of the training videos does not carry over to other
    videos (measured on a synthetic bank: the held-out AUC swings from 0.23 to 0.98 with the
    seed of the held-out bank). The majority of a tracklet is the item (the tracker propagates
    from a pivot that matches it; the dataset keeps tracklets whose detections are at least
    half right), so agreement with the rest is a cue that carries over. Correlation rather than
    cosine: it removes each vector's mean, the common positive part of ReLU features that
    otherwise makes every cosine close to 1. ``scale`` starts at ``init`` (0, the default:
    uniform weights at the start, so what it becomes is learned; > 0: a prior that frames
    agreeing with their tracklet matter more) and is trained by phase 2 at its own learning rate
    (``TrainConfig.context_lr``: its gradient is tiny next to the per-frame Linear's).
    """

    def __init__(self, init: float = 0.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init)))

    @staticmethod
    def agreement(u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, N, F] -> [B, N] correlation of each frame with the mean of the other real frames
        (0 for a tracklet of one frame)."""
        u = u.float()
        m = mask.to(u.dtype).unsqueeze(-1)
        total = (u * m).sum(1, keepdim=True)
        others = (total - u * m) / (mask.sum(1) - 1).clamp(min=1).to(u.dtype)[:, None, None]
        a, b = u - u.mean(-1, keepdim=True), others - others.mean(-1, keepdim=True)
        return nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-6)

    def forward(self, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.scale * self.agreement(u, mask)


class MultiFrameHead(nn.Module):
    """f~ + NLB + g + aggregation + m~ (variant chosen by config).

    ``extractor`` (f~) and ``match`` (m~) start as copies of the single-frame heads f, m, made
    by name (same classes and widths, ``load_state_dict``); they train separately from f, m.
    """

    def __init__(self, extractor: EmbeddingHead, match: MatchHead, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.variant = Variant(self.config.variant)
        dim = match.dim
        if dim != self.config.dim:
            raise ValueError(f"match head has {dim} inputs but config.dim is {self.config.dim}")
        self.extractor = twin(extractor)
        self.match = twin(match)
        # the scorer starts at zero (uniform weights) when asked; the NLB starts as the identity
        # (W_z = 0) and, with the post-NLB sum, receives gradients through the aggregation
        self.nlb = (
            NonLocalBlock(
                dim, self.config.nlb_inter, zero_init=self.config.nlb_zero_init, form=self.config.nlb_form
            )
            if self.variant is Variant.FULL
            else None
        )
        self.scorer = nn.Linear(dim, 1) if self.variant is not Variant.NO_NLB_G else None
        if self.scorer is not None and self.config.zero_init_attention:
            nn.init.zeros_(self.scorer.weight)
            nn.init.zeros_(self.scorer.bias)
        self.context = (
            TrackletAgreement(self.config.context_init)
            if self.scorer is not None and self.config.attention_context
            else None
        )

    def trunk_features(self, fmaps: torch.Tensor) -> torch.Tensor:
        """Pooled conv features of f~ per frame: [B, T, C, h, w] -> [B, T, hidden]; [B, T, hidden]
        inputs are taken as those already (cached while the trunk is frozen)."""
        if fmaps.dim() == 3:
            return fmaps
        b, t = fmaps.shape[:2]
        return self.extractor.trunk(fmaps.flatten(0, 1)).view(b, t, -1)

    def descriptors(self, fmaps: torch.Tensor) -> torch.Tensor:
        """Per-frame descriptors: [B, T, C, h, w] (or trunk outputs [B, T, hidden]) -> [B, T, dim]."""
        u = self.trunk_features(fmaps)
        return self.extractor.embed_trunk(u.flatten(0, 1)).view(*u.shape[:2], -1)

    def aggregate(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h = sum_t w_t z_t with w = softmax(g(z)), z = NLB(x) (``aggregate="post_nlb"``, the
        official head) or z = x summed with weights g(NLB(x)) (``"pre_nlb"``): [B, T, dim] ->
        (descriptor [B, dim], weights [B, T]). ``context`` [B, T, F] are the features the
        agreement part of g compares (the input feature maps, flattened; default: ``x``)."""
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if self.scorer is None:
            weights = mask.float() / mask.float().sum(1, keepdim=True).clamp(min=1)
            return (weights.unsqueeze(-1) * x).sum(1), weights
        z = self.nlb(x, mask) if self.nlb is not None else x
        logits = self.scorer(z).squeeze(-1)
        if self.context is not None:
            logits = logits + self.context(x if context is None else context, mask)
        weights = masked_softmax(logits, mask)
        summed = z if self.config.aggregate == "post_nlb" else x
        return (weights.unsqueeze(-1) * summed).sum(1), weights

    def encode_tracklet(
        self, fmaps: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tracklet feature maps [B, T, C, h, w] -> (descriptor [B, dim], attention [B, T]).

        The agreement part of g compares the input maps; when ``fmaps`` are cached trunk outputs
        [B, T, hidden], pass the maps they came from as ``context`` (else the outputs are compared)."""
        if self.context is not None and context is None:
            context = fmaps
        ctx = context.flatten(2).to(fmaps.dtype) if context is not None else None
        return self.aggregate(self.descriptors(fmaps), mask, context=ctx)

    def encode_shop(self, fmaps: torch.Tensor) -> torch.Tensor:
        """Shop feature maps [B, C, h, w] (or trunk outputs [B, hidden]) -> [B, dim] (a tracklet of
        one frame: h = f~)."""
        if fmaps.dim() == 2:
            return self.extractor.embed_trunk(fmaps)
        return self.extractor(fmaps)

    def forward(
        self, track_fmaps: torch.Tensor, mask: torch.Tensor | None, shop_fmaps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Match logits [B, 2] of each tracklet with its shop image, and the attention weights."""
        desc, weights = self.encode_tracklet(track_fmaps, mask)
        return self.match(desc, self.encode_shop(shop_fmaps)), weights


class SeamModel(nn.Module):
    """SEAM Match-RCNN on crops: frozen crop encoder + single-frame head (f, m) + multi-frame head.

    ``encoder`` maps crops [N, 3, S, S] to feature maps [N, C, h, w]; it may be None when the
    caller provides feature maps directly (cached features, tests). ``f`` and ``m`` are the
    single-frame heads of :mod:`movingfashion.models` (e.g. a ``SingleFrameMatcher``'s); the
    model keeps its own copies of them (made by name) and f~, m~ start as copies of those.
    """

    def __init__(
        self,
        encoder: nn.Module | None,
        f: EmbeddingHead,
        m: MatchHead,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.encoder = encoder
        if encoder is not None:
            for p in encoder.parameters():
                p.requires_grad_(False)
        self.f = twin(f)
        self.m = twin(m)
        self.head = MultiFrameHead(self.f, self.m, self.config)
        # batch-norm layers that arrive with trained statistics (f, and f~ copied from it); fresh
        # ones (e.g. the non-local block's) still learn theirs
        self._pretrained_bn: list[nn.Module] = []
        self.find_pretrained_bn()

    @property
    def variant(self) -> Variant:
        return self.head.variant

    def find_pretrained_bn(self) -> list[str]:
        """Mark as pretrained (kept frozen in training) the batch-norm layers whose statistics
        have been trained (``num_batches_tracked > 0``); returns their names."""
        names = [
            name
            for name, mod in self.named_modules()
            if isinstance(mod, nn.modules.batchnorm._BatchNorm)
            and mod.num_batches_tracked is not None
            and int(mod.num_batches_tracked) > 0
        ]
        self.set_pretrained_bn(names)
        return names

    def pretrained_bn_names(self) -> list[str]:
        """Names of the batch-norm layers kept frozen in training (a checkpoint records them)."""
        ids = {id(mod) for mod in self._pretrained_bn}
        return [name for name, mod in self.named_modules() if id(mod) in ids]

    def set_pretrained_bn(self, names: list[str]) -> None:
        """Keep frozen in training exactly the batch-norm layers named (as a checkpoint recorded)."""
        modules = dict(self.named_modules())
        unknown = [n for n in names if not isinstance(modules.get(n), nn.modules.batchnorm._BatchNorm)]
        if unknown:
            raise ValueError(f"not batch-norm layers of this model: {', '.join(unknown)}")
        self._pretrained_bn = [modules[n] for n in names]

    def train(self, mode: bool = True) -> SeamModel:
        super().train(mode)
        if self.encoder is not None:
            self.encoder.eval()  # frozen: batch-norm statistics stay as pretrained
        if mode and self.config.freeze_bn:
            for module in self._pretrained_bn:
                module.eval()
        return self

    @torch.no_grad()
    def encode_crops(self, crops: torch.Tensor) -> torch.Tensor:
        """Crops [N, 3, S, S] (float, 0..1) -> frozen feature maps [N, C, h, w]."""
        if self.encoder is None:
            raise RuntimeError("this SeamModel has no crop encoder; pass feature maps")
        return self.encoder(crops)

    def forward(
        self, track_fmaps: torch.Tensor, mask: torch.Tensor | None, shop_fmaps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Multi-frame match probability [B] of each tracklet with its shop, and attention [B, T]."""
        logits, weights = self.head(track_fmaps, mask, shop_fmaps)
        return logits.softmax(-1)[:, 1], weights
