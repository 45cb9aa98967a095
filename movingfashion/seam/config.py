"""Configuration of SEAM training and evaluation (pydantic models with documented defaults)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.config import SEED_MAX


class Variant(StrEnum):
    """Multi-frame head variants of the paper's ablation."""

    FULL = "full"  # NLB + attention scorer g
    NO_NLB = "no_nlb"  # attention scorer g only
    NO_NLB_G = "no_nlb_g"  # plain average of the descriptors


class ModelConfig(BaseModel):
    """Shapes of the multi-frame matching head (defaults: the official shapes)."""

    model_config = ConfigDict(extra="forbid")

    variant: Variant = Field(default=Variant.FULL, description="full | no_nlb | no_nlb_g")
    dim: int = Field(default=256, ge=1, description="descriptor size (f~ output, NLB channels)")
    nlb_inter: int = Field(default=128, ge=1, description="inner channels of the non-local block")
    nlb_form: Literal["concat", "gaussian"] = Field(
        default="concat",
        description="non-local pairwise function: concat (official: ReLU(w.[theta_i, phi_j]) / N) or "
        "gaussian (softmax of theta_i.phi_j)",
    )
    nlb_zero_init: bool = Field(
        default=True, description="start the non-local block's output projection at zero (the identity)"
    )
    aggregate: Literal["post_nlb", "pre_nlb"] = Field(
        default="post_nlb",
        description="what the attention weights sum: the non-local block's output (official) or its "
        "input (then the block can only change the weights)",
    )
    zero_init_attention: bool = Field(
        default=True,
        description="start g at zero: uniform weights, so the "
        "attention variants start as the average-descriptor model (False: random)",
    )
    attention_context: bool = Field(
        default=True,
        description="add to g's per-frame score a learned multiple of each frame's cosine with the "
        "mean of the tracklet's other frames (False: the official per-frame Linear only, which "
        "cannot tell a wrong detection from the item when both look like ordinary garments)",
    )
    context_init: float = Field(
        default=0.0,
        description="starting value of the agreement term's scale: 0 (default) starts at uniform "
        "weights and phase 2 learns the scale (TrainConfig.context_lr); files of version 3 were "
        "trained from 3.0, a prior the old learning rate could not move",
    )
    freeze_bn: bool = Field(
        default=True,
        description="keep the statistics of batch-norm layers that arrive "
        "pretrained (f, and f~ copied from it) while training: phase-2 batches hold few "
        "products and their statistics drag f and f~ away from the matcher (measured: top-1 "
        "of every method fell to chance without this); affine weights still train",
    )


class AugmentConfig(BaseModel):
    """Phase-2 augmentations of the authors' training code, each off by default (the README's
    tables were measured without them).

    The pixel ones change the crops of the training bank before the frozen encoder sees them:
    each cached pool frame is augmented once, drawn from ``TrainConfig.seed`` and the video's
    row, so a bank stays cacheable (weaker than a fresh draw every step). The other two change
    which cached frames a training tracklet is made of, at every step.
    """

    model_config = ConfigDict(extra="forbid")

    pixel_noise: float = Field(
        default=0.0, ge=0, description="std of Gaussian noise added to crop pixels (0..1 scale); 0 = off"
    )
    half_resolution: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="probability that a crop is shrunk to half its size and scaled back (bilinear)",
    )
    flip: float = Field(default=0.0, ge=0, le=1, description="probability that a crop is mirrored left-right")
    random_positions: bool = Field(
        default=False,
        description="draw the T frames anywhere in the cached pool (sorted, without repeats) instead of "
        "one per chunk (Restricted Random Sampling)",
    )
    mix_videos: bool = Field(
        default=False,
        description="take each frame of a training tracklet from a random video of its product (when "
        "the product has several videos in the split); off: every frame from the drawn video",
    )

    @property
    def pixels(self) -> bool:
        """Whether any pixel augmentation is on (the training bank then differs from the plain one)."""
        return self.pixel_noise > 0 or self.half_resolution > 0 or self.flip > 0


