"""Match-RCNN's single-frame matching: crop encoder, embedding head f, match head m, the
expanded all-pairs score (:func:`score_matrix`) and the single-frame matcher (save/load).

The one home of these parts: the tracklet builder, cleaning's association check (through
:mod:`movingfashion.models.shop_scorer`) and SEAM (whose f~, m~ are :func:`twin` copies of f, m)
all use them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from movingfashion.models.checkpoints import (
    content_tag,
    pick_device,
    read_tagged_checkpoint,
    write_tagged_checkpoint,
)
from schemas.errors import ModelError

MATCHER_KIND = "mf-single-frame-matcher"
MATCHER_VERSION = 1
FEATURE_CHANNELS = 256
EMBED_DIM = 256


def default_matcher_path() -> Path:
    """Where the embedded default matcher lives (``movingfashion/models/weights/matcher.pt``)."""
    return Path(__file__).resolve().parent / "weights" / "matcher.pt"


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CropEncoder(nn.Module):
    """A small CNN trained from scratch: crops ``[N,3,S,S]`` in [0, 1] -> ``[N,256,S/16,S/16]``.

    Four stride-2 stages (32, 64, 128, 256 channels), each a strided 3x3 conv and a 3x3 conv,
    BatchNorm + ReLU. ``S = 96`` gives 6x6 maps (the official RoI size); the matcher's default
    ``S = 64`` gives 4x4 maps, 2.5x cheaper on the CPU (the head pools globally either way).
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, FEATURE_CHANNELS)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for w in widths:
            layers += [_conv_bn(cin, w, 2), _conv_bn(w, w, 1)]
            cin = w
        self.body = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1), persistent=False)
        self.out_channels = widths[-1]

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.body((crops - self.mean) / self.std)


