"""The Multi-frame Matching Head of SEAM Match-RCNN and the whole SEAM model.

Shapes follow the official heads: f~ is the single-frame extractor's architecture (conv stack
256->256->256->256->1024, average pool, Linear 1024->256 + BatchNorm1d), a non-local block runs
over the N descriptors of a tracklet (256 channels, 128 inside), the attention scorer g is
Linear(256, 1) with a softmax over frames, the aggregation is h = sum_i w_i x_i and the match
score m~ is Linear(256, 2) on (a - b)^2.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from movingfashion.seam.config import ModelConfig, Variant


class EmbeddingHead(nn.Module):
    """f: crop feature maps [N, C, h, w] -> descriptors [N, dim] (official architecture).

    Used when no pretrained single-frame head is given; widths are parameters so tests can
    build tiny heads.
    """

    def __init__(self, in_channels: int = 256, mid: int = 256, hidden: int = 1024, dim: int = 256) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, mid, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(hidden, dim)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, fmaps: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.convs(fmaps)).flatten(1)
        return self.bn(self.fc(x))


class MatchScore(nn.Module):
    """m: logits = Linear(dim, 2)((a - b)^2); ``score`` is the softmax probability of 'match'."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, 2)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.fc((a - b) ** 2)

    def score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.forward(a, b).softmax(-1)[..., 1]

    @classmethod
    def from_module(cls, module: nn.Module) -> MatchScore:
        """Copy the Linear(dim, 2) of any single-frame match head (e.g. annotations' MatchHead)."""
        linears = [m for m in module.modules() if isinstance(m, nn.Linear) and m.out_features == 2]
        if len(linears) != 1:
            raise TypeError(
                f"expected exactly one Linear(*, 2) in {type(module).__name__}, found {len(linears)}"
            )
        out = cls(linears[0].in_features)
        out.fc.load_state_dict(linears[0].state_dict())
        return out


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

    ``extractor`` and ``match`` are copied (deep) from the single-frame head f, m.
    """

    def __init__(self, extractor: nn.Module, match: MatchScore, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.variant = Variant(self.config.variant)
        dim = match.fc.in_features
        if dim != self.config.dim:
            raise ValueError(f"match head has {dim} inputs but config.dim is {self.config.dim}")
        self.extractor = copy.deepcopy(extractor)
        self.match = copy.deepcopy(match)
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
    caller provides feature maps directly (cached features, tests).
    """

    def __init__(
        self, encoder: nn.Module | None, f: nn.Module, m: nn.Module, config: ModelConfig | None = None
    ) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.encoder = encoder
        if encoder is not None:
            for p in encoder.parameters():
                p.requires_grad_(False)
        self.f = copy.deepcopy(f)
        self.m = m if isinstance(m, MatchScore) else MatchScore.from_module(m)
        self.m = copy.deepcopy(self.m)
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

    def single_frame_descriptors(self, fmaps: torch.Tensor) -> torch.Tensor:
        """f on feature maps [..., C, h, w] -> [..., dim]."""
        lead = fmaps.shape[:-3]
        return self.f(fmaps.flatten(0, len(lead) - 1) if len(lead) > 1 else fmaps).view(*lead, -1)

    def forward(
        self, track_fmaps: torch.Tensor, mask: torch.Tensor | None, shop_fmaps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Multi-frame match probability [B] of each tracklet with its shop, and attention [B, T]."""
        logits, weights = self.head(track_fmaps, mask, shop_fmaps)
        return logits.softmax(-1)[:, 1], weights


def pairwise_logits(match: MatchScore, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Logits of every (a_i, b_j) pair: [Na, dim] x [Nb, dim] -> [Na, Nb, 2] (training sizes only)."""
    return match.fc((a[:, None, :] - b[None, :, :]) ** 2)


def match_margin(match: MatchScore, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """logit(match) - logit(no match) for every pair, [Na, Nb] (vectorised, see ranking.py)."""
    from movingfashion.seam.ranking import margin_matrix

    return margin_matrix(a, b, match.fc.weight, match.fc.bias)


def nll_pairs(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean 2-class cross-entropy over pairs: logits [..., 2], target [...] (0/1)."""
    return F.cross_entropy(logits.reshape(-1, 2), target.reshape(-1).long())