class TrainConfig(BaseModel):
    """Phase-2 training knobs (SGD, 2-class cross-entropy, in-batch negatives)."""

    model_config = ConfigDict(extra="forbid")

    model: ModelConfig = Field(default_factory=ModelConfig)
    frames: int = Field(default=10, ge=1, description="T: frames per tracklet, Restricted Random Sampling")
    batch_size: int = Field(
        default=8, ge=2, description="products per batch (each is every other's negative)"
    )
    epochs: int = Field(default=10, ge=1, description="passes over the training split")
    lr: float = Field(default=0.01, gt=0, description="SGD learning rate of the new modules (NLB, g)")
    finetune_lr: float = Field(
        default=0.001, ge=0, description="SGD learning rate of f~ and f, m (and m~ unless match_lr is set)"
    )
    match_lr: float | None = Field(
        default=None,
        ge=0,
        description="SGD learning rate of m~, the multi-frame head's copy of the match head m (its "
        "Linear(256, 2) on (h - s)^2: the metric). None (default): finetune_lr, the paper's "
        "fine-tuning; 0 keeps m~ as pretrained. Phase 2 re-fits these 514 weights at any learning "
        "rate (57% of their norm at 0.001, f~ moves under 2%), and on two held-out worlds the "
        "refit lowered SEAM w/o NLB,g's top-5 by 0.03 and 0.07 while its top-1 went -0.10 and "
        "+0.02: docs/seam.md, 'The averaging variant and the refit match head'",
    )
    momentum: float = Field(default=0.9, ge=0, lt=1, description="SGD momentum")
    weight_decay: float = Field(default=1e-4, ge=0, description="SGD weight decay (L2)")
    single_frame_weight: float = Field(
        default=0.5, ge=0, description="weight of the single-frame fine-tuning loss (f, m)"
    )
    train_trunk: bool = Field(
        default=True,
        description="fine-tune the conv stacks of f~ and f (the paper). False keeps them as pretrained "
        "and trains their Linear + BatchNorm only: the stacks' outputs are then computed once per "
        "bank frame, which makes CPU runs ~50x cheaper",
    )
    pair_loss: Literal["weighted", "balanced"] = Field(
        default="weighted",
        description="multi-frame pair loss: weighted (official: cross-entropy with class weights "
        "neg_weight / pos_weight over every tracklet-shop pair of the batch) or balanced (positives "
        "and negatives each averaged, then weighted 1/2)",
    )
    context_lr: float = Field(
        default=40.0,
        ge=0,
        description="SGD learning rate of the attention's agreement scale (one number, no weight "
        "decay; warm-up and steps apply). Large because its gradient is small: it multiplies "
        "correlations whose spread within a tracklet is ~0.1, where the per-frame Linear's inputs "
        "have norms ~16 (measured: at lr 0.04 the scale moved 3.0 -> 3.00005 in a run; at 40 it "
        "grows from 0 to 3-7 in 24 steps on a small noisy world). 0 keeps it at "
        "model.context_init (a fixed prior)",
    )
    pos_weight: float = Field(default=0.3, gt=0, description="class weight of positive pairs (weighted loss)")
    neg_weight: float = Field(default=1.0, gt=0, description="class weight of negative pairs (weighted loss)")
    multi_frame_after: int = Field(
        default=1,
        ge=0,
        description="epochs trained on the single-frame loss alone before the multi-frame loss is "
        "switched on (official: 1; ignored when it would leave no multi-frame epoch)",
    )
    warmup_epochs: float = Field(default=1.0, ge=0, description="linear learning-rate warm-up from lr/10")
    lr_steps: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default=[0.65, 0.9],
        description="fractions of the run (0..1) after which the learning rates are multiplied by lr_gamma",
    )
    lr_gamma: float = Field(default=0.1, gt=0, le=1, description="learning-rate factor at each of lr_steps")
    pool_frames: int = Field(
        default=30, ge=1, description="tracklet frames cached per video, RRS draws from them"
    )
    positives: Literal["best_match", "dataset"] = Field(
        default="best_match",
        description="phase-2 positive box of each training frame: the detection of the richer "
        "tracklet file that scores highest against the shop image with the pretrained f, m (the "
        "authors' training code; the dataset's box when none reaches positive_threshold) or "
        "the dataset's own box",
    )
    positive_threshold: float = Field(
        default=0.1, ge=0, le=1, description="least best_match score a detection needs to be the positive"
    )
    augment: AugmentConfig = Field(
        default_factory=AugmentConfig, description="the authors' phase-2 augmentations (all off by default)"
    )
    seed: int = Field(
        default=0, ge=0, le=SEED_MAX, description="weights of the new modules, sampling and shuffling"
    )
    amp: bool = Field(default=True, description="mixed precision (used on CUDA only)")
    save_every: int = Field(default=1, ge=1, description="write last.pt every n epochs")
    on_bad: Literal["raise", "skip"] = Field(
        default="skip",
        description="rows the loader cannot use (empty tracklet, missing file): skip them "
        "(counted and printed) or stop with the loader's error",
    )