class EmbeddingHead(nn.Module):
    """``f``: the official conv stack in->256->256->256->1024 (3x3, ReLU), average pool over the
    whole map (6x6 maps -> identical to the official 6x6 pool), Linear 1024->256 + BatchNorm1d.

    ``mid`` (256) and ``hidden`` (1024) are the official widths; tests build tiny heads with
    smaller ones. :meth:`spec` gives the constructor arguments (to build a twin by name).
    """

    def __init__(
        self, in_channels: int = FEATURE_CHANNELS, mid: int = 256, hidden: int = 1024, dim: int = EMBED_DIM
    ) -> None:
        super().__init__()
        self.in_channels, self.mid, self.hidden, self.dim = in_channels, mid, hidden, dim
        chans = [in_channels, mid, mid, mid, hidden]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(hidden, dim)
        self.bn = nn.BatchNorm1d(dim)

    def spec(self) -> dict[str, int]:
        """Constructor arguments of this head."""
        return {"in_channels": self.in_channels, "mid": self.mid, "hidden": self.hidden, "dim": self.dim}

    def trunk(self, maps: torch.Tensor) -> torch.Tensor:
        """The conv stack and the pool: ``[N, C, h, w] -> [N, hidden]``."""
        return self.pool(self.convs(maps)).flatten(1)

    def embed_trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Linear + BatchNorm1d on trunk outputs: ``[N, hidden] -> [N, dim]``."""
        return self.bn(self.fc(x))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.embed_trunk(self.trunk(maps))


def margin_matrix(
    queries: torch.Tensor, gallery: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """``logit(match) - logit(no match)`` of every pair, ``[Q,dim] x [G,dim] -> [Q,G]``.

    ``weight`` ``[2,dim]`` and ``bias`` ``[2]`` are those of m's Linear(dim, 2). The one
    implementation of the expanded form: with ``w = W[1] - W[0]`` and ``c = b[1] - b[0]``,
    ``(a - b)^2 . w + c = (a * a) . w + (b * b) . w - 2 (a * w) . b + c``, two matrix-vector
    products and one matrix product instead of a ``[Q,G,dim]`` tensor. Computed in the wider
    of the inputs' and the weights' dtypes.
    """
    dtype = torch.promote_types(queries.dtype, weight.dtype)
    w = (weight[1] - weight[0]).to(dtype)
    c = (bias[1] - bias[0]).to(dtype)
    q, g = queries.to(dtype), gallery.to(dtype)
    qa = (q * q) @ w  # [Q]
    ga = (g * g) @ w  # [G]
    cross = (q * w) @ g.T  # [Q, G]
    return qa[:, None] + ga[None, :] - 2 * cross + c


def score_matrix(
    queries: torch.Tensor, gallery: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """Match probabilities in [0, 1] of every pair, ``[Q,G]``: with two classes
    ``softmax(logits)[1] = sigmoid(logit1 - logit0)``, so the sigmoid of :func:`margin_matrix`."""
    return torch.sigmoid(margin_matrix(queries, gallery, weight, bias))


class MatchHead(nn.Module):
    """``m``: logits = Linear(dim, 2)((a - b)^2); score = softmax(logits)[1] in [0, 1]."""

    def __init__(self, dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, 2)

    @property
    def dim(self) -> int:
        return self.fc.in_features

    def spec(self) -> dict[str, int]:
        """Constructor arguments of this head."""
        return {"dim": self.dim}

    def logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise rows: ``a``, ``b`` ``[..., dim]`` -> ``[..., 2]``."""
        return self.fc((a - b) ** 2)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`logits`."""
        return self.logits(a, b)

    def pair_logits(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits of every ``(a_i, b_j)`` pair, ``[Na,dim] x [Nb,dim] -> [Na,Nb,2]`` (training sizes:
        the loss needs both logits; ranking uses :meth:`score_matrix`)."""
        return self.logits(a[:, None, :], b[None, :, :])

    def score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pairwise rows: ``[N,dim]`` x ``[N,dim]`` -> ``[N]`` match scores in [0, 1]."""
        return torch.softmax(self.logits(a, b), dim=-1)[..., 1]

    def margin_matrix(self, queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        """All pairs ``[Q,dim]`` x ``[G,dim]`` -> margins ``[Q,G]`` (see :func:`margin_matrix`)."""
        return margin_matrix(queries, gallery, self.fc.weight, self.fc.bias)

    def score_matrix(self, queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        """All pairs ``[Q,dim]`` x ``[G,dim]`` -> scores ``[Q,G]``, without the ``[Q,G,dim]`` tensor."""
        return score_matrix(queries, gallery, self.fc.weight, self.fc.bias)


def balanced_pair_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The matching head's training loss: 2-class cross-entropy over pairs (``logits [..., 2]``,
    ``labels`` 1 = same item), the positives and the negatives each weighted 1/2 (the mean of
    the one present when the other is missing). Matcher pretraining and SEAM phase 2 use it."""
    ce = nn.functional.cross_entropy(
        logits.reshape(-1, 2).float(), labels.reshape(-1).long(), reduction="none"
    )
    pos = labels.reshape(-1).bool()
    parts = [ce[pos].mean()] if bool(pos.any()) else []
    if bool((~pos).any()):
        parts.append(ce[~pos].mean())
    return torch.stack(parts).mean()


def twin(module: EmbeddingHead | MatchHead) -> EmbeddingHead | MatchHead:
    """A separate module of the same class and widths holding ``module``'s weights, copied by name
    (``load_state_dict``). The twin is built on the meta device first, so making it neither
    draws from the random generator nor spends time on an initialisation it overwrites; it
    lands on ``module``'s device in ``module``'s train/eval mode."""
    if not isinstance(module, EmbeddingHead | MatchHead):
        raise ModelError(
            f"expected the single-frame EmbeddingHead or MatchHead, got {type(module).__name__}",
            where="twin",
        )
    with torch.device("meta"):
        out = type(module)(**module.spec())
    ref = next(module.parameters())
    out = out.to_empty(device=ref.device).to(ref.dtype)
    out.load_state_dict(module.state_dict())
    for mine, theirs in zip(out.parameters(), module.parameters(), strict=True):
        mine.requires_grad_(theirs.requires_grad)
    return out.train(module.training)


