"""The Multi-frame Matching Head of SEAM Match-RCNN and the whole SEAM model.

Shapes follow the official heads: f~ is the single-frame extractor f
(:class:`movingfashion.models.EmbeddingHead`: conv stack 256->256->256->256->1024, average pool,
Linear 1024->256 + BatchNorm1d), a non-local block runs over the N descriptors of a tracklet
(256 channels, 128 inside), the attention scorer g is Linear(256, 1) with a softmax over frames,
the aggregation is h = sum_i w_i x_i and the match score m~ is m
(:class:`movingfashion.models.MatchHead`: Linear(256, 2) on (a - b)^2). f~ and m~ start as
copies of f and m made by name (:func:`movingfashion.models.twin`).
"""

from __future__ import annotations

import torch
from torch import nn

from movingfashion.models.matchrcnn import EmbeddingHead, MatchHead, twin
from movingfashion.seam.config import ModelConfig, Variant


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block over the N descriptors of a tracklet (residual).

    ``mask`` [B, N] (True = real frame) keeps padded frames out of every attention row.
    With ``zero_init`` the output projection starts at zero (the block starts as the identity).
    """

    def __init__(self, channels: int = 256, inter: int = 128, zero_init: bool = False) -> None:
        super().__init__()
        self.theta = nn.Linear(channels, inter)
        self.phi = nn.Linear(channels, inter)
        self.g = nn.Linear(channels, inter)
        self.out = nn.Linear(inter, channels)
        if zero_init:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        affinity = self.theta(x) @ self.phi(x).transpose(1, 2)  # [B, N, N]
        if mask is not None:
            affinity = affinity.masked_fill(~mask[:, None, :], float("-inf"))
        attn = affinity.softmax(-1)
        return x + self.out(attn @ self.g(x))


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis; masked entries get weight 0."""
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return logits.softmax(-1)


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
        # the scorer starts at zero (uniform weights) when asked; the NLB then keeps its random
        # output projection so that it receives gradients as soon as the scorer moves
        self.nlb = (
            NonLocalBlock(dim, self.config.nlb_inter, zero_init=not self.config.zero_init_attention)
            if self.variant is Variant.FULL
            else None
        )
        self.scorer = nn.Linear(dim, 1) if self.variant is not Variant.NO_NLB_G else None
        if self.scorer is not None and self.config.zero_init_attention:
            nn.init.zeros_(self.scorer.weight)
            nn.init.zeros_(self.scorer.bias)

    def descriptors(self, fmaps: torch.Tensor) -> torch.Tensor:
        """Per-frame descriptors: [B, T, C, h, w] -> [B, T, dim]."""
        b, t = fmaps.shape[:2]
        return self.extractor(fmaps.flatten(0, 1)).view(b, t, -1)

    def aggregate(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """h(x) = g(NLB(x)) . x: [B, T, dim] -> (descriptor [B, dim], weights [B, T])."""
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if self.scorer is None:
            weights = mask.float() / mask.float().sum(1, keepdim=True).clamp(min=1)
        else:
            z = self.nlb(x, mask) if self.nlb is not None else x
            weights = masked_softmax(self.scorer(z).squeeze(-1), mask)
        return (weights.unsqueeze(-1) * x).sum(1), weights

    def encode_tracklet(
        self, fmaps: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tracklet feature maps [B, T, C, h, w] -> (descriptor [B, dim], attention [B, T])."""
        return self.aggregate(self.descriptors(fmaps), mask)

    def encode_shop(self, fmaps: torch.Tensor) -> torch.Tensor:
        """Shop feature maps [B, C, h, w] -> [B, dim] (a tracklet of one frame: h = f~)."""
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
        self._pretrained_bn = [
            mod
            for mod in self.modules()
            if isinstance(mod, nn.modules.batchnorm._BatchNorm)
            and mod.num_batches_tracked is not None
            and int(mod.num_batches_tracked) > 0
        ]

    @property
    def variant(self) -> Variant:
        return self.head.variant

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