#: Why the ground-truth tracklet is a video's evaluation query instead of an inference tracklet
#: (``protocol.query_fallbacks`` of results.json): no inference tracklet to choose from ...
NO_INFERENCE = "no_inference_tracklet"
#: ... or the best inference tracklet stayed below ``EvalConfig.query_min_iou``.
BELOW_MIN_IOU = "below_min_iou"


class EvalConfig(BaseModel):
    """The paper's protocol: top-K in pools of products, mean +- std over pools."""

    model_config = ConfigDict(extra="forbid")

    ks: list[int] = Field(default=[1, 5, 10, 20], description="top-K values")
    frames: list[Annotated[int, Field(ge=1)]] = Field(
        default=[5, 10, 20], min_length=1, description="sequence lengths evaluated"
    )
    main_frames: int = Field(default=10, ge=1, description="T of the main table (paper: 10)")
    pools: int = Field(default=20, ge=1, description="number of product pools")
    pool_size: int = Field(default=800, ge=1, description="products per pool (all when fewer)")
    seed: int = Field(
        default=0, ge=0, le=SEED_MAX, description="pools and Restricted Random Sampling at test time"
    )
    attention_frames: int = Field(
        default=21, ge=2, description="equally spaced frames for the Fig. 8 analysis"
    )
    pool_frames: int = Field(
        default=21, ge=1, description="tracklet frames decoded per video (>= max frames)"
    )
    on_bad: Literal["raise", "skip"] = Field(
        default="skip",
        description="test rows the loader cannot use: skip them (counted in results.json as "
        "'skipped_videos') or stop with the loader's error",
    )
    salient: bool = Field(
        default=True,
        description="also evaluate the main SEAM checkpoint on frames picked by the salient sampler "
        "(the 'SEAM + salient' row)",
    )
    query_min_iou: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="least mean IoU with the ground-truth tracklet (over the frames either boxes) for the "
        "best inference tracklet to be a video's query (0: the paper's protocol, the best one whatever "
        "its IoU); below it the ground truth is the query, counted in results.json as "
        "protocol.query_fallbacks.below_min_iou and printed beside every table",
    )


class AsymNetConfig(BaseModel):
    """Shapes and training of AsymNet (two stages, see movingfashion/seam/asymnet.py)."""

    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(256, ge=1, description="LSTM hidden size")
    layers: int = Field(2, ge=1, description="stacked LSTM layers (paper: 2)")
    snn_hidden: int = Field(256, ge=1, description="fc1 outputs of a similarity network node (paper: 256)")
    levels: int = Field(5, ge=1, description="gate vectors: one per tree level (enough for 2**levels frames)")
    frames: int = Field(10, ge=1, description="T frames per training tracklet (Restricted Random Sampling)")
    batch_size: int = Field(16, ge=2, description="videos per batch, each other's negatives")
    snn_epochs: int = Field(20, ge=1, description="epochs of stage 1 (LSTM + SNN)")
    fusion_epochs: int = Field(10, ge=1, description="epochs of stage 2 (fusion nodes)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate of both stages")
    weight_decay: float = Field(1e-4, ge=0, description="the paper's lambda ||W||^2 on the SNN")
    pool_frames: int = Field(30, ge=1, description="tracklet frames cached per video")
    seed: int = Field(
        0, ge=0, le=SEED_MAX, description="the new LSTM / SNN / gate weights, sampling and shuffling"
    )
    on_bad: Literal["raise", "skip"] = Field("skip", description="rows the loader cannot use: skip or raise")