class SingleFrameMatcher(nn.Module):
    """Encoder + ``f`` + ``m``: embeds detections (crops or RoI features) and scores pairs."""

    def __init__(self, crop_size: int = 64) -> None:
        super().__init__()
        if crop_size % 16:
            raise ModelError(
                f"crop_size must be a multiple of 16, got {crop_size}", where="SingleFrameMatcher"
            )
        self.crop_size = crop_size
        self.encoder = CropEncoder()
        self.f = EmbeddingHead(self.encoder.out_channels)
        self.m = MatchHead()
        self.tag = f"{MATCHER_KIND}/v{MATCHER_VERSION}:untrained"

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def config(self) -> dict[str, Any]:
        return {"crop_size": self.crop_size}

    def embed(self, crops: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Crops ``[N,3,S,S]`` float in [0, 1] -> embeddings ``[N,256]`` (batched, current mode)."""
        if crops.ndim != 4 or crops.shape[1] != 3:
            raise ModelError(
                f"crops must be [N,3,S,S], got {tuple(crops.shape)}", where="SingleFrameMatcher.embed"
            )
        if len(crops) == 0:
            return torch.zeros((0, EMBED_DIM), device=self.device)
        layout = torch.channels_last if getattr(self, "channels_last", False) else torch.contiguous_format
        outs = [
            self.f(self.encoder(crops[i : i + batch_size].to(self.device).contiguous(memory_format=layout)))
            for i in range(0, len(crops), batch_size)
        ]
        return torch.cat(outs)

    def fused_for_inference(self) -> SingleFrameMatcher:
        """An eval-mode copy for embedding only: each conv + BatchNorm + ReLU of the encoder folded
        into one convolution, run channels-last. The same embeddings up to float rounding (~1e-6),
        about 1.3x less CPU time per crop (the tracklet builder embeds with it); not trainable."""
        import copy

        from torch.ao.quantization import fuse_modules

        out = copy.deepcopy(self).eval()
        for stage in out.encoder.body:
            fuse_modules(stage, [["0", "1", "2"]], inplace=True)
        out.encoder.to(memory_format=torch.channels_last)
        out.channels_last = True
        out.requires_grad_(False)
        return out

    def embed_features(self, maps: torch.Tensor) -> torch.Tensor:
        """RoI feature maps ``[N,256,h,w]`` (e.g. the fasterrcnn backend's) -> ``[N,256]``."""
        if len(maps) == 0:
            return torch.zeros((0, EMBED_DIM), device=self.device)
        return self.f(maps.to(self.device))

    def score(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.m.score(a, b)

    def score_matrix(self, queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        return self.m.score_matrix(queries, gallery)

    def forward(self, crops_a: torch.Tensor, crops_b: torch.Tensor) -> torch.Tensor:
        """Match logits ``[N,2]`` of crop pairs (training)."""
        return self.m.logits(self.embed(crops_a), self.embed(crops_b))

    def save(
        self, path: str | os.PathLike[str], *, half: bool = True, meta: dict[str, Any] | None = None
    ) -> str:
        """Write a tagged checkpoint atomically; returns its tag.

        Refuses (:class:`ModelError`, nothing written) when a parameter or buffer is not finite.
        With ``half`` (the default, half the file size) a tensor is stored in float16 only when
        :func:`fits_float16` says so; batch-norm statistics and every other tensor are stored in
        float32 (see :func:`storage_dtypes`).
        """
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        bad = nonfinite_tensors(state)
        if bad:
            raise ModelError(
                f"refusing to save a matcher with non-finite values: {bad}",
                where=str(path),
                hint="re-estimate the batch-norm statistics (movingfashion.models.pretrain."
                "recalibrate_batchnorm) or retrain",
            )
        dtypes = storage_dtypes(state, half=half)
        state = {k: v.to(dtypes[k]) if v.is_floating_point() else v for k, v in state.items()}
        tag = write_tagged_checkpoint(
            path, kind=MATCHER_KIND, version=MATCHER_VERSION, config=self.config(), state=state, meta=meta
        )
        self.tag = tag
        return tag


#: Largest relative error (L2 norm of the difference over that of the tensor) a tensor may take
#: when stored in float16; anything that loses more (overflow, underflow) stays float32.
FLOAT16_RTOL = 1e-3
_FLOAT16_MAX = torch.finfo(torch.float16).max


def is_batchnorm_statistic(name: str) -> bool:
    """Running statistics of a batch norm (``...running_mean`` / ``...running_var``): always
    stored in float32 (variances of wide activations exceed float16's 65,504)."""
    return name.endswith(("running_mean", "running_var"))


def fits_float16(t: torch.Tensor) -> bool:
    """Whether ``t`` survives float16: finite, no magnitude above float16's largest value, and a
    relative error of at most :data:`FLOAT16_RTOL` (small values flushed to zero count)."""
    x = t.detach().float()
    if not bool(torch.isfinite(x).all()) or (len(x.reshape(-1)) and float(x.abs().max()) > _FLOAT16_MAX):
        return False
    norm = float(x.norm())
    return float((x.half().float() - x).norm()) <= FLOAT16_RTOL * norm if norm > 0 else True


def storage_dtypes(state: dict[str, torch.Tensor], *, half: bool = True) -> dict[str, torch.dtype]:
    """The dtype each floating tensor of a state dict is saved in: float16 when ``half`` and the
    tensor :func:`fits_float16` (batch-norm statistics never), float32 otherwise."""
    return {
        k: (torch.float16 if half and not is_batchnorm_statistic(k) and fits_float16(v) else torch.float32)
        for k, v in state.items()
        if v.is_floating_point()
    }


def nonfinite_tensors(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """``name -> "n of size"`` for every floating tensor holding inf or NaN."""
    out = {}
    for k, v in state.items():
        if v.is_floating_point():
            n = int((~torch.isfinite(v.detach())).sum())
            if n:
                out[k] = f"{n} of {v.numel()}"
    return out


def load_matcher(
    path: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    *,
    allow_nonfinite: bool = False,
    option: str = "--matcher",
) -> SingleFrameMatcher:
    """Load a matcher checkpoint (``None`` = embedded default weights), in eval mode; ``option``
    is the command-line option that named the file (for messages: ``--init`` of pretraining).

    Raises :class:`ModelError` naming the file when it is missing, corrupt, not a matcher, or
    holds non-finite values (an older float16 checkpoint whose batch-norm variances overflowed:
    its descriptor dimensions with an infinite variance are constant). ``allow_nonfinite`` loads
    such a file anyway, to repair it (:func:`movingfashion.models.pretrain.recalibrate_batchnorm`).
    """
    p = Path(path) if path is not None else default_matcher_path()
    hint = (
        "train one with `mf pretrain-matcher --df2 ROOT --out FILE`, or rebuild the default with"
        " `make weights`"
    )
    ckpt = read_tagged_checkpoint(
        p,
        kind=MATCHER_KIND,
        version=MATCHER_VERSION,
        what="single-frame matcher",
        hint=hint,
        kind_hint=None if option == "--matcher" else f"{option} takes a single-frame matcher checkpoint",
    )
    try:
        model = SingleFrameMatcher(**ckpt.get("config", {}))
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
        model.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, AttributeError) as exc:
        raise ModelError(
            f"checkpoint does not fit the matcher: {str(exc).splitlines()[0]}", where=str(p), hint=hint
        ) from None
    bad = nonfinite_tensors(state)
    if bad and not allow_nonfinite:
        raise ModelError(
            f"the checkpoint holds non-finite values {bad}: those descriptor dimensions would be constant",
            where=str(p),
            hint="re-estimate its batch-norm statistics: python -m movingfashion.world.weights_build"
            " --world WORLD --skip-detector --recalibrate-matcher FILE --out DIR (or movingfashion.models.pretrain."
            "recalibrate_batchnorm on your own crops), or retrain it",
        )
    model.tag = content_tag(MATCHER_KIND, MATCHER_VERSION, state)  # what it holds, not what it says
    return model.to(pick_device(device)).eval()
